"""Probes trained on cached features of a frozen encoder.

Training draws, every step, a batch of records and one random window per record; validation and
:func:`predict` run the head on every window of a record and average its outputs (logit averaging, the
PTB-XL protocol of ECG-JEPA). Early stopping keeps the state with the best validation metric; training stops
once ``patience`` steps pass without an improvement. Everything is deterministic given ``ProbeConfig.seed``.

Heads: ``"linear"`` (:class:`~biojepa.nn.heads.LinearHead`, on pooled or mean-pooled token features) and
``"attentive"`` (:class:`~biojepa.nn.heads.AttentivePooler`, needs token features, i.e.
``extract_features(..., pool="tokens")``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import Tensor, nn

from biojepa.errors import ConfigError, DataError, NonFiniteLossError
from biojepa.eval.features import FeatureSet, as_feature_set
from biojepa.eval.metrics import METRICS, compute_metric
from biojepa.eval.windows import aggregate
from biojepa.nn.heads import AttentivePooler, LinearHead

__all__ = ["DEFAULT_METRIC", "Probe", "ProbeConfig", "ProbeResult", "predict", "train_probe"]

Task = Literal["multilabel", "multiclass", "regression"]

#: Selection metric used when ``ProbeConfig.metric`` is not set.
DEFAULT_METRIC: dict[str, str] = {"multilabel": "auc_macro", "multiclass": "accuracy", "regression": "r2"}


class ProbeConfig(BaseModel):
    """Hyper-parameters of a probe (defaults: the ECG-JEPA attentive-probe recipe, constant LR).

    Attributes:
        head: ``"linear"`` or ``"attentive"``.
        task: ``"multilabel"`` (BCE with logits), ``"multiclass"`` (cross-entropy) or ``"regression"`` (MSE).
        lr: AdamW learning rate (constant).
        weight_decay: AdamW weight decay, applied to Linear weights only.
        betas: AdamW betas.
        max_steps: upper bound on optimisation steps.
        batch_size: records per step (drawn with replacement, one random window each).
        eval_every: validate every this many steps (and at the last step).
        patience: stop after this many steps without a validation improvement.
        min_delta: an improvement must exceed the best value by more than this.
        grad_clip: max gradient norm; ``None`` disables clipping.
        seed: seeds the head initialisation and the batch draws.
        metric: validation metric for model selection (a name in ``METRICS``); default by task.
        n_heads: attention heads of the attentive pooler (default: width / 64, or 1).
        n_classes: number of classes for ``multiclass`` (default: largest id in train/val + 1).
        standardize: z-score features (and regression targets) with training-set statistics inside the
            probe, so the learning rate does not depend on the encoder's feature scale.
        device: where the head trains.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    head: Literal["linear", "attentive"] = "linear"
    task: Task = "multilabel"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.1, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    max_steps: int = Field(5000, ge=1)
    batch_size: int = Field(128, ge=1)
    eval_every: int = Field(100, ge=1)
    patience: int = Field(5000, ge=1)
    min_delta: float = Field(0.0, ge=0)
    grad_clip: float | None = Field(1.0, gt=0)
    seed: int = 0
    metric: str | None = None
    n_heads: int | None = Field(None, ge=1)
    n_classes: int | None = Field(None, ge=2)
    standardize: bool = True
    device: str = "cpu"

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, v: str | None) -> str | None:
        if v is not None and v not in METRICS:
            raise ValueError(f"unknown metric {v!r}; valid metrics: {', '.join(sorted(METRICS))}")
        return v

    @property
    def selection_metric(self) -> str:
        """The metric used for early stopping: ``metric`` or the task default."""
        return self.metric or DEFAULT_METRIC[self.task]


