"""fMRI readers: ROI time-series files and 4-D NIfTI + labels atlas -> :class:`~biojepa.data.record.Record`.

Every reader returns ``float32 (R, T)`` = **ROI x time** (Brain-JEPA's layout), ``sfreq = 1 / TR``, ROI names
as ``channels``, ``units = "a.u."`` and no positions (ROI positions come from gradients or
:func:`atlas_centroids`). Nothing is filtered, detrended or standardised here.

**Orientation is never guessed.** Formats with a fixed convention are transposed explicitly; for the others
the caller states the orientation (``orientation=``) or the ROI count (``n_rois=``, which must match exactly
one axis). A matrix whose stated ROI axis has the wrong length while the other axis has the right one raises a
:class:`~biojepa.errors.ContractError` saying it "looks transposed".

=====================================  ==============================  =====================================
file                                   stored as                       orientation rule
=====================================  ==============================  =====================================
``.npy``                               2-D int/float array             none: pass ``orientation=``/``n_rois=``
``.csv`` / ``.tsv`` / ``.txt``         comma / tab / whitespace        header row (ROI names) -> time x ROI;
(``#`` comment lines in ``.txt``)                                      no header: pass ``orientation=`` /
                                                                       ``n_rois=``
``.1D`` (AFNI)                         whitespace, ``#`` comments      time x ROI (AFNI: columns are series)
``.mat`` (MATLAB v5; v7.3 via h5py)    variable ``ROISignals``         time x ROI (DPABI/DPARSF convention);
                                                                       another ``variable=``: pass
                                                                       ``orientation=``/``n_rois=``
``.nii`` / ``.nii.gz`` + labels atlas  4-D image, 3-D integer atlas    nilearn's time x ROI, transposed
                                       (:func:`read_nifti_rois`)
=====================================  ==============================  =====================================

Passing an ``orientation`` that contradicts a fixed convention raises :class:`~biojepa.errors.ConfigError`.
ROI-matrix formats carry no repetition time, so ``tr_s=`` is required for them; NIfTI takes it from the
argument, a BIDS JSON sidecar or the header (in that order).

Errors: a missing, oversized (``max_bytes``, checked with ``os.stat`` before reading), unreadable or invalid
file raises :class:`~biojepa.errors.CorruptRecordError` naming the record (a missing file is a corrupt record,
never a bare :class:`FileNotFoundError`); a bad argument raises :class:`~biojepa.errors.ConfigError`; a
mismatch between the data and what the caller stated (orientation, ROI count, names, atlas labels in the field
of view) raises :class:`~biojepa.errors.ContractError`.

Common ``meta`` keys: ``tr_s``, ``format`` (``npy``, ``csv``, ``tsv``, ``txt``, ``1d``, ``mat``, ``nifti``),
``orientation`` (of the data as read: ``"roi_time"`` or ``"time_roi"``), ``zero_variance_rois`` (sorted row
indices whose std over time is ``<= 1e-8 * max(1, max |x|)``; legal, e.g. ROIs cut by the field of view, only
flagged), ``path`` (None in memory), ``shape_as_read``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from biojepa._optional import require
from biojepa.data.record import Record
from biojepa.errors import BioJepaError, ConfigError, ContractError, CorruptRecordError

if TYPE_CHECKING:  # pragma: no cover
    from nibabel.spatialimages import SpatialImage

__all__ = [
    "MATRIX_SUFFIXES",
    "NIFTI_MAX_BYTES",
    "NIFTI_SUFFIXES",
    "ROI_SIGNALS_VARIABLE",
    "ZERO_VARIANCE_RTOL",
    "atlas_centroids",
    "check_nifti_header",
    "read_nifti_rois",
    "read_roi_array",
    "read_roi_file",
    "read_roi_matrix",
]

Orientation = Literal["roi_time", "time_roi"]

#: Suffix (lower-case) -> ``meta["format"]`` of the ROI-matrix formats read by :func:`read_roi_matrix`.
MATRIX_SUFFIXES: dict[str, str] = {
    ".npy": "npy",
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "txt",
    ".1d": "1d",
    ".mat": "mat",
}

#: Suffixes (lower-case) of NIfTI images read by :func:`read_nifti_rois`.
NIFTI_SUFFIXES: tuple[str, ...] = (".nii", ".nii.gz")

#: Largest image a NIfTI reader loads, in bytes of float64 voxels (nilearn computes in float64); checked on
#: the header before any voxel is read. 2**34 bytes = 2**31 voxels, e.g. 91 x 109 x 91 x 2,400 frames.
NIFTI_MAX_BYTES: int = 2**34

#: Largest expansion of deflate (gzip) data: a ``.nii.gz`` cannot hold more than this many bytes per byte.
_GZIP_MAX_RATIO = 1032

#: DPABI/DPARSF variable holding a time x ROI matrix in ``.mat`` files.
ROI_SIGNALS_VARIABLE = "ROISignals"

#: A ROI whose std over time is ``<= ZERO_VARIANCE_RTOL * max(1, max |x|)`` is flagged as zero-variance.
ZERO_VARIANCE_RTOL = 1e-8

_ORIENTATIONS: tuple[str, ...] = ("roi_time", "time_roi")
_DELIMITERS: dict[str, str | None] = {"csv": ",", "tsv": "\t", "txt": None, "1d": None}
_MAT_V73_HINT = (
    "re-save it as MATLAB v7 (save(f, 'ROISignals', '-v7')) or install h5py (pip install h5py) to read v7.3"
)
_REMOVED_LABELS_WARNING = r"After resampling the label image to the data image"
_NONFINITE_WARNING = "Non-finite values detected"
_SINGLE_LABEL_WARNING = "contains no label or a single label covering the whole image"
_MAX_LISTED = 10


def _nibabel() -> ModuleType:
    return require("nibabel", extra="fmri", purpose="reading NIfTI images")


def _nilearn_maskers() -> ModuleType:
    return require("nilearn.maskers", extra="fmri", purpose="extracting ROI time series from NIfTI images")


def _import_h5py() -> ModuleType | None:
    """h5py if importable (it reads MATLAB v7.3 files), else None."""
    try:
        import h5py
    except ImportError:
        return None
    return h5py


# --------------------------------------------------------------------------------------------------------
# shared validation


def _stem(path: Path) -> str:
    """File name without its format suffix (``.nii.gz`` counts as one suffix)."""
    name = path.name
    if name.lower().endswith(".nii.gz"):
        return name[: -len(".nii.gz")]
    return path.stem or name


def _listed(items: Sequence[Any]) -> str:
    shown = ", ".join(str(i) for i in list(items)[:_MAX_LISTED])
    return f"[{shown}{', ...' if len(items) > _MAX_LISTED else ''}]"


def _check_tr(tr_s: Any, what: str) -> float:
    """``tr_s`` as a finite float > 0 seconds, else ConfigError."""
    if tr_s is None:
        raise ConfigError(
            f"{what}: tr_s= is required: ROI-matrix files carry no repetition time; pass the TR in seconds "
            "(e.g. tr_s=2.0; the dataset's participants table or BIDS sidecar states it)"
        )
    if isinstance(tr_s, bool) or not isinstance(tr_s, int | float | np.integer | np.floating):
        raise ConfigError(
            f"{what}: tr_s must be the repetition time in seconds (a number > 0, e.g. tr_s=2.0), found "
            f"{tr_s!r}"
        )
    tr = float(tr_s)
    if not math.isfinite(tr) or tr <= 0:
        raise ConfigError(f"{what}: tr_s must be finite and > 0 seconds (e.g. tr_s=2.0), found {tr_s!r}")
    return tr


def _check_orientation(orientation: Any) -> Orientation | None:
    if orientation is not None and orientation not in _ORIENTATIONS:
        raise ConfigError(
            f"orientation must be 'roi_time' (rows are ROIs), 'time_roi' (rows are frames) or None, "
            f"found {orientation!r}"
        )
    return orientation


def _check_count(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < 1:
        raise ConfigError(f"{name} must be a positive integer or None, found {value!r}")
    return int(value)


def _check_roi_names(names: Any, n_rois: int, n_other: int, rid: str) -> tuple[str, ...]:
    """Validate ROI names against the ROI axis; ContractError on count, emptiness, duplicates."""
    if isinstance(names, np.ndarray):
        names = names.tolist()
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise ConfigError(f"roi_names must be a sequence of strings, found {type(names).__name__}")
    if not all(isinstance(n, str) for n in names):
        raise ConfigError(f"roi_names must all be strings, found {[type(n).__name__ for n in names][:5]}")
    out = tuple(names)
    if len(out) != n_rois:
        hint = (
            f"; the matrix looks transposed (its other axis has {n_other} entries): fix orientation="
            if len(out) == n_other
            else ""
        )
        raise ContractError(
            f"record {rid!r}: {len(out)} ROI names were given for {n_rois} ROIs; they must match one to "
            f"one{hint}"
        )
    empty = [i for i, n in enumerate(out) if not n.strip()]
    if empty:
        raise ContractError(
            f"record {rid!r}: ROI name(s) at position(s) {_listed(empty)} are empty; every ROI needs a name "
            "(a CSV written by pandas with its index has an empty first header cell: save with index=False)"
        )
    if len(set(out)) != len(out):
        dups = sorted({n for n in out if out.count(n) > 1})
        raise ContractError(
            f"record {rid!r}: duplicate ROI names {_listed(dups)}; every ROI name must be unique"
        )
    return out


def _default_names(n: int) -> tuple[str, ...]:
    width = max(3, len(str(n)))
    return tuple(f"ROI{i:0{width}d}" for i in range(1, n + 1))


def _numeric_matrix(arr: Any, rid: str, what: str) -> np.ndarray:
    """A 2-D, non-empty real int/float array as float64, else CorruptRecordError."""
    a = np.asarray(arr)
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise CorruptRecordError(rid, f"{what} must be a real int or float array, found dtype {a.dtype}")
    if a.ndim != 2:
        raise CorruptRecordError(rid, f"{what} must be a 2-D ROI/time matrix, found shape {a.shape}")
    if 0 in a.shape:
        raise CorruptRecordError(rid, f"{what} is empty (shape {a.shape}); expected ROIs x frames")
    return a.astype(np.float64, copy=False)


def _zero_variance_rois(x: np.ndarray) -> list[int]:
    """Rows of ``x`` (R, T) whose std over time is ``<= ZERO_VARIANCE_RTOL * max(1, max |x|)``."""
    x64 = x.astype(np.float64, copy=False)  # (R, T)
    tol = ZERO_VARIANCE_RTOL * max(1.0, float(np.max(np.abs(x64))))
    std = x64.std(axis=1)  # (R,)
    return [int(i) for i in np.flatnonzero(std <= tol)]


def _finalize(
    x: np.ndarray,
    names: tuple[str, ...],
    tr: float,
    rid: str,
    meta: dict[str, Any],
    allow_nan: bool = False,
) -> Record:
    """``x`` (R, T) -> Record after the frame-count and finiteness checks; adds ``zero_variance_rois``.

    ``allow_nan`` keeps NaN/inf (for callers that interpolate them, e.g. ``encode(nan="interpolate")``).
    """
    n_roi, n_t = x.shape
    if n_t < 2:
        raise CorruptRecordError(
            rid, f"the series has {n_t} frame(s) for {n_roi} ROIs; expected at least 2 frames per ROI"
        )
    with np.errstate(over="ignore"):  # values beyond float32 become inf and are reported below
        sig = x.astype(np.float32)  # (R, T)
    finite = np.isfinite(sig)  # (R, T)
    if not finite.all() and not allow_nan:
        bad_rows = np.flatnonzero(~finite.all(axis=1))  # (n_bad_rois,)
        n_bad = int(sig.size - np.count_nonzero(finite))
        rois = [f"{names[i]} (row {i})" for i in bad_rows]
        overflow = " or exceed the float32 range" if np.isfinite(x).all() else ""
        raise CorruptRecordError(
            rid,
            f"{n_bad} value(s) out of {sig.size} are NaN/inf{overflow}, in {len(rois)} ROI(s) "
            f"{_listed(rois)}; "
            "interpolate or drop those ROIs/frames before reading (zero-variance ROIs are fine, NaN is not)",
        )
    meta = {**meta, "tr_s": tr, "zero_variance_rois": _zero_variance_rois(np.where(finite, sig, 0.0))}
    if not finite.all():  # allow_nan: a Record holds finite values only, so NaN travel in meta["nan_mask"]
        meta["nan_mask"] = ~finite
        sig = np.where(finite, sig, 0.0).astype(np.float32)
    return Record(sig, 1.0 / tr, names, "a.u.", rid, meta=meta)


# --------------------------------------------------------------------------------------------------------
# ROI matrices


def _orient(
    arr: np.ndarray,
    *,
    convention: Orientation | None,
    convention_why: str,
    orientation: Orientation | None,
    n_rois: int | None,
    rid: str,
) -> tuple[np.ndarray, Orientation]:
    """The stored matrix ``arr`` -> ``(x (R, T), orientation as read)``; never guesses."""
    rows, cols = arr.shape
    if convention is not None:
        if orientation is not None and orientation != convention:
            raise ConfigError(
                f"record {rid!r}: {convention_why}, so it is read as {convention!r}; "
                f"orientation={orientation!r} "
                f"contradicts that convention. Drop orientation= (or pass {convention!r}); a file that "
                "really "
                "holds ROI x time breaks its format's convention and must be re-saved as time x ROI"
                + (" or stored as .npy" if convention_why.startswith("a delimited") else "")
            )
        orient: Orientation = convention
    elif orientation is not None:
        orient = orientation
    elif n_rois is not None:
        if rows == n_rois and cols != n_rois:
            orient = "roi_time"
        elif cols == n_rois and rows != n_rois:
            orient = "time_roi"
        elif rows == cols == n_rois:
            raise ContractError(
                f"record {rid!r}: the matrix has shape {arr.shape}, so n_rois={n_rois} matches both axes and "
                "the "
                "orientation is ambiguous; pass orientation='roi_time' (rows are ROIs) or 'time_roi' (rows "
                "are "
                "frames)"
            )
        else:
            raise ContractError(
                f"record {rid!r}: the matrix has shape {arr.shape} but n_rois={n_rois}: no axis has that "
                "many "
                "entries; check the file (wrong atlas or subject?) or the stated ROI count"
            )
    else:
        raise ContractError(
            f"record {rid!r}: the matrix has shape {arr.shape} and this format has no orientation "
            "convention, "
            "so the orientation is ambiguous (biojepa never guesses it); pass orientation='roi_time' (rows "
            "are "
            "ROIs) or orientation='time_roi' (rows are frames), or n_rois=<number of ROIs>"
        )
    n_roi_axis, n_other = (rows, cols) if orient == "roi_time" else (cols, rows)
    if n_rois is not None and n_roi_axis != n_rois:
        other: Orientation = "time_roi" if orient == "roi_time" else "roi_time"
        if n_other == n_rois:
            mat = ROI_SIGNALS_VARIABLE in convention_why
            fix = (
                f"the file breaks its format's convention ({convention_why}): re-save it as time x ROI"
                + (", or store it under another variable and pass orientation='roi_time'" if mat else "")
                if convention is not None
                else f"pass orientation={other!r}"
            )
            raise ContractError(
                f"record {rid!r}: the matrix of shape {arr.shape} read as {orient!r} has {n_roi_axis} ROIs "
                "but "
                f"n_rois={n_rois}, which is the length of the other axis: it looks transposed; {fix}"
            )
        raise ContractError(
            f"record {rid!r}: the matrix of shape {arr.shape} read as {orient!r} has {n_roi_axis} ROIs but "
            f"n_rois={n_rois} was stated; check the file (wrong atlas?) or the stated ROI count"
        )
    x = arr if orient == "roi_time" else arr.T  # (R, T)
    return x, orient


def _read_npy(p: Path, rid: str) -> np.ndarray:
    try:
        arr = np.load(p, allow_pickle=False)
    except ValueError as exc:
        raise CorruptRecordError(
            rid,
            f"cannot read {p.name} as a .npy array (ValueError: {exc}); the file is truncated or damaged, or "
            "holds Python objects (pickles are refused: save a plain numeric array)",
        ) from None
    except (OSError, EOFError) as exc:
        raise CorruptRecordError(
            rid, f"cannot read {p.name} as a .npy array ({type(exc).__name__}: {exc}); the file is damaged"
        ) from None
    if not isinstance(arr, np.ndarray):  # an .npz renamed to .npy
        raise CorruptRecordError(rid, f"{p.name} is not a single .npy array (found {type(arr).__name__})")
    return _numeric_matrix(arr, rid, f"the array in {p.name}")


def _text_rows(p: Path, fmt: str, rid: str) -> list[tuple[int, list[str]]]:
    """Non-blank rows of a delimited text file as ``(line number, stripped cells)``."""
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorruptRecordError(
            rid, f"{p.name} is not UTF-8 text ({exc}); expected a delimited table of numbers"
        ) from None
    except OSError as exc:
        raise CorruptRecordError(rid, f"cannot read {p.name} ({type(exc).__name__}: {exc})") from None
    rows: list[tuple[int, list[str]]] = []
    delim = _DELIMITERS[fmt]
    if delim is None:  # whitespace separated; '#' starts a comment line (AFNI 1D, np.savetxt headers)
        for line_no, line in enumerate(text.splitlines(), start=1):
            s = line.strip()
            if s and not s.startswith("#"):
                rows.append((line_no, s.split()))
        return rows
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    try:
        for cells in reader:
            if cells and any(c.strip() for c in cells):
                rows.append((reader.line_num, [c.strip() for c in cells]))
    except csv.Error as exc:
        raise CorruptRecordError(rid, f"cannot parse {p.name} (csv.Error: {exc})") from None
    return rows


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _read_text(p: Path, fmt: str, rid: str) -> tuple[np.ndarray, list[str] | None]:
    """A delimited table -> ``(values (n_rows, n_cols) float64, header or None)``."""
    rows = _text_rows(p, fmt, rid)
    header: list[str] | None = None
    header_note = ""
    if rows and fmt != "1d" and not all(_is_number(c) for c in rows[0][1]):
        header_line, header = rows.pop(0)
        header_note = f" (line {header_line} was read as the header row of ROI names)"
    if not rows:
        what = "only a header row" if header is not None else "no data rows"
        raise CorruptRecordError(rid, f"{p.name} has {what}; expected a table of numbers (frames x ROIs)")
    n_cols = len(header) if header is not None else len(rows[0][1])
    out = np.empty((len(rows), n_cols), dtype=np.float64)  # (n_rows, n_cols)
    sep = {"csv": "comma", "tsv": "tab"}.get(fmt, "whitespace")
    for i, (line_no, cells) in enumerate(rows):
        if len(cells) != n_cols:
            ref = "the header" if header is not None else f"the first data row (line {rows[0][0]})"
            raise CorruptRecordError(
                rid,
                f"line {line_no} of {p.name} has {len(cells)} {sep}-separated cells but {ref} has {n_cols}; "
                "the table is ragged (a truncated write or a stray delimiter)",
            )
        try:
            out[i] = [float(c) for c in cells]
        except ValueError:
            j = next(k for k, c in enumerate(cells) if not _is_number(c))
            hint = ""
            if fmt in ("txt", "1d") and re.search(r"[,;]", cells[j]):
                hint = (
                    f"; the cell holds a ',' or ';': a comma-separated file should be named .csv, not .{fmt}"
                )
            elif not cells[j]:
                hint = "; empty cells are not allowed (write NaN explicitly if a value is missing)"
            raise CorruptRecordError(
                rid,
                f"non-numeric cell {cells[j]!r} at line {line_no}, column {j + 1} of {p.name}; every cell "
                "after "
                f"the optional header row must be a number{header_note}{hint}",
            ) from None
    return out, header


def _mat_pick(names: Sequence[str], variable: str | None, p: Path, rid: str) -> str:
    var = ROI_SIGNALS_VARIABLE if variable is None else variable
    if var not in names:
        found = sorted(n for n in names if not n.startswith("#"))
        fix = (
            "pass variable=<name> to read another one"
            if variable is None
            else "check the variable name (case-sensitive)"
        )
        raise CorruptRecordError(rid, f"{p.name} has no variable {var!r}; variables found: {found}; {fix}")
    return var


def _read_mat_v73(p: Path, variable: str | None, rid: str) -> tuple[np.ndarray, str]:
    h5py = _import_h5py()
    if h5py is None:
        raise CorruptRecordError(
            rid,
            f"{p.name} is a MATLAB v7.3 (HDF5) file, which is not supported without h5py; {_MAT_V73_HINT}",
        )
    try:
        with h5py.File(p, "r") as f:
            var = _mat_pick(list(f.keys()), variable, p, rid)
            node = f[var]
            if not isinstance(node, h5py.Dataset):
                raise CorruptRecordError(
                    rid,
                    f"variable {var!r} of {p.name} is not a numeric matrix (a MATLAB struct, cell or sparse)",
                )
            data = np.asarray(node[()])
    except BioJepaError:
        raise
    except Exception as exc:  # noqa: BLE001 - any HDF5 failure on a damaged file is a corrupt record
        raise CorruptRecordError(
            rid, f"cannot read MATLAB v7.3 file {p.name} ({type(exc).__name__}: {exc}); the file is damaged"
        ) from None
    if data.ndim != 2:
        raise CorruptRecordError(
            rid, f"variable {var!r} of {p.name} must be 2-D, found shape {data.shape[::-1]}"
        )
    # HDF5 stores MATLAB's column-major arrays with the axes reversed: transpose back to MATLAB's shape.
    arr = data.T  # (MATLAB rows, MATLAB cols)
    return _numeric_matrix(arr, rid, f"variable {var!r} of {p.name}"), var


def _read_mat(p: Path, variable: str | None, rid: str) -> tuple[np.ndarray, str, str]:
    """A ``.mat`` file -> ``(matrix as MATLAB stores it, variable, "v5"|"v7.3")``."""
    sio = require("scipy.io", extra="fmri", purpose="reading MATLAB .mat files")
    try:
        whos = sio.whosmat(p)
    except NotImplementedError:  # scipy: "Please use HDF reader for matlab v7.3 files"
        arr, var = _read_mat_v73(p, variable, rid)
        return arr, var, "v7.3"
    except Exception as exc:  # noqa: BLE001 - any parser failure on a damaged file is a corrupt record
        raise CorruptRecordError(
            rid,
            f"cannot read {p.name} as a MATLAB .mat file ({type(exc).__name__}: {exc}); the file is "
            "truncated "
            "or not a MAT-file",
        ) from None
    var = _mat_pick([w[0] for w in whos], variable, p, rid)
    try:
        content = sio.loadmat(p, variable_names=[var])
    except Exception as exc:  # noqa: BLE001 - any parser failure on a damaged file is a corrupt record
        raise CorruptRecordError(
            rid,
            f"cannot read variable {var!r} of {p.name} ({type(exc).__name__}: {exc}); the file is truncated "
            "or damaged",
        ) from None
    if var not in content:
        raise CorruptRecordError(
            rid, f"variable {var!r} of {p.name} could not be loaded; the file is damaged"
        )
    return _numeric_matrix(content[var], rid, f"variable {var!r} of {p.name}"), var, "v5"


def read_roi_matrix(
    path: str | os.PathLike[str],
    *,
    tr_s: float | None = None,
    orientation: Orientation | None = None,
    roi_names: Sequence[str] | None = None,
    n_rois: int | None = None,
    record_id: str | None = None,
    variable: str | None = None,
    max_bytes: int = 2**31,
    allow_nan: bool = False,
) -> Record:
    """An ROI time-series matrix file (``.npy``, ``.csv``, ``.tsv``, ``.txt``, ``.1D``, ``.mat``) -> Record.

    The orientation follows the format's convention where it has one (``.1D``, ``.mat`` ``ROISignals``,
    delimited text with a header row: all time x ROI) and is otherwise stated by the caller through
    ``orientation`` or ``n_rois`` (see the module table). It is never guessed from the shape.

    Args:
        path: the file; the format follows the suffix (case-insensitive).
        tr_s: repetition time in seconds (required: these formats carry no TR); ``sfreq = 1 / tr_s``.
        orientation: ``"roi_time"`` (rows are ROIs) or ``"time_roi"`` (rows are frames) of the stored matrix.
            Required for formats without a convention unless ``n_rois`` decides it; must agree with a
            format's convention.
        roi_names: ROI names in ROI order; default the header row, else ``ROI001``, ``ROI002``, ...
        n_rois: the expected ROI count: checked against the ROI axis, and for formats without a convention
            (and no ``orientation``) it picks the axis of that length (it must match exactly one axis).
        record_id: identifier named in errors and stored in the record; default the file name without suffix.
        variable: ``.mat`` only: the variable to read (default ``ROISignals``, time x ROI by convention; any
            other variable has no convention).
        max_bytes: files larger than this are refused before anything is read.
        allow_nan: keep NaN/inf instead of refusing the file: they are set to 0 in ``signal`` and marked in
            ``meta["nan_mask"]`` (``(R, T)`` bool) for a caller that interpolates them.

    Returns:
        The record: ``signal`` float32 ``(R, T)``, ``channels`` the ROI names, ``units="a.u."``; ``meta``:
        ``tr_s``, ``format``, ``orientation``, ``zero_variance_rois``, ``path``, ``shape_as_read``,
        ``roi_names_source`` (``"argument"``, ``"header"`` or ``"generated"``), and ``header`` (text formats),
        ``variable`` and ``mat_version`` (``.mat``).

    Raises:
        ConfigError: unknown suffix, missing/invalid ``tr_s``, malformed arguments, or an ``orientation`` that
            contradicts the format's convention.
        ContractError: ambiguous orientation, a matrix that looks transposed, an ROI count or ROI names that
            do not match the data, duplicate or empty ROI names.
        CorruptRecordError: missing, oversized, truncated or unreadable file; not 2-D, empty, fewer than 2
            frames, non-numeric cells (line and column named), NaN/inf values (count and ROIs named); a
            ``.mat`` file without the variable; a MATLAB v7.3 file when h5py is not installed.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "sub01.npy"
        >>> np.save(f, np.random.default_rng(0).normal(size=(120, 4)))  # 120 frames x 4 ROIs
        >>> rec = read_roi_matrix(f, tr_s=2.0, orientation="time_roi")
        >>> rec.signal.shape, rec.channels[0], rec.sfreq
        ((4, 120), 'ROI001', 0.5)
    """
    p = Path(path)
    rid = str(record_id) if record_id is not None else _stem(p)
    suffix = p.suffix.lower()
    fmt = MATRIX_SUFFIXES.get(suffix)
    if fmt is None:
        hint = (
            " (NIfTI images need an atlas: use read_nifti_rois)"
            if p.name.lower().endswith(NIFTI_SUFFIXES)
            else ""
        )
        raise ConfigError(
            f"cannot read {p.name} as an ROI matrix: suffix {p.suffix!r} is not one of "
            f"{sorted(MATRIX_SUFFIXES)}{hint}"
        )
    tr = _check_tr(tr_s, f"reading {p.name}")
    orientation = _check_orientation(orientation)
    n_rois = _check_count(n_rois, "n_rois")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ConfigError(f"max_bytes must be a positive integer, found {max_bytes!r}")
    if variable is not None and (not isinstance(variable, str) or not variable):
        raise ConfigError(f"variable must be a non-empty MATLAB variable name or None, found {variable!r}")
    if variable is not None and fmt != "mat":
        raise ConfigError(f"variable={variable!r} only applies to .mat files, not to {p.name}")

    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise CorruptRecordError(rid, f"file {p} not found; check the path and the dataset root") from None
    except OSError as exc:
        raise CorruptRecordError(rid, f"cannot access {p} ({type(exc).__name__}: {exc})") from None
    if not p.is_file():
        raise CorruptRecordError(rid, f"{p} is not a regular file; expected an ROI time-series file")
    if st.st_size > max_bytes:
        raise CorruptRecordError(
            rid,
            f"{p.name} is {st.st_size} bytes, more than max_bytes={max_bytes}; it was not read. An ROI "
            "matrix is "
            "normally small: check that this is the right file, or raise max_bytes=",
        )

    meta: dict[str, Any] = {"format": fmt, "path": p.as_posix()}
    header: list[str] | None = None
    convention: Orientation | None = None
    why = ""
    if fmt == "npy":
        arr = _read_npy(p, rid)
    elif fmt == "mat":
        arr, var, version = _read_mat(p, variable, rid)
        meta.update(variable=var, mat_version=version)
        if var == ROI_SIGNALS_VARIABLE:
            convention, why = (
                "time_roi",
                f"a .mat variable {ROI_SIGNALS_VARIABLE!r} is time x ROI (DPABI/DPARSF)",
            )
    else:
        arr, header = _read_text(p, fmt, rid)
        meta["header"] = header is not None
        if fmt == "1d":
            convention, why = "time_roi", "an AFNI .1D file stores one time series per column (time x ROI)"
        elif header is not None:
            convention, why = "time_roi", "a delimited table with a header row names its columns (time x ROI)"
    meta["shape_as_read"] = tuple(int(s) for s in arr.shape)

    x, orient = _orient(
        arr, convention=convention, convention_why=why, orientation=orientation, n_rois=n_rois, rid=rid
    )  # (R, T)
    n_roi, n_t = x.shape
    if roi_names is not None:
        names, source = _check_roi_names(roi_names, n_roi, n_t, rid), "argument"
    elif header is not None:
        names, source = _check_roi_names(header, n_roi, n_t, rid), "header"
    else:
        names, source = _default_names(n_roi), "generated"
    meta.update(orientation=orient, roi_names_source=source)
    return _finalize(x, names, tr, rid, meta, allow_nan)


def read_roi_array(
    arr: Any,
    *,
    tr_s: float | None,
    orientation: Orientation | None = None,
    roi_names: Sequence[str] | None = None,
    n_rois: int | None = None,
    record_id: str = "0",
    allow_nan: bool = False,
) -> Record:
    """An in-memory 2-D matrix -> Record, with the rules of :func:`read_roi_matrix` for a format without a
    convention: the caller states ``orientation`` (or an ``n_rois`` that matches exactly one axis).

    ``allow_nan`` as in :func:`read_roi_matrix`.

    Raises:
        ConfigError: missing/invalid ``tr_s`` or a malformed argument.
        ContractError: ambiguous orientation, a matrix that looks transposed, ROI names that do not fit.
        CorruptRecordError: not a finite 2-D numeric matrix with at least 2 frames.
    """
    rid = str(record_id)
    tr = _check_tr(tr_s, f"record {rid!r}")
    orientation = _check_orientation(orientation)
    n_rois = _check_count(n_rois, "n_rois")
    mat = _numeric_matrix(arr, rid, "the array")
    x, orient = _orient(mat, convention=None, convention_why="", orientation=orientation, n_rois=n_rois, rid=rid)
    n_roi, n_t = x.shape  # (R, T)
    if roi_names is not None:
        names, source = _check_roi_names(roi_names, n_roi, n_t, rid), "argument"
    else:
        names, source = _default_names(n_roi), "generated"
    meta = {"format": "array", "path": None, "shape_as_read": tuple(int(v) for v in mat.shape),
            "orientation": orient, "roi_names_source": source}
    return _finalize(x, names, tr, rid, meta, allow_nan)


# --------------------------------------------------------------------------------------------------------
# NIfTI


def _image_size_problem(img: Any, p: Path, max_bytes: int) -> str | None:
    """Why the voxels of ``img`` (loaded lazily from ``p``) must not be read, or None when they may be.

    Compares the header's shape and data type with ``max_bytes`` (as float64) and with the file size: an
    uncompressed image must hold ``vox_offset + voxels x itemsize`` bytes; a gzip-compressed one cannot expand
    by more than deflate's maximum ratio (1032:1).
    """
    shape = tuple(int(d) for d in img.shape)
    if any(d < 0 for d in shape):
        return f"the header declares a negative dimension in shape {shape}"
    n_vox = math.prod(shape)
    if n_vox * 8 > max_bytes:
        return (
            f"the header declares shape {shape} = {n_vox} voxels ({n_vox * 8} bytes as float64), more than "
            f"max_bytes={max_bytes}; the header's dim fields are damaged, or pass a larger max_bytes="
        )
    itemsize = int(np.dtype(img.header.get_data_dtype()).itemsize)
    n_bytes = n_vox * itemsize
    file_map = getattr(img, "file_map", {})
    data_file = file_map.get("image") if isinstance(file_map, dict) else None
    data_path = Path(data_file.filename) if data_file is not None and data_file.filename else p
    size = data_path.stat().st_size
    if data_path.name.lower().endswith(".gz"):
        if n_bytes > _GZIP_MAX_RATIO * size + 1024:
            return (
                f"the header declares shape {shape} ({n_bytes} bytes of voxels) but the compressed file has "
                f"{size} bytes, which cannot expand to that much; the header's dim fields are damaged or the "
                "file is truncated"
            )
        return None
    offset = int(float(img.header.get("vox_offset", 0) or 0)) if hasattr(img.header, "get") else 0
    if offset + n_bytes > size:
        return (
            f"the header declares shape {shape} of {img.header.get_data_dtype()} ({offset} + {n_bytes} bytes) "
            f"but {data_path.name} has {size} bytes; the file is truncated or its dim fields are damaged"
        )
    return None


def check_nifti_header(
    path: str | os.PathLike[str], *, record_id: str | None = None, max_bytes: int = NIFTI_MAX_BYTES
) -> dict[str, Any]:
    """Check a 4-D functional NIfTI image without reading its voxels (the header and the file size only).

    Args:
        path: the ``.nii`` / ``.nii.gz`` file.
        record_id: identifier named in errors; default the file name without ``.nii[.gz]``.
        max_bytes: see :data:`NIFTI_MAX_BYTES`.

    Returns:
        ``{"shape", "ndim", "n_frames", "tr_s"}`` (``tr_s``: the header's time step in seconds, or None when
        it is not usable).

    Raises:
        CorruptRecordError: missing or unreadable file, a header whose shape the file cannot hold or that
            exceeds ``max_bytes``, not 4-D, fewer than 2 frames.
    """
    p = Path(path)
    rid = str(record_id) if record_id is not None else _stem(p)
    img, _ = _load_image(p, "functional image", rid, is_record=True, max_bytes=max_bytes)
    _check_func_shape(img, rid)
    try:
        tr: float | None = _header_tr(img)[0]
    except (TypeError, ValueError):
        tr = None
    return {"shape": tuple(int(d) for d in img.shape), "ndim": len(img.shape), "n_frames": int(img.shape[3]),
            "tr_s": tr}


def _check_func_shape(func: Any, rid: str) -> None:
    if len(func.shape) != 4:
        raise CorruptRecordError(
            rid,
            f"the functional image must be 4-D (x, y, z, time), found shape {func.shape}; a 3-D image has "
            "no time series",
        )
    if func.shape[3] < 2:
        raise CorruptRecordError(
            rid, f"the functional image has {func.shape[3]} frame(s); expected at least 2"
        )


def _load_image(
    img: Any, what: str, rid: str, *, is_record: bool, max_bytes: int = NIFTI_MAX_BYTES
) -> tuple[SpatialImage, str | None]:
    """A path or nibabel image -> ``(image, path or None)``.

    A missing or unreadable file, or one whose header declares more voxels than the file or ``max_bytes``
    can hold (checked before any voxel is read), raises CorruptRecordError for the record itself
    (``is_record``), ConfigError for an input shared by every record (the atlas).
    """
    nib = _nibabel()

    def fail(reason: str) -> BioJepaError:
        return CorruptRecordError(rid, reason) if is_record else ConfigError(reason)

    if isinstance(img, str | os.PathLike):
        p = Path(img)
        if not p.is_file():
            raise fail(f"{what} {p} not found; check the path")
        try:
            loaded = nib.load(p)
            problem = _image_size_problem(loaded, p, max_bytes)
        except Exception as exc:  # noqa: BLE001 - any nibabel failure means an unreadable image
            raise fail(
                f"cannot read {what} {p.name} ({type(exc).__name__}: {exc}); the file is damaged"
            ) from None
        if problem is not None:
            raise fail(f"{what} {p.name} was not read: {problem}")
        return loaded, p.as_posix()
    if hasattr(img, "shape") and hasattr(img, "affine") and hasattr(img, "header"):
        name = img.get_filename() if hasattr(img, "get_filename") else None
        return img, (Path(name).as_posix() if name else None)
    raise ConfigError(f"{what} must be a path or a nibabel image, found {type(img).__name__}")


def _atlas_data(img: SpatialImage, name: str) -> np.ndarray:
    """The 3-D integer label array of an atlas image (ConfigError otherwise)."""
    if len(img.shape) != 3:
        raise ConfigError(
            f"the labels image {name} must be 3-D (one integer label per voxel), found shape {img.shape}"
        )
    try:
        data = np.asanyarray(img.dataobj)  # (X, Y, Z)
    except Exception as exc:  # noqa: BLE001 - a damaged atlas file
        raise ConfigError(f"cannot read the labels image {name} ({type(exc).__name__}: {exc})") from None
    if np.issubdtype(data.dtype, np.integer):
        return data.astype(np.int64)
    if (
        not np.issubdtype(data.dtype, np.floating)
        or not np.all(np.isfinite(data))
        or np.any(data != np.round(data))
    ):
        raise ConfigError(
            f"the labels image {name} must hold integer labels (a deterministic atlas), found non-integer "
            "values "
            f"of dtype {data.dtype}; probabilistic atlases need nilearn's NiftiMapsMasker"
        )
    return data.astype(np.int64)


def _select_labels(data: np.ndarray, labels: Sequence[int] | None, name: str) -> list[int]:
    present = [int(v) for v in np.unique(data) if v != 0]
    if isinstance(labels, np.ndarray):
        labels = labels.tolist()
    if labels is None:
        if not present:
            raise ConfigError(f"the labels image {name} has no non-zero label; expected a parcellation atlas")
        return present
    if (
        isinstance(labels, str)
        or not isinstance(labels, Sequence)
        or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in labels)
    ):
        raise ConfigError(f"labels must be a sequence of integer atlas values, found {labels!r}")
    wanted = [int(v) for v in labels]
    if not wanted:
        raise ConfigError("labels must name at least one atlas label (or be None for all of them)")
    if 0 in wanted:
        raise ConfigError("labels must not contain 0, the background label")
    if len(set(wanted)) != len(wanted):
        raise ConfigError(
            f"labels must be unique, found duplicates {sorted({v for v in wanted if wanted.count(v) > 1})}"
        )
    absent = [v for v in wanted if v not in set(present)]
    if absent:
        raise ContractError(
            f"labels {absent} are not in the labels image {name} (its labels: {_listed(present)}); "
            "check the atlas or the requested labels"
        )
    return wanted


def _sidecar(path: str) -> Path:
    p = Path(path)
    return p.with_name(_stem(p) + ".json")


def _resolve_tr(tr_s: float | None, func_path: str | None, img: SpatialImage, rid: str) -> tuple[float, str]:
    """``(TR in seconds, source)``: argument, else BIDS sidecar, else NIfTI header (with its time unit)."""
    if tr_s is not None:
        return _check_tr(tr_s, f"record {rid!r}"), "argument"
    sidecar = _sidecar(func_path) if func_path is not None else None
    if sidecar is not None and sidecar.is_file():
        try:
            side = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CorruptRecordError(
                rid, f"the BIDS sidecar {sidecar.name} is not valid JSON ({exc}); fix it or pass tr_s="
            ) from None
        if isinstance(side, dict) and "RepetitionTime" in side:
            tr = side["RepetitionTime"]
            if isinstance(tr, bool) or not isinstance(tr, int | float) or not math.isfinite(tr) or tr <= 0:
                raise CorruptRecordError(
                    rid,
                    f"the BIDS sidecar {sidecar.name} has RepetitionTime {tr!r}; expected seconds > 0. Fix "
                    "the "
                    "sidecar or pass tr_s=",
                )
            return float(tr), "bids_json"
    tr, zoom, unit = _header_tr(img)
    if tr is not None:
        return tr, "nifti_header"
    side_txt = (
        f"no BIDS sidecar {sidecar.name} with RepetitionTime" if sidecar else "no sidecar (in-memory image)"
    )
    raise CorruptRecordError(
        rid,
        f"no usable repetition time: no tr_s= argument, {side_txt}, and the NIfTI header's time step is "
        f"{zoom!r} with time unit {unit!r} (expected a finite step > 0 in sec, msec or usec); pass "
        "tr_s=<seconds> or add the sidecar",
    )


def _header_tr(img: Any) -> tuple[float | None, float | None, str]:
    """``(TR in seconds or None when unusable, the raw time step, its unit)`` from a NIfTI header."""
    hdr = img.header
    zoom: float | None = None
    unit = "unknown"
    try:
        zooms = hdr.get_zooms(units="raw")
    except TypeError:  # nibabel < 5.2 has no units argument (and returns raw zooms)
        zooms = hdr.get_zooms()
    if len(zooms) >= 4:
        zoom = float(zooms[3])
        if hasattr(hdr, "get_xyzt_units"):
            unit = str(hdr.get_xyzt_units()[1])
    factor = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6}.get(unit)
    if zoom is not None and factor is not None and math.isfinite(zoom) and zoom > 0:
        return zoom * factor, zoom, unit
    return None, zoom, unit


def _standardize_off(nilearn_version: str) -> bool | None:
    """``standardize`` value meaning "off": None from nilearn 0.14 (False warns there), False before."""
    parts = re.findall(r"\d+", nilearn_version)[:2]
    major_minor = tuple(int(v) for v in parts) if len(parts) == 2 else (0, 0)
    return None if major_minor >= (0, 14) else False


def read_nifti_rois(
    func_img: str | os.PathLike[str] | SpatialImage,
    labels_img: str | os.PathLike[str] | SpatialImage,
    *,
    tr_s: float | None = None,
    roi_names: Sequence[str] | None = None,
    labels: Sequence[int] | None = None,
    record_id: str | None = None,
    max_bytes: int = NIFTI_MAX_BYTES,
) -> Record:
    """A 4-D NIfTI BOLD image + a deterministic labels atlas -> ROI-mean Record (R, T).

    Extraction is ``nilearn.maskers.NiftiLabelsMasker(background_label=0, strategy="mean")`` with no
    standardisation, detrending or filtering; the atlas is resampled (nearest neighbour) onto the functional
    image's grid by nilearn. nilearn returns time x ROI, transposed here to ROI x time.

    Every requested label must keep at least one voxel inside the functional image's field of view after that
    resampling: nilearn 0.14 drops such a column with only a ``UserWarning`` (and raises ``ValueError`` when
    no label is left); here a dropped label raises :class:`ContractError` naming it.

    Args:
        func_img: the 4-D functional image (path or nibabel image).
        labels_img: the 3-D integer atlas (path or nibabel image); 0 is background.
        tr_s: repetition time in seconds; default the BIDS sidecar (``<stem>.json`` next to a path
            ``func_img``, key ``RepetitionTime``), else the header's 4th zoom in its xyzt time unit
            (``sec``, ``msec``, ``usec``; ``unknown`` is refused).
        roi_names: names in ROI order; default ``str(label)``.
        labels: atlas labels to extract, in this row order (default: every non-zero label, sorted).
        record_id: identifier; default the functional file name without ``.nii[.gz]`` (``"nifti"`` in memory).
        max_bytes: images whose header declares more voxels than this many float64 bytes, or more than their
            file can hold, are refused before any voxel is read (default :data:`NIFTI_MAX_BYTES`).

    Returns:
        The record; ``meta``: ``tr_s``, ``tr_source`` (``"argument"``, ``"bids_json"`` or
        ``"nifti_header"``), ``format="nifti"``, ``orientation="time_roi"`` (nilearn's output),
        ``labels`` (atlas value of each row), ``n_voxels`` (voxels per ROI on the functional grid),
        ``atlas`` (labels image path or ``"<in-memory>"``), ``path``, ``zero_variance_rois``.

    Raises:
        CorruptRecordError: missing/unreadable functional image, a header that declares more voxels than the
            file or ``max_bytes`` holds, not 4-D, fewer than 2 frames, NaN/inf means, no usable TR (no
            ``tr_s``, no sidecar, and a header time step that is 0, negative, not finite or in an unknown
            unit), or atlas labels without a voxel in this image's field of view (one image in another space
            is a bad record of a dataset that shares the atlas).
        ContractError: a requested label is not in the atlas; ROI names that do not match the labels.
        ConfigError: unreadable or non-integer atlas, bad ``labels``/``tr_s``/``max_bytes``.
        OptionalDependencyError: nilearn/nibabel (the ``fmri`` extra) is not installed.
    """
    nib = _nibabel()
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ConfigError(f"max_bytes must be a positive integer, found {max_bytes!r}")
    fallback_id = "nifti"
    if isinstance(func_img, str | os.PathLike):
        fallback_id = _stem(Path(func_img))
    elif getattr(func_img, "get_filename", lambda: None)():
        fallback_id = _stem(Path(func_img.get_filename()))
    rid = str(record_id) if record_id is not None else fallback_id

    func, func_path = _load_image(func_img, "functional image", rid, is_record=True, max_bytes=max_bytes)
    _check_func_shape(func, rid)
    atlas, atlas_path = _load_image(labels_img, "labels image", rid, is_record=False, max_bytes=max_bytes)
    atlas_name = atlas_path if atlas_path is not None else "<in-memory>"
    data = _atlas_data(atlas, atlas_name)  # (X, Y, Z)
    wanted = _select_labels(data, labels, atlas_name)
    tr, tr_source = _resolve_tr(tr_s, func_path, func, rid)
    names = (
        _check_roi_names(roi_names, len(wanted), -1, rid)
        if roi_names is not None
        else tuple(str(v) for v in wanted)
    )

    # a clean int32 atlas holding only the requested labels: nilearn computes just those
    keep = np.isin(data, wanted)  # (X, Y, Z)
    clean = nib.Nifti1Image(np.where(keep, data, 0).astype(np.int32), atlas.affine)
    maskers = _nilearn_maskers()
    nilearn = require("nilearn", extra="fmri", purpose="extracting ROI time series from NIfTI images")
    masker = maskers.NiftiLabelsMasker(
        labels_img=clean,
        background_label=0,
        strategy="mean",
        standardize=_standardize_off(str(nilearn.__version__)),
        detrend=False,
    )
    with warnings.catch_warnings(record=True) as caught:
        # nilearn warns when resampling removed labels or left at most one (detected below, label by label) and
        # when it replaces NaN/inf voxels by zeros (checked below against the ROI voxels); others are passed on
        warnings.simplefilter("always")
        try:
            signals = np.asarray(masker.fit_transform(func))  # (T, R_kept)
        except ValueError as exc:
            if "No label left" in str(exc):
                raise CorruptRecordError(
                    rid,
                    f"none of the labels {_listed(wanted)} of {atlas_name} has a voxel inside the functional "
                    "image's field of view after resampling; the atlas and the image are not in the same "
                    "space (check both affines)",
                ) from None
            raise CorruptRecordError(
                rid, f"nilearn could not extract ROI signals (ValueError: {exc}); check the image"
            ) from None
        except BioJepaError:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged image surfaces while nilearn loads it
            raise CorruptRecordError(
                rid, f"cannot extract ROI signals ({type(exc).__name__}: {exc}); the image is damaged"
            ) from None
    region_ids = getattr(masker, "region_ids_", None)
    if isinstance(region_ids, dict):
        col_labels = [int(v) for k, v in sorted((k, v) for k, v in region_ids.items() if k != "background")]
    else:  # pragma: no cover - nilearn without region_ids_: columns are the sorted labels that survived
        col_labels = sorted(int(v) for v in getattr(masker, "labels_", wanted) if int(v) != 0)
    used_img = getattr(masker, "region_atlas_", None)  # the atlas nilearn used, on the functional grid
    if used_img is None:  # pragma: no cover - older nilearn
        used_img = masker.labels_img_
    used = np.asanyarray(used_img.dataobj).astype(np.int64)  # (X', Y', Z')
    nonfinite = _pass_on_warnings(caught)
    if nonfinite:
        _check_roi_voxels_finite(func, np.isin(used, wanted), wanted, rid)
    n_vox = np.bincount(np.searchsorted(sorted(wanted), used[np.isin(used, wanted)]), minlength=len(wanted))
    counts = dict(zip(sorted(wanted), (int(c) for c in n_vox), strict=True))
    missing = [v for v in wanted if v not in col_labels or counts[v] == 0]
    if missing:
        raise CorruptRecordError(
            rid,
            f"label(s) {missing} of {atlas_name} have no voxel inside the functional image's field of view "
            f"after resampling to its grid (shape {tuple(func.shape[:3])}), so their series would be dropped "
            "or zero; pass labels= without them or use an image that covers them",
        )
    if signals.ndim != 2 or signals.shape[1] != len(col_labels):
        raise CorruptRecordError(
            rid, f"nilearn returned shape {signals.shape}; expected (frames, {len(col_labels)} ROIs)"
        )
    x_all = signals.T  # (R_kept, T)
    x = x_all[[col_labels.index(v) for v in wanted]]  # (R, T) in the requested label order
    meta: dict[str, Any] = {
        "format": "nifti",
        "orientation": "time_roi",
        "tr_source": tr_source,
        "labels": list(wanted),
        "n_voxels": [counts[v] for v in wanted],
        "atlas": atlas_name,
        "path": func_path,
    }
    return _finalize(np.asarray(x, dtype=np.float64), names, tr, rid, meta)


def _pass_on_warnings(caught: Sequence[warnings.WarningMessage]) -> bool:
    """Re-emit the warnings nilearn raised, except the two the reader handles; True if it replaced NaN/inf."""
    nonfinite = False
    for w in caught:
        msg = str(w.message)
        if re.search(_REMOVED_LABELS_WARNING, msg) or _SINGLE_LABEL_WARNING in msg:
            continue  # both mean labels were lost to the field of view: checked label by label below
        if _NONFINITE_WARNING in msg:
            nonfinite = True
            continue
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return nonfinite


def _check_roi_voxels_finite(func: Any, inside: np.ndarray, wanted: Sequence[int], rid: str) -> None:
    """Refuse NaN/inf voxels inside the ROIs (nilearn averages them as zeros); outside the ROIs they are harmless.

    Runs only when nilearn reported non-finite voxels, so the voxels are read a second time only then.
    """
    try:
        vox = np.asanyarray(func.dataobj)  # (X, Y, Z, T)
    except Exception as exc:  # noqa: BLE001 - a damaged image surfaces while its voxels are read
        raise CorruptRecordError(rid, f"cannot read the voxels ({type(exc).__name__}: {exc})") from None
    if vox.shape[:3] != inside.shape:
        raise CorruptRecordError(
            rid, f"the image grid {vox.shape[:3]} differs from the resampled atlas grid {inside.shape}"
        )
    n_bad = int(np.count_nonzero(~np.isfinite(vox[inside])))  # over (n_roi_voxels, T)
    if n_bad:
        raise CorruptRecordError(
            rid,
            f"{n_bad} NaN/inf voxel value(s) lie inside the atlas labels {_listed(list(wanted))}; nilearn would "
            "average them as zeros, so the ROI series would be wrong. Mask or interpolate those voxels before "
            "reading (NaN outside the labels is fine)",
        )


def atlas_centroids(
    labels_img: str | os.PathLike[str] | SpatialImage, labels: Sequence[int] | None = None
) -> tuple[list[int], np.ndarray]:
    """World-space (mm) centroids of atlas labels: the voxel centre of mass mapped through the affine.

    Args:
        labels_img: the 3-D integer atlas (path or nibabel image).
        labels: labels to return, in this order (default every non-zero label, sorted).

    Returns:
        ``(labels, xyz)``: the label values and their ``(R, 3)`` float64 centroids in the atlas's world
        coordinates (an "xyz" ROI position provider).

    Raises:
        ConfigError: unreadable or non-integer atlas, malformed ``labels``.
        ContractError: a requested label is not in the atlas.
    """
    img, path = _load_image(labels_img, "labels image", "atlas", is_record=False)
    name = path if path is not None else "<in-memory>"
    data = _atlas_data(img, name)  # (X, Y, Z)
    wanted = _select_labels(data, labels, name)
    order = np.asarray(sorted(wanted), dtype=np.int64)  # (R,)
    flat = data.reshape(-1)  # (X*Y*Z,)
    sel = np.isin(flat, order)  # (X*Y*Z,)
    idx = np.searchsorted(order, flat[sel])  # (n_vox,)
    ijk = np.stack(np.unravel_index(np.flatnonzero(sel), data.shape), axis=1).astype(np.float64)  # (n_vox, 3)
    count = np.bincount(idx, minlength=len(order)).astype(np.float64)  # (R,)
    com = np.stack(
        [np.bincount(idx, weights=ijk[:, k], minlength=len(order)) for k in range(3)], axis=1
    )  # (R, 3)
    com /= count[:, None]
    hom = np.concatenate([com, np.ones((len(order), 1))], axis=1)  # (R, 4)
    xyz_sorted = (np.asarray(img.affine, dtype=np.float64) @ hom.T).T[:, :3]  # (R, 3)
    pos = {int(v): i for i, v in enumerate(order)}
    xyz = xyz_sorted[[pos[v] for v in wanted]]  # (R, 3) in the requested order
    return list(wanted), np.ascontiguousarray(xyz, dtype=np.float64)


# --------------------------------------------------------------------------------------------------------
# dispatch

_MATRIX_KWARGS = frozenset(
    {"tr_s", "orientation", "roi_names", "n_rois", "record_id", "variable", "max_bytes"}
)
_NIFTI_KWARGS = frozenset({"labels_img", "tr_s", "roi_names", "labels", "record_id", "max_bytes"})


def read_roi_file(path: str | os.PathLike[str], **kwargs: Any) -> Record:
    """Read an fMRI file by suffix: NIfTI via :func:`read_nifti_rois`, else :func:`read_roi_matrix`.

    Args:
        path: the file. ``.nii`` / ``.nii.gz`` need ``labels_img=``; the other suffixes are ROI matrices.
        **kwargs: the keyword arguments of the chosen reader.

    Returns:
        The record from the chosen reader.

    Raises:
        ConfigError: unknown suffix, a NIfTI file without ``labels_img=``, or a keyword the reader does not
            take; otherwise whatever the chosen reader raises.
    """
    p = Path(path)
    if p.name.lower().endswith(NIFTI_SUFFIXES):
        extra = sorted(set(kwargs) - _NIFTI_KWARGS)
        if extra:
            raise ConfigError(
                f"{p.name} is a NIfTI image; read_nifti_rois does not take {extra} (allowed: "
                f"{sorted(_NIFTI_KWARGS)})"
            )
        if kwargs.get("labels_img") is None:
            raise ConfigError(
                f"{p.name} is a voxel image: pass labels_img=<3-D integer atlas> to average it into ROI "
                "series"
            )
        labels_img = kwargs.pop("labels_img")
        return read_nifti_rois(p, labels_img, **kwargs)
    if p.suffix.lower() not in MATRIX_SUFFIXES:
        raise ConfigError(
            f"cannot read {p.name}: suffix {p.suffix!r} is not one of "
            f"{sorted([*MATRIX_SUFFIXES, *NIFTI_SUFFIXES])}"
        )
    extra = sorted(set(kwargs) - _MATRIX_KWARGS)
    if extra:
        raise ConfigError(
            f"{p.name} is an ROI matrix; read_roi_matrix does not take {extra} (allowed: "
            f"{sorted(_MATRIX_KWARGS)})"
        )
    return read_roi_matrix(p, **kwargs)
