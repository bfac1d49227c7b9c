"""Tests of biojepa.adapters.ecg.transforms: NaN interpolation, FFT resampling, high-pass, z-score, LeadStats,
fingerprint."""

from __future__ import annotations

import doctest
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import biojepa.adapters.ecg.transforms as transforms_mod
from biojepa.adapters.ecg.transforms import (
    LeadStats,
    fingerprint,
    highpass,
    interpolate_nans,
    resample_fft,
    resampled_length,
    zscore,
)
from biojepa.errors import CorruptRecordError

NAN = float("nan")

# --- interpolate_nans ------------------------------------------------------------------------------------


def test_interpolate_interior_nan_linearly() -> None:
    x = np.array([[0.0, 1.0, NAN, NAN, 4.0], [1.0, 1.0, 1.0, 1.0, 1.0]])
    original = x.copy()
    out, n_bad = interpolate_nans(x, "r1")
    assert out.dtype == np.float32 and out.shape == (2, 5)
    np.testing.assert_allclose(out[0], [0.0, 1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(out[1], x[1])
    assert n_bad == 2
    np.testing.assert_array_equal(x, original)  # the input is not modified


def test_interpolate_edge_nans_take_nearest_finite_value() -> None:
    x = np.array([[NAN, NAN, 2.0, 3.0, NAN], [NAN, 5.0, 6.0, 7.0, 8.0]])
    out, n_bad = interpolate_nans(x, "r1")
    np.testing.assert_allclose(out, [[2.0, 2.0, 2.0, 3.0, 3.0], [5.0, 5.0, 6.0, 7.0, 8.0]])
    assert n_bad == 4


def test_interpolate_counts_infinities_and_clean_records() -> None:
    x = np.array([[0.0, np.inf, 2.0, -np.inf, 4.0]])
    out, n_bad = interpolate_nans(x, "r1")
    np.testing.assert_allclose(out, [[0.0, 1.0, 2.0, 3.0, 4.0]])
    assert n_bad == 2
    clean = np.arange(6, dtype=np.float64).reshape(2, 3)
    out, n_bad = interpolate_nans(clean, "r1")
    assert n_bad == 0 and out.dtype == np.float32
    np.testing.assert_array_equal(out, clean)


def test_all_nan_lead_raises_naming_record_and_lead() -> None:
    x = np.zeros((3, 4))
    x[2] = NAN
    with pytest.raises(CorruptRecordError, match=r"lead V1 has no finite sample") as info:
        interpolate_nans(x, "ptbxl/00001_hr", channels=["I", "II", "V1"])
    assert info.value.record_id == "ptbxl/00001_hr"
    with pytest.raises(CorruptRecordError, match="lead #2"):
        interpolate_nans(x, "r1")


# --- resample_fft ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sfreq", "n_times"), [(100.0, 1000), (250.0, 2501), (257.0, 514), (400.0, 4096), (1000.0, 999)]
)
def test_resample_length_and_dtype(sfreq: float, n_times: int) -> None:
    x = np.random.default_rng(0).standard_normal((2, n_times))
    out = resample_fft(x, sfreq)
    expected = round(n_times * 500.0 / sfreq)
    assert out.shape == (2, expected) and out.dtype == np.float32
    assert resampled_length(n_times, sfreq, 500.0) == expected


@pytest.mark.parametrize(("sfreq", "freq_hz"), [(100.0, 7.3), (100.0, 45.0), (1000.0, 20.0), (400.0, 120.0)])
def test_resample_preserves_a_sinusoid_below_nyquist(sfreq: float, freq_hz: float) -> None:
    duration = 10.0  # whole cycles: FFT resampling treats the record as periodic
    t_in = np.arange(round(duration * sfreq)) / sfreq
    x = np.stack([np.sin(2 * np.pi * freq_hz * t_in), 0.3 * np.cos(2 * np.pi * freq_hz * t_in)])  # (2, T)
    out = resample_fft(x, sfreq, 500.0)
    t_out = np.arange(out.shape[1]) / 500.0
    ref = np.stack([np.sin(2 * np.pi * freq_hz * t_out), 0.3 * np.cos(2 * np.pi * freq_hz * t_out)])
    np.testing.assert_allclose(out, ref, atol=1e-4)


def test_resample_is_a_no_op_at_equal_rates() -> None:
    x = np.random.default_rng(1).standard_normal((3, 100))
    out = resample_fft(x, 500.0, 500.0)
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_array_equal(out, x.astype(np.float32))


def test_resample_to_nothing_raises() -> None:
    with pytest.raises(ValueError, match="leaves none"):
        resample_fft(np.zeros((1, 2)), 5000.0, 500.0)


# --- highpass --------------------------------------------------------------------------------------------

FS = 500.0
T30 = np.arange(15000) / FS  # 30 s
# The middle 10 s: the 0.5 Hz filter's edge transients (its slow pole decays with a ~0.8 s time constant)
# have died out there; near the edges they are large (see the lead's report), so they are excluded.
INNER = slice(5000, 10000)


@pytest.mark.parametrize("phase", [0.0, 0.7])
def test_highpass_removes_slow_drift_and_keeps_10hz(phase: float) -> None:
    drift = 1.0 * np.sin(2 * np.pi * 0.1 * T30 + 0.3) + 0.5  # 0.1 Hz wander plus an offset
    sine = 0.5 * np.sin(2 * np.pi * 10.0 * T30 + phase)
    out = highpass(np.stack([drift + sine, drift, sine]), FS)  # (3, T)
    assert out.dtype == np.float32 and out.shape == (3, 15000)
    assert np.abs(out[1, INNER]).max() < 1e-3  # drift of amplitude 1 mV attenuated > 1000x
    np.testing.assert_allclose(out[0, INNER], sine[INNER], atol=1e-3)
    # amplitude of the 10 Hz component (least-squares fit on whole cycles) within 1 %
    s, c = np.sin(2 * np.pi * 10.0 * T30[INNER]), np.cos(2 * np.pi * 10.0 * T30[INNER])
    amp = np.hypot(2 * np.mean(out[2, INNER] * s), 2 * np.mean(out[2, INNER] * c))
    assert abs(amp / 0.5 - 1.0) < 0.01


def test_highpass_is_zero_phase() -> None:
    n = 10001  # 20 s, the pulse in the middle
    t = np.arange(n)
    pulse = np.exp(-0.5 * ((t - 5000) / 10.0) ** 2)  # symmetric about sample 5000
    sine = np.sin(2 * np.pi * 10.0 * t / FS + 0.4)
    out = highpass(np.stack([pulse, sine]), FS)
    assert int(np.argmax(out[0])) == 5000  # no shift of the peak
    np.testing.assert_allclose(out[0], out[0, ::-1], atol=1e-4 * out[0].max())  # stays symmetric
    inner = slice(4500, 5500)
    lags = np.arange(-10, 11)
    xcorr = [np.dot(out[1, inner], sine[inner.start + k : inner.stop + k]) for k in lags]
    assert lags[int(np.argmax(xcorr))] == 0  # a 10 Hz sinusoid keeps its phase


def test_highpass_handles_very_short_records() -> None:
    out = highpass(np.ones((2, 5)), FS)
    assert out.shape == (2, 5) and np.isfinite(out).all()
    np.testing.assert_allclose(out, 0.0, atol=1e-6)  # a constant is removed


# --- zscore ----------------------------------------------------------------------------------------------


def test_zscore_per_lead_and_clip() -> None:
    x = np.array([[0.0, 1.0, 2.0, 30.0], [10.0, 12.0, 14.0, -100.0]])
    mean, std = np.array([1.0, 12.0]), np.array([1.0, 2.0])
    out = zscore(x, mean, std)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[-1.0, 0.0, 1.0, 5.0], [-1.0, 0.0, 1.0, -5.0]])
    np.testing.assert_allclose(
        zscore(x, mean, std, clip=None), [[-1.0, 0.0, 1.0, 29.0], [-1.0, 0.0, 1.0, -56.0]]
    )
    np.testing.assert_allclose(
        zscore(x, mean, std, clip=0.5), [[-0.5, 0.0, 0.5, 0.5], [-0.5, 0.0, 0.5, -0.5]]
    )


