"""The PTB-XL benchmark (``biojepa finetune ptbxl``): ECG-JEPA's evaluation protocol with baselines.

Protocol (research note ecg.md §1.7, §3.2, §5):

* labels of the task built exactly as Strodthoff et al. (likelihood ignored, binarizer fitted on all records;
  :mod:`biojepa.adapters.ecg.tasks`), folds 1–8 train / 9 validation / 10 test by default;
* signals from the 500 Hz or 100 Hz files, FFT-resampled to the model's rate, per-lead z-score with the
  training folds' statistics, clip ±5;
* training on 2.5-s windows; evaluation on the 7 windows of a 10-s record (1.25-s stride) with the logits
  averaged; macro ROC-AUC over the labels with both values in the test split (the others are listed in
  ``dropped_labels``), a percentile bootstrap 95 % interval of the seed-averaged AUC, per-class AUC;
* model selection on the validation fold; several seeds, mean ± sample std.

Modes: ``linear`` = ECG-JEPA's attentive probe on the frozen encoder (1 learned query, lr 1e-3, wd 0.1,
batch 128, 5000 steps; token features of the fixed window grid are cached once); ``pooled_lr`` = logistic
regression on mean-pooled frozen features averaged over the windows (C chosen on the validation fold);
``finetune_after_linear`` = the probe, then encoder + probe head trained together (lr 1e-4 → 1e-6 cosine,
200 warm-up, wd 0, clip 1.0); ``finetune`` = encoder + a linear head on mean-pooled tokens (lr 1e-3 → 1e-5,
wd 0.01, betas (0.9, 0.99), no clip, 10000 steps).

Variants: ``pretrained`` (the given model), ``random_init`` (the same architecture untrained, same head and
mode; seed s initialises it), ``handcrafted`` (per-lead amplitude, interval and spectral features of the raw
millivolts with logistic regression; deterministic) and, on request, ``scratch`` (encoder + linear head
trained from random init with the ``finetune`` recipe at the same step budget).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biojepa.errors import ConfigError, DataError
from biojepa.eval.loading import load_encoder, random_like

__all__ = ["BASELINES", "MODES", "PtbxlEvalConfig", "fit_logistic", "load_encoder", "run_ptbxl"]

log = logging.getLogger(__name__)

MODES = ("linear", "pooled_lr", "finetune_after_linear", "finetune")
BASELINES = ("random_init", "handcrafted", "scratch")
C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


@dataclass
class PtbxlEvalConfig:
    """Settings of one ``finetune ptbxl`` run (see the module docstring).

    Attributes:
        model: a model directory, or ``random:<registered name>`` for an untrained encoder. Several (separated
            by ``,``, or a list) pair with the seeds: seed ``s`` evaluates model ``s`` (independent pretraining
            runs), and ``seeds`` becomes their number.
        data_root: the PTB-XL folder (``ptbxl_database.csv``, ``scp_statements.csv``, ``records100/``…).
        task: one of :data:`biojepa.adapters.ecg.tasks.TASKS`.
        mode: one of :data:`MODES`.
        train_folds, val_folds, test_folds: fold specs (``"1-8"``, ``"9"``, ``"10"``).
        sfreq_files: which files to read (100 or 500 Hz); they are resampled to the model's rate.
        seeds: number of seeds (0 .. seeds-1).
        max_steps: cap on optimisation steps of every trained head / fine-tune (None: the protocol's).
        baselines: baseline variants to run besides ``pretrained``.
        window_s: training / evaluation window in seconds (2.5).
        stride_s: evaluation stride in seconds (1.25).
        eval_every: validation interval in steps.
        n_boot: bootstrap resamples for the 95 % interval.
        batch_size: training batch (128).
        cache_dir: where the PTB-XL signal cache lives (default: the shared dataset cache).
        device: ``cpu``, ``cuda`` or ``auto``.
    """

    model: str | Sequence[str]
    data_root: Path
    task: str = "all"
    mode: str = "linear"
    train_folds: str = "1-8"
    val_folds: str = "9"
    test_folds: str = "10"
    sfreq_files: int = 500
    seeds: int = 3
    max_steps: int | None = None
    baselines: tuple[str, ...] = ("random_init", "handcrafted")
    window_s: float = 2.5
    stride_s: float = 1.25
    eval_every: int = 100
    n_boot: int = 1000
    batch_size: int = 128
    cache_dir: Path | None = None
    device: str = "cpu"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        """The model(s) to evaluate, one per seed when there are several."""
        items = [self.model] if isinstance(self.model, str) else list(self.model)
        return [m.strip() for item in items for m in str(item).split(",") if m.strip()]

    def check(self) -> None:
        """Raise :class:`ConfigError` on an invalid setting."""
        from biojepa.adapters.ecg.tasks import TASKS

        if not self.models:
            raise ConfigError("--model is required (a model directory or random:<name>)")
        if len(self.models) > 1:
            self.seeds = len(self.models)
        if self.task not in TASKS:
            raise ConfigError(f"unknown PTB-XL task {self.task!r}; valid: {', '.join(TASKS)}")
        if self.mode not in MODES:
            raise ConfigError(f"unknown mode {self.mode!r}; valid: {', '.join(MODES)}")
        bad = [b for b in self.baselines if b not in BASELINES]
        if bad:
            raise ConfigError(f"unknown baseline(s) {bad}; valid: {', '.join(BASELINES)}")
        if self.sfreq_files not in (100, 500):
            raise ConfigError(f"--sfreq must be 100 or 500 (the PTB-XL file rates), found {self.sfreq_files}")
        if self.seeds < 1:
            raise ConfigError(f"--seeds must be >= 1, found {self.seeds}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"--max-steps must be >= 1, found {self.max_steps}")
        if not (self.window_s > 0 and self.stride_s > 0):
            raise ConfigError("window and stride must be > 0 seconds")


# ---------------------------------------------------------------------------------------------------------
def _standardise(tr: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mu = tr.mean(axis=0)
    sd = tr.std(axis=0)
    sd[sd < 1e-8] = 1.0
    return [(a - mu) / sd for a in (tr, *others)]


def fit_logistic(
    f_tr: np.ndarray, y_tr: np.ndarray, f_va: np.ndarray, y_va: np.ndarray, f_te: np.ndarray, *, multilabel: bool,
    grid: Sequence[float] = C_GRID,
) -> tuple[np.ndarray, float, float]:
    """Logistic regression on standardised features; C chosen by validation macro AUC.

    Multi-label targets get one binary model per column (a column constant in training scores its
    training prevalence); single-label targets one multinomial model.

    Returns:
        ``(test scores (N_te, L), chosen C, validation macro AUC)``.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    from biojepa.eval.metrics import roc_auc_report

    a, b, c = _standardise(f_tr.astype(np.float64), f_va.astype(np.float64), f_te.astype(np.float64))
    n_out = y_tr.shape[1] if multilabel else int(max(y_tr.max(), y_va.max())) + 1

    def fit_predict(C: float, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
        outs = [np.zeros((x.shape[0], n_out)) for x in xs]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if multilabel:
                for j in range(n_out):
                    col = y_tr[:, j]
                    if col.min() == col.max():
                        for o in outs:
                            o[:, j] = float(col.mean())
                        continue
                    m = LogisticRegression(C=C, max_iter=500).fit(a, col)
                    for o, x in zip(outs, xs, strict=True):
                        o[:, j] = m.decision_function(x)
            else:
                m = LogisticRegression(C=C, max_iter=500).fit(a, y_tr)
                for o, x in zip(outs, xs, strict=True):
                    o[:, m.classes_] = m.predict_proba(x)
        return outs

    best = (-np.inf, grid[0])
    for C in grid:
        (s_va,) = fit_predict(C, [b])
        try:
            v = roc_auc_report(y_va, s_va).macro
        except DataError:
            continue
        if v > best[0]:
            best = (v, C)
    (s_te,) = fit_predict(best[1], [c])
    return s_te.astype(np.float32), float(best[1]), float(best[0])


# ---------------------------------------------------------------------------------------------------------
@dataclass
class _Data:
    classes: tuple[str, ...]
    multilabel: bool
    x: dict[str, np.ndarray]  # normalised (N, 12, T) float32 per split
    raw: dict[str, np.ndarray]  # millivolts (N, 12, T) float32 per split
    y: dict[str, np.ndarray]
    ecg_ids: dict[str, np.ndarray]
    sfreq: float
    info: dict[str, Any]


def load_ptbxl_splits(cfg: PtbxlEvalConfig, sfreq: float, progress: Callable[[str], None] | None = None) -> _Data:
    """Labels, folds and signals of the task at the model's rate (normalised with the training folds)."""
    from biojepa.adapters.ecg.datasets import EcgSource
    from biojepa.adapters.ecg.tasks import (
        EXPECTED_N_LABELS,
        build_labels,
        load_ptbxl_metadata,
        load_scp_statements,
        parse_folds,
        split_by_folds,
    )
    from biojepa.data.cache import Cache
    from biojepa.data.views import channel_stats
    from biojepa.engine.pretrain import default_cache_dir

    root = Path(cfg.data_root).expanduser()
    meta = load_ptbxl_metadata(root)
    statements = load_scp_statements(root)
    labels = build_labels(meta, statements, cfg.task)
    if len(meta) >= 21799 and cfg.task in EXPECTED_N_LABELS and len(labels.classes) != EXPECTED_N_LABELS[cfg.task]:
        raise DataError(
            f"the full PTB-XL release gives {len(labels.classes)} labels for task {cfg.task!r}, the benchmark "
            f"has {EXPECTED_N_LABELS[cfg.task]}; check ptbxl_database.csv / scp_statements.csv"
        )
    parts = split_by_folds(labels, cfg.train_folds, cfg.val_folds, cfg.test_folds)
    folds = sorted({*parse_folds(cfg.train_folds), *parse_folds(cfg.val_folds), *parse_folds(cfg.test_folds)})
    has = meta["has_hr"] if cfg.sfreq_files == 500 else meta["has_lr"]
    files = str(cfg.sfreq_files)
    source = EcgSource("ptbxl", "ptbxl")
    params = {"folds": ",".join(map(str, folds)), "files": files, "allow_heldout": True}
    if progress:
        progress(f"preparing PTB-XL signals ({files} Hz files -> {sfreq:g} Hz) for folds {folds}")
    res = source.prepare(root, cache_dir=cfg.cache_dir or default_cache_dir(), sfreq=sfreq, params=params)
    cache = Cache.open(res.cache_path)
    pos = {rid: i for i, rid in enumerate(cache.index["record_id"])}
    out_x: dict[str, np.ndarray] = {}
    out_raw: dict[str, np.ndarray] = {}
    out_y: dict[str, np.ndarray] = {}
    out_ids: dict[str, np.ndarray] = {}
    n_missing: dict[str, int] = {}
    cache_rows: dict[str, np.ndarray] = {}
    for name, rows in parts.items():
        ids = labels.ecg_ids[rows]
        ok = np.array([bool(has.get(i, False)) and str(i) in pos for i in ids], dtype=bool)
        n_missing[name] = int((~ok).sum())
        rows = rows[ok]
        if rows.size == 0:
            raise ConfigError(
                f"the {name} folds have no record with {files} Hz files for task {cfg.task!r}; use --sfreq 100 or "
                "other folds"
            )
        cache_rows[name] = np.array([pos[str(i)] for i in labels.ecg_ids[rows]], dtype=np.int64)
        out_y[name] = labels.y[rows]
        out_ids[name] = labels.ecg_ids[rows]
    mean, std, _ = channel_stats(cache, cache_rows["train"])
    lengths = np.asarray(cache.lengths)
    for name, crow in cache_rows.items():
        t = int(lengths[crow].min())
        raw = np.stack([cache.get(int(i))[:, :t] for i in crow]).astype(np.float32)  # (N, 12, T)
        out_raw[name] = raw
        x = (raw - mean[None, :, None].astype(np.float32)) / std[None, :, None].astype(np.float32)
        out_x[name] = np.clip(x, -5.0, 5.0).astype(np.float32)  # (N, 12, T)
    info = {
        "n_records": {k: int(v.shape[0]) for k, v in out_y.items()},
        "n_missing_files": n_missing,
        "n_quarantined": res.n_quarantined,
        "folds": {"train": list(parse_folds(cfg.train_folds)), "val": list(parse_folds(cfg.val_folds)),
                  "test": list(parse_folds(cfg.test_folds))},
        "sfreq_files": cfg.sfreq_files,
        "normalization": {"mean": mean.tolist(), "std": std.tolist(), "clip": 5.0, "fitted_on": "train folds"},
        "n_labels": len(labels.classes),
    }
    return _Data(labels.classes, labels.multilabel, out_x, out_raw, out_y, out_ids, sfreq, info)


# ---------------------------------------------------------------------------------------------------------
@dataclass
class _SeedResult:
    test_scores: np.ndarray
    val_value: float
    steps: int


def _auc_eval(y: np.ndarray, scores: np.ndarray, classes: Sequence[str]) -> tuple[float, dict[str, float], list[str]]:
    from biojepa.eval.metrics import roc_auc_report

    rep = roc_auc_report(y, scores, list(classes))
    return rep.macro, rep.per_class, rep.dropped


def _row(
    variant: str, data: _Data, per_seed: list[_SeedResult], seeds: list[int], n_boot: int
) -> dict[str, Any]:
    from biojepa.eval.metrics import UndefinedMetricError, roc_auc_report
    from biojepa.eval.results import summarise_seeds

    y = data.y["test"]
    evals = [_auc_eval(y, r.test_scores, data.classes) for r in per_seed]
    values = [e[0] for e in evals]
    mean, std = summarise_seeds(values)
    per_class = {k: float(np.mean([e[1][k] for e in evals])) for k in evals[0][1]}
    rng = np.random.default_rng(0)
    boots: list[float] = []
    n = y.shape[0]
    for _ in range(n_boot):
        idx = rng.integers(0, n, size=n)
        try:
            boots.append(float(np.mean([roc_auc_report(y[idx], r.test_scores[idx]).macro for r in per_seed])))
        except (UndefinedMetricError, DataError):
            continue
    ci = [float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))] if boots else None
    return {
        "variant": variant,
        "metric": "auc_macro",
        "split": "test",
        "value": mean,
        "std": std,
        "ci95": ci,
        "seeds": seeds,
        "per_seed": values,
        "val_value": float(np.mean([r.val_value for r in per_seed])),
        "per_class": per_class,
        "n_labels": len(data.classes),
        "dropped_labels": evals[0][2],
        "steps": round(np.mean([r.steps for r in per_seed])),
    }


