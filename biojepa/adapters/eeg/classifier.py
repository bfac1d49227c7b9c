"""S-JEPA downstream classifiers (research note eeg.md §1.4), braindecode-compatible.

Three architectures; each adds two **new** layers to pretrained parts: a spatial aggregation (a learned
linear mix of the ``C`` channels into ``V = n_spat_filters`` virtual channels) and a fully connected
classifier (``final_layer``).

================  ==========================================================================  ===================
arch              pipeline                                                                    pretrained parts
================  ==========================================================================  ===================
``contextual``    local encoder -> + channel/time embedding -> transformer -> spatial mix     local encoder,
                  over the ``C x t x D`` token grid -> flatten -> Linear                      embedding, encoder
``post_local``    local encoder -> spatial mix over channels -> flatten -> Linear             local encoder
``pre_local``     spatial mix of the raw channels (``C -> V``) -> local encoder per virtual   local encoder
                  channel -> flatten -> Linear
================  ==========================================================================  ===================

The local encoder is shape-agnostic, so pre-local transfer works on the ``V`` virtual channels (the
braindecode 1.8 ``from_pretrained`` failure of eeg.md §1.4 cannot happen). For ``contextual`` the channel
table is rebuilt for the downstream montage **by name**: rows of channels the pretrained model knows are
copied, others are initialised from their positions (``chs_info`` ``loc`` or the standard montage).

braindecode's signal arguments (``n_outputs, n_chans, chs_info, n_times, input_window_seconds, sfreq``) are
accepted and cross-checked; ``forward(X (B, C, T))`` returns logits ``(B, n_outputs)``,
``forward(X, return_features=True)`` a dict ``{"features": (B, F), "cls_token": None}``, and
``reset_head(n)`` rebuilds ``final_layer``. braindecode itself is not needed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from biojepa.adapters.eeg.tokenizer import SJEPA_CONV_LAYERS, LocalEncoder, SJepaTokenizer, position_features
from biojepa.errors import ConfigError, ContractError

__all__ = ["ARCHS", "Arch", "SignalJepaClassifier"]

Arch = Literal["pre_local", "post_local", "contextual"]
ARCHS: tuple[str, ...] = ("pre_local", "post_local", "contextual")


def _resolve_signal_args(
    n_chans: int | None,
    chs_info: Sequence[Mapping[str, Any]] | None,
    n_times: int | None,
    input_window_seconds: float | None,
    sfreq: float | None,
) -> tuple[int, int, float | None]:
    """braindecode's rules: ``n_chans`` from ``chs_info``, ``n_times`` from window x sfreq; pairs must agree."""
    if chs_info is not None:
        if n_chans is not None and n_chans != len(chs_info):
            raise ConfigError(f"n_chans={n_chans} but chs_info describes {len(chs_info)} channels; give one of them")
        n_chans = len(chs_info)
    if n_chans is None or n_chans < 1:
        raise ConfigError("give the number of channels: n_chans=... or chs_info=raw.info['chs']")
    if input_window_seconds is not None and sfreq is not None:
        derived = round(input_window_seconds * sfreq)
        if n_times is not None and n_times != derived:
            raise ConfigError(
                f"n_times={n_times} disagrees with input_window_seconds={input_window_seconds} x sfreq={sfreq} "
                f"= {derived}; give consistent values"
            )
        n_times = derived
    if n_times is None:
        raise ConfigError("give the window length: n_times=... or input_window_seconds=... with sfreq=...")
    return int(n_chans), int(n_times), None if sfreq is None else float(sfreq)


def _names_and_positions(
    n_chans: int, chs_info: Sequence[Mapping[str, Any]] | None, channels: Sequence[str] | None
) -> tuple[list[str] | None, np.ndarray | None]:
    """Channel names and unit-head positions from ``chs_info`` (``loc`` or montage) or plain names."""
    from biojepa.adapters.eeg.positions import canonical_eeg_name, normalize_positions, unit_head_positions

    if chs_info is not None:
        names = [canonical_eeg_name(str(c["ch_name"])) for c in chs_info]
        loc = np.array(
            [np.asarray(c.get("loc", [np.nan] * 3), dtype=np.float64)[:3] for c in chs_info], dtype=np.float64
        )  # (C, 3)
        ok = np.isfinite(loc).all(axis=1) & (np.abs(loc).sum(axis=1) > 0)
        if ok.any():
            from biojepa.adapters.eeg.positions import montage_positions

            return names, normalize_positions(np.where(ok[:, None], loc, np.nan), reference=montage_positions()[1])
        return names, unit_head_positions(names)
    if channels is not None:
        if len(channels) != n_chans:
            raise ConfigError(f"{len(channels)} channel names given for n_chans={n_chans}")
        names = [canonical_eeg_name(c) for c in channels]
        return names, unit_head_positions(names)
    return None, None


