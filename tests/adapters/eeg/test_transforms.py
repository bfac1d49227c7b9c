"""S-JEPA EEG preprocessing: band-pass, resampling, the combined pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from biojepa.adapters.eeg.transforms import SJEPA_SFREQ, bandpass, preprocess_sjepa, resample_poly
from biojepa.errors import ConfigError


def _sine(freq: float, sfreq: float, seconds: float, amp: float = 10.0) -> np.ndarray:
    t = np.arange(int(seconds * sfreq)) / sfreq
    return (amp * np.sin(2 * np.pi * freq * t))[None]  # (1, T)


def _amp(x: np.ndarray, sfreq: float) -> float:
    mid = x[:, int(3 * sfreq) : -int(3 * sfreq)]  # away from the edges
    return float(np.sqrt(2) * mid.std())


@pytest.mark.parametrize(("freq", "kept"), [(0.1, False), (10.0, True), (20.0, True), (60.0, False)])
def test_bandpass_keeps_the_band_and_removes_the_rest(freq: float, kept: bool) -> None:
    sfreq = 160.0
    y = bandpass(_sine(freq, sfreq, 20.0), sfreq)
    assert y.dtype == np.float32 and y.shape == (1, 3200)
    ratio = _amp(y, sfreq) / 10.0
    assert (0.95 < ratio < 1.05) if kept else ratio < 0.05


def test_bandpass_is_zero_phase_and_validates_edges() -> None:
    sfreq = 128.0
    x = np.zeros((1, 1024))
    x[0, 512] = 1.0
    y = bandpass(x, sfreq)[0]
    np.testing.assert_allclose(y[512 - 50 : 512], y[513 : 512 + 51][::-1], atol=1e-6)  # symmetric impulse response
    with pytest.raises(ConfigError, match="Nyquist"):
        bandpass(x, 64.0, 0.5, 40.0)
    with pytest.raises(ConfigError, match="0 < low < high"):
        bandpass(x, sfreq, 5.0, 1.0)


@pytest.mark.parametrize("sfreq", [128.0, 160.0, 250.0, 256.0, 1000.0])
def test_resampling_to_128_hz_preserves_a_10_hz_rhythm(sfreq: float) -> None:
    y = resample_poly(_sine(10.0, sfreq, 10.0), sfreq)
    assert y.shape == (1, 1280) and y.dtype == np.float32
    ref = _sine(10.0, SJEPA_SFREQ, 10.0)
    np.testing.assert_allclose(y[:, 200:-200], ref[:, 200:-200], atol=0.2)  # 10 µV sine, edges excluded
    with pytest.raises(ConfigError, match="> 0"):
        resample_poly(y, 0.0)


def test_preprocess_sjepa_pipeline() -> None:
    sfreq = 160.0
    x = _sine(10.0, sfreq, 20.0) + _sine(0.05, sfreq, 20.0, amp=200.0) + _sine(70.0, sfreq, 20.0, amp=20.0)
    y, out_sfreq = preprocess_sjepa(x, sfreq)
    assert out_sfreq == 128.0 and y.shape == (1, 2560)
    assert abs(_amp(y, 128.0) - 10.0) < 0.6  # only the 10 Hz rhythm survives