def _windows(cfg: PtbxlEvalConfig, sfreq: float, patch: int) -> tuple[int, int]:
    window = round(cfg.window_s * sfreq)
    stride = round(cfg.stride_s * sfreq)
    if window % patch:
        raise ConfigError(
            f"a {cfg.window_s:g}-s window is {window} samples at {sfreq:g} Hz, not a multiple of the model's patch "
            f"({patch} samples); choose --window-s so that it is"
        )
    return window, stride


def _frozen_features(encoder: Any, data: _Data, window: int, stride: int, pool: str, device: str) -> dict[str, Any]:
    from biojepa.eval.features import extract_features

    return {k: extract_features(encoder, data.x[k], window=window, stride=stride, pool=pool, device=device)
            for k in ("train", "val", "test")}


def _run_probe(feats: dict[str, Any], data: _Data, cfg: PtbxlEvalConfig, seed: int) -> tuple[Any, _SeedResult]:
    from biojepa.eval.probes import ProbeConfig, predict, train_probe

    pc = ProbeConfig(
        head="attentive", task="multilabel" if data.multilabel else "multiclass", lr=1e-3, weight_decay=0.1,
        betas=(0.9, 0.999), max_steps=cfg.max_steps or 5000, batch_size=cfg.batch_size,
        eval_every=min(cfg.eval_every, cfg.max_steps or 5000), patience=5000, grad_clip=1.0, seed=seed,
        metric="auc_macro", device=cfg.device, n_classes=len(data.classes) if not data.multilabel else None,
    )
    res = train_probe(feats["train"], data.y["train"], feats["val"], data.y["val"], pc)
    return res, _SeedResult(predict(res.head, feats["test"]), res.best_value, res.best_step)


