"""Brain-JEPA spatiotemporal masking of an fMRI ``(R ROIs, P time patches)`` token grid.

Tokens are ROI-major: token ``r * P + p``. The defaults are the ranges of Brain-JEPA's UKB ViT-B config
(fmri.md section 1.4); nothing depends on 450 ROIs or 10 patches.

**Batch-level sizes** (``rngs.batch``, shared by every sample, redrawn while the context would hold fewer
than ``min_keep`` tokens), in this draw order, ``U`` uniform on ``[lo, hi)`` and ``int`` truncating:

1. observation: ``r_obs = int(R * U(enc_mask_scale))`` ROIs and ``t_obs = int(P * U(enc_mask_scale))``
   patches (two separate draws), kept within ``[1, R]`` and ``[1, P]``;
2. Cross-ROI (alpha): ``r_a = int(R * U(pred_mask_R_scale))`` ROIs (within ``[1, R - 1]``) and a window of
   ``t_a = int(P * U(pred_mask_T_roi_scale))`` patches (within ``[1, t_obs]``);
3. right side, then left side: ``n = int(P * U(pred_mask_T_scale))`` time columns and a ROI fraction
   ``f = U(pred_mask_R_roi_scale)``.

**Per sample** (``rngs.samples[i]``):

1. A random ROI permutation ``perm`` (ROI order does not matter). Observed ROIs = ``perm[:r_obs]``; alpha
   ROIs = ``perm[r_ctx : r_ctx + r_a]``, so they overlap the observation in ``r_obs - r_ctx`` ROIs (the
   "overlapped sampling") and those are removed from it. ``r_ctx = r_obs - round(r_obs * r_a / R)`` is the
   expected overlap of a uniformly drawn alpha set, fixed per batch so that context rows stack.
2. A contiguous observation window of ``t_obs`` patches; the alpha target is the alpha ROIs times a
   contiguous window of ``t_a`` patches inside it.
3. Each side (right, then left) picks ``n`` time columns from a pool of ``k`` columns at that edge of the
   observation window, where ``k = ceil(P * hi) - 1`` is the largest count ``pred_mask_T_scale = (lo, hi)``
   can give (3 of 10 patches for ``(0, 0.4)``), capped so both pools fit the window with one column to
   spare. Cross-Time (beta) targets: ``int(f * r_ctx)`` of the context ROIs at those columns; Double-Cross
   (gamma) targets: ``int(f * (r_obs - r_ctx))`` of the alpha ROIs removed from the observation, at those
   columns. The whole columns leave the context.

Context = context ROIs x (window columns minus the side columns): exactly
``r_ctx * (t_obs - n_right - n_left)`` tokens. Targets = alpha ∪ beta/gamma (right) ∪ beta/gamma (left), one
sorted, duplicate-free row per sample (a gamma token inside the alpha block is counted once). Context and
targets never overlap.

Differences from the reference collator, all so that rows stack without truncation and a sample's row does
not depend on the rest of its batch: the alpha/observation overlap count is fixed per batch (above); the side
pools sit at the edges of the observation window rather than at fixed grid columns (the same when the window
spans the grid); and ragged target rows are padded and marked in ``tgt_valid`` instead of being truncated to
the batch minimum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from biojepa.errors import ConfigError
from biojepa.masks.base import MaskRngs, MaskSet, stack_rows
from biojepa.registry import MASKS

__all__ = [
    "SpatiotemporalDraw",
    "SpatiotemporalSizes",
    "draw_sizes",
    "sample_spatiotemporal",
    "spatiotemporal",
]

#: Batch-level size draws are retried this many times before the grid is declared too small for min_keep.
MAX_SIZE_TRIES = 100


@dataclass(frozen=True)
class SpatiotemporalSizes:
    """Block sizes shared by one batch.

    Attributes:
        r_obs: observed ROIs.
        t_obs: observation window length (patches).
        r_a: alpha (Cross-ROI) ROIs.
        r_ctx: context ROIs (observed ROIs not in alpha).
        t_a: alpha window length (patches).
        k_side: size of each side's column pool.
        n_cols: time columns removed on the (right, left) side.
        roi_frac: beta/gamma ROI fraction on the (right, left) side.
    """

    r_obs: int
    t_obs: int
    r_a: int
    r_ctx: int
    t_a: int
    k_side: int
    n_cols: tuple[int, int]
    roi_frac: tuple[float, float]

    @property
    def n_context(self) -> int:
        """Context tokens per sample."""
        return self.r_ctx * (self.t_obs - sum(self.n_cols))


@dataclass(frozen=True)
class SpatiotemporalDraw:
    """One sample's regions (ROI and patch indices, each sorted ``int64``).

    Attributes:
        obs_rois: observed ROIs (``r_obs``).
        ctx_rois: context ROIs (``r_ctx``), observed and not alpha.
        alpha_rois: alpha ROIs (``r_a``).
        obs_window: observation window patches (``t_obs``, contiguous).
        alpha_window: alpha window patches (``t_a``, contiguous, inside ``obs_window``).
        side_cols: removed time columns of the (right, left) side.
        beta_rois: beta ROIs (subset of ``ctx_rois``) of the (right, left) side.
        gamma_rois: gamma ROIs (subset of the alpha ROIs that were observed) of the (right, left) side.
        context: ``(R, P)`` bool, the context tokens.
        target: ``(R, P)`` bool, the target tokens.
    """

    obs_rois: np.ndarray
    ctx_rois: np.ndarray
    alpha_rois: np.ndarray
    obs_window: np.ndarray
    alpha_window: np.ndarray
    side_cols: tuple[np.ndarray, np.ndarray]
    beta_rois: tuple[np.ndarray, np.ndarray]
    gamma_rois: tuple[np.ndarray, np.ndarray]
    context: np.ndarray
    target: np.ndarray


def _check_range(name: str, value: object, *, positive_hi: bool) -> tuple[float, float]:
    ok = (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) == 2
        and all(isinstance(v, Real) and not isinstance(v, bool) for v in value)
    )
    if ok:
        lo, hi = float(value[0]), float(value[1])  # type: ignore[index]
        ok = 0.0 <= lo <= hi <= 1.0 and (hi > 0.0 or not positive_hi)
    if not ok:
        need = "0 <= lo <= hi <= 1" + (" and hi > 0" if positive_hi else "")
        raise ConfigError(
            f"spatiotemporal {name} must be a pair (lo, hi) of fractions with {need}, found {value!r}; "
            "see fmri.md section 1.4 for the Brain-JEPA ranges (e.g. enc_mask_scale=(0.84, 1.0))"
        )
    return lo, hi


def _check_grid(grid: tuple[int, ...]) -> tuple[int, int]:
    grid = tuple(grid)
    if len(grid) != 2:
        raise ConfigError(
            f"spatiotemporal masks a 2-D (ROIs, time patches) grid, found a {len(grid)}-D grid {grid}; "
            "use it with the fMRI ROI tokenizer, or pick a mask made for this grid (e.g. random_tokens)"
        )
    r, p = (int(g) for g in grid)
    if r < 2 or p < 1:
        raise ConfigError(
            f"spatiotemporal needs >= 2 ROIs (one for the context, one for the Cross-ROI target) and "
            f">= 1 time patch, found grid {grid}"
        )
    return r, p


def _clip(v: int, lo: int, hi: int) -> int:
    return min(max(v, lo), hi)


def draw_sizes(
    n_rois: int,
    n_patches: int,
    rng: np.random.Generator,
    *,
    enc_mask_scale: tuple[float, float] = (0.84, 1.0),
    pred_mask_R_scale: tuple[float, float] = (0.45, 0.6),
    pred_mask_T_roi_scale: tuple[float, float] = (0.2, 0.6),
    pred_mask_R_roi_scale: tuple[float, float] = (0.15, 0.3),
    pred_mask_T_scale: tuple[float, float] = (0.0, 0.4),
) -> SpatiotemporalSizes:
    """Draw one batch's block sizes (one attempt; :func:`spatiotemporal` retries for ``min_keep``).

    Args:
        n_rois: ``R`` (>= 2).
        n_patches: ``P`` (>= 1).
        rng: the batch generator.
        enc_mask_scale: range of the observed fraction (ROIs and patches, drawn separately).
        pred_mask_R_scale: range of the alpha ROI fraction.
        pred_mask_T_roi_scale: range of the alpha window fraction of ``P``.
        pred_mask_R_roi_scale: range of the beta/gamma ROI fraction (per side).
        pred_mask_T_scale: range of the side column fraction of ``P`` (per side).

    Returns:
        The sizes; see the module docstring for the formulas and clamps.
    """
    r, p = n_rois, n_patches
    r_obs = _clip(int(r * rng.uniform(*enc_mask_scale)), 1, r)
    t_obs = _clip(int(p * rng.uniform(*enc_mask_scale)), 1, p)
    r_a = _clip(int(r * rng.uniform(*pred_mask_R_scale)), 1, r - 1)
    t_a = _clip(int(p * rng.uniform(*pred_mask_T_roi_scale)), 1, t_obs)
    # alpha = perm[r_ctx : r_ctx + r_a] must cover perm[r_ctx : r_obs] and fit in R
    r_ctx = _clip(r_obs - round(r_obs * r_a / r), max(1, r_obs - r_a), min(r_obs, r - r_a))
    k_side = max(min(math.ceil(p * pred_mask_T_scale[1]) - 1, (t_obs - 1) // 2), 0)
    n_cols, fracs = [], []
    for _side in range(2):
        n_cols.append(_clip(int(p * rng.uniform(*pred_mask_T_scale)), 0, k_side))
        fracs.append(float(rng.uniform(*pred_mask_R_roi_scale)))
    return SpatiotemporalSizes(
        r_obs, t_obs, r_a, r_ctx, t_a, k_side, (n_cols[0], n_cols[1]), (fracs[0], fracs[1])
    )


def _sorted(a: np.ndarray) -> np.ndarray:
    return np.sort(np.asarray(a, dtype=np.int64))


def sample_spatiotemporal(
    n_rois: int, n_patches: int, sizes: SpatiotemporalSizes, rng: np.random.Generator
) -> SpatiotemporalDraw:
    """Draw one sample's regions.

    Draw order from ``rng``: the ROI permutation, the observation window start, the alpha window start,
    then for the right and the left side: the columns, the beta ROIs, the gamma ROIs.

    Args:
        n_rois: ``R``.
        n_patches: ``P``.
        sizes: the batch's sizes (:func:`draw_sizes`).
        rng: the sample's generator.

    Returns:
        The sample's regions and its ``(R, P)`` context and target grids (disjoint).
    """
    s = sizes
    perm = rng.permutation(n_rois).astype(np.int64)  # (R,)
    obs_rois, ctx_rois = perm[: s.r_obs], perm[: s.r_ctx]
    alpha_rois = perm[s.r_ctx : s.r_ctx + s.r_a]
    removed = perm[s.r_ctx : s.r_obs]  # alpha ROIs that were observed (gamma pool)
    t0 = int(rng.integers(0, n_patches - s.t_obs, endpoint=True))
    a0 = t0 + int(rng.integers(0, s.t_obs - s.t_a, endpoint=True))
    obs_window = np.arange(t0, t0 + s.t_obs, dtype=np.int64)  # (t_obs,)
    alpha_window = np.arange(a0, a0 + s.t_a, dtype=np.int64)  # (t_a,)

    target = np.zeros((n_rois, n_patches), dtype=bool)  # (R, P)
    target[np.ix_(alpha_rois, alpha_window)] = True
    pools = (obs_window[s.t_obs - s.k_side :], obs_window[: s.k_side])  # right edge, left edge
    cols, betas, gammas = [], [], []
    for side in range(2):
        c = _sorted(rng.choice(pools[side], size=s.n_cols[side], replace=False))  # (n_cols,)
        f = s.roi_frac[side]
        beta = _sorted(rng.choice(ctx_rois, size=int(f * s.r_ctx), replace=False))
        gamma = _sorted(rng.choice(removed, size=int(f * removed.size), replace=False))
        target[np.ix_(np.concatenate([beta, gamma]), c)] = True
        cols.append(c)
        betas.append(beta)
        gammas.append(gamma)

    ctx_cols = np.setdiff1d(obs_window, np.concatenate(cols), assume_unique=True)  # (t_obs - n_r - n_l,)
    context = np.zeros((n_rois, n_patches), dtype=bool)  # (R, P)
    context[np.ix_(ctx_rois, ctx_cols)] = True
    return SpatiotemporalDraw(
        obs_rois=_sorted(obs_rois),
        ctx_rois=_sorted(ctx_rois),
        alpha_rois=_sorted(alpha_rois),
        obs_window=obs_window,
        alpha_window=alpha_window,
        side_cols=(cols[0], cols[1]),
        beta_rois=(betas[0], betas[1]),
        gamma_rois=(gammas[0], gammas[1]),
        context=context,
        target=target,
    )


@MASKS.register(
    "spatiotemporal",
    modality="fmri",
    grid_ndim=2,
    summary="Brain-JEPA spatiotemporal masking: observation block, Cross-ROI (alpha), Cross-Time (beta) and "
    "Double-Cross (gamma) targets on a (ROIs, time patches) grid",
)
def spatiotemporal(
    grid: tuple[int, int],
    rngs: MaskRngs,
    *,
    enc_mask_scale: tuple[float, float] = (0.84, 1.0),
    pred_mask_R_scale: tuple[float, float] = (0.45, 0.6),
    pred_mask_T_roi_scale: tuple[float, float] = (0.2, 0.6),
    pred_mask_R_roi_scale: tuple[float, float] = (0.15, 0.3),
    pred_mask_T_scale: tuple[float, float] = (0.0, 0.4),
    min_keep: int = 4,
) -> MaskSet:
    """Brain-JEPA spatiotemporal masking of a ROI-major ``(R, P)`` fMRI token grid.

    Args:
        grid: ``(R, P)``: ROIs x time patches; token index ``r * P + p``.
        rngs: batch and per-sample generators (:func:`biojepa.masks.make_mask_rngs`).
        enc_mask_scale: range of the observed fraction of ROIs and of patches.
        pred_mask_R_scale: range of the Cross-ROI (alpha) ROI fraction.
        pred_mask_T_roi_scale: range of the alpha time-window fraction.
        pred_mask_R_roi_scale: range of the Cross-Time/Double-Cross (beta/gamma) ROI fraction, per side.
        pred_mask_T_scale: range of the beta/gamma time-column fraction, per side.
        min_keep: minimum context tokens; the batch sizes are redrawn (up to 100 times) until it holds.

    Returns:
        :class:`MaskSet` with ``ctx_idx (B, r_ctx * (t_obs - n_right - n_left))`` and ``tgt_idx (B, M)``,
        ``M`` the largest target count of the batch; shorter rows are padded and marked in ``tgt_valid``
        (``None`` when all rows have the same length).

    Raises:
        ConfigError: a range that is not ``0 <= lo <= hi <= 1``, ``min_keep < 1``, a grid that is not 2-D
            with >= 2 ROIs, or a grid too small to keep ``min_keep`` context tokens.
    """
    r, p = _check_grid(grid)
    ranges = {
        "enc_mask_scale": _check_range("enc_mask_scale", enc_mask_scale, positive_hi=True),
        "pred_mask_R_scale": _check_range("pred_mask_R_scale", pred_mask_R_scale, positive_hi=True),
        "pred_mask_T_roi_scale": _check_range(
            "pred_mask_T_roi_scale", pred_mask_T_roi_scale, positive_hi=True
        ),
        "pred_mask_R_roi_scale": _check_range(
            "pred_mask_R_roi_scale", pred_mask_R_roi_scale, positive_hi=False
        ),
        "pred_mask_T_scale": _check_range("pred_mask_T_scale", pred_mask_T_scale, positive_hi=False),
    }
    if isinstance(min_keep, bool) or not isinstance(min_keep, Integral) or min_keep < 1:
        raise ConfigError(f"spatiotemporal min_keep must be an integer >= 1 (tokens), found {min_keep!r}")
    if len(rngs.samples) == 0:
        raise ValueError("spatiotemporal needs at least one sample generator (an empty batch?)")
    for _ in range(MAX_SIZE_TRIES):
        sizes = draw_sizes(r, p, rngs.batch, **ranges)  # type: ignore[arg-type]
        if sizes.n_context >= min_keep:
            break
    else:
        raise ConfigError(
            f"spatiotemporal could not keep min_keep={min_keep} context tokens on grid {(r, p)} in "
            f"{MAX_SIZE_TRIES} draws (last context size {sizes.n_context}); lower min_keep, raise "
            "enc_mask_scale or lower pred_mask_R_scale / pred_mask_T_scale, or use a larger grid"
        )
    ctx_rows, tgt_rows = [], []
    for rng in rngs.samples:
        d = sample_spatiotemporal(r, p, sizes, rng)
        ctx_rows.append(np.flatnonzero(d.context))  # (K,) ROI-major token indices
        tgt_rows.append(np.flatnonzero(d.target))  # (M_i,)
    return stack_rows(ctx_rows, tgt_rows)
