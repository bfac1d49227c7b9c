"""Step-indexed schedules: learning rate, weight decay and EMA momentum.

Every schedule is a pure function of the global (0-based) optimizer step, so a resumed run needs no replay:
the value at step ``s`` is the same whether the run got there in one go or after a restart.

Defaults follow ECG-JEPA: linear warm-up then cosine decay of the learning rate, a cosine rise of the weight
decay (0.01 -> 0.1) and a linear rise of the EMA momentum (0.998 -> 0.9995).

Example:
    >>> warmup_cosine(0, total=100, warmup=10, start=0.0, peak=1.0, end=0.0)
    0.0
    >>> warmup_cosine(10, total=100, warmup=10, start=0.0, peak=1.0, end=0.0)
    1.0
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from biojepa.errors import ConfigError

if TYPE_CHECKING:
    from biojepa.config import OptimConfig

__all__ = ["Schedules", "cosine", "linear", "warmup_cosine"]

log = logging.getLogger(__name__)


def _check(step: int, total: int) -> None:
    if step < 0:
        raise ValueError(f"schedule step must be >= 0, got {step}")
    if total <= 0:
        raise ValueError(f"schedule total must be > 0 steps, got {total}")


def linear(step: int, *, total: int, start: float, end: float) -> float:
    """Linear ramp from ``start`` (step 0) to ``end`` (step ``total``), constant ``end`` afterwards.

    Args:
        step: global step (>= 0).
        total: steps over which the ramp runs (> 0).
        start: value at step 0.
        end: value at and after step ``total``.

    Raises:
        ValueError: negative step or non-positive total.
    """
    _check(step, total)
    if step >= total:
        return float(end)
    return float(start + (end - start) * (step / total))


def cosine(step: int, *, total: int, start: float, end: float) -> float:
    """Half-cosine from ``start`` (step 0) to ``end`` (step ``total``), constant ``end`` afterwards.

    ``start + (end - start) · (1 − cos(π · step / total)) / 2``; increasing when ``end > start``.

    Raises:
        ValueError: negative step or non-positive total.
    """
    _check(step, total)
    if step >= total:
        return float(end)
    return float(start + (end - start) * 0.5 * (1.0 - math.cos(math.pi * step / total)))


def warmup_cosine(step: int, *, total: int, warmup: int, start: float, peak: float, end: float) -> float:
    """Linear warm-up ``start -> peak`` over ``warmup`` steps, then cosine ``peak -> end`` at step ``total``.

    Args:
        step: global step (>= 0).
        total: step at which the value reaches ``end`` (> 0); constant ``end`` afterwards.
        warmup: warm-up steps (0 <= warmup <= total); ``warmup=0`` starts at ``peak``.
        start: value at step 0 (when ``warmup > 0``).
        peak: value at step ``warmup``.
        end: value at and after step ``total``.

    Raises:
        ValueError: negative step, non-positive total, or warmup outside ``[0, total]``.
    """
    _check(step, total)
    if not 0 <= warmup <= total:
        raise ValueError(f"warm-up must be in [0, total={total}] steps, got {warmup}")
    if step < warmup:
        return float(start + (peak - start) * (step / warmup))
    if step >= total:
        return float(end)
    progress = (step - warmup) / (total - warmup)  # in [0, 1)
    return float(end + (peak - end) * 0.5 * (1.0 + math.cos(math.pi * progress)))


@dataclass(frozen=True)
class Schedules:
    """The three schedules of a run, bound to its total step count.

    Attributes:
        total: total optimizer steps of the run.
        lr_start: learning rate at step 0.
        lr_peak: learning rate after warm-up.
        lr_end: learning rate at the last step.
        warmup: warm-up steps.
        wd_start: weight decay at step 0.
        wd_end: weight decay at the end (cosine).
        ema_start: EMA momentum at step 0.
        ema_end: EMA momentum at the end (linear).
    """

    total: int
    lr_start: float
    lr_peak: float
    lr_end: float
    warmup: int
    wd_start: float
    wd_end: float
    ema_start: float
    ema_end: float

    @classmethod
    def from_config(cls, optim: OptimConfig, total_steps: int) -> Schedules:
        """Schedules for a run of ``total_steps`` optimizer steps with the settings of ``optim``.

        A warm-up longer than the run is shortened to the run (logged), so a short smoke run of a long
        recipe (``engine.steps=4``) still works: the learning rate then rises linearly for the whole run.

        Raises:
            ConfigError: non-positive ``total_steps``.
        """
        if total_steps <= 0:
            raise ConfigError(f"engine.steps must be > 0, got {total_steps}")
        warmup = optim.warmup_steps
        if warmup > total_steps:
            log.warning(
                "optim.warmup_steps=%d is longer than the run (engine.steps=%d); "
                "warming up over the whole run",
                warmup,
                total_steps,
            )
            warmup = int(total_steps)
        return cls(
            total=int(total_steps),
            lr_start=optim.lr_start,
            lr_peak=optim.lr,
            lr_end=optim.lr_end,
            warmup=warmup,
            wd_start=optim.weight_decay_start,
            wd_end=optim.weight_decay_end,
            ema_start=optim.ema_start,
            ema_end=optim.ema_end,
        )

    def lr(self, step: int) -> float:
        """Learning rate at ``step``."""
        return warmup_cosine(
            step,
            total=self.total,
            warmup=self.warmup,
            start=self.lr_start,
            peak=self.lr_peak,
            end=self.lr_end,
        )

    def weight_decay(self, step: int) -> float:
        """Weight decay at ``step``."""
        return cosine(step, total=self.total, start=self.wd_start, end=self.wd_end)

    def momentum(self, step: int) -> float:
        """EMA momentum at ``step``."""
        return linear(step, total=self.total, start=self.ema_start, end=self.ema_end)

    def at(self, step: int) -> tuple[float, float, float]:
        """``(lr, weight_decay, ema_momentum)`` at the 0-based optimizer step ``step``."""
        return self.lr(step), self.weight_decay(step), self.momentum(step)