# --- LeadStats -------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    data=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(1, 60)),
        elements=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
    ),
    cuts=st.lists(st.integers(0, 60), max_size=6),
)
def test_leadstats_matches_numpy_for_any_split(data: np.ndarray, cuts: list[int]) -> None:
    n_t = data.shape[1]
    edges = sorted({0, n_t, *(min(c, n_t) for c in cuts)})
    stats = LeadStats(data.shape[0])
    stats.update(data[:, :0])  # an empty record is ignored
    for lo, hi in itertools.pairwise(edges):
        stats.update(data[:, lo:hi])
    scale = max(1.0, float(np.abs(data).max()))
    assert stats.n == n_t
    np.testing.assert_allclose(stats.mean, data.mean(axis=1), rtol=1e-9, atol=1e-12 * scale)
    np.testing.assert_allclose(stats.std, np.maximum(data.std(axis=1), 1e-6), rtol=1e-7, atol=1e-9 * scale)


def test_leadstats_floor_and_errors() -> None:
    stats = LeadStats(2)
    with pytest.raises(ValueError, match="no samples"):
        _ = stats.mean
    with pytest.raises(ValueError, match="no samples"):
        _ = stats.std
    with pytest.raises(ValueError, match=r"expected \(2, T\)"):
        stats.update(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"expected \(2, T\)"):
        stats.update(np.zeros(4))
    stats.update(np.full((2, 10), 7.0))
    np.testing.assert_allclose(stats.mean, [7.0, 7.0])
    np.testing.assert_allclose(stats.std, [1e-6, 1e-6])  # a constant lead can still divide


