"""Chance levels: the one-sided binomial bound, per-metric chance levels and the permutation p-value."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from biojepa.errors import ConfigError, DataError
from biojepa.eval import metrics
from biojepa.eval.chance import binomial_significance_threshold, chance_level, permutation_pvalue
from biojepa.eval.metrics import roc_auc_macro


def test_binomial_bound_known_values() -> None:
    # Binomial(100, 0.5): P(X >= 59) = 0.044 <= 0.05 < P(X >= 58) = 0.067
    assert binomial_significance_threshold(100, 0.5) == pytest.approx(0.59)
    assert binomial_significance_threshold(100) == binomial_significance_threshold(100, 0.5, 0.05)
    # 40 trials, 2 classes: 26 correct (0.65) is significant, 25 is not
    assert binomial_significance_threshold(40) == pytest.approx(26 / 40)
    assert binomial_significance_threshold(1, 0.5) == 2.0  # even one correct trial out of one is not significant
    assert binomial_significance_threshold(1000, 0.25) < binomial_significance_threshold(100, 0.25)
    assert binomial_significance_threshold(100, 0.5, alpha=0.01) > binomial_significance_threshold(100, 0.5, alpha=0.05)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 400), p=st.floats(0.02, 0.98), alpha=st.sampled_from([0.001, 0.01, 0.05, 0.1, 0.3]))
def test_binomial_bound_is_the_smallest_significant_count(n: int, p: float, alpha: float) -> None:
    k = round(binomial_significance_threshold(n, p, alpha) * n)
    assert 0 <= k <= n + 1
    assert stats.binom.sf(k - 1, n, p) <= alpha  # P(X >= k) <= alpha
    assert stats.binom.sf(k - 2, n, p) > alpha  # P(X >= k - 1) > alpha
    # same decision as the "largest non-significant accuracy" bound of biojepa.eval.metrics
    assert binomial_significance_threshold(n, p, alpha) == pytest.approx(
        metrics.binomial_chance_bound(n, p, alpha) + 1 / n
    )


@pytest.mark.parametrize(
    ("args", "match"),
    [((0, 0.5), "n_trials"), ((10.5, 0.5), "n_trials"), ((10, 1.0), "0 < p < 1"), ((10, 0.5, 0.0), "alpha")],
)
def test_binomial_bound_rejects_bad_arguments(args: tuple, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        binomial_significance_threshold(*args)


def test_chance_level_per_metric() -> None:
    y = np.array([0, 0, 0, 1, 2, 2])
    assert chance_level(y, "accuracy") == pytest.approx(0.5)
    assert chance_level(y, "balanced_accuracy") == pytest.approx(1 / 3)
    assert chance_level(y, "roc_auc") == 0.5 and chance_level(y, "auc_macro") == 0.5
    assert chance_level(np.array(["a", "b", "b", "b"]), "accuracy") == pytest.approx(0.75)
    with pytest.raises(ConfigError, match="f1_macro.*accuracy, balanced_accuracy, roc_auc"):
        chance_level(y, "f1_macro")
    with pytest.raises(DataError, match="non-empty 1-D"):
        chance_level(np.zeros(0), "accuracy")


def test_permutation_pvalue_small_for_a_perfect_score_and_large_without_signal() -> None:
    y = np.repeat([0, 1], 10)
    perfect = y + 0.1 * np.arange(20) / 20
    # P(a permutation reaches AUC 1) = 1 / C(20, 10) ~ 5e-6: no permutation ties with 999 draws
    assert permutation_pvalue(roc_auc_macro, y, perfect, n_permutations=999) == pytest.approx(1 / 1000)
    noise = np.random.default_rng(0).normal(size=20)
    p = permutation_pvalue("auc_macro", y, noise, n_permutations=499, seed=1)
    assert 1 / 500 <= p <= 1.0
    # the p-value is consistent with the observed AUC's rank under the null (not a tiny p for noise)
    assert p > 0.05


def test_permutation_pvalue_counts_ties_and_is_deterministic() -> None:
    y = np.repeat([0, 1], 8)
    assert permutation_pvalue(lambda a, b: 0.7, y, np.zeros(16), n_permutations=50) == 1.0
    s = np.random.default_rng(3).normal(size=16) + y
    a = permutation_pvalue(roc_auc_macro, y, s, n_permutations=200, seed=5)
    assert a == permutation_pvalue(roc_auc_macro, y, s, n_permutations=200, seed=5)
    assert (a * 201) == pytest.approx(round(a * 201))  # of the form (1 + count) / (1 + n)


def test_permutation_pvalue_is_valid_under_the_null() -> None:
    # under the null, P(p <= 0.2) <= 0.2 (up to sampling error over 60 independent datasets)
    rng = np.random.default_rng(11)
    ps = [
        permutation_pvalue(
            roc_auc_macro, np.repeat([0, 1], 6), rng.normal(size=12), n_permutations=99, seed=i
        )
        for i in range(60)
    ]
    frac = float(np.mean(np.asarray(ps) <= 0.2))
    assert frac <= 0.35  # binomial(60, 0.2) exceeds 21 with probability < 0.5 %


def test_permutation_pvalue_rejects_bad_arguments() -> None:
    y = np.repeat([0, 1], 4)
    with pytest.raises(ConfigError, match="n_permutations"):
        permutation_pvalue(roc_auc_macro, y, y, n_permutations=0)
    with pytest.raises(ConfigError, match="unknown metric 'auroc'"):
        permutation_pvalue("auroc", y, y)
    with pytest.raises(DataError, match="same number of records"):
        permutation_pvalue(roc_auc_macro, y, y[:5])
    with pytest.raises(DataError, match="not finite"):
        permutation_pvalue(lambda a, b: float("nan"), y, y)
