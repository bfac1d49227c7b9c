"""Header scans of a dataset folder: what ``biojepa datasets verify ID --root DIR`` runs.

A scan lists the records of a dataset exactly as its source does for pretraining and checks each one
**without decoding its samples**: WFDB headers are parsed and the data files' sizes compared with them,
EDF/BDF headers are parsed byte by byte (other EEG formats through ``mne.io.read_raw(preload=False)``),
CinC ``.mat`` files through their variable headers, CODE-15% through the HDF5 dataset shapes. Small files
are read whole: eeg-notebooks Muse CSVs and fMRI ROI matrices.

The adapter-specific checks live beside the readers (``check_wfdb_header``, ``check_cinc_header``,
``scan_code15``, ``check_eeg_header``, ``read_roi_matrix``); each file source exposes them as
``source.scan(root, params)``, which returns one zero-argument check per record, each giving a
:class:`ScanResult`. Generated sources (``synthetic``, ``ecg_synthetic``, ``eeg_synthetic``,
``fmri_synthetic``) have no files and no ``scan``: verifying them is refused with a
:class:`~biojepa.errors.ConfigError` that says so.

The output folder (default ``<cache dir>/verify/<ID>/``) receives, with the column names of the cache::

    index.csv        one row per record: record_id, status ("ok" / "quarantined"), reason, path
    quarantine.csv   the quarantined records only: record_id, reason

The reports are always written; when the quarantined fraction exceeds ``max_bad_fraction`` a
:class:`~biojepa.errors.DataError` naming the report follows.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from biojepa.data.cache import LOGGED_QUARANTINED, _csv_text, _write_text
from biojepa.errors import ConfigError, CorruptRecordError, DataError

__all__ = [
    "INDEX_COLUMNS",
    "QUARANTINE_COLUMNS",
    "ScanResult",
    "VerifyReport",
    "check_record",
    "default_verify_dir",
    "verify_dataset",
]

log = logging.getLogger(__name__)

#: Columns of the verify ``index.csv`` (``record_id``, ``status``, ``reason`` as in the cache index).
INDEX_COLUMNS = ("record_id", "status", "reason", "path")
#: Columns of ``quarantine.csv`` (as written by :func:`~biojepa.data.cache.build_cache`).
QUARANTINE_COLUMNS = ("record_id", "reason")


class ScanResult(NamedTuple):
    """The verdict on one record.

    Attributes:
        record_id: the id the record has in the cache and in errors.
        status: ``"ok"`` or ``"quarantined"``.
        reason: why it is quarantined (``""`` when ok).
        path: the file that was checked (``""`` when there is none, e.g. an exam missing from CODE-15%).
    """

    record_id: str
    status: str
    reason: str
    path: str


def check_record(record_id: str, path: str | Path, check: Callable[[], Any]) -> ScanResult:
    """Run ``check()``; a :class:`~biojepa.errors.CorruptRecordError` makes the record quarantined.

    Args:
        record_id: the record's id.
        path: the file checked (reported as given).
        check: a zero-argument header check, e.g. ``functools.partial(check_wfdb_header, path)``.

    Returns:
        ``ScanResult(record_id, "ok", "", path)``, or ``"quarantined"`` with the error's reason.
    """
    try:
        check()
    except CorruptRecordError as exc:
        return ScanResult(str(record_id), "quarantined", exc.reason, str(path))
    return ScanResult(str(record_id), "ok", "", str(path))


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify_dataset` found.

    Attributes:
        dataset_id: the dataset id.
        root: the folder scanned.
        out_dir: where the reports were written.
        n_ok: records that passed.
        n_quarantined: records that failed (listed in ``quarantine_path`` with the reason).
        quarantined: ``(record_id, reason)`` of each failed record.
        index_path: ``index.csv`` (every record).
        quarantine_path: ``quarantine.csv`` (failed records only).
        max_bad_fraction: the threshold the scan was held to.
    """

    dataset_id: str
    root: Path
    out_dir: Path
    n_ok: int
    n_quarantined: int
    quarantined: tuple[tuple[str, str], ...]
    index_path: Path
    quarantine_path: Path
    max_bad_fraction: float

    @property
    def n_records(self) -> int:
        """All records scanned."""
        return self.n_ok + self.n_quarantined

    @property
    def bad_fraction(self) -> float:
        """Quarantined records / all records."""
        return self.n_quarantined / self.n_records if self.n_records else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (the ``--json`` payload of ``biojepa datasets verify``)."""
        return {
            "dataset": self.dataset_id,
            "root": str(self.root),
            "out_dir": str(self.out_dir),
            "n_records": self.n_records,
            "n_ok": self.n_ok,
            "n_quarantined": self.n_quarantined,
            "bad_fraction": self.bad_fraction,
            "max_bad_fraction": self.max_bad_fraction,
            "index": str(self.index_path),
            "quarantine_report": str(self.quarantine_path),
            "quarantined": [list(q) for q in self.quarantined],
        }


def default_verify_dir(dataset_id: str) -> Path:
    """``<cache dir>/verify/<dataset_id>``, the cache dir being ``$BIOJEPA_CACHE_DIR`` or ``$BIOJEPA_HOME/cache``."""
    from biojepa.io import biojepa_home

    env = os.environ.get("BIOJEPA_CACHE_DIR")
    cache = Path(env).expanduser() if env else biojepa_home() / "cache"
    return cache / "verify" / dataset_id


def _check_fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
        raise ConfigError(f"max_bad_fraction must be a number in [0, 1] (e.g. 0.01), found {value!r}")
    return float(value)


def _run_checks(
    checks: Sequence[Callable[[], ScanResult]], progress: Callable[[int, int], None] | None
) -> list[ScanResult]:
    """Run every check; a duplicate record id or an escaped CorruptRecordError is quarantined too."""
    out: list[ScanResult] = []
    seen: set[str] = set()
    total = len(checks)
    for k, check in enumerate(checks):
        try:
            res = check()
        except CorruptRecordError as exc:  # a scan is meant to catch these itself; never lose a record
            res = ScanResult(exc.record_id, "quarantined", exc.reason, "")
        if res.record_id in seen:
            res = res._replace(
                status="quarantined", reason="duplicate record_id: an earlier record has the same id"
            )
        seen.add(res.record_id)
        out.append(res)
        if progress is not None:
            progress(k + 1, total)
    return out


def _write_reports(results: Sequence[ScanResult], out_dir: Path) -> tuple[Path, Path]:
    """Write ``index.csv`` and ``quarantine.csv`` into ``out_dir`` (each via a temporary file and a rename)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    index = [r._asdict() for r in results]
    bad = [{"record_id": r.record_id, "reason": r.reason} for r in results if r.status != "ok"]
    paths = []
    for name, rows, cols in (
        ("index.csv", index, INDEX_COLUMNS),
        ("quarantine.csv", bad, QUARANTINE_COLUMNS),
    ):
        final = out_dir / name
        tmp = out_dir / f".{name}.tmp-{os.getpid()}"
        _write_text(tmp, _csv_text(rows, cols))
        os.replace(tmp, final)
        paths.append(final)
    return paths[0], paths[1]


