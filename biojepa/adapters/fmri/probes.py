"""The probes of ``biojepa finetune fmri``: scores of a fold's test subjects from its training subjects.

Used by :mod:`biojepa.adapters.fmri.fmri_eval` for every row but ``chance`` (``mode`` picks the probe of the
``pretrained`` and ``random_init`` rows; the ``connectivity`` row always uses the sklearn probe):

* ``linear`` (:func:`_linear_probe`): the MAE / Brain-JEPA linear probe, ``BatchNorm1d(affine=False)`` ->
  ``Linear`` (:class:`~biojepa.nn.heads.LinearHead` with ``norm="batchnorm"``), AdamW (``probe_lr``,
  ``probe_weight_decay`` on the weight), cosine decay to 0 over ``probe_epochs`` epochs of ``probe_batch_size``
  (seeded shuffles); cross-entropy, or MSE on the standardised target for regression;
* ``sklearn`` (:func:`_sklearn_probe`): ``StandardScaler`` + ``LogisticRegression`` (classification) / ``Ridge``
  (regression), ``C`` / ``alpha`` chosen by ``inner_folds``-fold cross-validation on the training fold
  (log-loss; Ridge: efficient leave-one-out). For ``p > n`` the features are first projected onto the span of
  the centred training rows (:class:`_RowSpace`), which is exact for an L2 penalty with an unpenalised intercept
  and makes the fits fast;
* ``finetune`` (:func:`_finetune_fold`): the encoder plus Brain-JEPA's head (mean-pool -> ``LayerNorm`` ->
  ``Linear``) trained on random crops of the training records (``ft_epochs`` epochs of ``ft_batch_size``, AdamW,
  weight decay ``ft_weight_decay``, layer-wise lr decay ``ft_layer_decay`` from the head down to the patch
  embedding (:func:`biojepa.eval.finetune.layer_decay_param_groups`), cosine ``ft_lr -> ft_lr_end``, no
  warm-up, a fixed number of steps: no validation split is carved out of the small training folds); test logits
  are averaged over the deterministic crops (:mod:`biojepa.adapters.fmri.features`). Brain-JEPA's drop-path 0.1
  has no counterpart (the encoder has none).

Classification scores are ``(n_test, K)`` class probabilities, regression scores ``(n_test,)`` predictions.
"""

from __future__ import annotations

import copy
import logging
import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from biojepa.adapters.fmri.features import FoldContract, _apply_windows, _keep_idx
from biojepa.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from biojepa.adapters.fmri.fmri_eval import FmriEvalConfig

__all__ = ["ALPHA_GRID", "C_GRID"]

log = logging.getLogger(__name__)

#: grid of the inverse L2 strength of the logistic regressions (inner cross-validation)
C_GRID = tuple(float(c) for c in np.logspace(-4, 2, 7))
#: grid of the ridge penalties (efficient leave-one-out)
ALPHA_GRID = tuple(float(a) for a in np.logspace(-1, 6, 8))


# ---------------------------------------------------------------------------------------------------------
# the sklearn probe
# ---------------------------------------------------------------------------------------------------------
def _row_space_class() -> type:
    """:class:`_RowSpace` as a scikit-learn transformer (built on first use: sklearn is imported lazily)."""
    global _ROW_SPACE
    if _ROW_SPACE is None:
        from sklearn.base import BaseEstimator, TransformerMixin

        _ROW_SPACE = type("RowSpace", (TransformerMixin, BaseEstimator, _RowSpace), {"__module__": __name__})
    return _ROW_SPACE


_ROW_SPACE: type | None = None


class _RowSpace:
    """Projection onto the span of the centred training rows: exact for L2-penalised linear models with an
    unpenalised intercept (the solution lies in that span), and fast when features outnumber subjects."""

    def __init__(self, rtol: float = 1e-10) -> None:
        self.rtol = rtol

    def fit(self, X: np.ndarray, y: Any = None) -> _RowSpace:
        X = np.asarray(X, dtype=np.float64)
        self.mean_ = X.mean(axis=0)  # (p,)
        xc = X - self.mean_  # (n, p)
        if xc.shape[1] <= xc.shape[0]:
            self.components_ = None
            return self
        w, u = np.linalg.eigh(xc @ xc.T)  # (n,), (n, n)
        keep = w > self.rtol * max(float(w.max()), 1e-300)
        self.components_ = (xc.T @ u[:, keep]) / np.sqrt(w[keep])  # (p, r) orthonormal columns
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        xc = np.asarray(X, dtype=np.float64) - self.mean_
        return xc if self.components_ is None else xc @ self.components_


