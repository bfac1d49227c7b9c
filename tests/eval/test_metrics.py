"""Tests of biojepa.eval.metrics against sklearn / scipy references and on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn import metrics as skm

from biojepa.errors import ConfigError, DataError
from biojepa.eval.metrics import (
    METRICS,
    UndefinedMetricError,
    accuracy,
    balanced_accuracy,
    binomial_chance_bound,
    bootstrap_ci,
    compute_metric,
    f1_macro,
    pearson_r,
    r2,
    roc_auc_macro,
    roc_auc_per_class,
    roc_auc_report,
)


def _multilabel(n: int = 80, n_labels: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=(n, n_labels))  # (N, L)
    s = rng.normal(size=(n, n_labels)) + 0.8 * y  # (N, L)
    return y, s


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(6, 40), ties=st.booleans())
def test_auc_matches_sklearn(seed: int, n: int, ties: bool) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=(n, 3))
    y[0], y[1] = 0, 1  # every label has both values
    s = rng.normal(size=(n, 3))
    if ties:
        s = np.round(s)  # many tied scores
    assert roc_auc_macro(y, s) == pytest.approx(skm.roc_auc_score(y, s, average="macro"), abs=1e-12)


def test_auc_drops_and_reports_single_valued_labels() -> None:
    y, s = _multilabel()
    y[:, 2] = 0
    rep = roc_auc_report(y, s, labels=["NORM", "MI", "STTC", "CD"])
    assert rep.dropped == ["STTC"]
    assert rep.n_labels == 4
    assert set(rep.per_class) == {"NORM", "MI", "CD"}
    keep = [0, 1, 3]
    assert rep.macro == pytest.approx(skm.roc_auc_score(y[:, keep], s[:, keep], average="macro"))
    per_class, dropped = roc_auc_per_class(y, s)
    assert dropped == ["2"] and per_class["0"] == pytest.approx(skm.roc_auc_score(y[:, 0], s[:, 0]))


def test_auc_multiclass_is_one_vs_rest_over_present_classes() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, size=60)  # classes 0..2, column 3 never true
    s = rng.normal(size=(60, 4))
    s[np.arange(60), y] += 1.0
    rep = roc_auc_report(y, s)
    assert rep.dropped == ["3"]
    ref = np.mean([skm.roc_auc_score(y == c, s[:, c]) for c in range(3)])
    assert rep.macro == pytest.approx(ref)
    # sklearn's OvR on probabilities (all classes present) agrees with ours
    p = np.exp(s[:, :3]) / np.exp(s[:, :3]).sum(1, keepdims=True)
    assert roc_auc_macro(y, p) == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr"))


def test_auc_binary_1d() -> None:
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8])
    assert roc_auc_macro(y, s) == pytest.approx(0.75)


def test_auc_undefined_and_bad_input() -> None:
    with pytest.raises(UndefinedMetricError, match="single value"):
        roc_auc_macro(np.zeros((5, 2)), np.random.default_rng(0).normal(size=(5, 2)))
    with pytest.raises(DataError, match="non-finite"):
        roc_auc_macro(np.array([0, 1]), np.array([np.nan, 1.0]))
    with pytest.raises(DataError, match="rows"):
        roc_auc_macro(np.array([0, 1, 1]), np.array([0.0, 1.0]))
    with pytest.raises(DataError, match="only 0 and 1"):
        roc_auc_macro(np.array([[0, 2], [1, 0]]), np.zeros((2, 2)))
    with pytest.raises(DataError, match="class id 5"):
        roc_auc_macro(np.array([0, 5]), np.zeros((2, 3)))


def test_classification_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 4, size=100)
    s = rng.normal(size=(100, 4))
    s[np.arange(100), y] += 0.7
    pred = s.argmax(1)
    assert accuracy(y, s) == pytest.approx(skm.accuracy_score(y, pred))
    assert accuracy(y, pred) == pytest.approx(skm.accuracy_score(y, pred))
    assert balanced_accuracy(y, s) == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert f1_macro(y, s) == pytest.approx(skm.f1_score(y, pred, average="macro"))


def test_f1_multilabel_thresholds_logits() -> None:
    y, s = _multilabel(seed=3)
    ref = skm.f1_score(y, (s > 0).astype(int), average="macro", zero_division=0.0)
    assert f1_macro(y, s) == pytest.approx(ref)
    assert f1_macro(y, s, threshold=0.5) == pytest.approx(
        skm.f1_score(y, (s > 0.5).astype(int), average="macro", zero_division=0.0)
    )


def test_regression_metrics_match_references() -> None:
    rng = np.random.default_rng(4)
    y = rng.normal(size=(50, 2))
    p = y + 0.5 * rng.normal(size=(50, 2))
    assert r2(y, p) == pytest.approx(skm.r2_score(y, p))
    ref_r = np.mean([stats.pearsonr(y[:, i], p[:, i]).statistic for i in range(2)])
    assert pearson_r(y, p) == pytest.approx(ref_r)
    assert r2(y[:, 0], p[:, :1]) == pytest.approx(skm.r2_score(y[:, 0], p[:, 0]))  # (N,) vs (N, 1)
    with pytest.raises(UndefinedMetricError, match="constant"):
        r2(np.ones(5), np.arange(5.0))
    with pytest.raises(UndefinedMetricError, match="constant"):
        pearson_r(np.arange(5.0), np.ones(5))


def test_compute_metric_dispatch() -> None:
    y, s = _multilabel()
    assert compute_metric("auc_macro", y, s) == roc_auc_macro(y, s)
    assert set(METRICS) == {"auc_macro", "accuracy", "balanced_accuracy", "f1_macro", "r2", "pearson_r"}
    with pytest.raises(ConfigError, match="valid metrics: accuracy"):
        compute_metric("auroc", y, s)


def test_bootstrap_ci_covers_point_estimate_and_is_deterministic() -> None:
    y, s = _multilabel(n=120)
    point = roc_auc_macro(y, s)
    ci = bootstrap_ci(roc_auc_macro, y, s, n_boot=200, seed=7)
    lo, hi = ci
    assert lo < point < hi
    assert hi - lo < 0.2
    assert ci.as_list() == [lo, hi]
    assert ci.n_skipped == 0 and ci.n_boot == 200
    assert bootstrap_ci("auc_macro", y, s, n_boot=200, seed=7) == ci
    assert bootstrap_ci("auc_macro", y, s, n_boot=200, seed=8) != ci
    wide = bootstrap_ci("auc_macro", y, s, n_boot=200, seed=7, alpha=0.5)
    assert lo <= wide.lo <= wide.hi <= hi


def test_bootstrap_ci_skips_and_counts_undefined_resamples() -> None:
    y = np.zeros(12, dtype=int)
    y[0] = 1  # a single positive: resamples without it have an undefined AUC
    s = np.linspace(0, 1, 12)[::-1].copy()
    ci = bootstrap_ci("auc_macro", y, s, n_boot=100, seed=0)
    assert 0 < ci.n_skipped < 100  # P(record 0 missed) = (11/12)^12 ≈ 0.35
    assert ci.lo == ci.hi == 1.0
    with pytest.raises(UndefinedMetricError, match="all 20 bootstrap resamples"):
        bootstrap_ci("r2", np.ones(8), np.arange(8.0), n_boot=20)
    with pytest.raises(ConfigError, match="unknown metric"):
        bootstrap_ci("nope", y, s)
    with pytest.raises(ConfigError, match="n_boot"):
        bootstrap_ci("auc_macro", y, s, n_boot=0)


def test_binomial_chance_bound() -> None:
    b = binomial_chance_bound(100, 0.5)
    k = round(b * 100)
    assert stats.binom.sf(k, 100, 0.5) <= 0.05  # P(X > k) <= alpha
    assert stats.binom.sf(k - 1, 100, 0.5) > 0.05  # and k is the smallest such count
    assert 0.5 < b < 0.65
    assert binomial_chance_bound(1000, 0.25) < binomial_chance_bound(100, 0.25)
    with pytest.raises(ConfigError, match="p_chance"):
        binomial_chance_bound(10, 1.0)
    with pytest.raises(ConfigError, match="n >= 1"):
        binomial_chance_bound(0, 0.5)
