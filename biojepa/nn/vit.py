"""A pre-norm Vision-Transformer stack over token sequences.

The building blocks of every biojepa encoder and predictor: multi-head self-attention through
:func:`torch.nn.functional.scaled_dot_product_attention` (SDPA, fused kernels on CPU and GPU), a GELU MLP,
optional bias-free Linear/LayerNorm (as in ECG-JEPA), LayerNorm eps 1e-6, and truncated-normal init with the
residual output projections scaled by ``1/sqrt(2·depth)``.

Every projection goes through :func:`linear` / :class:`Linear`, a drop-in for ``F.linear`` / ``nn.Linear``
(same parameters, same ``state_dict``) that, for float32 on x86-64 CPUs, runs the forward product and both
gradients through oneDNN instead of the BLAS library (products of at least :data:`ONEDNN_MIN_MACS`
multiply-accumulates; smaller ones stay with ``F.linear``). The result is the same fp32 matrix product, but
summed in a different order, so it can differ from ``F.linear`` in the last bits. On this project's
AMD EPYC benchmark machine the MKL GEMM behind ``F.linear`` runs at 190-230 GFLOP/s on 2 threads and
oneDNN at 420-475 GFLOP/s, which makes the ViT-XS pretraining step about 1.5x faster (docs/benchmarks.md). Choose the kernel with the ``BIOJEPA_CPU_LINEAR``
environment variable (``auto`` (the default), ``onednn`` or ``aten``) or with
:func:`set_cpu_linear_backend`. CUDA, autocast, other dtypes and ``torch.compile`` always use ``F.linear``.
"""

from __future__ import annotations

import math
import os
import platform
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from biojepa.errors import ConfigError

__all__ = [
    "Attention",
    "Block",
    "Linear",
    "Mlp",
    "TransformerStack",
    "cpu_linear_backend",
    "init_vit_weights",
    "layer_norm",
    "linear",
    "set_cpu_linear_backend",
]

#: Environment variable choosing the CPU float32 linear kernel: ``auto`` | ``onednn`` | ``aten``.
CPU_LINEAR_ENV = "BIOJEPA_CPU_LINEAR"
_BACKENDS = ("auto", "onednn", "aten")
#: Products smaller than this many multiply-accumulates stay with ``F.linear``: for them oneDNN's per-call
#: overhead and its one-off kernel generation for every new shape (~1 ms) cost more than its faster GEMM.
ONEDNN_MIN_MACS = 1 << 21
_onednn_ok: bool | None = None  # resolved lazily by _onednn_enabled()


def _onednn_op() -> Any | None:
    """The oneDNN linear operator shipped with torch's CPU build, or None."""
    try:
        return torch.ops.mkldnn._linear_pointwise
    except (AttributeError, RuntimeError):
        return None