def verify_dataset(
    dataset_id: str,
    root: str | Path,
    *,
    out: str | Path | None = None,
    max_bad_fraction: float = 0.01,
    params: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Scan the headers of every record of ``dataset_id`` under ``root`` and write the reports.

    Args:
        dataset_id: a registered dataset id (``biojepa datasets list``).
        root: the dataset folder (as for ``--data ID=DIR``).
        out: the report folder (default :func:`default_verify_dir`); created if needed, existing reports
            are replaced.
        max_bad_fraction: fail when more than this fraction of the records is quarantined.
        params: the source's parameters (``folds``, ``subjects``, ``pattern``, ...), as for pretraining;
            they decide which records are listed.
        progress: called as ``progress(done, total)`` after each record.

    Returns:
        A :class:`VerifyReport` (the counts, the quarantined ids and reasons, the report paths).

    Raises:
        ConfigError: a bad ``max_bad_fraction`` or parameter, a missing folder, a generated dataset (nothing
            to verify), or ``max_bad_fraction`` given in ``params``.
        UnknownNameError / NotAvailableError: the dataset id is unknown or has no reader in this build.
        DataError: no record was found, or more than ``max_bad_fraction`` of them are quarantined (raised
            after the reports are written; the message names them).

    Example:
        >>> rep = verify_dataset("wfdb", "/data/my-ecgs", max_bad_fraction=0.05)  # doctest: +SKIP
        >>> rep.n_ok, rep.n_quarantined, rep.quarantine_path  # doctest: +SKIP
        (998, 2, PosixPath('.../verify/wfdb/quarantine.csv'))
    """
    from biojepa.data.sources import resolve_source

    limit = _check_fraction(max_bad_fraction)
    params = dict(params or {})
    if "max_bad_fraction" in params:
        raise ConfigError(
            "max_bad_fraction is an argument of the scan (--max-bad-fraction), not a dataset parameter; "
            "remove it from the parameters"
        )
    source = resolve_source(dataset_id)
    scan = getattr(source, "scan", None)
    if scan is None:
        raise ConfigError(
            f"dataset {dataset_id!r} is generated in memory: it has no files, so there is nothing to verify; "
            "verify a dataset read from a folder (`biojepa datasets list`)"
        )
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise ConfigError(
            f"data folder {folder} for dataset {dataset_id!r} does not exist; pass --root with the folder "
            f"described in `biojepa datasets info {dataset_id}`"
        )
    checks = list(scan(folder, params))
    if not checks:
        raise DataError(
            f"no records found for dataset {dataset_id!r} under {folder}; see `biojepa datasets info "
            f"{dataset_id}` for the expected layout"
        )
    results = _run_checks(checks, progress)
    out_dir = Path(out).expanduser() if out is not None else default_verify_dir(dataset_id)
    index_path, q_path = _write_reports(results, out_dir)
    quarantined = tuple((r.record_id, r.reason) for r in results if r.status != "ok")
    report = VerifyReport(
        dataset_id=dataset_id,
        root=folder.absolute(),
        out_dir=out_dir.absolute(),
        n_ok=len(results) - len(quarantined),
        n_quarantined=len(quarantined),
        quarantined=quarantined,
        index_path=index_path.absolute(),
        quarantine_path=q_path.absolute(),
        max_bad_fraction=limit,
    )
    for rid, reason in quarantined[:LOGGED_QUARANTINED]:
        log.warning("%s: record %s quarantined: %s", dataset_id, rid, reason)
    if len(quarantined) > LOGGED_QUARANTINED:
        log.warning(
            "%s: ... and %d more quarantined records, see %s",
            dataset_id,
            len(quarantined) - LOGGED_QUARANTINED,
            report.quarantine_path,
        )
    if report.bad_fraction > limit:
        raise DataError(
            f"dataset {dataset_id!r}: {report.n_quarantined} of {report.n_records} records are quarantined "
            f"(fraction {report.bad_fraction:.4f} > max_bad_fraction {limit:g}); the reasons are in "
            f"{report.quarantine_path} (all records: {report.index_path}); fix or remove those records, or "
            "raise --max-bad-fraction"
        )
    return report
