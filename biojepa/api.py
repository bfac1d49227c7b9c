"""``biojepa.encode()``: turn recordings into embeddings with a model's exact preprocessing contract.

Inputs: numpy arrays ``(C, T)`` / ``(B, C, T)`` or a list of ``(C, T_i)`` arrays (with ``sfreq`` and
``channels``), paths to WFDB records (``.hea``; names, rate and units come from the header), pandas
DataFrames with one column per channel (``sfreq`` required), and :class:`biojepa.data.Record` objects.
Every input is checked against the model's signal contract (``config.json`` → ``signal``): channels are
matched by name (for ECG models case- and alias-insensitively: ``AVL``/``aVL``, ``MLII``/``II``) and
reordered; a different sampling rate raises unless ``allow_resample=True``; amplitudes far outside the
contract's units raise with a hint; NaN raises unless ``nan="interpolate"``. The input is then normalised
with the statistics stored in the contract, cut into windows of the model's length (records longer than
it are windowed and the window embeddings averaged) and embedded in eval mode under
``torch.inference_mode()``. Deterministic; never touches the network.

Example:
    >>> import numpy as np, biojepa
    >>> model = biojepa.create_model("synthetic_vit_tiny")
    >>> x = np.random.default_rng(0).standard_normal((4, 2048)).astype("float32")
    >>> biojepa.encode(x, model, sfreq=128, channels=["S1", "S2", "S3", "S4"]).shape
    (1, 64)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from biojepa.errors import ContractError, CorruptRecordError

__all__ = ["EncodeResult", "encode", "encode_iter", "match_channels", "resolve_model"]

#: unit scale factors to volts, for unit conversion and plausibility checks
_TO_VOLT = {"v": 1.0, "mv": 1e-3, "uv": 1e-6, "µv": 1e-6, "μv": 1e-6}
#: plausible robust amplitude (99th percentile of |x - median|, median over channels) per contract unit
_PLAUSIBLE = {"mv": (0.01, 30.0), "uv": (0.5, 5000.0)}


# ---------------------------------------------------------------------------------------------------------
def resolve_model(model: Any, device: str = "cpu") -> Any:
    """A loaded encoder from an encoder object, a model directory or a registered ``name.tag``."""
    from torch import nn

    if isinstance(model, nn.Module):
        if getattr(model, "spec", None) is None:
            raise ContractError("the model has no spec/signal contract; build it with biojepa.create_model or load")
        return model
    if isinstance(model, (str, os.PathLike)):
        from biojepa.io import load, load_tagged

        if Path(model).is_dir():
            return load(model, device=device)
        if "." in str(model) and not str(model).endswith(os.sep):
            return load_tagged(str(model), device=device)
        raise ContractError(
            f"model {str(model)!r} is neither a model directory nor a '<name>.<tag>' of local weights; "
            "pass a directory written by save_pretrained / `biojepa pretrain` (RUN/model), a tagged name, or a "
            "loaded model"
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


# ---------------------------------------------------------------------------------------------------------
@dataclass
class _Input:
    x: np.ndarray  # (C, T) float
    sfreq: float | None
    channels: list[str] | None
    units: str | None
    record_id: str


@dataclass
class EncodeResult:
    """One record's outcome in :func:`encode_iter`: an embedding or the reason it could not be made."""

    record_id: str
    embedding: np.ndarray | None
    error: str | None = None
    n_windows: int = 0


def _is_path(obj: Any) -> bool:
    return isinstance(obj, (str, os.PathLike))


def _read_wfdb(path: str | os.PathLike[str]) -> _Input:
    from biojepa.adapters.ecg.readers import read_wfdb

    p = Path(path)
    if p.suffix in (".hea", ".dat"):
        p = p.with_suffix("")
    if not p.with_suffix(".hea").is_file():
        raise ContractError(f"{path}: no WFDB header {p.with_suffix('.hea')} (encode reads WFDB records by path)")
    try:
        rec = read_wfdb(p, record_id=str(path), leads=None)
    except CorruptRecordError as exc:
        raise ContractError(f"{path}: {exc.reason}") from None
    return _Input(rec.signal, rec.sfreq, list(rec.channels), rec.units, str(path))


#: File suffixes read as EEG recordings (through MNE) rather than WFDB records.
EEG_FILE_SUFFIXES = (".edf", ".bdf", ".gdf", ".vhdr", ".set", ".fif")


