"""Tests of biojepa.data.synthetic: determinism, the class waveforms, matched second-order statistics.

"Above chance" uses a one-sided binomial bound: under chance accuracy p0 on n test records, the
observed accuracy exceeds ``binom.ppf(0.999, n, p0) / n`` with probability < 0.1 %. That a random-init
encoder cannot read the label while a pretrained one can is tested in tests/test_planted_task.py.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from biojepa.data.record import Record
from biojepa.data.synthetic import CLASS_PHASES, SyntheticSpec, make_synthetic, synthetic_records, waveform
from biojepa.errors import ConfigError

N_TRAIN, N_TEST = 320, 320
ABOVE_CHANCE = stats.binom.ppf(0.999, N_TEST, 0.25) / N_TEST  # ~0.32


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    xtr, ytr = make_synthetic(SyntheticSpec(n_records=N_TRAIN, n_times=768, seed=1))
    xte, yte = make_synthetic(SyntheticSpec(n_records=N_TEST, n_times=768, seed=2))
    return xtr, ytr, xte, yte


def _second_order_features(x: np.ndarray, max_lag: int = 16) -> np.ndarray:
    """Per channel: variance and 8 log band powers; per channel pair: cross-correlations at lags +-max_lag."""
    xc = x - x.mean(-1, keepdims=True)  # (N, C, T)
    power = np.abs(np.fft.rfft(xc, axis=-1)) ** 2  # (N, C, F)
    edges = np.linspace(1, power.shape[-1], 9).astype(int)
    feats = [xc.var(-1)] + [np.log(power[..., a:b].sum(-1) + 1e-12) for a, b in itertools.pairwise(edges)]
    z = xc / xc.std(-1, keepdims=True)  # (N, C, T)
    n_t = z.shape[-1]
    for i, j in itertools.combinations(range(z.shape[1]), 2):
        for lag in range(-max_lag, max_lag + 1):
            a = z[:, i, max(0, -lag) : n_t - max(0, lag)]
            b = z[:, j, max(0, lag) : n_t - max(0, -lag)]
            feats.append((a * b).mean(-1)[:, None])  # (N, 1)
    return np.concatenate(feats, axis=1)  # (N, 9 C + n_pairs * (2 max_lag + 1))


def _higher_order_features(x: np.ndarray) -> np.ndarray:
    """Skewness of every channel and of its first difference: (N, 2 C)."""
    return np.concatenate([stats.skew(x, axis=-1), stats.skew(np.diff(x, axis=-1), axis=-1)], axis=1)


def _accuracy(ftr: np.ndarray, ytr: np.ndarray, fte: np.ndarray, yte: np.ndarray) -> float:
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, C=1.0))
    clf.fit(ftr, ytr)
    return float((clf.predict(fte) == yte).mean())


def test_shapes_dtypes_balance_and_determinism() -> None:
    spec = SyntheticSpec(n_records=10, n_channels=3, n_times=100, n_classes=3, seed=4)
    x, y = make_synthetic(spec)
    assert x.shape == (10, 3, 100) and x.dtype == np.float32 and np.isfinite(x).all()
    assert y.dtype == np.int64 and np.bincount(y).tolist() == [4, 3, 3]
    x2, y2 = make_synthetic(spec)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = make_synthetic(SyntheticSpec(n_records=10, n_channels=3, n_times=100, n_classes=3, seed=5))
    assert not np.array_equal(x, x3)


def test_amplitude_sets_the_channel_scale() -> None:
    x, _ = make_synthetic(SyntheticSpec(n_records=64, n_times=2048, seed=3))
    assert abs(float(x.std(-1).mean()) - 2.0) < 0.05  # default amplitude 2
    assert np.abs(x.mean(-1)).max() < 0.3  # no offsets
    x1, y1 = make_synthetic(SyntheticSpec(n_records=8, n_times=256, amplitude=1.0, seed=3))
    x3, y3 = make_synthetic(SyntheticSpec(n_records=8, n_times=256, amplitude=3.0, seed=3))
    np.testing.assert_array_equal(y1, y3)
    np.testing.assert_allclose(3.0 * x1, x3, rtol=1e-5, atol=1e-5)  # same records, only scaled


def test_noise_free_records_are_smooth_and_noise_adds_white_noise() -> None:
    clean, _ = make_synthetic(SyntheticSpec(n_records=16, n_times=512, noise=0.0, seed=6))
    noisy, _ = make_synthetic(SyntheticSpec(n_records=16, n_times=512, noise=1.0, seed=6))
    # a band-limited wave (harmonics < 0.45 cycles/sample) changes little from sample to sample
    assert np.diff(clean, axis=-1).std() < 0.9 * clean.std()
    assert np.diff(noisy, axis=-1).std() > np.diff(clean, axis=-1).std()


def test_waveform_is_normalised_and_matches_the_harmonic_sum() -> None:
    u = (np.arange(20_000) + 0.5) / 20_000
    h = np.arange(1, 7)[:, None]  # (H, 1)
    q = math.exp(-1.0 / 2.0)
    for label, theta in enumerate(CLASS_PHASES):
        w = waveform(u, label, rolloff=2.0, n_harmonics=6)
        brute = (q**h * np.cos(2 * np.pi * h * u + theta)).sum(0) / np.sqrt((q ** (2 * h)).sum() / 2)
        np.testing.assert_allclose(w, brute, atol=1e-9)
        assert abs(w.mean()) < 1e-6 and abs(w.std() - 1.0) < 1e-6


def test_class_waveforms_differ_in_shape_not_in_spectrum() -> None:
    u = (np.arange(4096) + 0.5) / 4096
    w = [waveform(u, k) for k in range(4)]
    np.testing.assert_allclose(w[1], -w[0], atol=1e-12)  # spike down = spike up inverted
    np.testing.assert_allclose(w[3], -w[2], atol=1e-12)
    np.testing.assert_allclose(w[3], waveform(-u, 2), atol=1e-12)  # ... and class 2 reversed in time
    np.testing.assert_allclose(w[0], waveform(-u, 0), atol=1e-12)  # the spike is symmetric in time
    mag = [np.abs(np.fft.rfft(wk)) for wk in w]
    for m in mag[1:]:
        np.testing.assert_allclose(m, mag[0], atol=1e-6)  # identical power spectra
    skew = [float(stats.skew(wk)) for wk in w]
    dskew = [float(stats.skew(np.diff(wk))) for wk in w]
    assert skew[0] > 0.5 and skew[1] < -0.5 and abs(skew[2]) < 1e-6 and abs(skew[3]) < 1e-6
    assert dskew[2] * dskew[3] < 0 and abs(dskew[2]) > 0.1


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"label": 4}, "label"),
        ({"label": 0.5}, "label"),
        ({"rolloff": 0.0}, "rolloff"),
        ({"n_harmonics": 0}, "n_harmonics"),
    ],
)
def test_waveform_rejects_bad_arguments(kw: dict[str, object], match: str) -> None:
    args = {"label": 0, **kw}
    label = args.pop("label")
    with pytest.raises(ConfigError, match=match):
        waveform(np.zeros(3), label, **args)  # type: ignore[arg-type]


def test_records() -> None:
    recs = synthetic_records(SyntheticSpec(n_records=3, n_channels=2, n_times=50, sfreq=64.0, seed=7))
    assert all(isinstance(r, Record) for r in recs)
    assert recs[0].channels == ("S1", "S2") and recs[0].units == "a.u." and recs[0].sfreq == 64.0
    assert recs[2].record_id == "synthetic-7-00002" and recs[0].meta["label"] in range(4)


def test_single_channel_is_allowed() -> None:
    x, _ = make_synthetic(SyntheticSpec(n_records=4, n_channels=1, n_times=64))
    assert x.shape == (4, 1, 64)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"n_channels": 0}, "n_channels"),
        ({"n_classes": 5}, "n_classes"),
        ({"n_classes": 1}, "n_classes"),
        ({"n_records": 0}, "n_records"),
        ({"noise": -1.0}, "noise"),
        ({"noise": float("nan")}, "noise"),
        ({"sfreq": 0.0}, "sfreq"),
        ({"sfreq": "fast"}, "sfreq"),
        ({"amplitude": 0.0}, "amplitude"),
        ({"amplitude": float("inf")}, "amplitude"),
        ({"seed": -1}, "seed"),
        ({"n_times": 1.5}, "n_times"),
    ],
)
def test_invalid_spec(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SyntheticSpec(**kw)  # type: ignore[arg-type]


def test_per_channel_statistics_matched_across_classes(data: tuple[np.ndarray, ...]) -> None:
    x, y, _, _ = data
    var = x.var(-1)  # (N, C)
    dom = np.abs(np.fft.rfft(x - x.mean(-1, keepdims=True), axis=-1)).argmax(-1)  # (N, C)
    for c in range(x.shape[1]):
        groups_var = [var[y == k, c] for k in range(4)]
        groups_dom = [dom[y == k, c] for k in range(4)]
        # the distributions are identical by construction; a Kruskal-Wallis test at 0.1 % should not reject
        assert stats.kruskal(*groups_var).pvalue > 1e-3, f"channel {c}: variance differs by class"
        assert stats.kruskal(*groups_dom).pvalue > 1e-3, f"channel {c}: dominant frequency differs by class"


def test_label_is_not_in_second_order_statistics(data: tuple[np.ndarray, ...]) -> None:
    xtr, ytr, xte, yte = data
    acc = _accuracy(_second_order_features(xtr), ytr, _second_order_features(xte), yte)
    assert acc < ABOVE_CHANCE, (
        f"power spectra / lagged cross-correlations predict the class ({acc:.3f} >= {ABOVE_CHANCE:.3f})"
    )


def test_label_is_in_higher_order_statistics(data: tuple[np.ndarray, ...]) -> None:
    xtr, ytr, xte, yte = data
    acc = _accuracy(_higher_order_features(xtr), ytr, _higher_order_features(xte), yte)
    assert acc > 0.9 and acc > ABOVE_CHANCE, f"skewness features should separate the classes, got {acc:.3f}"
