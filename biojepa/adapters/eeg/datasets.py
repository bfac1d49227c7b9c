"""EEG dataset sources: ``--data ID=DIR`` for PhysioNet eegmmidb, the eeg-notebooks Muse sets, any folder of
EEG files, and the generated motor-imagery-like corpus. Registered in :data:`biojepa.registry.DATASETS` with
``modality="eeg"``; each id has a card in ``datasets/<id>.yaml``.

``source.prepare(root, cache_dir=..., sfreq=128, channels=...)`` reads every record once (readers -> channels
selected and reordered **by canonical name** to the model's channels -> S-JEPA preprocessing: zero-phase
band-pass 0.5-40 Hz at the native rate, polyphase resampling to the model rate), stores microvolts as float16
in a memory-mapped cache under ``cache_dir/<id>/<rate>hz-<hash>/`` (the hash covers the root, the parameters,
the channel list and :data:`PREPROCESSING_VERSION`) and quarantines unreadable records with the reason.
``source.open(...)`` prepares on first use (a second open reuses the cache) and returns a view of the records
at least one model window long. EEG is **not** normalised: S-JEPA feeds band-passed µV (research note eeg.md
§1.3), so no ``normalization`` is attached to the store.

=============  ================================================  =============================================
id             ``root``                                          parameters (besides the common ones)
=============  ================================================  =============================================
eegmmidb       release folder: ``S001/S001R03.edf`` ...          ``subjects`` (ints or ``"1-3,7"``), ``runs``
eegnb_p300     ``subject<N>/session<M>/data_<date-time>.csv``    ``subjects``, ``sessions``
eegnb_ssvep    same layout                                       ``subjects``, ``sessions``
eeg_files      any folder of EDF/BDF/GDF/BrainVision/EEGLAB/FIF  ``pattern`` (glob or list), ``montage``
eeg_synthetic  none (generated in memory, :mod:`.synthetic`)     ``n_records``, ``duration_s``, ``seed``, ...
=============  ================================================  =============================================

Common parameters of the file sources: ``missing`` (``"error"``, default: a record that lacks a model
channel raises :class:`~biojepa.errors.ContractError`; ``"skip"``: it is quarantined) and
``max_bad_fraction`` (default 0.05). Importing this module is cheap: MNE is imported only when a record is
read.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biojepa.data.cache import ArrayStore, Cache, CacheReport, build_cache, reuse_cache
from biojepa.data.cards import DatasetCard, load_card
from biojepa.data.record import Record
from biojepa.data.verify import ScanResult
from biojepa.data.views import SubsetStore
from biojepa.errors import ConfigError, ContractError, CorruptRecordError, DataError
from biojepa.registry import DATASETS

__all__ = [
    "EXTRA_COLUMNS",
    "FILE_SUFFIXES",
    "PREPROCESSING",
    "PREPROCESSING_VERSION",
    "EegFileSource",
    "EegPrepareResult",
    "EegSyntheticSource",
    "RecordRef",
    "canonical_channels",
    "channel_table",
    "list_eegmmidb",
    "list_files",
    "list_muse",
    "parse_int_list",
    "preprocess_to",
    "read_ref",
    "select_channels",
]

log = logging.getLogger(__name__)

#: Bumped whenever the preprocessing changes, so old caches are not reused.
PREPROCESSING_VERSION = 1
#: Per-record columns of the cache index (besides the built-in ones).
EXTRA_COLUMNS = ("subject", "session", "run", "sfreq_native", "n_times_native", "fingerprint")
#: File suffixes the ``eeg_files`` source picks up by default (lower case).
FILE_SUFFIXES = (".edf", ".bdf", ".gdf", ".vhdr", ".set", ".fif", ".fif.gz")
#: What the caches hold, for provenance and model cards.
PREPROCESSING = "zero-phase Butterworth band-pass 0.5-40 Hz at the native rate, polyphase resampling; µV"

_COMMON_PARAMS = {"max_bad_fraction", "missing"}
_LAYOUT_PARAMS: dict[str, set[str]] = {
    "eegmmidb": {"subjects", "runs"},
    "muse": {"subjects", "sessions"},
    "files": {"pattern", "montage"},
}
_EEGMMIDB_FILE = re.compile(r"^S(\d{3})R(\d{2})\.edf$", re.IGNORECASE)
_MUSE_SUBJECT = re.compile(r"^subject(\d+)$")
_MUSE_SESSION = re.compile(r"^session(\d+)$")
_UV = {"uv", "µv", "μv"}


# ---------------------------------------------------------------------------------------------------------
# small pure helpers
# ---------------------------------------------------------------------------------------------------------
def parse_int_list(value: Any, name: str) -> list[int]:
    """Integers from an int, a list of ints, or a string such as ``"1-3,7"``; sorted, unique.

    Raises:
        ConfigError: anything else, negative numbers or an empty selection.
    """
    out: list[int] = []
    if isinstance(value, bool):
        raise ConfigError(
            f"{name} must be integers, a list of integers or a string like '1-3,7', found {value!r}"
        )
    if isinstance(value, (int, np.integer)):
        out = [int(value)]
    elif isinstance(value, str):
        for part in value.replace(" ", "").split(","):
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if m is None:
                raise ConfigError(
                    f"{name}: cannot parse {part!r} in {value!r}; use e.g. '1-3,7' or [1, 2, 3]"
                )
            lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
            if hi < lo:
                raise ConfigError(f"{name}: range {part!r} runs backwards; write it as '{hi}-{lo}'")
            out.extend(range(lo, hi + 1))
    elif isinstance(value, Iterable):
        for v in value:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer, str)):
                raise ConfigError(f"{name} must be integers, found {v!r} in {value!r}")
            out.extend(parse_int_list(v, name) if isinstance(v, str) else [int(v)])
    else:
        raise ConfigError(
            f"{name} must be integers, a list of integers or a string like '1-3,7', found {value!r}"
        )
    if not out:
        raise ConfigError(f"{name} selects nothing ({value!r}); give at least one number")
    if min(out) < 0:
        raise ConfigError(f"{name} must be >= 0, found {value!r}")
    return sorted(set(out))


def channel_table(names: Sequence[str], montage: str = "standard_1005") -> tuple[list[str], np.ndarray]:
    """Canonical channel names and their unit-head positions from a standard montage.

    Names are canonicalised (:func:`~biojepa.adapters.eeg.positions.canonical_eeg_name`: ``'C3..'`` ->
    ``'C3'``) and looked up in ``montage``; positions are normalised on the **whole montage's** head
    sphere, so they equal what the readers give a recording with the same channels (a subset keeps its
    coordinates).

    Args:
        names: channel names.
        montage: a built-in MNE montage name.

    Returns:
        ``(names, positions)``: canonical names and float64 ``(C, 3)`` unit-head xyz; NaN rows for names
        not in the montage.

    Raises:
        ConfigError: ``names`` is a string, a name is not a string, duplicate names after canonicalisation, or
            an unknown montage.
        OptionalDependencyError: MNE is not installed.
    """
    from biojepa.adapters.eeg.positions import montage_positions, normalize_positions, standard_positions

    canon = canonical_channels(names)
    xyz = standard_positions(canon, montage)  # (C, 3)
    if not np.all(np.isfinite(xyz), axis=1).any():
        return canon, xyz
    _, ref = montage_positions(montage)
    return canon, normalize_positions(xyz, reference=ref)  # (C, 3)


def preprocess_to(x_uv: np.ndarray, sfreq: float, target_sfreq: float = 128.0) -> np.ndarray:
    """S-JEPA preprocessing of a ``(C, T)`` µV record: band-pass 0.5-40 Hz (zero phase), then resampling.

    At a 128 Hz target this is exactly :func:`~biojepa.adapters.eeg.transforms.preprocess_sjepa`; another
    target uses the same band-pass and polyphase resampling.

    Raises:
        ConfigError: the native rate is too low for the band (Nyquist <= 40 Hz) or a rate is not positive.
    """
    from biojepa.adapters.eeg import transforms

    if float(target_sfreq) == transforms.SJEPA_SFREQ:
        out, _ = transforms.preprocess_sjepa(x_uv, sfreq)
        return out
    filtered = transforms.bandpass(x_uv, sfreq, *transforms.SJEPA_BAND_HZ)  # (C, T)
    return transforms.resample_poly(filtered, sfreq, target_sfreq)  # (C, T')


def _short_hash(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:10]


def _check_units(signal: Any) -> None:
    units = getattr(signal, "units", None)
    if units is not None and str(units).strip().lower() not in _UV:
        raise ContractError(
            f"EEG sources deliver microvolts but the model expects units {units!r}; use an EEG model whose "
            "signal contract has units 'uV'"
        )


def canonical_channels(names: Sequence[str]) -> list[str]:
    """Canonical spellings of channel names (no montage lookup).

    Raises:
        ConfigError: ``names`` is a string, or two names are the same after canonicalisation.
    """
    from biojepa.adapters.eeg.positions import canonical_eeg_name

    if isinstance(names, str):
        raise ConfigError(f"channel names must be a list, found the string {names!r}")
    canon = [canonical_eeg_name(n) for n in names]
    if len(set(canon)) != len(canon):
        dups = sorted({c for c in canon if canon.count(c) > 1})
        raise ConfigError(f"channel names must be unique after canonicalisation, found duplicates {dups}")
    return canon


def _contract_channels(signal: Any) -> list[str] | None:
    if signal is None or not getattr(signal, "channels", None):
        return None
    return canonical_channels(list(signal.channels))


# ---------------------------------------------------------------------------------------------------------
# listing records
# ---------------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RecordRef:
    """One file of a dataset: where it is and what it belongs to.

    Attributes:
        record_id: id in the cache and in errors (``"S001R03"``, ``"subject1/session1/data_..."``, a path).
        path: the file.
        reader: ``"edf"`` (any MNE-readable file) or ``"muse"``.
        subject: subject label (``"S001"``, ``"subject1"``) or ``""``.
        session: session label or ``""``.
        run: run label (``"R03"``, the file stem) or ``""``.
    """

    record_id: str
    path: Path
    reader: str
    subject: str = ""
    session: str = ""
    run: str = ""


def _need_dir(root: Path | None, ds_id: str) -> Path:
    if root is None:
        raise ConfigError(f"dataset {ds_id!r} needs a folder: pass --data {ds_id}=DIR")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ConfigError(
            f"data folder {root} for dataset {ds_id!r} does not exist; pass --data {ds_id}=DIR with the "
            f"folder described in `biojepa datasets info {ds_id}`"
        )
    return root


def list_eegmmidb(
    root: Path, subjects: Any = None, runs: Any = None
) -> tuple[list[RecordRef], dict[str, Any]]:
    """The EDF runs of an eegmmidb release folder (``S001/S001R03.edf``; a flat folder of runs also works).

    Args:
        root: the release folder.
        subjects: subject numbers to keep (default: all found).
        runs: run numbers to keep (default: all found).

    Returns:
        The records sorted by subject and run, and provenance facts (subjects, runs, missing files).

    Raises:
        ConfigError: a requested subject has no file, or nothing matches.
    """
    root = Path(root)
    found: dict[tuple[int, int], Path] = {}
    for p in sorted([*root.glob("S[0-9][0-9][0-9]/*.edf"), *root.glob("*.edf")]):
        m = _EEGMMIDB_FILE.match(p.name)
        if m is not None:
            found.setdefault((int(m.group(1)), int(m.group(2))), p)
    if not found:
        raise ConfigError(
            f"no eegmmidb runs (S<sss>/S<sss>R<rr>.edf) under {root}; pass the release folder that holds "
            "S001/ ... S109/"
        )
    have_subjects = sorted({s for s, _ in found})
    want_s = parse_int_list(subjects, "subjects") if subjects is not None else have_subjects
    absent = [s for s in want_s if s not in have_subjects]
    if absent:
        raise ConfigError(
            f"eegmmidb subjects {absent} have no EDF file under {root}; "
            f"subjects found: {_ranges(have_subjects)}"
        )
    want_r = parse_int_list(runs, "runs") if runs is not None else None
    refs: list[RecordRef] = []
    missing: list[str] = []
    for s in want_s:
        have_r = sorted(r for ss, r in found if ss == s)
        for r in want_r if want_r is not None else have_r:
            p = found.get((s, r))
            if p is None:
                missing.append(f"S{s:03d}R{r:02d}")
                continue
            refs.append(RecordRef(f"S{s:03d}R{r:02d}", p, "edf", f"S{s:03d}", "", f"R{r:02d}"))
    if missing:
        log.warning("eegmmidb: %d requested runs have no file under %s: %s", len(missing), root, missing[:10])
    if not refs:
        raise ConfigError(f"eegmmidb: no file under {root} for subjects {want_s} and runs {want_r}")
    facts = {
        "subjects": [f"S{s:03d}" for s in want_s],
        "runs": sorted({int(r.run[1:]) for r in refs}),
        "missing_files": missing,
    }
    return refs, facts


def _ranges(values: Sequence[int]) -> str:
    return ", ".join(str(v) for v in values[:20]) + (" ..." if len(values) > 20 else "")


def list_muse(
    root: Path, subjects: Any = None, sessions: Any = None
) -> tuple[list[RecordRef], dict[str, Any]]:
    """The CSV runs of an eeg-notebooks folder (``subject<N>/session<M>/data_<date-time>.csv``).

    Raises:
        ConfigError: a requested subject has no file, or nothing matches.
    """
    root = Path(root)
    rows: list[tuple[int, int, Path]] = []
    for p in sorted(root.glob("subject*/session*/*.csv")):
        ms, mm = _MUSE_SUBJECT.match(p.parts[-3]), _MUSE_SESSION.match(p.parts[-2])
        if ms is not None and mm is not None:
            rows.append((int(ms.group(1)), int(mm.group(1)), p))
    if not rows:
        raise ConfigError(
            f"no eeg-notebooks runs (subject<N>/session<M>/*.csv) under {root}; pass the folder that holds "
            "the subject<N>/ folders (e.g. data/visual/P300/)"
        )
    have = sorted({s for s, _, _ in rows})
    want_s = parse_int_list(subjects, "subjects") if subjects is not None else have
    absent = [s for s in want_s if s not in have]
    if absent:
        raise ConfigError(f"subjects {absent} have no run under {root}; subjects found: {_ranges(have)}")
    want_m = parse_int_list(sessions, "sessions") if sessions is not None else None
    refs = [
        RecordRef(
            p.relative_to(root).with_suffix("").as_posix(), p, "muse", f"subject{s}", f"session{m}", p.stem
        )
        for s, m, p in rows
        if s in want_s and (want_m is None or m in want_m)
    ]
    if not refs:
        raise ConfigError(f"no run under {root} for subjects {want_s} and sessions {want_m}")
    facts = {
        "subjects": sorted({r.subject for r in refs}, key=lambda v: int(v[7:])),
        "sessions": sorted({f"{r.subject}/{r.session}" for r in refs}),
    }
    return refs, facts


def list_files(root: Path, pattern: Any = None) -> tuple[list[RecordRef], dict[str, Any]]:
    """EEG files under ``root`` matching ``pattern`` (a glob or a list of globs relative to ``root``).

    The default picks every file with a suffix of :data:`FILE_SUFFIXES`, recursively (BrainVision ``.vmrk`` /
    ``.eeg`` and EEGLAB ``.fdt`` companions are read through their header).

    Raises:
        ConfigError: a malformed pattern, or no file matches.
    """
    root = Path(root)
    if pattern is None:
        paths = [p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(FILE_SUFFIXES)]
        shown = "all of " + ", ".join(FILE_SUFFIXES)
    else:
        pats = [pattern] if isinstance(pattern, str) else pattern
        if not isinstance(pats, Sequence) or not pats or not all(isinstance(s, str) and s for s in pats):
            raise ConfigError(f"pattern must be a glob string or a list of them, found {pattern!r}")
        paths = [p for s in pats for p in root.glob(s) if p.is_file()]
        shown = ", ".join(pats)
    paths = sorted(set(paths))
    if not paths:
        raise ConfigError(
            f"no EEG file under {root} matches {shown}; check the folder and data.eeg_files.pattern"
        )
    refs = []
    for p in paths:
        rel = p.relative_to(root)
        refs.append(RecordRef(rel.as_posix(), p, "edf", "", "", rel.name))
    return refs, {"pattern": pattern if pattern is not None else list(FILE_SUFFIXES)}


# ---------------------------------------------------------------------------------------------------------
# loading one record (module level: picklable)
# ---------------------------------------------------------------------------------------------------------
def _fingerprint(x: np.ndarray) -> str:
    from biojepa.data.signal import fingerprint

    return fingerprint(x)


def read_ref(ref: RecordRef, montage: str | None = "standard_1005") -> Record:
    """Read one listed file at its native rate (µV, canonical channel names, unit-head positions)."""
    from biojepa.adapters.eeg import readers

    if ref.reader == "muse":
        return readers.read_muse_csv(ref.path, record_id=ref.record_id, montage=montage)
    return readers.read_eeg_file(ref.path, record_id=ref.record_id, montage=montage)


def select_channels(
    rec: Record, channels: Sequence[str] | None, *, skip: bool = False
) -> tuple[np.ndarray, list[str]]:
    """The rows of ``rec`` for ``channels`` (canonical names), in that order.

    Returns:
        ``((C', T) samples, channel names)``; all of the record's channels when ``channels`` is None.

    Raises:
        ContractError: a channel is missing (``skip=False``); CorruptRecordError when ``skip=True``.
    """
    if channels is None:
        return rec.signal, list(rec.channels)
    where = {c: i for i, c in enumerate(rec.channels)}
    missing = [c for c in channels if c not in where]
    if missing:
        msg = (
            f"record {rec.record_id!r} lacks the model channel(s) {missing} (it has {list(rec.channels)}); "
            "use a model whose channels the data has, or pass missing='skip' to leave such records out"
        )
        if skip:
            raise CorruptRecordError(rec.record_id, f"lacks the model channel(s) {missing}")
        raise ContractError(msg)
    idx = [where[c] for c in channels]
    return rec.signal[idx], list(channels)  # (C', T)


def _load(
    ref: RecordRef, channels: list[str] | None, sfreq: float, montage: str | None, skip: bool
) -> Record:
    rec = read_ref(ref, montage)
    x, names = select_channels(rec, channels, skip=skip)  # (C', T)
    try:
        y = preprocess_to(x, rec.sfreq, sfreq)  # (C', T')
    except (ConfigError, ValueError) as exc:
        raise CorruptRecordError(
            ref.record_id, f"cannot band-pass/resample at {rec.sfreq:g} Hz: {exc}"
        ) from None
    meta = {
        "subject": ref.subject,
        "session": ref.session,
        "run": ref.run,
        "sfreq_native": rec.sfreq,
        "n_times_native": rec.n_times,
        "fingerprint": _fingerprint(rec.signal),
    }
    return Record(y, float(sfreq), tuple(names), "uV", ref.record_id, meta=meta)


def _same_channels(
    loaders: Iterable[Callable[[], Record]], skip: bool
) -> Iterator[Callable[[], Record] | Record]:
    """Records whose channels (names and order) equal those of the first good record (``signal=None``)."""
    first: tuple[str, ...] | None = None
    for ld in loaders:
        try:
            rec = ld()
        except CorruptRecordError as exc:
            yield _raiser(exc)
            continue
        if first is None:
            first = rec.channels
        elif rec.channels != first:
            reason = (
                f"has channels {list(rec.channels)} but the first record has {list(first)}; without a model "
                "contract all records of a source must share their channels: give a signal contract (model) "
                "or pass missing='skip'"
            )
            if skip:
                yield _raiser(CorruptRecordError(rec.record_id, reason))
                continue
            raise ContractError(f"record {rec.record_id!r} {reason}")
        yield rec


def _raiser(exc: CorruptRecordError) -> Callable[[], Record]:
    def f() -> Record:
        raise exc

    return f


# ---------------------------------------------------------------------------------------------------------
# sources
# ---------------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class EegPrepareResult:
    """What :meth:`EegFileSource.prepare` did.

    Attributes:
        cache_path: the cache directory.
        built: whether it was built now (False: an existing cache was reused).
        report: the build report (None when reused).
        n_ok: records in the cache.
        n_quarantined: records quarantined (listed in ``cache_path/quarantine.csv``).
        provenance: facts about the selection (subjects, runs, channels, ...).
    """

    cache_path: Path
    built: bool
    report: CacheReport | None
    n_ok: int
    n_quarantined: int
    provenance: dict[str, Any]


class EegFileSource:
    """An EEG dataset read from files (see the module docstring).

    Args:
        ds_id: dataset id (card name).
        layout: ``"eegmmidb"``, ``"muse"`` or ``"files"``.
    """

    def __init__(self, ds_id: str, layout: str) -> None:
        if layout not in _LAYOUT_PARAMS:
            raise ConfigError(f"unknown EEG layout {layout!r}; expected one of {sorted(_LAYOUT_PARAMS)}")
        self.id = ds_id
        self.layout = layout

    @property
    def card(self) -> DatasetCard:
        """The dataset card."""
        return load_card(self.id)

    def check_params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validate ``params`` (``data.sources[].params``); unknown keys or bad values raise ConfigError."""
        from biojepa.data.sources import check_source_params

        params = check_source_params(self.id, params, _COMMON_PARAMS | _LAYOUT_PARAMS[self.layout])
        missing = params.get("missing", "error")
        if missing not in ("error", "skip"):
            raise ConfigError(f"data.{self.id}.missing must be 'error' or 'skip', found {missing!r}")
        frac = params.get("max_bad_fraction", 0.05)
        if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0.0 <= float(frac) <= 1.0:
            raise ConfigError(f"data.{self.id}.max_bad_fraction must be a number in [0, 1], found {frac!r}")
        montage = params.get("montage", "standard_1005")
        if montage is not None and (not isinstance(montage, str) or not montage):
            raise ConfigError(
                f"data.{self.id}.montage must be an MNE montage name or null, found {montage!r}"
            )
        for key in ("subjects", "runs", "sessions"):
            if params.get(key) is not None:
                parse_int_list(params[key], f"data.{self.id}.{key}")
        return params

    def _content_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("subjects", "runs", "sessions"):
            if params.get(key) is not None:
                out[key] = parse_int_list(params[key], key)
        if self.layout == "files":
            out["pattern"] = params.get("pattern")
            out["montage"] = params.get("montage", "standard_1005")
        out["missing"] = params.get("missing", "error")
        return out

    def cache_path(
        self,
        root: Path,
        cache_dir: Path,
        sfreq: float,
        channels: Sequence[str] | None,
        params: Mapping[str, Any],
    ) -> Path:
        """Where the cache of ``root`` at ``sfreq`` with ``channels`` and ``params`` lives."""
        key = {
            "dataset": self.id,
            "root": str(Path(root).expanduser().absolute()),
            "params": self._content_params(params),
            "channels": list(channels) if channels is not None else None,
            "version": PREPROCESSING_VERSION,
        }
        return Path(cache_dir).expanduser().absolute() / self.id / f"{float(sfreq):g}hz-{_short_hash(key)}"

    def list_records(self, root: Path, params: Mapping[str, Any]) -> tuple[list[RecordRef], dict[str, Any]]:
        """The files of ``root`` selected by ``params`` and provenance facts."""
        if self.layout == "eegmmidb":
            return list_eegmmidb(root, params.get("subjects"), params.get("runs"))
        if self.layout == "muse":
            return list_muse(root, params.get("subjects"), params.get("sessions"))
        return list_files(root, params.get("pattern"))

    def scan(self, root: Path, params: Mapping[str, Any] | None = None) -> list[Callable[[], ScanResult]]:
        """Header checks of the files pretraining would read from ``root`` (``biojepa datasets verify``).

        EDF/BDF headers are parsed without reading samples and other formats are opened with
        ``preload=False`` (:func:`~biojepa.adapters.eeg.readers.check_eeg_header`); eeg-notebooks Muse CSVs
        are small and read whole (:func:`~biojepa.adapters.eeg.readers.read_muse_csv`).

        Raises:
            ConfigError: bad parameters, a missing folder or no matching file.
        """
        from biojepa.adapters.eeg import readers
        from biojepa.data.verify import check_record

        root = _need_dir(root, self.id)
        params = self.check_params(params)
        refs, _ = self.list_records(root, params)
        checks: list[Callable[[], ScanResult]] = []
        for ref in refs:
            if ref.reader == "muse":
                check = functools.partial(
                    readers.read_muse_csv, ref.path, record_id=ref.record_id, montage=None
                )
            else:
                check = functools.partial(readers.check_eeg_header, ref.path, record_id=ref.record_id)
            checks.append(functools.partial(check_record, ref.record_id, ref.path.as_posix(), check))
        return checks

    def prepare(
        self,
        root: Path,
        *,
        cache_dir: Path,
        sfreq: float = 128.0,
        channels: Sequence[str] | None = None,
        params: Mapping[str, Any] | None = None,
        progress: Callable[[int, int], None] | None = None,
        rebuild: bool = False,
    ) -> EegPrepareResult:
        """Build (or reuse) the memory-mapped cache of ``root`` at ``sfreq`` with ``channels``.

        Args:
            root: the dataset folder.
            cache_dir: the cache root (the cache goes to ``cache_dir/<id>/<key>``).
            sfreq: the model's sampling rate.
            channels: the model's channels (canonical names, in order), or None to keep each record's own
                (then all records must share them).
            params: dataset parameters (see the card and the module docstring).
            progress: ``progress(done, total)`` after each record.
            rebuild: rebuild even if a valid cache exists.

        Raises:
            ConfigError: bad parameters, a missing folder or no matching file.
            ContractError: a record lacks a model channel (``missing="error"``), or records disagree on their
                channels when ``channels`` is None.
            DataError: too many bad records (the quarantine report is written beside the cache).
        """
        root = _need_dir(root, self.id)
        params = self.check_params(params)
        chans = list(channels) if channels is not None else None
        path = self.cache_path(root, cache_dir, sfreq, chans, params)
        limit = float(params.get("max_bad_fraction", 0.05))
        reused = None if rebuild else reuse_cache(path, self.id, limit)
        if reused is not None:
            cache, n_bad, prov = reused
            return EegPrepareResult(path, False, None, cache.n_records, n_bad, prov)
        refs, facts = self.list_records(root, params)
        skip = params.get("missing", "error") == "skip"
        montage = params.get("montage", "standard_1005")
        loaders: list[Callable[[], Record]] = [
            functools.partial(_load, ref, chans, float(sfreq), montage, skip) for ref in refs
        ]
        items: Iterable[Callable[[], Record] | Record] = (
            loaders if chans is not None else _same_channels(loaders, skip)
        )
        total = len(loaders)
        provenance = {
            "root": str(root.absolute()),
            "n_files": total,
            **facts,
            "channels": chans if chans is not None else "as recorded",
            "sfreq": float(sfreq),
            "preprocessing": PREPROCESSING,
            "preprocessing_version": PREPROCESSING_VERSION,
        }
        report = build_cache(
            items,
            path,
            dataset_id=self.id,
            max_bad_fraction=limit,
            progress=(lambda k: progress(k, total)) if progress else None,
            overwrite=True,
            extra_columns=EXTRA_COLUMNS,
            extra_meta={
                "provenance": provenance,
                "sfreq": float(sfreq),
                "params": self._content_params(params),
                "channels": chans,
                "preprocessing_version": PREPROCESSING_VERSION,
            },
        )
        if report.n_quarantined:
            log.warning(
                "%s: %d of %d records quarantined, see %s",
                self.id,
                report.n_quarantined,
                total,
                report.quarantine_path,
            )
        return EegPrepareResult(path, True, report, report.n_ok, report.n_quarantined, provenance)

    def open(
        self,
        root: Path | None,
        *,
        cache_dir: Path,
        params: Mapping[str, Any] | None = None,
        signal: Any = None,
    ) -> SubsetStore:
        """The preprocessed records of ``root`` for a model with contract ``signal`` (µV, not normalised).

        Records shorter than the model window ``signal.n_times`` are left out (counted in
        ``provenance["n_too_short"]`` and logged by id).

        Raises:
            ConfigError: no folder, bad parameters.
            ContractError: the model does not take µV, or a record lacks a model channel.
            DataError: too many bad records, or no record is one window long.
        """
        root = _need_dir(root, self.id)
        _check_units(signal)
        sfreq = float(signal.sfreq) if signal is not None and getattr(signal, "sfreq", None) else 128.0
        n_times = int(signal.n_times) if signal is not None else 1
        res = self.prepare(
            root, cache_dir=cache_dir, sfreq=sfreq, channels=_contract_channels(signal), params=params
        )
        cache = Cache.open(res.cache_path)
        lengths = np.asarray(cache.lengths)
        keep = np.flatnonzero(lengths >= n_times)
        short = np.flatnonzero(lengths < n_times)
        if short.size:
            log.warning(
                "%s: %d records shorter than the %d-sample window are not used: %s%s",
                self.id,
                short.size,
                n_times,
                ", ".join(cache.record_id(int(i)) for i in short[:10]),
                " ..." if short.size > 10 else "",
            )
        if keep.size == 0:
            raise DataError(
                f"dataset {self.id!r}: no record is at least {n_times} samples ({n_times / sfreq:g} s) long; "
                "use a shorter model window or longer recordings"
            )
        store = SubsetStore(cache, keep)
        idx = cache.index.iloc[keep]
        provenance = dict(cache.meta.get("extra", {}).get("provenance", res.provenance))
        provenance.update(
            {
                "n_records": int(keep.size),
                "n_quarantined": int(cache.meta.get("n_quarantined", 0)),
                "n_too_short": int(short.size),
                "subjects_used": sorted({s for s in idx["subject"] if s}),
                "hours": round(float(lengths[keep].sum()) / sfreq / 3600.0, 4),
            }
        )
        store.provenance = provenance  # type: ignore[attr-defined]
        return store


for _id, _layout in (
    ("eegmmidb", "eegmmidb"),
    ("eegnb_p300", "muse"),
    ("eegnb_ssvep", "muse"),
    ("eeg_files", "files"),
):
    DATASETS.register(_id, modality="eeg", reader=_layout)(functools.partial(EegFileSource, _id, _layout))


@DATASETS.register("eeg_synthetic", modality="eeg", reader="generated")
class EegSyntheticSource:
    """The generated motor-imagery-like EEG corpus (:mod:`biojepa.adapters.eeg.synthetic`); no files."""

    id = "eeg_synthetic"
    PARAMS = (
        "n_records",
        "duration_s",
        "seed",
        "channels",
        "montage",
        "n_classes",
        "n_subjects",
        "n_background",
        "erd_depth",
        "noise_uv",
    )

    @property
    def card(self) -> DatasetCard:
        """The ``datasets/eeg_synthetic.yaml`` card."""
        return load_card(self.id)

    def open(
        self,
        root: Path | None = None,
        *,
        cache_dir: Path | None = None,
        params: Mapping[str, Any] | None = None,
        signal: Any = None,
    ) -> ArrayStore:
        """Generate the corpus at the model's rate and channels (µV, not normalised).

        Args:
            root: must be None (the data is generated).
            cache_dir: unused.
            params: any of :attr:`PARAMS` (see :class:`~biojepa.adapters.eeg.synthetic.EegSynthSpec`).
            signal: the model's signal contract: its ``sfreq`` (default 128 Hz) and ``channels`` (default the
                19 10-20 electrodes, or ``params["channels"]``) are used; records are at least one window long
                unless ``duration_s`` is given.

        Returns:
            An :class:`~biojepa.data.cache.ArrayStore` with ``labels``, ``subjects`` and ``provenance``.

        Raises:
            ConfigError: a directory was given, an unknown or invalid parameter, or ``duration_s``
                shorter than the model window.
            ContractError: ``params["channels"]`` disagrees with the model's channels, a channel has no
                standard position, or the model does not take µV.
        """
        from biojepa.adapters.eeg.synthetic import CLASS_NAMES, EegSynthSpec, _simulate
        from biojepa.data.sources import check_generated_params

        params = check_generated_params(self.id, root, params, self.PARAMS)
        _check_units(signal)
        sfreq = float(signal.sfreq) if signal is not None and getattr(signal, "sfreq", None) else 128.0
        want = _contract_channels(signal)
        if "channels" in params:
            given = params["channels"]
            if isinstance(given, str) or not isinstance(given, Sequence):
                raise ConfigError(f"eeg_synthetic channels must be a list of names, found {given!r}")
            given_c = canonical_channels(list(given))
            if want is not None and given_c != want:
                raise ContractError(
                    f"eeg_synthetic channels {given_c} differ from the model's channels {want}; drop the "
                    "channels parameter (the model's channels are used) or make them equal"
                )
            want = given_c
        if want is not None:
            params["channels"] = tuple(want)
        n_times = int(signal.n_times) if signal is not None else 1
        if "duration_s" not in params:
            params["duration_s"] = max(8.0, n_times / sfreq)
        try:
            spec = EegSynthSpec(sfreq=sfreq, **params)
        except TypeError as exc:
            raise ConfigError(f"invalid eeg_synthetic parameters {params}: {exc}") from None
        if spec.n_times < n_times:
            raise ConfigError(
                f"eeg_synthetic duration_s={spec.duration_s:g} gives {spec.n_times} samples at {sfreq:g} Hz, "
                f"shorter than the model window of {n_times}; raise duration_s to >= {n_times / sfreq:g}"
            )
        x, y, subj = _simulate(spec)  # (N, C, T), (N,), (N,)
        store = ArrayStore(
            x,
            sfreq=sfreq,
            channels=spec.channels,
            units="uV",
            record_ids=[f"eegsyn-{spec.seed}-{i:05d}" for i in range(len(x))],
            labels=y,
            dataset_id=self.id,
        )
        store.subjects = np.array([f"synth{s + 1:02d}" for s in subj])  # type: ignore[attr-defined]
        store.provenance = {  # type: ignore[attr-defined]
            "generated": True,
            "seed": spec.seed,
            "n_records": spec.n_records,
            "n_subjects": spec.n_subjects,
            "n_classes": spec.n_classes,
            "class_names": list(CLASS_NAMES[: spec.n_classes]),
            "channels": list(spec.channels),
            "sfreq": sfreq,
            "duration_s": spec.duration_s,
        }
        return store
