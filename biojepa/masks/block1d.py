"""Contiguous time-block masking of a 1-D token sequence (the ECG-JEPA sampler).

Per batch, a keep ratio ``r ~ U(keep_min, keep_max)`` is drawn and ``K = ceil(r * N)`` tokens are kept by
every sample, so the index tensors stack. Per sample, ``N - K`` tokens are masked in contiguous blocks:

1. Keep a list of unmasked intervals, initially ``[0, N)``.
2. While fewer than ``N - K`` tokens are masked: pick an interval with probability proportional to its
   length; draw a block length uniformly in ``[min_block, budget]`` (``budget`` = tokens still to mask).
   If the interval is not longer than the block, mask all of it; otherwise put the block at a uniform
   offset inside it and keep the parts left and right of it.
3. Once the budget is below ``min_block``, the block length is the whole budget and the block is glued to
   the start or the end of the picked interval where that touches an existing masked block, so it
   lengthens that block instead of standing alone.

Context = the tokens left in the intervals (exactly ``K``); targets = all masked tokens (``N - K``).
When ``N - K >= min_block`` every maximal masked run is at least ``min_block`` tokens long.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from biojepa.errors import ConfigError
from biojepa.masks.base import MaskRngs, MaskSet, stack_rows
from biojepa.registry import MASKS

__all__ = ["block1d", "sample_block_mask"]


def _check_params(grid: tuple[int, ...], keep_min: float, keep_max: float, min_block: int) -> int:
    """Validate the parameters and return the token count ``N``."""
    if any(isinstance(v, bool) or not isinstance(v, Real) for v in (keep_min, keep_max)):
        raise ConfigError(f"block1d keep_min/keep_max must be numbers, found {keep_min!r}/{keep_max!r}")
    if not 0.0 < float(keep_min) <= float(keep_max) < 1.0:
        raise ConfigError(
            f"block1d needs 0 < keep_min <= keep_max < 1, found keep_min={keep_min}, keep_max={keep_max} "
            "(the ECG-JEPA default keeps 15-25 %: keep_min=0.15, keep_max=0.25)"
        )
    if isinstance(min_block, bool) or not isinstance(min_block, Integral) or min_block < 1:
        raise ConfigError(f"block1d min_block must be an integer >= 1 (tokens), found {min_block!r}")
    grid = tuple(grid)
    if len(grid) != 1:
        raise ConfigError(
            f"block1d masks a 1-D token sequence, found a {len(grid)}-D grid {grid}; "
            "use a mask made for multi-dimensional grids (e.g. random_tokens)"
        )
    n = int(grid[0])
    if n < 2:
        raise ConfigError(
            f"block1d needs at least 2 tokens to split into context and targets, found grid {grid}"
        )
    return n


def _keep_count(n: int, ratio: float) -> int:
    """``ceil(ratio * n)``, kept in ``[1, n - 1]`` so that both context and targets are non-empty."""
    return min(max(math.ceil(ratio * n), 1), n - 1)


def sample_block_mask(n: int, n_mask: int, min_block: int, rng: np.random.Generator) -> np.ndarray:
    """Mask ``n_mask`` of ``n`` tokens in contiguous blocks (one sample).

    Args:
        n: number of tokens.
        n_mask: number of tokens to mask, ``0 <= n_mask <= n``.
        min_block: minimum block length.
        rng: the sample's generator.

    Returns:
        ``(n,)`` bool array, ``True`` where the token is masked (a target).
    """
    free: list[tuple[int, int]] = [(0, n)]  # unmasked half-open intervals, all non-empty
    masked = 0
    while masked < n_mask:
        budget = n_mask - masked
        # pick an interval with probability proportional to its length (exact integer draw)
        lengths = np.fromiter((b - a for a, b in free), dtype=np.int64, count=len(free))  # (I,)
        u = int(rng.integers(int(lengths.sum())))
        i = int(np.searchsorted(np.cumsum(lengths), u, side="right"))
        a, b = free.pop(i)
        length = b - a
        glue = budget < min_block
        size = budget if glue else int(rng.integers(min_block, budget, endpoint=True))
        if length <= size:  # the whole interval is masked (it borders a masked block unless it is [0, n))
            masked += length
            continue
        if glue:
            # too small to stand alone: extend a masked block that touches this interval
            anchors = ([a] if a > 0 else []) + ([b - size] if b < n else [])
            if anchors:
                start = anchors[int(rng.integers(len(anchors)))]
            else:  # nothing masked yet (n_mask < min_block): a single short block anywhere
                start = int(rng.integers(a, b - size, endpoint=True))
        else:
            start = int(rng.integers(a, b - size, endpoint=True))
        free.extend(iv for iv in ((a, start), (start + size, b)) if iv[1] > iv[0])
        masked += size
    mask = np.ones(n, dtype=bool)  # (N,)
    for a, b in free:
        mask[a:b] = False
    return mask


@MASKS.register(
    "block1d",
    modality="any",
    grid_ndim=1,
    summary="ECG-JEPA contiguous time blocks: keep 15-25 % of a 1-D token sequence, predict the rest",
)
def block1d(
    grid: tuple[int, ...],
    rngs: MaskRngs,
    *,
    keep_min: float = 0.15,
    keep_max: float = 0.25,
    min_block: int = 10,
) -> MaskSet:
    """ECG-JEPA block masking of a 1-D token grid.

    Args:
        grid: ``(N,)`` token grid (e.g. ``(200,)`` for 10 s of 50 ms patches).
        rngs: batch and per-sample generators (:func:`biojepa.masks.make_mask_rngs`).
        keep_min: lower bound of the batch keep ratio.
        keep_max: upper bound of the batch keep ratio.
        min_block: minimum masked block length in tokens.

    Returns:
        :class:`MaskSet` with ``ctx_idx (B, K)`` and ``tgt_idx (B, N - K)``, ``K = ceil(r * N)`` shared by
        the batch (kept within ``[1, N - 1]``).

    Raises:
        ConfigError: invalid parameters or a grid that is not 1-D with at least 2 tokens.
    """
    n = _check_params(grid, keep_min, keep_max, min_block)
    if len(rngs.samples) == 0:
        raise ValueError("block1d needs at least one sample generator (an empty batch?)")
    ratio = float(rngs.batch.uniform(keep_min, keep_max))
    k = _keep_count(n, ratio)
    ctx_rows, tgt_rows = [], []
    for rng in rngs.samples:
        mask = sample_block_mask(n, n - k, int(min_block), rng)  # (N,)
        ctx_rows.append(np.flatnonzero(~mask))  # (K,)
        tgt_rows.append(np.flatnonzero(mask))  # (N - K,)
    return stack_rows(ctx_rows, tgt_rows)
