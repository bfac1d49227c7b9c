"""S-JEPA spatial block masking of an EEG ``(C, N_t)`` token grid, with a temporal-block option.

Tokens are flattened channel-major: token ``c * N_t + t`` is time token ``t`` of channel ``c``. A chosen
channel always contributes **all** of its ``N_t`` time tokens.

Spatial mode (the default, as in S-JEPA; ``positions`` normalised to a unit head radius):

1. Per sample, a centre channel is drawn uniformly among the channels whose position is known.
2. The block is every channel at Euclidean distance ``< radius`` from the centre (the centre included);
   channels with an unknown (NaN) position are never in a block.
3. Targets: ``min(n_target_channels, |block|)`` channels drawn from the block. Blocks differ in size, so
   target rows are ragged and padded (``MaskSet.tgt_valid`` marks the padding ``False``).
4. Context: ``K`` channels drawn uniformly from outside the block (channels with unknown position may be
   context). ``K = min(n_context_channels, smallest outside-block count over every possible centre)``.
   ``K`` depends only on the montage and the radius, never on which centres a batch drew, so every
   sample's row is the same however the batch is split across processes or workers. When some centre's
   block covers every channel there is no context for it and a :class:`ConfigError` asks for a smaller
   radius.

Temporal mode (``temporal=True``): a keep ratio ``r ~ U(time_keep_min, time_keep_max)`` is drawn per batch
and every sample keeps one contiguous run of ``L = ceil(r * N_t)`` time tokens (at least
``time_min_block``, at most ``N_t - 1``) of **all** channels as context; all other tokens are targets.
The run's start is drawn per sample. ``positions`` is only shape-checked in this mode.

On the 62-channel Lee2019 montage (MNE ``standard_1005``, head radius 1) a radius of 0.4 / 0.6 / 0.8 gives
blocks of about 4 / 7 / 12 channels on average (research note eeg.md, section 1.2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np

from biojepa.errors import ConfigError
from biojepa.masks.base import MaskRngs, MaskSet, stack_rows
from biojepa.registry import MASKS

__all__ = ["channel_tokens", "sample_spatial_channels", "spatial", "spatial_block_channels"]


def _as_positions(
    positions: Sequence[Sequence[float]] | np.ndarray, n_channels: int | None = None
) -> np.ndarray:
    """Positions as a ``(C, 3)`` float64 array (NaN rows allowed), with a :class:`ConfigError` otherwise."""
    try:
        pos = np.asarray(positions, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"spatial positions must be a (C, 3) array of numbers (one xyz row per channel), "
            f"could not convert it: {err}"
        ) from err
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ConfigError(
            f"spatial positions must have shape (C, 3) (one xyz row per channel), found {pos.shape}"
        )
    if n_channels is not None and pos.shape[0] != n_channels:
        raise ConfigError(
            f"spatial positions have {pos.shape[0]} rows but the token grid has {n_channels} channels; "
            "pass one xyz row per channel of the grid, in grid order (NaN rows for unknown positions)"
        )
    if np.isinf(pos).any():
        row = int(np.nonzero(np.isinf(pos).any(axis=1))[0][0])
        raise ConfigError(
            f"spatial positions row {row} is infinite ({pos[row].tolist()}); use finite coordinates, "
            "or NaN for a channel whose position is unknown"
        )
    return pos


def _known(pos: np.ndarray) -> np.ndarray:
    """``(C,)`` bool, ``True`` where the channel's position is known (no NaN in its row)."""
    return ~np.isnan(pos).any(axis=1)


