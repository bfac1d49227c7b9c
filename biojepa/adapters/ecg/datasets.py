"""ECG dataset sources: ``--data ID=DIR`` for the ten ECG-JEPA databases, PTB-XL, any WFDB folder, and the
embedded synthetic demo corpus. Registered in :data:`biojepa.registry.DATASETS`; each id has a card in
``datasets/<id>.yaml``.

``source.prepare(root, cache_dir=..., sfreq=500)`` reads every record once (readers ->
resample to the model rate -> 0.5 Hz high-pass for CODE-15% and INCART), stores millivolts as float16 in a
memory-mapped cache under ``cache_dir/<id>/<key>/`` (``key`` = rate + a hash of the root, the parameters and
the preprocessing version), quarantines bad records with the reason, and keeps each record's scale-invariant
signal fingerprint. ``source.open(...)`` prepares on first use, computes the per-lead z-score statistics over
the records (all of them are training records: PTB-XL's held-out folds are never in a pretraining cache),
stores them in ``stats.json`` beside the cache, and returns a normalising view (z-score, clip ±5, at read).

PTB-XL folds 9–10 are refused for pretraining; their fingerprints are kept with the PTB-XL cache so that
copies inside other releases are dropped by the pretraining de-duplication. The Challenge sources drop
``HR*`` records (the CinC copies of PTB-XL) unless ``include_ptbxl_copies=true``.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from biojepa.data.cache import ArrayStore, Cache, CacheReport, build_cache, reuse_cache
from biojepa.data.cards import DatasetCard, load_card
from biojepa.data.record import Record
from biojepa.data.verify import ScanResult
from biojepa.data.views import NormalizedStore, SubsetStore, channel_stats
from biojepa.errors import ConfigError, CorruptRecordError, DataError
from biojepa.registry import DATASETS

__all__ = ["CINC_SOURCES", "PREPROCESSING_VERSION", "EcgSource", "EcgSyntheticSource", "PrepareResult"]

log = logging.getLogger(__name__)

#: Bumped whenever the preprocessing changes, so old caches are not reused.
PREPROCESSING_VERSION = 2
EXTRA_COLUMNS = ("fingerprint", "sfreq_native", "n_times_native", "fold")

#: The seven PhysioNet/CinC-2021 sources (``.hea`` + ``.mat``).
CINC_SOURCES = ("chapman_shaoxing", "cpsc", "cpsc_extra", "georgia", "ningbo", "ptb", "st_petersburg")

_COMMON_PARAMS = {"max_bad_fraction", "workers"}
_READER_PARAMS: dict[str, set[str]] = {
    "ptbxl": {"folds", "files", "allow_heldout"},
    "cinc": {"prefixes", "include_ptbxl_copies"},
    "code15": {"min_nonzero"},
    "mimic": set(),
    "wfdb": set(),
}
HELDOUT_FOLDS = (9, 10)


class PrepareResult:
    """What :meth:`EcgSource.prepare` did.

    Attributes:
        cache_path: the cache directory.
        built: whether it was built now (False: an existing cache was reused).
        report: the build report (None when reused).
        n_ok: records in the cache.
        n_quarantined: records quarantined (listed in ``cache_path/quarantine.csv``).
        provenance: source-specific facts (folds used, files per rate, excluded copies, ...).
    """

    def __init__(
        self, cache_path: Path, built: bool, report: CacheReport | None, n_ok: int, n_quarantined: int,
        provenance: dict[str, Any],
    ) -> None:
        self.cache_path = cache_path
        self.built = built
        self.report = report
        self.n_ok = n_ok
        self.n_quarantined = n_quarantined
        self.provenance = provenance

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {
            "cache_path": str(self.cache_path),
            "built": self.built,
            "n_ok": self.n_ok,
            "n_quarantined": self.n_quarantined,
            "quarantine_report": str(self.cache_path / "quarantine.csv"),
            "provenance": self.provenance,
        }


# ---------------------------------------------------------------------------------------------------------
# loading one record (module level: picklable for worker processes)
def _load_record(
    reader: str, path: str, record_id: str, expected_sfreq: float | None, target_sfreq: float,
    highpass_hz: float | None, extra: Mapping[str, Any],
) -> Record:
    from biojepa.adapters.ecg import readers

    if reader == "cinc":
        rec = readers.read_cinc(path, record_id=record_id, expected_sfreq=expected_sfreq)
    else:
        rec = readers.read_wfdb(path, record_id=record_id, expected_sfreq=expected_sfreq)
    return _preprocess(rec, target_sfreq, highpass_hz, extra)


def _preprocess(rec: Record, target_sfreq: float, highpass_hz: float | None, extra: Mapping[str, Any]) -> Record:
    from biojepa.adapters.ecg import transforms

    try:
        x = transforms.resample_fft(rec.signal, rec.sfreq, target_sfreq)  # (12, T')
        if highpass_hz is not None:
            x = transforms.highpass(x, target_sfreq, highpass_hz)
    except ValueError as exc:
        raise CorruptRecordError(rec.record_id, f"cannot resample/filter: {exc}") from None
    meta = dict(rec.meta)
    fp = meta.get("fingerprint")
    if fp is None:
        fp = transforms.fingerprint(rec.signal)
    meta.update(
        {"fingerprint": fp, "sfreq_native": rec.sfreq, "n_times_native": rec.n_times, **dict(extra)}
    )
    return Record(x, target_sfreq, rec.channels, "mV", rec.record_id, meta=meta)


def _call(loader: Callable[[], Record]) -> Record | CorruptRecordError:
    try:
        return loader()
    except CorruptRecordError as exc:
        return exc


def _raiser(exc: CorruptRecordError) -> Callable[[], Record]:
    def f() -> Record:
        raise exc

    return f


def _parallel(loaders: list[Callable[[], Record]], workers: int) -> Iterator[Record | Callable[[], Record]]:
    """Run the loaders in ``workers`` processes (order kept); errors are re-raised inside build_cache."""
    if workers <= 1:
        yield from loaders
        return
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        for out in pool.map(_call, loaders, chunksize=16):
            yield _raiser(out) if isinstance(out, CorruptRecordError) else out


def _short_hash(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:10]


# ---------------------------------------------------------------------------------------------------------
class EcgSource:
    """One real ECG dataset read from a folder (see the module docstring).

    Args:
        ds_id: dataset id (card name).
        reader: ``"ptbxl"``, ``"cinc"``, ``"code15"``, ``"mimic"`` or ``"wfdb"``.
        highpass_hz: baseline-wander high-pass applied after resampling (CODE-15%, INCART: 0.5 Hz).
    """

    def __init__(self, ds_id: str, reader: str, highpass_hz: float | None = None) -> None:
        self.id = ds_id
        self.reader = reader
        self.highpass_hz = highpass_hz

    @property
    def card(self) -> DatasetCard:
        """The dataset card."""
        return load_card(self.id)

    # -- parameters ---------------------------------------------------------------------------------------
    def check_params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validate ``params`` (``data.sources[].params`` or ``data.<id>.<param>=...``)."""
        from biojepa.data.sources import check_source_params

        params = check_source_params(self.id, params, _COMMON_PARAMS | _READER_PARAMS[self.reader])
        return params

    def _content_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in params.items() if k not in _COMMON_PARAMS}
        if self.reader == "ptbxl":
            from biojepa.adapters.ecg.tasks import parse_folds

            out["folds"] = list(parse_folds(params.get("folds", "1-8")))
            out["files"] = str(params.get("files", "auto"))
        return out

    def cache_path(self, root: Path, cache_dir: Path, sfreq: float, params: Mapping[str, Any]) -> Path:
        """Where the cache of ``root`` at ``sfreq`` with ``params`` lives."""
        key = {
            "root": str(Path(root).expanduser().absolute()),
            "params": self._content_params(params),
            "highpass_hz": self.highpass_hz,
            "version": PREPROCESSING_VERSION,
        }
        return Path(cache_dir).expanduser().absolute() / self.id / f"{sfreq:g}hz-{_short_hash(key)}"

    # -- listing -------------------------------------------------------------------------------------------
    def _expected_sfreq(self) -> float | None:
        if self.reader in ("wfdb", "code15"):
            return None
        try:
            return self.card.sfreq
        except Exception:  # noqa: BLE001 - a missing card only loses the rate check
            return None

    def loaders(
        self, root: Path, sfreq: float, params: Mapping[str, Any]
    ) -> tuple[list[Callable[[], Record]], dict[str, Any], dict[str, Any]]:
        """Zero-argument record loaders for ``root``, the provenance facts and extra cache metadata."""
        from biojepa.adapters.ecg import readers

        root = Path(root).expanduser()
        if not root.is_dir():
            raise ConfigError(
                f"data folder {root} for dataset {self.id!r} does not exist; pass --data {self.id}=DIR with the "
                f"folder described in `biojepa datasets info {self.id}`"
            )
        params = self.check_params(params)
        exp = self._expected_sfreq()
        hp = self.highpass_hz
        provenance: dict[str, Any] = {"root": str(root.absolute())}
        extra_meta: dict[str, Any] = {}

        def wf(reader: str, name: str, extra: Mapping[str, Any] | None = None) -> Callable[[], Record]:
            return functools.partial(
                _load_record, reader, str(root / name), name, exp, sfreq, hp, dict(extra or {})
            )

        if self.reader == "ptbxl":
            return self._ptbxl_loaders(root, sfreq, params, provenance, extra_meta)
        if self.reader == "code15":
            min_nz = params.get("min_nonzero")
            loaders = [
                functools.partial(_preprocess_loader, ld, sfreq, hp)
                for ld in readers.iter_code15(root, min_nonzero=min_nz)
            ]
            return loaders, provenance, extra_meta
        reader = "cinc" if self.reader == "cinc" else "wfdb"
        return [wf(reader, n) for n in self._record_names(root, params, provenance)], provenance, extra_meta

    def _record_names(self, root: Path, params: Mapping[str, Any], provenance: dict[str, Any]) -> list[str]:
        """Record names of a CinC / MIMIC / WFDB folder after the source's selection (CinC prefixes, HR copies)."""
        from biojepa.adapters.ecg import readers

        if self.reader == "mimic":
            return readers.list_mimic_records(root)
        if self.reader != "cinc":
            return readers.list_wfdb_records(root)
        names = readers.list_cinc_records(root)
        prefixes = params.get("prefixes")
        if prefixes:
            prefixes = [prefixes] if isinstance(prefixes, str) else list(prefixes)
            kept = [n for n in names if Path(n).name.startswith(tuple(prefixes))]
            provenance["n_other_prefix"] = len(names) - len(kept)
            names = kept
        if not params.get("include_ptbxl_copies", False):
            copies = [n for n in names if Path(n).name.startswith("HR")]
            names = [n for n in names if not Path(n).name.startswith("HR")]
            provenance["n_excluded_ptbxl_copies"] = len(copies)
            if copies:
                log.warning(
                    "%s: %d HR* records (CinC copies of PTB-XL) were excluded; PTB-XL comes from its own "
                    "release (folds 1-8 only)", self.id, len(copies),
                )
        return names

    def scan(self, root: Path, params: Mapping[str, Any] | None = None) -> list[Callable[[], ScanResult]]:
        """Header checks of the records pretraining would read from ``root`` (``biojepa datasets verify``).

        Each check parses the record's header and compares its data files with it
        (:func:`~biojepa.adapters.ecg.readers.check_wfdb_header`,
        :func:`~biojepa.adapters.ecg.readers.check_cinc_header`) without decoding the samples; CODE-15% is
        scanned through its HDF5 shapes (:func:`~biojepa.adapters.ecg.readers.scan_code15`).

        Raises:
            ConfigError: bad parameters or a missing folder.
        """
        from biojepa.adapters.ecg import readers
        from biojepa.data.verify import check_record

        root = Path(root).expanduser()
        if not root.is_dir():
            raise ConfigError(f"data folder {root} for dataset {self.id!r} does not exist")
        params = self.check_params(params)
        if self.reader == "code15":
            return [functools.partial(_scanned, res) for res in readers.scan_code15(root)]
        exp = self._expected_sfreq()
        if self.reader == "ptbxl":
            refs = [(rid, name) for rid, name, _ in self._ptbxl_refs(root, params)[0]]
        else:
            refs = [(n, n) for n in self._record_names(root, params, {})]
        check = readers.check_cinc_header if self.reader == "cinc" else readers.check_wfdb_header
        return [
            functools.partial(
                check_record, rid, (root / name).as_posix(),
                functools.partial(check, root / name, record_id=rid, expected_sfreq=exp),
            )
            for rid, name in refs
        ]

    def _ptbxl_loaders(
        self, root: Path, sfreq: float, params: Mapping[str, Any], provenance: dict[str, Any],
        extra_meta: dict[str, Any],
    ) -> tuple[list[Callable[[], Record]], dict[str, Any], dict[str, Any]]:
        from biojepa.adapters.ecg import readers

        refs, counts, meta, folds = self._ptbxl_refs(root, params)
        loaders = [
            functools.partial(_load_record, "wfdb", str(root / name), rid, None, sfreq, None, {"fold": fold})
            for rid, name, fold in refs
        ]
        provenance.update(
            {"folds": list(folds), "excluded_folds": [f for f in range(1, 11) if f not in folds], **counts}
        )
        log.info("ptbxl: %d records in folds %s (%d at 500 Hz, %d at 100 Hz, %d missing)",
                 len(refs), list(folds), counts["n_files_500hz"], counts["n_files_100hz"],
                 counts["n_files_missing"])
        # fingerprints of the held-out folds: their copies in other releases are dropped when pretraining
        fps: list[str] = []
        for _, row in meta[meta["strat_fold"].isin(HELDOUT_FOLDS)].iterrows():
            for col, has in (("filename_hr", "has_hr"), ("filename_lr", "has_lr")):
                if row[has]:
                    try:
                        fps.append(readers.read_wfdb(root / str(row[col])).meta["fingerprint"])
                    except CorruptRecordError:
                        pass
        extra_meta["heldout_fingerprints"] = sorted(set(fps))
        provenance["n_heldout_fingerprints"] = len(set(fps))
        return loaders, provenance, extra_meta

    def _ptbxl_refs(
        self, root: Path, params: Mapping[str, Any]
    ) -> tuple[list[tuple[str, str, int]], dict[str, int], Any, tuple[int, ...]]:
        """``([(ecg_id, file name, fold)], file counts, the metadata table, folds)`` of the selected folds."""
        from biojepa.adapters.ecg.tasks import load_ptbxl_metadata, parse_folds

        folds = parse_folds(params.get("folds", "1-8"))
        held = sorted(set(folds) & set(HELDOUT_FOLDS))
        if held and not params.get("allow_heldout", False):
            raise ConfigError(
                f"PTB-XL folds {held} are the benchmark's validation/test folds and are never used for "
                "pretraining (ecg.md §5.4); use folds within 1-8 (default 1-8, e.g. data.ptbxl.folds=1-6)"
            )
        files = str(params.get("files", "auto"))
        if files not in ("auto", "500", "100"):
            raise ConfigError(f"data.ptbxl.files must be auto, 500 or 100, found {files!r}")
        meta = load_ptbxl_metadata(root)
        present = sorted(int(f) for f in meta["strat_fold"].unique())
        missing = [f for f in folds if f not in present]
        if missing and len(missing) == len(folds):
            raise ConfigError(f"PTB-XL at {root} has no records in folds {list(folds)}; folds present: {present}")
        sel = meta[meta["strat_fold"].isin(folds)]
        refs: list[tuple[str, str, int]] = []
        n_hr = n_lr = n_none = 0
        for ecg_id, row in sel.iterrows():
            use_hr = files == "500" or (files == "auto" and bool(row["has_hr"]))
            name = str(row["filename_hr"] if use_hr else row["filename_lr"])
            if use_hr and row["has_hr"]:
                n_hr += 1
            elif not use_hr and row["has_lr"]:
                n_lr += 1
            else:
                n_none += 1
            refs.append((str(ecg_id), name, int(row["strat_fold"])))
        counts = {"n_files_500hz": n_hr, "n_files_100hz": n_lr, "n_files_missing": n_none}
        return refs, counts, meta, tuple(folds)

    # -- preparing and opening -----------------------------------------------------------------------------
    def prepare(
        self,
        root: Path,
        *,
        cache_dir: Path,
        sfreq: float = 500.0,
        params: Mapping[str, Any] | None = None,
        progress: Callable[[int, int], None] | None = None,
        rebuild: bool = False,
    ) -> PrepareResult:
        """Build (or reuse) the memory-mapped cache of ``root`` at ``sfreq``.

        Args:
            root: the dataset folder.
            cache_dir: the cache root (the cache goes to ``cache_dir/<id>/<key>``).
            sfreq: the model's sampling rate; every record is FFT-resampled to it.
            params: dataset parameters (see the card); ``workers`` (processes, default 1) and
                ``max_bad_fraction`` (default 0.05) are accepted by every source.
            progress: ``progress(done, total)`` after each record.
            rebuild: rebuild even if a valid cache exists.

        Raises:
            ConfigError: bad parameters or a missing folder.
            DataError: too many bad records (the quarantine report is written beside the cache).
        """
        params = self.check_params(params)
        path = self.cache_path(root, cache_dir, sfreq, params)
        reused = None if rebuild else reuse_cache(path, self.id, float(params.get("max_bad_fraction", 0.05)))
        if reused is not None:
            cache, n_bad, prov = reused
            return PrepareResult(path, False, None, cache.n_records, n_bad, prov)
        loaders, provenance, extra_meta = self.loaders(root, sfreq, params)
        if not loaders:
            raise DataError(
                f"no records found for dataset {self.id!r} under {root}; see `biojepa datasets info {self.id}` "
                "for the expected layout"
            )
        total = len(loaders)
        workers = int(params.get("workers", 1))
        if self.reader == "code15" and workers > 1:
            log.info("code15: the HDF5 loaders run in this process (workers=%d ignored)", workers)
            workers = 1
        report = build_cache(
            _parallel(loaders, workers),
            path,
            dataset_id=self.id,
            max_bad_fraction=float(params.get("max_bad_fraction", 0.05)),
            progress=(lambda k: progress(k, total)) if progress else None,
            overwrite=True,
            extra_columns=EXTRA_COLUMNS,
            extra_meta={"provenance": provenance, "sfreq": sfreq, "params": self._content_params(params),
                        "preprocessing_version": PREPROCESSING_VERSION, **extra_meta},
        )
        if report.n_quarantined:
            log.warning("%s: %d of %d records quarantined, see %s", self.id, report.n_quarantined, total,
                        report.quarantine_path)
        return PrepareResult(path, True, report, report.n_ok, report.n_quarantined, provenance)

    def open(
        self,
        root: Path | None,
        *,
        cache_dir: Path,
        params: Mapping[str, Any] | None = None,
        signal: Any = None,
    ) -> NormalizedStore:
        """The normalised records of ``root`` for a model with signal contract ``signal``.

        Records shorter than the model window are left out (counted in ``provenance["n_too_short"]`` and
        logged by id).
        """
        if root is None:
            raise ConfigError(f"dataset {self.id!r} needs a folder: pass --data {self.id}=DIR")
        sfreq = float(signal.sfreq) if signal is not None and signal.sfreq else 500.0
        n_times = int(signal.n_times) if signal is not None else 1
        clip = 5.0
        if signal is not None and signal.normalization.clip is not None:
            clip = float(signal.normalization.clip)
        res = self.prepare(root, cache_dir=cache_dir, sfreq=sfreq, params=params)
        cache = Cache.open(res.cache_path)
        lengths = np.asarray(cache.lengths)
        keep = np.flatnonzero(lengths >= n_times)
        short = np.flatnonzero(lengths < n_times)
        if short.size:
            log.warning("%s: %d records shorter than the %d-sample window are not used: %s%s", self.id, short.size,
                        n_times, ", ".join(cache.record_id(int(i)) for i in short[:10]),
                        " ..." if short.size > 10 else "")
        if keep.size == 0:
            raise DataError(f"dataset {self.id!r}: no record is at least {n_times} samples long")
        mean, std, n = _cached_stats(res.cache_path, cache, keep)
        store = NormalizedStore(cache, mean, std, clip, keep)
        extra = cache.meta.get("extra", {})
        store.provenance = {**dict(extra.get("provenance", res.provenance)), "n_too_short": int(short.size)}
        store.exclude_fingerprints = set(extra.get("heldout_fingerprints", []))
        store.normalization = {"method": "zscore", "mean": mean.tolist(), "std": std.tolist(), "clip": clip,
                               "n_records": int(keep.size), "n_samples": int(n)}
        return store


