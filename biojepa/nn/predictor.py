"""The narrow JEPA predictor.

Context features are projected down to the predictor width, their positional embedding added; one learned
mask token plus the positional embedding of each target position forms the queries; context and queries run
through pre-norm blocks together; after a final norm the query outputs are projected back up to the encoder
width. Output is produced only at target positions.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from biojepa.nn.tokenizers import Tokenizer, gather_tokens
from biojepa.nn.vit import Linear, TransformerStack

__all__ = ["Predictor"]


class Predictor(nn.Module):
    """Predict target-token features from context features.

    Args:
        tokenizer: the encoder's tokenizer (builds the positional embedding at the predictor width).
        embed_dim: encoder width D.
        dim: predictor width d.
        depth: predictor blocks.
        n_heads: attention heads.
        mlp_ratio: MLP width multiple.
        bias: biases in Linear and LayerNorm layers.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        *,
        embed_dim: int,
        dim: int,
        depth: int,
        n_heads: int,
        mlp_ratio: float = 4.0,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.dim = dim
        self.down = Linear(embed_dim, dim, bias=bias)
        self.pos_embed = tokenizer.make_pos_embed(dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.transformer = TransformerStack(dim, depth, n_heads, mlp_ratio=mlp_ratio, bias=bias)
        self.up = Linear(dim, embed_dim, bias=bias)
        for lin in (self.down, self.up):
            nn.init.trunc_normal_(lin.weight, std=0.02, a=-0.04, b=0.04)
            if lin.bias is not None:
                nn.init.zeros_(lin.bias)
        nn.init.trunc_normal_(self.mask_token, std=0.02, a=-0.04, b=0.04)

    def forward(self, ctx: Tensor, coords: Tensor, ctx_idx: Tensor, tgt_idx: Tensor) -> Tensor:
        """Predict features at the target positions.

        Args:
            ctx: context features (B, K, D) from the context encoder.
            coords: coordinates of all tokens (1 | B, N, P).
            ctx_idx: indices of the context tokens (B, K).
            tgt_idx: indices of the target tokens (B, M).

        Returns:
            Predictions (B, M, D).
        """
        B, K, _ = ctx.shape
        pe = self.pos_embed(coords)  # (1|B, N, d)
        z = self.down(ctx) + gather_tokens(pe, ctx_idx).to(ctx.dtype)  # (B, K, d)
        q = self.mask_token.to(z.dtype) + gather_tokens(pe, tgt_idx).to(z.dtype)  # (B, M, d)
        h = self.transformer(torch.cat([z, q], dim=1))  # (B, K + M, d)
        return self.up(h[:, K:])  # (B, M, D)