def spatial_block_channels(
    positions: Sequence[Sequence[float]] | np.ndarray, centre: int, radius: float
) -> np.ndarray:
    """Channels within ``radius`` of the ``centre`` channel.

    Args:
        positions: ``(C, 3)`` channel positions (NaN rows = unknown position).
        centre: index of the centre channel; its position must be known.
        radius: block radius, in the units of ``positions`` (unit head radius for S-JEPA).

    Returns:
        Sorted ``int64`` channel indices ``j`` with ``||positions[j] - positions[centre]|| < radius``; always
        contains ``centre`` (for ``radius > 0``), never a channel with an unknown position.

    Raises:
        ConfigError: malformed positions.
        ValueError: ``centre`` out of range or with an unknown position.
    """
    pos = _as_positions(positions)
    c = int(centre)
    if not 0 <= c < pos.shape[0]:
        raise ValueError(f"centre must be a channel index in [0, {pos.shape[0]}), found {centre!r}")
    if np.isnan(pos[c]).any():
        raise ValueError(f"centre channel {c} has an unknown (NaN) position and cannot centre a block")
    dist = np.linalg.norm(pos - pos[c], axis=1)  # (C,), NaN for unknown rows
    with np.errstate(invalid="ignore"):
        return np.flatnonzero(dist < radius).astype(np.int64)  # NaN < r is False


def _block_matrix(pos: np.ndarray, radius: float) -> np.ndarray:
    """``(C, C)`` bool: ``[c, j]`` = channel ``j`` lies in the block of centre ``c``."""
    diff = pos[:, None, :] - pos[None, :, :]  # (C, C, 3)
    dist = np.linalg.norm(diff, axis=-1)  # (C, C), NaN where either position is unknown
    with np.errstate(invalid="ignore"):
        return dist < radius


def sample_spatial_channels(
    positions: Sequence[Sequence[float]] | np.ndarray,
    radius: float,
    n_context: int,
    n_target: int,
    rng: np.random.Generator,
) -> tuple[int, np.ndarray, np.ndarray]:
    """Draw one sample's centre, context channels and target channels.

    Draw order from ``rng``: the centre (uniform among channels with a known position), then the target
    channels (uniform subset of the block), then the context channels (uniform subset outside the block).

    Args:
        positions: ``(C, 3)`` channel positions (NaN rows = unknown position).
        radius: block radius (``> 0``).
        n_context: exact number of context channels; must not exceed the outside-block count of any centre
            that can be drawn (:func:`spatial` ensures this).
        n_target: maximum number of target channels (all of the block if it is smaller).
        rng: the sample's generator.

    Returns:
        ``(centre, ctx_channels, tgt_channels)``: the centre index and two sorted ``int64`` channel arrays,
        disjoint, ``len(ctx_channels) == n_context``, ``len(tgt_channels) == min(n_target, |block|)``.

    Raises:
        ConfigError: malformed positions or no channel with a known position.
        ValueError: the drawn block leaves fewer than ``n_context`` channels outside it.
    """
    pos = _as_positions(positions)
    known = np.flatnonzero(_known(pos))  # (C_known,)
    if known.size == 0:
        raise ConfigError("spatial masking needs at least one channel with a known (non-NaN) position")
    centre = int(known[int(rng.integers(known.size))])
    block = spatial_block_channels(pos, centre, radius)  # (|block|,)
    outside = np.setdiff1d(np.arange(pos.shape[0]), block, assume_unique=True)  # (C - |block|,)
    if outside.size < n_context:
        raise ValueError(
            f"the block around channel {centre} leaves {outside.size} channels outside it, "
            f"fewer than the {n_context} context channels asked for"
        )
    n_tgt = min(int(n_target), block.size)
    tgt = np.sort(rng.choice(block, size=n_tgt, replace=False)).astype(np.int64)  # (n_tgt,)
    ctx = np.sort(rng.choice(outside, size=int(n_context), replace=False)).astype(np.int64)  # (n_context,)
    return centre, ctx, tgt


def channel_tokens(channels: np.ndarray, n_t: int) -> np.ndarray:
    """All time tokens of ``channels`` in a channel-major ``(C, n_t)`` grid, sorted when ``channels`` is.

    Returns:
        ``(len(channels) * n_t,)`` int64 token indices ``c * n_t + t``.
    """
    ch = np.asarray(channels, dtype=np.int64)
    return (ch[:, None] * n_t + np.arange(n_t, dtype=np.int64)[None, :]).reshape(-1)  # (len(ch) * n_t,)


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or int(value) < minimum:
        raise ConfigError(f"spatial {name} must be an integer >= {minimum}, found {value!r}")
    return int(value)


