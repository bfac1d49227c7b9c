"""Fixed sinusoidal positional embeddings in 1, 2 and 3 dimensions.

All functions map real-valued coordinates to embeddings, so they work for integer patch indices as well as
for continuous coordinates (electrode positions, gradient coordinates). The 1-D form is the usual
``[sin(p·ω_i), cos(p·ω_i)]`` with ``ω_i = 1 / 10000^(2i/dim)``; the n-D forms split the width evenly
over the axes and zero-pad any remainder.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["SinCosPosEmbed", "sincos_1d", "sincos_2d", "sincos_3d", "sincos_nd"]


def sincos_1d(pos: Tensor, dim: int, *, temperature: float = 10000.0) -> Tensor:
    """Sinusoidal embedding of scalar positions.

    Args:
        pos: positions, any shape ``S``.
        dim: output width, must be even.
        temperature: the base of the frequency ladder.

    Returns:
        Tensor of shape ``S + (dim,)``, float32 (or ``pos``'s floating dtype).
    """
    if dim % 2:
        raise ValueError(f"sincos_1d needs an even dim, got {dim}")
    dtype = pos.dtype if pos.is_floating_point() else torch.float32
    omega = torch.arange(dim // 2, device=pos.device, dtype=torch.float64) / (dim / 2.0)
    omega = (1.0 / temperature**omega).to(dtype)  # (dim/2,)
    out = pos.to(dtype).unsqueeze(-1) * omega  # S + (dim/2,)
    return torch.cat([out.sin(), out.cos()], dim=-1)  # S + (dim,)


def sincos_nd(coords: Tensor, dim: int, *, temperature: float = 10000.0) -> Tensor:
    """Sinusoidal embedding of n-D coordinates; each axis gets ``2·floor(dim / 2n)`` channels.

    Args:
        coords: ``S + (n,)`` coordinates.
        dim: output width.
        temperature: the base of the frequency ladder.

    Returns:
        ``S + (dim,)``; channels left over by the even split are zero.
    """
    n_axes = coords.shape[-1]
    per_axis = 2 * (dim // (2 * n_axes))
    if per_axis == 0:
        raise ValueError(f"dim={dim} is too small for a {n_axes}-D sinusoidal embedding")
    parts = [sincos_1d(coords[..., a], per_axis, temperature=temperature) for a in range(n_axes)]
    out = torch.cat(parts, dim=-1)  # S + (n_axes * per_axis,)
    pad = dim - out.shape[-1]
    if pad:
        out = torch.nn.functional.pad(out, (0, pad))  # S + (dim,)
    return out


def sincos_2d(coords: Tensor, dim: int, *, temperature: float = 10000.0) -> Tensor:
    """Sinusoidal embedding of 2-D coordinates ``S + (2,)`` -> ``S + (dim,)``."""
    if coords.shape[-1] != 2:
        raise ValueError(f"sincos_2d expects coordinates with a last axis of 2, got {tuple(coords.shape)}")
    return sincos_nd(coords, dim, temperature=temperature)


def sincos_3d(coords: Tensor, dim: int, *, temperature: float = 10000.0) -> Tensor:
    """Sinusoidal embedding of 3-D coordinates ``S + (3,)`` -> ``S + (dim,)``."""
    if coords.shape[-1] != 3:
        raise ValueError(f"sincos_3d expects coordinates with a last axis of 3, got {tuple(coords.shape)}")
    return sincos_nd(coords, dim, temperature=temperature)


class SinCosPosEmbed(nn.Module):
    """Fixed (non-trainable) sinusoidal embedding of token coordinates.

    Args:
        dim: output width.
        n_axes: number of coordinate axes (1, 2 or 3).
    """

    def __init__(self, dim: int, n_axes: int = 1) -> None:
        super().__init__()
        if n_axes not in (1, 2, 3):
            raise ValueError(f"n_axes must be 1, 2 or 3, got {n_axes}")
        self.dim = dim
        self.n_axes = n_axes
        self._cache: tuple[Tensor, Tensor] | None = None

    def forward(self, coords: Tensor) -> Tensor:
        """Map coordinates ``(1 | B, N, n_axes)`` to embeddings ``(1 | B, N, dim)``."""
        if coords.shape[-1] != self.n_axes:
            raise ValueError(f"expected coordinates with {self.n_axes} axes, got shape {tuple(coords.shape)}")
        cached = self._cache
        inference = torch.is_inference_mode_enabled()
        if (
            cached is not None
            and cached[1].is_inference() == inference
            and cached[0].shape == coords.shape
            and cached[0].device == coords.device
            and torch.equal(cached[0], coords)
        ):
            return cached[1]
        if self.n_axes == 1:
            emb = sincos_1d(coords[..., 0], self.dim)  # (1 | B, N, dim)
        else:
            emb = sincos_nd(coords, self.dim)  # (1 | B, N, dim)
        if coords.shape[0] == 1:  # a shared grid: worth caching (no grad flows into fixed embeddings)
            self._cache = (coords.detach().clone(), emb.detach())
        return emb

    def extra_repr(self) -> str:
        return f"dim={self.dim}, n_axes={self.n_axes}"
