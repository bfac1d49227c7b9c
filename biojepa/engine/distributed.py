"""Multi-process training under ``torchrun``: environment detection, the process group, small collectives.

biojepa never launches processes itself. ``torchrun`` (or any launcher that sets the same variables) starts
one process per device and sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT`` and,
under elastic restarts, ``TORCHELASTIC_RESTART_COUNT``; :func:`detect` reads them and nothing else, and
without them the run is a single process. Every collective here is a no-op for a single process, so the
trainer calls them unconditionally::

    torchrun --standalone --nproc-per-node=2 -m biojepa pretrain ecg --recipe vit_xs --resume auto ...

The global batch (``data.batch_size``) is split evenly across ranks: rank ``r`` draws the slots
``r * b .. (r + 1) * b - 1`` of every step (``b = batch_size / world_size``), and every sample is a pure
function of ``(seed, step, slot)`` (:mod:`biojepa.data.sampler`), so the global batch and the sequence of
sample ids stay the same when the world size changes between restarts.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from biojepa.errors import ConfigError

__all__ = [
    "DistInfo",
    "all_gather_objects",
    "any_flags",
    "barrier",
    "broadcast_object",
    "detect",
    "init_process_group",
    "main_first",
    "mean_scalar",
    "per_rank_batch",
    "shutdown",
]

log = logging.getLogger(__name__)

_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE")


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in a (possibly single-process) job.

    Attributes:
        rank: global rank, ``0 .. world_size - 1``.
        local_rank: rank on this node (selects the CUDA device).
        world_size: number of processes.
        restart: elastic attempt (``TORCHELASTIC_RESTART_COUNT``; 0 for the first launch).
    """

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    restart: int = 0

    @property
    def is_distributed(self) -> bool:
        """More than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that logs, writes metrics, checkpoints and exports."""
        return self.rank == 0


def _int_var(env: Mapping[str, str], name: str) -> int:
    raw = env[name].strip()
    if not raw.isdigit():
        raise ConfigError(
            f"environment variable {name}={env[name]!r} is not a non-negative integer; launch multi-process "
            "runs with torchrun, which sets RANK, LOCAL_RANK and WORLD_SIZE"
        )
    return int(raw)


def detect(environ: Mapping[str, str] | None = None) -> DistInfo:
    """Read ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` and ``TORCHELASTIC_RESTART_COUNT`` (torchrun's variables).

    Args:
        environ: the environment (default ``os.environ``).

    Returns:
        A :class:`DistInfo`; a single process when none of the variables is set.

    Raises:
        ConfigError: only some of the variables are set, one is not an integer, or ``RANK`` is not
            below ``WORLD_SIZE``.
    """
    env = os.environ if environ is None else environ
    present = [v for v in _VARS if env.get(v, "").strip()]
    restart = _int_var(env, "TORCHELASTIC_RESTART_COUNT") if env.get("TORCHELASTIC_RESTART_COUNT") else 0
    if not present:
        return DistInfo(restart=restart)
    if len(present) != len(_VARS):
        missing = [v for v in _VARS if v not in present]
        raise ConfigError(
            f"found {', '.join(present)} but not {', '.join(missing)} in the environment; launch multi-process "
            "runs with torchrun (which sets all of them), or unset them for a single-process run"
        )
    rank, local, world = (_int_var(env, v) for v in _VARS)
    if world < 1 or rank >= world or local >= world:
        raise ConfigError(
            f"RANK={rank}, LOCAL_RANK={local}, WORLD_SIZE={world}: need 0 <= RANK, LOCAL_RANK < WORLD_SIZE"
        )
    return DistInfo(rank=rank, local_rank=local, world_size=world, restart=restart)


def per_rank_batch(global_batch: int, world_size: int) -> int:
    """Samples per rank and step: ``global_batch / world_size``.

    Raises:
        ConfigError: the global batch does not split evenly (the message suggests the nearest that do).
    """
    if global_batch % world_size:
        lo = global_batch - global_batch % world_size
        raise ConfigError(
            f"data.batch_size={global_batch} is the global batch and must split evenly over WORLD_SIZE="
            f"{world_size} processes; use data.batch_size={lo or world_size} or {lo + world_size}"
        )
    return global_batch // world_size


def device_for(info: DistInfo, device: torch.device) -> torch.device:
    """This rank's device: ``cuda:LOCAL_RANK`` when the run is on CUDA, else ``device`` unchanged."""
    if device.type == "cuda" and info.is_distributed:
        return torch.device("cuda", info.local_rank)
    return device


def init_process_group(info: DistInfo, device: torch.device, timeout_s: float = 1800.0) -> None:
    """Join the process group (NCCL on CUDA, gloo on CPU); nothing for a single process or when joined.

    Args:
        info: from :func:`detect`.
        device: this rank's device (see :func:`device_for`).
        timeout_s: how long a collective may wait for the other ranks before failing.
    """
    if not info.is_distributed or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    timeout = datetime.timedelta(seconds=timeout_s)
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
        # Under torchrun the agent's key-value store outlives a restart, and the keys the previous attempt's
        # workers wrote (their gloo addresses) would be read again: the restarted workers then connect to
        # dead processes ("Connection refused"). A prefix per elastic attempt keeps the attempts apart.
        base = dist.TCPStore(
            os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), info.world_size, is_master=False,
            timeout=timeout,
        )  # fmt: skip
        store = dist.PrefixStore(f"biojepa/attempt_{info.restart}", base)
        dist.init_process_group(
            backend=backend, store=store, rank=info.rank, world_size=info.world_size, timeout=timeout
        )
    else:
        dist.init_process_group(backend=backend, timeout=timeout)
    log.info("rank %d of %d joined the %s process group", info.rank, info.world_size, backend)


def shutdown() -> None:
    """Leave the process group if this process joined one.

    Unreachable objects that still hold the group (FSDP2 states and device meshes form reference cycles)
    are collected first, so that they release it here rather than during interpreter exit.
    """
    if dist.is_available() and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _flag_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def barrier() -> None:
    """Wait for every rank (no-op for one process)."""
    if _active():
        dist.barrier()


def any_flags(*flags: bool) -> tuple[bool, ...]:
    """Element-wise OR of boolean flags over all ranks, in one all-reduce (no-op for one process).

    Every rank gets the same answer, so decisions taken on it (skip a step, checkpoint, stop) keep the ranks
    in lock-step.
    """
    if not _active():
        return tuple(bool(f) for f in flags)
    t = torch.tensor([1.0 if f else 0.0 for f in flags], device=_flag_device())  # (n,)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return tuple(bool(v) for v in t.tolist())


def mean_scalar(value: float) -> float:
    """Mean of a float over all ranks (NaN if any rank's value is NaN); the value itself for one process."""
    if not _active():
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64, device=_flag_device())  # (1,)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t.item()) / dist.get_world_size()


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (picklable objects; no-op for one process)."""
    if not _active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank (``[obj]`` for one process)."""
    if not _active():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


@contextlib.contextmanager
def main_first(info: DistInfo) -> Iterator[None]:
    """Run the block on rank 0 first, then on the other ranks (e.g. building a shared data cache once).

    The other ranks wait at a barrier until rank 0 has finished the block, then run it themselves (finding
    the cache or file rank 0 wrote); a final barrier re-aligns every rank.
    """
    if not info.is_main:
        barrier()
    yield
    if info.is_main:
        barrier()