def _scanned(result: ScanResult) -> ScanResult:
    """A check whose verdict is already known (CODE-15% is scanned file by file)."""
    return result


def _preprocess_loader(loader: Callable[[], Record], sfreq: float, highpass_hz: float | None) -> Record:
    return _preprocess(loader(), sfreq, highpass_hz, {})


def _cached_stats(path: Path, cache: Cache, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-lead statistics over records ``keep``, cached in ``stats.json`` keyed by the record list."""
    key = hashlib.sha256(np.asarray(keep, dtype=np.int64).tobytes()).hexdigest()[:16]
    f = path / "stats.json"
    try:
        saved = json.loads(f.read_text(encoding="utf-8"))
        if saved.get("key") == key:
            return np.asarray(saved["mean"]), np.asarray(saved["std"]), int(saved["n_samples"])
    except (OSError, ValueError, KeyError):
        pass
    mean, std, n = channel_stats(cache, keep)
    tmp = f.with_name(f".stats.json.tmp-{key}")
    tmp.write_text(json.dumps({"key": key, "mean": mean.tolist(), "std": std.tolist(), "n_samples": n,
                               "n_records": len(keep)}, indent=1), encoding="utf-8")
    tmp.replace(f)
    return mean, std, n


for _id, _reader, _hp in (
    ("ptbxl", "ptbxl", None),
    ("mimic_iv_ecg", "mimic", None),
    ("code15", "code15", 0.5),
    ("wfdb", "wfdb", None),
    ("chapman_shaoxing", "cinc", None),
    ("cpsc", "cinc", None),
    ("cpsc_extra", "cinc", None),
    ("georgia", "cinc", None),
    ("ningbo", "cinc", None),
    ("ptb", "cinc", None),
    ("st_petersburg", "cinc", 0.5),
):
    DATASETS.register(_id, modality="ecg", reader=_reader)(
        functools.partial(EcgSource, _id, _reader, _hp)
    )


@DATASETS.register("ecg_synthetic", modality="ecg", reader="generated")
class EcgSyntheticSource:
    """The embedded synthetic 12-lead ECG corpus (:mod:`biojepa.adapters.ecg.synthetic`); no files needed."""

    id = "ecg_synthetic"
    PARAMS = ("n_records", "duration_s", "noise_mv", "seed", "n_classes")

    @property
    def card(self) -> DatasetCard:
        """The ``datasets/ecg_synthetic.yaml`` card."""
        return load_card(self.id)

    def open(
        self,
        root: Path | None = None,
        *,
        cache_dir: Path | None = None,
        params: Mapping[str, Any] | None = None,
        signal: Any = None,
    ) -> NormalizedStore:
        """Generate the corpus at the model's rate, z-scored per lead with its own statistics."""
        from biojepa.adapters.ecg.leads import STANDARD_LEADS
        from biojepa.adapters.ecg.synthetic import EcgSynthSpec, simulate_ecg
        from biojepa.data.sources import check_generated_params

        params = check_generated_params(self.id, root, params, self.PARAMS)
        sfreq = float(signal.sfreq) if signal is not None and signal.sfreq else 100.0
        spec = EcgSynthSpec(sfreq=sfreq, **params)
        x, y = simulate_ecg(spec)  # (N, 12, T), (N,)
        store = ArrayStore(x, sfreq=sfreq, channels=STANDARD_LEADS, units="mV",
                           record_ids=[f"ecgsyn-{spec.seed}-{i:05d}" for i in range(len(x))], labels=y,
                           dataset_id=self.id)
        mean, std, n = channel_stats(store)
        clip = 5.0
        if signal is not None and signal.normalization.clip is not None:
            clip = float(signal.normalization.clip)
        out = NormalizedStore(store, mean, std, clip)
        out.labels = y
        out.provenance = {"generated": True, "seed": spec.seed}
        out.normalization = {"method": "zscore", "mean": mean.tolist(), "std": std.tolist(), "clip": clip,
                             "n_records": len(x), "n_samples": int(n)}
        return out


__all__ += ["SubsetStore"]
