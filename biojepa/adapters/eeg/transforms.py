"""EEG preprocessing as S-JEPA (research note eeg.md §1.3): pure, deterministic functions on ``(C, T)`` µV.

Order per record: band-pass 0.5–40 Hz (zero-phase Butterworth) -> polyphase resampling to 128 Hz -> float32
µV. No artefact rejection, no re-referencing (the paper uses neither).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import scipy.signal

from biojepa.data.signal import zero_phase_sos
from biojepa.errors import ConfigError

__all__ = ["SJEPA_BAND_HZ", "SJEPA_SFREQ", "bandpass", "preprocess_sjepa", "resample_poly"]

#: S-JEPA's pass band and target rate
SJEPA_BAND_HZ = (0.5, 40.0)
SJEPA_SFREQ = 128.0


def bandpass(x: np.ndarray, sfreq: float, low_hz: float = 0.5, high_hz: float = 40.0, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth band-pass along time (forward-backward, even padding of up to 3 s).

    Args:
        x: ``(C, T)``.
        sfreq: sampling rate in Hz.
        low_hz: lower -3 dB edge of each pass.
        high_hz: upper edge; must be below Nyquist.
        order: filter order of each pass.

    Returns:
        float32 ``(C, T)``.

    Raises:
        ConfigError: edges outside ``0 < low < high < sfreq / 2``.
    """
    if not 0 < low_hz < high_hz < sfreq / 2:
        raise ConfigError(
            f"band-pass edges must satisfy 0 < low < high < Nyquist ({sfreq / 2:g} Hz), got {low_hz}-{high_hz} Hz; "
            "lower the upper edge or use data sampled faster"
        )
    sos = scipy.signal.butter(order, [low_hz, high_hz], btype="bandpass", fs=float(sfreq), output="sos")
    return zero_phase_sos(x, sfreq, sos)


def resample_poly(x: np.ndarray, sfreq: float, target_sfreq: float = SJEPA_SFREQ) -> np.ndarray:
    """Polyphase resampling along time to ``target_sfreq`` (a no-op at equal rates).

    The ratio is approximated by a fraction with denominator <= 1000 (160 -> 128 Hz is exactly 4/5).

    Returns:
        float32 ``(C, T')``.
    """
    x = np.asarray(x)
    if float(sfreq) == float(target_sfreq):
        return x.astype(np.float32)
    if sfreq <= 0 or target_sfreq <= 0:
        raise ConfigError(f"sampling rates must be > 0, got {sfreq} -> {target_sfreq}")
    frac = Fraction(float(target_sfreq) / float(sfreq)).limit_denominator(1000)
    return scipy.signal.resample_poly(x.astype(np.float64), frac.numerator, frac.denominator, axis=-1).astype(
        np.float32
    )  # (C, T * up / down)


def preprocess_sjepa(x_uv: np.ndarray, sfreq: float) -> tuple[np.ndarray, float]:
    """S-JEPA preprocessing of one record already in µV: band-pass 0.5–40 Hz, then resample to 128 Hz.

    Returns:
        ``(float32 (C, T') in µV, 128.0)``.
    """
    filtered = bandpass(x_uv, sfreq, *SJEPA_BAND_HZ)  # (C, T)
    return resample_poly(filtered, sfreq, SJEPA_SFREQ), SJEPA_SFREQ