def _onednn_selfcheck(op: Any) -> bool:
    """True when ``op`` reproduces ``F.linear`` and both of its gradients on a small float32 problem."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 24, generator=g)  # (B, N, Din)
    w = torch.randn(16, 24, generator=g)  # (Dout, Din)
    b = torch.randn(16, generator=g)  # (Dout,)
    dy = torch.randn(3, 5, 16, generator=g)  # (B, N, Dout)
    try:
        with torch.no_grad():
            y = op(x, w, b, "none", [], "")
            dx = op(dy, w.t(), None, "none", [], "")
            dw = op(dy.reshape(15, 16).t(), x.reshape(15, 24).t(), None, "none", [], "")
    except (RuntimeError, TypeError, NotImplementedError):
        return False
    return bool(
        y.shape == (3, 5, 16)
        and torch.allclose(y, F.linear(x, w, b), rtol=1e-4, atol=1e-5)
        and torch.allclose(dx, dy @ w, rtol=1e-4, atol=1e-5)
        and torch.allclose(dw, dy.reshape(15, 16).t() @ x.reshape(15, 24), rtol=1e-4, atol=1e-5)
    )


def _resolve(choice: str) -> bool:
    if choice not in _BACKENDS:
        raise ConfigError(
            f"unknown CPU linear backend {choice!r} (from {CPU_LINEAR_ENV} or set_cpu_linear_backend); "
            f"expected one of {', '.join(_BACKENDS)}"
        )
    if choice == "aten":
        return False
    if choice == "auto" and platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    op = _onednn_op()
    if op is None or not torch.backends.mkldnn.is_available() or not _onednn_selfcheck(op):
        if choice == "onednn":
            raise RuntimeError(
                "the oneDNN linear kernel (torch.ops.mkldnn._linear_pointwise) is not usable in this torch "
                f"build; set {CPU_LINEAR_ENV}=aten or auto"
            )
        return False
    return True


def _onednn_enabled() -> bool:
    global _onednn_ok
    if _onednn_ok is None:
        _onednn_ok = _resolve(os.environ.get(CPU_LINEAR_ENV, "auto").strip().lower() or "auto")
    return _onednn_ok


def set_cpu_linear_backend(name: str = "auto") -> str:
    """Choose the kernel of :func:`linear` for float32 on CPU.

    Args:
        name: ``"auto"`` (oneDNN on x86-64 when the torch build has it and it passes a self-check, else
            the default ``F.linear``), ``"onednn"`` (require oneDNN) or ``"aten"`` (always ``F.linear``).

    Returns:
        The backend now in use, ``"onednn"`` or ``"aten"``.

    Raises:
        ConfigError: an unknown name.
        RuntimeError: ``"onednn"`` was asked for but is not usable.
    """
    global _onednn_ok
    _onednn_ok = _resolve(name.strip().lower())
    return cpu_linear_backend()


def cpu_linear_backend() -> str:
    """The kernel :func:`linear` uses for float32 on CPU: ``"onednn"`` or ``"aten"``."""
    return "onednn" if _onednn_enabled() else "aten"


def _onednn_mm_t(a: Tensor, b: Tensor) -> Tensor:
    """``aᵀ b`` for ``a`` (T, P) and ``b`` (T, Q) -> (P, Q), with oneDNN."""
    return torch.ops.mkldnn._linear_pointwise(a.t(), b.t(), None, "none", [], "")  # (P, Q)


class _OneDnnLinear(torch.autograd.Function):
    """``y = x Wᵀ + b`` with the forward, the input gradient and the weight gradient computed by oneDNN."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:  # type: ignore[override]
        x = x.contiguous()
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")  # (..., Dout)

    @staticmethod
    @once_differentiable
    def backward(  # type: ignore[override]
        ctx: Any, grad: Tensor
    ) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = torch.ops.mkldnn._linear_pointwise(grad, weight.t(), None, "none", [], "")  # (..., Din)
        if ctx.needs_input_grad[1] or (ctx.has_bias and ctx.needs_input_grad[2]):
            g2 = grad.reshape(-1, grad.shape[-1])  # (B·N, Dout)
            if ctx.needs_input_grad[1]:
                x2 = x.reshape(-1, x.shape[-1])  # (B·N, Din)
                # oneDNN copies its first operand to row-major: transpose the narrower one
                if g2.shape[1] < x2.shape[1]:
                    gw = _onednn_mm_t(g2, x2)  # (Dout, Din)
                else:
                    gw = _onednn_mm_t(x2, g2).t().contiguous()  # (Dout, Din)
            if ctx.has_bias and ctx.needs_input_grad[2]:
                gb = g2.sum(0)  # (Dout,)
        return gx, gw, gb


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.linear(x, weight, bias)``; on CPU in float32 computed with oneDNN (see the module docstring).

    Args:
        x: input ``(..., Din)``.
        weight: ``(Dout, Din)``.
        bias: ``(Dout,)`` or None.

    Returns:
        ``(..., Dout)``.
    """
    if (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and x.dim() >= 2
        and weight.dim() == 2
        and x.numel() * weight.shape[0] >= ONEDNN_MIN_MACS
        and not torch.is_autocast_enabled("cpu")
        and not torch.compiler.is_compiling()
        and torch.backends.mkldnn.enabled
        and _onednn_enabled()
    ):
        return _OneDnnLinear.apply(x, weight, bias)
    return F.linear(x, weight, bias)


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters, init and ``state_dict``) whose forward is :func:`linear`."""

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)


