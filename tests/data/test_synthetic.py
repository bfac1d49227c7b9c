"""Tests of biojepa.data.synthetic: determinism, matched nuisance statistics, a real planted label.

"Above chance" uses a one-sided binomial bound: under chance accuracy p0 on n test records, the
observed accuracy exceeds ``binom.ppf(0.999, n, p0) / n`` with probability < 0.1 %.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from biojepa.data.record import Record
from biojepa.data.synthetic import SyntheticSpec, make_synthetic, synthetic_records, waveform
from biojepa.errors import ConfigError

N_TRAIN, N_TEST = 320, 320


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    xtr, ytr = make_synthetic(SyntheticSpec(n_records=N_TRAIN, n_times=768, seed=1))
    xte, yte = make_synthetic(SyntheticSpec(n_records=N_TEST, n_times=768, seed=2))
    return xtr, ytr, xte, yte


def _nuisance_features(x: np.ndarray) -> np.ndarray:
    """Per-channel mean, variance, 8 log band powers and dominant frequency: (N, C * 11)."""
    xc = x - x.mean(-1, keepdims=True)  # (N, C, T)
    power = np.abs(np.fft.rfft(xc, axis=-1)) ** 2  # (N, C, F)
    edges = np.linspace(1, power.shape[-1], 9).astype(int)
    bands = [np.log(power[..., a:b].sum(-1) + 1e-12) for a, b in itertools.pairwise(edges)]
    feats = [x.mean(-1), x.var(-1), *bands, power.argmax(-1).astype(np.float64)]
    return np.concatenate(feats, axis=1)  # (N, C * 11)


def _structure_features(x: np.ndarray, max_lag: int = 8) -> np.ndarray:
    """Lagged cross-correlations of every channel pair + skewness of the first difference."""
    z = (x - x.mean(-1, keepdims=True)) / x.std(-1, keepdims=True)  # (N, C, T)
    n_t = z.shape[-1]
    feats = []
    for i in range(z.shape[1]):
        for j in range(i + 1, z.shape[1]):
            for lag in range(-max_lag, max_lag + 1):
                a = z[:, i, max(0, -lag) : n_t - max(0, lag)]
                b = z[:, j, max(0, lag) : n_t - max(0, -lag)]
                feats.append((a * b).mean(-1))
    d = np.diff(x, axis=-1)  # (N, C, T - 1)
    skew = stats.skew(d, axis=-1)  # (N, C)
    return np.concatenate([np.stack(feats, axis=1), skew], axis=1)  # (N, n_pairs * n_lags + C)


def _accuracy(ftr: np.ndarray, ytr: np.ndarray, fte: np.ndarray, yte: np.ndarray) -> float:
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
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


def test_random_polarity_only_flips_signs() -> None:
    base = SyntheticSpec(n_records=8, n_times=64)
    x, y = make_synthetic(base)
    xp, yp = make_synthetic(SyntheticSpec(n_records=8, n_times=64, random_polarity=True))
    np.testing.assert_array_equal(y, yp)
    np.testing.assert_array_equal(np.abs(x), np.abs(xp))
    assert not np.array_equal(x, xp)


def test_waveform_normalised_and_reversed() -> None:
    u = (np.arange(10_000) + 0.5) / 10_000
    w_a, w_b = waveform(u, 0), waveform(u, 1)
    assert abs(w_a.mean()) < 1e-3 and abs(w_a.std() - 1) < 1e-3
    np.testing.assert_allclose(w_b, waveform(-u, 0))
    np.testing.assert_allclose(np.sort(w_a), np.sort(w_b), atol=1e-9)  # same amplitude distribution
    assert stats.skew(np.diff(w_a)) * stats.skew(np.diff(w_b)) < 0  # opposite time asymmetry


def test_records() -> None:
    recs = synthetic_records(SyntheticSpec(n_records=3, n_channels=2, n_times=50, sfreq=64.0, seed=7))
    assert all(isinstance(r, Record) for r in recs)
    assert recs[0].channels == ("S1", "S2") and recs[0].units == "a.u." and recs[0].sfreq == 64.0
    assert recs[2].record_id == "synthetic-7-00002" and recs[0].meta["label"] in range(4)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"n_channels": 1}, "n_channels"),
        ({"n_classes": 5}, "n_classes"),
        ({"n_records": 0}, "n_records"),
        ({"noise": -1.0}, "noise"),
        ({"sfreq": 0.0}, "sfreq"),
        ({"seed": -1}, "seed"),
    ],
)
def test_invalid_spec(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SyntheticSpec(**kw)  # type: ignore[arg-type]


def test_nuisance_statistics_matched_across_classes(data: tuple[np.ndarray, ...]) -> None:
    x, y, _, _ = data
    var = x.var(-1)  # (N, C)
    dom = np.abs(np.fft.rfft(x - x.mean(-1, keepdims=True), axis=-1)).argmax(-1)  # (N, C)
    for c in range(x.shape[1]):
        groups_var = [var[y == k, c] for k in range(4)]
        groups_dom = [dom[y == k, c] for k in range(4)]
        # the distributions are identical by construction; a Kruskal-Wallis test at 0.1 % should not reject
        assert stats.kruskal(*groups_var).pvalue > 1e-3, f"channel {c}: variance differs by class"
        assert stats.kruskal(*groups_dom).pvalue > 1e-3, f"channel {c}: dominant frequency differs by class"


def test_label_lives_in_structure_not_in_simple_statistics(data: tuple[np.ndarray, ...]) -> None:
    xtr, ytr, xte, yte = data
    chance = 0.25
    above = stats.binom.ppf(0.999, N_TEST, chance) / N_TEST  # ~0.32
    acc_simple = _accuracy(_nuisance_features(xtr), ytr, _nuisance_features(xte), yte)
    acc_struct = _accuracy(_structure_features(xtr), ytr, _structure_features(xte), yte)
    assert acc_simple < above, f"per-channel statistics predict the class ({acc_simple:.3f} >= {above:.3f})"
    assert acc_struct > 0.9, f"structure features should separate the classes, got {acc_struct:.3f}"
    assert acc_struct > above


def test_random_polarity_label_still_readable_by_invariant_features() -> None:
    xtr, ytr = make_synthetic(SyntheticSpec(n_records=N_TRAIN, n_times=768, seed=1, random_polarity=True))
    xte, yte = make_synthetic(SyntheticSpec(n_records=N_TEST, n_times=768, seed=2, random_polarity=True))

    def invariant(x: np.ndarray) -> np.ndarray:
        f = _structure_features(x)
        n_pairs = f.shape[1] - x.shape[1]
        skew_prod = stats.skew(x, axis=-1) * f[:, n_pairs:]  # skew(x) * skew(diff x): (N, C)
        return np.concatenate([np.abs(f[:, :n_pairs]), skew_prod], axis=1)  # (N, n_pairs + C)

    above = stats.binom.ppf(0.999, N_TEST, 0.25) / N_TEST
    acc = _accuracy(invariant(xtr), ytr, invariant(xte), yte)
    assert acc > 0.9 and acc > above, (
        f"polarity-invariant features should separate the classes, got {acc:.3f}"
    )
