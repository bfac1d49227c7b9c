"""FSDP2 sharding of the JEPA (``engine.strategy=fsdp`` under ``torchrun``).

Every transformer block (:class:`~biojepa.nn.vit.Block`) of the context encoder, the EMA target encoder and
the predictor becomes its own ``fully_shard`` unit, then the JEPA root collects the remaining parameters
(tokenizers, position embeddings, registers, final norms, the predictor's projections). Sharding at the root
rather than at the three sub-modules keeps :meth:`~biojepa.engine.jepa.JEPA.forward` unchanged: the root's
parameters are gathered for the whole forward, including the ``context_encoder.tokenizer.coords`` call made
outside the encoder's own forward. Every parameter becomes a DTensor sharded on dim 0 (``Shard(0)``); the
context and target encoders are sharded identically, so the EMA update (``torch._foreach_lerp_``) runs
shard by shard with no communication.

The optimizer must be built after :func:`shard_jepa` (it holds the sharded parameters). Full weights are
gathered only to export the target encoder (:func:`gather_target_encoder`); checkpoints stay sharded
(:func:`biojepa.engine.checkpoint.save_sharded_checkpoint`).
"""

from __future__ import annotations

import copy
import logging

import torch
from torch import Tensor, nn

from biojepa.engine.jepa import JEPA
from biojepa.errors import ConfigError
from biojepa.nn.vit import TransformerStack

__all__ = ["full_value", "gather_target_encoder", "is_sharded", "local_view", "shard_jepa", "shard_units"]

log = logging.getLogger(__name__)


def shard_units(model: nn.Module) -> list[nn.Module]:
    """The modules to shard one by one, in order: every block of every :class:`TransformerStack` in ``model``.

    Raises:
        ConfigError: the model has no transformer block (nothing worth sharding per block).
    """
    units = [blk for m in model.modules() if isinstance(m, TransformerStack) for blk in m.blocks]
    if not units:
        raise ConfigError(
            f"engine.strategy=fsdp found no transformer block in the {type(model).__name__}; use "
            "engine.strategy=ddp for this model"
        )
    return units


def shard_jepa(model: JEPA, device: torch.device, world_size: int) -> int:
    """Apply FSDP2 ``fully_shard`` to every transformer block of ``model``, then to the JEPA root (in place).

    Args:
        model: the JEPA, already on ``device`` and with identical weights on every rank.
        device: this rank's device (its type picks the device mesh: ``cpu`` over gloo, ``cuda`` over NCCL).
        world_size: processes in the (initialised) process group.

    Returns:
        The number of sharded units (blocks + the root).
    """
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh(device.type, (world_size,))
    units = shard_units(model)
    for blk in units:
        fully_shard(blk, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return len(units) + 1


def is_sharded(t: Tensor | None) -> bool:
    """True for a DTensor (an FSDP2 parameter or gradient)."""
    from torch.distributed.tensor import DTensor

    return isinstance(t, DTensor)


def local_view(t: Tensor) -> Tensor:
    """This rank's shard of a DTensor, or ``t`` itself (in place edits of the result edit ``t``)."""
    return t.to_local() if is_sharded(t) else t  # type: ignore[attr-defined]


def full_value(t: Tensor) -> Tensor:
    """The full (replicated) value of a DTensor (a collective: every rank must call it), or ``t`` itself."""
    return t.full_tensor() if is_sharded(t) else t  # type: ignore[attr-defined]


def _plain_copy(encoder: nn.Module, state: dict[str, Tensor]) -> nn.Module:
    """An unsharded encoder of the same architecture as ``encoder`` holding ``state`` (strict)."""
    from biojepa.models import build_encoder

    spec = getattr(encoder, "spec", None)
    with torch.random.fork_rng(devices=[]):  # building initialises weights: leave the global RNG alone
        plain = build_encoder(spec) if spec is not None else copy.deepcopy(encoder)
    plain.load_state_dict(state, strict=True)
    return plain


def gather_target_encoder(model: JEPA) -> nn.Module | None:
    """The EMA target encoder with full, CPU weights on rank 0; None on the other ranks.

    A collective (every rank must call it): the shards are gathered with
    ``get_model_state_dict(full_state_dict=True, cpu_offload=True)`` and loaded into a fresh, unsharded
    encoder built from the target encoder's ``spec``, ready for :func:`biojepa.io.save_pretrained`.
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    encoder = model.export_encoder()
    state = get_model_state_dict(encoder, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if not state:
        return None  # not rank 0
    return _plain_copy(encoder, state)
