"""Analytic FLOP counts of a JEPA pretraining step, from a :class:`~biojepa.models.ModelSpec`.

Conventions (the ones of the project's reference measurements, research note env_perf.md §3):

* 2 FLOP per multiply-accumulate; only matrix products count (Linear layers, the patch projection,
  the two attention products ``QKᵀ`` and ``AV``); LayerNorm, GELU, softmax, AdamW and the EMA do not.
* A transformer block over ``n`` tokens of width ``d`` with MLP width ``h`` costs
  ``n·(4d² + 2dh) + 2n²d`` MACs (qkv ``3d²``, output projection ``d²``, MLP ``2dh``; attention ``2n²d``).
* Backward costs 2 × forward for the trained parts (gradients with respect to inputs and to weights),
  except the patch projection, whose input is data: its backward is only the weight gradient (1 × forward).
* The target encoder runs forward only, over all ``N`` tokens plus the register tokens; the context encoder
  over the ``K`` kept tokens plus the registers; the predictor over ``K + M`` tokens at its own width, plus
  its down- (``K·D·d``) and up-projections (``M·d·D``).

biojepa's tokenizer embeds only the kept patches for the context encoder. The official ECG-JEPA code embeds
all patches and drops tokens afterwards; ``ctx_embeds_all_patches=True`` counts it that way, which
reproduces the reference 4.094 GFLOP/sample of the ViT-XS step at keep 0.20.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from biojepa.errors import ConfigError

__all__ = [
    "StepFlops",
    "block_macs",
    "encoder_forward_flops",
    "jepa_step_flops",
    "keep_count",
    "patch_embed_macs_per_token",
    "spec_num_tokens",
]


@dataclass(frozen=True)
class StepFlops:
    """FLOPs of one JEPA step, per sample, in GFLOP.

    Attributes:
        target_fwd: target encoder forward (patch projection included), no backward.
        context_fwd: context encoder forward (patch projection included).
        predictor_fwd: predictor forward (down/up projections included).
        trained_fwd_bwd: context encoder + predictor, forward and backward.
        total: ``target_fwd + trained_fwd_bwd``.
        n_tokens: tokens per sample ``N`` (registers excluded).
        n_ctx: context tokens ``K``.
        n_tgt: target tokens ``M``.
        n_registers: register tokens ``R``.
    """

    target_fwd: float
    context_fwd: float
    predictor_fwd: float
    trained_fwd_bwd: float
    total: float
    n_tokens: int
    n_ctx: int
    n_tgt: int
    n_registers: int

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def block_macs(n_tokens: int, dim: int, mlp_ratio: float = 4.0) -> int:
    """Multiply-accumulates of one pre-norm transformer block over ``n_tokens`` tokens of width ``dim``."""
    hidden = int(round(dim * mlp_ratio))  # as in biojepa.nn.vit.Block
    return n_tokens * (4 * dim * dim + 2 * dim * hidden) + 2 * n_tokens * n_tokens * dim


def _stack_flops(n_tokens: int, dim: int, depth: int, mlp_ratio: float) -> float:
    return 2.0 * depth * block_macs(n_tokens, dim, mlp_ratio)


def patch_embed_macs_per_token(spec: Any) -> int:
    """Multiply-accumulates of the tokenizer's projection for one token.

    ``patch1d`` is counted exactly (``C · P · D``). Other tokenizer kinds are built and their Linear /
    convolution weights counted, which is exact for linear patch projections (kernel = stride).
    """
    tok = spec.tokenizer
    if tok.kind == "patch1d":
        return int(tok.args["n_channels"]) * int(tok.args["patch_size"]) * spec.encoder.dim
    return _counted_macs_per_token(spec)


def _counted_macs_per_token(spec: Any) -> int:
    """Weights of the tokenizer's Linear / convolution layers (= MACs per token for a linear projection)."""
    from torch import nn

    from biojepa.nn.tokenizers import build_tokenizer

    module = build_tokenizer(spec.tokenizer.kind, dim=spec.encoder.dim, **spec.tokenizer.args)
    layers = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
    return int(sum(m.weight.numel() for m in module.modules() if isinstance(m, layers)))