def _check_grid(grid: tuple[int, ...]) -> tuple[int, int]:
    grid = tuple(grid)
    if len(grid) != 2:
        raise ConfigError(
            f"spatial masks a 2-D (channels, time tokens) grid, found a {len(grid)}-D grid {grid}; "
            "use it with a per-channel EEG tokenizer, or pick a mask made for this grid (e.g. random_tokens)"
        )
    c, n_t = (int(g) for g in grid)
    if c < 1 or n_t < 1:
        raise ConfigError(f"spatial needs a grid with >= 1 channel and >= 1 time token, found {grid}")
    return c, n_t


def _temporal(
    c: int, n_t: int, rngs: MaskRngs, keep_min: float, keep_max: float, min_block: int, n_contexts: int = 1
) -> MaskSet:
    """Contiguous time block of all channels as context, everything else as targets."""
    if n_t < min_block + 1:
        raise ConfigError(
            f"spatial temporal=True keeps a contiguous run of >= time_min_block={min_block} time tokens and "
            f"predicts the rest, so it needs N_t >= {min_block + 1} time tokens, found N_t={n_t}; "
            "lower time_min_block or use longer crops"
        )
    ratio = float(rngs.batch.uniform(keep_min, keep_max))
    keep = min(max(math.ceil(ratio * n_t), min_block), n_t - 1)  # L, shared by the batch
    ctx_rows, tgt_rows = [], []
    for rng in rngs.samples:
        for _ in range(n_contexts):
            start = int(rng.integers(0, n_t - keep, endpoint=True))
            kept_t = np.zeros(n_t, dtype=bool)  # (N_t,)
            kept_t[start : start + keep] = True
            kept = np.tile(kept_t, c)  # (C * N_t,) channel-major: the same time block for every channel
            ctx_rows.append(np.flatnonzero(kept))  # (C * L,)
            tgt_rows.append(np.flatnonzero(~kept))  # (C * (N_t - L),)
    return stack_rows(ctx_rows, tgt_rows)