def _read_eeg(path: str | os.PathLike[str]) -> _Input:
    from biojepa.adapters.eeg.readers import read_eeg_file

    try:
        rec = read_eeg_file(path, record_id=str(path))
    except CorruptRecordError as exc:
        raise ContractError(f"{path}: {exc.reason}") from None
    return _Input(rec.signal, rec.sfreq, list(rec.channels), rec.units, str(path))


def _mne_inputs(signal: Any) -> list[_Input] | None:
    """``mne.io.Raw`` -> one record, ``mne.Epochs`` -> one record per epoch (µV); None for other objects."""
    if hasattr(signal, "info") and hasattr(signal, "get_data") and hasattr(signal, "annotations") and not hasattr(
        signal, "events"
    ):
        from biojepa.adapters.eeg.readers import read_raw

        rec = read_raw(signal, record_id="0")
        return [_Input(rec.signal, rec.sfreq, list(rec.channels), rec.units, "0")]
    if hasattr(signal, "info") and hasattr(signal, "get_data") and hasattr(signal, "events"):
        from biojepa.adapters.eeg.readers import read_epochs

        x, _, names, _, fs = read_epochs(signal)  # (E, C, T) µV
        return [_Input(x[i], fs, list(names), "uV", str(i)) for i in range(x.shape[0])]
    return None


def _inputs(signal: Any, sfreq: float | None, channels: Sequence[str] | None, units: str | None) -> list[_Input]:
    """Turn any supported input into a list of records."""
    chans = list(channels) if channels is not None else None
    if _is_path(signal):
        if Path(signal).suffix.lower() in EEG_FILE_SUFFIXES or str(signal).lower().endswith(".fif.gz"):
            return [_read_eeg(signal)]
        return [_read_wfdb(signal)]
    mne_in = _mne_inputs(signal)
    if mne_in is not None:
        return mne_in
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a core dependency
        pd = None
    if pd is not None and isinstance(signal, pd.DataFrame):
        if sfreq is None:
            raise ContractError("a DataFrame input needs sfreq=... (its rows are samples, its columns channels)")
        x = signal.to_numpy(dtype=np.float32).T  # (C, T)
        return [_Input(x, sfreq, [str(c) for c in signal.columns], units, "0")]
    from biojepa.data.record import Record

    if isinstance(signal, Record):
        return [_Input(signal.signal, signal.sfreq, list(signal.channels), signal.units, signal.record_id)]
    if isinstance(signal, (list, tuple)) and signal and not isinstance(signal[0], (int, float, np.number)):
        out: list[_Input] = []
        for k, item in enumerate(signal):
            sub = _inputs(item, sfreq, channels, units)
            for j, s in enumerate(sub):
                if not (_is_path(item) or isinstance(item, Record)):
                    s.record_id = str(k) if len(sub) == 1 else f"{k}.{j}"
            out.extend(sub)
        return out
    x = np.asarray(signal)
    if x.dtype == object or not np.issubdtype(x.dtype, np.number):
        raise ContractError(
            f"cannot encode input of type {type(signal).__name__} (dtype {x.dtype}); pass a numeric array (C, T) or "
            "(B, C, T), a list of arrays, WFDB record paths, a DataFrame or biojepa Records"
        )
    if x.ndim == 2:
        return [_Input(x, sfreq, chans, units, "0")]
    if x.ndim == 3:
        return [_Input(x[i], sfreq, chans, units, str(i)) for i in range(x.shape[0])]
    raise ContractError(f"expected an array (C, T) or (B, C, T), got shape {x.shape}")


def _fmri_inputs(signal: Any, spec: Any, sfreq: float | None, channels: Sequence[str] | None,
                 fmri: Mapping[str, Any]) -> list[_Input]:
    """fMRI models: ROI x time records (TR kept as ``sfreq = 1 / TR``)."""
    from biojepa.adapters.fmri.conform import fmri_records

    tr = fmri.get("tr_s")
    if tr is None and sfreq is not None:
        tr = 1.0 / float(sfreq)
    recs = fmri_records(signal, spec, tr_s=tr, channels=channels, orientation=fmri.get("orientation"),
                        labels_img=fmri.get("labels_img"), allow_nan=fmri.get("nan") == "interpolate")
    out = []
    for r in recs:
        x = r.signal
        if "nan_mask" in r.meta:  # nan="interpolate": conform_fmri fills them
            x = np.where(r.meta["nan_mask"], np.nan, x).astype(np.float32)
        out.append(_Input(x, r.sfreq, _named_rois(r, spec), r.units, r.record_id))
    return out


