"""The signal encoder: tokenizer + positions + register tokens + transformer stack + final norm."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from biojepa.nn.tokenizers import Tokenizer
from biojepa.nn.vit import TransformerStack

__all__ = ["SignalEncoder"]


class SignalEncoder(nn.Module):
    """Encode a signal batch into token features.

    ``forward(x (B, C, T), keep_idx (B, K) | None) -> (B, N | K, D)``: the tokens are embedded, their
    positional embedding added, the kept tokens gathered (masked tokens are dropped *before* the transformer,
    so cost scales with kept tokens), register tokens prepended, the blocks and the final LayerNorm run, and
    the register tokens removed. The output is the feature used for JEPA targets, probes and ``encode()``.

    Args:
        tokenizer: a :class:`~biojepa.nn.tokenizers.Tokenizer` of width ``dim``.
        dim: width D.
        depth: number of transformer blocks.
        n_heads: attention heads.
        mlp_ratio: MLP width multiple.
        bias: biases in Linear and LayerNorm layers.
        n_registers: learned register tokens prepended after masking (0 for none).
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        *,
        dim: int,
        depth: int,
        n_heads: int,
        mlp_ratio: float = 4.0,
        bias: bool = False,
        n_registers: int = 0,
    ) -> None:
        super().__init__()
        if tokenizer.embed_dim != dim:
            raise ValueError(f"tokenizer width {tokenizer.embed_dim} differs from encoder width {dim}")
        self.tokenizer = tokenizer
        self.pos_embed = tokenizer.make_pos_embed(dim)
        self.embed_dim = dim
        self.n_registers = n_registers
        self.registers = nn.Parameter(torch.zeros(1, n_registers, dim)) if n_registers else None
        self.transformer = TransformerStack(dim, depth, n_heads, mlp_ratio=mlp_ratio, bias=bias)
        if self.registers is not None:
            nn.init.trunc_normal_(self.registers, std=0.02, a=-0.04, b=0.04)
        # tokenizer weights: same truncated-normal init as the transformer
        for m in self.tokenizer.modules() if not getattr(tokenizer, "keeps_init", False) else ():
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
                nn.init.trunc_normal_(m.weight, std=0.02, a=-0.04, b=0.04)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        #: the model's spec (architecture + signal contract); set by :func:`biojepa.models.build_encoder`.
        self.spec: Any = None

    @property
    def num_features(self) -> int:
        """Width of the output features (D)."""
        return self.embed_dim

    def forward(self, x: Tensor, keep_idx: Tensor | None = None) -> Tensor:
        """Token features (B, N | K, D) after the final norm, registers excluded."""
        tokens, coords = self.tokenizer(x, keep_idx)  # (B, N|K, D), (1|B, N|K, P)
        h = tokens + self.pos_embed(coords).to(tokens.dtype)  # (B, N|K, D)
        if self.registers is not None:
            reg = self.registers.expand(h.shape[0], -1, -1).to(h.dtype)  # (B, R, D)
            h = torch.cat([reg, h], dim=1)  # (B, R + N|K, D)
        h = self.transformer(h)  # (B, R + N|K, D)
        return h[:, self.n_registers :]  # (B, N|K, D)

    def forward_features(self, x: Tensor, pool: str = "mean") -> Tensor:
        """Pooled features (B, D) (``pool="mean"``) or token features (B, N, D) (``pool="none"``)."""
        h = self.forward(x)  # (B, N, D)
        if pool == "mean":
            return h.mean(dim=1)  # (B, D)
        if pool == "none":
            return h
        raise ValueError(f"pool must be 'mean' or 'none', got {pool!r}")