# --- fingerprint -----------------------------------------------------------------------------------------


def _record(seed: int = 0, shape: tuple[int, int] = (12, 500)) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def test_fingerprint_format_and_determinism() -> None:
    x = _record()
    fp = fingerprint(x)
    assert len(fp) == 32 and all(ch in "0123456789abcdef" for ch in fp)
    assert fingerprint(x.copy()) == fp
    assert fingerprint(x.astype(np.float32)) == fingerprint(x.astype(np.float32).astype(np.float64))


@pytest.mark.parametrize("gain", [5.0, 0.2, 1000.0, 1e-3, 2.0**-7])
def test_fingerprint_is_scale_invariant(gain: float) -> None:
    x = _record(1)
    assert fingerprint(x * gain) == fingerprint(x)


def test_fingerprint_matches_5x_gain_copies_of_integer_recordings() -> None:
    """PTB-XL stores int16 counts at 1000 counts/mV; the CinC-2020 ``HR`` copies store 5x the counts.

    Readers produce ``counts / gain``; both must fingerprint alike. With a peak of 4000 counts every ratio
    ``counts / peak`` that is an odd multiple of 1/32 lies exactly on a 4-decimal rounding tie, and the two
    copies can land on different sides of it by one unit in the last place (peaks that are multiples of 32
    counts, about 3 % of records, are affected).
    """
    counts = np.random.default_rng(2).integers(-4000, 4001, size=(12, 500))
    counts[0, 0] = 4000  # the record's peak: 4 mV
    ptbxl = counts / 1000.0
    cinc_hr = (counts * 5) / 1000.0
    assert fingerprint(cinc_hr) == fingerprint(ptbxl)


def test_fingerprint_detects_one_changed_sample() -> None:
    x = _record(3)
    y = x.copy()
    y[5, 123] += 0.01 * np.abs(x).max()
    assert fingerprint(y) != fingerprint(x)


def test_fingerprint_depends_on_length_and_shape() -> None:
    x = _record(4, (12, 1000))
    assert fingerprint(x[:, :999]) != fingerprint(x)
    assert fingerprint(np.concatenate([x, np.zeros((12, 1))], axis=1)) != fingerprint(x)  # zero-padded copy
    assert fingerprint(x.reshape(6, 2000)) != fingerprint(x)


def test_fingerprint_ignores_the_sign_of_zero() -> None:
    x = _record(5)
    x[:, :10] = 0.0
    y = x.copy()
    y[:, :10] = -0.0
    assert fingerprint(y) == fingerprint(x)
    tiny = x.copy()
    tiny[0, :10] = -1e-9  # rounds to -0.0 after scaling
    assert fingerprint(tiny) == fingerprint(x)
    assert fingerprint(np.full((2, 5), -0.0)) == fingerprint(np.zeros((2, 5)))


def test_docstring_examples() -> None:
    result = doctest.testmod(transforms_mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
