"""Embedding files: ``biojepa encode`` writes one row per record, with the error of any record that failed.

Formats (chosen by the suffix of ``--out``):

* ``.parquet`` (needs ``pyarrow``, the ``parquet`` extra): columns ``record_id``, ``n_windows``, ``error``
  (empty when the record was embedded) and ``emb_0 .. emb_{D-1}`` (float32; NaN for failed records).
* ``.npy``: the ``(N, D)`` float32 matrix (NaN rows for failed records) plus a sidecar ``<out>.csv`` with
  ``record_id, n_windows, error`` in the same row order.

Nothing is lost: every input record has a row, and a record that breaks the model's contract or cannot be
read is reported in ``error`` instead of aborting the batch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biojepa.errors import ConfigError, ContractError, OptionalDependencyError

__all__ = ["expand_inputs", "read_embeddings", "run_encode", "write_embeddings"]


def expand_inputs(inputs: Sequence[str | os.PathLike[str]], modality: str | None = None) -> list[tuple[str, Any]]:
    """``(record_id, source)`` per record: WFDB and EEG-file paths stay paths, ``.npy`` files become arrays,
    folders expand (their WFDB records, then their EDF/BDF/GDF/BrainVision/EEGLAB/FIF files). For an fMRI model
    (``modality="fmri"``) every file stays a path (read with its ROI-matrix or NIfTI reader) and a folder expands
    to its ROI files (``.npy/.csv/.tsv/.txt/.1D/.mat``, ``.nii``/``.nii.gz``).

    Raises:
        ConfigError: an input that is neither a file, a WFDB record nor a folder.
    """
    if modality == "fmri":
        return _expand_fmri(inputs)
    out: list[tuple[str, Any]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            from biojepa.adapters.ecg.readers import list_wfdb_records
            from biojepa.api import EEG_FILE_SUFFIXES

            names = list_wfdb_records(p)
            eeg = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in EEG_FILE_SUFFIXES)
            if not names and not eeg:
                raise ConfigError(
                    f"folder {p} holds no WFDB record (*.hea) and no EEG file ({', '.join(EEG_FILE_SUFFIXES)})"
                )
            out.extend((str(p / n), str(p / n)) for n in names)
            out.extend((str(f), str(f)) for f in eeg)
        elif p.suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
            if arr.ndim == 2:
                out.append((str(p), arr))
            elif arr.ndim == 3:
                out.extend((f"{p}[{i}]", arr[i]) for i in range(arr.shape[0]))
            else:
                out.append((str(p), arr))  # reported as an error row by the encoder
        elif p.suffix == ".hea" or p.with_suffix(".hea").is_file() or Path(f"{p}.hea").is_file():
            out.append((str(p), str(p)))
        else:
            out.append((str(p), str(p)))  # a missing file: an error row, not an abort
    return out


def _expand_fmri(inputs: Sequence[str | os.PathLike[str]]) -> list[tuple[str, Any]]:
    from biojepa.adapters.fmri.readers import MATRIX_SUFFIXES, NIFTI_SUFFIXES

    def is_roi_file(f: Path) -> bool:
        name = f.name.lower()
        return f.is_file() and (f.suffix.lower() in MATRIX_SUFFIXES or name.endswith(NIFTI_SUFFIXES)) and not (
            name.endswith("_rois.csv") or name in ("participants.csv", "participants.tsv"))

    out: list[tuple[str, Any]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if is_roi_file(f))
            if not files:
                raise ConfigError(f"folder {p} holds no ROI time-series file (.npy/.csv/.tsv/.txt/.1D/.mat/.nii[.gz])")
            out.extend((str(f), str(f)) for f in files)
        else:
            out.append((str(p), str(p)))  # a missing or unreadable file is an error row, not an abort
    return out


def write_embeddings(path: str | os.PathLike[str], ids: Sequence[str], n_windows: Sequence[int],
                     errors: Sequence[str | None], emb: np.ndarray) -> Path:
    """Write the embedding table (see the module docstring); returns the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = pd.DataFrame({"record_id": list(ids), "n_windows": np.asarray(n_windows, dtype=np.int64),
                         "error": [e or "" for e in errors]})
    if path.suffix == ".npy":
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.npy")
        np.save(tmp, emb.astype(np.float32))
        os.replace(tmp, path)
        meta.to_csv(path.with_suffix(".csv"), index=False)
        return path
    if path.suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise OptionalDependencyError(
                "writing .parquet needs pyarrow: pip install 'biojepa[parquet]', or use --out embeddings.npy"
            ) from None
        cols = pd.DataFrame(emb.astype(np.float32), columns=[f"emb_{k}" for k in range(emb.shape[1])])
        table = pd.concat([meta, cols], axis=1)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        table.to_parquet(tmp, index=False)
        os.replace(tmp, path)
        return path
    raise ConfigError(f"--out must end in .parquet or .npy, got {path.name!r}")