def _run_pooled_lr(feats: dict[str, Any], data: _Data) -> _SeedResult:
    f = {k: (v.feats.sum(axis=1) / v.n_windows[:, None]) for k, v in feats.items()}  # (N, D) mean over windows
    s, _, val = fit_logistic(f["train"], data.y["train"], f["val"], data.y["val"], f["test"], multilabel=data.multilabel)
    return _SeedResult(s, val, 0)


def _run_finetune(
    encoder: Any, data: _Data, cfg: PtbxlEvalConfig, seed: int, window: int, stride: int, *, after_linear: Any = None,
) -> _SeedResult:
    from biojepa.eval.finetune import FinetuneConfig, finetune, predict_windows

    task = "multilabel" if data.multilabel else "multiclass"
    common = {"task": task, "batch_size": cfg.batch_size, "crop_len": window, "eval_window": window,
              "eval_stride": stride, "eval_every": cfg.eval_every, "metric": "auc_macro", "seed": seed,
              "device": cfg.device, "n_classes": None if data.multilabel else len(data.classes)}
    if after_linear is not None:  # ECG-JEPA finetune_after_linear
        fc = FinetuneConfig(head="attentive", steps=cfg.max_steps or 5000, lr=1e-4, lr_end=1e-6, warmup_steps=200,
                            weight_decay=0.0, betas=(0.9, 0.999), grad_clip=1.0, patience=2000, **common)
    else:  # ECG-JEPA finetune (linear head; ECG-JEPA reads the register token, biojepa mean-pools)
        fc = FinetuneConfig(head="linear", steps=cfg.max_steps or 10000, lr=1e-3, lr_end=1e-5, warmup_steps=200,
                            weight_decay=0.01, betas=(0.9, 0.99), grad_clip=None, patience=2000, **common)
    res = finetune(encoder, data.x["train"], data.y["train"], data.x["val"], data.y["val"], fc, head=after_linear)
    scores = predict_windows(res.model, data.x["test"], window=window, stride=stride, device=cfg.device)
    return _SeedResult(scores, res.best_value, res.best_step)


