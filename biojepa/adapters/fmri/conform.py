"""fMRI inputs for ``biojepa.encode()``: read ROI matrices / NIfTI images and apply the model's contract.

:func:`fmri_records` turns what a user passes (arrays with a stated orientation, ROI files, NIfTI images plus a
labels atlas, DataFrames, Records) into ROI x time :class:`~biojepa.data.record.Record` objects;
:func:`conform_fmri` applies the same preprocessing contract as pretraining and probing (research note fmri.md
§3, Brain-JEPA issue #14: one normalisation for all three):

1. ROIs matched **by name** to the model's (re-ordered; a missing or extra ROI, i.e. another atlas, raises
   with the model's ROI-order hash);
2. NaN/inf refused (or linearly interpolated with ``nan="interpolate"``);
3. linear resampling from the input's TR to the model's TR (:func:`~biojepa.adapters.fmri.transforms.resample_tr`);
4. each ROI's temporal mean removed;
5. the contract's normalisation: ``robust`` (population median / IQR of the training frames, stored in the
   model), ``zscore_per_record`` or ``none``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from biojepa.data.record import Record
from biojepa.errors import ConfigError, ContractError, CorruptRecordError

__all__ = ["conform_fmri", "fmri_records"]

_NIFTI = (".nii", ".nii.gz")


def _is_path(obj: Any) -> bool:
    return isinstance(obj, (str, os.PathLike))


def _is_nifti_image(obj: Any) -> bool:
    return hasattr(obj, "affine") and hasattr(obj, "get_fdata") and hasattr(obj, "header")


def fmri_records(
    signal: Any,
    spec: Any,
    *,
    tr_s: float | None,
    channels: Sequence[str] | None,
    orientation: str | None,
    labels_img: Any = None,
    allow_nan: bool = False,
) -> list[Record]:
    """ROI x time records from any supported fMRI input (see :func:`biojepa.encode`).

    Args:
        signal: a 2-D ROI matrix, a 3-D stack ``(B, ., .)``, a list of matrices / paths / images, a path to
            an ROI file (``.npy/.csv/.tsv/.txt/.1D/.mat``) or a 4-D NIfTI image (path or nibabel image), a
            DataFrame (columns = ROIs, rows = frames) or a Record.
        spec: the model spec (its ROI count decides an orientation left unstated only when exactly one axis
            has that length).
        tr_s: the input's repetition time in seconds (NIfTI: else from a BIDS sidecar or the header).
        channels: ROI names in row order of the input (matrices without a header), or the name of a built-in ROI
            table (``"aal116"``; :func:`~biojepa.adapters.fmri.rois.atlas_rois`).
        orientation: ``"roi_time"`` or ``"time_roi"`` for arrays and files without an orientation convention.
        labels_img: the labels atlas (path or image) for NIfTI inputs.
        allow_nan: keep NaN in ROI matrices (set to 0, marked in ``meta["nan_mask"]``) for interpolation.

    Raises:
        ContractError: an unreadable input, an ambiguous or contradictory orientation, missing TR.
    """
    from biojepa.adapters.fmri import readers

    channels = _builtin_names(channels)
    n_rois = len(spec.signal.channels)
    try:
        if isinstance(signal, Record):
            return [signal]
        if _is_path(signal) or _is_nifti_image(signal):
            name = str(signal).lower() if _is_path(signal) else ""
            if _is_nifti_image(signal) or name.endswith(_NIFTI):
                if labels_img is None:
                    raise ContractError(
                        "a NIfTI input needs the labels atlas of the model's ROIs: pass labels_img=<atlas image>"
                    )
                return [readers.read_nifti_rois(signal, labels_img, tr_s=tr_s, roi_names=channels,
                                                record_id=str(signal) if _is_path(signal) else "0")]
            return [readers.read_roi_matrix(signal, tr_s=tr_s, orientation=orientation, roi_names=channels,  # type: ignore[arg-type]
                                            n_rois=n_rois, record_id=str(signal), allow_nan=allow_nan)]
        import pandas as pd

        if isinstance(signal, pd.DataFrame):
            return [readers.read_roi_array(signal.to_numpy(dtype=np.float64), tr_s=tr_s, orientation="time_roi",
                                           roi_names=[str(c) for c in signal.columns], record_id="0",
                                           allow_nan=allow_nan)]
        if isinstance(signal, (list, tuple)) and signal and not isinstance(signal[0], (int, float, np.number)):
            out: list[Record] = []
            for k, item in enumerate(signal):
                recs = fmri_records(item, spec, tr_s=tr_s, channels=channels, orientation=orientation,
                                    labels_img=labels_img, allow_nan=allow_nan)
                for r in recs:
                    rid = r.record_id if (_is_path(item) or isinstance(item, Record)) else str(k)
                    out.append(Record(r.signal, r.sfreq, r.channels, r.units, rid, meta=r.meta))
            return out
        x = np.asarray(signal)
        if x.dtype == object or not np.issubdtype(x.dtype, np.number):
            raise ContractError(
                f"cannot encode input of type {type(signal).__name__} (dtype {x.dtype}) with an fMRI model; pass an "
                "ROI x time matrix with orientation=..., ROI files, NIfTI images with labels_img=..., a DataFrame or "
                "Records"
            )
        if x.ndim == 2:
            return [readers.read_roi_array(x, tr_s=tr_s, orientation=orientation, roi_names=channels,  # type: ignore[arg-type]
                                           n_rois=n_rois, record_id="0", allow_nan=allow_nan)]
        if x.ndim == 3:
            return [readers.read_roi_array(x[i], tr_s=tr_s, orientation=orientation, roi_names=channels,  # type: ignore[arg-type]
                                           n_rois=n_rois, record_id=str(i), allow_nan=allow_nan)
                    for i in range(x.shape[0])]
        raise ContractError(f"expected an ROI x time matrix (2-D) or a stack of them (3-D), got shape {x.shape}")
    except CorruptRecordError as exc:
        raise ContractError(f"record {exc.record_id}: {exc.reason}") from None
    except ConfigError as exc:  # e.g. no TR: for encode() an input that breaks the contract
        raise ContractError(str(exc)) from None


def _builtin_names(channels: Sequence[str] | str | None) -> Sequence[str] | None:
    """``"aal116"`` (or ``["aal116"]``) -> the built-in table's ROI names; other values unchanged."""
    from biojepa.adapters.fmri.rois import atlas_rois

    one = channels if isinstance(channels, str) else (channels[0] if channels is not None and len(channels) == 1
                                                       else None)
    if one is None:
        return channels
    try:
        return list(atlas_rois(str(one)))
    except ConfigError:
        if isinstance(channels, str):
            raise ContractError(f"channels={channels!r} is neither a list of ROI names nor a built-in ROI table "
                                "('aal116', 'roi<N>')") from None
        return channels


