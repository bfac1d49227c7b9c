"""The JEPA model: context encoder, EMA target encoder, predictor and latent loss.

Nothing here knows about ECG, EEG or fMRI: the model sees a signal batch, a :class:`MaskSet` of token
indices, and a tokenizer hidden inside the encoder.

One step::

    full   = target_encoder(x)                            # all tokens, after the final norm, no grad
    full   = layer_norm(full)                             # only with target_norm=True (I-JEPA, Brain-JEPA)
    target = gather(full, tgt_idx)
    ctx    = context_encoder(x, keep_idx=ctx_idx)         # only the kept tokens
    pred   = predictor(ctx, coords, ctx_idx, tgt_idx)     # only at target positions
    loss   = L1 | smooth-L1 | L2 (pred, target)
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from biojepa.nn.encoder import SignalEncoder
from biojepa.nn.predictor import Predictor
from biojepa.nn.tokenizers import gather_tokens

__all__ = ["JEPA", "JepaOutput", "LossKind", "ema_update_", "latent_loss"]

LossKind = Literal["l1", "smooth_l1", "l2"]


def latent_loss(pred: Tensor, target: Tensor, kind: LossKind = "l1", valid: Tensor | None = None) -> Tensor:
    """Mean element-wise loss between predictions and targets (B, M, D).

    Args:
        pred: predictions (B, M, D).
        target: targets (B, M, D).
        kind: ``"l1"`` (ECG-JEPA, S-JEPA), ``"smooth_l1"`` (I-JEPA) or ``"l2"``.
        valid: optional (B, M) bool; padded targets (False) do not count.

    Returns:
        Scalar loss (float32).
    """
    pred = pred.float()
    target = target.float()
    if kind == "l1":
        err = (pred - target).abs()
    elif kind == "smooth_l1":
        err = F.smooth_l1_loss(pred, target, reduction="none")
    elif kind == "l2":
        err = (pred - target).square()
    else:
        raise ValueError(f"unknown loss {kind!r}; expected 'l1', 'smooth_l1' or 'l2'")
    if valid is None:
        return err.mean()
    w = valid.to(err.dtype).unsqueeze(-1)  # (B, M, 1)
    return (err * w).sum() / (w.sum() * err.shape[-1]).clamp_min(1.0)


@torch.no_grad()
def ema_update_(target: Iterable[Tensor], online: Iterable[Tensor], momentum: float) -> None:
    """In place: ``target = momentum · target + (1 − momentum) · online`` for each pair of tensors."""
    t = list(target)
    o = list(online)
    if len(t) != len(o):
        raise ValueError(f"EMA needs matching parameter lists, got {len(t)} and {len(o)}")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"EMA momentum must be in [0, 1], got {momentum}")
    if t:
        torch._foreach_lerp_(t, o, 1.0 - momentum)


@dataclass
class JepaOutput:
    """Result of one JEPA forward pass."""

    loss: Tensor
    pred: Tensor  # (B, M, D)
    target: Tensor  # (B, M, D)


class JEPA(nn.Module):
    """Joint-Embedding Predictive Architecture around a :class:`SignalEncoder`.

    Args:
        encoder: the context encoder; a frozen deep copy becomes the EMA target encoder.
        predictor: the predictor.
        loss: latent loss kind.
        target_norm: layer-normalise every token of the target encoder's output over its ``D`` features
            (no affine parameters, float32) before the target tokens are gathered, as I-JEPA and Brain-JEPA
            do: the targets keep a fixed scale, which guards against collapse towards small targets. False
            (the default) leaves the targets exactly as the target encoder returns them. It adds no
            parameter, so checkpoints and exported encoders are the same either way.
    """

    def __init__(
        self,
        encoder: SignalEncoder,
        predictor: Predictor,
        *,
        loss: LossKind = "l1",
        target_norm: bool = False,
    ) -> None:
        super().__init__()
        self.context_encoder = encoder
        self.target_encoder = copy.deepcopy(encoder).requires_grad_(False)
        self.target_encoder.spec = encoder.spec
        self.predictor = predictor
        self.loss_kind: LossKind = loss
        self.target_norm: bool = bool(target_norm)

    def extra_repr(self) -> str:
        return f"loss={self.loss_kind!r}, target_norm={self.target_norm}"

    def train(self, mode: bool = True) -> JEPA:
        super().train(mode)
        self.target_encoder.eval()  # the target encoder never trains (no dropout / stochastic layers)
        return self

    def forward(self, x: Tensor, ctx_idx: Tensor, tgt_idx: Tensor, tgt_valid: Tensor | None = None) -> JepaOutput:
        """One JEPA pass.

        Several masks per input (S-JEPA draws 8 contexts per example) come as ``R·B`` mask rows, sample-major
        (rows ``i·R .. i·R + R - 1`` belong to sample ``i``): the target encoder still runs once per input.

        Args:
            x: signal batch (B, C, T).
            ctx_idx: kept (context) token indices (B·R, K), R >= 1 masks per input.
            tgt_idx: target token indices (B·R, M).
            tgt_valid: optional (B·R, M) validity of target indices.

        Returns:
            The loss, predictions and targets (layer-normalised when :attr:`target_norm` is set).

        Raises:
            ValueError: the number of mask rows is not a multiple of the batch size.
        """
        B = x.shape[0]
        rows = ctx_idx.shape[0]
        if rows % B or tgt_idx.shape[0] != rows:
            raise ValueError(
                f"mask rows ({rows} context, {tgt_idx.shape[0]} target) must be the same multiple of the batch "
                f"size {B} (one row per input, or R rows per input, sample-major)"
            )
        R = rows // B
        with torch.no_grad():
            full = self.target_encoder(x)  # (B, N, D)
            if self.target_norm:
                full = F.layer_norm(full.float(), (full.shape[-1],))  # (B, N, D) float32, no affine
            if R > 1:
                full = full.repeat_interleave(R, dim=0)  # (B·R, N, D)
            target = gather_tokens(full, tgt_idx)  # (B·R, M, D)
        if R > 1:
            x = x.repeat_interleave(R, dim=0)  # (B·R, C, T)
        ctx = self.context_encoder(x, keep_idx=ctx_idx)  # (B·R, K, D)
        coords = self.context_encoder.tokenizer.coords(x)  # (1|B, N, P)
        pred = self.predictor(ctx, coords, ctx_idx, tgt_idx)  # (B, M, D)
        loss = latent_loss(pred, target, self.loss_kind, tgt_valid)
        return JepaOutput(loss=loss, pred=pred, target=target)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Parameters updated by the optimizer (context encoder + predictor)."""
        return [p for p in self.parameters() if p.requires_grad]

    @torch.no_grad()
    def update_target(self, momentum: float) -> None:
        """EMA step of the target encoder towards the context encoder."""
        ema_update_(self.target_encoder.parameters(), self.context_encoder.parameters(), momentum)

    def export_encoder(self) -> SignalEncoder:
        """The target (EMA) encoder, the one used downstream."""
        return self.target_encoder
