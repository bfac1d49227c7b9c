"""Supervised fine-tuning of an encoder plus a head on random crops, with sliding-window validation.

Works for any encoder whose ``forward(x (B, C, T))`` returns token features ``(B, N, D)`` (e.g.
:class:`~biojepa.nn.encoder.SignalEncoder`). Every step draws ``batch_size`` records (with replacement) and
one random crop of ``crop_len`` samples from each; validation and :func:`predict_windows` run the model on
every window of the sliding grid of :func:`~biojepa.eval.windows.window_starts` and average the logits
(the PTB-XL protocol of ECG-JEPA). The state with the best validation metric is kept; training stops once
``patience`` steps pass without an improvement. Everything is deterministic given ``FinetuneConfig.seed``.

The ECG-JEPA protocols (research note ecg.md §1.7) map onto :class:`FinetuneConfig` as follows:

* ``finetune_after_linear``: the defaults, i.e. ``head="attentive"``, trainable encoder, lr 1e-4 -> 1e-6
  cosine after 200 warm-up steps, weight decay 0, clip 1.0, 5000 steps, batch 128, patience 2000, with
  ``head=`` the attentive head of a trained probe (:attr:`biojepa.eval.probes.ProbeResult.head`).
* ``finetune``: ``head="linear", lr=1e-3, lr_end=1e-5, weight_decay=0.01, betas=(0.9, 0.99),
  grad_clip=None, steps=10000`` (the linear layer reads mean-pooled tokens, where ECG-JEPA reads its
  register token).
* ``scratch``: either protocol applied to a randomly initialised encoder (e.g. ``create_model(name)``).
* a probe on live crops: ``freeze_encoder=True`` (only the head trains; the encoder stays in eval mode).

ECG-JEPA's encoder dropout during fine-tuning (0.1 / 0.05) has no counterpart here: the encoder is used as
given.

Layer-wise learning-rate decay (BEiT / MAE / Brain-JEPA fine-tuning, off by default): with
``layer_decay=d`` the parameters of a transformer encoder get the learning rate ``lr * d ** (L - layer)``,
``L = depth + 1``: the tokenizer, positional embedding and register tokens are layer 0, block ``i`` is layer
``i + 1``, everything else (the final norm, the head) is layer ``L`` at the full rate
(:func:`layer_ids`, :func:`layer_decay_param_groups`; Brain-JEPA uses ``d = 0.75``).

Example:
    >>> cfg = FinetuneConfig(crop_len=1250, eval_stride=625)          # doctest: +SKIP
    >>> res = finetune(encoder, x_tr, y_tr, x_va, y_va, cfg, head=probe_result.head)  # doctest: +SKIP
    >>> scores = predict_windows(res.model, x_te, window=1250, stride=625)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from torch import Tensor, nn

from biojepa.engine.schedules import warmup_cosine
from biojepa.errors import ConfigError, ContractError, DataError, NonFiniteLossError
from biojepa.eval.metrics import METRICS, compute_metric
from biojepa.eval.probes import _n_out, _prepare_targets
from biojepa.eval.windows import aggregate, extract_windows, window_starts
from biojepa.nn.heads import AttentivePooler, LinearHead

__all__ = [
    "FinetuneConfig",
    "FinetuneModel",
    "FinetuneResult",
    "finetune",
    "layer_decay_param_groups",
    "layer_ids",
    "predict_windows",
]

log = logging.getLogger(__name__)

#: Selection metric used when ``FinetuneConfig.metric`` is not set.
DEFAULT_METRIC: dict[str, str] = {"multilabel": "auc_macro", "multiclass": "accuracy"}

#: Metrics that make sense for each task (all are "higher is better").
_TASK_METRICS: dict[str, tuple[str, ...]] = {
    "multilabel": ("auc_macro", "f1_macro"),
    "multiclass": ("accuracy", "auc_macro", "balanced_accuracy", "f1_macro"),
}


class FinetuneConfig(BaseModel):
    """Hyper-parameters of a fine-tuning run (defaults: ECG-JEPA's ``finetune_after_linear``).

    Attributes:
        head: ``"attentive"`` (:class:`~biojepa.nn.heads.AttentivePooler` over the tokens) or ``"linear"``
            (:class:`~biojepa.nn.heads.LinearHead` on mean-pooled tokens). Ignored when a ``head`` module is
            passed to :func:`finetune`.
        task: ``"multilabel"`` (BCE with logits) or ``"multiclass"`` (cross-entropy).
        steps: optimisation steps (upper bound; early stopping may end the run sooner).
        batch_size: records per step, drawn with replacement, one random crop each.
        lr: peak learning rate (reached at the end of the warm-up).
        lr_end: learning rate at the last step (cosine decay from ``lr``).
        warmup_steps: linear warm-up from 0 to ``lr``; shortened to ``steps`` when longer.
        weight_decay: AdamW weight decay, applied to parameters with two or more dimensions only.
        betas: AdamW betas.
        grad_clip: max global gradient norm; ``None`` disables clipping.
        freeze_encoder: train the head only (a probe on live crops); the encoder runs in eval mode.
        crop_len: training crop length in samples (e.g. 250 = 2.5 s at 100 Hz).
        eval_window: validation window length in samples; default ``crop_len``.
        eval_stride: validation window stride in samples; default ``eval_window // 2`` (at least 1).
        eval_every: validate every this many steps (and at the last step).
        patience: stop after this many steps without a validation improvement.
        metric: validation metric for model selection; default ``auc_macro`` (multilabel) or
            ``accuracy`` (multiclass).
        n_classes: number of classes for ``multiclass`` (default: largest class id in train/val + 1).
        seed: seeds the head initialisation, the crop draws and torch's global RNG during training.
        device: where the model trains (e.g. ``"cpu"``, ``"cuda"``).
        eval_batch_size: windows per forward pass during validation.
        layer_decay: layer-wise learning-rate decay factor in (0, 1] (:func:`layer_decay_param_groups`);
            ``None`` (the default) trains every parameter at the scheduled rate.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    head: Literal["attentive", "linear"] = "attentive"
    task: Literal["multilabel", "multiclass"] = "multilabel"
    steps: int = Field(5000, ge=1)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(1e-4, gt=0)
    lr_end: float = Field(1e-6, ge=0)
    warmup_steps: int = Field(200, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float | None = Field(1.0, gt=0)
    freeze_encoder: bool = False
    crop_len: int = Field(ge=1)
    eval_window: int | None = Field(None, ge=1)
    eval_stride: int | None = Field(None, ge=1)
    eval_every: int = Field(100, ge=1)
    patience: int = Field(2000, ge=1)
    metric: str | None = None
    n_classes: int | None = Field(None, ge=2)
    seed: int = 0
    device: str = "cpu"
    eval_batch_size: int = Field(256, ge=1)
    layer_decay: float | None = Field(None, gt=0, le=1)

    @field_validator("betas")
    @classmethod
    def _betas_in_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in v):
            raise ValueError(f"betas must both lie in [0, 1), got {v}")
        return v

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, v: str | None) -> str | None:
        if v is not None and v not in METRICS:
            raise ValueError(f"unknown metric {v!r}; valid metrics: {', '.join(sorted(METRICS))}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> FinetuneConfig:
        if self.metric is not None and self.metric not in _TASK_METRICS[self.task]:
            raise ValueError(
                f"metric {self.metric!r} does not fit task {self.task!r}; "
                f"use one of {', '.join(_TASK_METRICS[self.task])}"
            )
        if self.lr_end > self.lr:
            raise ValueError(f"lr_end ({self.lr_end}) must not exceed lr ({self.lr})")
        return self

    @property
    def selection_metric(self) -> str:
        """The metric used for model selection: ``metric`` or the task default."""
        return self.metric or DEFAULT_METRIC[self.task]

    @property
    def window(self) -> int:
        """Validation window length: ``eval_window`` or ``crop_len``."""
        return int(self.eval_window or self.crop_len)

    @property
    def stride(self) -> int:
        """Validation stride: ``eval_stride`` or half the window (at least 1)."""
        return int(self.eval_stride or max(1, self.window // 2))


class FinetuneModel(nn.Module):
    """An encoder followed by a head: ``forward(x (B, C, T)) -> logits (B, L)``.

    Args:
        encoder: module mapping ``(B, C, T)`` to token features ``(B, N, D)``.
        head: module mapping tokens ``(B, N, D)`` to ``(B, L)``.
    """

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(B, L)`` for one window per row of ``x`` (B, C, T)."""
        return self.head(self.encoder(x))


@dataclass
class FinetuneResult:
    """Outcome of :func:`finetune`.

    Attributes:
        model: the :class:`FinetuneModel` holding the best validation state, in eval mode.
        best_step: step whose state was kept (0: no evaluation improved on the initial state).
        best_value: validation metric at ``best_step``.
        metric: name of the validation metric.
        history: ``(step, validation metric)`` at every evaluation.
        train_loss: ``(step, mean training loss since the previous evaluation)``.
        steps: optimisation steps run.
        stopped_early: training stopped before ``cfg.steps`` for lack of improvement.
    """

    model: nn.Module
    best_step: int
    best_value: float
    metric: str
    history: list[tuple[int, float]] = field(default_factory=list)
    train_loss: list[tuple[int, float]] = field(default_factory=list)
    steps: int = 0
    stopped_early: bool = False


# -- input checks ------------------------------------------------------------------------------------
def _shape(x: Any, name: str) -> tuple[int, int, int]:
    shape = getattr(x, "shape", None)
    if shape is None or len(shape) != 3:
        raise DataError(
            f"{name} must be an array (N, C, T) indexable by integer arrays (numpy array or np.memmap), "
            f"got {type(x).__name__} with shape {shape}"
        )
    n, c, t = (int(s) for s in shape)
    if n < 1:
        raise DataError(f"{name} holds no records; fine-tuning needs at least one")
    return n, c, t


def _gather(x: Any, idx: np.ndarray) -> np.ndarray:
    """``x[idx]`` as float32, reading each distinct record once, in increasing order."""
    uniq, inv = np.unique(idx, return_inverse=True)  # (U,), (B,)
    block = np.asarray(x[uniq], dtype=np.float32)  # (U, C, T)
    return block[inv]  # (B, C, T)


def _check_finite(xb: np.ndarray, first: int, name: str) -> None:
    if not np.all(np.isfinite(xb)):
        bad = int(np.nonzero(~np.isfinite(xb).reshape(xb.shape[0], -1).all(axis=1))[0][0])
        raise DataError(
            f"{name} record {first + bad} holds non-finite values (NaN/inf); clean or drop it before fine-tuning"
        )


# -- model -------------------------------------------------------------------------------------------
def _encoder_width(encoder: nn.Module, n_channels: int, crop_len: int, device: torch.device) -> int:
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.inference_mode():
            out = encoder(torch.zeros(1, n_channels, crop_len, device=device))  # (1, N, D)
    finally:
        encoder.train(was_training)
    if not isinstance(out, Tensor) or out.ndim != 3 or out.shape[0] != 1:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ContractError(
            f"the encoder must map (B, C, T) to tokens (B, N, D); for input (1, {n_channels}, {crop_len}) it "
            f"returned {shape}. Wrap the model so that forward returns its token features"
        )
    return int(out.shape[-1])


def _check_head_output(model: FinetuneModel, n_channels: int, crop_len: int, n_out: int) -> None:
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            out = model(torch.zeros(2, n_channels, crop_len, device=device))  # (2, L)
    finally:
        model.train(was_training)
    if not isinstance(out, Tensor) or tuple(out.shape) != (2, n_out):
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ConfigError(
            f"the head must map tokens (B, N, D) to logits (B, {n_out}) for this task, but for a batch of 2 "
            f"it returned {shape}; pass a head trained for the same labels, or none to build a new one"
        )


def _param_groups(module: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: weight decay on trainable parameters with >= 2 dimensions, none on biases/norms."""
    decay = [p for p in module.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in module.parameters() if p.requires_grad and p.ndim < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


#: Parameter-name components that belong to the input embedding (layer 0 of the layer-wise lr decay).
_EMBED_PARTS = frozenset({"tokenizer", "pos_embed", "patch_embed", "registers", "cls_token", "mask_token"})
_BLOCK_RE = re.compile(r"(?:^|\.)blocks\.(\d+)(?:\.|$)")


def layer_ids(module: nn.Module) -> tuple[dict[str, int], int]:
    """Layer index of every trainable parameter of ``module`` for layer-wise lr decay, and the top index ``L``.

    ``L = n_blocks + 1`` where ``n_blocks`` is one more than the largest ``blocks.<i>`` index in the parameter
    names (a :class:`~biojepa.nn.encoder.SignalEncoder`'s ``transformer.blocks``, also inside a
    :class:`FinetuneModel`). A parameter in ``blocks.<i>`` is layer ``i + 1``; one whose name has a component
    ``tokenizer``, ``pos_embed``, ``patch_embed``, ``registers``, ``cls_token`` or ``mask_token`` is layer 0;
    any other (final norm, head) is layer ``L``. Meant for modules holding one transformer stack.

    Returns:
        ``({parameter name: layer}, L)``.
    """
    names = [n for n, p in module.named_parameters() if p.requires_grad]
    blocks = [int(m.group(1)) for n in names if (m := _BLOCK_RE.search(n)) is not None]
    top = (max(blocks) + 1 if blocks else 0) + 1
    ids: dict[str, int] = {}
    for n in names:
        m = _BLOCK_RE.search(n)
        if m is not None:
            ids[n] = int(m.group(1)) + 1
        elif _EMBED_PARTS.intersection(n.split(".")):
            ids[n] = 0
        else:
            ids[n] = top
    return ids, top


def layer_decay_param_groups(
    module: nn.Module, weight_decay: float, layer_decay: float
) -> list[dict[str, Any]]:
    """AdamW parameter groups with layer-wise learning-rate decay (BEiT / MAE ``param_groups_lrd``).

    Every group carries ``lr_scale = layer_decay ** (L - layer)`` (:func:`layer_ids`); the training loop sets
    ``group["lr"] = lr * group["lr_scale"]``. Weight decay applies to trainable parameters with two or more
    dimensions only, as in :func:`_param_groups`. Groups also carry ``layer`` (for inspection); empty groups are
    left out.

    Raises:
        ConfigError: ``layer_decay`` outside (0, 1] or a negative ``weight_decay``.
    """
    if not 0.0 < float(layer_decay) <= 1.0:
        raise ConfigError(f"layer_decay must be in (0, 1], got {layer_decay}")
    if float(weight_decay) < 0:
        raise ConfigError(f"weight_decay must be >= 0, got {weight_decay}")
    ids, top = layer_ids(module)
    groups: dict[tuple[int, bool], dict[str, Any]] = {}
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        layer, decay = ids[name], p.ndim >= 2
        g = groups.setdefault(
            (layer, decay),
            {
                "params": [],
                "weight_decay": float(weight_decay) if decay else 0.0,
                "lr_scale": float(layer_decay) ** (top - layer),
                "layer": layer,
            },
        )
        g["params"].append(p)
    return [groups[k] for k in sorted(groups)]


def _loss(task: str, logits: Tensor, target: Tensor) -> Tensor:
    if task == "multilabel":
        return F.binary_cross_entropy_with_logits(logits, target)
    return F.cross_entropy(logits, target)


def _cpu_state(module: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def _rng_devices(device: torch.device) -> list[int]:
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


# -- public API ---------------------------------------------------------------------------------------
def predict_windows(
    model: nn.Module,
    x: Any,
    *,
    window: int,
    stride: int,
    batch_size: int = 256,
    device: str = "cpu",
) -> np.ndarray:
    """Logits ``(N, L)``: the model's outputs on every sliding window of a record, averaged per record.

    Args:
        model: module mapping ``(B, C, window)`` to ``(B, L)``, e.g. :attr:`FinetuneResult.model`. It is
            moved to ``device`` and run in eval mode under ``torch.inference_mode``; its previous train/eval
            mode is restored afterwards.
        x: records ``(N, C, T)`` (numpy array or ``np.memmap``, any float dtype; converted to float32),
            read a chunk of records at a time.
        window: window length in samples.
        stride: step between window starts in samples (the grid always ends flush with the record, see
            :func:`~biojepa.eval.windows.window_starts`).
        batch_size: windows per forward pass (at least one record's windows are processed together).
        device: where the model runs.

    Returns:
        float32 ``(N, L)`` mean logits over each record's windows.

    Raises:
        ConfigError: bad ``window`` / ``stride`` / ``batch_size``.
        ContractError: records shorter than the window.
        DataError: ``x`` is not ``(N, C, T)`` or holds non-finite values.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    n, _, t = _shape(x, "x")
    n_win = len(window_starts(t, window, stride))
    per_chunk = max(1, batch_size // n_win)  # records per forward pass
    dev = torch.device(device)
    was_training = model.training
    model.to(dev)
    model.eval()
    outs: list[np.ndarray] = []
    try:
        with torch.inference_mode():
            for b0 in range(0, n, per_chunk):
                idx = np.arange(b0, min(n, b0 + per_chunk))  # (b,)
                xb = np.asarray(x[idx], dtype=np.float32)  # (b, C, T)
                _check_finite(xb, b0, "x")
                wins = extract_windows(xb, window, stride)  # (b, W, C, window)
                b, w = wins.shape[:2]
                flat = torch.from_numpy(
                    np.ascontiguousarray(wins.reshape(b * w, *wins.shape[2:]))
                )  # (b·W, C, win)
                logits = model(flat.to(dev)).float()  # (b·W, L)
                logits = logits.reshape(b, w, -1)  # (b, W, L)
                outs.append(aggregate(logits, "mean").cpu().numpy())  # (b, L)
    finally:
        model.train(was_training)
    return np.concatenate(outs, axis=0)  # (N, L)


def finetune(
    encoder: nn.Module,
    x_train: Any,
    y_train: Any,
    x_val: Any,
    y_val: Any,
    cfg: FinetuneConfig,
    *,
    head: nn.Module | None = None,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
) -> FinetuneResult:
    """Fine-tune ``encoder`` plus a head on random crops with early stopping on a validation metric.

    Args:
        encoder: module with ``forward(x (B, C, T)) -> (B, N, D)``. It is deep-copied: the caller's module
            (weights, device, train/eval mode) is never modified.
        x_train: training records ``(N, C, T)``, a numpy array or ``np.memmap`` (float16/float32) indexable by
            an integer array. Records may be longer than ``cfg.crop_len``: every draw takes a random crop.
        y_train: ``(N, L)`` 0/1 (multilabel) or ``(N,)`` class ids (multiclass).
        x_val: validation records ``(M, C, T')``, evaluated on the sliding grid of
            ``cfg.window`` / ``cfg.stride`` with logit averaging.
        y_val: validation targets.
        cfg: hyper-parameters.
        head: optional head initialisation: any module mapping tokens ``(B, N, D)`` to logits ``(B, L)`` with
            L matching the task, e.g. the attentive head of a trained probe
            (:attr:`biojepa.eval.probes.ProbeResult.head`, a ``Probe`` whose standardisation buffers stay
            fixed while its weights train). It is deep-copied; ``cfg.head`` is then ignored. Without it a
            new head of kind ``cfg.head`` is built at the encoder's output width.
        progress: optional callback ``progress(step, cfg.steps, info)`` called after every step with
            ``info = {"loss", "lr"}``, plus ``"value"`` and ``"best_value"`` at evaluation steps.

    Returns:
        A :class:`FinetuneResult` whose model holds the best validation state (eval mode, on ``cfg.device``).

    Raises:
        ConfigError: the head does not produce one logit per label/class.
        ContractError: records shorter than ``crop_len`` / the validation window, or an encoder that does not
            return tokens ``(B, N, D)``.
        DataError: malformed records or targets, or an undefined validation metric.
        NonFiniteLossError: the training loss became NaN/inf.
    """
    n_tr, c_tr, t_tr = _shape(x_train, "x_train")
    n_va, c_va, t_va = _shape(x_val, "x_val")
    if c_va != c_tr:
        raise DataError(f"x_train has {c_tr} channels but x_val has {c_va}; both must follow the same layout")
    if t_tr < cfg.crop_len:
        raise ContractError(
            f"training records have {t_tr} samples, fewer than crop_len={cfg.crop_len}; lower crop_len or "
            "use longer records"
        )
    window, stride = cfg.window, cfg.stride
    window_starts(t_va, window, stride)  # validates the validation grid before any training
    ytr = _prepare_targets(y_train, n_tr, cfg.task, "y_train")
    yva = _prepare_targets(y_val, n_va, cfg.task, "y_val")
    n_out = _n_out(cfg.task, ytr, yva, cfg.n_classes)
    metric = cfg.selection_metric
    device = torch.device(cfg.device)
    warmup = min(cfg.warmup_steps, cfg.steps)
    if warmup < cfg.warmup_steps:
        log.info(
            "warmup_steps=%d is longer than the run (%d steps); warming up over the whole run",
            cfg.warmup_steps,
            cfg.steps,
        )

    with torch.random.fork_rng(devices=_rng_devices(device)):
        torch.manual_seed(cfg.seed)
        enc = copy.deepcopy(encoder).to(device)
        if head is not None:
            hd = copy.deepcopy(head)
        else:
            dim = _encoder_width(enc, c_tr, cfg.crop_len, device)
            hd = (
                AttentivePooler(dim, n_out)
                if cfg.head == "attentive"
                else LinearHead(dim, n_out, pool="mean")
            )
        model = FinetuneModel(enc, hd).to(device)
        _check_head_output(model, c_tr, cfg.crop_len, n_out)
        flags = [(p, p.requires_grad) for p in enc.parameters()]
        if cfg.freeze_encoder:
            enc.requires_grad_(False)
        try:
            return _train(model, x_train, ytr, x_val, yva, cfg, metric, warmup, progress)
        finally:
            for p, flag in flags:  # the returned model keeps the encoder's own requires_grad flags
                p.requires_grad_(flag)


def _train(
    model: FinetuneModel,
    x_train: Any,
    ytr: np.ndarray,
    x_val: Any,
    yva: np.ndarray,
    cfg: FinetuneConfig,
    metric: str,
    warmup: int,
    progress: Callable[[int, int, dict[str, float]], None] | None,
) -> FinetuneResult:
    """The step loop of :func:`finetune` (inputs already validated, RNG already seeded)."""
    device = torch.device(cfg.device)
    n_tr, _, t_tr = (int(s) for s in x_train.shape)
    trainable = model.head if cfg.freeze_encoder else model
    groups = (
        _param_groups(trainable, cfg.weight_decay)
        if cfg.layer_decay is None
        else layer_decay_param_groups(trainable, cfg.weight_decay, cfg.layer_decay)
    )
    opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)
    gen = torch.Generator().manual_seed(cfg.seed)
    y_all = torch.from_numpy(ytr)  # (N, L) float32 or (N,) int64
    offsets = np.arange(cfg.crop_len, dtype=np.int64)  # (crop,)

    best_value, best_step = -np.inf, 0
    best_state = _cpu_state(model)
    history: list[tuple[int, float]] = []
    losses: list[tuple[int, float]] = []
    running, n_running = 0.0, 0
    step, stopped = 0, False
    while step < cfg.steps:
        step += 1
        lr = warmup_cosine(step, total=cfg.steps, warmup=warmup, start=0.0, peak=cfg.lr, end=cfg.lr_end)
        for group in opt.param_groups:
            group["lr"] = lr * group["lr_scale"] if "lr_scale" in group else lr
        model.train()
        if cfg.freeze_encoder:
            model.encoder.eval()
        rec = torch.randint(0, n_tr, (cfg.batch_size,), generator=gen).numpy()  # (B,)
        start = torch.randint(0, t_tr - cfg.crop_len + 1, (cfg.batch_size,), generator=gen).numpy()  # (B,)
        records = _gather(x_train, rec)  # (B, C, T)
        t_idx = start[:, None] + offsets[None, :]  # (B, crop)
        crops = np.take_along_axis(records, t_idx[:, None, :], axis=2)  # (B, C, crop)
        x = torch.from_numpy(crops).to(device)
        target = y_all[torch.from_numpy(rec)].to(device)  # (B, L) or (B,)
        if cfg.freeze_encoder:
            with torch.no_grad():
                tokens = model.encoder(x)  # (B, N, D)
            logits = model.head(tokens)  # (B, L)
        else:
            logits = model(x)  # (B, L)
        loss = _loss(cfg.task, logits, target)
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"fine-tuning loss is {loss.item()} at step {step} (lr {lr:.3g}); lower lr (peak {cfg.lr}), "
                "enable grad_clip, or check the records for extreme values"
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip is not None:
            nn.utils.clip_grad_norm_([p for p in trainable.parameters() if p.requires_grad], cfg.grad_clip)
        opt.step()
        loss_value = float(loss.detach())
        running += loss_value
        n_running += 1
        info: dict[str, float] = {"loss": loss_value, "lr": lr}

        if step % cfg.eval_every == 0 or step == cfg.steps:
            scores = predict_windows(
                model,
                x_val,
                window=cfg.window,
                stride=cfg.stride,
                batch_size=cfg.eval_batch_size,
                device=cfg.device,
            )
            value = compute_metric(metric, yva, scores)
            history.append((step, value))
            losses.append((step, running / n_running))
            running, n_running = 0.0, 0
            if value > best_value:
                best_value, best_step = value, step
                best_state = _cpu_state(model)
            info |= {"value": value, "best_value": float(best_value)}
            if progress is not None:
                progress(step, cfg.steps, info)
            if best_step != step and step - best_step >= cfg.patience:
                stopped = step < cfg.steps
                break
        elif progress is not None:
            progress(step, cfg.steps, info)

    model.load_state_dict(best_state)
    model.eval()
    return FinetuneResult(
        model=model,
        best_step=best_step,
        best_value=float(best_value),
        metric=metric,
        history=history,
        train_loss=losses,
        steps=step,
        stopped_early=stopped,
    )