def layer_norm(dim: int, *, bias: bool = True, eps: float = 1e-6) -> nn.LayerNorm:
    """A LayerNorm with eps 1e-6 and an optional bias."""
    return nn.LayerNorm(dim, eps=eps, bias=bias)


class Attention(nn.Module):
    """Multi-head self-attention with SDPA.

    Args:
        dim: token width D.
        n_heads: number of heads; must divide ``dim``.
        bias: use biases in the qkv and output projections.
    """

    def __init__(self, dim: int, n_heads: int, *, bias: bool = False) -> None:
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"dim={dim} is not divisible by n_heads={n_heads}")
        self.n_heads = n_heads
        self.head_dim = dim // n_heads
        self.qkv = Linear(dim, 3 * dim, bias=bias)
        self.proj = Linear(dim, dim, bias=bias)

    def forward(self, x: Tensor, attn_mask: Tensor | None = None) -> Tensor:
        """Attend over ``x`` (B, N, D); ``attn_mask`` is an SDPA mask broadcastable to (B, H, N, N)."""
        B, N, D = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.n_heads, self.head_dim)  # (B, N, 3, H, Dh)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 × (B, H, N, Dh)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, H, N, Dh)
        out = out.transpose(1, 2).reshape(B, N, D)  # (B, N, D)
        return self.proj(out)


class Mlp(nn.Module):
    """Two-layer GELU MLP."""

    def __init__(self, dim: int, hidden: int, *, bias: bool = False) -> None:
        super().__init__()
        self.fc1 = Linear(dim, hidden, bias=bias)
        self.act = nn.GELU()
        self.fc2 = Linear(hidden, dim, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm(x))`` then ``x + mlp(norm(x))``."""

    def __init__(self, dim: int, n_heads: int, *, mlp_ratio: float = 4.0, bias: bool = False) -> None:
        super().__init__()
        self.norm1 = layer_norm(dim, bias=bias)
        self.attn = Attention(dim, n_heads, bias=bias)
        self.norm2 = layer_norm(dim, bias=bias)
        self.mlp = Mlp(dim, int(round(dim * mlp_ratio)), bias=bias)

    def forward(self, x: Tensor, attn_mask: Tensor | None = None) -> Tensor:
        x = x + self.attn(self.norm1(x), attn_mask)
        return x + self.mlp(self.norm2(x))


class TransformerStack(nn.Module):
    """``depth`` pre-norm blocks followed by a final LayerNorm.

    Args:
        dim: width D.
        depth: number of blocks.
        n_heads: attention heads.
        mlp_ratio: MLP hidden width as a multiple of ``dim``.
        bias: biases in Linear and LayerNorm layers.
    """

    def __init__(self, dim: int, depth: int, n_heads: int, *, mlp_ratio: float = 4.0, bias: bool = False) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            [Block(dim, n_heads, mlp_ratio=mlp_ratio, bias=bias) for _ in range(depth)]
        )
        self.norm = layer_norm(dim, bias=bias)
        init_vit_weights(self, depth=depth)

    def forward(self, x: Tensor, attn_mask: Tensor | None = None) -> Tensor:
        """(B, N, D) -> (B, N, D), after the final norm."""
        for blk in self.blocks:
            x = blk(x, attn_mask)
        return self.norm(x)


def init_vit_weights(module: nn.Module, *, depth: int, std: float = 0.02) -> None:
    """Truncated-normal init (std 0.02) of Linear/Conv weights, zero biases, unit LayerNorm weights, and
    residual output projections (``attn.proj``, ``mlp.fc2``) divided by ``sqrt(2·depth)``."""
    for name, m in module.named_modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            nn.init.trunc_normal_(m.weight, std=std, a=-2 * std, b=2 * std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
            if name.endswith("attn.proj") or name.endswith("mlp.fc2"):
                with torch.no_grad():
                    m.weight.div_(math.sqrt(2.0 * max(depth, 1)))
        elif isinstance(m, nn.LayerNorm):
            if m.weight is not None:
                nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
