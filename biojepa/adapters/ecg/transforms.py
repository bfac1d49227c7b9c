"""ECG preprocessing as ECG-JEPA (research note ecg.md §1.2): pure, deterministic functions on ``(C, T)``.

Order per record: NaN interpolation per lead (in the readers) -> FFT resampling to 500 Hz -> 0.5 Hz
zero-phase high-pass (CODE-15% and INCART only) -> float16 cache in mV. At batch time the crop is z-scored
per lead with the dataset's training statistics and clipped to ±5 (:func:`zscore`).

The statistics are computed once from the cache over the training records (:class:`LeadStats`), stored with
the cache (``stats.json``) and in the model's signal contract.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.signal

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
    x = np.array(x, dtype=np.float64, copy=True)  # (C, T)
    bad = ~np.isfinite(x)
    n_bad = int(bad.sum())
    if n_bad:
        t = np.arange(x.shape[1])
        for c in np.flatnonzero(bad.any(axis=1)):
            ok = ~bad[c]
            if not ok.any():
                name = channels[c] if channels is not None else f"#{c}"
                raise CorruptRecordError(
                    record_id, f"lead {name} has no finite sample (all NaN); the record cannot be used"
                )
            x[c, ~ok] = np.interp(t[~ok], t[ok], x[c, ok])
    return x.astype(np.float32), n_bad


def resampled_length(n_times: int, sfreq: float, target_sfreq: float) -> int:
    """``round(n_times * target / sfreq)``, the length after :func:`resample_fft`."""
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
    x = np.asarray(x, dtype=np.float64)
    # 3 s of even (mirror) padding: scipy's default 15-sample pad leaves ~2 s edge transients at 0.5 Hz
    padlen = min(x.shape[-1] - 1, int(3 * float(sfreq)))
    return scipy.signal.sosfiltfilt(sos, x, axis=-1, padtype="even", padlen=padlen).astype(np.float32)


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


@dataclass
class LeadStats:
    """Streaming per-lead mean and standard deviation over many records (Chan et al. parallel update).

    Example:
        >>> s = LeadStats(2)
        >>> s.update(np.array([[1.0, 3.0], [0.0, 0.0]]))
        >>> s.update(np.array([[5.0], [2.0]]))
        >>> s.mean.round(3).tolist(), s.n
        ([3.0, 0.667], 3)
    """

    n_channels: int
    n: int = 0
    _mean: np.ndarray | None = None
    _m2: np.ndarray | None = None

    def update(self, x: np.ndarray) -> None:
        """Add the samples of one ``(C, T)`` record."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != self.n_channels:
            raise ValueError(f"expected ({self.n_channels}, T) samples, found shape {x.shape}")
        nb = x.shape[1]
        if nb == 0:
            return
        mb = x.mean(axis=1)  # (C,)
        m2b = ((x - mb[:, None]) ** 2).sum(axis=1)  # (C,)
        if self._mean is None or self._m2 is None:
            self._mean, self._m2, self.n = mb, m2b, nb
            return
        n = self.n + nb
        delta = mb - self._mean
        self._mean = self._mean + delta * nb / n
        self._m2 = self._m2 + m2b + delta**2 * self.n * nb / n
        self.n = n

    @property
    def mean(self) -> np.ndarray:
        """``(C,)`` float64 means."""
        if self._mean is None:
            raise ValueError("no samples were added")
        return self._mean

    @property
    def std(self) -> np.ndarray:
        """``(C,)`` float64 population standard deviations (floored at 1e-6 so they can divide)."""
        if self._m2 is None:
            raise ValueError("no samples were added")
        return np.maximum(np.sqrt(self._m2 / max(self.n, 1)), 1e-6)


def fingerprint(x: np.ndarray) -> str:
    """A scale-invariant hash of a record's samples, for de-duplication across releases.

    The same ECG stored with a different gain (the CinC-2020 ``HR`` copies of PTB-XL are exactly 5× the
    PTB-XL values) gets the same fingerprint: samples are divided by the record's maximum absolute value and
    quantised on a grid of 1e-4 before hashing. The grid is offset from simple fractions so that integer ADC
    values at different gains (``c / 1000`` vs ``5 c / 1000``) never sit on a rounding tie, where one last-bit
    difference would flip the quantised value. Different sampling rates or lengths give different fingerprints.

    Args:
        x: ``(C, T)`` samples at the file's native rate.

    Returns:
        32 hex characters.
    """
    x = np.asarray(x, dtype=np.float64)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    q = np.floor(x / peak * 1e4 + 0.6234567) if peak > 0 else np.zeros_like(x)
    h = hashlib.sha256()
    h.update(str(x.shape).encode())
    h.update(q.astype("<i4").tobytes())
    return h.hexdigest()[:32]
