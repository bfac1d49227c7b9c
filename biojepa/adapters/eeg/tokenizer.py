"""S-JEPA tokenizer: a per-channel convolutional local encoder and the channel + time positional embedding.

One token is one EEG channel over one receptive field (research note eeg.md §1.1): every channel is run
through the same small 1-D CNN (shared weights), giving ``t`` tokens per channel; tokens are flattened
**channel-major** (token ``c * t + j`` is time token ``j`` of channel ``c``), the layout the spatial mask
(:mod:`biojepa.masks.spatial`) works on.

The local encoder reshapes from the **runtime** shape ``(B, C, T) -> (B·C, 1, T)``: it holds no channel count,
so it runs unchanged on 4 virtual channels after a spatial filter (the pre-local head), on another montage,
or on any window at least one receptive field long. (braindecode 1.8's pre-local transfer fails because its
reshaping layer bakes in the pretraining channel count; eeg.md §1.4.)

Positions: coordinates are ``(channel index, time index)``. :class:`ChannelTimeEmbed` maps them to
``[channel embedding (spat_dim) | sinusoidal time (dim - spat_dim)]``. The channel embedding is a trainable
table, one row per channel of the model's channel table, initialised from sin/cos features of the channel's
unit-head xyz position; a channel without a position gets a zero row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from biojepa.errors import ConfigError, ContractError
from biojepa.nn.pos_embed import sincos_1d
from biojepa.nn.tokenizers import Tokenizer, gather_tokens
from biojepa.registry import TOKENIZERS

__all__ = [
    "SJEPA_CONV_LAYERS",
    "ChannelTimeEmbed",
    "LocalEncoder",
    "SJepaTokenizer",
    "conv_output_length",
    "position_features",
    "receptive_field",
]

#: S-JEPA's local encoder: (out channels, kernel, stride) per conv layer; the last ``out`` is the token width.
SJEPA_CONV_LAYERS: tuple[tuple[int, int, int], ...] = ((8, 32, 8), (16, 2, 2), (32, 2, 2), (64, 2, 2), (64, 2, 2))

#: Share of the token width given to the channel embedding in S-JEPA (30 of 64).
SJEPA_SPAT_FRACTION = 30 / 64


def _layers(conv_layers: Sequence[Sequence[int]]) -> tuple[tuple[int, int, int], ...]:
    out = []
    for i, layer in enumerate(conv_layers):
        vals = tuple(int(v) for v in layer)
        if len(vals) != 3 or min(vals) < 1:
            raise ConfigError(
                f"conv layer {i} must be [out_channels, kernel, stride] of positive integers, found {list(layer)}"
            )
        out.append(vals)
    if not out:
        raise ConfigError("the local encoder needs at least one conv layer")
    return tuple(out)  # type: ignore[return-value]


def receptive_field(conv_layers: Sequence[Sequence[int]] = SJEPA_CONV_LAYERS) -> int:
    """Samples seen by one output token of the conv stack (152 for S-JEPA: 1.1875 s at 128 Hz)."""
    rf, jump = 1, 1
    for _, k, s in _layers(conv_layers):
        rf += (k - 1) * jump
        jump *= s
    return rf


def conv_output_length(n_times: int, conv_layers: Sequence[Sequence[int]] = SJEPA_CONV_LAYERS) -> int:
    """Tokens per channel for ``n_times`` samples (0 when shorter than the receptive field).

    Example:
        >>> [conv_output_length(n) for n in (151, 152, 512, 536, 2048)]
        [0, 1, 3, 4, 15]
    """
    n = int(n_times)
    for _, k, s in _layers(conv_layers):
        if n < k:
            return 0
        n = (n - k) // s + 1
    return n


def position_features(positions: np.ndarray | Sequence[Sequence[float] | None], dim: int) -> np.ndarray:
    """Sin/cos features of unit-head xyz positions: ``(C, 3)`` -> ``(C, dim)``; NaN/None rows give zeros.

    Each axis gets ``2·floor(dim / 6)`` features ``sin(π·f_k·p), cos(π·f_k·p)`` with ``f_k = 2^k / 2``
    (``k = 0, 1, ...``): the coarsest wave spans the head, the finest resolves neighbouring electrodes.
    Channels left over by the split are zero.
    """
    rows = [[math.nan] * 3 if r is None else list(r) for r in positions]
    pos = np.asarray(rows, dtype=np.float64).reshape(-1, 3)  # (C, 3)
    n_f = dim // 6
    out = np.zeros((pos.shape[0], dim), dtype=np.float64)
    if n_f == 0:
        return out.astype(np.float32)
    freqs = np.pi * (2.0 ** np.arange(n_f)) / 2.0  # (F,)
    ang = pos[:, :, None] * freqs[None, None, :]  # (C, 3, F)
    feats = np.concatenate([np.sin(ang), np.cos(ang)], axis=-1).reshape(pos.shape[0], 6 * n_f)  # (C, 6F)
    out[:, : 6 * n_f] = feats
    out[~np.isfinite(pos).all(axis=1)] = 0.0
    return out.astype(np.float32)


def spat_dim_for(dim: int, spat_fraction: float = SJEPA_SPAT_FRACTION) -> int:
    """Even channel-embedding width for a token width ``dim`` (30 for 64)."""
    return max(2, 2 * round(dim * spat_fraction / 2))


class ChannelTimeEmbed(nn.Module):
    """``(channel index, time index)`` coordinates -> ``[trainable channel row | fixed sinusoid of time]``.

    Args:
        dim: output width.
        positions: ``(C, 3)`` unit-head positions (NaN rows: unknown, zero-initialised).
        spat_dim: width of the channel part (even, < dim); default :func:`spat_dim_for`.
    """

    def __init__(self, dim: int, positions: np.ndarray | Sequence[Sequence[float] | None], spat_dim: int | None = None):
        super().__init__()
        spat = spat_dim_for(dim) if spat_dim is None else int(spat_dim)
        if not 0 < spat < dim or (dim - spat) % 2:
            raise ConfigError(f"channel embedding width {spat} must be in (0, {dim}) with {dim} - {spat} even")
        self.dim = dim
        self.spat_dim = spat
        init = torch.from_numpy(position_features(positions, spat))  # (C, spat)
        self.channel = nn.Embedding(init.shape[0], spat)
        with torch.no_grad():
            self.channel.weight.copy_(init)

    @property
    def n_channels(self) -> int:
        return int(self.channel.num_embeddings)

    def forward(self, coords: Tensor) -> Tensor:
        """``(1 | B, N, 2)`` -> ``(1 | B, N, dim)``."""
        ch = coords[..., 0].long()  # (1|B, N)
        spat = self.channel(ch)  # (1|B, N, spat)
        time = sincos_1d(coords[..., 1].float(), self.dim - self.spat_dim).to(spat.dtype)  # (1|B, N, dim-spat)
        return torch.cat([spat, time], dim=-1)  # (1|B, N, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, spat_dim={self.spat_dim}, n_channels={self.n_channels}"


class LocalEncoder(nn.Module):
    """The per-channel CNN: ``(B, C, T) -> (B, C, t, D)``, shared weights, no channel count inside.

    Each layer is Conv1d (no bias) -> Dropout -> [GroupNorm after the first conv | LayerNorm after each conv]
    -> GELU, as wav2vec 2.0 / S-JEPA.

    Args:
        conv_layers: ``(out, kernel, stride)`` per layer; the last ``out`` is the token width.
        norm: ``"group"`` (GroupNorm with one group per feature after the first conv; S-JEPA's default) or
            ``"layer"`` (LayerNorm over features after every conv).
        dropout: dropout after each conv.
    """

    def __init__(
        self, conv_layers: Sequence[Sequence[int]] = SJEPA_CONV_LAYERS, *, norm: str = "group", dropout: float = 0.0
    ) -> None:
        super().__init__()
        if norm not in ("group", "layer"):
            raise ConfigError(f"local encoder norm must be 'group' or 'layer', found {norm!r}")
        self.conv_layers = _layers(conv_layers)
        self.norm_kind = norm
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        c_in = 1
        for i, (c_out, k, s) in enumerate(self.conv_layers):
            conv = nn.Conv1d(c_in, c_out, kernel_size=k, stride=s, bias=False)
            nn.init.kaiming_normal_(conv.weight)
            self.convs.append(conv)
            if norm == "group":
                self.norms.append(nn.GroupNorm(c_out, c_out) if i == 0 else nn.Identity())
            else:
                self.norms.append(nn.LayerNorm(c_out))
            c_in = c_out
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.out_dim = self.conv_layers[-1][0]
        self.receptive_field = receptive_field(self.conv_layers)

    def n_tokens(self, n_times: int) -> int:
        """Tokens per channel for ``n_times`` samples (0 if shorter than the receptive field)."""
        return conv_output_length(n_times, self.conv_layers)

    def forward(self, x: Tensor) -> Tensor:
        B, C, T = x.shape
        if T < self.receptive_field:
            raise ContractError(
                f"input of {T} samples is shorter than the local encoder's receptive field of "
                f"{self.receptive_field} samples; use windows of at least {self.receptive_field} samples"
            )
        h = x.reshape(B * C, 1, T)  # (B·C, 1, T)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = self.drop(conv(h))  # (B·C, c, T')
            if isinstance(norm, nn.LayerNorm):
                h = norm(h.transpose(1, 2)).transpose(1, 2)  # (B·C, c, T')
            else:
                h = norm(h)
            h = torch.nn.functional.gelu(h)
        t = h.shape[-1]
        return h.reshape(B, C, self.out_dim, t).transpose(2, 3)  # (B, C, t, D)


def _positions_table(positions: Sequence[Sequence[float] | None] | np.ndarray) -> np.ndarray:
    rows = [[math.nan] * 3 if r is None else list(r) for r in positions]
    pos = np.asarray(rows, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] < 1:
        raise ConfigError(f"positions must be one [x, y, z] row (or null) per channel, found shape {pos.shape}")
    return pos


@TOKENIZERS.register("sjepa_local", summary="S-JEPA per-channel conv tokens + channel/time embedding")
class SJepaTokenizer(Tokenizer):
    """Per-channel local-encoder tokens with a position-initialised channel embedding (channel-major).

    Args:
        dim: token width D (the last conv layer's output width).
        channels: the model's channel names, in order (given by :func:`biojepa.models.build_encoder` from the
            signal contract).
        positions: one unit-head ``[x, y, z]`` row per channel, ``None`` for a channel without a position
            (zero channel embedding; never a mask centre). Default: looked up by name in ``montage``
            (:func:`~biojepa.adapters.eeg.positions.unit_head_positions`).
        montage: MNE montage used when ``positions`` is not given.
        conv_layers: ``(out, kernel, stride)`` per conv layer (default :data:`SJEPA_CONV_LAYERS` with the
            last width set to ``dim``).
        norm: local-encoder normalisation, ``"group"`` or ``"layer"``.
        spat_dim: channel-embedding width (default 30/64 of ``dim``).

    Raises:
        ConfigError: neither channels nor positions, a positions table whose length differs from the channel
            list, or bad conv layers.
        ContractError: no channel has a known position.
    """

    coord_dim = 2
    #: :func:`biojepa.models.build_encoder` passes the signal contract's channel names.
    takes_channels = True
    #: the local encoder keeps its own (Kaiming) initialisation.
    keeps_init = True

    def __init__(
        self,
        dim: int,
        channels: Sequence[str] | None = None,
        positions: Sequence[Sequence[float] | None] | None = None,
        *,
        montage: str = "standard_1005",
        conv_layers: Sequence[Sequence[int]] | None = None,
        norm: str = "group",
        spat_dim: int | None = None,
    ) -> None:
        super().__init__()
        layers = list(SJEPA_CONV_LAYERS if conv_layers is None else _layers(conv_layers))
        if conv_layers is None:
            layers[-1] = (dim, *layers[-1][1:])
        if layers[-1][0] != dim:
            raise ConfigError(f"the last conv layer must output the token width {dim}, found {layers[-1][0]}")
        if positions is None:
            if not channels:
                raise ConfigError("the sjepa_local tokenizer needs channel names or a positions table")
            from biojepa.adapters.eeg.positions import unit_head_positions

            pos = unit_head_positions(list(channels), montage)
        else:
            pos = _positions_table(positions)
        if channels is not None and len(channels) != pos.shape[0]:
            raise ConfigError(
                f"the positions table has {pos.shape[0]} rows but there are {len(channels)} channels; give one "
                "row per channel, in the channel order of the signal contract"
            )
        if not np.isfinite(pos).all(axis=1).any():
            from biojepa.adapters.eeg.positions import MONTAGE_HINT

            raise ContractError(f"no channel of the model has a known position; {MONTAGE_HINT}")
        self.channels = list(channels) if channels is not None else None
        self.positions = pos  # (C, 3), NaN = unknown
        self.n_channels = int(pos.shape[0])
        self.embed_dim = dim
        self.spat_dim = spat_dim
        self.local = LocalEncoder(layers, norm=norm)

    @property
    def receptive_field(self) -> int:
        return self.local.receptive_field

    def grid(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        C, T = int(input_shape[-2]), int(input_shape[-1])
        if C != self.n_channels:
            raise ContractError(
                f"the model's channel table has {self.n_channels} channels, the input has {C}; select and order "
                "the channels by name to match the model's signal contract (biojepa.encode() does this)"
            )
        t = self.local.n_tokens(T)
        if t < 1:
            raise ContractError(
                f"input of {T} samples is shorter than the local encoder's receptive field of "
                f"{self.receptive_field} samples; use windows of at least {self.receptive_field} samples "
                f"({self.receptive_field / 128:.4g} s at 128 Hz)"
            )
        return (C, t)

    def coords(self, x: Tensor) -> Tensor:
        C, t = self.grid(tuple(x.shape))
        ch = torch.arange(C, device=x.device, dtype=torch.float32).repeat_interleave(t)  # (C·t,)
        tm = torch.arange(t, device=x.device, dtype=torch.float32).repeat(C)  # (C·t,)
        return torch.stack([ch, tm], dim=-1).unsqueeze(0)  # (1, C·t, 2)

    def _channel_aligned(self, keep_idx: Tensor, t: int) -> Tensor | None:
        """Channel indices ``(B, K / t)`` when ``keep_idx`` keeps whole channels in order, else None."""
        K = keep_idx.shape[1]
        if K % t:
            return None
        ch = keep_idx[:, ::t] // t  # (B, K/t)
        expect = (ch * t).repeat_interleave(t, dim=1) + torch.arange(t, device=keep_idx.device).repeat(K // t)
        return ch if torch.equal(expect, keep_idx) else None

    def embed(self, x: Tensor, keep_idx: Tensor | None = None) -> Tensor:
        B, C, T = x.shape
        _, t = self.grid((C, T))
        if keep_idx is not None:
            ch = self._channel_aligned(keep_idx, t)
            if ch is not None:  # only the kept channels go through the CNN
                xs = torch.gather(x, 1, ch.unsqueeze(-1).expand(-1, -1, T))  # (B, K/t, T)
                h = self.local(xs)  # (B, K/t, t, D)
                return h.reshape(B, keep_idx.shape[1], self.embed_dim)  # (B, K, D)
        h = self.local(x).reshape(B, C * t, self.embed_dim)  # (B, C·t, D)
        return h if keep_idx is None else gather_tokens(h, keep_idx)  # (B, N | K, D)

    def make_pos_embed(self, dim: int) -> nn.Module:
        spat = None
        if self.spat_dim is not None:
            spat = self.spat_dim if dim == self.embed_dim else spat_dim_for(dim, self.spat_dim / self.embed_dim)
        return ChannelTimeEmbed(dim, self.positions, spat)

    def mask_defaults(self) -> dict[str, Any]:
        """Mask parameters taken from the model: the unit-head ``positions`` of the channel table."""
        return {"positions": self.positions.tolist()}

    def extra_repr(self) -> str:
        return f"n_channels={self.n_channels}, dim={self.embed_dim}, receptive_field={self.receptive_field}"
