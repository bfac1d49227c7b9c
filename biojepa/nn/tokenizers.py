"""Tokenizers: the only model code that differs between modalities.

A tokenizer turns a batch of signals into tokens and token coordinates::

    tokens, coords = tokenizer(x, keep_idx=None)   # (B, N, D), (1 | B, N, P)

``coords`` are positions (patch index, electrode xyz, ROI gradient coordinates, ...). The tokenizer also
builds the positional-embedding module that maps those coordinates to a given width
(:meth:`Tokenizer.make_pos_embed`), so the encoder (width D) and the predictor (its own width) embed the same
coordinates. ``keep_idx`` (B, K) asks for the kept tokens only; tokenizers that can skip work for dropped
tokens do so (cost scales with kept tokens).

Tokenizers are registered in :data:`biojepa.registry.TOKENIZERS` by kind; adapters register their own.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from biojepa.errors import ContractError
from biojepa.nn.pos_embed import SinCosPosEmbed
from biojepa.nn.vit import linear
from biojepa.registry import TOKENIZERS

__all__ = ["PatchTokenizer1d", "Tokenizer", "gather_tokens"]


def gather_tokens(x: Tensor, idx: Tensor) -> Tensor:
    """Gather tokens ``x`` (B | 1, N, D) at indices ``idx`` (B, K) -> (B, K, D)."""
    B = idx.shape[0]
    if x.shape[0] != B:
        x = x.expand(B, -1, -1)  # (B, N, D)
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))  # (B, K, D)


class Tokenizer(nn.Module, metaclass=abc.ABCMeta):
    """Base class of tokenizers (see the module docstring for the contract).

    Subclasses set ``embed_dim`` and ``coord_dim`` and implement :meth:`grid`, :meth:`coords`,
    :meth:`embed` and :meth:`make_pos_embed`.
    """

    embed_dim: int
    coord_dim: int
    #: True: :func:`biojepa.models.build_encoder` passes ``channels=`` (the signal contract's channel names).
    takes_channels: bool = False
    #: True: the encoder leaves the tokenizer's own weight initialisation alone.
    keeps_init: bool = False

    @abc.abstractmethod
    def grid(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Token grid for one input of shape ``input_shape`` (e.g. ``(C, T)``)."""

    @abc.abstractmethod
    def coords(self, x: Tensor) -> Tensor:
        """Coordinates (1 | B, N, coord_dim) of all tokens of ``x``."""

    @abc.abstractmethod
    def embed(self, x: Tensor, keep_idx: Tensor | None = None) -> Tensor:
        """Token embeddings (B, N | K, D) without positions."""

    @abc.abstractmethod
    def make_pos_embed(self, dim: int) -> nn.Module:
        """A module mapping coordinates (1 | B, N, coord_dim) to (1 | B, N, dim)."""

    def mask_defaults(self) -> dict[str, Any]:
        """Mask parameters the model supplies (e.g. electrode ``positions``); the recipe's values win."""
        return {}

    @classmethod
    def fit_spec(cls, spec: Any, stores: Mapping[str, Any], out_dir: Path | None) -> Any:
        """Resolve data-dependent tokenizer arguments before a model is built for pretraining.

        ``biojepa pretrain`` calls it once the training data are open (``stores``: dataset id -> record store)
        with the run directory. Return the updated :class:`~biojepa.models.ModelSpec` (e.g. the fMRI tokenizer
        fits its ROI gradient table on the training records and writes it into its ``args``) or None when there
        is nothing to fit (the default).
        """
        return None

    def valid_tokens(self, input_shape: tuple[int, ...], n_valid: int) -> Tensor | None:
        """Token indices (K,) that see only the first ``n_valid`` samples of an input padded to ``input_shape``.

        Used to keep padding out of the encoder for series shorter than the model window (``encode(pad=True)``);
        None (the default) means the tokenizer cannot tell, and padded tokens are encoded like the others.
        """
        return None

    def num_tokens(self, input_shape: tuple[int, ...]) -> int:
        """Number of tokens for one input of shape ``input_shape``."""
        n = 1
        for g in self.grid(input_shape):
            n *= g
        return n

    def forward(self, x: Tensor, keep_idx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Tokens (B, N | K, D) and their coordinates (1 | B, N | K, coord_dim)."""
        tokens = self.embed(x, keep_idx)
        coords = self.coords(x)
        if keep_idx is not None:
            coords = gather_tokens(coords, keep_idx)  # (B, K, coord_dim)
        return tokens, coords


@TOKENIZERS.register("patch1d", summary="multichannel 1-D patches: Conv1d(C->D, kernel=stride=P)")
class PatchTokenizer1d(Tokenizer):
    """Multi-channel patch tokenizer: one token mixes all channels of one window of ``patch_size`` samples.

    Equivalent to ``Conv1d(n_channels, dim, kernel_size=patch_size, stride=patch_size)`` (the weight is
    stored in that shape), computed as a matrix product on the unfolded patches so that only the kept
    patches are embedded. Positions are the patch indices, embedded with fixed 1-D sinusoids.

    Args:
        n_channels: input channels C.
        dim: token width D.
        patch_size: samples per patch P.
        bias: use a bias.
    """

    coord_dim = 1

    def __init__(self, n_channels: int, dim: int, patch_size: int, *, bias: bool = False) -> None:
        super().__init__()
        if n_channels < 1 or dim < 1 or patch_size < 1:
            raise ValueError(f"invalid patch1d tokenizer: n_channels={n_channels}, dim={dim}, patch={patch_size}")
        self.n_channels = n_channels
        self.embed_dim = dim
        self.patch_size = patch_size
        self.proj = nn.Conv1d(n_channels, dim, kernel_size=patch_size, stride=patch_size, bias=bias)

    def grid(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        C, T = input_shape[-2], input_shape[-1]
        if C != self.n_channels:
            raise ContractError(
                f"the tokenizer expects {self.n_channels} channels, got {C}; reorder or select channels "
                "to match the model's signal contract"
            )
        if T < self.patch_size or T % self.patch_size:
            raise ContractError(
                f"input length {T} is not a positive multiple of the patch size {self.patch_size}; "
                f"crop or pad to a multiple of {self.patch_size} samples"
            )
        return (T // self.patch_size,)

    def coords(self, x: Tensor) -> Tensor:
        (n,) = self.grid(tuple(x.shape))
        return torch.arange(n, device=x.device, dtype=torch.float32).view(1, n, 1)  # (1, N, 1)

    def embed(self, x: Tensor, keep_idx: Tensor | None = None) -> Tensor:
        B, C, T = x.shape
        (n,) = self.grid((C, T))
        patches = x.reshape(B, C, n, self.patch_size).transpose(1, 2)  # (B, N, C, P)
        patches = patches.reshape(B, n, C * self.patch_size)  # (B, N, C·P)
        if keep_idx is not None:
            patches = gather_tokens(patches, keep_idx)  # (B, K, C·P)
        weight = self.proj.weight.reshape(self.embed_dim, C * self.patch_size)  # (D, C·P)
        return linear(patches, weight, self.proj.bias)  # (B, N | K, D)

    def make_pos_embed(self, dim: int) -> nn.Module:
        return SinCosPosEmbed(dim, n_axes=1)

    def extra_repr(self) -> str:
        return f"n_channels={self.n_channels}, dim={self.embed_dim}, patch_size={self.patch_size}"


def build_tokenizer(kind: str, **kwargs: Any) -> Tokenizer:
    """Create a registered tokenizer by kind."""
    tok = TOKENIZERS.create(kind, **kwargs)
    if not isinstance(tok, Tokenizer):
        raise TypeError(f"tokenizer {kind!r} did not build a Tokenizer (got {type(tok).__name__})")
    return tok
