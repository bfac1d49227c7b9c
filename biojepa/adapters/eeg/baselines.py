"""Classical BCI baselines as scikit-learn estimators: CSP+LDA (MI), xDAWN/epoch LDA (ERP), CCA (SSVEP).

Every estimator takes trials ``X`` of shape ``(n_trials, n_channels, n_times)`` (float, µV, sampled at
``sfreq``, 128 Hz after S-JEPA preprocessing) and labels ``y`` ``(n_trials,)``, and implements ``fit``,
``predict`` and ``decision_function`` (the LDA ones also ``predict_proba``). ``decision_function`` follows
scikit-learn: ``(n,)`` scores for the second class of ``classes_`` when there are two classes, ``(n, K)``
otherwise. They can be cloned, cross-validated and put in pipelines like any scikit-learn classifier.

MNE (the ``eeg`` extra) is imported only inside :meth:`CspLda.fit`; importing this module loads numpy,
scipy and scikit-learn only.

Pipelines (research note eeg.md §3.2 gives MOABB's paradigm defaults):

* :class:`CspLda`: zero-phase band-pass (8-30 Hz) -> ``mne.decoding.CSP(log=True)`` -> LDA.
* :class:`XdawnLda`: band-pass (1-20 Hz) -> per-class xDAWN spatial filters (generalised eigenproblem of the
  class-evoked covariance against the regularised signal covariance) -> bin-average by ``decim`` -> flatten
  -> shrinkage LDA.
* :class:`EpochLda`: band-pass (1-20 Hz) -> bin-average by ``decim`` -> flatten -> shrinkage LDA.
* :class:`CcaSsvep`: canonical correlation between each trial and sin/cos references at every stimulus
  frequency and its harmonics; no training.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import scipy.linalg
import scipy.signal
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.utils.validation import check_is_fitted

from biojepa._optional import require
from biojepa.data.signal import zero_phase_sos
from biojepa.errors import ConfigError, ContractError, DataError
from biojepa.eval.metrics import accuracy, balanced_accuracy, roc_auc_macro

__all__ = [
    "BASELINE_METRICS",
    "PARADIGMS",
    "CcaSsvep",
    "CspLda",
    "EpochLda",
    "XdawnLda",
    "canonical_correlation",
    "make_baseline",
    "score",
    "ssvep_references",
    "xdawn_filters",
]

#: paradigms :func:`make_baseline` knows
PARADIGMS = ("mi", "erp", "ssvep")
#: metrics :func:`score` computes ("auc_macro" is an alias of "roc_auc")
BASELINE_METRICS = ("accuracy", "balanced_accuracy", "roc_auc", "auc_macro")


# -- input checks and signal helpers ------------------------------------------------------------------
def _check_trials(X: Any, who: str) -> np.ndarray:
    """``X`` as float64 ``(n, C, T)`` after shape and finiteness checks."""
    arr = np.asarray(X)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise DataError(f"{who} needs numeric trials, got dtype {arr.dtype}")
    if arr.ndim != 3:
        raise DataError(
            f"{who} needs trials shaped (n_trials, n_channels, n_times), got shape {arr.shape}; stack the "
            "epochs of one recording along the first axis"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0 or arr.shape[2] < 2:
        raise DataError(f"{who} needs at least one trial, one channel and two samples, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{who}: the trials hold NaN/inf samples; interpolate or drop those trials first")
    return arr.astype(np.float64, copy=False)


def _check_labels(y: Any, n: int, who: str) -> np.ndarray:
    ya = np.asarray(y)
    if ya.ndim != 1 or ya.shape[0] != n:
        raise DataError(f"{who} needs one label per trial: y must be shaped ({n},), got {ya.shape}")
    return ya


def _check_band(fmin: float | None, fmax: float, sfreq: float, who: str) -> None:
    if not sfreq > 0:
        raise ConfigError(f"{who}: sfreq must be > 0 Hz, got {sfreq}")
    lo = 0.0 if fmin is None else float(fmin)
    if not 0.0 <= lo < float(fmax) < sfreq / 2:
        raise ConfigError(
            f"{who}: pass band must satisfy 0 <= fmin < fmax < Nyquist ({sfreq / 2:g} Hz), got fmin={fmin}, "
            f"fmax={fmax}; lower fmax or use data sampled faster"
        )


def _filter(X: np.ndarray, sfreq: float, fmin: float | None, fmax: float, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth band-pass (low-pass when ``fmin`` is None or 0) along time; float64 out."""
    if fmin is None or fmin <= 0:
        sos = scipy.signal.butter(order, float(fmax), btype="lowpass", fs=float(sfreq), output="sos")
    else:
        sos = scipy.signal.butter(
            order, [float(fmin), float(fmax)], btype="bandpass", fs=float(sfreq), output="sos"
        )
    return zero_phase_sos(X, sfreq, sos).astype(np.float64)  # (n, C, T)


