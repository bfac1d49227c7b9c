"""Group-level ROI tables from data: the library function behind ``biojepa fmri gradients``.

``run_gradients(fc=FC.npy | data="abide_roi=DIR", subjects=..., k=30, out=TABLE.npy)`` builds the diffusion-map
gradients (:func:`~biojepa.adapters.fmri.gradients.build_gradients`) of a group connectivity matrix: either one
given as a file, or the group-average Fisher-z connectivity of the ROI series of the **selected subjects only**
(pass the training subjects: a table fitted on test subjects leaks them into the model's positions). It writes
``TABLE.npy`` plus the ``TABLE.json`` sidecar with the table's sha256; a recipe then refers to it by path and hash
(``model.overrides.tokenizer.args.roi_table=TABLE.npy`` and ``...roi_table_sha256=<hash>``) and the model card
records both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biojepa.errors import ConfigError

__all__ = ["load_fc", "run_gradients"]


def load_fc(path: str | Path) -> np.ndarray:
    """A square connectivity matrix from ``.npy`` (no pickles) or a delimited text file (``.csv``/``.tsv``/``.txt``;
    an optional header row and index column of ROI names are dropped).

    Raises:
        ConfigError: missing file, unknown suffix, not a square numeric matrix.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"--fc {p}: file not found")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        try:
            fc = np.load(p, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--fc {p}: not a readable .npy array ({exc})") from None
    elif suffix in (".csv", ".tsv", ".txt"):
        import pandas as pd

        sep = {".csv": ",", ".tsv": "\t"}.get(suffix, r"\s+")
        df = pd.read_csv(p, sep=sep, header=None, engine="python")
        num = df.apply(pd.to_numeric, errors="coerce")
        if num.iloc[0].isna().all():  # a header row of names
            num = num.iloc[1:]
        if num.iloc[:, 0].isna().all():  # an index column of names
            num = num.iloc[:, 1:]
        if num.isna().any().any():
            raise ConfigError(f"--fc {p}: non-numeric cells in the matrix")
        fc = num.to_numpy(dtype=np.float64)
    else:
        raise ConfigError(f"--fc {p}: expected .npy, .csv, .tsv or .txt, found {p.suffix!r}")
    fc = np.asarray(fc, dtype=np.float64)
    if fc.ndim != 2 or fc.shape[0] != fc.shape[1]:
        raise ConfigError(f"--fc {p}: expected a square ROI x ROI matrix, found shape {fc.shape}")
    return fc


def run_gradients(
    *,
    out: str | Path,
    fc: str | Path | None = None,
    data: str | None = None,
    subjects: Sequence[str] | None = None,
    sites: Sequence[str] | None = None,
    params: Mapping[str, Any] | None = None,
    k: int = 30,
    sparsity: float = 0.9,
    alpha: float = 0.5,
    reference: str | Path | None = None,
    tr_s: float = 2.2,
    atlas: str | None = None,
    cache_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Build and save a gradient table (see the module docstring).

    Args:
        out: the table path (``.npy``; the sidecar goes beside it).
        fc: a group connectivity matrix file; exclusive with ``data``.
        data: ``ID=DIR`` of an fMRI dataset (``abide_roi=DIR``, ``roi_dir=DIR``) or ``fmri_synthetic``.
        subjects: the subjects whose series make the group FC (default: every selected record).
        sites: restrict to these sites (ABIDE-style data).
        params: further dataset parameters (``data.<id>.<param>``).
        k: number of gradients.
        sparsity, alpha: diffusion-map settings (BrainSpace defaults 0.9, 0.5).
        reference: a table (``.npy`` with sidecar) to Procrustes-align to, for stable signs across builds.
        tr_s: TR the series are resampled to before the FC (the FC barely depends on it).
        atlas: ROI table name for data without a ROI-name table (e.g. ``aal116``).
        cache_dir: the dataset cache root (default ``$BIOJEPA_HOME/cache``).
        progress: receives one line per stage.

    Returns:
        ``{schema_version, status, out, sidecar, sha256, shape, eigenvalues, source, n_records, subjects}``.

    Raises:
        ConfigError: neither or both of ``fc`` / ``data``, bad parameters, unknown subjects.
        DataError: a disconnected affinity graph, non-finite connectivity.
    """
    from biojepa.adapters.fmri.gradients import GradientTable, build_gradients

    say = progress or (lambda _m: None)
    if (fc is None) == (data is None):
        raise ConfigError("give exactly one of --fc FC.npy (a group connectivity matrix) or --data ID=DIR")
    ref = GradientTable.load(reference) if reference is not None else None
    n_records: int | None = None
    used: list[str] = []
    if fc is not None:
        matrix = load_fc(fc)
        source: dict[str, Any] = {"fc": str(Path(fc).expanduser().absolute())}
        say(f"group FC from {fc}: {matrix.shape[0]} ROIs")
        table = build_gradients(matrix, k=k, sparsity=sparsity, alpha=alpha, reference=ref)
    else:
        from biojepa.adapters.fmri.datasets import load_fmri_records
        from biojepa.data.sources import parse_data_arg
        from biojepa.engine.pretrain import default_cache_dir

        assert data is not None
        if "=" in data:
            ds_id, root = parse_data_arg(data)
        else:
            ds_id, root = data.strip(), None
        p = dict(params or {})
        if sites:
            p["sites"] = list(sites)
        if atlas is not None:
            p["atlas"] = atlas
        records, table_df = load_fmri_records(ds_id, root, tr_s=tr_s, rois=None, params=p,
                                              cache_dir=Path(cache_dir) if cache_dir else default_cache_dir())
        keep = np.arange(len(records))
        if subjects:
            want = [str(s) for s in subjects]
            have = set(table_df["subject"].astype(str))
            unknown = [s for s in want if s not in have]
            if unknown:
                raise ConfigError(f"--subjects {unknown[:10]} are not among the records of {data}")
            keep = np.flatnonzero(table_df["subject"].astype(str).isin(want).to_numpy())
        used = [str(table_df["subject"].iloc[i]) for i in keep]
        n_records = int(keep.size)
        say(f"group FC of {n_records} records of {ds_id} (resampled to TR {tr_s:g} s)")
        built = build_gradients(_group(records, keep), k=k, sparsity=sparsity, alpha=alpha, reference=ref)
        table = GradientTable(built.gradients, built.eigenvalues,
                              {**built.params, "fc": "group_mean_fisher_z", "n_records": n_records})
        source = {"data": data, "dataset": ds_id, "n_records": n_records, "params": p}
    path = table.save(out)
    say(f"wrote {path} ({table.n_rois} ROIs x {table.k} gradients), sha256 {table.sha256()}")
    return {
        "schema_version": 1,
        "status": "ok",
        "out": str(Path(path).absolute()),
        "sidecar": str(Path(path).with_suffix(".json").absolute()),
        "sha256": table.sha256(),
        "shape": [table.n_rois, table.k],
        "eigenvalues": [float(v) for v in table.eigenvalues],
        "source": source,
        "n_records": n_records,
        "subjects": used,
    }


def _group(records: Sequence[np.ndarray], keep: np.ndarray) -> np.ndarray:
    from biojepa.adapters.fmri.connectivity import group_fc

    fc, _ = group_fc(np.asarray(records[i], dtype=np.float64) for i in keep)  # (R, R)
    return fc