def _named_rois(rec: Any, spec: Any) -> list[str] | None:
    """The record's ROI names; None when they were made up (``ROI001``...) and the model's ROIs are named."""
    names = list(rec.channels)
    if rec.meta.get("roi_names_source") == "generated" and names != list(spec.signal.channels):
        return None  # conform_fmri asks for channels=[...]
    return names


# ---------------------------------------------------------------------------------------------------------
def _conform_channels(inp: _Input, spec: Any, missing_channels: str) -> np.ndarray:
    sig = spec.signal
    if inp.channels is None:
        raise ContractError(
            f"record {inp.record_id}: pass channels=[...] naming the {inp.x.shape[0]} input rows; the model expects "
            f"{', '.join(sig.channels)}"
        )
    if len(inp.channels) != inp.x.shape[0]:
        raise ContractError(
            f"record {inp.record_id}: {len(inp.channels)} channel names for {inp.x.shape[0]} input rows; give one "
            "name per row"
        )
    if spec.modality == "ecg":
        from biojepa.adapters.ecg.leads import conform_leads

        try:
            x, _ = conform_leads(inp.x, inp.channels, sig.channels, missing="fill" if missing_channels == "fill"
                                 else "error", fill=np.nan)
        except ContractError as exc:
            raise ContractError(f"record {inp.record_id}: {exc}") from None
        return x  # (C_model, T); missing leads are NaN until normalisation fills them with 0
    if missing_channels == "fill":
        raise ContractError(f"model {spec.name!r} does not support channel subsets (missing_channels='fill')")
    given = list(inp.channels)
    if spec.modality == "eeg":  # EEG names in any spelling (BCI2000 'Fc5.', 'CZ') match the montage's
        from biojepa.adapters.eeg.positions import canonical_eeg_name

        given = [canonical_eeg_name(c) for c in given]
    try:
        return inp.x[match_channels(given, sig.channels)]  # (C_model, T)
    except ContractError as exc:
        raise ContractError(f"record {inp.record_id}: {exc}") from None


def _interpolate(x: np.ndarray, record_id: str, present: np.ndarray) -> np.ndarray:
    from biojepa.data.signal import fill_nonfinite

    out, _, empty, _ = fill_nonfinite(x, np.flatnonzero(present))  # (C, T)
    if empty.size:
        raise ContractError(f"record {record_id}: channel {int(empty[0])} has no finite value; it cannot be interpolated")
    return out


def _check_units(x: np.ndarray, units: str | None, contract_units: str, record_id: str) -> np.ndarray:
    target = contract_units.lower()
    if units is not None and units.lower() != target:
        a, b = _TO_VOLT.get(units.lower()), _TO_VOLT.get(target)
        if a is None or b is None:
            raise ContractError(
                f"record {record_id}: input units {units!r} cannot be converted to the model's {contract_units!r}"
            )
        x = x * np.float32(a / b)
    if target in _PLAUSIBLE:
        lo, hi = _PLAUSIBLE[target]
        rows = x[np.isfinite(x).all(axis=1)]
        if rows.size:
            amp = float(np.median(np.percentile(np.abs(rows - np.median(rows, axis=1, keepdims=True)), 99, axis=1)))
            if not lo <= amp <= hi:
                guess = ", ".join(u for u, f in (("V", 1.0), ("mV", 1e-3), ("uV", 1e-6))
                                  if lo <= amp * f / _TO_VOLT[target] <= hi)
                raise ContractError(
                    f"record {record_id}: typical amplitude {amp:.3g} {contract_units} is outside the plausible "
                    f"{lo:g}-{hi:g} {contract_units} of the model's units"
                    + (f"; the input looks like {guess}: pass units='{guess.split(',')[0]}'" if guess else "")
                    + " (or check the gain / scaling of the recording)"
                )
    return x


