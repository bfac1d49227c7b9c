"""fMRI dataset sources: ``--data ID=DIR`` for ABIDE-style ROI time series, any folder of ROI files, and a
generated corpus. Registered in :data:`biojepa.registry.DATASETS` with ``modality="fmri"``; each id has a card
in ``datasets/<id>.yaml``.

``source.prepare(root, cache_dir=..., tr_s=..., channels=..., params=...)`` reads every record once
(:mod:`~biojepa.adapters.fmri.readers`: ROI x time, orientation stated by the format or the parameters) ->
ROIs put in the model's order **by name** -> the fMRI preprocessing contract
(:func:`preprocess_series`: linear resampling to the model's TR, each ROI's temporal mean removed) and stores
the result as float16 in a memory-mapped cache under ``cache_dir/<id>/<tr>s-<hash>/`` (the hash covers the
folder, the parameters, the ROI list and :data:`PREPROCESSING_VERSION`). Unreadable records are quarantined
with the reason. ``source.open(...)`` prepares on first use and returns the records at least one model window
long, **normalised as the model's contract says** (``robust``: population median / IQR per ROI over the
training records' frames, statistics attached as ``store.normalization`` and written into the model;
``zscore_per_record``: each record's own ROI standard deviations; ``none``).

===============  ==========================================================  ===================================
id               ``root``                                                    parameters (besides the common ones)
===============  ==========================================================  ===================================
abide_roi        ``participants.csv`` + ``timeseries/<subject_id>.mat``      ``sites``, ``subjects``,
                 (DPABI ``ROISignals``, time x ROI) or ``.1D``; ROI names     ``exclude_subjects``, ``max_mean_fd``,
                 from ``<atlas>_rois.csv`` (column ``name``) or ``atlas``     ``atlas``
roi_dir          any folder of ``.npy/.csv/.tsv/.txt/.1D/.mat`` ROI files     ``pattern``, ``orientation``,
                 (TR from ``tr_s`` or a ``<stem>.json`` ``RepetitionTime``)   ``tr_s``, ``atlas``, ``roi_names``
fmri_synthetic   none (generated in memory, :mod:`.synthetic`)               ``n_records``, ``duration_s``,
                                                                             ``seed``, ...
===============  ==========================================================  ===================================

Common parameters of the file sources: ``missing`` (``"error"``, default: a record whose ROIs differ from the
model's raises :class:`~biojepa.errors.ContractError`; ``"skip"``: it is quarantined) and ``max_bad_fraction``
(default 0.05). Importing this module is cheap.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biojepa.data.cache import Cache, CacheReport, build_cache, reuse_cache
from biojepa.data.cards import DatasetCard, load_card
from biojepa.data.record import Record
from biojepa.data.verify import ScanResult
from biojepa.data.views import NormalizedStore, SubsetStore
from biojepa.errors import ConfigError, ContractError, CorruptRecordError, DataError
from biojepa.registry import DATASETS

__all__ = [
    "EXTRA_COLUMNS",
    "PREPROCESSING",
    "PREPROCESSING_VERSION",
    "FmriFileSource",
    "FmriPrepareResult",
    "RecordScaledStore",
    "RoiRef",
    "list_abide",
    "list_roi_dir",
    "load_fmri_records",
    "preprocess_series",
    "read_participants",
]

log = logging.getLogger(__name__)

#: Bumped whenever the preprocessing changes, so old caches are not reused.
PREPROCESSING_VERSION = 1
#: Per-record columns of the cache index (besides the built-in ones).
EXTRA_COLUMNS = (
    "subject", "site", "tr_native", "n_frames_native", "n_zero_variance", "mean_fd", "fingerprint",
)
#: What the caches hold, for provenance and model cards.
PREPROCESSING = "linear resampling to the model TR, per-ROI temporal mean removed (ROI x time, a.u.)"

_COMMON_PARAMS = {"max_bad_fraction", "missing"}
_LAYOUT_PARAMS: dict[str, set[str]] = {
    "abide": {"sites", "subjects", "exclude_subjects", "max_mean_fd", "atlas"},
    "dir": {"pattern", "orientation", "tr_s", "atlas", "roi_names", "variable"},
}
_ROI_SUFFIXES = (".npy", ".csv", ".tsv", ".txt", ".1d", ".mat")
_ROI_TABLE = re.compile(r"^(?P<atlas>[A-Za-z0-9]+)_rois\.csv$")
_BIDS_SUBJECT = re.compile(r"(?:^|[/_])sub-([A-Za-z0-9]+)")


# ---------------------------------------------------------------------------------------------------------
# preprocessing (pure)
# ---------------------------------------------------------------------------------------------------------
def preprocess_series(x: np.ndarray, tr_in: float, tr_out: float) -> np.ndarray:
    """The fMRI cache contract: ``(R, T)`` at ``tr_in`` -> ``(R, T')`` at ``tr_out``, ROI means removed (float32).

    Linear interpolation onto the target TR grid (:func:`~biojepa.adapters.fmri.transforms.resample_tr`), then
    each ROI's temporal mean is subtracted (:func:`~biojepa.adapters.fmri.transforms.demean`): the ROI offsets
    of raw BOLD units carry no information a model should rely on across scanners (Brain-JEPA's robust scaling
    "mostly removes the offset"; research note fmri.md §1.1), and without them float16 keeps ~3 significant
    digits of the fluctuations. A zero-variance ROI stays all zeros, never NaN.
    """
    from biojepa.adapters.fmri import transforms

    y = transforms.resample_tr(x, tr_in, tr_out)  # (R, T')
    return transforms.demean(y).astype(np.float32)  # (R, T')


def _short_hash(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:10]


def _check_units(signal: Any) -> None:
    units = getattr(signal, "units", None)
    if units is not None and str(units).strip().lower() not in ("a.u.", "au", "arbitrary"):
        raise ContractError(
            f"fMRI sources deliver BOLD ROI series in arbitrary units ('a.u.') but the model expects {units!r}; "
            "use an fMRI model (fmri_vit_*)"
        )


def _contract_rois(signal: Any) -> list[str] | None:
    if signal is None or not getattr(signal, "channels", None):
        return None
    return [str(c) for c in signal.channels]


def _contract_tr(signal: Any, default: float = 2.2) -> float:
    tr = getattr(signal, "tr_s", None) if signal is not None else None
    if signal is not None and tr is None:
        raise ContractError(
            "fMRI sources need a model whose signal contract has tr_s (seconds); this model has a sampling rate "
            "in Hz instead: use an fMRI model (fmri_vit_*)"
        )
    return float(tr) if tr is not None else default


def _parse_str_list(value: Any, name: str) -> list[str]:
    if isinstance(value, (str, int, np.integer)) and not isinstance(value, bool):
        items = [s.strip() for s in str(value).split(",")]
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        items = [str(v).strip() for v in value]
    else:
        raise ConfigError(f"{name} must be a list or a comma-separated string, found {value!r}")
    items = [s for s in items if s]
    if not items:
        raise ConfigError(f"{name} selects nothing ({value!r})")
    return items


# ---------------------------------------------------------------------------------------------------------
# listing records
# ---------------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RoiRef:
    """One ROI time-series file and what is known about it.

    Attributes:
        record_id: id in the cache and in errors (the subject id, or the path relative to the root).
        path: the file.
        tr_s: native repetition time (s).
        reader_kwargs: passed to :func:`~biojepa.adapters.fmri.readers.read_roi_matrix`.
        subject: subject id (``""`` if unknown).
        site: acquisition site (``""`` if unknown).
        mean_fd: mean framewise displacement (mm), NaN if unknown.
    """

    record_id: str
    path: Path
    tr_s: float
    reader_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    subject: str = ""
    site: str = ""
    mean_fd: float = float("nan")


def _need_dir(root: Path | None, ds_id: str) -> Path:
    if root is None:
        raise ConfigError(f"dataset {ds_id!r} needs a folder: pass --data {ds_id}=DIR")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ConfigError(
            f"data folder {root} for dataset {ds_id!r} does not exist; pass --data {ds_id}=DIR with the folder "
            f"described in `biojepa datasets info {ds_id}`"
        )
    return root


def read_participants(root: Path) -> pd.DataFrame:
    """The participants table of an ABIDE-style folder (``participants.csv`` or ``.tsv``), ids as strings.

    Raises:
        ConfigError: no table, or it lacks ``subject_id``.
    """
    root = Path(root)
    for name, sep in (("participants.csv", ","), ("participants.tsv", "\t")):
        p = root / name
        if p.is_file():
            table = pd.read_csv(p, sep=sep, dtype={"subject_id": str})
            if "subject_id" not in table.columns:
                raise ConfigError(f"{p} has no subject_id column (columns: {list(table.columns)})")
            return table
    raise ConfigError(
        f"no participants.csv / participants.tsv in {root}; an abide_roi folder holds participants.csv (subject_id, "
        "site, tr_s, labels) and timeseries/<subject_id>.mat"
    )


def _roi_names_from_folder(root: Path, atlas: str | None) -> tuple[str, list[str] | None]:
    """(atlas name, ROI names) from an ``<atlas>_rois.csv`` table in ``root``, or the ``atlas`` parameter."""
    from biojepa.adapters.fmri.rois import atlas_rois

    tables = sorted(p for p in Path(root).glob("*_rois.csv") if _ROI_TABLE.match(p.name))
    if atlas is not None:
        match = [p for p in tables if p.name.lower() == f"{atlas.lower()}_rois.csv"]
        if match:
            tables = match
        else:
            return atlas, list(atlas_rois(atlas))
    if len(tables) == 1:
        df = pd.read_csv(tables[0])
        if "name" not in df.columns:
            raise ConfigError(f"{tables[0]} has no 'name' column (columns: {list(df.columns)})")
        m = _ROI_TABLE.match(tables[0].name)
        return (m.group("atlas") if m else "unknown"), [str(v) for v in df["name"]]
    if len(tables) > 1:
        raise ConfigError(
            f"{root} holds several ROI tables ({', '.join(p.name for p in tables)}); choose one with "
            "data.<id>.atlas=<name>"
        )
    return "unknown", None


def list_abide(root: Path, params: Mapping[str, Any]) -> tuple[list[RoiRef], dict[str, Any]]:
    """The records of an ABIDE-style folder selected by ``params`` and provenance facts.

    Subjects are rows of ``participants.csv``; a subject's series is ``timeseries/<subject_id>.mat`` (or
    ``.1D``, or ``<file_id>*.1D``). ``sites`` / ``subjects`` select, ``exclude_subjects`` and ``max_mean_fd``
    (mean framewise displacement, column ``func_mean_fd``) exclude; every exclusion is listed in the facts.

    Raises:
        ConfigError: a selection that matches nothing, a TR that cannot be found, an unknown site or subject.
    """
    table = read_participants(root)
    facts: dict[str, Any] = {"n_participants": len(table)}
    if params.get("sites") is not None:
        if "site" not in table.columns:
            raise ConfigError(f"{root}/participants.csv has no site column; drop data.<id>.sites")
        want = [s.upper() for s in _parse_str_list(params["sites"], "sites")]
        have = sorted(set(table["site"].astype(str).str.upper()))
        unknown = [s for s in want if s not in have]
        if unknown:
            raise ConfigError(f"sites {unknown} are not in {root}/participants.csv (sites: {', '.join(have)})")
        table = table[table["site"].astype(str).str.upper().isin(want)]
        facts["sites"] = want
    if params.get("subjects") is not None:
        want_s = _parse_str_list(params["subjects"], "subjects")
        unknown = [s for s in want_s if s not in set(table["subject_id"])]
        if unknown:
            raise ConfigError(f"subjects {unknown[:10]} are not among the selected participants of {root}")
        table = table[table["subject_id"].isin(want_s)]
    excluded: dict[str, str] = {}
    if params.get("exclude_subjects") is not None:
        for s in _parse_str_list(params["exclude_subjects"], "exclude_subjects"):
            if s in set(table["subject_id"]):
                excluded[s] = "excluded by exclude_subjects"
    if params.get("max_mean_fd") is not None:
        thr = float(params["max_mean_fd"])
        if "func_mean_fd" not in table.columns:
            raise ConfigError(f"{root}/participants.csv has no func_mean_fd column; drop data.<id>.max_mean_fd")
        for sid, fd in zip(table["subject_id"], pd.to_numeric(table["func_mean_fd"], errors="coerce"), strict=True):
            if not np.isfinite(fd) or fd > thr:
                excluded.setdefault(sid, f"mean FD {fd:.3f} mm > max_mean_fd {thr:g}")
        facts["max_mean_fd"] = thr
    table = table[~table["subject_id"].isin(list(excluded))]
    if table.empty:
        raise ConfigError(f"no participant of {root} is left after the selection {dict(params)}")
    refs: list[RoiRef] = []
    missing: list[str] = []
    for row in table.itertuples(index=False):
        sid = str(row.subject_id)
        path = _abide_file(root, sid, str(getattr(row, "file_id", "") or ""))
        if path is None:
            missing.append(sid)
            continue
        tr = getattr(row, "tr_s", None)
        if tr is None or not np.isfinite(float(tr)) or float(tr) <= 0:
            raise ConfigError(f"{root}/participants.csv: subject {sid} has no valid tr_s; add the column")
        kwargs: dict[str, Any] = {}
        refs.append(RoiRef(sid, path, float(tr), kwargs, sid, str(getattr(row, "site", "") or ""),
                           float(pd.to_numeric(getattr(row, "func_mean_fd", np.nan), errors="coerce"))))
    if missing:
        log.warning("abide_roi: %d participants have no time-series file under %s: %s", len(missing), root,
                    missing[:10])
    if not refs:
        raise ConfigError(f"no time-series file under {root}/timeseries for the selected participants")
    facts.update({"subjects": [r.subject for r in refs], "excluded": excluded, "missing_files": missing})
    return refs, facts


def _abide_file(root: Path, subject_id: str, file_id: str) -> Path | None:
    for folder in (root / "timeseries", root):
        for name in (f"{subject_id}.mat", f"{subject_id}.1D", f"{subject_id}.1d"):
            if (folder / name).is_file():
                return folder / name
        if file_id:
            hits = sorted(folder.glob(f"{file_id}*.1D"))
            if hits:
                return hits[0]
    return None


def list_roi_dir(root: Path, params: Mapping[str, Any]) -> tuple[list[RoiRef], dict[str, Any]]:
    """ROI files under ``root`` (``pattern``: a glob or list of globs; default every supported suffix, recursive).

    A file's TR is ``tr_s`` or ``RepetitionTime`` of a ``<stem>.json`` sidecar beside it. Its subject is the BIDS
    ``sub-<label>`` of its path when there is one (``sub-01/func/sub-01_task-rest_rois.npy`` -> ``01``), else the
    file stem.

    Raises:
        ConfigError: nothing matches, or a file has no TR.
    """
    pattern = params.get("pattern")
    if pattern is None:
        paths = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in _ROI_SUFFIXES
                 and not _ROI_TABLE.match(p.name) and p.name not in ("participants.csv",)]
    else:
        pats = [pattern] if isinstance(pattern, str) else pattern
        if not isinstance(pats, Sequence) or not pats or not all(isinstance(s, str) and s for s in pats):
            raise ConfigError(f"pattern must be a glob string or a list of them, found {pattern!r}")
        paths = [p for s in pats for p in root.glob(s) if p.is_file()]
    paths = sorted(set(paths))
    if not paths:
        raise ConfigError(f"no ROI time-series file under {root} (suffixes {', '.join(_ROI_SUFFIXES)}); check "
                          "data.roi_dir.pattern")
    kwargs = {k: params[k] for k in ("orientation", "variable") if params.get(k) is not None}
    refs = []
    for p in paths:
        tr = params.get("tr_s")
        side = p.with_suffix(".json")
        if tr is None and side.is_file():
            try:
                tr = json.loads(side.read_text(encoding="utf-8")).get("RepetitionTime")
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{side} is not readable JSON ({exc})") from None
        if tr is None:
            raise ConfigError(f"{p}: no TR; pass data.roi_dir.tr_s=SECONDS or a {side.name} with RepetitionTime")
        rel = p.relative_to(root).as_posix()
        bids = _BIDS_SUBJECT.search(rel)  # sub-01_task-rest_... -> subject 01 (leakage checks compare subjects)
        refs.append(RoiRef(rel, p, float(tr), kwargs, subject=bids.group(1) if bids else p.stem))
    return refs, {"pattern": pattern, "n_files": len(refs)}


# ---------------------------------------------------------------------------------------------------------
# loading one record (module level: picklable)
# ---------------------------------------------------------------------------------------------------------
def _load(ref: RoiRef, rois: list[str] | None, data_rois: list[str] | None, tr_out: float, skip: bool) -> Record:
    from biojepa.adapters.fmri.readers import read_roi_matrix
    from biojepa.adapters.fmri.rois import match_rois
    from biojepa.data.signal import fingerprint

    n_rois = len(data_rois) if data_rois is not None else (len(rois) if rois is not None else None)
    kwargs = dict(ref.reader_kwargs)
    rec = read_roi_matrix(ref.path, tr_s=ref.tr_s, roi_names=data_rois, n_rois=n_rois, record_id=ref.record_id,
                          **kwargs)
    x, names = rec.signal, list(rec.channels)  # (R, T)
    if rois is not None:
        try:
            idx = match_rois(names, rois, what=f"record {ref.record_id!r}")
        except ContractError as exc:
            if skip:
                raise CorruptRecordError(ref.record_id, str(exc)) from None
            raise
        x, names = x[idx], list(rois)  # (R_model, T)
    try:
        y = preprocess_series(x, ref.tr_s, tr_out)  # (R, T')
    except (ConfigError, DataError) as exc:
        raise CorruptRecordError(ref.record_id, f"cannot resample from TR {ref.tr_s:g} s: {exc}") from None
    zero_var = rec.meta.get("zero_variance_rois", [])
    meta = {
        "subject": ref.subject,
        "site": ref.site,
        "tr_native": ref.tr_s,
        "n_frames_native": int(x.shape[1]),
        "n_zero_variance": len(zero_var),
        "mean_fd": "" if not np.isfinite(ref.mean_fd) else f"{ref.mean_fd:.6g}",
        "fingerprint": fingerprint(x),
    }
    return Record(y, 1.0 / tr_out, tuple(names), "a.u.", ref.record_id, meta=meta)


def _check_roi_file(ref: RoiRef, data_rois: list[str] | None) -> Record:
    """Read one ROI file as :func:`_load` does, without resampling; a ROI mismatch is a CorruptRecordError."""
    from biojepa.adapters.fmri.readers import read_roi_matrix

    n_rois = len(data_rois) if data_rois is not None else None
    try:
        return read_roi_matrix(ref.path, tr_s=ref.tr_s, roi_names=data_rois, n_rois=n_rois,
                               record_id=ref.record_id, **dict(ref.reader_kwargs))
    except ContractError as exc:
        raise CorruptRecordError(ref.record_id, str(exc)) from None


# ---------------------------------------------------------------------------------------------------------
# normalising views
# ---------------------------------------------------------------------------------------------------------
class RecordScaledStore(SubsetStore):
    """Each record divided by its own per-ROI standard deviation (``zscore_per_record`` on demeaned records).

    The standard deviations are computed once over each whole record (not per crop); a zero-variance ROI is
    divided by 1 (it stays 0) and never produces NaN.

    Args:
        store: a store of demeaned ROI x time records.
        keep: records to expose.
    """

    def __init__(self, store: Any, keep: Sequence[int] | np.ndarray, eps: float = 1e-6) -> None:
        super().__init__(store, keep)
        scales = []
        for i in self.keep:
            x = np.asarray(store.get(int(i)), dtype=np.float64)  # (R, T)
            s = x.std(axis=1)
            scales.append(np.where(s < eps, 1.0, s))
        self.scales = np.asarray(scales, dtype=np.float32)  # (N, R)

    def get(self, i: int) -> np.ndarray:
        """Record ``i``, scaled, float32 ``(R, T)``."""
        return (np.asarray(super().get(i), dtype=np.float32) / self.scales[i][:, None]).astype(np.float32)

    def crop(self, i: int, start: int, length: int) -> np.ndarray:
        """Scaled ``(R, length)`` crop of record ``i``."""
        return (np.asarray(super().crop(i, start, length), np.float32) / self.scales[i][:, None]).astype(np.float32)

    def subset(self, keep: Sequence[int] | np.ndarray) -> RecordScaledStore:
        """The same scaling over records ``keep`` (indices into this view)."""
        return RecordScaledStore(self.store, self.keep[np.asarray(keep, dtype=np.int64)])


def _robust_view(path: Path, cache: Cache, keep: np.ndarray) -> tuple[NormalizedStore, dict[str, Any]]:
    """Population robust scaling over records ``keep``; the statistics are cached in ``robust_stats.json``."""
    from biojepa.adapters.fmri.transforms import RobustStats, robust_stats

    key = hashlib.sha256(np.asarray(keep, dtype=np.int64).tobytes()).hexdigest()[:16]
    stats_file = path / "robust_stats.json"
    stats = None
    if stats_file.is_file():
        try:
            saved = json.loads(stats_file.read_text(encoding="utf-8"))
            if saved.get("key") == key:
                stats = RobustStats.from_dict(saved["stats"])
        except (OSError, ValueError, KeyError, TypeError):
            stats = None
    if stats is None:
        stats = robust_stats(cache.get(int(i)) for i in keep)
        tmp = stats_file.with_name(stats_file.name + ".tmp")
        tmp.write_text(json.dumps({"key": key, "stats": stats.to_dict()}) + "\n", encoding="utf-8")
        tmp.replace(stats_file)
    store = NormalizedStore(cache, stats.center, stats.scale, None, keep)
    norm = {"method": "robust", "mean": [float(v) for v in stats.center], "std": [float(v) for v in stats.scale],
            "clip": None, "clamped_rois": list(stats.clamped), "n_records": int(keep.size),
            "n_frames": int(stats.n_frames)}
    return store, norm


# ---------------------------------------------------------------------------------------------------------
# sources
# ---------------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class FmriPrepareResult:
    """What :meth:`FmriFileSource.prepare` did (cache path, built or reused, counts, provenance)."""

    cache_path: Path
    built: bool
    report: CacheReport | None
    n_ok: int
    n_quarantined: int
    provenance: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """JSON-able summary (for ``biojepa datasets prepare --json``)."""
        return {"cache_path": str(self.cache_path), "built": self.built, "n_ok": self.n_ok,
                "n_quarantined": self.n_quarantined, "provenance": self.provenance}


class FmriFileSource:
    """An fMRI dataset of ROI time-series files (see the module docstring).

    Args:
        ds_id: dataset id (card name).
        layout: ``"abide"`` or ``"dir"``.
    """

    def __init__(self, ds_id: str, layout: str) -> None:
        if layout not in _LAYOUT_PARAMS:
            raise ConfigError(f"unknown fMRI layout {layout!r}; expected one of {sorted(_LAYOUT_PARAMS)}")
        self.id = ds_id
        self.layout = layout

    @property
    def card(self) -> DatasetCard:
        """The dataset card."""
        return load_card(self.id)

    def check_params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validate ``params``; unknown keys or bad values raise ConfigError."""
        from biojepa.data.sources import check_source_params

        params = dict(params or {})
        params.pop("workers", None)  # `datasets prepare --workers`: the fMRI readers are cheap, one process
        params = check_source_params(self.id, params, _COMMON_PARAMS | _LAYOUT_PARAMS[self.layout])
        missing = params.get("missing", "error")
        if missing not in ("error", "skip"):
            raise ConfigError(f"data.{self.id}.missing must be 'error' or 'skip', found {missing!r}")
        frac = params.get("max_bad_fraction", 0.05)
        if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0.0 <= float(frac) <= 1.0:
            raise ConfigError(f"data.{self.id}.max_bad_fraction must be a number in [0, 1], found {frac!r}")
        for key in ("max_mean_fd", "tr_s"):
            v = params.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not float(v) > 0):
                raise ConfigError(f"data.{self.id}.{key} must be a positive number, found {v!r}")
        if params.get("orientation") not in (None, "roi_time", "time_roi"):
            raise ConfigError(f"data.{self.id}.orientation must be 'roi_time' or 'time_roi', found "
                              f"{params['orientation']!r}")
        return params

    def _content_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {k: params[k] for k in sorted(params) if k not in ("max_bad_fraction",)}

    def cache_path(self, root: Path, cache_dir: Path, tr_s: float, rois: Sequence[str] | None,
                   params: Mapping[str, Any]) -> Path:
        """Where the cache of ``root`` at ``tr_s`` with ``rois`` and ``params`` lives."""
        key = {
            "dataset": self.id,
            "root": str(Path(root).expanduser().absolute()),
            "params": self._content_params(params),
            "rois": list(rois) if rois is not None else None,
            "version": PREPROCESSING_VERSION,
        }
        return Path(cache_dir).expanduser().absolute() / self.id / f"{float(tr_s):g}s-{_short_hash(key)}"

    def list_records(self, root: Path, params: Mapping[str, Any]) -> tuple[list[RoiRef], dict[str, Any], list[str] | None, str]:
        """The files selected by ``params``, provenance facts, the data's ROI names (or None) and atlas name."""
        atlas, names = _roi_names_from_folder(root, params.get("atlas"))
        if self.layout == "abide":
            refs, facts = list_abide(root, params)
        else:
            refs, facts = list_roi_dir(root, params)
            if params.get("roi_names") is not None:
                names = _parse_str_list(params["roi_names"], "roi_names")
        return refs, facts, names, atlas

    def scan(self, root: Path, params: Mapping[str, Any] | None = None) -> list[Callable[[], ScanResult]]:
        """Checks of the ROI files pretraining would read from ``root`` (``biojepa datasets verify``).

        ROI matrices are small, so each file is read whole by
        :func:`~biojepa.adapters.fmri.readers.read_roi_matrix` with the source's TR, orientation and ROI names
        (no resampling); a file whose ROIs do not fit the folder's ROI table is quarantined with the reason.

        Raises:
            ConfigError: bad parameters, a missing folder or no matching file.
        """
        from biojepa.data.verify import check_record

        root = _need_dir(root, self.id)
        params = self.check_params(params)
        refs, _, data_rois, _ = self.list_records(root, params)
        return [
            functools.partial(check_record, ref.record_id, ref.path.as_posix(),
                              functools.partial(_check_roi_file, ref, data_rois))
            for ref in refs
        ]

    def prepare(
        self,
        root: Path,
        *,
        cache_dir: Path,
        tr_s: float = 2.2,
        channels: Sequence[str] | None = None,
        params: Mapping[str, Any] | None = None,
        progress: Callable[[int, int], None] | None = None,
        rebuild: bool = False,
    ) -> FmriPrepareResult:
        """Build (or reuse) the memory-mapped cache of ``root`` at ``tr_s`` with the model's ROIs ``channels``.

        Args:
            root: the dataset folder.
            cache_dir: the cache root.
            tr_s: the model's TR (seconds).
            channels: the model's ROI names in order (None: keep the data's own order).
            params: dataset parameters (see the card and the module docstring).
            progress: ``progress(done, total)`` after each record.
            rebuild: rebuild even if a valid cache exists.

        Raises:
            ConfigError: bad parameters, a missing folder or no matching file.
            ContractError: a record's ROIs differ from the model's (``missing="error"``).
            DataError: too many bad records (the quarantine report is written beside the cache).
        """
        root = _need_dir(root, self.id)
        params = self.check_params(params)
        rois = list(channels) if channels is not None else None
        path = self.cache_path(root, cache_dir, tr_s, rois, params)
        limit = float(params.get("max_bad_fraction", 0.05))
        reused = None if rebuild else reuse_cache(path, self.id, limit)
        if reused is not None:
            cache, n_bad, prov = reused
            return FmriPrepareResult(path, False, None, cache.n_records, n_bad, prov)
        refs, facts, data_rois, atlas = self.list_records(root, params)
        skip = params.get("missing", "error") == "skip"
        loaders = [functools.partial(_load, ref, rois, data_rois, float(tr_s), skip) for ref in refs]
        total = len(loaders)
        provenance = {
            "root": str(root.absolute()),
            "n_files": total,
            **facts,
            "atlas": atlas,
            "rois": "model order" if rois is not None else "as recorded",
            "tr_s": float(tr_s),
            "preprocessing": PREPROCESSING,
            "preprocessing_version": PREPROCESSING_VERSION,
        }
        report = build_cache(
            loaders,
            path,
            dataset_id=self.id,
            max_bad_fraction=limit,
            progress=(lambda k: progress(k, total)) if progress else None,
            overwrite=True,
            extra_columns=EXTRA_COLUMNS,
            extra_meta={"provenance": provenance, "tr_s": float(tr_s), "params": self._content_params(params),
                        "rois": rois, "preprocessing_version": PREPROCESSING_VERSION},
        )
        if report.n_quarantined:
            log.warning("%s: %d of %d records quarantined, see %s", self.id, report.n_quarantined, total,
                        report.quarantine_path)
        return FmriPrepareResult(path, True, report, report.n_ok, report.n_quarantined, provenance)

    def open(
        self,
        root: Path | None,
        *,
        cache_dir: Path,
        params: Mapping[str, Any] | None = None,
        signal: Any = None,
    ) -> SubsetStore:
        """The preprocessed records of ``root`` for a model with contract ``signal``, normalised as it says.

        Records shorter than the model window are left out (counted in ``provenance["n_too_short"]`` and logged
        by id); ``biojepa finetune fmri`` and ``encode()`` pad them with a validity mask instead.

        Raises:
            ConfigError: no folder, bad parameters.
            ContractError: the model is not an fMRI model, or a record's ROIs differ from the model's.
            DataError: too many bad records, or no record is one window long.
        """
        root = _need_dir(root, self.id)
        _check_units(signal)
        tr_s = _contract_tr(signal)
        n_times = int(signal.n_times) if signal is not None else 1
        res = self.prepare(root, cache_dir=cache_dir, tr_s=tr_s, channels=_contract_rois(signal), params=params)
        cache = Cache.open(res.cache_path)
        lengths = np.asarray(cache.lengths)
        keep = np.flatnonzero(lengths >= n_times)
        short = np.flatnonzero(lengths < n_times)
        if short.size:
            log.warning("%s: %d records shorter than the %d-frame window are not used for pretraining: %s%s",
                        self.id, short.size, n_times, ", ".join(cache.record_id(int(i)) for i in short[:10]),
                        " ..." if short.size > 10 else "")
        if keep.size == 0:
            raise DataError(
                f"dataset {self.id!r}: no record is at least {n_times} frames ({n_times * tr_s:g} s) long at TR "
                f"{tr_s:g} s; use a model with a shorter window (model.overrides.signal.n_times) or longer series"
            )
        method = signal.normalization.method if signal is not None else "none"
        norm: dict[str, Any] | None = None
        if method == "robust":
            store, norm = _robust_view(res.cache_path, cache, keep)
        elif method == "zscore_per_record":
            store = RecordScaledStore(cache, keep)
        elif method == "none":
            store = SubsetStore(cache, keep)
        else:
            raise ContractError(
                f"fMRI sources support the normalisations 'robust', 'zscore_per_record' and 'none'; the model asks "
                f"for {method!r}"
            )
        idx = cache.index.iloc[keep]
        provenance = dict(cache.meta.get("extra", {}).get("provenance", res.provenance))
        provenance.update({
            "n_records": int(keep.size),
            "n_quarantined": int(cache.meta.get("n_quarantined", 0)),
            "n_too_short": int(short.size),
            "subjects_used": sorted({s for s in idx["subject"] if s}),
            "native_tr_s": sorted({float(v) for v in pd.to_numeric(idx["tr_native"], errors="coerce").dropna()}),
            "hours": round(float(lengths[keep].sum()) * tr_s / 3600.0, 4),
        })
        store.provenance = provenance  # type: ignore[attr-defined]
        if norm is not None:
            store.normalization = norm  # type: ignore[attr-defined]
        return store