def read_embeddings(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """``(table of record_id / n_windows / error, (N, D) float32 embeddings)`` of a file written by encode."""
    path = Path(path)
    if path.suffix == ".npy":
        return pd.read_csv(path.with_suffix(".csv"), keep_default_na=False), np.load(path, allow_pickle=False)
    table = pd.read_parquet(path)
    emb_cols = [c for c in table.columns if c.startswith("emb_")]
    return table.drop(columns=emb_cols), table[emb_cols].to_numpy(np.float32)


def run_encode(
    inputs: Sequence[str | os.PathLike[str]],
    *,
    model: Any,
    out: str | os.PathLike[str],
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Embed every input record with :func:`biojepa.api.encode_iter` and write the table to ``out``.

    Args:
        inputs: WFDB record paths, EEG files (EDF/BDF/GDF/.vhdr/.set/.fif), ``.npy`` arrays, or folders of
            either.
        model: a model directory, ``name.tag`` or a loaded encoder.
        out: ``.parquet`` or ``.npy`` path.
        progress: ``progress(done, total, info)`` after each record.
        **options: :func:`biojepa.encode` options (``sfreq``, ``channels``, ``units``, ``stride``, ...).

    Returns:
        ``{out, n_records, n_ok, n_errors, dim, errors: [[record_id, message], ...]}``.

    Raises:
        ConfigError: no inputs, an unsupported output suffix. A bad *record* never raises.
    """
    from biojepa.api import EncodeResult, encode_iter, resolve_model

    Path(out)  # validate early
    if Path(out).suffix not in (".parquet", ".npy"):
        raise ConfigError(f"--out must end in .parquet or .npy, got {Path(out).name!r}")
    device = options.get("device", "auto")
    import torch

    enc = resolve_model(model, device=("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device)
    records = expand_inputs(inputs, modality=enc.spec.modality)
    if not records:
        raise ConfigError("no input records given")
    dim = int(enc.spec.encoder.dim)
    ids: list[str] = []
    n_win: list[int] = []
    errors: list[str | None] = []
    rows: list[np.ndarray] = []
    total = len(records)

    def results() -> Any:
        # WFDB paths go through encode_iter together (read lazily, windows batched across records; a bad file is
        # one error row); an array is one record of its own (a malformed one is one error row too)
        k = 0
        while k < total:
            if isinstance(records[k][1], str):
                j = k
                while j < total and isinstance(records[j][1], str):
                    j += 1
                yield from encode_iter([src for _, src in records[k:j]], enc, **options)
                k = j
            else:
                try:
                    yield from encode_iter(records[k][1], enc, **options)
                except ContractError as exc:  # e.g. an array of the wrong rank
                    yield EncodeResult(records[k][0], None, error=str(exc))
                k += 1

    for k, ((rid, _), res) in enumerate(zip(records, results(), strict=True)):
        ids.append(rid)
        n_win.append(res.n_windows)
        errors.append(res.error)
        rows.append(res.embedding if res.embedding is not None else np.full(dim, np.nan, dtype=np.float32))
        if progress is not None:
            progress(k + 1, total, {"errors": sum(e is not None for e in errors)})
    path = write_embeddings(out, ids, n_win, errors, np.stack(rows))
    bad = [[i, e] for i, e in zip(ids, errors, strict=True) if e is not None]
    return {"out": str(Path(path).absolute()), "n_records": total, "n_ok": total - len(bad), "n_errors": len(bad),
            "dim": dim, "errors": bad}