def _normalise(x: np.ndarray, spec: Any, normalization: Any, record_id: str) -> np.ndarray:
    norm = spec.signal.normalization
    clip = norm.clip
    if isinstance(normalization, Mapping):
        mean, std = normalization["mean"], normalization["std"]
        clip = normalization.get("clip", clip)
    elif normalization == "none":
        return x
    elif normalization == "per_record":
        mean, std = np.nanmean(x, axis=1), np.nanstd(x, axis=1)
    elif normalization == "contract" or (
        isinstance(normalization, str) and normalization in (norm.stats.get("per_dataset") or {})
    ):
        if norm.method == "none":
            return x
        if norm.method == "zscore_per_record":
            mean, std = np.nanmean(x, axis=1), np.nanstd(x, axis=1)
        elif norm.method == "zscore":
            stats = norm.stats if normalization == "contract" else norm.stats["per_dataset"][normalization]
            if "mean" not in stats or "std" not in stats:
                raise ContractError(
                    f"model {spec.name!r} has a z-score contract without statistics (an untrained model?); pass "
                    "normalization='per_record', 'none' or {'mean': [...], 'std': [...]}"
                )
            mean, std = stats["mean"], stats["std"]
        else:
            raise ContractError(f"normalisation {norm.method!r} is not supported by encode()")
    else:
        per = sorted(norm.stats.get("per_dataset") or {})
        raise ContractError(
            f"normalization must be 'contract', 'none', 'per_record', a dataset id of the contract "
            f"({', '.join(per) or 'none stored'}) or a mapping with mean/std; got {normalization!r}"
        )
    m = np.asarray(mean, dtype=np.float32).reshape(-1, 1)  # (C, 1)
    s = np.maximum(np.asarray(std, dtype=np.float32).reshape(-1, 1), 1e-8)  # (C, 1)
    if m.shape[0] != x.shape[0]:
        raise ContractError(f"record {record_id}: normalisation statistics for {m.shape[0]} channels, input has "
                            f"{x.shape[0]}")
    out = (x - m) / s
    if clip is not None:
        out = np.clip(out, -clip, clip)
    return out.astype(np.float32)


def _prepare(inp: _Input, spec: Any, opts: Mapping[str, Any]) -> np.ndarray:
    """One record, checked against the contract and normalised: float32 ``(C_model, T)``."""
    if spec.modality == "fmri":  # ROIs by name, TR resampling, demeaning, the robust contract
        from biojepa.adapters.fmri.conform import conform_fmri

        tr_in = 1.0 / float(inp.sfreq) if inp.sfreq else None
        return conform_fmri(inp.x, tr_in, inp.channels, spec, normalization=opts["normalization"], nan=opts["nan"],
                            record_id=inp.record_id)
    sig = spec.signal
    x = _conform_channels(_Input(np.asarray(inp.x, dtype=np.float32), inp.sfreq, inp.channels, inp.units,
                                 inp.record_id), spec, opts["missing_channels"])
    present = ~np.isnan(x).all(axis=1)  # (C,) False for leads filled in by missing_channels='fill'
    if not present.any():
        raise ContractError(f"record {inp.record_id}: none of the model's channels {sig.channels} is in the input")
    x = np.array(x, dtype=np.float32, copy=True)  # (C, T)
    n_bad = int((~np.isfinite(x[present])).sum())
    if n_bad:
        if opts["nan"] != "interpolate":
            raise ContractError(
                f"record {inp.record_id}: the input holds {n_bad} NaN/inf values; pass nan='interpolate' to fill "
                "them linearly per channel, or crop them out"
            )
        x = _interpolate(x, inp.record_id, present)
    if sig.sfreq is not None:
        if inp.sfreq is None:
            raise ContractError(f"record {inp.record_id}: pass sfreq=...; the model expects {sig.sfreq:g} Hz")
        if abs(float(inp.sfreq) - sig.sfreq) > 1e-6 * sig.sfreq:
            if not opts["allow_resample"]:
                raise ContractError(
                    f"record {inp.record_id}: the input is sampled at {float(inp.sfreq):g} Hz, the model expects "
                    f"{sig.sfreq:g} Hz; resample it, or pass allow_resample=True (FFT resampling)"
                )
            if spec.modality == "eeg":
                from biojepa.adapters.eeg.transforms import resample_poly

                x = resample_poly(np.nan_to_num(x), float(inp.sfreq), float(sig.sfreq)).astype(np.float32)  # (C, n)
            else:
                import scipy.signal

                n = round(x.shape[1] * sig.sfreq / float(inp.sfreq))
                filled = np.nan_to_num(x)
                x = scipy.signal.resample(filled.astype(np.float64), n, axis=1).astype(np.float32)  # (C, n)
            x[~present] = np.nan
    x[present] = _check_units(x[present], inp.units, sig.units, inp.record_id)
    if spec.modality == "eeg" and opts.get("preprocess", "auto") == "auto":
        from biojepa.adapters.eeg.transforms import bandpass

        x = bandpass(x, float(sig.sfreq)).astype(np.float32)  # (C, T) S-JEPA's 0.5-40 Hz zero-phase band-pass
    x = _normalise(x, spec, opts["normalization"], inp.record_id)
    x[~present] = 0.0  # a missing lead at its training mean (normalised space)
    return x


