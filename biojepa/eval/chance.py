"""Chance levels and significance against chance: binomial bound, per-metric chance level, permutation test.

BCI scores mean little without the chance level of the test set beside them (a 2-class accuracy of 0.62 on
40 trials is not better than chance). These helpers are pure numpy/scipy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from biojepa.errors import ConfigError, DataError
from biojepa.eval.metrics import METRICS

__all__ = ["CHANCE_METRICS", "binomial_significance_threshold", "chance_level", "permutation_pvalue"]

#: metric names :func:`chance_level` knows ("auc_macro" is the :data:`~biojepa.eval.metrics.METRICS` name)
CHANCE_METRICS = ("accuracy", "balanced_accuracy", "roc_auc", "auc_macro")

#: relative tolerance under which a permuted score counts as tying the observed one
_TIE_RTOL = 1e-12


def binomial_significance_threshold(n_trials: int, p: float = 0.5, alpha: float = 0.05) -> float:
    """The smallest accuracy that is significantly better than chance on ``n_trials`` independent trials.

    Rule (one-sided binomial test): under chance the number of correct trials is ``X ~ Binomial(n, p)``; the
    bound is ``k / n`` with ``k`` the smallest count such that ``P(X >= k) <= alpha``. An observed accuracy
    **at or above** the bound beats chance at level ``alpha``. ``k`` starts from ``scipy.stats.binom.ppf``
    (``k = ppf(1 - alpha) + 1``) and is then checked against the survival function, so floating-point
    rounding in the quantile cannot shift it.

    This is one count above :func:`biojepa.eval.metrics.binomial_chance_bound`, which returns the largest
    accuracy that is *not* significant (compare with ``>`` there, with ``>=`` here); both give the same
    decision for every integer number of correct trials.

    A bound above 1.0 (``(n + 1) / n``) means no accuracy on ``n_trials`` trials is significant.

    Args:
        n_trials: number of test trials (>= 1).
        p: chance accuracy, in (0, 1): 1/K for K balanced classes, or the majority-class rate.
        alpha: significance level, in (0, 1).

    Raises:
        ConfigError: ``n_trials < 1`` or ``p`` / ``alpha`` outside (0, 1).

    Example:
        >>> binomial_significance_threshold(100, 0.5)
        0.59
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ConfigError(f"binomial_significance_threshold needs an integer n_trials >= 1, got {n_trials!r}")
    if not 0.0 < p < 1.0:
        raise ConfigError(f"binomial_significance_threshold needs a chance accuracy 0 < p < 1, got {p}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"binomial_significance_threshold needs 0 < alpha < 1, got {alpha}")
    n = int(n_trials)
    k = int(stats.binom.ppf(1.0 - alpha, n, p)) + 1
    # P(X >= k) = sf(k - 1); make k the smallest count with P(X >= k) <= alpha
    while k > 0 and stats.binom.sf(k - 2, n, p) <= alpha:
        k -= 1
    while k <= n and stats.binom.sf(k - 1, n, p) > alpha:
        k += 1
    return k / n


def chance_level(y: Any, metric: str) -> float:
    """The score a classifier without information reaches on labels ``y`` for ``metric``.

    * ``"accuracy"``: the majority-class rate of ``y`` (always predicting the commonest class);
    * ``"balanced_accuracy"``: ``1 / n_classes`` (classes present in ``y``);
    * ``"roc_auc"`` / ``"auc_macro"``: 0.5.

    Args:
        y: ``(N,)`` class labels of the test trials.
        metric: one of :data:`CHANCE_METRICS`.

    Raises:
        DataError: ``y`` is not a non-empty 1-D array.
        ConfigError: unknown metric.
    """
    if metric not in CHANCE_METRICS:
        raise ConfigError(
            f"chance_level does not know metric {metric!r}; expected one of {', '.join(CHANCE_METRICS)}"
        )
    ya = np.asarray(y)
    if ya.ndim != 1 or ya.size == 0:
        raise DataError(f"chance_level needs non-empty 1-D labels (N,), got shape {ya.shape}")
    if metric in ("roc_auc", "auc_macro"):
        return 0.5
    _, counts = np.unique(ya, return_counts=True)
    if metric == "balanced_accuracy":
        return 1.0 / counts.size
    return float(counts.max() / ya.size)


def permutation_pvalue(
    score_fn: Callable[[Any, Any], float] | str,
    y_true: Any,
    y_score: Any,
    n_permutations: int = 1000,
    seed: int = 0,
) -> float:
    """One-sided permutation p-value of a "higher is better" score against label shuffling.

    The score of ``(y_true, y_score)`` is compared with the scores of ``n_permutations`` random permutations
    of ``y_true`` (the scores stay in place, so class counts are preserved). With ``count`` the permutations
    scoring at least the observed score (ties within a relative 1e-12 count, which is conservative), the
    p-value is ``(1 + count) / (1 + n_permutations)``: never 0, and exact-size under the null.

    Args:
        score_fn: ``(y_true, y_score) -> float`` or a name in :data:`~biojepa.eval.metrics.METRICS`.
        y_true: ``(N,)`` or ``(N, L)`` targets; permuted along the first axis.
        y_score: ``(N, ...)`` scores or predictions.
        n_permutations: number of permutations (>= 1).
        seed: seed of the permutation generator.

    Raises:
        ConfigError: ``n_permutations < 1`` or an unknown metric name.
        DataError: ``y_true`` and ``y_score`` have different first dimensions, or the observed score is not
            finite.
    """
    if (
        isinstance(n_permutations, bool)
        or not isinstance(n_permutations, (int, np.integer))
        or n_permutations < 1
    ):
        raise ConfigError(f"permutation_pvalue needs an integer n_permutations >= 1, got {n_permutations!r}")
    if isinstance(score_fn, str):
        if score_fn not in METRICS:
            raise ConfigError(f"unknown metric {score_fn!r}; valid metrics: {', '.join(sorted(METRICS))}")
        fn = METRICS[score_fn]
    else:
        fn = score_fn
    yt = np.asarray(y_true)
    ys = np.asarray(y_score)
    if yt.ndim == 0 or ys.ndim == 0 or yt.shape[0] != ys.shape[0]:
        raise DataError(
            f"y_true {yt.shape} and y_score {ys.shape} must have the same number of records (first axis)"
        )
    observed = float(fn(yt, ys))
    if not math.isfinite(observed):
        raise DataError(f"the observed score is not finite ({observed}); a permutation test needs a number")
    threshold = observed - _TIE_RTOL * max(1.0, abs(observed))
    rng = np.random.default_rng(seed)
    count = 0
    for _ in range(int(n_permutations)):
        perm = rng.permutation(yt.shape[0])  # (N,)
        if float(fn(yt[perm], ys)) >= threshold:
            count += 1
    return (1 + count) / (1 + int(n_permutations))
