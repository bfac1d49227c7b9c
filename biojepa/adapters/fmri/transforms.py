"""fMRI preprocessing: pure, deterministic functions on parcellated BOLD signals ``x`` of shape ``(R, T)``.

``R`` ROIs by ``T`` frames, one frame every ``TR`` seconds (research note fmri.md §1.1 and §6). Computation is
float64 inside; signal outputs are float32 unless a docstring says otherwise.

- Temporal alignment: :func:`resample_tr` (linear interpolation onto a new TR grid; Brain-JEPA's "every 3rd
  frame of UKB at 0.735 s" is the special case ``tr_out = 3 * tr_in``).
- Per-record normalisation: :func:`demean`, :func:`zscore_rois`, :func:`zero_variance_rois`.
- Population normalisation: :func:`robust_stats` -> :class:`RobustStats` (stored in a model's signal contract)
  -> :func:`apply_robust`.
- Crops and padding: :func:`crop_starts` (evaluation), :func:`random_crop_start` (training), :func:`pad_to`,
  :func:`valid_patches`.

Errors: :class:`~biojepa.errors.ConfigError` for bad arguments, :class:`~biojepa.errors.DataError` for unusable
data, :class:`~biojepa.errors.ContractError` when a signal does not match stored statistics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.signal

from biojepa.errors import ConfigError, ContractError, DataError

__all__ = [
    "RobustStats",
    "apply_robust",
    "crop_starts",
    "demean",
    "pad_to",
    "random_crop_start",
    "resample_tr",
    "robust_stats",
    "valid_patches",
    "zero_variance_rois",
    "zscore_rois",
]

#: tolerance of the frame-count floor and of snapping source positions to whole frames
_GRID_TOL = 1e-9
#: default relative tolerance of :func:`zero_variance_rois`
_ZERO_VAR_RTOL = 1e-8


# --- validation helpers --------------------------------------------------------------------------------------


def _as_roi_time(x: np.ndarray, what: str, *, min_times: int = 1) -> np.ndarray:
    """``x`` as a finite float64 ``(R, T)`` array with ``T >= min_times``; DataError otherwise."""
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise DataError(
            f"{what}: got an array of shape {arr.shape}; expected a 2-D (R, T) ROI x time matrix; "
            "fix: pass one record at a time, transposed to ROI x time if it is time x ROI"
        )
    if not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool
    ):
        raise DataError(f"{what}: got dtype {arr.dtype}; expected a real-valued (float or integer) array")
    out = np.asarray(arr, dtype=np.float64)
    if out.shape[1] < min_times:
        raise DataError(
            f"{what}: the record has {out.shape[1]} frames; expected at least {min_times}; "
            "fix: drop the record or use a longer scan"
        )
    bad = ~np.isfinite(out)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        shown = ", ".join(str(int(r)) for r in rows[:10]) + (" ..." if rows.size > 10 else "")
        raise DataError(
            f"{what}: {int(bad.sum())} non-finite (NaN/inf) values in ROIs [{shown}]; expected finite values; "
            "fix: repair them (biojepa.data.signal.fill_nonfinite) or drop those ROIs"
        )
    return out


def _check_tr(tr: float, name: str) -> float:
    try:
        value = float(tr)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{name}={tr!r}; expected a repetition time in seconds (a positive number)"
        ) from exc
    if not (math.isfinite(value) and value > 0.0):
        raise ConfigError(
            f"{name}={tr!r}; expected a finite repetition time > 0 seconds; fix: read it from the NIfTI header "
            "(pixdim[4]) or the dataset card"
        )
    return value


def _check_int(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name}={value!r}; expected an integer >= {minimum}")
    return int(value)


def _check_nonneg(value: float, name: str, *, positive: bool = False) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0.0 or (positive and v == 0.0):
        raise ConfigError(f"{name}={value!r}; expected a finite number {'> 0' if positive else '>= 0'}")
    return v


# --- temporal alignment --------------------------------------------------------------------------------------


def resample_tr(x: np.ndarray, tr_in: float, tr_out: float, *, antialias: bool = False) -> np.ndarray:
    """Linear interpolation of every ROI onto a new TR grid.

    Output frame ``k`` sits at ``t_k = k * tr_out`` seconds (input frame ``j`` at ``j * tr_in``) for
    ``k = 0 .. floor((T - 1) * tr_in / tr_out + 1e-9)``: the first frame is kept and nothing is extrapolated
    past the last input frame. Source positions within 1e-9 frames of a whole frame are snapped to it, so an
    integer ratio is an exact subsample (``tr_out = 3 * tr_in`` reproduces Brain-JEPA's stride-3 UKB frames).

    No anti-alias filter is applied by default, like Brain-JEPA's stride-3 subsampling of UKB (0.735 s ->
    ~2.2 s). That is acceptable for BOLD: the haemodynamic response is itself a low-pass (little neural signal
    above ~0.15 Hz) and most pipelines band-pass to 0.01-0.1 Hz, below the 0.227 Hz Nyquist rate of a 2.2 s TR.
    What does alias is unfiltered physiological noise of fast multiband scans (respiration ~0.3 Hz, cardiac
    ~1 Hz); for such data pass ``antialias=True``.

    Args:
        x: ``(R, T)`` ROI x time signal.
        tr_in: repetition time of ``x`` in seconds.
        tr_out: target repetition time in seconds.
        antialias: when downsampling (``tr_out > tr_in``), first apply a zero-phase 4th-order Butterworth
            low-pass at ``0.9 * 0.5 / tr_out`` Hz (90 % of the target Nyquist rate; forward-backward with odd
            padding). Ignored when ``tr_out <= tr_in``.

    Returns:
        float32 ``(R, T')``; a float32 copy of ``x`` when the TRs are equal.

    Raises:
        ConfigError: a TR is not finite or not positive.
        DataError: ``x`` is not a finite 2-D array, or the new grid has fewer than 2 frames.
    """
    tr_in = _check_tr(tr_in, "resample_tr: tr_in")
    tr_out = _check_tr(tr_out, "resample_tr: tr_out")
    data = _as_roi_time(x, "resample_tr", min_times=1)
    n_in = data.shape[1]
    ratio = tr_out / tr_in
    n_out = math.floor((n_in - 1) / ratio + _GRID_TOL) + 1
    if n_out < 2:
        raise DataError(
            f"resample_tr: {n_in} frames at TR {tr_in:g} s give {n_out} frame at TR {tr_out:g} s; expected at "
            "least 2 output frames; fix: drop this record or use a shorter target TR"
        )
    if tr_out == tr_in:
        return data.astype(np.float32)
    if antialias and tr_out > tr_in:
        cutoff_hz = 0.9 * 0.5 / tr_out
        fs = 1.0 / tr_in
        sos = scipy.signal.butter(4, cutoff_hz, btype="lowpass", fs=fs, output="sos")
        padlen = min(n_in - 1, math.ceil(3.0 * fs / cutoff_hz))  # ~3 periods of the corner frequency
        data = scipy.signal.sosfiltfilt(sos, data, axis=-1, padtype="odd", padlen=padlen)  # (R, T)
    pos = np.arange(n_out, dtype=np.float64) * ratio  # (T',) positions in input frames
    nearest = np.round(pos)
    pos = np.where(np.abs(pos - nearest) < _GRID_TOL, nearest, pos)
    np.clip(pos, 0.0, n_in - 1, out=pos)
    left = np.minimum(np.floor(pos).astype(np.int64), n_in - 2)  # (T',); n_out >= 2 implies n_in >= 2
    w = pos - left  # (T',) in [0, 1]
    out = data[:, left] * (1.0 - w)[None, :] + data[:, left + 1] * w[None, :]  # (R, T')
    return out.astype(np.float32)


# --- per-record normalisation --------------------------------------------------------------------------------


def demean(x: np.ndarray) -> np.ndarray:
    """Remove each ROI's temporal mean.

    Args:
        x: ``(R, T)`` with ``T >= 1``.

    Returns:
        float32 ``(R, T)`` whose rows have mean ~0.
    """
    data = _as_roi_time(x, "demean")
    return (data - data.mean(axis=1, keepdims=True)).astype(np.float32)  # (R, T)


def zero_variance_rois(x: np.ndarray, rtol: float = _ZERO_VAR_RTOL) -> np.ndarray:
    """Indices of ROIs whose signal is constant in time (up to rounding).

    ROI ``r`` is flagged when ``std(x[r]) <= rtol * max(1, max|x[r]|)``: the tolerance is relative to the
    row's own magnitude, so a constant ROI at a large offset is flagged despite rounding in its mean, and a
    small but genuinely varying ROI is not flagged because another ROI is large.

    Args:
        x: ``(R, T)`` with ``T >= 1``.
        rtol: relative tolerance (>= 0).

    Returns:
        int64 ``(n_flagged,)`` sorted ROI indices.
    """
    rtol = _check_nonneg(rtol, "zero_variance_rois: rtol")
    data = _as_roi_time(x, "zero_variance_rois")
    return _zero_var_mask(data, rtol).nonzero()[0].astype(np.int64)


def _zero_var_mask(data: np.ndarray, rtol: float = _ZERO_VAR_RTOL) -> np.ndarray:
    """Boolean ``(R,)`` zero-variance mask of a validated float64 ``(R, T)`` array."""
    scale = np.maximum(1.0, np.max(np.abs(data), axis=1))  # (R,)
    return data.std(axis=1) <= rtol * scale


def zscore_rois(x: np.ndarray, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Per-ROI z-score over time; constant ROIs become zeros and are reported, never NaN/inf.

    A ROI is flagged when its standard deviation is below ``eps`` or it is constant by
    :func:`zero_variance_rois` (which catches constants at large offsets whose rounding noise exceeds ``eps``).

    Args:
        x: ``(R, T)`` with ``T >= 1``.
        eps: standard deviations below this are treated as zero (>= 0).

    Returns:
        ``(z, flagged)``: float32 ``(R, T)`` with mean 0 / std 1 per kept ROI and zeros on flagged ROIs, and
        the int64 ``(n_flagged,)`` sorted indices of the flagged ROIs.
    """
    eps = _check_nonneg(eps, "zscore_rois: eps")
    data = _as_roi_time(x, "zscore_rois")
    centred = data - data.mean(axis=1, keepdims=True)  # (R, T)
    std = centred.std(axis=1)  # (R,)
    flagged = (std < eps) | _zero_var_mask(data)  # (R,)
    safe = np.where(flagged, 1.0, std)  # (R,) no division by zero
    z = centred / safe[:, None]  # (R, T)
    z[flagged] = 0.0
    return z.astype(np.float32), np.flatnonzero(flagged).astype(np.int64)


# --- population (robust) normalisation ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RobustStats:
    """Per-ROI robust normalisation statistics of a training population (see :func:`robust_stats`).

    Attributes:
        center: float64 ``(R,)`` median per ROI of the pooled, per-record demeaned frames.
        scale: float64 ``(R,)`` inter-quartile range per ROI, floored (always finite and > 0).
        clamped: ROIs whose scale was raised to the floor (zero or near-zero variance over the population).
        n_records: number of records pooled.
        n_frames: number of frames the quantiles were computed on (after any subsampling).
    """

    center: np.ndarray
    scale: np.ndarray
    clamped: tuple[int, ...] = ()
    n_records: int = 0
    n_frames: int = 0

    def __post_init__(self) -> None:
        center = np.array(self.center, dtype=np.float64).reshape(-1)  # (R,)
        scale = np.array(self.scale, dtype=np.float64).reshape(-1)  # (R,)
        if center.shape != scale.shape or center.size == 0:
            raise ConfigError(
                f"RobustStats: center has {center.size} values and scale {scale.size}; expected two equal-length, "
                "non-empty per-ROI vectors"
            )
        if not (np.isfinite(center).all() and np.isfinite(scale).all() and (scale > 0.0).all()):
            raise ConfigError(
                "RobustStats: center must be finite and scale finite and > 0 for every ROI; fix: rebuild the "
                "statistics with robust_stats()"
            )
        clamped = tuple(int(i) for i in self.clamped)
        if any(not 0 <= i < center.size for i in clamped):
            raise ConfigError(f"RobustStats: clamped ROI indices {clamped} outside 0..{center.size - 1}")
        center.flags.writeable = False
        scale.flags.writeable = False
        object.__setattr__(self, "center", center)
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "clamped", clamped)
        object.__setattr__(self, "n_records", int(self.n_records))
        object.__setattr__(self, "n_frames", int(self.n_frames))

    @property
    def n_rois(self) -> int:
        """Number of ROIs ``R``."""
        return int(self.center.size)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (plain lists and ints) for a model's signal contract."""
        return {
            "method": "robust_population",
            "center": [float(v) for v in self.center],
            "scale": [float(v) for v in self.scale],
            "clamped": list(self.clamped),
            "n_records": self.n_records,
            "n_frames": self.n_frames,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RobustStats:
        """Inverse of :meth:`to_dict`.

        Raises:
            ConfigError: keys are missing or unknown, or the values are invalid.
        """
        required = {"center", "scale"}
        allowed = required | {"method", "clamped", "n_records", "n_frames"}
        keys = set(data)
        if not required <= keys or not keys <= allowed:
            raise ConfigError(
                f"RobustStats.from_dict: keys {sorted(keys)}; expected {sorted(required)} plus optional "
                f"{sorted(allowed - required)}; fix: store the output of RobustStats.to_dict()"
            )
        method = data.get("method", "robust_population")
        if method != "robust_population":
            raise ConfigError(f"RobustStats.from_dict: method={method!r}; expected 'robust_population'")
        try:
            return cls(
                center=np.asarray(data["center"], dtype=np.float64),
                scale=np.asarray(data["scale"], dtype=np.float64),
                clamped=tuple(int(i) for i in data.get("clamped", ())),
                n_records=int(data.get("n_records", 0)),
                n_frames=int(data.get("n_frames", 0)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"RobustStats.from_dict: invalid values ({exc})") from exc


class _FrameReservoir:
    """Deterministic uniform subsample of at most ``capacity`` frames from a stream of ``(R, T_i)`` records.

    Every frame gets a uniform random key from one seeded generator (drawn in record order); the kept frames
    are the ``capacity`` smallest keys, i.e. a uniform sample without replacement, independent of how often
    the buffer is pruned. Frames whose key exceeds the current ``capacity``-th smallest key are discarded on
    arrival, so memory stays near ``capacity`` frames however many records stream past.
    """

    def __init__(self, capacity: int, seed: int) -> None:
        self.capacity = capacity
        self.rng = np.random.default_rng(seed)
        self.slack = max(capacity // 4, 1)
        self.frames: list[np.ndarray] = []  # (R, n_j) blocks
        self.keys: list[np.ndarray] = []  # (n_j,) blocks
        self.size = 0
        self.threshold = math.inf  # keys >= threshold can never be kept
        self.seen = 0

    def add(self, block: np.ndarray) -> None:
        keys = self.rng.random(block.shape[1])  # (T_i,)
        self.seen += block.shape[1]
        keep = keys < self.threshold
        if not keep.all():
            block, keys = block[:, keep], keys[keep]  # (R, n_keep), (n_keep,)
        self.frames.append(block)
        self.keys.append(keys)
        self.size += keys.size
        if self.size > self.capacity + self.slack:
            self._prune()

    def _prune(self) -> None:
        keys = np.concatenate(self.keys)  # (n,)
        frames = np.concatenate(self.frames, axis=1)  # (R, n)
        if keys.size > self.capacity:
            idx = np.argpartition(keys, self.capacity - 1)[: self.capacity]  # (capacity,)
            keys, frames = keys[idx], frames[:, idx]
            self.threshold = float(keys.max())
        self.frames, self.keys, self.size = [frames], [keys], int(keys.size)

    def result(self) -> np.ndarray:
        self._prune()
        return self.frames[0]  # (R, min(seen, capacity))


def robust_stats(
    records: Iterable[np.ndarray],
    *,
    max_frames: int = 2_000_000,
    seed: int = 0,
    floor_rel: float = 1e-3,
    floor_abs: float = 1e-8,
) -> RobustStats:
    """Population median and inter-quartile range per ROI, for robust scaling (``robust_population``).

    Each record first has its own ROI means removed (:func:`demean`); the frames of all records are then
    pooled and, per ROI, ``center`` = median and ``scale`` = IQR (75th - 25th percentile, linear interpolation)
    over the pooled frames. The single pass over ``records`` accepts a one-shot iterator.

    Design note: Brain-JEPA takes, per ROI, the median and IQR over subjects of each subject's temporal *mean*.
    On demeaned data (ABIDE's PCP series have mean ~0) that IQR is ~0 and the scaling explodes (Brain-JEPA
    issue #14). biojepa's contract instead removes each record's ROI means and then scales by the population
    median/IQR of the pooled frames, so it works whether or not the data carry ROI offsets. Apply it to new
    records as ``apply_robust(demean(x), stats)``.

    Scale floor: ``floor = max(floor_abs, floor_rel * median of the positive scales)``; scales below it (e.g. a
    ROI with zero variance over the whole population) are set to the floor and listed in ``clamped``, so
    :func:`apply_robust` never produces inf/NaN.

    Args:
        records: iterable of ``(R, T_i)`` finite records sharing ``R`` (``T_i >= 1``).
        max_frames: above this many pooled frames, use a deterministic uniform subsample of exactly
            ``max_frames`` frames (the same frames for every ROI), chosen by ``seed`` and the record order.
        seed: seed of the subsample.
        floor_rel: floor relative to the median positive scale (>= 0).
        floor_abs: absolute floor (> 0).

    Returns:
        The :class:`RobustStats`.

    Raises:
        ConfigError: invalid ``max_frames``, ``seed`` or floors.
        DataError: no records, records with different ``R`` (the message names the record index), a record
            that is not a finite 2-D array or has no frames.
    """
    max_frames = _check_int(max_frames, "robust_stats: max_frames", 1)
    seed = _check_int(seed, "robust_stats: seed", 0)
    floor_rel = _check_nonneg(floor_rel, "robust_stats: floor_rel")
    floor_abs = _check_nonneg(floor_abs, "robust_stats: floor_abs", positive=True)

    reservoir = _FrameReservoir(max_frames, seed)
    n_rois: int | None = None
    n_records = 0
    for i, rec in enumerate(records):
        data = _as_roi_time(rec, f"robust_stats: record {i}")
        if n_rois is None:
            n_rois = data.shape[0]
        elif data.shape[0] != n_rois:
            raise DataError(
                f"robust_stats: record {i} has {data.shape[0]} ROIs but record 0 has {n_rois}; expected every "
                "record on the same atlas; fix: parcellate all records with one atlas or split the population"
            )
        reservoir.add(data - data.mean(axis=1, keepdims=True))  # (R, T_i) demeaned per record
        n_records += 1
    if n_rois is None or n_rois == 0:
        raise DataError(
            "robust_stats: no records (or records with 0 ROIs); expected at least one (R, T) record; "
            "fix: check the dataset path and split"
        )

    pooled = reservoir.result()  # (R, N)
    q25, center, q75 = np.percentile(pooled, [25.0, 50.0, 75.0], axis=1)  # 3 x (R,)
    scale = q75 - q25  # (R,)
    positive = scale[scale > 0.0]
    floor = max(floor_abs, floor_rel * float(np.median(positive))) if positive.size else floor_abs
    clamped_mask = scale < floor
    scale = np.where(clamped_mask, floor, scale)
    return RobustStats(
        center=center,
        scale=scale,
        clamped=tuple(int(i) for i in np.flatnonzero(clamped_mask)),
        n_records=n_records,
        n_frames=int(pooled.shape[1]),
    )


def apply_robust(x: np.ndarray, stats: RobustStats) -> np.ndarray:
    """Robust scaling ``(x - center) / scale`` per ROI.

    ``x`` should already have its ROI means removed (``apply_robust(demean(x), stats)``), as in
    :func:`robust_stats`.

    Args:
        x: ``(R, T)`` with ``R == stats.n_rois``.
        stats: statistics from :func:`robust_stats` or :meth:`RobustStats.from_dict`.

    Returns:
        float32 ``(R, T)``.

    Raises:
        ContractError: ``x`` is not a finite 2-D array with ``stats.n_rois`` rows.
    """
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape[0] != stats.n_rois:
        raise ContractError(
            f"apply_robust: input of shape {arr.shape}; expected ({stats.n_rois}, T) to match the stored "
            "robust statistics; fix: use the model's atlas and ROI order, as ROI x time"
        )
    try:
        data = _as_roi_time(arr, "apply_robust")
    except DataError as exc:
        raise ContractError(str(exc)) from exc
    return ((data - stats.center[:, None]) / stats.scale[:, None]).astype(np.float32)  # (R, T)


# --- crops and padding ----------------------------------------------------------------------------------------


def crop_starts(
    n_times: int,
    window: int,
    mode: Literal["center", "start", "multi"] = "center",
    stride: int | None = None,
) -> list[int]:
    """Deterministic crop starts for evaluation.

    Args:
        n_times: frames in the record (>= 1).
        window: frames per crop (>= 1).
        mode: ``"center"`` (one centred crop, ``(n_times - window) // 2``), ``"start"`` (``[0]``) or
            ``"multi"`` (``0, stride, 2 * stride, ...`` plus a last crop ending at the record end, no
            duplicates; every frame is covered when ``stride <= window``).
        stride: step of ``"multi"`` (>= 1; defaults to ``window``); ignored by the other modes.

    Returns:
        Sorted list of start frames; ``[0]`` when ``n_times <= window`` (pad with :func:`pad_to`).

    Raises:
        ConfigError: invalid ``n_times``, ``window``, ``mode`` or ``stride``.
    """
    n_times = _check_int(n_times, "crop_starts: n_times", 1)
    window = _check_int(window, "crop_starts: window", 1)
    if mode not in ("center", "start", "multi"):
        raise ConfigError(f"crop_starts: mode={mode!r}; expected 'center', 'start' or 'multi'")
    step = window if stride is None else _check_int(stride, "crop_starts: stride", 1)
    last = n_times - window
    if last <= 0:
        return [0]
    if mode == "center":
        return [last // 2]
    if mode == "start":
        return [0]
    starts = list(range(0, last + 1, step))
    if starts[-1] != last:
        starts.append(last)
    return starts


def random_crop_start(n_times: int, window: int, rng: np.random.Generator) -> int:
    """Uniform random crop start in ``[0, n_times - window]`` for training (0 when the record is shorter).

    Exactly one value is drawn from ``rng`` on every call, so the generator's state afterwards does not depend
    on the record length.

    Raises:
        ConfigError: invalid ``n_times`` or ``window``.
    """
    n_times = _check_int(n_times, "random_crop_start: n_times", 1)
    window = _check_int(window, "random_crop_start: window", 1)
    n_choices = max(n_times - window, 0) + 1
    return min(int(rng.random() * n_choices), n_choices - 1)  # one double per call, even when n_choices == 1


def pad_to(x: np.ndarray, window: int) -> tuple[np.ndarray, int]:
    """Zero-pad a record at the end to ``window`` frames (crop longer records first, e.g. with :func:`crop_starts`).

    Args:
        x: ``(R, T)`` with ``T <= window``.
        window: target number of frames (>= 1).

    Returns:
        ``(padded, n_valid)``: float32 ``(R, window)`` and ``n_valid = T``, the number of real frames.

    Raises:
        ConfigError: ``T > window`` or an invalid ``window``.
        DataError: ``x`` is not a finite 2-D array.
    """
    window = _check_int(window, "pad_to: window", 1)
    data = _as_roi_time(x, "pad_to", min_times=0)
    n_valid = data.shape[1]
    if n_valid > window:
        raise ConfigError(
            f"pad_to: the record has {n_valid} frames, more than window={window}; expected at most {window}; "
            "fix: crop first (crop_starts / random_crop_start) or raise the window"
        )
    out = np.zeros((data.shape[0], window), dtype=np.float32)  # (R, window)
    out[:, :n_valid] = data
    return out, n_valid


def valid_patches(n_valid: int, patch_len: int) -> int:
    """Number of time patches of ``patch_len`` frames lying fully inside the first ``n_valid`` frames.

    Returns:
        ``n_valid // patch_len`` (0 when ``n_valid < patch_len``).

    Raises:
        ConfigError: ``n_valid < 0`` or ``patch_len < 1``.
    """
    n_valid = _check_int(n_valid, "valid_patches: n_valid", 0)
    patch_len = _check_int(patch_len, "valid_patches: patch_len", 1)
    return n_valid // patch_len
