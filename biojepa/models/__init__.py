"""Model registry front-end: ``create_model``, ``list_models``, builders for encoders and JEPA models.

Registered names follow ``<modality>_<arch>[_<size>]``. A registered entry is a function returning a
:class:`ModelSpec`. ``create_model(name, **overrides)`` deep-merges ``overrides`` into the spec (e.g.
``encoder={"depth": 2}``) and builds the :class:`~biojepa.nn.encoder.SignalEncoder`.

Example:
    >>> import biojepa
    >>> enc = biojepa.create_model("synthetic_vit_tiny")
    >>> enc.num_features
    64
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from biojepa.errors import ConfigError
from biojepa.models.spec import (
    EncoderSpec,
    ModelSpec,
    Normalization,
    PredictorSpec,
    SignalContract,
    TokenizerSpec,
)
from biojepa.registry import MODELS

__all__ = [
    "EncoderSpec",
    "ModelSpec",
    "Normalization",
    "PredictorSpec",
    "SignalContract",
    "TokenizerSpec",
    "build_encoder",
    "build_jepa",
    "build_tokenizer_for",
    "create_model",
    "get_spec",
    "list_models",
]


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``override`` into a copy of ``base`` (mappings merge, other values replace)."""
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def list_models(pattern: str = "*", **meta: Any) -> list[str]:
    """Registered model names matching an fnmatch pattern (e.g. ``"ecg_*"``)."""
    return MODELS.names(pattern, **meta)


def get_spec(name: str, **overrides: Any) -> ModelSpec:
    """The :class:`ModelSpec` of a registered model, with ``overrides`` deep-merged and validated.

    Raises:
        UnknownNameError: the name is not registered.
        ConfigError: the overrides make the spec invalid.
    """
    spec = MODELS.create(name)
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"model entry {name!r} must return a ModelSpec, got {type(spec).__name__}")
    if not overrides:
        return spec
    try:
        return ModelSpec.model_validate(deep_merge(spec.model_dump(), overrides))
    except ValidationError as exc:
        raise ConfigError(f"invalid overrides for model {name!r}: {exc}") from exc


def build_tokenizer_for(spec: ModelSpec) -> Any:
    """The tokenizer of ``spec`` (tokenizers with ``takes_channels`` get the contract's channel names).

    Raises:
        ContractError: the contract's window or channel count does not fit the tokenizer (e.g. a window
            shorter than a convolutional tokenizer's receptive field).
    """
    from biojepa.nn.tokenizers import build_tokenizer
    from biojepa.registry import TOKENIZERS

    args = dict(spec.tokenizer.args)
    if getattr(TOKENIZERS.get(spec.tokenizer.kind), "takes_channels", False):
        args.setdefault("channels", list(spec.signal.channels))
    tok = build_tokenizer(spec.tokenizer.kind, dim=spec.encoder.dim, **args)
    tok.grid((len(spec.signal.channels), spec.signal.n_times))  # a window the tokenizer cannot take fails here
    return tok


def build_encoder(spec: ModelSpec) -> Any:
    """Build the :class:`~biojepa.nn.encoder.SignalEncoder` described by ``spec``."""
    from biojepa.nn.encoder import SignalEncoder

    tok = build_tokenizer_for(spec)
    e = spec.encoder
    enc = SignalEncoder(
        tok, dim=e.dim, depth=e.depth, n_heads=e.n_heads, mlp_ratio=e.mlp_ratio, bias=e.bias,
        n_registers=e.n_registers,
    )
    enc.spec = spec
    return enc


def build_jepa(spec: ModelSpec, *, loss: str = "l1", target_norm: bool = False) -> Any:
    """Build the :class:`~biojepa.engine.jepa.JEPA` (encoder, EMA target, predictor) for ``spec``.

    Args:
        spec: the model spec.
        loss: latent loss kind (``"l1"``, ``"smooth_l1"``, ``"l2"``).
        target_norm: layer-normalise the EMA targets (I-JEPA, Brain-JEPA).
    """
    from biojepa.engine.jepa import JEPA
    from biojepa.nn.predictor import Predictor

    enc = build_encoder(spec)
    p = spec.predictor
    pred = Predictor(
        enc.tokenizer, embed_dim=spec.encoder.dim, dim=p.dim, depth=p.depth, n_heads=p.n_heads,
        mlp_ratio=p.mlp_ratio, bias=p.bias,
    )
    return JEPA(enc, pred, loss=loss, target_norm=target_norm)  # type: ignore[arg-type]


def create_model(name: str, **overrides: Any) -> Any:
    """Create a registered encoder, or load tagged weights (``"name.tag"``).

    Args:
        name: a registered model name (``list_models()``), or ``name.tag`` for a local weights
            directory ``$BIOJEPA_HOME/weights/name.tag`` (verified by sha256, never downloaded).
        **overrides: deep-merged into the spec (random init only).

    Returns:
        A :class:`~biojepa.nn.encoder.SignalEncoder` in train mode.
    """
    if "." in name:
        from biojepa.io import load_tagged

        if overrides:
            raise ConfigError("overrides cannot be applied to pretrained weights; drop them or the tag")
        return load_tagged(name)
    return build_encoder(get_spec(name, **overrides))


# registrations (imported for their side effect on MODELS)
from biojepa.models import synthetic as _synthetic  # noqa: F401
