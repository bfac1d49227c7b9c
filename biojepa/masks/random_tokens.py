"""Uniform random token masking: a simple baseline for any token grid.

Each sample keeps a uniformly random subset of ``K = ceil(keep * N)`` tokens (``N = prod(grid)``, ``K``
shared by the batch and kept within ``[1, N - 1]``); every other token is a target.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from biojepa.errors import ConfigError
from biojepa.masks.base import MaskRngs, MaskSet, stack_rows
from biojepa.registry import MASKS

__all__ = ["random_tokens"]


@MASKS.register(
    "random_tokens",
    modality="any",
    grid_ndim=None,
    summary="uniform random subset of tokens kept per sample (baseline for any grid), the rest are targets",
)
def random_tokens(grid: tuple[int, ...], rngs: MaskRngs, *, keep: float = 0.25) -> MaskSet:
    """Keep a uniformly random subset of tokens per sample.

    Args:
        grid: token grid of any dimension; tokens are indexed in the flattened (C-order) grid.
        rngs: batch and per-sample generators (:func:`biojepa.masks.make_mask_rngs`).
        keep: fraction of tokens kept as context, ``0 < keep < 1``.

    Returns:
        :class:`MaskSet` with ``ctx_idx (B, K)`` and ``tgt_idx (B, N - K)``.

    Raises:
        ConfigError: ``keep`` outside ``(0, 1)`` or a grid with fewer than 2 tokens.
    """
    if isinstance(keep, bool) or not isinstance(keep, Real) or not 0.0 < float(keep) < 1.0:
        raise ConfigError(f"random_tokens keep must be a number in (0, 1), found {keep!r}")
    grid = tuple(int(g) for g in grid)
    n = math.prod(grid)
    if not grid or n < 2:
        raise ConfigError(f"random_tokens needs a grid with at least 2 tokens, found {grid}")
    if len(rngs.samples) == 0:
        raise ValueError("random_tokens needs at least one sample generator (an empty batch?)")
    k = min(max(math.ceil(float(keep) * n), 1), n - 1)
    ctx_rows, tgt_rows = [], []
    for rng in rngs.samples:
        kept = np.zeros(n, dtype=bool)  # (N,)
        kept[rng.choice(n, size=k, replace=False)] = True
        ctx_rows.append(np.flatnonzero(kept))  # (K,)
        tgt_rows.append(np.flatnonzero(~kept))  # (N - K,)
    return stack_rows(ctx_rows, tgt_rows)