def conform_fmri(
    x: np.ndarray,
    tr_in: float | None,
    names: Sequence[str] | None,
    spec: Any,
    *,
    normalization: Any = "contract",
    nan: str = "raise",
    record_id: str = "0",
) -> np.ndarray:
    """One ROI x time record -> the model's input: float32 ``(R_model, T')`` at the model's TR, normalised.

    Raises:
        ContractError: unnamed rows, ROIs that are not the model's, a missing TR, NaN (with ``nan="raise"``), a
            series too short to resample, or a normalisation the contract cannot provide.
    """
    from biojepa.adapters.fmri import transforms
    from biojepa.adapters.fmri.rois import match_rois
    from biojepa.data.signal import fill_nonfinite
    from biojepa.errors import DataError

    sig = spec.signal
    if names is None:
        raise ContractError(
            f"record {record_id}: pass channels=[...] naming the {x.shape[0]} ROI rows (in row order) so that they "
            f"can be checked against the model's atlas {sig.atlas!r} (ROI-order hash "
            f"{(sig.roi_order_sha256 or '')[:12]}); the model's ROIs: `biojepa models info {spec.name}`"
        )
    arr = np.asarray(x, dtype=np.float64)[match_rois(names, sig.channels, what=f"record {record_id}")]  # (R, T)
    bad = ~np.isfinite(arr)
    if bad.any():
        if nan != "interpolate":
            raise ContractError(
                f"record {record_id}: the input holds {int(bad.sum())} NaN/inf values; pass nan='interpolate' to "
                "fill them linearly per ROI, or crop them out"
            )
        arr, _, empty, _ = fill_nonfinite(arr)
        if empty.size:
            raise ContractError(f"record {record_id}: ROI {sig.channels[int(empty[0])]} has no finite value")
    if tr_in is None:
        raise ContractError(f"record {record_id}: pass tr_s=... (seconds); the model expects TR {sig.tr_s:g} s")
    try:
        y = transforms.demean(transforms.resample_tr(arr, float(tr_in), float(sig.tr_s)))  # (R, T')
    except (ConfigError, DataError) as exc:
        raise ContractError(f"record {record_id}: {exc}") from None
    return _normalise(np.asarray(y, dtype=np.float64), spec, normalization, record_id)


def _normalise(y: np.ndarray, spec: Any, normalization: Any, record_id: str) -> np.ndarray:
    from biojepa.adapters.fmri import transforms

    norm = spec.signal.normalization
    if isinstance(normalization, Mapping):
        center, scale = normalization["mean"], normalization["std"]
    elif normalization == "none":
        return y.astype(np.float32)
    elif normalization == "per_record" or (normalization == "contract" and norm.method == "zscore_per_record"):
        z, _ = transforms.zscore_rois(y)
        return np.asarray(z, dtype=np.float32)
    elif normalization == "contract":
        if norm.method == "none":
            return y.astype(np.float32)
        if norm.method != "robust":
            raise ContractError(f"normalisation {norm.method!r} is not an fMRI normalisation")
        if "mean" not in norm.stats or "std" not in norm.stats:
            raise ContractError(
                f"model {spec.name!r} has a robust-scaling contract without statistics (an untrained model?); pass "
                "normalization='per_record', 'none' or {'mean': [median per ROI], 'std': [IQR per ROI]}"
            )
        center, scale = norm.stats["mean"], norm.stats["std"]
    else:
        raise ContractError(
            f"normalization must be 'contract', 'none', 'per_record' or a mapping with mean/std (ROI median/IQR); "
            f"got {normalization!r}"
        )
    c = np.asarray(center, dtype=np.float64).reshape(-1, 1)  # (R, 1)
    s = np.maximum(np.asarray(scale, dtype=np.float64).reshape(-1, 1), 1e-8)  # (R, 1)
    if c.shape[0] != y.shape[0] or s.shape[0] != y.shape[0]:
        raise ContractError(f"record {record_id}: normalisation statistics for {c.shape[0]} ROIs, input has "
                            f"{y.shape[0]}")
    return ((y - c) / s).astype(np.float32)