class Probe(nn.Module):
    """A head plus fixed input / output affine maps (training-set standardisation).

    ``forward(x) = head((x - in_mean) / in_std) * out_std + out_mean``; the maps are buffers, saved in the
    state dict. Input ``x`` is one window's features: ``(B, D)`` pooled or ``(B, Ntok, D)`` tokens.
    """

    def __init__(self, head: nn.Module, dim: int, n_out: int) -> None:
        super().__init__()
        self.head = head
        self.register_buffer("in_mean", torch.zeros(dim))
        self.register_buffer("in_std", torch.ones(dim))
        self.register_buffer("out_mean", torch.zeros(n_out))
        self.register_buffer("out_std", torch.ones(n_out))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Outputs ``(B, n_out)`` for one window of features per row."""
        x = (x - self.in_mean) / self.in_std
        return self.head(x, mask) * self.out_std + self.out_mean


@dataclass
class ProbeResult:
    """Outcome of :func:`train_probe`.

    Attributes:
        head: the fitted :class:`Probe` (best validation state, eval mode).
        best_step: step whose state was kept.
        best_value: validation metric at ``best_step``.
        metric: name of the validation metric.
        history: ``(step, validation metric)`` at every evaluation.
        train_loss: ``(step, mean training loss since the previous evaluation)``.
        steps: optimisation steps run.
        stopped_early: training stopped before ``max_steps`` for lack of improvement.
        n_out: number of head outputs.
    """

    head: Probe
    best_step: int
    best_value: float
    metric: str
    history: list[tuple[int, float]] = field(default_factory=list)
    train_loss: list[tuple[int, float]] = field(default_factory=list)
    steps: int = 0
    stopped_early: bool = False
    n_out: int = 0


# -- labels -------------------------------------------------------------------------------------------
def _prepare_targets(y: Any, n: int, task: str, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.shape[:1] != (n,):
        raise DataError(f"{name} has {arr.shape[:1] or 'no'} rows but the features hold {n} records")
    if arr.dtype == object or not np.all(np.isfinite(arr)):
        raise DataError(f"{name} must be finite numbers")
    if task == "multilabel":
        if arr.ndim != 2 or not np.all((arr == 0) | (arr == 1)):
            raise DataError(f"multilabel {name} must be (N, L) with 0/1 entries, got shape {arr.shape}")
        return arr.astype(np.float32)
    if task == "multiclass":
        if arr.ndim != 1 or not np.all(np.mod(arr, 1) == 0) or arr.min() < 0:
            raise DataError(f"multiclass {name} must be (N,) non-negative integer class ids")
        return arr.astype(np.int64)
    if arr.ndim not in (1, 2):
        raise DataError(f"regression {name} must be (N,) or (N, L), got shape {arr.shape}")
    return arr.astype(np.float32)


def _n_out(task: str, y_train: np.ndarray, y_val: np.ndarray, n_classes: int | None) -> int:
    if task == "multilabel":
        if y_val.shape[1] != y_train.shape[1]:
            raise DataError(f"y_train has {y_train.shape[1]} labels but y_val has {y_val.shape[1]}")
        return int(y_train.shape[1])
    if task == "multiclass":
        seen = int(max(y_train.max(), y_val.max())) + 1
        if n_classes is not None and seen > n_classes:
            raise DataError(f"labels hold class id {seen - 1} but n_classes={n_classes}")
        return max(n_classes or seen, 2)
    return 1 if y_train.ndim == 1 else int(y_train.shape[1])


# -- model --------------------------------------------------------------------------------------------
def _build_head(cfg: ProbeConfig, fs: FeatureSet, n_out: int) -> nn.Module:
    if cfg.head == "attentive":
        if fs.kind != "tokens":
            raise ConfigError(
                "the attentive probe needs token features (N, W, Ntok, D); extract them with "
                "extract_features(..., pool='tokens') or use head='linear'"
            )
        return AttentivePooler(fs.dim, n_out, n_heads=cfg.n_heads)
    return LinearHead(fs.dim, n_out, pool="mean" if fs.kind == "tokens" else "none")


def _valid_rows(fs: FeatureSet) -> np.ndarray:
    """All valid windows' feature vectors flattened to ``(M, D)``."""
    valid = np.arange(fs.feats.shape[1])[None, :] < fs.n_windows[:, None]  # (N, W)
    rows = fs.feats[valid]  # (M, D) or (M, Ntok, D)
    return rows.reshape(-1, fs.dim)  # (M', D)


def _fit_standardisation(probe: Probe, fs: FeatureSet, y: np.ndarray, task: str) -> None:
    rows = _valid_rows(fs).astype(np.float64)
    mean = rows.mean(axis=0)
    std = rows.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    probe.in_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
    probe.in_std.copy_(torch.as_tensor(std, dtype=torch.float32))
    if task == "regression":
        yy = y.reshape(y.shape[0], -1).astype(np.float64)  # (N, L)
        ystd = yy.std(axis=0)
        probe.out_mean.copy_(torch.as_tensor(yy.mean(axis=0), dtype=torch.float32))
        probe.out_std.copy_(torch.as_tensor(np.where(ystd > 1e-8, ystd, 1.0), dtype=torch.float32))