def spec_num_tokens(spec: Any) -> tuple[int, ...]:
    """The token grid of one input window ``(C, n_times)`` of the spec's signal contract."""
    from biojepa.nn.tokenizers import build_tokenizer

    tok = build_tokenizer(spec.tokenizer.kind, dim=spec.encoder.dim, **spec.tokenizer.args)
    return tuple(tok.grid((len(spec.signal.channels), spec.signal.n_times)))


def keep_count(n_tokens: int, keep: float) -> int:
    """``ceil(keep · N)`` kept within ``[1, N − 1]`` (the rule of the block1d / random_tokens masks)."""
    if not 0.0 < keep < 1.0:
        raise ConfigError(f"keep must be in (0, 1), found {keep!r}")
    return min(max(math.ceil(keep * n_tokens), 1), n_tokens - 1)


def encoder_forward_flops(spec: Any, n_tokens: int, *, n_embedded: int | None = None) -> float:
    """FLOPs of one encoder forward pass over ``n_tokens`` tokens (+ registers), per sample.

    Args:
        spec: the model spec.
        n_tokens: tokens entering the transformer (registers are added on top).
        n_embedded: patches run through the tokenizer projection (default ``n_tokens``).
    """
    e = spec.encoder
    n_emb = n_tokens if n_embedded is None else n_embedded
    embed = 2.0 * n_emb * patch_embed_macs_per_token(spec)
    return embed + _stack_flops(n_tokens + e.n_registers, e.dim, e.depth, e.mlp_ratio)


def jepa_step_flops(
    spec: Any,
    *,
    n_ctx: int,
    n_tgt: int,
    n_tokens: int | None = None,
    ctx_embeds_all_patches: bool = False,
) -> StepFlops:
    """Analytic FLOPs of one JEPA pretraining step, per sample (see the module docstring).

    Args:
        spec: a :class:`~biojepa.models.ModelSpec`.
        n_ctx: context (kept) tokens ``K``.
        n_tgt: target tokens ``M``.
        n_tokens: all tokens ``N`` (default: the spec's signal window through its tokenizer).
        ctx_embeds_all_patches: count the context encoder's patch projection over all ``N`` patches (the
            official ECG-JEPA implementation) instead of the ``K`` kept ones (biojepa).

    Returns:
        :class:`StepFlops` in GFLOP per sample.

    Raises:
        ConfigError: token counts that do not fit (``K + M > N``, ``K < 1`` or ``M < 1``).
    """
    if n_tokens is None:
        n_tokens = math.prod(spec_num_tokens(spec))
    if n_ctx < 1 or n_tgt < 1 or n_ctx + n_tgt > n_tokens:
        raise ConfigError(
            f"token counts do not fit: K={n_ctx}, M={n_tgt}, N={n_tokens}; need K >= 1, M >= 1, K + M <= N"
        )
    e, p = spec.encoder, spec.predictor
    patch = 2.0 * patch_embed_macs_per_token(spec)  # FLOP per embedded patch
    target = encoder_forward_flops(spec, n_tokens)
    ctx_embedded = n_tokens if ctx_embeds_all_patches else n_ctx
    ctx_embed = patch * ctx_embedded
    ctx_stack = _stack_flops(n_ctx + e.n_registers, e.dim, e.depth, e.mlp_ratio)
    pred = (
        2.0 * n_ctx * e.dim * p.dim  # down-projection
        + _stack_flops(n_ctx + n_tgt, p.dim, p.depth, p.mlp_ratio)
        + 2.0 * n_tgt * p.dim * e.dim  # up-projection
    )
    trained = 3.0 * (ctx_stack + pred) + 2.0 * ctx_embed
    g = 1e-9
    return StepFlops(
        target_fwd=target * g,
        context_fwd=(ctx_embed + ctx_stack) * g,
        predictor_fwd=pred * g,
        trained_fwd_bwd=trained * g,
        total=(target + trained) * g,
        n_tokens=int(n_tokens),
        n_ctx=int(n_ctx),
        n_tgt=int(n_tgt),
        n_registers=int(e.n_registers),
    )
