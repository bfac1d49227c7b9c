"""Classification / regression heads that sit on top of frozen or fine-tuned token features.

Two heads, both taking encoder features and returning one output vector per input:

* :class:`LinearHead` mean-pools tokens ``(B, N, D) -> (B, D)`` (or takes pooled ``(B, D)`` features),
  optionally normalises them (``norm="batchnorm"``: the MAE / Brain-JEPA linear probe's
  ``BatchNorm1d(affine=False)``; ``norm="layernorm"``: Brain-JEPA's fine-tuning head) and applies one Linear
  layer.
* :class:`AttentivePooler` is a single learned query attending over the tokens with one multi-head
  cross-attention (SDPA); the attention's output projection maps straight to the outputs, as in the
  "linear" probe of ECG-JEPA.

Both accept an optional key padding mask ``(B, N)`` bool where ``True`` marks a valid token.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from biojepa.errors import ConfigError, ContractError

__all__ = ["AttentivePooler", "LinearHead", "default_n_heads", "masked_mean"]

_INIT_STD = 0.02


def _trunc_normal_(t: Tensor, std: float = _INIT_STD) -> None:
    nn.init.trunc_normal_(t, std=std, a=-2 * std, b=2 * std)


def _check_mask(mask: Tensor, x: Tensor) -> Tensor:
    """Validate a key padding mask against tokens ``x`` (B, N, D); return it as bool."""
    if mask.shape != x.shape[:2]:
        raise ContractError(
            f"key padding mask has shape {tuple(mask.shape)} but the tokens have shape {tuple(x.shape)}; "
            "expected a (B, N) mask, True for valid tokens"
        )
    mask = mask.to(device=x.device, dtype=torch.bool)
    if not bool(mask.any(dim=1).all()):
        bad = torch.nonzero(~mask.any(dim=1)).flatten().tolist()
        raise ContractError(
            f"key padding mask marks no valid token in batch rows {bad[:10]}; every row needs at least one "
            "True entry (True = valid token)"
        )
    return mask


def masked_mean(x: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean over the token axis of ``x`` (B, N, D), counting only tokens where ``mask`` (B, N) is True.

    Raises:
        ContractError: ``x`` is not 3-D, or the mask has the wrong shape or an all-False row.
    """
    if x.ndim != 3:
        raise ContractError(f"expected tokens of shape (B, N, D), got a tensor of shape {tuple(x.shape)}")
    if mask is None:
        return x.mean(dim=1)
    m = _check_mask(mask, x).to(x.dtype).unsqueeze(-1)  # (B, N, 1)
    return (x * m).sum(dim=1) / m.sum(dim=1)  # (B, D)


def default_n_heads(dim: int) -> int:
    """Heads of width 64 where ``dim`` allows it, else one head (e.g. 384 -> 6, 48 -> 1)."""
    return dim // 64 if dim >= 64 and dim % 64 == 0 else 1


