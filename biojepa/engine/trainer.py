"""The training loop: steps, schedules, accumulation, guards, metrics and atomic checkpoints.

The Trainer counts optimizer steps, not epochs. Step numbers in the run directory (``metrics.jsonl``,
``checkpoints/step_XXXXXXXX``, ``BIOJEPA_FAULT``) are *completed* steps, 1-based: ``step_00000004`` holds
the state after four updates, and the next update is the 0-based step index 4, whose hyper-parameters are
``Schedules.at(4)`` and whose micro-batches are the ones ``make_batches(4)`` yields first.

Each update runs :func:`biojepa.engine.step.train_step` (the very code ``biojepa bench`` measures) over
``optim.accum_steps`` micro-batches. A non-finite loss or gradient skips the update and the EMA step;
``engine.max_nonfinite`` such steps in a row raise :class:`~biojepa.errors.NonFiniteLossError`, leaving the
last good checkpoint in place. Resume is exact because the data stream, the masks and the schedules are pure
functions of ``(seed, step)`` and the checkpoint holds the model, optimizer, counters and RNG states.

Under ``torchrun`` (:mod:`biojepa.engine.distributed`) the model is wrapped in DDP, the skip decision and the
logged loss are agreed over all ranks, rank 0 alone writes ``metrics.jsonl``, the run info, progress and
checkpoints (holding every rank's RNG state), and each rank seeds its global generators with ``seed + rank``.
With ``engine.strategy=fsdp`` the model is sharded with FSDP2 instead (:mod:`biojepa.engine.fsdp`; no DDP
wrapper, the optimizer is built over the shards) and checkpoints are sharded: every rank writes its DCP shard,
rank 0 the rest (:func:`~biojepa.engine.checkpoint.save_sharded_checkpoint`). With one process ``fsdp``
trains exactly like ``ddp``.

SIGTERM and SIGUSR1 are caught during :meth:`Trainer.fit`: at the next step boundary (agreed over ranks) the
trainer writes a checkpoint; after SIGTERM it then raises :class:`~biojepa.errors.TrainingInterrupted`
(``biojepa`` exits 143), after SIGUSR1 it goes on training (a checkpoint on demand, e.g. SLURM's
``--signal=USR1@90``).

Every ``engine.monitor_every`` steps (default: every ``engine.log_every`` steps) and at the last step, the
step also measures representation collapse on its targets (:mod:`biojepa.engine.monitors`): ``target_std``
and ``effective_rank`` go into that step's ``metrics.jsonl`` record (monitored steps are always logged), and
a value below ``engine.collapse_std_min`` / ``engine.collapse_rank_min`` logs one warning and is counted
(:attr:`TrainResult.n_collapse_warnings`). Monitoring reads the targets only: it changes no number of the run.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, TypeAdapter
from torch import Tensor

from biojepa.config import RunConfig, config_hash
from biojepa.engine.checkpoint import (
    find_resume,
    list_checkpoints,
    load_checkpoint,
    load_sharded_checkpoint,
    save_checkpoint,
    save_sharded_checkpoint,
)
from biojepa.engine.distributed import (
    DistInfo,
    all_gather_objects,
    any_flags,
    broadcast_object,
    detect,
    mean_scalar,
)
from biojepa.engine.faults import FaultPlan, faults_from_env
from biojepa.engine.jepa import JEPA
from biojepa.engine.metrics_log import MetricsLog
from biojepa.engine.monitors import collapse_warnings
from biojepa.engine.runinfo import write_run_info
from biojepa.engine.schedules import Schedules
from biojepa.engine.seed import capture_rng_state, restore_rng_state, seed_everything
from biojepa.engine.step import build_optimizer, train_step
from biojepa.errors import CheckpointError, ConfigError, DataError, NonFiniteLossError, TrainingInterrupted
from biojepa.masks.base import MaskSet

__all__ = ["RESUME_IGNORED", "TrainResult", "Trainer", "resolve_device"]

log = logging.getLogger(__name__)

#: Config fields that may change between a run and its resume. All but ``engine.steps`` leave the numbers
#: unchanged; a new ``engine.steps`` continues the run with schedules for the new total (a longer run).
RESUME_IGNORED: tuple[str, ...] = (
    "description",
    "engine.steps",  # extending a run is allowed; the schedules follow the new total (logged)
    "data.num_workers",
    "data.cache_dir",
    "engine.device",
    "engine.threads",
    "engine.compile",
    "engine.ckpt_every",
    "engine.keep_ckpts",
    "engine.log_every",
    "engine.max_nonfinite",
    "engine.monitor_every",  # the monitors only read the targets
    "engine.collapse_std_min",
    "engine.collapse_rank_min",
    "log.",
)

#: ``progress(step, total, info)``: called after every optimizer step (see :class:`Trainer`).
ProgressFn = Callable[[int, int, Mapping[str, Any]], None]


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` did.

    Attributes:
        steps: completed optimizer steps (== ``engine.steps`` on success).
        samples_seen: training samples consumed over the whole run (all segments).
        wall_s: seconds spent in this call of ``fit``.
        final_loss: the last finite loss (None if there was none).
        losses: ``[{"step", "loss"}]`` of the last ``log.keep_losses`` steps (loss None when non-finite),
            identical whether or not the run was interrupted and resumed.
        n_nonfinite: skipped (non-finite) steps over the whole run.
        resumed_from: the completed step this call resumed from (None for a fresh start).
        checkpoint: the last checkpoint written or loaded.
        monitor: the last collapse statistics measured (``{"target_std", "effective_rank", "n_tokens"}``,
            see :func:`~biojepa.engine.monitors.collapse_stats`; None for a non-finite value), None if no
            step was monitored.
        n_collapse_warnings: monitored steps whose statistics fell below ``engine.collapse_std_min`` or
            ``engine.collapse_rank_min`` (one logged warning each), over the whole run.
    """

    steps: int
    samples_seen: int
    wall_s: float
    final_loss: float | None
    losses: list[dict[str, Any]] = field(default_factory=list)
    n_nonfinite: int = 0
    resumed_from: int | None = None
    checkpoint: str | None = None
    monitor: dict[str, float | None] | None = None
    n_collapse_warnings: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; any other torch device string as is.

    Raises:
        ConfigError: an unknown device string, or a CUDA device without CUDA.
    """
    if isinstance(device, torch.device):
        dev = device
    elif device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ConfigError(
                f"engine.device={device!r} is not a device; use auto, cpu, cuda or cuda:N"
            ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"engine.device={str(dev)!r} but CUDA is not available; use engine.device=auto or cpu"
        )
    return dev


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _schema_defaults(model: type[BaseModel] = RunConfig, prefix: str = "") -> dict[str, Any]:
    """Flattened JSON-mode defaults of a config schema: ``{"model.target_norm": False, ...}``.

    Nested sections are walked field by field (a section's own default factory is not needed); required
    fields have no entry; a mapping default is flattened like :func:`_flatten` does (``{}`` adds nothing).
    """
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.update(_schema_defaults(ann, key + "."))
        elif not info.is_required():
            value = TypeAdapter(ann).dump_python(info.get_default(call_default_factory=True), mode="json")
            if isinstance(value, Mapping):
                out.update(_flatten(value, key + "."))
            else:
                out[key] = value
    return out


_ABSENT = object()


def _resume_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Fields that differ between a checkpoint's config and the current one (RESUME_IGNORED excepted).

    A field missing from the checkpoint's config (written by a biojepa that did not have it yet) counts as
    its schema default, so adding a config field with a default never breaks the resume of older runs.
    """
    a, b = _flatten(old), _flatten(new)
    defaults = _schema_defaults()

    def ignored(key: str) -> bool:
        return any(key == p or (p.endswith(".") and key.startswith(p)) for p in RESUME_IGNORED)

    out = []
    for k in set(a) | set(b):
        if ignored(k):
            continue
        now = b.get(k)
        then = a.get(k, defaults.get(k, _ABSENT))
        if then is _ABSENT:
            if now is not None:
                out.append(f"{k}: checkpoint (absent), now {now!r}")
        elif then != now:
            where = "(absent; default " + repr(then) + ")" if k not in a else repr(then)
            out.append(f"{k}: checkpoint {where}, now {now!r}")
    return sorted(out)


def _unpack(batch: Any) -> tuple[Tensor, MaskSet]:
    """``(x, masks)`` of a :class:`~biojepa.masks.Batch` or an ``(x, masks)`` pair."""
    if hasattr(batch, "x") and hasattr(batch, "masks"):
        return batch.x, batch.masks
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    raise DataError(f"a training batch must be a Batch or an (x, masks) pair, got {type(batch).__name__}")


class Trainer:
    """Pretrain a :class:`~biojepa.engine.jepa.JEPA` for ``cfg.engine.steps`` optimizer steps.

    Args:
        cfg: the run configuration (``optim``, ``engine`` and ``log`` sections are used here).
        model: the JEPA model; moved to the device, put in train mode.
        make_batches: ``make_batches(step)`` returns an iterator of micro-batches positioned at the 0-based
            optimizer step ``step`` (it must yield ``optim.accum_steps`` micro-batches per optimizer step,
            and the same ones for the same step on every call: a pure function of ``(seed, step, slot)``).
            Each micro-batch is a :class:`~biojepa.masks.Batch` or an ``(x (B, C, T), MaskSet)`` pair.
        run_dir: the run directory (config, env, metrics, checkpoints).
        device: a device, ``"auto"``, or None for ``cfg.engine.device``.
        dist_info: this process's place in a multi-process job; default :func:`~biojepa.engine.distributed.detect`
            (torchrun's environment variables). With more than one process the process group must already
            be initialised (:func:`~biojepa.engine.distributed.init_process_group`), and ``make_batches``
            must yield this rank's share of each global batch.
        progress: ``progress(step, total, info)``, called on rank 0 after every optimizer step with the completed
            step, ``engine.steps`` and ``info = {"loss": float | None, "lr": float}`` (plus ``"skipped"``,
            the count of non-finite steps, once there is one, and ``"eff_rank"``, the last effective rank
            of the targets, once a step was monitored).

    Raises:
        ConfigError: a bad device / precision combination, a warm-up longer than the run, or an unparsable
            ``BIOJEPA_FAULT``.
    """

    def __init__(
        self,
        cfg: RunConfig,
        model: JEPA,
        make_batches: Callable[[int], Iterator[Any]],
        run_dir: str | Path,
        *,
        device: str | torch.device | None = None,
        dist_info: DistInfo | None = None,
        progress: ProgressFn | None = None,
    ) -> None:
        self.faults: FaultPlan = faults_from_env()
        self.dist = dist_info if dist_info is not None else detect()
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.make_batches = make_batches
        self.progress = progress
        self.device = resolve_device(cfg.engine.device if device is None else device)
        if cfg.engine.precision == "bf16" and self.device.type != "cuda":
            raise ConfigError(
                f"engine.precision=bf16 needs a CUDA device, but the device is {self.device}; "
                "use engine.precision=auto (bf16 on GPU, fp32 on CPU) or fp32"
            )
        if cfg.engine.threads:
            torch.set_num_threads(cfg.engine.threads)
        self.schedules = Schedules.from_config(cfg.optim, cfg.engine.steps)
        seed_everything(cfg.engine.seed + self.dist.rank)  # per-rank streams; rank 0 == a single process
        self.model = model.to(self.device)
        self.model.train()
        #: True when the model is FSDP2-sharded (``engine.strategy=fsdp`` with more than one process).
        self.sharded: bool = self._shard()
        self.opt = build_optimizer(self.model, betas=tuple(cfg.optim.betas), eps=cfg.optim.eps)  # type: ignore[arg-type]
        self.config_hash = config_hash(cfg)
        self._config_json = cfg.model_dump(mode="json")
        self._fwd: Any = torch.compile(self.model) if cfg.engine.compile else self.model

    def _shard(self) -> bool:
        """Shard the model with FSDP2 when ``engine.strategy=fsdp`` runs on several processes; True if sharded."""
        if self.cfg.engine.strategy != "fsdp":
            return False
        if not self.dist.is_distributed:
            log.info("engine.strategy=fsdp with one process: nothing to shard; training the whole model here")
            return False
        from biojepa.engine.fsdp import shard_jepa

        n = shard_jepa(self.model, self.device, self.dist.world_size)
        if self.dist.is_main:
            log.info("engine.strategy=fsdp: %d FSDP2 units sharded over %d ranks", n, self.dist.world_size)
        return True

    def export_encoder(self) -> torch.nn.Module | None:
        """The EMA target encoder to export, with full weights, on rank 0; None on the other ranks.

        A collective under FSDP (every rank must call it): the shards are gathered to rank 0's CPU.
        """
        if self.sharded:
            from biojepa.engine.fsdp import gather_target_encoder

            return gather_target_encoder(self.model)
        return self.model.export_encoder() if self.dist.is_main else None

    # -- checkpoint state ----------------------------------------------------------------------------
    def _state_extra(self, step: int, c: _Counters) -> dict[str, Any]:
        import numpy as np

        from biojepa._version import __version__

        return {
            "config_hash": self.config_hash,
            "config": self._config_json,
            "total_steps": self.cfg.engine.steps,
            "samples_seen": c.samples_seen,
            "n_nonfinite": c.n_nonfinite,
            "consecutive_nonfinite": c.consecutive,
            "losses": list(c.losses),
            "last_finite_loss": c.last_finite,
            "monitor": c.monitor,
            "n_collapse_warnings": c.n_collapse,
            "wall_s": c.wall_before + (time.perf_counter() - c.t_start),
            "world_size": self.dist.world_size,
            "versions": {"biojepa": __version__, "torch": torch.__version__, "numpy": np.__version__},
        }

    def _save(self, step: int, c: _Counters) -> Path:
        """Write a checkpoint on rank 0 (every rank takes part in gathering the RNG states)."""
        rngs = all_gather_objects(capture_rng_state())  # collective: every rank, same step
        path = self.run_dir / "checkpoints" / f"step_{step:08d}"
        args = (self.run_dir, step, self.model, self.opt, self._state_extra(step, c), self.cfg.engine.keep_ckpts)
        kwargs: dict[str, Any] = {
            "trainer_state": {"rng": rngs[0], "rng_ranks": rngs},
            "before_commit": self.faults.before_commit if self.faults.active else None,
        }
        if self.sharded:  # every rank writes its shard; rank 0 commits (and tells the others how it went)
            return save_sharded_checkpoint(*args, is_main=self.dist.is_main, **kwargs)
        error: BaseException | None = None
        if self.dist.is_main:
            try:
                path = save_checkpoint(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - re-raised below, once the other ranks know
                error = exc
        if self.dist.is_distributed:  # the other ranks stop too instead of waiting at the next collective
            failed = broadcast_object(None if error is None else f"{type(error).__name__}: {error}")
            if error is None and failed is not None:
                raise CheckpointError(f"rank 0 could not write the checkpoint {path}: {failed}")
        if error is not None:
            raise error
        return path

    def _restore(self, c: _Counters) -> Path | None:
        found = find_resume(self.run_dir) if self.dist.is_main else None  # rank 0 decides, the others follow
        name = broadcast_object(str(found) if found is not None else None)
        ck = Path(name) if name is not None else None
        if ck is None:
            if list_checkpoints(self.run_dir):
                raise CheckpointError(
                    f"{self.run_dir / 'checkpoints'} holds checkpoints but none is valid (see the log); "
                    "delete the folder to start over or restore a good copy"
                )
            log.info("no checkpoint in %s; starting from step 0", self.run_dir)
            return None
        if self.sharded:  # rank 0 verified the manifest in find_resume
            state = load_sharded_checkpoint(ck, self.model, self.opt, verify=False)
        else:
            state = load_checkpoint(ck, self.model, self.opt)
        diff = _resume_diff(state.get("config", {}), self._config_json)
        if diff:
            raise ConfigError(
                f"cannot resume from {ck}: the configuration differs from the checkpoint's:\n  "
                + "\n  ".join(diff)
                + "\nresume with the original recipe and overrides, or start a new run with another --out"
            )
        step = int(state["step"])
        old_total = state.get("total_steps")
        if old_total is not None and int(old_total) != self.cfg.engine.steps:
            log.warning(
                "resuming a run of %s steps as a run of %d steps: schedules follow the new total, so the "
                "result differs from an uninterrupted run of either length",
                old_total,
                self.cfg.engine.steps,
            )
        if step > self.cfg.engine.steps:
            raise ConfigError(
                f"checkpoint {ck} is at step {step}, beyond engine.steps={self.cfg.engine.steps}"
            )
        c.step = step
        c.samples_seen = int(state.get("samples_seen", 0))
        c.n_nonfinite = int(state.get("n_nonfinite", 0))
        c.consecutive = int(state.get("consecutive_nonfinite", 0))
        c.losses.extend(state.get("losses", []))
        c.last_finite = state.get("last_finite_loss")
        c.monitor = state.get("monitor")
        c.n_collapse = int(state.get("n_collapse_warnings", 0))
        c.wall_before = float(state.get("wall_s", 0.0))
        self._restore_rng(state, ck)
        log.info("resumed from %s (step %d of %d)", ck, step, self.cfg.engine.steps)
        return ck

    def _restore_rng(self, state: Mapping[str, Any], ck: Path) -> None:
        """This rank's RNG state from the checkpoint; after a world-size change, the fresh per-rank seeds."""
        ranks = state.get("rng_ranks")
        old_world = int(state.get("world_size", 1) or 1)
        if isinstance(ranks, list) and len(ranks) == self.dist.world_size:
            restore_rng_state(ranks[self.dist.rank])
        elif self.dist.world_size == 1 and old_world == 1 and "rng" in state:
            restore_rng_state(state["rng"])
        else:
            if self.dist.is_main:
                log.warning(
                    "checkpoint %s was written by %d process(es), this run has %d: the sample ids, masks and "
                    "schedules continue exactly, the global generators restart from their per-rank seeds and "
                    "gradient averaging rounds differently, so numbers differ in the last bits",
                    ck, old_world, self.dist.world_size,
                )  # fmt: skip

    def _next_micro_batches(
        self, it: Iterator[Any], i: int
    ) -> tuple[list[tuple[Tensor, MaskSet]], list[int]]:
        """``accum_steps`` micro-batches of optimizer step ``i`` on the device, and their sample ids."""
        accum = self.cfg.optim.accum_steps
        micro: list[tuple[Tensor, MaskSet]] = []
        ids: list[int] = []
        for j in range(accum):
            try:
                b = next(it)
            except StopIteration:
                raise DataError(
                    f"the batch iterator ended at optimizer step {i} (micro-batch {j} of {accum}); "
                    f"make_batches must yield {accum} micro-batches per step up to step "
                    f"{self.cfg.engine.steps}"
                ) from None
            x, masks = _unpack(b)
            sample_ids = getattr(b, "sample_ids", None)
            if sample_ids is not None:
                ids.extend(int(v) for v in sample_ids)
            micro.append((x.to(self.device, non_blocking=True), masks.to(self.device, non_blocking=True)))
        return micro, ids

    def _forward_and_agree(self) -> tuple[Any, Any]:
        """The forward module (DDP-wrapped under torchrun unless sharded) and the ranks' agreement on a step."""
        if not self.dist.is_distributed:
            return self._fwd, None

        def agree(loss: float, finite: bool) -> tuple[float, bool]:
            (bad,) = any_flags(not finite)
            return mean_scalar(loss), not bad

        if self.sharded:  # FSDP2 reduce-scatters the gradients itself
            return self._fwd, agree
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        ddp = DistributedDataParallel(self.model, device_ids=ids)
        fwd = torch.compile(ddp) if self.cfg.engine.compile else ddp
        return fwd, agree

    def _nonfinite_error(self, step_no: int, n: int, last_ckpt: Path | None) -> NonFiniteLossError:
        where = f"the last good checkpoint is {last_ckpt}" if last_ckpt else "no checkpoint was written"
        return NonFiniteLossError(
            f"{n} consecutive non-finite steps (steps {step_no - n + 1}..{step_no}, "
            f"engine.max_nonfinite={self.cfg.engine.max_nonfinite}); {where}. Lower optim.lr, set "
            "optim.grad_clip, use engine.precision=fp32, or check the data for NaN/Inf"
        )

    def _check_collapse(self, step_no: int, stats: Mapping[str, float], c: _Counters) -> None:
        """Log one warning (and count it) when the collapse statistics of a step fall below the thresholds."""
        eng = self.cfg.engine
        reasons = collapse_warnings(stats, std_min=eng.collapse_std_min, rank_min=eng.collapse_rank_min)
        if not reasons:
            return
        c.n_collapse += 1
        if not self.dist.is_main:
            return
        log.warning(
            "step %d: possible representation collapse: %s. Try a lower optim.lr, a higher EMA momentum "
            "start (optim.ema_start), model.target_norm=true, or another masking ratio (mask.params); "
            "collapse warning %d of this run",
            step_no, "; ".join(reasons), c.n_collapse,
        )  # fmt: skip

    # -- the loop ---------------------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> TrainResult:
        """Train from step 0, or from the newest valid checkpoint when ``resume`` is True.

        ``resume=True`` with no checkpoint starts from step 0 (``--resume auto`` semantics).

        Returns:
            A :class:`TrainResult`.

        Raises:
            ConfigError: ``resume=False`` but the run directory already has checkpoints, or the checkpoint's
                config differs from ``cfg`` in a field that changes the numbers.
            CheckpointError: checkpoints exist but none is valid.
            NonFiniteLossError: ``engine.max_nonfinite`` consecutive non-finite steps.
            DataError: the batch iterator ran out before the last step.
            TrainingInterrupted: SIGTERM arrived; a checkpoint of the last completed step was written.
        """
        cfg = self.cfg
        total = cfg.engine.steps
        c = _Counters(losses=deque(maxlen=cfg.log.keep_losses), t_start=time.perf_counter())
        resumed: Path | None = None
        if resume:
            resumed = self._restore(c)
        elif list_checkpoints(self.run_dir):
            raise ConfigError(
                f"{self.run_dir} already holds checkpoints of a run; pass resume=True (--resume auto) "
                "to continue it, or use another output directory"
            )
        main = self.dist.is_main
        world = self.dist.world_size
        metrics: MetricsLog | _NullLog = _NullLog()
        if main:
            write_run_info(self.run_dir, cfg, device=str(self.device))
            metrics = MetricsLog(self.run_dir / "metrics.jsonl").open(resume_step=c.step if resumed else None)
        fwd, agree = self._forward_and_agree()
        last_ckpt: Path | None = resumed
        t0 = time.perf_counter()
        start = c.step
        monitor_every = cfg.engine.monitor_every or cfg.engine.log_every
        caught: list[int] = []
        previous = _install_handlers(caught)
        try:
            it = iter(self.make_batches(start)) if start < total else iter(())
            for i in range(start, total):
                step_no = i + 1  # completed steps after this update
                lr, wd, mom = self.schedules.at(i)
                t_step = time.perf_counter()
                monitored = step_no % monitor_every == 0 or step_no == total
                micro, ids = self._next_micro_batches(it, i)
                stats = train_step(
                    self.model,
                    self.opt,
                    micro,
                    lr=lr,
                    weight_decay=wd,
                    momentum=mom,
                    precision=cfg.engine.precision,
                    grad_clip=cfg.optim.grad_clip,
                    nan_loss=step_no in self.faults.nan_loss,
                    nan_grad=step_no in self.faults.nan_grad,
                    monitor=monitored,
                    forward=fwd,
                    agree=agree,
                )
                step_s = time.perf_counter() - t_step
                c.step = step_no
                c.samples_seen += sum(int(x.shape[0]) for x, _ in micro) * world  # equal shares per rank
                loss = stats.loss if stats.finite else None
                c.losses.append({"step": step_no, "loss": loss})
                if stats.finite:
                    c.consecutive = 0
                    c.last_finite = stats.loss
                else:
                    c.n_nonfinite += 1
                    c.consecutive += 1
                    if world > 1:  # every rank skipped; name every rank's samples
                        ids = [i for part in all_gather_objects(ids) for i in part]
                    if main:
                        log.warning(
                            "step %d: non-finite loss %s or gradient norm %s (%d in a row); update and EMA "
                            "skipped; sample ids %s",
                            step_no, stats.loss, stats.grad_norm, c.consecutive, ids,
                        )  # fmt: skip
                record = {
                    "step": step_no,
                    "loss": loss,
                    "lr": lr,
                    "wd": wd,
                    "ema": mom,
                    "grad_norm": stats.grad_norm if math.isfinite(stats.grad_norm) else None,
                    "finite": stats.finite,
                    "samples_seen": c.samples_seen,
                    "step_s": step_s,
                    "wall_s": c.wall_before + (time.perf_counter() - c.t_start),
                }
                if stats.monitor is not None:
                    # non-finite statistics (non-finite targets) are kept as None: strict JSON everywhere
                    c.monitor = {k: v if math.isfinite(v) else None for k, v in stats.monitor.items()}
                    record["target_std"] = c.monitor["target_std"]
                    record["effective_rank"] = c.monitor["effective_rank"]
                    self._check_collapse(step_no, stats.monitor, c)
                logged = monitored or step_no % cfg.engine.log_every == 0 or step_no == total
                if logged:
                    metrics.append(record)
                if self.progress is not None and main:
                    info: dict[str, Any] = {"loss": loss, "lr": lr}
                    if c.n_nonfinite:
                        info["skipped"] = c.n_nonfinite
                    if c.monitor is not None and c.monitor.get("effective_rank") is not None:
                        info["eff_rank"] = c.monitor["effective_rank"]
                    self.progress(step_no, total, info)
                self.faults.after_update(step_no)  # test-only: kill / exit before this step's checkpoint
                if c.consecutive >= cfg.engine.max_nonfinite:
                    raise self._nonfinite_error(step_no, c.consecutive, last_ckpt)
                # a signal seen by any rank: every rank checkpoints (and stops) at the same step
                term, usr1 = any_flags(signal.SIGTERM in caught, _SIGUSR1 in caught)
                caught.clear()
                if term or usr1 or step_no % cfg.engine.ckpt_every == 0 or step_no == total:
                    metrics.sync()
                    last_ckpt = self._save(step_no, c)
                if term and step_no < total:
                    if main:
                        log.warning("SIGTERM: checkpoint %s written at step %d; stopping", last_ckpt, step_no)
                    raise TrainingInterrupted(
                        f"stopped by SIGTERM after step {step_no} of {total}; checkpoint {last_ckpt} holds it. "
                        "Run the same command with --resume auto to continue exactly where it stopped",
                        step=step_no,
                        checkpoint=str(last_ckpt),
                    )
                if usr1 and main:
                    log.info("SIGUSR1: checkpoint %s at step %d; training continues", last_ckpt, step_no)
        finally:
            _restore_handlers(previous)
            metrics.close()
        losses = list(c.losses)
        return TrainResult(
            steps=c.step,
            samples_seen=c.samples_seen,
            wall_s=time.perf_counter() - t0,
            final_loss=c.last_finite,
            losses=losses,
            n_nonfinite=c.n_nonfinite,
            resumed_from=start if resumed else None,
            checkpoint=str(last_ckpt) if last_ckpt else None,
            monitor=dict(c.monitor) if c.monitor is not None else None,
            n_collapse_warnings=c.n_collapse,
        )


#: SIGUSR1 where the platform has it (not on Windows); SIGTERM otherwise, so the flag is never set twice.
_SIGUSR1 = getattr(signal, "SIGUSR1", signal.SIGTERM)


def _install_handlers(caught: list[int]) -> dict[int, Any] | None:
    """Record SIGTERM / SIGUSR1 in ``caught`` (checked at the next step boundary); None off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return None  # signal handlers can only be installed from the main thread (e.g. a notebook worker)

    def handler(signum: int, frame: Any) -> None:
        caught.append(signum)

    previous = {}
    for sig in {signal.SIGTERM, _SIGUSR1}:
        previous[sig] = signal.getsignal(sig)
        signal.signal(sig, handler)
    return previous


def _restore_handlers(previous: dict[int, Any] | None) -> None:
    for sig, h in (previous or {}).items():
        signal.signal(sig, h if h is not None else signal.SIG_DFL)


class _NullLog:
    """The metrics log of ranks other than 0: accepts and discards."""

    def append(self, record: Mapping[str, Any]) -> None:
        """Discard ``record``."""

    def sync(self) -> None:
        """Nothing to flush."""

    def close(self) -> None:
        """Nothing to close."""


@dataclass
class _Counters:
    """Mutable counters of one fit (saved in checkpoints)."""

    losses: deque[dict[str, Any]]
    t_start: float
    step: int = 0
    samples_seen: int = 0
    n_nonfinite: int = 0
    consecutive: int = 0
    last_finite: float | None = None
    wall_before: float = 0.0
    monitor: dict[str, float | None] | None = None
    n_collapse: int = 0
