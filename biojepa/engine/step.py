"""One optimizer step of JEPA pretraining: shared by the Trainer and ``biojepa bench``.

The step is: set lr / weight decay for this step, forward + backward over the micro-batches (gradient
accumulation), a finiteness check of loss and gradients (a non-finite step skips the optimizer **and** the
EMA update), optional gradient clipping, AdamW, then the EMA update of the target encoder. With
``monitor=True`` it also measures the collapse statistics of the last micro-batch's targets
(:func:`biojepa.engine.monitors.collapse_stats`) without touching any number of the step.

Under DDP the trainer passes the DDP wrapper as ``forward`` (gradients are averaged over ranks in the last
micro-batch's backward; the earlier ones run under ``no_sync``) and an ``agree`` function that makes every rank
take the same skip decision and report the same mean loss. Under FSDP2 (:mod:`biojepa.engine.fsdp`) the
sharded model itself is the forward module, its gradients are DTensor shards, and the gradient norm is
reduced over the ranks to one plain float.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from biojepa.engine.fsdp import full_value, is_sharded, local_view
from biojepa.engine.jepa import JEPA
from biojepa.engine.monitors import collapse_stats
from biojepa.masks.base import MaskSet

__all__ = ["StepStats", "autocast_context", "build_optimizer", "param_groups", "set_hparams", "train_step"]


@dataclass
class StepStats:
    """What one step did.

    Attributes:
        loss: mean loss over the micro-batches (NaN / inf when non-finite).
        grad_norm: global gradient norm before clipping.
        finite: False when the optimizer and EMA updates were skipped.
        lr: learning rate of the step.
        weight_decay: weight decay of the step.
        momentum: EMA momentum of the step.
        monitor: :func:`~biojepa.engine.monitors.collapse_stats` of the last micro-batch's targets
            (``target_std``, ``effective_rank``, ``n_tokens``) when the step was monitored, else None.
    """

    loss: float
    grad_norm: float
    finite: bool
    lr: float
    weight_decay: float
    momentum: float
    monitor: dict[str, float] | None = field(default=None)


def param_groups(model: torch.nn.Module) -> list[dict[str, object]]:
    """Two AdamW groups: weight matrices / conv kernels get weight decay; biases, norms, tokens do not."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_matrix = p.ndim >= 2 and not name.endswith(("registers", "mask_token", "pos_embed"))
        (decay if is_matrix else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": 0.0, "apply_wd": True},
        {"params": no_decay, "weight_decay": 0.0, "apply_wd": False},
    ]


def build_optimizer(
    model: JEPA, *, betas: tuple[float, float] = (0.9, 0.99), eps: float = 1e-6, fused: bool | None = None
) -> torch.optim.AdamW:
    """AdamW over the trainable parameters, weight decay only on weight matrices.

    ``fused`` defaults to True when every parameter lives on CUDA or CPU and the build supports it.
    """
    groups = param_groups(model)
    if fused is None:
        fused = all(p.device.type in ("cpu", "cuda") for g in groups for p in g["params"])  # type: ignore[union-attr]
    try:
        return torch.optim.AdamW(groups, lr=0.0, betas=betas, eps=eps, fused=fused)
    except (RuntimeError, TypeError):  # a build without the fused kernel for this device
        return torch.optim.AdamW(groups, lr=0.0, betas=betas, eps=eps, foreach=True)


def set_hparams(opt: torch.optim.Optimizer, lr: float, weight_decay: float) -> None:
    """Set the learning rate of every group and the weight decay of the decayed group."""
    for g in opt.param_groups:
        g["lr"] = lr
        g["weight_decay"] = weight_decay if g.get("apply_wd", True) else 0.0


def autocast_context(device: torch.device, precision: str) -> contextlib.AbstractContextManager[object]:
    """bf16 autocast on CUDA (``precision`` "auto" or "bf16"); fp32 (no autocast) on CPU or "fp32"."""
    if precision == "fp32" or device.type != "cuda":
        if precision == "bf16" and device.type != "cuda":
            raise ValueError("bf16 precision needs a CUDA device; use precision=auto or fp32 on CPU")
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16)


