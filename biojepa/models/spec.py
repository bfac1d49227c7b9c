"""Model specs: architecture arguments plus the signal contract, serialisable to ``config.json``."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

__all__ = [
    "EncoderSpec",
    "ModelSpec",
    "Normalization",
    "PredictorSpec",
    "SignalContract",
    "TokenizerSpec",
    "channel_order_sha256",
]


def channel_order_sha256(names: Sequence[str]) -> str:
    """sha256 of channel (lead, electrode, ROI) names in order, UTF-8, one per line.

    fMRI contracts pin their atlas's ROI order with it (``SignalContract.roi_order_sha256``).
    """
    return hashlib.sha256("\n".join(str(n) for n in names).encode("utf-8")).hexdigest()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenizerSpec(_Strict):
    """Which registered tokenizer to build and its arguments (``dim`` comes from the encoder)."""

    kind: str
    args: dict[str, Any] = Field(default_factory=dict)


class EncoderSpec(_Strict):
    """Transformer encoder size."""

    dim: int = Field(gt=0)
    depth: int = Field(gt=0)
    n_heads: int = Field(gt=0)
    mlp_ratio: float = Field(4.0, gt=0)
    bias: bool = False
    n_registers: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _heads_divide(self) -> EncoderSpec:
        if self.dim % self.n_heads:
            raise ValueError(f"dim={self.dim} must be divisible by n_heads={self.n_heads}")
        return self


class PredictorSpec(_Strict):
    """Predictor size (width is usually half the encoder's)."""

    dim: int = Field(gt=0)
    depth: int = Field(gt=0)
    n_heads: int = Field(gt=0)
    mlp_ratio: float = Field(4.0, gt=0)
    bias: bool = False

    @model_validator(mode="after")
    def _heads_divide(self) -> PredictorSpec:
        if self.dim % self.n_heads:
            raise ValueError(f"dim={self.dim} must be divisible by n_heads={self.n_heads}")
        return self


class Normalization(_Strict):
    """How inputs are normalised before the model (statistics stored with the model)."""

    method: Literal["none", "zscore", "zscore_per_record", "robust"] = "none"
    stats: dict[str, Any] = Field(default_factory=dict)
    clip: float | None = None


class SignalContract(_Strict):
    """What a model expects as input; ``encode()`` checks input against it.

    Attributes:
        sfreq: sampling rate in Hz (None for fMRI, which uses ``tr_s``).
        tr_s: repetition time in seconds (fMRI).
        channels: ordered channel names.
        units: physical units of the input (e.g. ``"mV"``).
        n_times: window length in samples (frames for fMRI).
        normalization: normalisation method and statistics.
        atlas: fMRI: the parcellation the ROI time series come from (e.g. ``"aal116"``).
        roi_order_sha256: fMRI: :func:`channel_order_sha256` of ``channels``, the ROI order the model was
            trained with; checked against the channels when set.
    """

    sfreq: float | None = None
    tr_s: float | None = None
    channels: list[str]
    units: str
    n_times: int = Field(gt=0)
    normalization: Normalization = Field(default_factory=Normalization)
    atlas: str | None = None
    roi_order_sha256: str | None = None

    @model_validator(mode="after")
    def _rate(self) -> SignalContract:
        if (self.sfreq is None) == (self.tr_s is None):
            raise ValueError("exactly one of sfreq (Hz) or tr_s (seconds, fMRI) must be set")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channel names must be unique")
        if self.roi_order_sha256 is not None and self.roi_order_sha256 != channel_order_sha256(self.channels):
            raise ValueError(
                f"roi_order_sha256 {self.roi_order_sha256[:12]}... does not match the channels (their hash is "
                f"{channel_order_sha256(self.channels)[:12]}...): the ROI list was edited without updating the "
                "hash; set both from the same atlas table"
            )
        return self

    @model_serializer(mode="wrap")
    def _drop_unset_fmri(self, handler: Any) -> dict[str, Any]:
        """``atlas`` / ``roi_order_sha256`` appear in config.json only when set (fMRI contracts)."""
        data = handler(self)
        for key in ("atlas", "roi_order_sha256"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class ModelSpec(_Strict):
    """Everything needed to rebuild a model: architecture and signal contract."""

    name: str
    modality: str
    tokenizer: TokenizerSpec
    encoder: EncoderSpec
    predictor: PredictorSpec
    signal: SignalContract
    description: str = ""
