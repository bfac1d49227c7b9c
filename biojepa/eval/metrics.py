"""Evaluation metrics as pure numpy functions, plus a percentile bootstrap and a binomial chance bound.

Conventions:

* ``y_true`` is ``(N, L)`` 0/1 for multi-label tasks, ``(N,)`` integer class ids for multi-class tasks and
  ``(N,)`` or ``(N, L)`` floats for regression.
* ``y_score`` is what a probe outputs: ``(N, L)`` scores/logits (any monotone transform gives the same AUC),
  ``(N, K)`` class scores for multi-class, predictions for regression.
* A metric that cannot be computed on the given data (one class only, constant targets) raises
  :class:`UndefinedMetricError`; it never returns NaN silently. Per-class AUC drops labels whose ``y_true``
  column holds a single value and reports them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from biojepa.errors import ConfigError, DataError, UndefinedMetricError

__all__ = [
    "METRICS",
    "AucReport",
    "BootstrapCI",
    "UndefinedMetricError",
    "accuracy",
    "balanced_accuracy",
    "binomial_chance_bound",
    "bootstrap_ci",
    "compute_metric",
    "f1_macro",
    "pearson_r",
    "r2",
    "roc_auc_macro",
    "roc_auc_per_class",
    "roc_auc_report",
]

log = logging.getLogger(__name__)


# -- input handling -----------------------------------------------------------------------------------
def _as_finite(a: Any, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype == object:
        raise DataError(f"{name} must be a numeric array, got dtype object")
    if arr.size and not np.all(np.isfinite(arr)):
        n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise DataError(f"{name} holds {n_bad} non-finite values (NaN/inf); metrics need finite inputs")
    return arr


def _check_len(y_true: np.ndarray, y_score: np.ndarray) -> None:
    if y_true.shape[0] != y_score.shape[0]:
        raise DataError(
            f"y_true has {y_true.shape[0]} rows but y_score has {y_score.shape[0]}; they must describe the "
            "same records in the same order"
        )
    if y_true.shape[0] == 0:
        raise DataError("metrics need at least one record, got empty arrays")


def _class_ids(y: np.ndarray, name: str) -> np.ndarray:
    if y.ndim != 1:
        raise DataError(f"{name} must be 1-D class ids (N,), got shape {y.shape}")
    if not np.all(np.equal(np.mod(y, 1), 0)) or (y.size and y.min() < 0):
        raise DataError(f"{name} must hold non-negative integer class ids")
    return y.astype(np.int64)


def _predicted_classes(y_score: np.ndarray) -> np.ndarray:
    """Class ids from ``(N, K)`` scores (argmax) or from ``(N,)`` integer predictions."""
    if y_score.ndim == 2:
        return np.argmax(y_score, axis=1)  # (N,)
    return _class_ids(y_score, "y_score (1-D predictions)")


def _to_onehot(y: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.zeros((y.shape[0], n_classes), dtype=np.int8)  # (N, K)
    out[np.arange(y.shape[0]), y] = 1
    return out


# -- ROC AUC ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AucReport:
    """ROC AUC per label and their macro average.

    Attributes:
        macro: mean AUC over the labels that could be scored.
        per_class: label name -> AUC for every scored label.
        dropped: names of labels excluded because their ``y_true`` column holds a single value.
        n_labels: number of labels given (scored + dropped).
    """

    macro: float
    per_class: dict[str, float]
    dropped: list[str] = field(default_factory=list)
    n_labels: int = 0


def _binary_auc_columns(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """AUC of every column of 0/1 targets ``y`` (N, L) against scores ``s`` (N, L); NaN where undefined.

    Uses the Mann-Whitney rank identity with average ranks for ties (ties count one half), which equals
    sklearn's ``roc_auc_score``.
    """
    pos = y.astype(bool)
    n_pos = pos.sum(axis=0).astype(np.float64)  # (L,)
    n_neg = y.shape[0] - n_pos
    ranks = stats.rankdata(s, axis=0)  # (N, L)
    rank_sum = np.where(pos, ranks, 0.0).sum(axis=0)  # (L,)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    auc[(n_pos == 0) | (n_neg == 0)] = np.nan
    return auc


def roc_auc_report(y_true: Any, y_score: Any, labels: Sequence[str] | None = None) -> AucReport:
    """Per-label ROC AUC and the macro average, with single-valued labels excluded and reported.

    Args:
        y_true: ``(N, L)`` 0/1 multi-label targets, ``(N,)`` class ids (multi-class, one-vs-rest against
            the columns of ``y_score``) or ``(N,)`` 0/1 with a 1-D ``y_score`` (binary).
        y_score: ``(N, L)`` / ``(N, K)`` scores, or ``(N,)`` for the binary case.
        labels: names of the L labels / K classes; default ``"0"``, ``"1"``, ...

    Raises:
        DataError: shapes do not match, values are not finite, targets are not 0/1 or valid class ids.
        UndefinedMetricError: every label holds a single value, so no AUC is defined.
    """
    yt = _as_finite(y_true, "y_true")
    ys = _as_finite(y_score, "y_score").astype(np.float64)
    _check_len(yt, ys)
    if ys.ndim == 1:
        ys = ys[:, None]  # (N, 1)
        if yt.ndim == 1:
            yt = yt[:, None]  # (N, 1)
    if ys.ndim != 2:
        raise DataError(f"y_score must be (N,) or (N, L), got shape {ys.shape}")
    if yt.ndim == 1:  # multi-class ids against K score columns
        ids = _class_ids(yt, "y_true")
        if ids.size and ids.max() >= ys.shape[1]:
            raise DataError(
                f"y_true holds class id {int(ids.max())} but y_score has only {ys.shape[1]} columns"
            )
        yt = _to_onehot(ids, ys.shape[1])  # (N, K)
    if yt.shape != ys.shape:
        raise DataError(f"y_true has shape {yt.shape} but y_score has shape {ys.shape}")
    if not np.all((yt == 0) | (yt == 1)):
        raise DataError("multi-label y_true must hold only 0 and 1")
    names = [str(i) for i in range(ys.shape[1])] if labels is None else [str(n) for n in labels]
    if len(names) != ys.shape[1]:
        raise DataError(f"got {len(names)} label names for {ys.shape[1]} score columns")
    auc = _binary_auc_columns(yt, ys)
    per_class = {n: float(a) for n, a in zip(names, auc, strict=True) if np.isfinite(a)}
    dropped = [n for n, a in zip(names, auc, strict=True) if not np.isfinite(a)]
    if not per_class:
        raise UndefinedMetricError(
            f"ROC AUC is undefined: all {len(names)} labels hold a single value in y_true "
            "(each needs both positives and negatives)"
        )
    return AucReport(
        macro=float(np.mean(list(per_class.values()))),
        per_class=per_class,
        dropped=dropped,
        n_labels=len(names),
    )


def roc_auc_per_class(
    y_true: Any, y_score: Any, labels: Sequence[str] | None = None
) -> tuple[dict[str, float], list[str]]:
    """Per-label ROC AUC and the labels dropped for holding a single value (see :func:`roc_auc_report`)."""
    rep = roc_auc_report(y_true, y_score, labels)
    return rep.per_class, rep.dropped


def roc_auc_macro(y_true: Any, y_score: Any) -> float:
    """Macro ROC AUC over the labels with both values present (see :func:`roc_auc_report`)."""
    rep = roc_auc_report(y_true, y_score)
    if rep.dropped:
        log.debug("roc_auc_macro: dropped %d single-valued labels: %s", len(rep.dropped), rep.dropped)
    return rep.macro


# -- classification -----------------------------------------------------------------------------------
def accuracy(y_true: Any, y_score: Any) -> float:
    """Fraction of records whose predicted class (argmax of ``(N, K)`` scores, or ``(N,)`` ids) is right."""
    yt = _class_ids(_as_finite(y_true, "y_true"), "y_true")
    ys = _as_finite(y_score, "y_score")
    _check_len(yt, ys)
    return float(np.mean(_predicted_classes(ys) == yt))


def balanced_accuracy(y_true: Any, y_score: Any) -> float:
    """Mean per-class recall over the classes present in ``y_true`` (chance level 1/K)."""
    yt = _class_ids(_as_finite(y_true, "y_true"), "y_true")
    ys = _as_finite(y_score, "y_score")
    _check_len(yt, ys)
    pred = _predicted_classes(ys)
    recalls = [float(np.mean(pred[yt == c] == c)) for c in np.unique(yt)]
    return float(np.mean(recalls))


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros(tp.shape, dtype=np.float64), where=denom > 0)


def f1_macro(y_true: Any, y_score: Any, threshold: float = 0.0) -> float:
    """Macro F1.

    Multi-class (``y_true`` 1-D): predictions are the argmax of ``(N, K)`` scores (or ``(N,)`` ids); the
    average runs over the classes present in ``y_true`` or predicted. Multi-label (``y_true`` ``(N, L)``):
    a label is predicted where its score exceeds ``threshold`` (default 0.0: logits, i.e. probability 0.5);
    the average runs over all L labels, a label without true or predicted positives scoring 0.
    """
    yt = _as_finite(y_true, "y_true")
    ys = _as_finite(y_score, "y_score")
    _check_len(yt, ys)
    if yt.ndim == 2:
        if ys.shape != yt.shape:
            raise DataError(f"multi-label y_true has shape {yt.shape} but y_score has shape {ys.shape}")
        t = yt.astype(bool)
        p = ys > threshold
        tp = (t & p).sum(axis=0)
        fp = (~t & p).sum(axis=0)
        fn = (t & ~p).sum(axis=0)
        return float(np.mean(_f1(tp, fp, fn)))
    ids = _class_ids(yt, "y_true")
    pred = _predicted_classes(ys)
    classes = np.union1d(ids, pred)
    tp = np.array([np.sum((pred == c) & (ids == c)) for c in classes])
    fp = np.array([np.sum((pred == c) & (ids != c)) for c in classes])
    fn = np.array([np.sum((pred != c) & (ids == c)) for c in classes])
    return float(np.mean(_f1(tp, fp, fn)))


# -- regression ---------------------------------------------------------------------------------------
def _regression_pair(y_true: Any, y_score: Any) -> tuple[np.ndarray, np.ndarray]:
    yt = _as_finite(y_true, "y_true").astype(np.float64)
    ys = _as_finite(y_score, "y_score").astype(np.float64)
    _check_len(yt, ys)
    if yt.ndim == 1:
        yt = yt[:, None]  # (N, 1)
    if ys.ndim == 1:
        ys = ys[:, None]  # (N, 1)
    if yt.shape != ys.shape or yt.ndim != 2:
        raise DataError(f"regression y_true {yt.shape} and y_score {ys.shape} must both be (N,) or (N, L)")
    return yt, ys


def r2(y_true: Any, y_score: Any) -> float:
    """Coefficient of determination, averaged uniformly over outputs.

    Raises:
        UndefinedMetricError: a target column is constant (its total variance is zero).
    """
    yt, ys = _regression_pair(y_true, y_score)
    ss_tot = ((yt - yt.mean(axis=0)) ** 2).sum(axis=0)  # (L,)
    if np.any(ss_tot == 0):
        raise UndefinedMetricError("R² is undefined: a target column of y_true is constant")
    ss_res = ((yt - ys) ** 2).sum(axis=0)  # (L,)
    return float(np.mean(1.0 - ss_res / ss_tot))


def pearson_r(y_true: Any, y_score: Any) -> float:
    """Pearson correlation between targets and predictions, averaged uniformly over outputs.

    Raises:
        UndefinedMetricError: a target or prediction column is constant.
    """
    yt, ys = _regression_pair(y_true, y_score)
    if yt.shape[0] < 2:
        raise UndefinedMetricError("Pearson r needs at least two records")
    a = yt - yt.mean(axis=0)
    b = ys - ys.mean(axis=0)
    den = np.sqrt((a**2).sum(axis=0) * (b**2).sum(axis=0))  # (L,)
    if np.any(den == 0):
        raise UndefinedMetricError("Pearson r is undefined: a column of y_true or y_score is constant")
    return float(np.mean((a * b).sum(axis=0) / den))


# -- dispatch -----------------------------------------------------------------------------------------
#: name -> metric function ``(y_true, y_score) -> float``; every metric is "higher is better".
METRICS: dict[str, Callable[[Any, Any], float]] = {
    "auc_macro": roc_auc_macro,
    "accuracy": accuracy,
    "balanced_accuracy": balanced_accuracy,
    "f1_macro": f1_macro,
    "r2": r2,
    "pearson_r": pearson_r,
}


def compute_metric(name: str, y_true: Any, y_score: Any) -> float:
    """Compute the metric called ``name`` (a key of :data:`METRICS`).

    Raises:
        ConfigError: unknown metric name (the message lists the valid ones).
    """
    fn = METRICS.get(name)
    if fn is None:
        raise ConfigError(f"unknown metric {name!r}; valid metrics: {', '.join(sorted(METRICS))}")
    return fn(y_true, y_score)


# -- uncertainty and chance ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BootstrapCI:
    """A percentile bootstrap interval; unpacks as ``lo, hi = ci``.

    Attributes:
        lo: lower percentile bound.
        hi: upper percentile bound.
        n_boot: resamples drawn.
        n_skipped: resamples on which the metric was undefined (not part of the interval).
    """

    lo: float
    hi: float
    n_boot: int
    n_skipped: int

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield self.lo
        yield self.hi

    def as_list(self) -> list[float]:
        """``[lo, hi]``, the form stored in result JSON."""
        return [self.lo, self.hi]


def bootstrap_ci(
    metric_fn: Callable[[Any, Any], float] | str,
    y_true: Any,
    y_score: Any,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> BootstrapCI:
    """Percentile bootstrap confidence interval of a metric, resampling records with replacement.

    Resamples on which the metric is undefined (:class:`UndefinedMetricError`, or a non-finite value) are
    skipped and counted in :attr:`BootstrapCI.n_skipped` (also logged).

    Args:
        metric_fn: a function ``(y_true, y_score) -> float`` or a name in :data:`METRICS`.
        y_true: targets, first axis = records.
        y_score: scores, first axis = records.
        n_boot: number of resamples.
        seed: seed of the resampling generator.
        alpha: the interval covers ``1 - alpha``.

    Raises:
        ConfigError: ``n_boot < 1`` or ``alpha`` outside (0, 1).
        UndefinedMetricError: the metric is undefined on every resample.
    """
    if n_boot < 1:
        raise ConfigError(f"bootstrap_ci needs n_boot >= 1, got {n_boot}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"bootstrap_ci needs 0 < alpha < 1, got {alpha}")
    if isinstance(metric_fn, str):
        if metric_fn not in METRICS:
            raise ConfigError(f"unknown metric {metric_fn!r}; valid metrics: {', '.join(sorted(METRICS))}")
        fn = METRICS[metric_fn]
    else:
        fn = metric_fn
    yt = np.asarray(y_true)
    ys = np.asarray(y_score)
    _check_len(yt, ys)
    n = yt.shape[0]
    rng = np.random.default_rng(seed)
    values: list[float] = []
    skipped = 0
    for _ in range(n_boot):
        idx = rng.integers(0, n, size=n)  # (N,)
        try:
            v = float(fn(yt[idx], ys[idx]))
        except UndefinedMetricError:
            skipped += 1
            continue
        if not np.isfinite(v):
            skipped += 1
            continue
        values.append(v)
    if not values:
        raise UndefinedMetricError(f"the metric was undefined on all {n_boot} bootstrap resamples")
    if skipped:
        log.info("bootstrap_ci: skipped %d of %d resamples where the metric was undefined", skipped, n_boot)
    lo, hi = np.quantile(np.asarray(values), [alpha / 2.0, 1.0 - alpha / 2.0])
    return BootstrapCI(lo=float(lo), hi=float(hi), n_boot=n_boot, n_skipped=skipped)


def binomial_chance_bound(n: int, p_chance: float, alpha: float = 0.05) -> float:
    """The accuracy that a chance classifier exceeds with probability at most ``alpha``.

    With ``k`` the ``1 - alpha`` quantile of ``Binomial(n, p_chance)``, ``P(correct > k) <= alpha``; the
    bound is ``k / n``. An observed accuracy strictly above it is better than chance at level ``alpha``.

    Args:
        n: number of test records (independent trials).
        p_chance: chance accuracy (e.g. 1/K for K balanced classes, or the majority-class rate).
        alpha: significance level.

    Raises:
        ConfigError: ``n < 1`` or probabilities outside (0, 1).
    """
    if n < 1:
        raise ConfigError(f"binomial_chance_bound needs n >= 1 records, got {n}")
    if not 0.0 < p_chance < 1.0:
        raise ConfigError(f"binomial_chance_bound needs 0 < p_chance < 1, got {p_chance}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"binomial_chance_bound needs 0 < alpha < 1, got {alpha}")
    k = float(stats.binom.ppf(1.0 - alpha, n, p_chance))
    return k / n
