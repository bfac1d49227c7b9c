"""Tests of biojepa.adapters.ecg.synthetic: shapes, determinism, lead identities, physiology, planted classes.

Every per-class check uses one obvious handcrafted statistic (QRS width, ST level, RR irregularity) measured
from R peaks found with ``scipy.signal.find_peaks`` in lead II, and asserts a rank separation (AUC) from the
normal class that a mis-planted class could not reach by chance.
"""

from __future__ import annotations

import dataclasses
import doctest

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal

import biojepa.adapters.ecg.synthetic as synth_mod
from biojepa.adapters.ecg.leads import STANDARD_LEADS
from biojepa.adapters.ecg.synthetic import (
    CLASS_NAMES,
    ECG_SYNTH_TAG,
    LEAD_PROJECTION,
    EcgSynthSpec,
    simulate_ecg,
    simulate_record,
)
from biojepa.errors import ConfigError

FS = 100.0
N_PER_CLASS = 24
LEAD = {name: i for i, name in enumerate(STANDARD_LEADS)}


@pytest.fixture(scope="module")
def corpus() -> tuple[np.ndarray, np.ndarray]:
    return simulate_ecg(EcgSynthSpec(n_records=4 * N_PER_CLASS, seed=7))


def _r_peaks(lead: np.ndarray, fs: float) -> np.ndarray:
    """R-peak sample indices of one lead: peaks above half the (baseline-removed) 99.5th percentile."""
    baseline = scipy.ndimage.median_filter(lead, size=int(0.6 * fs) | 1, mode="nearest")  # (T,)
    z = lead - baseline
    peaks, _ = scipy.signal.find_peaks(z, height=0.5 * np.percentile(z, 99.5), distance=int(0.27 * fs))
    return peaks