for _id, _layout in (("abide_roi", "abide"), ("roi_dir", "dir")):
    DATASETS.register(_id, modality="fmri", reader=_layout)(functools.partial(FmriFileSource, _id, _layout))


# ---------------------------------------------------------------------------------------------------------
# whole records for evaluation, gradients and encode (no window filter, no normalisation)
# ---------------------------------------------------------------------------------------------------------
def load_fmri_records(
    ds_id: str,
    root: Path | None,
    *,
    tr_s: float,
    rois: Sequence[str] | None,
    params: Mapping[str, Any] | None = None,
    cache_dir: Path,
) -> tuple[list[np.ndarray], pd.DataFrame]:
    """Every preprocessed record (ROI x time at ``tr_s``, demeaned, not normalised) and one table row per record.

    The table has ``record_id, subject, site, n_times, tr_native, n_frames_native, mean_fd`` and, for
    ``abide_roi``, the participants' columns (``dx_asd``, ``sex``, ``age``, ...) joined by subject id.

    Raises:
        ConfigError / ContractError / DataError: as :meth:`FmriFileSource.prepare`.
    """
    from biojepa.data.sources import resolve_source

    source = resolve_source(ds_id)
    if isinstance(source, FmriSyntheticSource):
        store = source.open(None, params=params, signal=None, tr_s=tr_s, rois=rois)
        table = pd.DataFrame({"record_id": [store.record_id(i) for i in range(store.n_records)],
                              "subject": list(store.subjects), "site": list(store.sites),
                              "n_times": store.lengths, "label": store.labels})
        return [np.asarray(store.get(i), dtype=np.float32) for i in range(store.n_records)], table
    if not isinstance(source, FmriFileSource):
        raise ConfigError(f"dataset {ds_id!r} is not an fMRI dataset (fMRI datasets: abide_roi, roi_dir, "
                          "fmri_synthetic)")
    root = _need_dir(root, ds_id)
    res = source.prepare(root, cache_dir=cache_dir, tr_s=tr_s, channels=rois, params=params)
    cache = Cache.open(res.cache_path)
    idx = cache.index
    table = pd.DataFrame({
        "record_id": idx["record_id"].astype(str),
        "subject": idx["subject"].astype(str),
        "site": idx["site"].astype(str),
        "n_times": np.asarray(cache.lengths, dtype=np.int64),
        "tr_native": pd.to_numeric(idx["tr_native"], errors="coerce"),
        "n_frames_native": pd.to_numeric(idx["n_frames_native"], errors="coerce"),
        "mean_fd": pd.to_numeric(idx["mean_fd"], errors="coerce"),
    })
    if source.layout == "abide":
        parts = read_participants(root)
        extra = [c for c in parts.columns if c not in table.columns and c != "subject_id"]
        table = table.merge(parts[["subject_id", *extra]], how="left", left_on="subject", right_on="subject_id")
        table = table.drop(columns=["subject_id"])
    records = [np.asarray(cache.get(i), dtype=np.float32) for i in range(cache.n_records)]
    return records, table.reset_index(drop=True)