def _windows(n_times: int, window: int, stride: int, pad: bool, record_id: str) -> list[int]:
    if n_times < window:
        if not pad:
            raise ContractError(
                f"record {record_id}: {n_times} samples, shorter than the model window of {window} samples; pass "
                "pad=True to zero-pad it (after normalisation), or a longer record"
            )
        return [0]
    starts = list(range(0, n_times - window + 1, stride))
    if starts[-1] != n_times - window:
        starts.append(n_times - window)  # the last window ends at the record's end
    return starts


def _options(model: Any, window: int | str, stride: int | None, pool: str, normalization: Any, nan: str,
             missing_channels: str, device: str, allow_resample: bool) -> tuple[Any, int, int, str, dict[str, Any]]:
    """Validate the options of encode() / encode_iter(): ``(encoder, window, stride, device, per-record opts)``."""
    import torch
    from torch import nn

    if device == "auto":
        if isinstance(model, nn.Module):  # a loaded model runs where it is
            first = next(iter(model.parameters()), None)
            device = str(first.device) if first is not None else "cpu"
        else:
            device = "cuda" if torch.cuda.is_available() else "cpu"
    enc = resolve_model(model, device=device)
    if isinstance(model, nn.Module):
        enc = enc.to(device)  # an explicit device moves the model there
    sig = enc.spec.signal
    win = sig.n_times if window == "auto" else int(window)
    if win < 1:
        raise ContractError(f"window must be 'auto' or a positive number of samples, got {window!r}")
    step = win if stride is None else int(stride)
    if step < 1:
        raise ContractError(f"stride must be a positive number of samples, got {stride!r}")
    if pool != "mean":
        raise ContractError(f"pool must be 'mean', got {pool!r}")
    if nan not in ("raise", "interpolate"):
        raise ContractError(f"nan must be 'raise' or 'interpolate', got {nan!r}")
    if missing_channels not in ("raise", "fill"):
        raise ContractError(f"missing_channels must be 'raise' or 'fill', got {missing_channels!r}")
    opts = {"missing_channels": missing_channels, "nan": nan, "allow_resample": allow_resample,
            "normalization": normalization}
    return enc, win, step, device, opts


def _valid_index(enc: Any, n_channels: int, window: int, n_valid: int) -> Any:
    """Token indices (1, K) that see only real samples of a zero-padded window, or None (all tokens)."""
    if n_valid >= window:
        return None
    idx = enc.tokenizer.valid_tokens((n_channels, window), n_valid)
    return None if idx is None else idx.unsqueeze(0)  # (1, K)


def _embed(enc: Any, arrays: list[np.ndarray], starts: list[list[int]], window: int, batch_size: int, device: str,
           tokens: bool) -> list[np.ndarray]:
    """Per record: ``(W, D)`` window embeddings (``(W, N, D)`` with ``tokens``).

    A window that runs past the end of its record (``pad=True``) is zero-padded; when the tokenizer can name the
    tokens that see only real samples (``Tokenizer.valid_tokens``, e.g. fMRI), only those are encoded and pooled.
    """
    import torch

    n_ch = arrays[0].shape[0] if arrays else 0
    jobs = [(r, s) for r, ss in enumerate(starts) for s in ss]
    out: list[dict[int, np.ndarray]] = [{} for _ in arrays]
    partial = [] if tokens else [j for j in jobs if _valid_index(enc, n_ch, window, arrays[j[0]].shape[1] - j[1])
                                 is not None]
    padded = set(partial)
    full = [j for j in jobs if j not in padded]
    was_training = enc.training
    enc.eval()
    try:
        with torch.inference_mode():
            for b0 in range(0, len(full), batch_size):
                chunk = full[b0 : b0 + batch_size]
                xb = np.zeros((len(chunk), n_ch, window), dtype=np.float32)  # (b, C, window)
                for k, (r, s) in enumerate(chunk):
                    seg = arrays[r][:, s : s + window]
                    xb[k, :, : seg.shape[1]] = seg
                feats = enc(torch.from_numpy(xb).to(device)).float()  # (b, N, D)
                feats = feats if tokens else feats.mean(dim=1)  # (b, N, D) or (b, D)
                arr = feats.cpu().numpy()
                for k, (r, s) in enumerate(chunk):
                    out[r][s] = arr[k]
            for r, s in partial:  # padded windows: only the tokens over real samples
                seg = arrays[r][:, s : s + window]
                xb = np.zeros((1, n_ch, window), dtype=np.float32)  # (1, C, window)
                xb[0, :, : seg.shape[1]] = seg
                keep = _valid_index(enc, n_ch, window, seg.shape[1]).to(device)  # (1, K)
                feats = enc(torch.from_numpy(xb).to(device), keep_idx=keep).float()  # (1, K, D)
                out[r][s] = feats.mean(dim=1)[0].cpu().numpy()  # (D,)
    finally:
        enc.train(was_training)
    return [np.stack([o[s] for s in ss]).astype(np.float32) for o, ss in zip(out, starts, strict=True)]