@MASKS.register(
    "spatial",
    modality="eeg",
    grid_ndim=2,
    summary="S-JEPA spatial blocks: predict the channels within a radius of a random centre from 8 channels "
    "outside it (all time tokens); temporal=True keeps a contiguous time block instead",
)
def spatial(
    grid: tuple[int, int],
    rngs: MaskRngs,
    *,
    positions: Sequence[Sequence[float]],
    radius: float = 0.6,
    n_context_channels: int = 8,
    n_target_channels: int = 8,
    temporal: bool = False,
    time_keep_min: float = 0.5,
    time_keep_max: float = 0.75,
    time_min_block: int = 2,
    n_contexts: int = 1,
) -> MaskSet:
    """S-JEPA spatial block masking of a channel-major ``(C, N_t)`` EEG token grid.

    Args:
        grid: ``(C, N_t)``: channels x time tokens per channel; token index ``c * N_t + t``.
        rngs: batch and per-sample generators (:func:`biojepa.masks.make_mask_rngs`).
        positions: ``(C, 3)`` channel positions normalised to a unit head radius, in grid order. NaN rows
            mark unknown positions: such a channel is never a centre or a target, but may be context.
        radius: block radius in head radii (S-JEPA compared 0.4, 0.6, 0.8).
        n_context_channels: context channels per sample (fewer when the montage leaves fewer outside the
            largest block, see the module docstring).
        n_target_channels: maximum target channels per sample, drawn from the block.
        temporal: keep a contiguous time block of all channels instead of spatial blocks.
        time_keep_min: temporal mode, lower bound of the batch keep ratio of the ``N_t`` time tokens.
        time_keep_max: temporal mode, upper bound of that ratio.
        time_min_block: temporal mode, minimum length in time tokens of the kept block.
        n_contexts: masks drawn per input (S-JEPA: 8). The result then has ``B · n_contexts`` rows,
            sample-major; :class:`~biojepa.engine.jepa.JEPA` runs the target encoder once per input and the
            context encoder and predictor once per row.

    Returns:
        (``B`` below is ``B · n_contexts`` when ``n_contexts > 1``.)
        Spatial mode: :class:`MaskSet` with ``ctx_idx (B, K * N_t)`` and ``tgt_idx (B, M * N_t)`` where
        ``M`` is the largest target-channel count of the batch; shorter target rows are padded and marked in
        ``tgt_valid`` (``None`` when all rows have the same length). Temporal mode: ``ctx_idx (B, C * L)``,
        ``tgt_idx (B, C * (N_t - L))``, ``tgt_valid`` ``None``.

    Raises:
        ConfigError: invalid parameters, a grid that is not 2-D, positions not shaped ``(C, 3)``, no channel
            with a known position, or a radius so large that some block leaves no channel for the context.
    """
    c, n_t = _check_grid(grid)
    pos = _as_positions(positions, n_channels=c)
    if isinstance(radius, bool) or not isinstance(radius, Real) or not 0.0 < float(radius) < math.inf:
        raise ConfigError(
            f"spatial radius must be a number > 0 (in head radii; S-JEPA used 0.4-0.8), found {radius!r}"
        )
    radius = float(radius)
    n_ctx = _check_int("n_context_channels", n_context_channels, 1)
    n_tgt = _check_int("n_target_channels", n_target_channels, 1)
    if any(isinstance(v, bool) or not isinstance(v, Real) for v in (time_keep_min, time_keep_max)):
        raise ConfigError(
            f"spatial time_keep_min/time_keep_max must be numbers, found {time_keep_min!r}/{time_keep_max!r}"
        )
    if not 0.0 < float(time_keep_min) <= float(time_keep_max) < 1.0:
        raise ConfigError(
            f"spatial needs 0 < time_keep_min <= time_keep_max < 1, found time_keep_min={time_keep_min}, "
            f"time_keep_max={time_keep_max} (default 0.5 and 0.75)"
        )
    min_block = _check_int("time_min_block", time_min_block, 1)
    n_views = _check_int("n_contexts", n_contexts, 1)
    if not isinstance(temporal, bool):
        raise ConfigError(f"spatial temporal must be true or false, found {temporal!r}")
    if len(rngs.samples) == 0:
        raise ValueError("spatial needs at least one sample generator (an empty batch?)")

    if temporal:
        return _temporal(c, n_t, rngs, float(time_keep_min), float(time_keep_max), min_block, n_views)

    known = _known(pos)  # (C,)
    if not known.any():
        raise ConfigError(
            "spatial masking needs channel positions, but every row of positions is NaN; "
            "give electrode coordinates (e.g. from an MNE montage) or use temporal=True"
        )
    blocks = _block_matrix(pos, radius)  # (C, C)
    outside = c - blocks[known].sum(axis=1)  # (C_known,) outside-block count per possible centre
    worst = int(outside.min())
    if worst == 0:
        centre = int(np.flatnonzero(known)[int(outside.argmin())])
        raise ConfigError(
            f"spatial radius={radius} is too large for this montage: the block around channel {centre} "
            f"covers all {c} channels, leaving none for the context; use a smaller radius (positions must be "
            "normalised to a unit head radius; S-JEPA used 0.4-0.8)"
        )
    k = min(n_ctx, worst)  # context channels, fixed by the montage so ctx rows stack
    ctx_rows, tgt_rows = [], []
    for rng in rngs.samples:
        for _ in range(n_views):
            _, ctx_ch, tgt_ch = sample_spatial_channels(pos, radius, k, n_tgt, rng)
            ctx_rows.append(channel_tokens(ctx_ch, n_t))  # (K * N_t,)
            tgt_rows.append(channel_tokens(tgt_ch, n_t))  # (n_tgt_i * N_t,)
    return stack_rows(ctx_rows, tgt_rows)