def _grad_norm(params: Sequence[Tensor]) -> Tensor:
    """Global L2 norm of the gradients: a plain scalar tensor, the same on every rank.

    FSDP2 gradients are DTensor shards; their norm is reduced over the ranks (a collective, so every rank
    calls this every step) and returned as the full value.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    if any(is_sharded(g) for g in grads):
        return full_value(torch.nn.utils.get_total_norm(grads, foreach=True))
    norms = torch._foreach_norm(grads)
    return torch.linalg.vector_norm(torch.stack(norms))


def train_step(
    model: JEPA,
    opt: torch.optim.Optimizer,
    micro_batches: Sequence[tuple[Tensor, MaskSet]],
    *,
    lr: float,
    weight_decay: float,
    momentum: float,
    precision: str = "auto",
    grad_clip: float | None = None,
    nan_loss: bool = False,
    nan_grad: bool = False,
    monitor: bool = False,
    forward: torch.nn.Module | None = None,
    agree: Callable[[float, bool], tuple[float, bool]] | None = None,
) -> StepStats:
    """Run one optimizer step over ``micro_batches`` (gradient accumulation).

    Args:
        model: the JEPA model (in train mode).
        opt: its optimizer (:func:`build_optimizer`).
        micro_batches: ``(x (B, C, T), masks)`` pairs already on the model's device.
        lr: learning rate for this step.
        weight_decay: weight decay for this step.
        momentum: EMA momentum for this step.
        precision: "auto" | "fp32" | "bf16" (see :func:`autocast_context`).
        grad_clip: max global gradient norm, or None.
        nan_loss: fault injection — make the loss NaN (tests only).
        nan_grad: fault injection — make one gradient NaN (tests only).
        monitor: also compute the collapse statistics of the last micro-batch's targets (under
            ``torch.no_grad``; no random numbers, no change to the loss, gradients or updates).
        forward: the module to call for the forward pass (e.g. the DDP wrapper or a compiled model);
            default ``model``. A module with ``no_sync`` (DDP) or ``set_requires_gradient_sync`` (FSDP2)
            skips the gradient all-reduce / reduce-scatter on all but the last micro-batch.
        agree: ``agree(loss, finite) -> (loss, finite)`` applied before the update decision, e.g. the mean
            loss over ranks and the AND of every rank's finiteness; default: the local values.

    Returns:
        :class:`StepStats`; ``finite=False`` means the optimizer and EMA updates were skipped; ``monitor``
        holds the collapse statistics when ``monitor`` is True.
    """
    if not micro_batches:
        raise ValueError("train_step needs at least one micro-batch")
    set_hparams(opt, lr, weight_decay)
    opt.zero_grad(set_to_none=True)
    device = micro_batches[0][0].device
    n = len(micro_batches)
    total = torch.zeros((), device=device)
    last: tuple[Tensor, Tensor | None] | None = None
    fwd = model if forward is None else forward
    no_sync = getattr(fwd, "no_sync", None)
    grad_sync = getattr(fwd, "set_requires_gradient_sync", None)  # FSDP2: reduce-scatter on the last only
    for k, (x, masks) in enumerate(micro_batches):
        if grad_sync is not None and n > 1:
            grad_sync(k == n - 1)
        sync_ctx = no_sync() if no_sync is not None and k < n - 1 else contextlib.nullcontext()
        with sync_ctx:
            with autocast_context(device, precision):
                out = fwd(x, masks.ctx_idx, masks.tgt_idx, masks.tgt_valid)
            loss = out.loss / n
            if nan_loss:
                loss = loss * float("nan")
            loss.backward()
        total += loss.detach()
        if monitor:
            last = (out.target.detach(), masks.tgt_valid)  # (B, M, D), (B, M) | None
    params = [p for g in opt.param_groups for p in g["params"]]
    if nan_grad and params and params[0].grad is not None:
        local_view(params[0].grad).view(-1)[:1] = float("nan")  # this rank's shard under FSDP
    gnorm = _grad_norm(params)
    loss_v = float(total)
    gnorm_v = float(gnorm)
    finite = math.isfinite(loss_v) and math.isfinite(gnorm_v)
    if agree is not None:
        loss_v, finite = agree(loss_v, finite)
    if finite:
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, grad_clip, foreach=True)
        opt.step()
        model.update_target(momentum)
    opt.zero_grad(set_to_none=True)
    stats_m: dict[str, float] | None = None
    if last is not None:
        with torch.no_grad():
            stats_m = collapse_stats(last[0], last[1])
    return StepStats(loss_v, gnorm_v, finite, lr, weight_decay, momentum, monitor=stats_m)