def encode_iter(
    signal: Any,
    model: Any,
    *,
    sfreq: float | None = None,
    channels: Sequence[str] | None = None,
    units: str | None = None,
    allow_resample: bool = False,
    window: int | Literal["auto"] = "auto",
    stride: int | None = None,
    pool: Literal["mean"] = "mean",
    normalization: Any = "contract",
    nan: Literal["raise", "interpolate"] = "raise",
    pad: bool = False,
    missing_channels: Literal["raise", "fill"] = "raise",
    batch_size: int = 64,
    device: str = "auto",
    chunk_records: int = 256,
    tr_s: float | None = None,
    orientation: Literal["roi_time", "time_roi"] | None = None,
    labels_img: Any = None,
) -> Iterator[EncodeResult]:
    """Like :func:`encode`, one :class:`EncodeResult` per record, never aborting on a bad record.

    A record that breaks the contract (or cannot be read) yields ``embedding=None`` and ``error`` (the
    message); the others are embedded. Records are processed ``chunk_records`` at a time.
    """
    enc, win, step, dev, opts = _options(model, window, stride, pool, normalization, nan, missing_channels, device,
                                         allow_resample)
    fmri = {"tr_s": tr_s, "orientation": orientation, "labels_img": labels_img, "nan": nan}

    def read(sig: Any) -> list[_Input]:
        if enc.spec.modality == "fmri":
            return _fmri_inputs(sig, enc.spec, sfreq, channels, fmri)
        return _inputs(sig, sfreq, channels, units)

    items = signal if isinstance(signal, (list, tuple)) and signal and _is_path(signal[0]) else None
    if items is not None:  # a list of paths: read lazily so one unreadable file is one error row
        sources: list[Any] = list(items)
    else:
        sources = read(signal)
    for c0 in range(0, len(sources), chunk_records):
        ready: list[tuple[str, np.ndarray, list[int]]] = []
        results: list[EncodeResult] = []
        for src in sources[c0 : c0 + chunk_records]:
            rid = str(src) if items is not None else src.record_id
            try:
                inp = read(src)[0] if items is not None else src
                x = _prepare(inp, enc.spec, opts)
                ready.append((rid, x, _windows(x.shape[1], win, step, pad, rid)))
                results.append(EncodeResult(rid, None))
            except (ContractError, CorruptRecordError, OSError, ValueError) as exc:
                results.append(EncodeResult(rid, None, error=str(exc)))
        if ready:
            embs = _embed(enc, [r[1] for r in ready], [r[2] for r in ready], win, batch_size, dev, tokens=False)
            by_id = iter(zip(ready, embs, strict=True))
            for res in results:
                if res.error is None:
                    (_, _, st), e = next(by_id)
                    res.embedding = e.mean(axis=0).astype(np.float32)  # (D,)
                    res.n_windows = len(st)
        yield from results