def run_ptbxl(cfg: PtbxlEvalConfig, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the PTB-XL evaluation and return the DESIGN.md §5 result dict (``rows`` per variant)."""
    from biojepa.adapters.ecg.features import handcrafted_features
    from biojepa.adapters.ecg.leads import STANDARD_LEADS
    from biojepa.eval.results import EvalResult

    cfg.check()
    say = progress or (lambda m: log.info(m))
    t0 = time.perf_counter()
    encoders = [load_encoder(m, seed=k) for k, m in enumerate(cfg.models)]
    pretrained = encoders[0]
    spec = pretrained.spec
    for other in encoders[1:]:
        if other.spec.model_dump(exclude={"signal"}) != spec.model_dump(exclude={"signal"}):
            raise ConfigError("the models given with --model must share one architecture (one per seed)")
    if list(spec.signal.channels) != list(STANDARD_LEADS) or spec.signal.sfreq is None:
        raise ConfigError(
            f"model {spec.name!r} expects channels {spec.signal.channels}; the PTB-XL benchmark needs a 12-lead "
            f"ECG model ({', '.join(STANDARD_LEADS)})"
        )
    sfreq = float(spec.signal.sfreq)
    patch = int(spec.tokenizer.args.get("patch_size", 1))
    window, stride = _windows(cfg, sfreq, patch)
    data = load_ptbxl_splits(cfg, sfreq, say)
    say(f"PTB-XL task {cfg.task}: {len(data.classes)} labels, records {data.info['n_records']}")
    seeds = list(range(cfg.seeds))
    variants = ["pretrained"] + [b for b in BASELINES if b in cfg.baselines]
    rows: list[dict[str, Any]] = []
    for variant in variants:
        say(f"variant {variant} ({cfg.mode})")
        results: list[_SeedResult] = []
        if variant == "handcrafted":
            f = {k: handcrafted_features(v, sfreq) for k, v in data.raw.items()}
            s, _, val = fit_logistic(f["train"], data.y["train"], f["val"], data.y["val"], f["test"],
                                     multilabel=data.multilabel)
            rows.append(_row("handcrafted", data, [_SeedResult(s, val, 0)], [0], cfg.n_boot))
            continue
        if variant == "scratch":
            for seed in seeds:
                results.append(_run_finetune(random_like(pretrained, seed), data, cfg, seed, window, stride))
            rows.append(_row(variant, data, results, seeds, cfg.n_boot))
            continue
        shared_feats: dict[str, dict[str, Any]] = {}
        for seed in seeds:
            if variant == "pretrained":
                enc = encoders[seed] if len(encoders) > 1 else pretrained
            else:
                enc = random_like(pretrained, seed)
            if cfg.mode in ("linear", "pooled_lr", "finetune_after_linear"):
                pool = "mean" if cfg.mode == "pooled_lr" else "tokens"
                # one feature cache per distinct encoder (a single pretrained model serves every seed)
                key = f"{pool}" if variant == "pretrained" and len(encoders) == 1 else f"{pool}-{seed}"
                if key not in shared_feats:
                    shared_feats.clear()
                    shared_feats[key] = _frozen_features(enc, data, window, stride, pool, cfg.device)
                feats = shared_feats[key]
                if cfg.mode == "pooled_lr":
                    results.append(_run_pooled_lr(feats, data))
                    continue
                probe, res = _run_probe(feats, data, cfg, seed)
                if cfg.mode == "linear":
                    results.append(res)
                    continue
                results.append(_run_finetune(enc, data, cfg, seed, window, stride, after_linear=probe.head))
            else:
                results.append(_run_finetune(enc, data, cfg, seed, window, stride))
            say(f"  seed {seed}: val {results[-1].val_value:.4f}")
        rows.append(_row(variant, data, results, seeds, cfg.n_boot))
    result = EvalResult(
        task=cfg.task,
        mode=cfg.mode,
        folds=data.info["folds"],
        n_records=data.info["n_records"],
        rows=rows,
    ).model_dump(mode="json")
    result.update(
        {
            "model": cfg.models if len(cfg.models) > 1 else cfg.models[0],
            "model_name": spec.name,
            "sfreq_files": cfg.sfreq_files,
            "model_sfreq": sfreq,
            "window": window,
            "stride": stride,
            "n_missing_files": data.info["n_missing_files"],
            "normalization": data.info["normalization"],
            "wall_s": time.perf_counter() - t0,
        }
    )
    return result
