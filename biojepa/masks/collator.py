"""Collate samples into a :class:`Batch` with masks, inside DataLoader workers.

The masks of a batch depend only on ``(seed, step, sample_ids)`` (see :func:`make_mask_rngs`), so they
are identical whether the collator runs in the main process or in any number of worker processes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from biojepa.errors import ConfigError
from biojepa.masks.base import MaskSet, build_mask, make_mask_rngs

__all__ = ["Batch", "MaskCollator", "SampleLike"]


class SampleLike(Protocol):
    """What the collator reads from a sample (e.g. :class:`biojepa.data.sampler.Sample`)."""

    x: np.ndarray
    sample_id: int
    step: int
    source: str


@dataclass(eq=False)  # tensors: compare fields explicitly, not with ==
class Batch:
    """One training batch.

    Attributes:
        x: ``(B, C, T)`` float32 signals.
        masks: context / target token indices.
        step: global step shared by every sample.
        sample_ids: ``(B,)`` int64 global sample ids.
        sources: dataset id of each sample.
    """

    x: torch.Tensor
    masks: MaskSet
    step: int
    sample_ids: torch.Tensor
    sources: list[str]

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """A new batch with every tensor on ``device``."""
        return Batch(
            x=self.x.to(device, non_blocking=non_blocking),
            masks=self.masks.to(device, non_blocking=non_blocking),
            step=self.step,
            sample_ids=self.sample_ids.to(device, non_blocking=non_blocking),
            sources=list(self.sources),
        )

    def pin_memory(self) -> Batch:
        """A copy in page-locked memory (called by ``DataLoader(pin_memory=True)``)."""
        return Batch(
            x=self.x.pin_memory(),
            masks=self.masks.pin_memory(),
            step=self.step,
            sample_ids=self.sample_ids.pin_memory(),
            sources=list(self.sources),
        )


GridSpec = tuple[int, ...] | Callable[[tuple[int, int]], tuple[int, ...]]


class MaskCollator:
    """``collate_fn`` that stacks samples and draws their masks.

    Picklable (it holds a mask name, plain parameters, a grid and a seed), so it can run in DataLoader
    worker processes under any start method (a callable ``grid`` must be picklable too).

    Args:
        mask: name in :data:`biojepa.registry.MASKS` (e.g. ``"block1d"``).
        params: keyword parameters of the mask function.
        grid: the token grid, or a callable mapping the input shape ``(C, T)`` to it
            (e.g. ``tokenizer.grid``).
        seed: run seed.
        validate: also run :meth:`MaskSet.validate` on every batch (slow; for debugging).

    Raises:
        UnknownNameError: unknown mask name.
        ConfigError: parameters the mask does not accept or rejects (checked once here when ``grid`` is a
            tuple), or a negative seed.
    """

    def __init__(
        self,
        mask: str,
        params: Mapping[str, Any],
        grid: GridSpec,
        seed: int,
        *,
        validate: bool = False,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ConfigError(f"MaskCollator seed must be a non-negative integer, found {seed!r}")
        self.mask = mask
        self.params = dict(params)
        self.grid = grid if callable(grid) else tuple(int(g) for g in grid)
        self.seed = int(seed)
        self.validate = bool(validate)
        self._fn = build_mask(mask, self.params)
        if not callable(self.grid):  # fail early, in the main process, on bad values
            self._fn(self.grid, make_mask_rngs(self.seed, 0, [0]))

    def __repr__(self) -> str:
        return (
            f"MaskCollator(mask={self.mask!r}, params={self.params!r}, grid={self.grid!r}, seed={self.seed})"
        )

    def grid_for(self, input_shape: tuple[int, int]) -> tuple[int, ...]:
        """The token grid for inputs shaped ``(C, T)``."""
        if callable(self.grid):
            return tuple(int(g) for g in self.grid(input_shape))
        return self.grid

    def __call__(self, samples: Sequence[SampleLike]) -> Batch:
        """Stack ``samples`` (one step) into a :class:`Batch` with masks.

        Raises:
            ValueError: no samples, samples from different steps, or signals of different shapes.
        """
        if len(samples) == 0:
            raise ValueError("MaskCollator got an empty list of samples; a batch needs at least one")
        step = int(samples[0].step)
        steps = sorted({int(s.step) for s in samples})
        if len(steps) != 1:
            raise ValueError(
                f"all samples of a batch must share one step, found steps {steps}; "
                "use a batch sampler that yields one step per batch"
            )
        xs = [np.asarray(s.x, dtype=np.float32) for s in samples]
        shapes = sorted({x.shape for x in xs})
        if len(shapes) != 1 or len(shapes[0]) != 2:
            raise ValueError(f"all samples must be (C, T) arrays of one shape, found shapes {shapes}")
        x = torch.from_numpy(np.stack(xs))  # (B, C, T)
        ids = [int(s.sample_id) for s in samples]
        grid = self.grid_for((int(x.shape[1]), int(x.shape[2])))
        masks = self._fn(grid, make_mask_rngs(self.seed, step, ids))
        if self.validate:
            masks.validate(math.prod(grid))
        return Batch(
            x=x,
            masks=masks,
            step=step,
            sample_ids=torch.tensor(ids, dtype=torch.int64),  # (B,)
            sources=[str(s.source) for s in samples],
        )