def _bin_average(X: np.ndarray, decim: int) -> np.ndarray:
    """Mean over consecutive blocks of ``decim`` samples (boxcar anti-alias + decimation); drops the tail."""
    n, c, t = X.shape
    t_out = t // decim
    return X[..., : t_out * decim].reshape(n, c, t_out, decim).mean(axis=-1)  # (n, C, T // decim)


def _check_decim(decim: int, n_times: int, who: str) -> None:
    if isinstance(decim, bool) or not isinstance(decim, (int, np.integer)) or decim < 1:
        raise ConfigError(f"{who}: decim must be an integer >= 1, got {decim!r}")
    if n_times // decim < 1:
        raise ContractError(f"{who}: trials of {n_times} samples are shorter than decim={decim}; lower decim")


# -- shared LDA-based classifier ----------------------------------------------------------------------
class _LdaClassifier(ClassifierMixin, BaseEstimator):
    """Features from :meth:`_fit_features` / :meth:`_features`, then an LDA held in ``lda_``."""

    _same_n_times = True  # whether predict() needs trials of the training length

    def _fit_features(self, X: np.ndarray, codes: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _features(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _make_lda(self) -> LinearDiscriminantAnalysis:
        return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")

    def fit(self, X: Any, y: Any) -> _LdaClassifier:
        """Fit on trials ``X`` ``(n, C, T)`` and labels ``y`` ``(n,)`` (at least two classes).

        Raises:
            DataError: bad shapes, non-finite samples, or fewer than two classes.
            ConfigError: invalid hyper-parameters.
        """
        who = type(self).__name__
        Xa = _check_trials(X, who)
        ya = _check_labels(y, Xa.shape[0], who)
        classes, codes = np.unique(ya, return_inverse=True)
        if classes.size < 2:
            raise DataError(
                f"{who} needs trials of at least two classes to train, got only class {classes.tolist()!r}; "
                "check the labels or the split"
            )
        self.classes_ = classes
        self.n_channels_ = int(Xa.shape[1])
        self.n_times_ = int(Xa.shape[2])
        feats = self._fit_features(Xa, codes.reshape(-1))  # (n, F)
        self.lda_ = self._make_lda().fit(feats, codes.reshape(-1))
        return self

    def _checked(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "lda_")
        who = type(self).__name__
        Xa = _check_trials(X, who)
        if Xa.shape[1] != self.n_channels_:
            raise ContractError(
                f"{who} was fitted on {self.n_channels_} channels but got trials with {Xa.shape[1]}; pass "
                "the same channels in the same order"
            )
        if self._same_n_times and Xa.shape[2] != self.n_times_:
            raise ContractError(
                f"{who} was fitted on trials of {self.n_times_} samples but got {Xa.shape[2]}; crop the "
                "trials to the training length"
            )
        return Xa

    def decision_function(self, X: Any) -> np.ndarray:
        """LDA scores: ``(n,)`` for two classes (positive = ``classes_[1]``), ``(n, K)`` otherwise."""
        feats = self._features(self._checked(X))  # (n, F)
        return self.lda_.decision_function(feats)

    def predict_proba(self, X: Any) -> np.ndarray:
        """LDA posterior probabilities ``(n, K)`` in the order of ``classes_``."""
        feats = self._features(self._checked(X))  # (n, F)
        return self.lda_.predict_proba(feats)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels ``(n,)`` (values of ``classes_``)."""
        feats = self._features(self._checked(X))  # (n, F)
        codes = self.lda_.predict(feats)  # (n,)
        return self.classes_[codes]


class CspLda(_LdaClassifier):
    """Band-pass -> CSP log-variance features (MNE) -> LDA, the standard motor-imagery baseline.

    Args:
        n_components: CSP components kept (<= number of channels).
        fmin: lower edge of the zero-phase Butterworth band-pass, Hz.
        fmax: upper edge, Hz.
        sfreq: sampling rate of the trials, Hz.
        reg: covariance regularisation passed to ``mne.decoding.CSP`` (None, a float or e.g. "ledoit_wolf").
    """

    _same_n_times = False  # log-variance features do not depend on the trial length

    def __init__(
        self,
        n_components: int = 4,
        fmin: float = 8.0,
        fmax: float = 30.0,
        sfreq: float = 128.0,
        reg: float | str | None = None,
    ) -> None:
        self.n_components = n_components
        self.fmin = fmin
        self.fmax = fmax
        self.sfreq = sfreq
        self.reg = reg

    def _make_lda(self) -> LinearDiscriminantAnalysis:
        return LinearDiscriminantAnalysis()

    def _fit_features(self, X: np.ndarray, codes: np.ndarray) -> np.ndarray:
        _check_band(self.fmin, self.fmax, self.sfreq, "CspLda")
        if not 1 <= int(self.n_components) <= X.shape[1]:
            raise ConfigError(
                f"CspLda: n_components must be between 1 and the {X.shape[1]} channels, "
                f"got {self.n_components}"
            )
        mne = require("mne", extra="eeg", purpose="the CSP+LDA motor-imagery baseline")
        decoding = require("mne.decoding", extra="eeg", purpose="the CSP+LDA motor-imagery baseline")
        self.csp_ = decoding.CSP(n_components=int(self.n_components), reg=self.reg, log=True)
        with mne.utils.use_log_level("error"):
            return self.csp_.fit_transform(_filter(X, self.sfreq, self.fmin, self.fmax), codes)  # (n, F)

    def _features(self, X: np.ndarray) -> np.ndarray:
        return self.csp_.transform(_filter(X, self.sfreq, self.fmin, self.fmax))  # (n, n_components)


def xdawn_filters(X: np.ndarray, codes: np.ndarray, n_filters: int, reg: float = 0.01) -> np.ndarray:
    """Per-class xDAWN spatial filters, stacked class by class.

    For each class ``c`` the evoked response ``P_c`` (mean trial, ``(C, T)``) gives the evoked covariance
    ``A_c = P_c P_cᵀ / T``; the signal covariance ``S`` is that of all (channel-centred) trials, shrunk as
    ``(1 - reg) S + reg tr(S)/C I``. The filters are the ``n_filters`` leading generalised eigenvectors of
    ``A_c w = λ S w``: the projections with the highest evoked-to-total power ratio.

    Args:
        X: ``(n, C, T)`` trials.
        codes: ``(n,)`` class codes ``0..K-1``.
        n_filters: filters per class.
        reg: shrinkage of the signal covariance towards a scaled identity, in [0, 1].

    Returns:
        ``(C, K * n_filters)`` filters.

    Raises:
        DataError: the (shrunk) signal covariance is singular, which needs ``reg > 0``.
    """
    n, c, t = X.shape
    centred = X - X.mean(axis=-1, keepdims=True)  # (n, C, T)
    sig = np.einsum("nct,ndt->cd", centred, centred) / (n * t)  # (C, C)
    shrunk = (1.0 - reg) * sig + reg * (np.trace(sig) / c) * np.eye(c)  # (C, C)
    filters = []
    for k in np.unique(codes):
        evoked = X[codes == k].mean(axis=0)  # (C, T)
        evoked = evoked - evoked.mean(axis=-1, keepdims=True)
        a = evoked @ evoked.T / t  # (C, C)
        try:
            _, vecs = scipy.linalg.eigh(a, shrunk)  # ascending eigenvalues
        except np.linalg.LinAlgError as exc:
            raise DataError(
                f"xDAWN: the signal covariance is singular ({exc}); the trials are rank-deficient (e.g. "
                "average-referenced or with duplicated/flat channels); use reg > 0"
            ) from exc
        filters.append(vecs[:, ::-1][:, :n_filters])  # (C, n_filters)
    return np.concatenate(filters, axis=1)  # (C, K * n_filters)


class XdawnLda(_LdaClassifier):
    """Band-pass -> xDAWN spatial filters per class -> bin-average -> shrinkage LDA, a P300 baseline.

    Args:
        n_filters: xDAWN filters per class (<= number of channels).
        decim: samples averaged into one feature sample (8 at 128 Hz: 16 Hz feature rate).
        fmin: lower band-pass edge, Hz (None or 0: low-pass only).
        fmax: upper band-pass edge, Hz.
        sfreq: sampling rate of the trials, Hz.
        reg: shrinkage of the signal covariance in the xDAWN eigenproblem, in [0, 1]. Small values keep the
            filters able to null strong spatially structured noise; a value > 0 keeps the problem defined on
            rank-deficient (e.g. average-referenced) data.
    """

    def __init__(
        self,
        n_filters: int = 2,
        decim: int = 8,
        fmin: float | None = 1.0,
        fmax: float = 20.0,
        sfreq: float = 128.0,
        reg: float = 0.01,
    ) -> None:
        self.n_filters = n_filters
        self.decim = decim
        self.fmin = fmin
        self.fmax = fmax
        self.sfreq = sfreq
        self.reg = reg

    def _fit_features(self, X: np.ndarray, codes: np.ndarray) -> np.ndarray:
        _check_band(self.fmin, self.fmax, self.sfreq, "XdawnLda")
        _check_decim(self.decim, X.shape[2], "XdawnLda")
        if not 1 <= int(self.n_filters) <= X.shape[1]:
            raise ConfigError(
                f"XdawnLda: n_filters must be between 1 and the {X.shape[1]} channels, got {self.n_filters}"
            )
        if not 0.0 <= float(self.reg) <= 1.0:
            raise ConfigError(f"XdawnLda: reg must be in [0, 1], got {self.reg}")
        filtered = _filter(X, self.sfreq, self.fmin, self.fmax)  # (n, C, T)
        self.filters_ = xdawn_filters(filtered, codes, int(self.n_filters), float(self.reg))  # (C, F)
        return self._project(filtered)

    def _project(self, filtered: np.ndarray) -> np.ndarray:
        virt = np.einsum("cf,nct->nft", self.filters_, filtered)  # (n, F, T)
        return _bin_average(virt, int(self.decim)).reshape(filtered.shape[0], -1)  # (n, F * T')

    def _features(self, X: np.ndarray) -> np.ndarray:
        return self._project(_filter(X, self.sfreq, self.fmin, self.fmax))


class EpochLda(_LdaClassifier):
    """Band-pass -> bin-average each channel -> flatten -> shrinkage LDA (no spatial filter), a P300 baseline.

    Args:
        decim: samples averaged into one feature sample.
        fmin: lower band-pass edge, Hz (None or 0: low-pass only).
        fmax: upper band-pass edge, Hz.
        sfreq: sampling rate of the trials, Hz.
    """

    def __init__(
        self, decim: int = 8, fmin: float | None = 1.0, fmax: float = 20.0, sfreq: float = 128.0
    ) -> None:
        self.decim = decim
        self.fmin = fmin
        self.fmax = fmax
        self.sfreq = sfreq

    def _fit_features(self, X: np.ndarray, codes: np.ndarray) -> np.ndarray:
        _check_band(self.fmin, self.fmax, self.sfreq, "EpochLda")
        _check_decim(self.decim, X.shape[2], "EpochLda")
        return self._features(X)

    def _features(self, X: np.ndarray) -> np.ndarray:
        binned = _bin_average(_filter(X, self.sfreq, self.fmin, self.fmax), int(self.decim))  # (n, C, T')
        return binned.reshape(X.shape[0], -1)  # (n, C * T')


# -- CCA for SSVEP ------------------------------------------------------------------------------------
def _orth_basis(m: np.ndarray, rtol: float = 1e-10) -> np.ndarray:
    """Orthonormal basis ``(T, r)`` of the column space of the column-centred ``m`` ``(T, p)`` (rank r)."""
    u, s, _ = np.linalg.svd(m - m.mean(axis=0), full_matrices=False)
    if s.size == 0 or s[0] <= 0:
        return u[:, :0]
    return u[:, s > rtol * s[0]]


def canonical_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Largest canonical correlation between the columns of ``a`` ``(T, p)`` and ``b`` ``(T, q)``.

    Computed as the largest singular value of ``Qaᵀ Qb`` with ``Qa``, ``Qb`` orthonormal bases of the centred
    column spaces (SVD with rank truncation, so collinear channels cannot inflate it); 0 if either is
    constant.
    """
    qa, qb = _orth_basis(a), _orth_basis(b)
    if qa.shape[1] == 0 or qb.shape[1] == 0:
        return 0.0
    return float(min(1.0, np.linalg.svd(qa.T @ qb, compute_uv=False)[0]))


def ssvep_references(freq: float, n_times: int, sfreq: float, n_harmonics: int) -> np.ndarray:
    """sin/cos references ``(T, 2H)`` at ``freq`` and its harmonics below Nyquist (H of them at most)."""
    t = np.arange(n_times) / float(sfreq)  # (T,)
    cols = []
    for h in range(1, int(n_harmonics) + 1):
        if h * freq >= sfreq / 2:
            break
        cols += [np.sin(2 * np.pi * h * freq * t), np.cos(2 * np.pi * h * freq * t)]
    return np.stack(cols, axis=1)  # (T, 2H)


class CcaSsvep(ClassifierMixin, BaseEstimator):
    """Canonical-correlation SSVEP detector: the class whose stimulus frequency correlates best wins.

    For every trial and every class frequency ``f`` the largest canonical correlation between the trial's
    channels and sin/cos references at ``f, 2f, ..., n_harmonics f`` (harmonics at or above Nyquist are
    left out) is computed. Nothing is learnt: :meth:`fit` only checks the labels against ``freqs``.

    Args:
        freqs: class label -> stimulus frequency in Hz (at least two classes).
        sfreq: sampling rate of the trials, Hz.
        n_harmonics: harmonics per reference (>= 1).
    """

    def __init__(self, freqs: Mapping[int, float], sfreq: float = 128.0, n_harmonics: int = 2) -> None:
        self.freqs = freqs
        self.sfreq = sfreq
        self.n_harmonics = n_harmonics

    def _check_params(self) -> None:
        if not isinstance(self.freqs, Mapping) or len(self.freqs) < 2:
            raise ConfigError(
                f"CcaSsvep needs freqs as a mapping class -> Hz with at least two classes, got {self.freqs!r}"
            )
        if not self.sfreq > 0:
            raise ConfigError(f"CcaSsvep: sfreq must be > 0 Hz, got {self.sfreq}")
        bad = {k: f for k, f in self.freqs.items() if not 0 < float(f) < self.sfreq / 2}
        if bad:
            raise ConfigError(
                f"CcaSsvep: stimulus frequencies must lie in (0, Nyquist={self.sfreq / 2:g} Hz), got {bad}"
            )
        if (
            isinstance(self.n_harmonics, bool)
            or not isinstance(self.n_harmonics, (int, np.integer))
            or (self.n_harmonics < 1)
        ):
            raise ConfigError(f"CcaSsvep: n_harmonics must be an integer >= 1, got {self.n_harmonics!r}")

    def fit(self, X: Any, y: Any) -> CcaSsvep:
        """Check ``X`` ``(n, C, T)`` and that every label of ``y`` has a frequency in ``freqs``.

        Raises:
            ConfigError: invalid ``freqs`` / ``sfreq`` / ``n_harmonics``.
            DataError: bad shapes, or labels without a stimulus frequency.
        """
        self._check_params()
        Xa = _check_trials(X, "CcaSsvep")
        ya = _check_labels(y, Xa.shape[0], "CcaSsvep")
        classes = np.array(sorted(self.freqs))
        unknown = sorted(set(np.unique(ya).tolist()) - set(classes.tolist()))
        if unknown:
            raise DataError(
                f"CcaSsvep: labels {unknown!r} have no stimulus frequency; freqs covers {classes.tolist()!r}"
            )
        self.classes_ = classes
        self.n_channels_ = int(Xa.shape[1])
        return self

    def correlations(self, X: Any) -> np.ndarray:
        """Largest canonical correlation of every trial with every class's references, ``(n, K)``."""
        check_is_fitted(self, "classes_")
        Xa = _check_trials(X, "CcaSsvep")
        if Xa.shape[1] != self.n_channels_:
            raise ContractError(
                f"CcaSsvep was fitted on {self.n_channels_} channels but got trials with {Xa.shape[1]}"
            )
        n_times = Xa.shape[2]
        refs = [
            _orth_basis(ssvep_references(float(self.freqs[c]), n_times, self.sfreq, self.n_harmonics))
            for c in self.classes_.tolist()
        ]
        out = np.zeros((Xa.shape[0], len(refs)))  # (n, K)
        for i, trial in enumerate(Xa):
            q = _orth_basis(trial.T)  # (T, r)
            if q.shape[1] == 0:
                continue
            for j, qr in enumerate(refs):
                out[i, j] = min(1.0, np.linalg.svd(q.T @ qr, compute_uv=False)[0])
        return out

    def decision_function(self, X: Any) -> np.ndarray:
        """Correlations ``(n, K)``; for two classes the difference ``corr[:, 1] - corr[:, 0]`` ``(n,)``."""
        corr = self.correlations(X)
        return corr[:, 1] - corr[:, 0] if corr.shape[1] == 2 else corr

    def predict(self, X: Any) -> np.ndarray:
        """The class of the largest canonical correlation, ``(n,)``."""
        return self.classes_[np.argmax(self.correlations(X), axis=1)]


# -- factory and scoring ------------------------------------------------------------------------------
def make_baseline(
    paradigm: Literal["mi", "erp", "ssvep"] | str,
    *,
    sfreq: float,
    freqs: Mapping[int, float] | None = None,
) -> tuple[str, BaseEstimator]:
    """The default classical baseline of a BCI paradigm.

    Returns:
        ``("csp_lda", CspLda)`` for ``"mi"``, ``("xdawn_lda", XdawnLda)`` for ``"erp"`` and ``("cca",
        CcaSsvep)`` for ``"ssvep"``, built for ``sfreq``.

    Raises:
        ConfigError: unknown paradigm, or ``"ssvep"`` without ``freqs`` (class -> Hz).
    """
    if paradigm == "mi":
        return "csp_lda", CspLda(sfreq=sfreq)
    if paradigm == "erp":
        return "xdawn_lda", XdawnLda(sfreq=sfreq)
    if paradigm == "ssvep":
        if not freqs:
            raise ConfigError(
                "the SSVEP baseline (CCA) needs the stimulus frequency of every class: pass freqs={class: Hz}"
            )
        return "cca", CcaSsvep(freqs=dict(freqs), sfreq=sfreq)
    raise ConfigError(f"unknown BCI paradigm {paradigm!r}; expected one of {', '.join(PARADIGMS)}")


def _class_codes(estimator: Any, y: Any) -> np.ndarray:
    classes = np.asarray(estimator.classes_)
    ya = np.asarray(y)
    pos = np.clip(np.searchsorted(classes, ya), 0, classes.size - 1)  # (n,)
    if ya.ndim != 1 or not np.array_equal(classes[pos], ya):
        unknown = sorted(set(np.unique(ya).tolist()) - set(classes.tolist())) if ya.ndim == 1 else ya.shape
        raise DataError(f"labels {unknown!r} are not among the classes the estimator was fitted on")
    return pos.astype(np.int64)


def score(estimator: Any, X: Any, y: Any, metric: str) -> float:
    """Score a fitted baseline on ``(X, y)``.

    ``"accuracy"`` / ``"balanced_accuracy"`` use :meth:`predict`; ``"roc_auc"`` (alias ``"auc_macro"``) uses
    ``decision_function`` (``predict_proba`` if there is none): binary AUC for two classes, macro
    one-vs-rest AUC for more.

    Raises:
        ConfigError: unknown metric.
        DataError: labels the estimator was not fitted on, or shapes that do not match.
        UndefinedMetricError: ROC-AUC on a test set holding a single class.
    """
    if metric not in BASELINE_METRICS:
        raise ConfigError(
            f"unknown baseline metric {metric!r}; expected one of {', '.join(BASELINE_METRICS)}"
        )
    codes = _class_codes(estimator, y)
    if metric in ("accuracy", "balanced_accuracy"):
        pred = _class_codes(estimator, estimator.predict(X))
        return accuracy(codes, pred) if metric == "accuracy" else balanced_accuracy(codes, pred)
    if hasattr(estimator, "decision_function"):
        scores = np.asarray(estimator.decision_function(X), dtype=np.float64)
    else:
        scores = np.asarray(estimator.predict_proba(X), dtype=np.float64)
        if scores.ndim == 2 and scores.shape[1] == 2:
            scores = scores[:, 1]  # (n,)
    return roc_auc_macro(codes, scores)