def _param_groups(module: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for m in module.modules():
        for name, p in m.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            (decay if isinstance(m, nn.Linear) and name == "weight" else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _loss(task: str, out: Tensor, target: Tensor, probe: Probe) -> Tensor:
    if task == "multilabel":
        return F.binary_cross_entropy_with_logits(out, target)
    if task == "multiclass":
        return F.cross_entropy(out, target)
    # regression: MSE in standardised target units so the loss scale does not depend on the targets
    return F.mse_loss((out - probe.out_mean) / probe.out_std, (target - probe.out_mean) / probe.out_std)


# -- public API ---------------------------------------------------------------------------------------
def predict(head: nn.Module, features: FeatureSet | np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Scores ``(N, L)``: the head's outputs on every window of a record, averaged over its valid windows.

    Args:
        head: a module mapping one window's features (``(B, D)`` or ``(B, Ntok, D)``) to ``(B, L)``, e.g.
            :attr:`ProbeResult.head`. It runs in eval mode on the device of its parameters.
        features: a :class:`FeatureSet` or an array (see :func:`~biojepa.eval.features.as_feature_set`).
        batch_size: records per forward pass.

    Returns:
        float32 ``(N, L)`` averaged outputs (logits for classification tasks).
    """
    fs = as_feature_set(features)
    p = next(iter(head.parameters()), None)
    device = p.device if p is not None else torch.device("cpu")
    was_training = head.training
    head.eval()
    outs = []
    try:
        with torch.inference_mode():
            for b0 in range(0, fs.n_records, max(1, batch_size)):
                x = torch.from_numpy(fs.feats[b0 : b0 + batch_size]).to(device)  # (b, W, ...)
                b, w = x.shape[:2]
                o = head(x.reshape(b * w, *x.shape[2:]))  # (b·W, L)
                o = o.reshape(b, w, -1)  # (b, W, L)
                outs.append(aggregate(o, "mean", fs.n_windows[b0 : b0 + b]).float().cpu().numpy())
    finally:
        head.train(was_training)
    return np.concatenate(outs, axis=0)  # (N, L)


def train_probe(
    train: FeatureSet | np.ndarray,
    y_train: Any,
    val: FeatureSet | np.ndarray,
    y_val: Any,
    cfg: ProbeConfig | None = None,
) -> ProbeResult:
    """Train a probe head on cached features with early stopping on a validation metric.

    Args:
        train: training features (:class:`FeatureSet`, or an array ``(N, D)`` / ``(N, W, D)`` /
            ``(N, W, Ntok, D)``).
        y_train: ``(N, L)`` 0/1 (multilabel), ``(N,)`` class ids (multiclass), ``(N,)`` / ``(N, L)``
            floats (regression).
        val: validation features, same kind and width as ``train``.
        y_val: validation targets.
        cfg: hyper-parameters; default :class:`ProbeConfig()`.

    Returns:
        A :class:`ProbeResult` whose head holds the best validation state.

    Raises:
        ConfigError: the head does not fit the features (attentive head on pooled features).
        DataError: targets or features are malformed; the validation metric is undefined.
        NonFiniteLossError: the training loss became NaN/inf.
    """
    cfg = cfg or ProbeConfig()
    tr, va = as_feature_set(train), as_feature_set(val)
    if tr.kind != va.kind or tr.feats.shape[2:] != va.feats.shape[2:]:
        raise DataError(
            f"train features {tr.feats.shape[2:]} ({tr.kind}) and validation features "
            f"{va.feats.shape[2:]} ({va.kind}) differ in kind or width"
        )
    if tr.n_records < 1 or va.n_records < 1:
        raise DataError("train_probe needs at least one training and one validation record")
    ytr = _prepare_targets(y_train, tr.n_records, cfg.task, "y_train")
    yva = _prepare_targets(y_val, va.n_records, cfg.task, "y_val")
    n_out = _n_out(cfg.task, ytr, yva, cfg.n_classes)
    metric = cfg.selection_metric
    device = torch.device(cfg.device)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        probe = Probe(_build_head(cfg, tr, n_out), tr.dim, n_out)
    if cfg.standardize:
        _fit_standardisation(probe, tr, ytr, cfg.task)
    probe.to(device)
    opt = torch.optim.AdamW(_param_groups(probe, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas)
    gen = torch.Generator().manual_seed(cfg.seed)
    n_win = torch.from_numpy(tr.n_windows)  # (N,)
    y_all = torch.from_numpy(ytr if cfg.task != "regression" else ytr.reshape(ytr.shape[0], -1))  # (N, L|)

    best_value, best_step = -np.inf, 0
    best_state = copy.deepcopy(probe.state_dict())
    history: list[tuple[int, float]] = []
    losses: list[tuple[int, float]] = []
    running, n_running = 0.0, 0
    step, stopped = 0, False
    while step < cfg.max_steps:
        step += 1
        probe.train()
        rec = torch.randint(0, tr.n_records, (cfg.batch_size,), generator=gen)  # (B,)
        win = (torch.rand(cfg.batch_size, generator=gen) * n_win[rec]).long()  # (B,)
        x = torch.from_numpy(tr.feats[rec.numpy(), win.numpy()]).to(device)  # (B, D) or (B, Ntok, D)
        target = y_all[rec].to(device)  # (B, L) or (B,)
        loss = _loss(cfg.task, probe(x), target, probe)
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"probe training loss is {loss.item()} at step {step}; lower lr (now {cfg.lr}) or check the "
                "features for extreme values"
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip is not None:
            nn.utils.clip_grad_norm_(probe.parameters(), cfg.grad_clip)
        opt.step()
        running += float(loss.detach())
        n_running += 1

        if step % cfg.eval_every == 0 or step == cfg.max_steps:
            value = compute_metric(metric, yva, predict(probe, va))
            history.append((step, value))
            losses.append((step, running / n_running))
            running, n_running = 0.0, 0
            if value > best_value + cfg.min_delta:
                best_value, best_step = value, step
                best_state = copy.deepcopy(probe.state_dict())
            elif step - best_step >= cfg.patience:
                stopped = step < cfg.max_steps
                break

    probe.load_state_dict(best_state)
    probe.eval()
    return ProbeResult(
        head=probe,
        best_step=best_step,
        best_value=float(best_value),
        metric=metric,
        history=history,
        train_loss=losses,
        steps=step,
        stopped_early=stopped,
        n_out=n_out,
    )
