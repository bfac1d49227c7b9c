"""``biojepa.encode()``: turn recordings into embeddings with a model's exact preprocessing contract.

This release accepts numpy arrays; WFDB paths, DataFrames, MNE objects and NIfTI images plug into the same
dispatch as their adapters land.

Example:
    >>> import numpy as np, biojepa
    >>> model = biojepa.create_model("synthetic_vit_tiny")
    >>> x = np.random.default_rng(0).standard_normal((4, 2048)).astype("float32")
    >>> biojepa.encode(x, model, sfreq=128, channels=["S1", "S2", "S3", "S4"]).shape
    (1, 64)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from biojepa.errors import ContractError

__all__ = ["encode", "match_channels", "resolve_model"]

#: unit scale factors to volts, for unit conversion and plausibility checks
_TO_VOLT = {"v": 1.0, "mv": 1e-3, "uv": 1e-6, "µv": 1e-6, "μv": 1e-6}


def resolve_model(model: Any, device: str = "cpu") -> Any:
    """A loaded encoder from an encoder object, a model directory or a registered ``name.tag``."""
    from torch import nn

    if isinstance(model, nn.Module):
        if getattr(model, "spec", None) is None:
            raise ContractError("the model has no spec/signal contract; build it with biojepa.create_model or load")
        return model
    if isinstance(model, (str, os.PathLike)):
        from pathlib import Path

        from biojepa.io import load, load_tagged

        if Path(model).is_dir():
            return load(model, device=device)
        if "." in str(model) and not str(model).endswith(os.sep):
            return load_tagged(str(model), device=device)
        raise ContractError(
            f"model {str(model)!r} is neither a model directory nor a '<name>.<tag>' of local weights; "
            "pass a directory written by save_pretrained, a tagged name, or a loaded model"
        )
    raise ContractError(f"model must be an encoder, a directory or a tagged name, got {type(model).__name__}")


def match_channels(given: Sequence[str], expected: Sequence[str]) -> list[int]:
    """Indices into ``given`` that produce the ``expected`` order, matching names case-insensitively.

    Raises:
        ContractError: a channel is missing or a name is duplicated.
    """
    low = [c.strip().lower() for c in given]
    if len(set(low)) != len(low):
        dup = sorted({c for c in low if low.count(c) > 1})
        raise ContractError(f"duplicated channel names {dup} in the input; names must be unique")
    pos = {c: i for i, c in enumerate(low)}
    missing = [e for e in expected if e.lower() not in pos]
    if missing:
        raise ContractError(
            f"the model expects channels {list(expected)}; the input lacks {missing} (it has {list(given)}). "
            "Provide all channels of the model's signal contract, by name"
        )
    return [pos[e.lower()] for e in expected]


def _normalise(x: np.ndarray, norm: Any, method: str) -> np.ndarray:
    if method == "none" or norm.method == "none":
        return x
    if norm.method == "zscore":
        mean = np.asarray(norm.stats["mean"], dtype=np.float32).reshape(1, -1, 1)  # (1, C, 1)
        std = np.asarray(norm.stats["std"], dtype=np.float32).reshape(1, -1, 1)  # (1, C, 1)
        x = (x - mean) / np.maximum(std, 1e-8)
    elif norm.method == "zscore_per_record":
        x = (x - x.mean(axis=-1, keepdims=True)) / np.maximum(x.std(axis=-1, keepdims=True), 1e-8)
    else:
        raise ContractError(f"normalisation {norm.method!r} is not supported by encode() in this release")
    if norm.clip is not None:
        x = np.clip(x, -norm.clip, norm.clip)
    return x.astype(np.float32, copy=False)


def encode(
    signal: Any,
    model: Any,
    *,
    sfreq: float | None = None,
    channels: Sequence[str] | None = None,
    units: str | None = None,
    allow_resample: bool = False,
    stride: int | None = None,
    pool: Literal["mean"] = "mean",
    normalization: Literal["contract", "none"] = "contract",
    batch_size: int = 64,
    device: str = "auto",
) -> np.ndarray:
    """Embed recordings with a model; deterministic, eval mode, never touches the network.

    Args:
        signal: a numpy array (C, T) or (B, C, T).
        model: a loaded encoder, a model directory, or ``"<name>.<tag>"`` of local weights.
        sfreq: the input's sampling rate in Hz (required).
        channels: the input's channel names in row order (required); reordered by name to the model's.
        units: the input's units (``"V"``, ``"mV"``, ``"uV"``); converted to the model's if both are
            electrical; None means "as the model expects".
        allow_resample: resample (polyphase) a different rate to the model's instead of raising.
        stride: window stride in samples for records longer than the model window (default: the window).
        pool: how window embeddings are combined (``"mean"``).
        normalization: ``"contract"`` applies the model's stored normalisation; ``"none"`` skips it.
        batch_size: windows per forward pass.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.

    Returns:
        float32 array (B, D): the target encoder's features after its final norm, mean-pooled over tokens
        (register tokens excluded) and over windows.

    Raises:
        ContractError: wrong or missing channels, rate, units, NaNs, or a record shorter than the window.
    """
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    enc = resolve_model(model, device=device)
    sig = enc.spec.signal
    x = np.asarray(signal)
    if x.ndim == 2:
        x = x[None]  # (1, C, T)
    if x.ndim != 3 or not np.issubdtype(x.dtype, np.number):
        raise ContractError(f"expected a numeric array (C, T) or (B, C, T), got shape {x.shape}, dtype {x.dtype}")
    x = x.astype(np.float32)
    if channels is None:
        raise ContractError(f"pass channels=[...] naming the {x.shape[1]} input rows; the model expects "
                            f"{sig.channels}")
    if len(channels) != x.shape[1]:
        raise ContractError(f"{len(channels)} channel names for {x.shape[1]} input rows")
    x = x[:, match_channels(channels, sig.channels)]  # (B, C_model, T)
    if not np.isfinite(x).all():
        raise ContractError(f"the input holds {int((~np.isfinite(x)).sum())} NaN/inf values; interpolate or "
                            "crop them before encoding")
    if sig.sfreq is not None:
        if sfreq is None:
            raise ContractError(f"pass sfreq=...; the model expects {sig.sfreq:g} Hz")
        if abs(float(sfreq) - sig.sfreq) > 1e-6 * sig.sfreq:
            if not allow_resample:
                raise ContractError(f"the input is sampled at {sfreq:g} Hz, the model expects {sig.sfreq:g} Hz; "
                                    "resample it, or pass allow_resample=True")
            from fractions import Fraction

            from scipy.signal import resample_poly

            frac = Fraction(sig.sfreq / float(sfreq)).limit_denominator(1000)
            x = resample_poly(x, frac.numerator, frac.denominator, axis=-1).astype(np.float32)  # (B, C, T')
    if units is not None and units.lower() != sig.units.lower():
        a, b = _TO_VOLT.get(units.lower()), _TO_VOLT.get(sig.units.lower())
        if a is None or b is None:
            raise ContractError(f"input units {units!r} cannot be converted to the model's {sig.units!r}")
        x = x * np.float32(a / b)
    x = _normalise(x, sig.normalization, normalization)
    window = sig.n_times
    T = x.shape[-1]
    if T < window:
        raise ContractError(f"records have {T} samples; the model window is {window} samples "
                            f"({window / sig.sfreq if sig.sfreq else window:g} s); pass longer records")
    step = stride or window
    starts = list(range(0, T - window + 1, step))
    if starts[-1] != T - window:
        starts.append(T - window)  # the last window ends at the record's end
    wins = np.stack([x[:, :, s : s + window] for s in starts], axis=1)  # (B, W, C, window)
    B, W = wins.shape[:2]
    flat = wins.reshape(B * W, wins.shape[2], window)  # (B·W, C, window)
    enc.eval()
    outs = []
    with torch.inference_mode():
        for i in range(0, flat.shape[0], batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(flat[i : i + batch_size])).to(device)
            outs.append(enc(xb).mean(dim=1).float().cpu().numpy())  # (b, D)
    emb = np.concatenate(outs).reshape(B, W, -1)  # (B, W, D)
    if pool != "mean":
        raise ContractError(f"pool must be 'mean', got {pool!r}")
    return emb.mean(axis=1).astype(np.float32)  # (B, D)