def encode(
    signal: Any,
    model: Any,
    *,
    sfreq: float | None = None,
    channels: Sequence[str] | None = None,
    units: str | None = None,
    allow_resample: bool = False,
    window: int | Literal["auto"] = "auto",
    stride: int | None = None,
    pool: Literal["mean"] = "mean",
    normalization: Any = "contract",
    nan: Literal["raise", "interpolate"] = "raise",
    pad: bool = False,
    missing_channels: Literal["raise", "fill"] = "raise",
    batch_size: int = 64,
    device: str = "auto",
    return_tokens: bool = False,
    tr_s: float | None = None,
    orientation: Literal["roi_time", "time_roi"] | None = None,
    labels_img: Any = None,
) -> np.ndarray | list[np.ndarray]:
    """Embed recordings with a model; deterministic, eval mode, never touches the network.

    Args:
        signal: a numpy array ``(C, T)`` or ``(B, C, T)``, a list of ``(C, T_i)`` arrays, a path to a WFDB record
            or a list of paths, a pandas DataFrame (columns = channels, rows = samples), or biojepa Records.
        model: a loaded encoder, a model directory, or ``"<name>.<tag>"`` of local weights (sha256-verified).
        sfreq: the input's sampling rate in Hz (read from the file for WFDB paths and Records).
        channels: the input's channel names in row order; matched by name to the model's and reordered.
        units: the input's units (``"V"``, ``"mV"``, ``"uV"``), converted to the model's; None means "as the
            model expects" (the amplitude is still checked for plausibility).
        allow_resample: FFT-resample a different rate to the model's instead of raising.
        window: window length in samples, ``"auto"`` = the model's window.
        stride: step between windows of a long record (default: the window).
        pool: how tokens and windows are combined (``"mean"``).
        normalization: ``"contract"`` (the statistics stored with the model), a dataset id of the contract's
            ``per_dataset`` statistics, ``"per_record"``, ``"none"`` or ``{"mean": [...], "std": [...]}``.
        nan: ``"raise"`` or ``"interpolate"`` (linear, per channel).
        pad: zero-pad records shorter than the window (after normalisation) instead of raising.
        missing_channels: ``"raise"``, or ``"fill"`` for models that support channel subsets (ECG: missing
            leads at their training mean, an approximation).
        batch_size: windows per forward pass.
        device: ``"auto"`` (a loaded model's own device; else CUDA when available), ``"cpu"`` or ``"cuda"`` (a
            loaded model is moved there).
        return_tokens: per-token features instead of pooled embeddings.
        tr_s: fMRI: the input's repetition time in seconds (NIfTI inputs: else the BIDS sidecar or the header);
            the series is resampled linearly to the model's TR, as in pretraining.
        orientation: fMRI: ``"roi_time"`` (rows are ROIs) or ``"time_roi"`` (rows are frames) of arrays and of files
            without an orientation convention; never guessed (an orientation left unstated is accepted only when
            exactly one axis has the model's ROI count). ``.1D``, DPABI ``.mat`` and CSV with a header of ROI names
            are time x ROI by convention.
        labels_img: fMRI: the labels atlas (path or nibabel image) that turns a 4-D NIfTI image into ROI series
            (nilearn's ``NiftiLabelsMasker``; the ``fmri`` extra).

    Returns:
        float32 ``(n_records, D)``: the target encoder's features after its final norm, mean-pooled over
        tokens (register tokens excluded) and over windows. With ``return_tokens``: ``(n_records, N, D)`` when
        every record is one window, else a list of ``(W_i, N, D)`` arrays.

    Raises:
        ContractError: wrong or missing channels, rate, implausible units, NaN, a record shorter than the
            window, or an unusable model; the message names the record, what was found and how to fix it.
    """
    enc, win, step, dev, opts = _options(model, window, stride, pool, normalization, nan, missing_channels, device,
                                         allow_resample)
    if enc.spec.modality == "fmri":
        fmri = {"tr_s": tr_s, "orientation": orientation, "labels_img": labels_img, "nan": nan}
        inputs = _fmri_inputs(signal, enc.spec, sfreq, channels, fmri)
    else:
        inputs = _inputs(signal, sfreq, channels, units)
    if not inputs:
        raise ContractError("nothing to encode: the input is empty")
    arrays = [_prepare(inp, enc.spec, opts) for inp in inputs]
    starts = [_windows(a.shape[1], win, step, pad, inp.record_id) for a, inp in zip(arrays, inputs, strict=True)]
    embs = _embed(enc, arrays, starts, win, batch_size, dev, tokens=return_tokens)
    if return_tokens:
        if all(e.shape[0] == 1 for e in embs):
            return np.stack([e[0] for e in embs])  # (B, N, D)
        return embs
    return np.stack([e.mean(axis=0) for e in embs]).astype(np.float32)  # (B, D)
