"""Small signal operations shared by every modality: NaN filling, zero-phase filtering, running statistics.

Pure numpy/scipy on ``(C, T)`` arrays. Callers (the adapters' readers and transforms, ``biojepa.encode()``)
decide which typed error to raise; these helpers only report what they found.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.signal

__all__ = ["F32_MAX", "RunningStats", "fill_nonfinite", "fingerprint", "float32_overflow", "zero_phase_sos"]

#: Largest finite float32 magnitude; physical values beyond it cannot be stored in a Record.
F32_MAX = float(np.finfo(np.float32).max)


def float32_overflow(x: np.ndarray) -> float | None:
    """The largest finite ``|x|`` when it exceeds the float32 range (casting would give ``inf``), else None.

    Readers call it before their float32 cast: a damaged gain or physical range then becomes a typed error
    naming the magnitude instead of a numpy ``RuntimeWarning`` and an ``inf``.

    Example:
        >>> float32_overflow(np.array([1.0, np.nan])) is None, float32_overflow(np.array([-1e300, 2.0]))
        (True, 1e+300)
    """
    a = np.abs(np.asarray(x, dtype=np.float64))
    top = float(np.max(a, where=np.isfinite(a), initial=0.0))
    return top if top > F32_MAX else None


def fill_nonfinite(
    x: np.ndarray, rows: Sequence[int] | np.ndarray | None = None
) -> tuple[np.ndarray, int, np.ndarray, int]:
    """Linear interpolation of NaN/inf samples per row (edges take the nearest finite value), on a copy.

    Args:
        x: ``(C, T)`` samples (integers are converted to float64; float dtypes are kept).
        rows: the rows to look at (default: all).

    Returns:
        ``(filled copy, samples replaced, rows without any finite sample (left as they were), rows touched)``.
        Callers raise their own error when the third item is not empty.
    """
    arr = np.asarray(x)
    out = np.array(arr, dtype=arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64, copy=True)
    idx = np.arange(out.shape[0]) if rows is None else np.asarray(rows, dtype=np.int64)
    bad = ~np.isfinite(out[idx])  # (R, T)
    n_bad = int(bad.sum())
    touched = np.flatnonzero(bad.any(axis=1))
    empty = idx[touched[~(~bad[touched]).any(axis=1)]] if touched.size else np.zeros(0, dtype=np.int64)
    if n_bad:
        t = np.arange(out.shape[1])
        for r in touched:
            ok = ~bad[r]
            if ok.any():
                c = idx[r]
                out[c, ~ok] = np.interp(t[~ok], t[ok], out[c, ok])
    return out, n_bad, empty, int(touched.size)


def zero_phase_sos(x: np.ndarray, sfreq: float, sos: np.ndarray, pad_s: float = 3.0) -> np.ndarray:
    """Forward-backward filtering along time with ``pad_s`` seconds of even (mirror) padding; float32 out.

    scipy's default 15-sample padding leaves ~2 s edge transients at a 0.5 Hz corner; 3 s of mirror padding
    (shortened for short records) keeps the edges clean.
    """
    x = np.asarray(x, dtype=np.float64)
    padlen = min(x.shape[-1] - 1, int(pad_s * float(sfreq)))
    return scipy.signal.sosfiltfilt(sos, x, axis=-1, padtype="even", padlen=padlen).astype(np.float32)


@dataclass
class RunningStats:
    """Streaming per-channel mean and standard deviation over many records (Chan et al. parallel update).

    Example:
        >>> s = RunningStats(2)
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

    The same recording stored with a different gain (the CinC-2020 ``HR`` ECGs are PTB-XL's values times
    exactly 5) gets the same fingerprint: samples are divided by the record's maximum absolute value and
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