class LinearHead(nn.Module):
    """Mean pooling over tokens, an optional feature normalisation, then one Linear layer.

    Args:
        dim: feature width D.
        n_out: number of outputs (classes, labels or regression targets).
        pool: ``"mean"`` expects tokens ``(B, N, D)`` and mean-pools them (respecting ``mask``);
            ``"none"`` expects already pooled features ``(B, D)``.
        bias: use a bias in the Linear layer.
        norm: applied to the pooled features before the Linear layer: ``"none"`` (default);
            ``"batchnorm"``: ``BatchNorm1d(D, affine=False, eps=1e-6)`` (the MAE / Brain-JEPA linear probe) whose
            running statistics are the cumulative average over all training batches (``momentum=None``:
            exact for frozen features however few steps are run; the statistics are used in eval mode);
            ``"layernorm"``: ``LayerNorm(D, eps=1e-6)`` (Brain-JEPA's fine-tuning head: mean-pool -> LayerNorm
            -> Linear).
    """

    def __init__(
        self,
        dim: int,
        n_out: int,
        pool: Literal["mean", "none"] = "mean",
        bias: bool = True,
        norm: Literal["none", "batchnorm", "layernorm"] = "none",
    ) -> None:
        super().__init__()
        if dim < 1 or n_out < 1:
            raise ConfigError(f"LinearHead needs dim >= 1 and n_out >= 1, got dim={dim}, n_out={n_out}")
        if pool not in ("mean", "none"):
            raise ConfigError(f"LinearHead pool must be 'mean' or 'none', got {pool!r}")
        if norm not in ("none", "batchnorm", "layernorm"):
            raise ConfigError(f"LinearHead norm must be 'none', 'batchnorm' or 'layernorm', got {norm!r}")
        self.dim = dim
        self.n_out = n_out
        self.pool = pool
        self.norm_kind = norm
        self.norm: nn.Module = (
            nn.BatchNorm1d(dim, affine=False, eps=1e-6, momentum=None)
            if norm == "batchnorm"
            else nn.LayerNorm(dim, eps=1e-6)
            if norm == "layernorm"
            else nn.Identity()
        )
        self.linear = nn.Linear(dim, n_out, bias=bias)
        _trunc_normal_(self.linear.weight)
        if self.linear.bias is not None:
            nn.init.zeros_(self.linear.bias)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Map features to outputs ``(B, n_out)``.

        Args:
            x: tokens ``(B, N, D)`` for ``pool="mean"``, pooled features ``(B, D)`` for ``pool="none"``.
            mask: optional key padding mask ``(B, N)``, True = valid (only with ``pool="mean"``).
        """
        if self.pool == "mean":
            x = masked_mean(x, mask)  # (B, D)
        else:
            if x.ndim != 2:
                raise ContractError(
                    f"LinearHead(pool='none') expects pooled features (B, D), got shape {tuple(x.shape)}; "
                    "use pool='mean' for token features (B, N, D)"
                )
            if mask is not None:
                raise ContractError(
                    "a key padding mask needs token features; LinearHead(pool='none') got one"
                )
        if x.shape[-1] != self.dim:
            raise ContractError(f"LinearHead expects feature width {self.dim}, got {x.shape[-1]}")
        return self.linear(self.norm(x))


class AttentivePooler(nn.Module):
    """One learned query attending over the tokens; the output projection maps straight to ``n_out``.

    ``out = W_o · concat_h softmax(q_h k_hᵀ / sqrt(d_h)) v_h`` with ``q = W_q·query``, ``k = W_k·LN(x)``,
    ``v = W_v·LN(x)`` and ``W_o: D -> n_out``.

    Args:
        dim: token width D.
        n_out: number of outputs.
        n_heads: attention heads (must divide ``dim``); default :func:`default_n_heads`.
        bias: biases in the q/k/v/output projections (and the LayerNorm).
        norm: apply a LayerNorm to the tokens before the key/value projections.
    """

    def __init__(
        self,
        dim: int,
        n_out: int,
        n_heads: int | None = None,
        bias: bool = True,
        norm: bool = True,
    ) -> None:
        super().__init__()
        if dim < 1 or n_out < 1:
            raise ConfigError(f"AttentivePooler needs dim >= 1 and n_out >= 1, got dim={dim}, n_out={n_out}")
        heads = default_n_heads(dim) if n_heads is None else int(n_heads)
        if heads < 1 or dim % heads:
            raise ConfigError(
                f"AttentivePooler: n_heads={heads} must be >= 1 and divide dim={dim}; "
                f"pick a divisor of {dim} (default: {default_n_heads(dim)})"
            )
        self.dim = dim
        self.n_out = n_out
        self.n_heads = heads
        self.head_dim = dim // heads
        self.query = nn.Parameter(torch.zeros(1, 1, dim))  # (1, 1, D)
        self.norm = nn.LayerNorm(dim, eps=1e-6, bias=bias) if norm else nn.Identity()
        self.q = nn.Linear(dim, dim, bias=bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=bias)
        self.proj = nn.Linear(dim, n_out, bias=bias)
        _trunc_normal_(self.query)
        for lin in (self.q, self.kv, self.proj):
            _trunc_normal_(lin.weight)
            if lin.bias is not None:
                nn.init.zeros_(lin.bias)

    def attend(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """The pooled representation before the output projection: ``(B, D)``."""
        if x.ndim != 3 or x.shape[-1] != self.dim:
            raise ContractError(
                f"AttentivePooler expects tokens (B, N, {self.dim}), got shape {tuple(x.shape)}"
            )
        B, N, D = x.shape
        H, Dh = self.n_heads, self.head_dim
        attn_mask = None
        if mask is not None:
            attn_mask = _check_mask(mask, x)[:, None, None, :]  # (B, 1, 1, N), True = attend
        q = self.q(self.query).reshape(1, 1, H, Dh).transpose(1, 2).expand(B, H, 1, Dh)  # (B, H, 1, Dh)
        kv = self.kv(self.norm(x)).reshape(B, N, 2, H, Dh)  # (B, N, 2, H, Dh)
        k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)  # 2 × (B, H, N, Dh)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, H, 1, Dh)
        return out.transpose(1, 2).reshape(B, D)  # (B, D)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Pool tokens ``x`` (B, N, D) into outputs ``(B, n_out)``; ``mask`` (B, N) bool, True = valid."""
        return self.proj(self.attend(x, mask))
