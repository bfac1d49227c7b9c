"""Train a complete classifier module on epoched trials, with early stopping and a freeze schedule.

Model-agnostic: ``model(x (B, C, T)) -> logits (B, K)``. The two S-JEPA fine-tuning schemes (research note
eeg.md §1.4) are expressed with ``pretrained`` (the modules that come from pretraining):

* ``scheme="new"``: the pretrained modules stay frozen (and in eval mode); only the new layers train.
* ``scheme="full"``: the new layers train alone for ``warmup_epochs``, then everything trains.

Epochs run over shuffled mini-batches (the last partial batch included); after every epoch the validation
loss is computed and the state with the lowest validation loss is kept; training stops after ``patience``
epochs without improvement, and the best state is restored. Deterministic for a seed (CPU).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from biojepa.errors import ConfigError, DataError, NonFiniteLossError

__all__ = ["FitResult", "SupervisedConfig", "fit_classifier", "predict_logits"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SupervisedConfig:
    """Hyper-parameters (defaults: S-JEPA's downstream protocol, eeg.md §1.4).

    Attributes:
        scheme: ``"new"`` (pretrained parts frozen) or ``"full"`` (warm-up, then everything).
        lr: Adam learning rate (1e-3 in the paper).
        batch_size: trials per step (32).
        max_epochs: upper bound on epochs (500 in the paper).
        patience: epochs without a lower validation loss before stopping (50 in the paper).
        warmup_epochs: ``full`` scheme: epochs during which only the new layers train (10).
        weight_decay: AdamW weight decay (0 = plain Adam, as the paper).
        seed: seed of the batch order and dropout.
    """

    scheme: Literal["new", "full"] = "full"
    lr: float = 1e-3
    batch_size: int = 32
    max_epochs: int = 500
    patience: int = 50
    warmup_epochs: int = 10
    weight_decay: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.scheme not in ("new", "full"):
            raise ConfigError(f"scheme must be 'new' or 'full', found {self.scheme!r}")
        for name in ("batch_size", "max_epochs", "patience"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, found {getattr(self, name)}")
        if self.warmup_epochs < 0 or not self.lr > 0:
            raise ConfigError(f"need warmup_epochs >= 0 and lr > 0, found {self.warmup_epochs}, {self.lr}")


@dataclass
class FitResult:
    """What :func:`fit_classifier` did."""

    best_epoch: int
    epochs: int
    best_val_loss: float
    history: list[dict[str, float]] = field(default_factory=list)


def _set_trainable(modules: Sequence[nn.Module], flag: bool) -> None:
    for m in modules:
        for p in m.parameters():
            p.requires_grad_(flag)


def predict_logits(model: nn.Module, x: np.ndarray | Tensor, *, batch_size: int = 256) -> np.ndarray:
    """Logits ``(N, K)`` of ``model`` in eval mode, float64."""
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    outs = []
    with torch.inference_mode():
        for i in range(0, len(xt), batch_size):
            outs.append(model(xt[i : i + batch_size].to(dev)).float().cpu())  # (b, K)
    model.train(was)
    return torch.cat(outs).double().numpy() if outs else np.zeros((0, 0))


def _val_loss(model: nn.Module, x: Tensor, y: Tensor, batch_size: int) -> float:
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            total += float(F.cross_entropy(model(x[i : i + batch_size]), y[i : i + batch_size], reduction="sum"))
    return total / max(len(x), 1)


def fit_classifier(
    model: nn.Module,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    cfg: SupervisedConfig,
    *,
    pretrained: Sequence[nn.Module] = (),
    device: str | torch.device = "cpu",
) -> FitResult:
    """Train ``model`` in place (cross-entropy) and restore its best-validation-loss state.

    Args:
        model: the classifier; ``model(x)`` gives logits.
        x_train: ``(N, C, T)`` training trials.
        y_train: ``(N,)`` integer labels ``0..K-1``.
        x_val: validation trials (early stopping and model selection).
        y_val: validation labels.
        cfg: hyper-parameters and scheme.
        pretrained: modules that come from pretraining (frozen in ``new``; in ``full`` frozen during warm-up).
        device: where to train.

    Returns:
        The best epoch, epochs run, best validation loss and the per-epoch history.

    Raises:
        DataError: empty or mismatched arrays, or a validation set without samples.
        NonFiniteLossError: the training loss became NaN/inf.
    """
    if len(x_train) == 0 or len(x_val) == 0:
        raise DataError(f"need training and validation trials, found {len(x_train)} and {len(x_val)}")
    if len(x_train) != len(y_train) or len(x_val) != len(y_val):
        raise DataError("trials and labels differ in number")
    dev = torch.device(device)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model.to(dev)
    xt = torch.as_tensor(np.asarray(x_train, dtype=np.float32), device=dev)  # (N, C, T)
    yt = torch.as_tensor(np.asarray(y_train, dtype=np.int64), device=dev)  # (N,)
    xv = torch.as_tensor(np.asarray(x_val, dtype=np.float32), device=dev)
    yv = torch.as_tensor(np.asarray(y_val, dtype=np.int64), device=dev)
    frozen_ids = {id(p) for m in pretrained for p in m.parameters()}

    def make_opt(train_pretrained: bool) -> torch.optim.Optimizer:
        _set_trainable(pretrained, train_pretrained)
        params = [p for p in model.parameters() if train_pretrained or id(p) not in frozen_ids]
        for p in params:
            p.requires_grad_(True)
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)

    unfreeze_at = None if cfg.scheme == "new" or not pretrained else cfg.warmup_epochs
    opt = make_opt(train_pretrained=not pretrained or unfreeze_at == 0)
    best = (float("inf"), -1, copy.deepcopy(model.state_dict()))
    history: list[dict[str, float]] = []
    bad = 0
    epoch = 0
    for epoch in range(cfg.max_epochs):
        if unfreeze_at is not None and epoch == unfreeze_at and epoch > 0:
            opt = make_opt(train_pretrained=True)
        model.train()
        for m in pretrained:  # frozen parts run in eval mode (no dropout, fixed norms)
            if not any(p.requires_grad for p in m.parameters()):
                m.eval()
        order = rng.permutation(len(xt))
        total = 0.0
        for i in range(0, len(order), cfg.batch_size):
            idx = torch.as_tensor(order[i : i + cfg.batch_size], device=dev)
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            if not torch.isfinite(loss):
                raise NonFiniteLossError(f"training loss became {float(loss)} at epoch {epoch}; lower the lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        vl = _val_loss(model, xv, yv, 256)
        history.append({"epoch": float(epoch), "train_loss": total / len(xt), "val_loss": vl})
        if vl < best[0] - 1e-6:
            best = (vl, epoch, copy.deepcopy(model.state_dict()))
            bad = 0
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    model.load_state_dict(best[2])
    _set_trainable([model], True)
    model.eval()
    return FitResult(best_epoch=best[1], epochs=epoch + 1, best_val_loss=best[0], history=history)
