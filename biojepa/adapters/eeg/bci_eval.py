"""``biojepa finetune bci``: S-JEPA downstream evaluation on BCI paradigms (MI, ERP/P300, SSVEP).

Protocol (research note eeg.md §1.4): trials are cut from the preprocessed recordings
(:func:`~biojepa.adapters.eeg.trials.load_trials`: 0.5–40 Hz, 128 Hz, µV), split within subject (stratified
k-fold per subject) or across subjects (leave one subject out; a subject's trials are never in both training
and test), and each split trains a :class:`~biojepa.adapters.eeg.classifier.SignalJepaClassifier`
(``pre_local`` / ``post_local`` / ``contextual``) under the ``new`` or ``full`` scheme with early stopping on a
validation part of the training trials (:func:`~biojepa.eval.supervised.fit_classifier`).

Rows of the result (DESIGN.md §5), each over the same splits:

* ``pretrained``: the classifier around the pretrained encoder (one ``--model`` per seed, or one for all);
* ``random_init``: the same architecture and scheme from a random initialisation (seeded);
* the classical baseline of the paradigm (``csp_lda`` for MI, ``xdawn_lda`` for ERP, ``cca`` for SSVEP);
* ``chance``: the majority-class rate (accuracy) or 0.5 (ROC-AUC). For accuracy every row carries
  ``chance_bound``, the binomial 95 % bound for the number of test trials: an accuracy strictly above it beats
  chance at the 5 % level (:func:`biojepa.eval.metrics.binomial_chance_bound`); every row also carries a
  label-permutation ``p_value``.

Metrics: accuracy for MI and SSVEP, ROC-AUC (target vs non-target) for ERP. ``value`` is the mean over seeds of
the metric on all test trials of all splits pooled (each trial is tested exactly once per seed); the per-split
values are in ``per_fold``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biojepa.errors import ConfigError, ContractError

__all__ = ["PARADIGM_METRIC", "BciEvalConfig", "run_bci"]

log = logging.getLogger(__name__)

#: The metric of each paradigm (S-JEPA: accuracy for MI and SSVEP, ROC-AUC for ERP).
PARADIGM_METRIC: dict[str, str] = {"mi": "accuracy", "mi_executed": "accuracy", "mi_fists_feet": "accuracy",
                                   "mi_lr": "accuracy", "erp": "roc_auc", "ssvep": "accuracy"}
#: The classical baseline family of each paradigm.
_BASELINE_PARADIGM = {"mi_executed": "mi", "mi_fists_feet": "mi", "mi_lr": "mi"}


@dataclass
class BciEvalConfig:
    """What ``biojepa finetune bci`` runs.

    Attributes:
        paradigm: ``mi`` (imagined movement), ``mi_executed``, ``mi_fists_feet``, ``mi_lr`` (BNCI 2014-001
            left/right), ``erp`` or ``ssvep``.
        data: ``ID=DIR`` (e.g. ``eegmmidb=/data/eegmmidb``), a generated id (``eeg_synthetic``) or a MOABB-backed
            id without a folder (``lee2019``, ``bnci2014_001``; needs ``pip install moabb``).
        models: model directories or ``random:<name>``; one per seed, or one shared by all seeds.
        arch: ``pre_local`` | ``post_local`` | ``contextual``.
        scheme: ``new`` (pretrained parts frozen) | ``full`` (10-epoch warm-up, then everything).
        split: ``within`` (per-subject stratified k-fold) | ``loso`` (leave one subject out).
        folds: k of the within-subject k-fold.
        seeds: number of seeds (0..N-1).
        events: optional marker -> class-name mapping (overrides the dataset's default).
        subjects: optional subject selection (dataset-specific, e.g. ``[1, 2]``).
        n_times: trial length in samples at 128 Hz (default: the paradigm's, e.g. 536 for MI).
        baselines: classical baselines to add (``"default"``: the paradigm's; empty for none).
        max_epochs, patience, warmup_epochs, lr, batch_size: the training protocol (paper: 500, 50, 10, 1e-3, 32).
        val_fraction: share of training trials held out for early stopping.
        n_permutations: label permutations for the p-value of each row (0 to skip).
        device: ``cpu`` or ``cuda``.
    """

    paradigm: str
    data: str
    models: list[str]
    arch: str = "pre_local"
    scheme: str = "new"
    split: str = "within"
    folds: int = 5
    seeds: int = 3
    events: Mapping[str, str] | None = None
    subjects: Sequence[Any] | None = None
    n_times: int | None = None
    baselines: str = "default"
    max_epochs: int = 500
    patience: int = 50
    warmup_epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 32
    val_fraction: float = 0.2
    n_permutations: int = 1000
    device: str = "cpu"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from biojepa.adapters.eeg.classifier import ARCHS

        if self.paradigm not in PARADIGM_METRIC:
            raise ConfigError(f"unknown --paradigm {self.paradigm!r}; expected one of {', '.join(PARADIGM_METRIC)}")
        if self.arch not in ARCHS:
            raise ConfigError(f"unknown --arch {self.arch!r}; expected one of {', '.join(ARCHS)}")
        if self.scheme not in ("new", "full"):
            raise ConfigError(f"unknown --scheme {self.scheme!r}; expected 'new' or 'full'")
        if self.split not in ("within", "loso"):
            raise ConfigError(f"unknown --split {self.split!r}; expected 'within' or 'loso'")
        if not self.models:
            raise ConfigError("--model is required: a model directory or random:eeg_sjepa")
        if self.seeds < 1:
            raise ConfigError(f"--seeds must be >= 1, found {self.seeds}")
        if len(self.models) not in (1, self.seeds):
            raise ConfigError(
                f"give one --model for all seeds or one per seed ({self.seeds}), found {len(self.models)}"
            )


def parse_events(text: str | None) -> dict[str, str] | None:
    """``"T1=left,T2=right"`` -> ``{"T1": "left", "T2": "right"}`` (None for None/empty)."""
    if not text:
        return None
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, val = part.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise ConfigError(f"--events expects MARKER=CLASS pairs separated by commas, found {part!r} in {text!r}")
        out[key.strip()] = val.strip()
    return out


def _data_arg(data: str) -> tuple[str, Path | None]:
    if "=" in data:
        from biojepa.data.sources import parse_data_arg

        return parse_data_arg(data)
    return data.strip(), None


def _metric(metric: str, y: np.ndarray, logits: np.ndarray) -> float:
    if metric == "accuracy":
        return float(np.mean(np.argmax(logits, axis=1) == y))
    from sklearn.metrics import roc_auc_score

    score = logits[:, 1] - logits[:, 0] if logits.ndim == 2 and logits.shape[1] == 2 else logits.ravel()
    return float(roc_auc_score(y, score))


def _score_vector(logits: np.ndarray, metric: str) -> np.ndarray:
    """What the permutation test scores: predicted labels (accuracy) or a decision value (ROC-AUC)."""
    if metric == "accuracy":
        return np.argmax(logits, axis=1)
    return logits[:, 1] - logits[:, 0] if logits.ndim == 2 and logits.shape[1] == 2 else logits.ravel()


def _pvalue(metric: str, y: np.ndarray, logits: np.ndarray, n: int, seed: int) -> float | None:
    if n <= 0:
        return None
    from biojepa.eval.chance import permutation_pvalue

    def fn(yt: np.ndarray, s: np.ndarray) -> float:
        if metric == "accuracy":
            return float(np.mean(s == yt))
        from sklearn.metrics import roc_auc_score

        return float(roc_auc_score(yt, s))

    return float(permutation_pvalue(fn, y, _score_vector(logits, metric), n_permutations=n, seed=seed))


def _check_contract(enc: Any, trials: Any) -> None:
    sig = getattr(getattr(enc, "spec", None), "signal", None)
    if sig is None:
        return
    if sig.sfreq is not None and abs(float(sig.sfreq) - float(trials.sfreq)) > 1e-6:
        raise ContractError(
            f"the model expects {sig.sfreq:g} Hz, the trials are at {trials.sfreq:g} Hz; the BCI trials are "
            "resampled to 128 Hz for S-JEPA models"
        )
    if str(sig.units).lower() not in ("uv", "µv"):
        raise ContractError(f"the model expects {sig.units}, the trials are in µV")


def run_bci(cfg: BciEvalConfig, *, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the BCI evaluation and return the DESIGN.md §5 result dict.

    Raises:
        ConfigError: bad options, an unknown dataset/paradigm pair, too few trials for the split.
        ContractError: the model's sampling rate or units differ from the trials'.
    """
    import torch

    from biojepa.adapters.eeg.baselines import make_baseline
    from biojepa.adapters.eeg.classifier import SignalJepaClassifier
    from biojepa.adapters.eeg.trials import load_trials
    from biojepa.eval.chance import chance_level
    from biojepa.eval.loading import load_encoder, random_like
    from biojepa.eval.metrics import binomial_chance_bound
    from biojepa.eval.results import EvalResult, ResultRow, summarise_seeds
    from biojepa.eval.splits import make_splits
    from biojepa.eval.supervised import SupervisedConfig, fit_classifier, predict_logits

    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    ds_id, root = _data_arg(cfg.data)
    trials = load_trials(ds_id, root, cfg.paradigm, subjects=cfg.subjects, events=cfg.events,
                         n_times=cfg.n_times, **cfg.params)
    X, y = trials.X, np.asarray(trials.y, dtype=np.int64)  # (N, C, T), (N,)
    n_classes = len(trials.class_names)
    metric = PARADIGM_METRIC[cfg.paradigm]
    if metric == "roc_auc" and n_classes != 2:
        raise ConfigError(f"ROC-AUC needs two classes, the trials have {trials.class_names}")
    groups = np.asarray(trials.subjects).astype(str)
    say(f"{ds_id}/{cfg.paradigm}: {len(y)} trials x {X.shape[1]} channels x {X.shape[2]} samples, "
        f"classes {trials.class_names} ({np.bincount(y, minlength=n_classes).tolist()}), "
        f"{len(np.unique(groups))} subject(s)")
    splits_by_seed = {s: make_splits(cfg.split, y, groups, k=cfg.folds, seed=s, val_fraction=cfg.val_fraction)
                      for s in range(cfg.seeds)}

    # -- encoders ------------------------------------------------------------------------------------------
    encoders: list[Any] = []
    pretrained_given = False
    for k, m in enumerate(cfg.models):
        enc = load_encoder(m, seed=k)
        _check_contract(enc, trials)
        pretrained_given |= not m.startswith("random:")
        encoders.append(enc)
    enc_for = (lambda s: encoders[s]) if len(encoders) == cfg.seeds else (lambda s: encoders[0])
    sup = {"lr": cfg.lr, "batch_size": cfg.batch_size, "max_epochs": cfg.max_epochs, "patience": cfg.patience,
           "warmup_epochs": cfg.warmup_epochs}

    def run_variant(name: str, make_encoder: Callable[[int], Any]) -> dict[str, Any]:
        per_seed, per_fold, val_losses, epochs = [], [], [], []
        pooled_logits = []
        for s in range(cfg.seeds):
            logits = np.zeros((len(y), n_classes))
            folds_s = []
            for sp in splits_by_seed[s]:
                torch.manual_seed(s)
                clf = SignalJepaClassifier(
                    n_classes, n_chans=X.shape[1], n_times=X.shape[2], sfreq=trials.sfreq, arch=cfg.arch,  # type: ignore[arg-type]
                    encoder=make_encoder(s), channels=list(trials.channels),
                )
                fit = fit_classifier(
                    clf, X[sp.train], y[sp.train], X[sp.val], y[sp.val],
                    SupervisedConfig(scheme=cfg.scheme, seed=s, **sup),  # type: ignore[arg-type]
                    pretrained=clf.pretrained_modules(), device=cfg.device,
                )
                lg = predict_logits(clf, X[sp.test])  # (n_test, K)
                logits[sp.test] = lg
                folds_s.append(_metric(metric, y[sp.test], lg) if len(np.unique(y[sp.test])) > 1
                               or metric == "accuracy" else float("nan"))
                val_losses.append(fit.best_val_loss)
                epochs.append(fit.epochs)
            per_seed.append(_metric(metric, y, logits))
            per_fold.append(folds_s)
            pooled_logits.append(logits)
            say(f"  {name} seed {s}: {metric} {per_seed[-1]:.3f} (folds {', '.join(f'{v:.2f}' for v in folds_s)})")
        mean_logits = np.mean(pooled_logits, axis=0)
        return {"per_seed": per_seed, "per_fold": np.nanmean(np.asarray(per_fold), axis=0).tolist(),
                "logits": mean_logits, "val_loss": float(np.mean(val_losses)), "epochs": int(np.mean(epochs))}

    rows: list[ResultRow] = []
    n_test = len(y)
    p_chance = chance_level(y, metric)
    bound = binomial_chance_bound(n_test, p_chance) if metric == "accuracy" and p_chance < 1 else None

    def add_row(variant: str, r: dict[str, Any], seeds: list[int]) -> None:
        mean, std = summarise_seeds(r["per_seed"])
        rows.append(ResultRow(
            variant=variant, metric=metric, split=f"{cfg.split}-test", value=mean, std=std, seeds=seeds,
            per_seed=[float(v) for v in r["per_seed"]], val_value=r.get("val_loss"), n_labels=n_classes,
            steps=r.get("epochs"), n_test=n_test, chance_bound=bound,
            per_fold=[float(v) for v in r["per_fold"] if np.isfinite(v)],
            p_value=_pvalue(metric, y, r["logits"], cfg.n_permutations, 0),
        ))

    seeds = list(range(cfg.seeds))
    if pretrained_given:
        say(f"pretrained ({cfg.scheme}-{cfg.arch})")
        add_row("pretrained", run_variant("pretrained", enc_for), seeds)
    say(f"random_init ({cfg.scheme}-{cfg.arch})")
    add_row("random_init", run_variant("random_init", lambda s: random_like(enc_for(s), 10_000 + s)), seeds)

    names = [] if not cfg.baselines else (["default"] if cfg.baselines == "default" else
                                          [b.strip() for b in cfg.baselines.split(",") if b.strip()])
    for _b in names:
        bname, est = make_baseline(_BASELINE_PARADIGM.get(cfg.paradigm, cfg.paradigm), sfreq=trials.sfreq,
                                   freqs=trials.meta.get("freqs"))
        logits = np.zeros((len(y), n_classes))
        folds_b = []
        for sp in splits_by_seed[0]:
            tr = np.concatenate([sp.train, sp.val])
            est.fit(X[tr], y[tr])
            dec = np.asarray(est.decision_function(X[sp.test]), dtype=np.float64)
            lg = dec if dec.ndim == 2 else np.stack([-dec, dec], axis=1)  # (n_test, K)
            logits[sp.test] = lg
            folds_b.append(_metric(metric, y[sp.test], lg) if len(np.unique(y[sp.test])) > 1
                           or metric == "accuracy" else float("nan"))
        v = _metric(metric, y, logits)
        say(f"  {bname}: {metric} {v:.3f}")
        add_row(bname, {"per_seed": [v], "per_fold": folds_b, "logits": logits}, [0])
    rows.append(ResultRow(variant="chance", metric=metric, split=f"{cfg.split}-test", value=p_chance, std=0.0,
                          seeds=[], n_labels=n_classes, n_test=n_test, chance_bound=bound))

    result = EvalResult(
        task=f"{ds_id}/{cfg.paradigm}",
        mode=f"{cfg.scheme}-{cfg.arch}",
        split={"kind": cfg.split, "folds": cfg.folds if cfg.split == "within" else None,
               "n_splits": len(splits_by_seed[0]), "subjects": sorted(np.unique(groups).tolist()),
               "val_fraction": cfg.val_fraction},
        n_records={"trials": len(y), **{f"class_{c}": int(n) for c, n in
                                             zip(trials.class_names, np.bincount(y, minlength=n_classes), strict=True)}},
        rows=rows,
    )
    out = result.model_dump(mode="json")
    out["models"] = list(cfg.models)
    out["wall_s"] = time.perf_counter() - t0
    out["protocol"] = {**sup, "scheme": cfg.scheme, "arch": cfg.arch, "n_times": int(X.shape[2]),
                       "sfreq": float(trials.sfreq), "channels": list(trials.channels)}
    return out
