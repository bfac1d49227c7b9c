"""Handcrafted ECG baseline features (biojepa.adapters.ecg.features)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biojepa.adapters.ecg.features import BANDS_HZ, feature_names, handcrafted_features
from biojepa.adapters.ecg.leads import STANDARD_LEADS, canonical_lead
from biojepa.errors import ConfigError, DataError


def synthetic_ecg(
    hr_bpm: float, sfreq: float, seconds: float = 10.0, n_leads: int = 12, seed: int = 0
) -> np.ndarray:
    """A sine-built ECG-like (C, T) record in mV: narrow QRS pulses, a T wave, baseline wander, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sfreq)) / sfreq
    f = hr_bpm / 60.0
    phase = 2 * np.pi * f * t + 0.3
    qrs = (0.5 + 0.5 * np.cos(phase)) ** 200  # narrow positive pulse once per beat
    s_wave = -0.25 * (0.5 + 0.5 * np.cos(phase - 0.25)) ** 300
    t_wave = 0.25 * (0.5 + 0.5 * np.cos(phase - 2 * np.pi * f * 0.28)) ** 12
    beat = qrs + s_wave + t_wave  # (T,)
    gains = np.linspace(0.4, 1.6, n_leads)[:, None]  # (C, 1)
    wander = 0.1 * np.sin(2 * np.pi * 0.25 * t)  # (T,)
    return gains * beat[None] + wander[None] + 0.01 * rng.standard_normal((n_leads, t.size))  # (C, T)


def _col(name: str, sfreq: float = 100.0) -> int:
    return feature_names(sfreq).index(name)


def test_shape_dtype_and_names_agree() -> None:
    x = np.stack([synthetic_ecg(70, 100.0, seed=s) for s in range(3)])  # (3, 12, 1000)
    feats = handcrafted_features(x, 100.0)
    names = feature_names(100.0)
    assert feats.shape == (3, len(names)) and feats.dtype == np.float32
    assert len(set(names)) == len(names)
    assert np.isfinite(feats).all()
    single = handcrafted_features(x[1], 100.0)
    assert single.shape == (len(names),)
    np.testing.assert_array_equal(single, feats[1])  # a record's features do not depend on its batch


def test_deterministic() -> None:
    x = np.stack([synthetic_ecg(80, 100.0, seed=1), synthetic_ecg(55, 100.0, seed=2)])
    np.testing.assert_array_equal(handcrafted_features(x, 100.0), handcrafted_features(x.copy(), 100.0))


def test_bands_are_clipped_at_nyquist() -> None:
    assert "I_logpow_20_45hz" in feature_names(100.0)
    low = feature_names(30.0)  # Nyquist 15 Hz: 10-20 -> 10-15, 20-45 gone
    assert "I_logpow_10_15hz" in low and not any("logpow_20" in n for n in low)
    assert len(feature_names(500.0)) == len(feature_names(100.0))
    x = synthetic_ecg(70, 30.0)
    assert handcrafted_features(x, 30.0).shape == (len(low),)


@pytest.mark.parametrize("sfreq", [100.0, 500.0])
@pytest.mark.parametrize("hr", [48.0, 72.0, 110.0, 150.0])
def test_heart_rate_recovered_within_5_percent(hr: float, sfreq: float) -> None:
    feats = handcrafted_features(synthetic_ecg(hr, sfreq), sfreq)
    names = feature_names(sfreq)
    got = feats[names.index("global_hr_bpm")]
    auto = feats[names.index("global_hr_autocorr_bpm")]
    assert feats[names.index("global_rpeaks_ok")] == 1.0
    assert abs(got - hr) / hr < 0.05, got
    assert abs(auto - hr) / hr < 0.05, auto
    assert feats[names.index("global_rr_std_s")] < 0.02  # a regular rhythm
    assert 0.0 < feats[names.index("global_qrs_width_s")] < 0.2


def test_amplitude_features_scale_with_gain() -> None:
    x = synthetic_ecg(70, 100.0)
    f1, f2 = handcrafted_features(x, 100.0), handcrafted_features(2.0 * x, 100.0)
    for lead in ("I", "II", "V6"):
        for name in ("std", "ptp", "p99_minus_median", "median_minus_p1", "iqr", "mean_abs_slope"):
            j = _col(f"{lead}_{name}")
            np.testing.assert_allclose(f2[j], 2.0 * f1[j], rtol=1e-5)
        for name in ("skew", "kurtosis"):  # scale-free
            j = _col(f"{lead}_{name}")
            np.testing.assert_allclose(f2[j], f1[j], rtol=1e-4, atol=1e-5)
        j = _col(f"{lead}_logpow_1_5hz")
        np.testing.assert_allclose(f2[j] - f1[j], np.log10(4.0), atol=1e-4)  # power ~ gain^2
    j = _col("global_hr_bpm")
    np.testing.assert_allclose(f2[j], f1[j], rtol=1e-5)


