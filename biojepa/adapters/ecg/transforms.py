"""ECG preprocessing as ECG-JEPA (research note ecg.md §1.2): pure, deterministic functions on ``(C, T)``.

Order per record: NaN interpolation per lead (in the readers) -> FFT resampling to 500 Hz -> 0.5 Hz
zero-phase high-pass (CODE-15% and INCART only) -> float16 cache in mV. At batch time the crop is z-scored
per lead with the dataset's training statistics and clipped to ±5 (:func:`zscore`).

The statistics are computed once from the cache over the training records (:class:`LeadStats`), stored with
the cache (``stats.json``) and in the model's signal contract.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.signal

from biojepa.data.signal import RunningStats, fill_nonfinite, fingerprint, zero_phase_sos
from biojepa.errors import CorruptRecordError

__all__ = [
    "LeadStats",
    "fingerprint",
    "highpass",
    "interpolate_nans",
    "resample_fft",
    "resampled_length",
    "zscore",
]


def interpolate_nans(x: np.ndarray, record_id: str, channels: Sequence[str] | None = None) -> tuple[np.ndarray, int]:
    """Linear interpolation of NaN/inf samples per lead (edges take the nearest finite value).

    Args:
        x: ``(C, T)`` samples.
        record_id: named in errors.
        channels: lead names, named in errors.

    Returns:
        ``(float32 (C, T) without non-finite values, number of samples replaced)``.

    Raises:
        CorruptRecordError: a lead has no finite sample at all.
    """
    out, n_bad, empty, _ = fill_nonfinite(np.asarray(x, dtype=np.float64))  # (C, T)
    if empty.size:
        c = int(empty[0])
        name = channels[c] if channels is not None else f"#{c}"
        raise CorruptRecordError(record_id, f"lead {name} has no finite sample (all NaN); the record cannot be used")
    return out.astype(np.float32), n_bad


def resampled_length(n_times: int, sfreq: float, target_sfreq: float) -> int:
    """``round(n_times * target / sfreq)``, the length after :func:`resample_fft`.

    Example:
        >>> resampled_length(1000, 100.0, 500.0), resampled_length(4096, 400.0, 500.0)
        (5000, 5120)
    """
    return round(n_times * float(target_sfreq) / float(sfreq))


def resample_fft(x: np.ndarray, sfreq: float, target_sfreq: float = 500.0) -> np.ndarray:
    """FFT resampling along time (``scipy.signal.resample``); a no-op when the rates are equal.

    Returns:
        float32 ``(C, round(T * target_sfreq / sfreq))``.
    """
    x = np.asarray(x)
    if float(sfreq) == float(target_sfreq):
        return x.astype(np.float32, copy=False)
    n = resampled_length(x.shape[-1], sfreq, target_sfreq)
    if n < 1:
        raise ValueError(f"resampling {x.shape[-1]} samples from {sfreq} Hz to {target_sfreq} Hz leaves none")
    return scipy.signal.resample(x.astype(np.float64), n, axis=-1).astype(np.float32)  # (C, n)


def highpass(x: np.ndarray, sfreq: float, cutoff_hz: float = 0.5, order: int = 4) -> np.ndarray:
    """Zero-phase (forward-backward) Butterworth high-pass along time; removes baseline wander.

    Args:
        x: ``(C, T)``.
        sfreq: sampling rate in Hz.
        cutoff_hz: -3 dB frequency of each pass (ECG-JEPA: 0.5 Hz).
        order: filter order of each pass (ECG-JEPA: 4).

    Returns:
        float32 ``(C, T)``.
    """
    sos = scipy.signal.butter(order, cutoff_hz, btype="highpass", fs=float(sfreq), output="sos")
    return zero_phase_sos(x, sfreq, sos)


def zscore(x: np.ndarray, mean: np.ndarray, std: np.ndarray, clip: float | None = 5.0) -> np.ndarray:
    """Per-lead ``(x - mean) / std``, then clipped to ``±clip``; float32 ``(C, T)``.

    Args:
        x: ``(C, T)``.
        mean: ``(C,)`` lead means.
        std: ``(C,)`` lead standard deviations (> 0).
        clip: clip bound, or None.
    """
    m = np.asarray(mean, dtype=np.float32)[:, None]  # (C, 1)
    s = np.asarray(std, dtype=np.float32)[:, None]  # (C, 1)
    out = (np.asarray(x, dtype=np.float32) - m) / s
    if clip is not None:
        np.clip(out, -clip, clip, out=out)
    return out


#: Streaming per-lead mean/std (the shared :class:`biojepa.data.signal.RunningStats`).
LeadStats = RunningStats