def _features(rec: np.ndarray, fs: float) -> dict[str, float]:
    """Heart rate, RR irregularity, QRS width and max |ST deviation| of one ``(12, T)`` record."""
    peaks = _r_peaks(rec[LEAD["II"]], fs)
    rr = np.diff(peaks) / fs  # (n_beats - 1,) s
    inner = peaks[(peaks > int(0.2 * fs)) & (peaks < rec.shape[1] - int(0.2 * fs))]
    # QRS width: span of the R-aligned median envelope of the summed absolute slopes of all leads
    envelope = np.abs(np.diff(rec, axis=1)).sum(axis=0)  # (T - 1,)
    window = np.arange(-int(0.15 * fs), int(0.15 * fs))
    template = np.median(envelope[inner[:, None] + window[None, :]], axis=0)  # (W,)
    width = float((template > 0.3 * template.max()).sum() / fs)
    # ST level: 80 ms after R minus the PR segment 70 ms before R, median over beats, max over leads
    st = np.median(rec[:, inner + int(0.08 * fs)] - rec[:, inner - int(0.07 * fs)], axis=1)  # (12,)
    return {
        "hr": float(60.0 / rr.mean()),
        "irregularity": float(np.sqrt(np.mean(np.diff(rr) ** 2)) / rr.mean()),  # RMSSD / mean RR
        "qrs_width": width,
        "st": float(np.abs(st).max()),
    }


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(statistic of a positive > that of a negative), ties count one half."""
    diff = pos[:, None] - neg[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


@pytest.fixture(scope="module")
def features(corpus: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    x, _ = corpus
    rows = [_features(rec, FS) for rec in x]
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


# --- shapes, determinism ---------------------------------------------------------------------------------


def test_shapes_dtypes_finite_and_balanced(corpus: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = corpus
    assert x.shape == (4 * N_PER_CLASS, 12, 1000) and x.dtype == np.float32
    assert y.shape == (4 * N_PER_CLASS,) and y.dtype == np.int64
    assert np.isfinite(x).all()
    assert np.bincount(y, minlength=4).tolist() == [N_PER_CLASS] * 4
    assert len(CLASS_NAMES) == 4 and CLASS_NAMES[0] == "normal"


def test_default_spec_and_other_rates() -> None:
    spec = EcgSynthSpec()
    assert (spec.n_records, spec.sfreq, spec.duration_s, spec.n_classes, spec.n_times) == (
        256,
        100.0,
        10.0,
        4,
        1000,
    )
    x, _ = simulate_ecg(EcgSynthSpec(n_records=3, sfreq=500.0, duration_s=2.5, seed=1))
    assert x.shape == (3, 12, 1250) and np.isfinite(x).all()
    x, _ = simulate_ecg(EcgSynthSpec(n_records=2, sfreq=257.0, duration_s=1.0))  # INCART-like rate
    assert x.shape == (2, 12, 257)


def test_deterministic_and_seed_dependent() -> None:
    a = simulate_ecg(EcgSynthSpec(n_records=8, seed=3))
    b = simulate_ecg(EcgSynthSpec(n_records=8, seed=3))
    c = simulate_ecg(EcgSynthSpec(n_records=8, seed=4))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])


def test_record_i_does_not_depend_on_n_records() -> None:
    x8, y8 = simulate_ecg(EcgSynthSpec(n_records=8, seed=5))
    x16, y16 = simulate_ecg(EcgSynthSpec(n_records=16, seed=5))
    np.testing.assert_array_equal(x8, x16[:8])
    np.testing.assert_array_equal(y8, y16[:8])


def test_record_comes_from_its_own_generator() -> None:
    x, y = simulate_ecg(EcgSynthSpec(n_records=6, seed=2, duration_s=3.0))
    i = 5
    rec = simulate_record(
        np.random.default_rng([2, i, ECG_SYNTH_TAG]),
        sfreq=100.0,
        duration_s=3.0,
        label=int(y[i]),
        noise_mv=0.02,
    )
    np.testing.assert_array_equal(rec, x[i])


@pytest.mark.parametrize("n_classes", [1, 2, 3])
def test_fewer_classes_are_the_first_ones_and_balanced(n_classes: int) -> None:
    _, y = simulate_ecg(EcgSynthSpec(n_records=6 * n_classes, n_classes=n_classes, duration_s=1.0))
    assert set(y.tolist()) == set(range(n_classes))
    assert np.bincount(y).tolist() == [6] * n_classes


def test_labels_are_shuffled_not_periodic() -> None:
    _, y = simulate_ecg(EcgSynthSpec(n_records=64, duration_s=1.0))
    assert not np.array_equal(y, np.arange(64) % 4)


# --- leads and physiology --------------------------------------------------------------------------------


def test_einthoven_and_goldberger_identities(corpus: tuple[np.ndarray, np.ndarray]) -> None:
    x = corpus[0].astype(np.float64)
    i, ii = x[:, LEAD["I"]], x[:, LEAD["II"]]
    np.testing.assert_allclose(x[:, LEAD["III"]], ii - i, atol=1e-5, rtol=0)
    np.testing.assert_allclose(x[:, LEAD["aVR"]], -(i + ii) / 2, atol=1e-5, rtol=0)
    np.testing.assert_allclose(x[:, LEAD["aVL"]], i - ii / 2, atol=1e-5, rtol=0)
    np.testing.assert_allclose(x[:, LEAD["aVF"]], ii - i / 2, atol=1e-5, rtol=0)


def test_lead_projection_matrix() -> None:
    p = LEAD_PROJECTION
    assert p.shape == (12, 3) and not p.flags.writeable
    np.testing.assert_allclose(p[LEAD["III"]], p[LEAD["II"]] - p[LEAD["I"]], atol=1e-12)
    # precordial leads sweep from right-anterior (V1: x < 0, z > 0) to left-lateral (V6: along +x)
    v = p[LEAD["V1"] : LEAD["V6"] + 1]  # (6, 3)
    angles = np.degrees(np.arctan2(v[:, 2], v[:, 0]))  # horizontal plane, from +x (left) towards +z
    assert angles[0] > 90.0 and abs(angles[-1]) < 1e-9
    assert np.all(np.diff(angles) < 0)


def test_heart_rate_in_intended_range_and_spread(
    features: dict[str, np.ndarray], corpus: tuple[np.ndarray, np.ndarray]
) -> None:
    hr, y = features["hr"], corpus[1]
    sinus = hr[y != 3]
    assert np.all((sinus > 47.0) & (sinus < 115.0)), np.sort(sinus)  # drawn in 50-110 bpm, small RSA
    assert np.all((hr > 40.0) & (hr < 130.0)), np.sort(hr)  # AF: mean of ~15 irregular beats varies more
    assert sinus.min() < 62.0 and sinus.max() > 95.0  # the rate is drawn per record across the range


def test_lead_ii_amplitudes_plausible(corpus: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = corpus
    ii = x[:, LEAD["II"]]  # (N, T)
    ptp = ii.max(axis=1) - ii.min(axis=1)
    assert np.all((ptp > 0.3) & (ptp < 4.0)), np.sort(ptp)
    r_amp = ii.max(axis=1) - np.median(ii, axis=1)
    assert np.all((r_amp > 0.4) & (r_amp < 2.0)) and 0.6 < np.median(r_amp) < 1.4


def test_noise_level_is_noise_mv_in_limb_leads() -> None:
    kw = {"sfreq": 250.0, "duration_s": 20.0, "label": 0}
    clean = simulate_record(np.random.default_rng(11), noise_mv=0.0, **kw)
    noisy = simulate_record(np.random.default_rng(11), noise_mv=0.05, **kw)
    diff = (noisy - clean).astype(np.float64)  # (12, T): the noise alone
    std = diff.std(axis=1)
    np.testing.assert_allclose(std[:3], 0.05, rtol=0.05)
    np.testing.assert_allclose(std[6:], 0.05 * np.sqrt(2 / 3), rtol=0.05)


def test_no_powerline_peak_and_little_power_at_high_frequency() -> None:
    x, _ = simulate_ecg(EcgSynthSpec(n_records=8, sfreq=500.0, duration_s=10.0, seed=9))
    f, psd = scipy.signal.welch(x.astype(np.float64), fs=500.0, nperseg=1000, axis=-1)  # (N, 12, F)
    mean = psd.mean(axis=(0, 1))  # (F,)
    for mains in (50.0, 60.0):
        at = mean[np.abs(f - mains) <= 1.0].mean()
        around = mean[(np.abs(f - mains) > 3.0) & (np.abs(f - mains) <= 8.0)].mean()
        assert at < 1.5 * around
    assert mean[f < 40].sum() > 20 * mean[f >= 40].sum()  # most ECG power sits below 40 Hz


# --- planted classes -------------------------------------------------------------------------------------


def test_lbbb_like_has_wide_qrs(
    features: dict[str, np.ndarray], corpus: tuple[np.ndarray, np.ndarray]
) -> None:
    y, w = corpus[1], features["qrs_width"]
    assert _auc(w[y == 1], w[y != 1]) > 0.95
    assert np.median(w[y == 1]) > 1.5 * np.median(w[y == 0])
    assert 0.03 <= np.median(w[y == 0]) <= 0.08  # normal QRS core well under 100 ms


def test_st_elevation_has_raised_st(
    features: dict[str, np.ndarray], corpus: tuple[np.ndarray, np.ndarray]
) -> None:
    y, st = corpus[1], features["st"]
    assert _auc(st[y == 2], st[(y == 0) | (y == 3)]) > 0.95
    assert np.median(st[y == 2]) > 0.1 > np.median(st[y == 0])


def test_st_elevation_is_in_a_subset_of_leads() -> None:
    rec = simulate_record(np.random.default_rng(3), sfreq=FS, duration_s=10.0, label=2, noise_mv=0.0)
    peaks = _r_peaks(rec[LEAD["II"]], FS)
    peaks = peaks[(peaks > 20) & (peaks < rec.shape[1] - 20)]
    st = np.median(rec[:, peaks + 8] - rec[:, peaks - 7], axis=1)  # (12,)
    assert (st > 0.05).sum() >= 2 and (st < 0.05).sum() >= 2  # raised in some leads, not in all


def test_af_like_is_irregular(features: dict[str, np.ndarray], corpus: tuple[np.ndarray, np.ndarray]) -> None:
    y, irr = corpus[1], features["irregularity"]
    assert _auc(irr[y == 3], irr[y != 3]) > 0.95
    assert np.median(irr[y == 3]) > 3 * np.median(irr[y == 0])


def test_af_like_has_no_p_wave() -> None:
    """Noise-free lead II template: a P bump 120-200 ms before R in sinus rhythm, none in AF."""

    def p_bump(label: int, seed: int) -> float:
        rec = simulate_record(
            np.random.default_rng(seed), sfreq=FS, duration_s=10.0, label=label, noise_mv=0.0
        )
        ii = rec[LEAD["II"]]
        peaks = _r_peaks(ii, FS)
        peaks = peaks[(peaks > 30) & (peaks < ii.shape[0] - 30)]
        seg = ii[peaks[:, None] + np.arange(-25, -9)[None, :]]  # (beats, 16): 250 ms .. 100 ms before R
        seg = seg - seg[:, :1]  # relative to the start of the window
        return float(np.median(seg.max(axis=1)))

    sinus = [p_bump(0, s) for s in range(6)]
    af = [p_bump(3, s) for s in range(6)]
    assert min(sinus) > 0.05 and np.median(af) < 0.5 * np.median(sinus)


# --- validation ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_records", 0),
        ("n_records", 2.5),
        ("n_records", True),
        ("sfreq", 0.0),
        ("sfreq", 20.0),
        ("sfreq", float("nan")),
        ("duration_s", 0.0),
        ("duration_s", -1.0),
        ("duration_s", float("inf")),
        ("noise_mv", -0.1),
        ("noise_mv", "0.1"),
        ("seed", -1),
        ("n_classes", 0),
        ("n_classes", 5),
    ],
)
def test_spec_validation_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        dataclasses.replace(EcgSynthSpec(), **{field: value})


def test_spec_rejects_a_record_without_samples() -> None:
    with pytest.raises(ConfigError, match="no sample"):
        EcgSynthSpec(duration_s=0.001)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"label": 4}, "label"),
        ({"label": -1}, "label"),
        ({"sfreq": 10.0}, "sfreq"),
        ({"duration_s": 0.0}, "duration_s"),
        ({"noise_mv": -1.0}, "noise_mv"),
    ],
)
def test_simulate_record_validation(kwargs: dict[str, float], match: str) -> None:
    args = {"sfreq": 100.0, "duration_s": 1.0, "label": 0, "noise_mv": 0.0} | kwargs
    with pytest.raises(ConfigError, match=match):
        simulate_record(np.random.default_rng(0), **args)


def test_simulate_record_needs_a_generator() -> None:
    with pytest.raises(ConfigError, match="Generator"):
        simulate_record(0, sfreq=100.0, duration_s=1.0, label=0, noise_mv=0.0)  # type: ignore[arg-type]


def test_docstring_examples() -> None:
    result = doctest.testmod(synth_mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