@DATASETS.register("fmri_synthetic", modality="fmri", reader="generated")
class FmriSyntheticSource:
    """The generated resting-state-like ROI corpus (:mod:`biojepa.adapters.fmri.synthetic`); no files."""

    id = "fmri_synthetic"

    @property
    def card(self) -> DatasetCard:
        """The ``datasets/fmri_synthetic.yaml`` card."""
        return load_card(self.id)

    def open(
        self,
        root: Path | None = None,
        *,
        cache_dir: Path | None = None,
        params: Mapping[str, Any] | None = None,
        signal: Any = None,
        tr_s: float | None = None,
        rois: Sequence[str] | None = None,
    ) -> Any:
        """Generate the corpus at the model's TR and ROIs, normalised as the model's contract says.

        Args:
            root: must be None (the data is generated).
            cache_dir: unused.
            params: see :class:`~biojepa.adapters.fmri.synthetic.FmriSynthSpec`.
            signal: the model's contract (TR, ROI names, window, normalisation).
            tr_s, rois: TR and ROI names when there is no contract (evaluation helpers).

        Returns:
            A record store with ``labels``, ``subjects``, ``sites``, ``provenance`` and (robust contracts)
            ``normalization``.
        """
        from biojepa.adapters.fmri.synthetic import FmriSynthSpec, simulate_fmri
        from biojepa.data.cache import ArrayStore
        from biojepa.data.sources import check_generated_params

        params = check_generated_params(self.id, root, params, tuple(f.name for f in
                                                                     dataclasses.fields(FmriSynthSpec)))
        _check_units(signal)
        tr = _contract_tr(signal) if signal is not None else float(tr_s or 2.2)
        names = _contract_rois(signal) if signal is not None else (list(rois) if rois is not None else None)
        n_times = int(signal.n_times) if signal is not None else 1
        if names is not None:
            params["n_rois"] = len(names)
        if "duration_s" not in params:
            params["duration_s"] = max(300.0, (n_times + 1) * tr)
        try:
            spec = FmriSynthSpec(tr_s=tr, **params)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid fmri_synthetic parameters {params}: {exc}") from None
        x, y, subj, site = simulate_fmri(spec)  # (N, R, T), (N,), (N,), (N,)
        if x.shape[2] < n_times:
            raise ConfigError(
                f"fmri_synthetic duration_s={spec.duration_s:g} gives {x.shape[2]} frames at TR {tr:g} s, shorter "
                f"than the model window of {n_times}; raise duration_s to >= {n_times * tr:g}"
            )
        from biojepa.adapters.fmri.rois import generic_roi_names

        base = ArrayStore(x, sfreq=1.0 / tr, channels=tuple(names or generic_roi_names(spec.n_rois)), units="a.u.",
                          record_ids=[f"fmrisyn-{spec.seed}-{i:05d}" for i in range(len(x))], labels=y,
                          dataset_id=self.id)
        method = signal.normalization.method if signal is not None else "none"
        keep = np.arange(base.n_records)
        store: Any
        norm = None
        if method == "robust":
            from biojepa.adapters.fmri.transforms import robust_stats

            stats = robust_stats(base.get(int(i)) for i in keep)
            store = NormalizedStore(base, stats.center, stats.scale, None, keep)
            norm = {"method": "robust", "mean": [float(v) for v in stats.center],
                    "std": [float(v) for v in stats.scale], "clip": None, "clamped_rois": list(stats.clamped),
                    "n_records": int(keep.size), "n_frames": int(stats.n_frames)}
        elif method == "zscore_per_record":
            store = RecordScaledStore(base, keep)
        elif method == "none":
            store = SubsetStore(base, keep)
        else:
            raise ContractError(f"fmri_synthetic supports robust, zscore_per_record and none; the model asks {method!r}")
        store.labels = y  # type: ignore[attr-defined]
        store.subjects = np.array([f"synth{s + 1:03d}" for s in subj])  # type: ignore[attr-defined]
        store.sites = np.array([f"site{s + 1}" for s in site])  # type: ignore[attr-defined]
        store.provenance = {"generated": True, "seed": spec.seed, "n_records": spec.n_records,  # type: ignore[attr-defined]
                            "n_rois": spec.n_rois, "n_networks": spec.n_networks, "tr_s": tr,
                            "duration_s": spec.duration_s, "subjects_used": sorted(store.subjects.tolist())}
        if norm is not None:
            store.normalization = norm  # type: ignore[attr-defined]
        return store