class SignalJepaClassifier(nn.Module):
    """An S-JEPA downstream classifier (``pre_local``, ``post_local`` or ``contextual``).

    Args:
        n_outputs: number of classes (logits).
        n_chans: input channels (or from ``chs_info``).
        chs_info: ``raw.info["chs"]``-style dicts (``ch_name``, ``loc``); names and positions for ``contextual``.
        n_times: window length in samples (or ``input_window_seconds`` x ``sfreq``).
        input_window_seconds: window length in seconds.
        sfreq: sampling rate (Hz); S-JEPA models expect 128.
        arch: ``"pre_local"`` (default, the paper's best), ``"post_local"`` or ``"contextual"``.
        encoder: a pretrained :class:`~biojepa.nn.encoder.SignalEncoder` with an ``sjepa_local`` tokenizer
            (deep-copied); None = random initialisation (the paper's "no pre-training" baseline).
        channels: channel names when ``chs_info`` is not given (``contextual`` needs names or ``chs_info``).
        n_spat_filters: virtual channels ``V`` of the spatial aggregation (4 in the paper).
        conv_layers: local-encoder layers for a random-init model (ignored with ``encoder``).
        dim: token width for a random-init contextual model (ignored with ``encoder``).
        drop_prob: dropout before ``final_layer``.

    Raises:
        ConfigError: inconsistent signal arguments, an unknown arch, or ``contextual`` without channel names.
        ContractError: ``n_times`` shorter than the local encoder's receptive field.
    """

    def __init__(
        self,
        n_outputs: int | None = None,
        n_chans: int | None = None,
        chs_info: Sequence[Mapping[str, Any]] | None = None,
        n_times: int | None = None,
        input_window_seconds: float | None = None,
        sfreq: float | None = None,
        *,
        arch: Arch = "pre_local",
        encoder: nn.Module | None = None,
        channels: Sequence[str] | None = None,
        n_spat_filters: int = 4,
        conv_layers: Sequence[Sequence[int]] | None = None,
        dim: int = 64,
        drop_prob: float = 0.0,
    ) -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ConfigError(f"unknown arch {arch!r}; expected one of {', '.join(ARCHS)}")
        if n_outputs is None or int(n_outputs) < 1:
            raise ConfigError(f"n_outputs must be a positive number of classes, found {n_outputs!r}")
        if int(n_spat_filters) < 1:
            raise ConfigError(f"n_spat_filters must be >= 1, found {n_spat_filters}")
        if n_chans is None and chs_info is None and channels is not None:
            n_chans = len(channels)
        C, T, fs = _resolve_signal_args(n_chans, chs_info, n_times, input_window_seconds, sfreq)
        self.n_outputs, self.n_chans, self.n_times, self.sfreq = int(n_outputs), C, T, fs
        self.arch: Arch = arch
        self.n_spat_filters = V = int(n_spat_filters)
        tok = getattr(encoder, "tokenizer", None) if encoder is not None else None
        if encoder is not None and not isinstance(tok, SJepaTokenizer):
            raise ConfigError(
                f"the pretrained encoder must have an S-JEPA (sjepa_local) tokenizer, found {type(tok).__name__}"
            )
        names, positions = _names_and_positions(C, chs_info, channels)
        self.ch_names = names

        # -- pretrained (or random) parts ---------------------------------------------------------
        self.encoder: nn.Module | None = None
        if arch == "contextual":
            if names is None:
                raise ConfigError("arch='contextual' needs channel names: pass chs_info=... or channels=[...]")
            self.encoder = self._contextual_encoder(encoder, names, positions, dim)
            self.local = self.encoder.tokenizer.local  # type: ignore[union-attr]
        elif tok is not None:
            self.local = copy.deepcopy(tok.local)
        else:
            layers = list(SJEPA_CONV_LAYERS if conv_layers is None else conv_layers)
            self.local = LocalEncoder(layers)
        t = self.local.n_tokens(T)
        if t < 1:
            raise ContractError(
                f"n_times={T} is shorter than the local encoder's receptive field of {self.local.receptive_field} "
                f"samples; use windows of at least {self.local.receptive_field} samples"
                + (f" ({self.local.receptive_field / fs:.4g} s at {fs:g} Hz)" if fs else "")
            )
        self.n_tokens_per_channel = t
        D = self.local.out_dim

        # -- new layers ----------------------------------------------------------------------------
        if arch == "pre_local":
            self.spatial = nn.Conv2d(1, V, kernel_size=(C, 1))  # raw (B, 1, C, T) -> (B, V, 1, T)
        else:
            self.spatial = nn.Conv3d(1, V, kernel_size=(C, 1, 1))  # (B, 1, C, t, D) -> (B, V, 1, t, D)
        self.n_features = V * t * D
        self.drop = nn.Dropout(drop_prob) if drop_prob > 0 else nn.Identity()
        self.final_layer = nn.Linear(self.n_features, self.n_outputs)

    @staticmethod
    def _contextual_encoder(
        encoder: nn.Module | None, names: list[str], positions: np.ndarray | None, dim: int
    ) -> nn.Module:
        from biojepa.models import build_encoder, get_spec

        if encoder is None:
            spec = get_spec("eeg_sjepa", encoder={"dim": dim}, signal={"channels": names})
            return build_encoder(spec)
        enc = copy.deepcopy(encoder)
        tok: SJepaTokenizer = enc.tokenizer  # type: ignore[assignment]
        old = {n.lower(): i for i, n in enumerate(enc.spec.signal.channels)} if enc.spec is not None else {}
        if [n.lower() for n in names] == list(old):
            return enc
        # a new montage: one row per downstream channel, copied by name where known, else from its position
        pos = positions if positions is not None else np.full((len(names), 3), np.nan)
        new_tok = copy.deepcopy(tok)
        new_tok.positions = pos
        new_tok.n_channels = len(names)
        new_tok.channels = list(names)
        emb = enc.pos_embed
        new_emb = copy.deepcopy(emb)
        weight = torch.from_numpy(position_features(pos, emb.spat_dim))  # (C', spat)
        with torch.no_grad():
            for i, n in enumerate(names):
                j = old.get(n.lower())
                if j is not None:
                    weight[i] = emb.channel.weight[j].detach().cpu()
            new_emb.channel = nn.Embedding(len(names), emb.spat_dim)
            new_emb.channel.weight.copy_(weight)
        enc.tokenizer = new_tok
        enc.pos_embed = new_emb
        enc.spec = None  # the pretrained contract no longer describes this montage
        return enc

    # -- parameter groups for the fine-tuning schemes -------------------------------------------------
    def pretrained_modules(self) -> list[nn.Module]:
        """The parts that come from pretraining (frozen in the ``new`` scheme)."""
        return [self.encoder] if self.encoder is not None else [self.local]

    def new_modules(self) -> list[nn.Module]:
        """The layers added for the downstream task (always trained)."""
        return [self.spatial, self.final_layer]

    def reset_head(self, n_outputs: int) -> None:
        """Replace ``final_layer`` by a fresh ``Linear(n_features, n_outputs)``."""
        self.n_outputs = int(n_outputs)
        self.final_layer = nn.Linear(self.n_features, self.n_outputs).to(self.final_layer.weight.device)

    # -- forward ------------------------------------------------------------------------------------
    def _features(self, x: Tensor) -> Tensor:
        B, C, _ = x.shape
        if C != self.n_chans:
            raise ContractError(f"the classifier was built for {self.n_chans} channels, the input has {C}")
        if self.arch == "pre_local":
            v = self.spatial(x.unsqueeze(1)).squeeze(2)  # (B, V, T)
            h = self.local(v)  # (B, V, t, D)
        elif self.arch == "post_local":
            h = self.local(x)  # (B, C, t, D)
            h = self.spatial(h.unsqueeze(1)).squeeze(2)  # (B, V, t, D)
        else:
            assert self.encoder is not None
            tok = self.encoder(x)  # (B, C·t, D)
            h = tok.reshape(B, C, self.n_tokens_per_channel, tok.shape[-1])  # (B, C, t, D)
            h = self.spatial(h.unsqueeze(1)).squeeze(2)  # (B, V, t, D)
        return h.flatten(1)  # (B, V·t·D)

    def forward(self, x: Tensor, return_features: bool = False) -> Tensor | dict[str, Tensor | None]:
        """Logits ``(B, n_outputs)`` for ``x (B, C, T)``; with ``return_features`` a braindecode-style dict."""
        feats = self._features(x)  # (B, F)
        if return_features:
            return {"features": feats, "cls_token": None}
        return self.final_layer(self.drop(feats))  # (B, n_outputs)

    def extra_repr(self) -> str:
        return (
            f"arch={self.arch!r}, n_chans={self.n_chans}, n_times={self.n_times}, n_outputs={self.n_outputs}, "
            f"n_spat_filters={self.n_spat_filters}, tokens_per_channel={self.n_tokens_per_channel}"
        )


def n_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (optionally only those with ``requires_grad``)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


__all__ += ["n_parameters"]