def _sklearn_probe(
    x_tr: np.ndarray,
    y_tr: np.ndarray,
    x_te: np.ndarray,
    *,
    kind: str,
    n_classes: int,
    seed: int,
    inner_folds: int,
) -> tuple[np.ndarray, dict[str, float]]:
    """Scores ``(n_te, K)`` class probabilities or ``(n_te,)`` predictions, and the chosen hyper-parameter."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    # small products: one BLAS thread avoids two OpenBLAS pools spinning against each other on few cores
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        if kind == "regression":
            pipe = Pipeline([("scale", StandardScaler()), ("ridge", RidgeCV(alphas=ALPHA_GRID))])
            pipe.fit(x_tr, y_tr)
            out, chosen = pipe.predict(x_te).astype(np.float64), {"alpha": float(pipe[-1].alpha_)}
        else:
            pipe = Pipeline(
                [
                    ("scale", StandardScaler()),
                    ("rows", _row_space_class()()),
                    ("lr", LogisticRegression(solver="newton-cholesky", max_iter=1000)),
                ]
            )
            present, counts = np.unique(y_tr, return_counts=True)
            n_inner = int(min(inner_folds, counts.min()))
            if n_inner >= 2 and present.size >= 2:
                cv = StratifiedKFold(n_splits=n_inner, shuffle=True, random_state=seed)
                search = GridSearchCV(pipe, {"lr__C": list(C_GRID)}, cv=cv, scoring="neg_log_loss")
                search.fit(x_tr, y_tr)
                model, chosen = search.best_estimator_, {"C": float(search.best_params_["lr__C"])}
            else:
                model, chosen = pipe.fit(x_tr, y_tr), {"C": 1.0}
            proba = model.predict_proba(x_te)  # (n_te, K_present)
            out = np.zeros((x_te.shape[0], n_classes), dtype=np.float64)
            out[:, np.asarray(model[-1].classes_, dtype=np.int64)] = proba
    n_conv = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if n_conv:
        log.info("sklearn probe: %d fits stopped at max_iter before converging", n_conv)
    return out, chosen


# ---------------------------------------------------------------------------------------------------------
# the linear probe
# ---------------------------------------------------------------------------------------------------------
def _batches(n: int, size: int, gen: Any) -> list[Any]:
    """Seeded shuffled mini-batches of ``range(n)``; a trailing batch of one joins the previous one (BatchNorm)."""
    import torch

    perm = torch.randperm(n, generator=gen)
    parts = list(torch.split(perm, size))
    if len(parts) > 1 and len(parts[-1]) == 1:
        parts[-2] = torch.cat([parts[-2], parts[-1]])
        parts.pop()
    return parts


def _linear_probe(
    x_tr: np.ndarray,
    y_tr: np.ndarray,
    x_te: np.ndarray,
    *,
    kind: str,
    n_classes: int,
    seed: int,
    cfg: FmriEvalConfig,
) -> tuple[np.ndarray, int]:
    """The BatchNorm(affine=False) + Linear probe: scores of the test rows and the steps run."""
    import torch
    import torch.nn.functional as F

    from biojepa.engine.schedules import warmup_cosine
    from biojepa.nn.heads import LinearHead

    n, d = x_tr.shape
    if n < 2:
        raise ConfigError("the linear probe needs at least 2 training subjects per fold")
    xt = torch.from_numpy(np.asarray(x_tr, dtype=np.float32))
    if kind == "regression":
        mu, sd = float(np.mean(y_tr)), float(np.std(y_tr)) or 1.0
        yt = torch.from_numpy(((np.asarray(y_tr, dtype=np.float64) - mu) / sd).astype(np.float32))
        n_out = 1
    else:
        yt = torch.from_numpy(np.asarray(y_tr, dtype=np.int64))
        n_out = n_classes
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = LinearHead(d, n_out, pool="none", norm="batchnorm")
    opt = torch.optim.AdamW(
        [
            {"params": [head.linear.weight], "weight_decay": cfg.probe_weight_decay},
            {"params": [head.linear.bias], "weight_decay": 0.0},
        ],
        lr=cfg.probe_lr,
    )
    gen = torch.Generator().manual_seed(seed)
    per_epoch = len(_batches(n, min(cfg.probe_batch_size, n), torch.Generator().manual_seed(0)))
    total = cfg.probe_epochs * per_epoch
    step = 0
    head.train()
    for _ in range(cfg.probe_epochs):
        for idx in _batches(n, min(cfg.probe_batch_size, n), gen):
            lr = warmup_cosine(step, total=total, warmup=0, start=0.0, peak=cfg.probe_lr, end=0.0)
            for g in opt.param_groups:
                g["lr"] = lr
            out = head(xt[idx])  # (b, n_out)
            loss = F.mse_loss(out[:, 0], yt[idx]) if kind == "regression" else F.cross_entropy(out, yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    head.eval()
    with torch.inference_mode():
        out = head(torch.from_numpy(np.asarray(x_te, dtype=np.float32))).double().numpy()  # (n_te, n_out)
    if kind == "regression":
        return out[:, 0] * sd + mu, step
    return _softmax(out), step


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------------------------------------------
# fine-tuning
# ---------------------------------------------------------------------------------------------------------
def _finetune_fold(
    contract: FoldContract,
    rec_tr: Sequence[np.ndarray],
    y_tr: np.ndarray,
    rec_te: Sequence[np.ndarray],
    *,
    kind: str,
    n_classes: int,
    seed: int,
    cfg: FmriEvalConfig,
) -> tuple[np.ndarray, int]:
    """Fine-tune the encoder + Brain-JEPA head on random crops of ``rec_tr``; scores of ``rec_te`` and steps."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from biojepa.adapters.fmri.transforms import pad_to, random_crop_start
    from biojepa.engine.schedules import warmup_cosine
    from biojepa.eval.finetune import layer_decay_param_groups
    from biojepa.nn.heads import LinearHead

    dev = torch.device(cfg.device)
    window = int(contract.encoder.spec.signal.n_times)
    n = len(rec_tr)
    if kind == "regression":
        mu, sd = float(np.mean(y_tr)), float(np.std(y_tr)) or 1.0
        target = torch.from_numpy(((np.asarray(y_tr, np.float64) - mu) / sd).astype(np.float32))
        n_out = 1
    else:
        target = torch.from_numpy(np.asarray(y_tr, dtype=np.int64))
        n_out = n_classes
    bs = min(cfg.ft_batch_size, n)
    steps = cfg.ft_epochs * math.ceil(n / bs)
    if cfg.ft_max_steps is not None:
        steps = min(steps, cfg.ft_max_steps)
    with torch.random.fork_rng(devices=[dev.index or 0] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        enc = copy.deepcopy(contract.encoder).to(dev)
        model = nn.ModuleDict(
            {"encoder": enc, "head": LinearHead(enc.num_features, n_out, pool="mean", norm="layernorm")}
        ).to(dev)
        opt = torch.optim.AdamW(
            layer_decay_param_groups(model, cfg.ft_weight_decay, cfg.ft_layer_decay), lr=cfg.ft_lr
        )
        rng = np.random.default_rng([seed, 7])
        n_rois = len(contract.encoder.spec.signal.channels)
        model.train()
        for step in range(steps):
            lr = warmup_cosine(step, total=steps, warmup=0, start=0.0, peak=cfg.ft_lr, end=cfg.ft_lr_end)
            for g in opt.param_groups:
                g["lr"] = lr * g["lr_scale"]
            rec = rng.integers(0, n, size=bs)
            crops: list[tuple[np.ndarray, int]] = []
            for r in rec:
                x = rec_tr[int(r)]
                s = random_crop_start(int(x.shape[1]), window, rng)
                crops.append(pad_to(x[:, s : s + window], window))
            order: list[int] = []
            outs = []
            for nv in sorted({nv for _, nv in crops}):  # crops of one length share their valid tokens
                rows = [k for k, (_, v) in enumerate(crops) if v == nv]
                xb = torch.from_numpy(np.stack([crops[k][0] for k in rows])).to(dev)  # (b, R, W)
                keep = _keep_idx(enc, n_rois, window, nv, len(rows))
                outs.append(model["head"](enc(xb, None if keep is None else keep.to(dev))))  # (b, n_out)
                order.extend(rows)
            logits = torch.cat(outs)[
                torch.argsort(torch.tensor(order, device=dev))
            ]  # (B, n_out) in draw order
            tgt = target[torch.from_numpy(rec)].to(dev)
            loss = F.mse_loss(logits[:, 0], tgt) if kind == "regression" else F.cross_entropy(logits, tgt)
            if not torch.isfinite(loss):
                from biojepa.errors import NonFiniteLossError

                raise NonFiniteLossError(
                    f"fine-tuning loss is {loss.item()} at step {step}; lower ft_lr ({cfg.ft_lr})"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        out = _apply_windows(
            lambda x, keep: model["head"](enc(x, keep)),
            enc,
            rec_te,
            window=window,
            crops=cfg.crops,
            batch_size=cfg.batch_size,
            device=cfg.device,
        ).astype(np.float64)
    if kind == "regression":
        return out[:, 0] * sd + mu, steps
    return _softmax(out), steps