@pytest.mark.parametrize(("freq", "band"), [(0.75, 0), (3.0, 1), (7.0, 2), (15.0, 3), (30.0, 4)])
def test_band_power_follows_a_sinusoid(freq: float, band: int) -> None:
    sfreq = 100.0
    t = np.arange(1000) / sfreq
    x = np.tile(np.sin(2 * np.pi * freq * t), (12, 1))  # (12, 1000)
    feats = handcrafted_features(x, sfreq)
    lo_hi = [f"logpow_{lo:g}_{hi:g}hz" for lo, hi in BANDS_HZ]
    powers = np.array([feats[_col(f"V2_{b}")] for b in lo_hi])
    assert int(np.argmax(powers)) == band
    assert powers[band] > powers[np.arange(5) != band].max() + 0.5  # > 3x every other band
    if band > 0:  # (the 0.5 Hz-wide lowest band loses some of the window's leakage to its neighbour)
        np.testing.assert_allclose(10 ** powers[band], 0.5, rtol=0.1)  # a unit sine has power 1/2


@pytest.mark.parametrize("n_times", [1, 2, 5, 40, 1000])
def test_flat_short_and_nan_records_give_finite_values(n_times: int) -> None:
    n_feat = len(feature_names(100.0))
    flat = np.full((12, n_times), 0.2)
    out = handcrafted_features(flat, 100.0)
    assert out.shape == (n_feat,) and np.isfinite(out).all()
    assert abs(out[_col("I_std")]) < 1e-9 and out[_col("I_skew")] == 0.0 and out[_col("I_kurtosis")] == 0.0
    assert out[_col("global_hr_bpm")] == 0.0  # no heart beat in a flat line
    holes = synthetic_ecg(70, 100.0)[:, :n_times].copy()
    holes[0, ::2] = np.nan
    holes[3] = np.inf
    assert np.isfinite(handcrafted_features(holes, 100.0)).all()
    assert np.isfinite(handcrafted_features(np.full((2, 12, n_times), np.nan), 100.0)).all()


def test_nan_samples_are_interpolated() -> None:
    x = synthetic_ecg(70, 100.0)
    holes = x.copy()
    holes[:, 500] = np.nan
    f_clean, f_holes = handcrafted_features(x, 100.0), handcrafted_features(holes, 100.0)
    j = _col("global_hr_bpm")
    np.testing.assert_allclose(f_holes[j], f_clean[j], rtol=0.01)


@settings(max_examples=25, deadline=None)
@given(
    scale=st.floats(min_value=1e-6, max_value=1e6),
    n_times=st.integers(min_value=1, max_value=300),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_always_finite_on_random_input(scale: float, n_times: int, seed: int) -> None:
    x = np.random.default_rng(seed).standard_normal((2, 12, n_times)) * scale
    out = handcrafted_features(x, 100.0)
    assert out.shape == (2, len(feature_names(100.0))) and np.isfinite(out).all()


def test_lead_order_by_name_and_errors() -> None:
    x = synthetic_ecg(70, 100.0)
    order = [1, 0, *range(2, 12)]
    swapped = [STANDARD_LEADS[i] for i in order]
    f_std = handcrafted_features(x, 100.0)
    f_swapped = handcrafted_features(x[order], 100.0, leads=swapped)
    j = _col("global_hr_bpm")
    assert (
        f_swapped[feature_names(100.0, swapped).index("global_hr_bpm")] == f_std[j]
    )  # lead II found by name
    assert feature_names(100.0, swapped)[0] == "II_std"
    with pytest.raises(DataError, match="12 leads.*3 lead names"):
        handcrafted_features(x, 100.0, leads=["I", "II", "III"])
    with pytest.raises(DataError, match="shape"):
        handcrafted_features(x[0], 100.0)
    with pytest.raises(DataError, match="no samples"):
        handcrafted_features(np.zeros((12, 0)), 100.0)
    with pytest.raises(ConfigError, match="sfreq"):
        handcrafted_features(x, 0.0)


@pytest.mark.realdata
def test_real_ptbxl_heart_rates_are_plausible(shared_data: Path) -> None:
    with warnings.catch_warnings():  # wfdb 4.3 calls a pandas API deprecated in pandas 3.1 at import time
        warnings.filterwarnings("ignore", message=".*inplace keyword.*", category=DeprecationWarning)
        import wfdb

    root = shared_data / "ecg" / "ptbxl_subset"
    records = []
    for ecg_id in (1, 2, 3, 4, 5, 6):
        signal, fields = wfdb.rdsamp(str(root / "records100" / "00000" / f"{ecg_id:05d}_lr"))
        assert fields["fs"] == 100
        leads = [canonical_lead(name) for name in fields["sig_name"]]
        assert leads == list(STANDARD_LEADS)
        records.append(signal.T)  # (12, 1000)
    x = np.stack(records)  # (6, 12, 1000)
    feats = handcrafted_features(x, 100.0)
    names = feature_names(100.0)
    assert np.isfinite(feats).all()
    hr = feats[:, names.index("global_hr_bpm")]
    assert ((hr > 40.0) & (hr < 150.0)).all(), hr
    assert (feats[:, names.index("global_rpeaks_ok")] == 1.0).all()
    qrs = feats[:, names.index("global_qrs_width_s")]
    assert ((qrs > 0.03) & (qrs < 0.2)).all(), qrs
    # the same record at 500 Hz gives the same rate
    signal, fields = wfdb.rdsamp(str(root / "records500" / "00000" / "00001_hr"))
    hr500 = handcrafted_features(signal.T, float(fields["fs"]))[feature_names(500.0).index("global_hr_bpm")]
    assert abs(hr500 - hr[0]) / hr[0] < 0.05
