"""EEG readers: files, MNE objects and arrays -> validated :class:`~biojepa.data.record.Record`.

Every reader returns ``float32 (C, T)`` samples in **microvolts** (MNE's volts x 1e6) at the recording's
**native** sampling rate, canonical channel names (:func:`~biojepa.adapters.eeg.positions.canonical_eeg_name`:
``'Fc5.'`` -> ``'FC5'``) and ``positions`` ``(C, 3)`` on the **unit head**
(:func:`~biojepa.adapters.eeg.positions.normalize_positions`). Nothing is resampled, filtered or re-referenced
here. Readers decode, scale to µV, interpolate NaN samples and reject records that cannot be used with a
:class:`~biojepa.errors.CorruptRecordError` naming the record and the reason.

============================================  ==============================================================
input                                         reader
============================================  ==============================================================
EDF/EDF+, BDF, GDF, BrainVision (``.vhdr``),  :func:`read_eeg_file` (``mne.io.read_raw``; EDF+ annotations ->
EEGLAB (``.set``), FIF (``*_raw.fif``)        ``meta["events"]``); eegmmidb is EDF+ with BCI2000 names
``mne.io.Raw`` in memory                      :func:`read_raw`
``mne.Epochs``                                :func:`read_epochs` (arrays, braindecode/MOABB style)
``(X, chs_info, sfreq)``                      :func:`from_array` (braindecode ``chs_info`` or plain names)
eeg-notebooks Muse CSV (P300, SSVEP)          :func:`read_muse_csv` (TP9, AF7, AF8, TP10; ``Right AUX`` dropped)
============================================  ==============================================================

Positions: ``info["chs"][i]["loc"][:3]`` (MNE head frame, metres) where finite, else the named montage's
position for the channel's name (:func:`~biojepa.adapters.eeg.positions.standard_positions`). With a montage,
the centre and the unit radius are those of the **whole montage**, so a channel gets the same coordinates in
every recording (a 4-electrode Muse headband and a 64-channel cap agree on AF7). Positions that do not sit on
a head of that size (a custom frame or unit) are normalised on their own sphere instead
(``meta["positions_normalization"]`` says which). Channels without a position keep NaN rows and trigger a
:class:`~biojepa.adapters.eeg.positions.MissingPositionWarning`; a recording with no position at all raises
:class:`~biojepa.errors.ContractError` saying how to set a montage.

Common ``meta`` keys: ``format``, ``path`` (None in memory), ``events`` (list of ``(onset_s, duration_s,
description)`` with onsets from the first returned sample), ``original_channels``, ``position_source`` (per
channel ``"loc"``, ``"montage"`` or ``"missing"``), ``positions_normalization``, ``n_nan_interpolated``,
``n_nan_channels``.
"""

from __future__ import annotations

import csv
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from biojepa._optional import require
from biojepa.adapters.eeg.positions import (
    DEFAULT_MONTAGE,
    MONTAGE_HINT,
    MissingPositionWarning,
    canonical_eeg_name,
    montage_positions,
    normalize_positions,
    standard_positions,
)
from biojepa.data.record import Record
from biojepa.data.signal import F32_MAX, fill_nonfinite, float32_overflow
from biojepa.errors import (
    BioJepaError,
    ConfigError,
    ContractError,
    CorruptRecordError,
    OptionalDependencyError,
)

if TYPE_CHECKING:  # pragma: no cover
    import mne

__all__ = [
    "MAX_EEG_SAMPLES",
    "MUSE_CHANNELS",
    "MUSE_SFREQ",
    "EdfHeader",
    "check_eeg_header",
    "from_array",
    "read_edf_header",
    "read_eeg_file",
    "read_epochs",
    "read_muse_csv",
    "read_raw",
]

#: The four EEG electrodes of the Muse 2016 headband, in the column order of the eeg-notebooks CSVs.
MUSE_CHANNELS: tuple[str, ...] = ("TP9", "AF7", "AF8", "TP10")

#: Nominal sampling rate of the Muse 2016 headband in Hz.
MUSE_SFREQ: float = 256.0

#: Largest number of samples (channels x samples per channel) a reader accepts; checked on the EDF/BDF header,
#: before MNE allocates its float64 buffer (2**28 samples are 2 GiB). 24 h of 64 channels at 160 Hz is
#: about 8.8e8 samples: crop such recordings into shorter files first.
MAX_EEG_SAMPLES: int = 2**28

#: An estimated Muse sampling rate within this relative distance of :data:`MUSE_SFREQ` is snapped to it.
_MUSE_SNAP_REL = 0.01

#: LSL chunk timestamps jitter back by up to ~15 ms in the 2017 files; a larger backward jump is an error.
_MUSE_MAX_JITTER_S = 0.1

#: Physical unit (lower-case) -> factor to microvolts.
_TO_UV: dict[str, float] = {"uv": 1.0, "µv": 1.0, "μv": 1.0, "mv": 1e3, "v": 1e6, "nv": 1e-3}

#: File suffix -> ``meta["format"]`` (anything else is still tried with ``mne.io.read_raw``).
_FORMATS: dict[str, str] = {
    ".edf": "edf",
    ".bdf": "bdf",
    ".gdf": "gdf",
    ".vhdr": "brainvision",
    ".set": "eeglab",
    ".fif": "fif",
    ".gz": "fif",
}

#: FIFF code of volts (``mne.io.constants.FIFF.FIFF_UNIT_V``).
_FIFF_UNIT_V = 107

#: MNE channel types measured by electrodes in volts (stim, misc, MEG, fNIRS, ... are refused).
_ELECTRODE_TYPES: frozenset[str] = frozenset({"eeg", "eog", "ecg", "emg", "seeg", "ecog", "dbs", "bio"})

#: A normalised position farther than this from the template's unit sphere means "not MNE head-frame metres".
_MAX_RADIUS_RATIO = 2.0

_DUPLICATE_WARNING = re.compile(r"channel names are not unique", re.IGNORECASE)
_MARKER_COLUMN = re.compile(r"^Marker\d*$")


def _mne() -> ModuleType:
    return require("mne", extra="eeg", purpose="reading EEG recordings")


# --------------------------------------------------------------------------------------------------------
# shared validation


def _check_sfreq(sfreq: Any, expected: float | None, rid: str) -> float:
    try:
        fs = float(sfreq)
    except (TypeError, ValueError):
        raise CorruptRecordError(rid, f"sampling rate {sfreq!r} is not a number in Hz") from None
    if not math.isfinite(fs) or fs <= 0:
        raise CorruptRecordError(
            rid, f"sampling rate {sfreq!r} Hz is not finite and > 0; check the file header"
        )
    if expected is not None and not math.isclose(fs, float(expected), rel_tol=1e-9, abs_tol=1e-9):
        raise CorruptRecordError(
            rid,
            f"sampling rate is {fs:g} Hz but {float(expected):g} Hz was expected; check the dataset card "
            "(expected_sfreq) or resample the source",
        )
    return fs


def _check_montage(montage: str | None) -> None:
    if montage is not None and (not isinstance(montage, str) or not montage):
        raise ConfigError(f"montage must be a built-in MNE montage name or None, found {montage!r}")


def _canonical_names(names: Sequence[str], rid: str) -> tuple[str, ...]:
    """Canonical channel names; duplicates (before or after canonicalisation) raise CorruptRecordError."""
    out = tuple(canonical_eeg_name(str(n)) for n in names)
    if any(not n for n in out):
        bad = [str(names[i]) for i, n in enumerate(out) if not n]
        raise CorruptRecordError(rid, f"empty channel name(s) {bad}; every channel needs a label")
    if len(set(out)) != len(out):
        groups: dict[str, list[str]] = {}
        for raw_name, canon in zip(names, out, strict=True):
            groups.setdefault(canon, []).append(str(raw_name))
        dups = {k: v for k, v in groups.items() if len(v) > 1}
        raise CorruptRecordError(
            rid,
            f"duplicate channel names {dups} (canonical name: names as stored); every channel must be unique — "
            "rename or drop the duplicates before reading",
        )
    return out


def _interpolate(x: np.ndarray, rid: str, channels: Sequence[str]) -> tuple[np.ndarray, int, int]:
    """Linear interpolation of non-finite samples per channel (edges take the nearest finite value).

    Returns ``(x without non-finite values, samples replaced, channels touched)``; an all-NaN channel raises.
    """
    if np.isfinite(x).all():
        return x, 0, 0
    out, n_bad, empty, n_rows = fill_nonfinite(x)  # (C, T)
    if empty.size:
        c = int(empty[0])
        raise CorruptRecordError(
            rid,
            f"channel {channels[c]} has no finite sample (all {x.shape[1]} are NaN/inf); drop the channel "
            "(e.g. raw.drop_channels) or mark it bad and interpolate it before reading",
        )
    return out, n_bad, n_rows


def _check_signal(x: Any, rid: str, what: str = "signal") -> np.ndarray:
    arr = np.asarray(x)
    if (
        arr.dtype == object
        or np.iscomplexobj(arr)
        or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer))
    ):
        raise CorruptRecordError(rid, f"{what} must be a real numeric array, found dtype {arr.dtype}")
    if arr.ndim != 2:
        raise CorruptRecordError(rid, f"{what} must be 2-D (channels, times), found shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise CorruptRecordError(
            rid, f"{what} is empty (shape {arr.shape}); expected at least one channel and one sample"
        )
    return arr.astype(np.float64, copy=False)


def _loc_rows(locs: Sequence[Any]) -> np.ndarray:
    """``(C, 3)`` float64 xyz from per-channel ``loc`` values; missing, non-finite or all-zero -> NaN rows."""
    out = np.full((len(locs), 3), np.nan, dtype=np.float64)  # (C, 3)
    for i, loc in enumerate(locs):
        if loc is None:
            continue
        try:
            xyz = np.asarray(loc, dtype=np.float64).reshape(-1)[:3]  # (3,)
        except (TypeError, ValueError):
            continue
        if xyz.shape == (3,) and np.all(np.isfinite(xyz)) and np.any(xyz != 0):
            out[i] = xyz
    return out


def _positions(
    channels: Sequence[str], loc: np.ndarray, montage: str | None, rid: str
) -> tuple[np.ndarray, tuple[str, ...], str]:
    """Unit-head positions ``(C, 3)``, the source of each row and the normalisation used.

    Raises:
        ContractError: no channel has a position.
    """
    pos = np.array(loc, dtype=np.float64, copy=True)  # (C, 3)
    have = np.all(np.isfinite(pos), axis=1)  # (C,)
    source = ["loc" if h else "missing" for h in have]
    if montage is not None and not have.all():
        look = standard_positions(channels, montage)  # (C, 3)
        for i in np.flatnonzero(~have & np.all(np.isfinite(look), axis=1)):
            pos[i] = look[i]
            source[i] = "montage"
    missing = [channels[i] for i, s in enumerate(source) if s == "missing"]
    if len(missing) == len(channels):
        shown = ", ".join(list(channels)[:8]) + (", ..." if len(channels) > 8 else "")
        where = f"in montage {montage!r}" if montage is not None else "(montage=None: no lookup by name)"
        raise ContractError(
            f"record {rid!r}: none of the {len(channels)} channels ({shown}) has a position: their 'loc' is "
            f"NaN and their names are not {where}; {MONTAGE_HINT}"
        )
    if missing:
        warnings.warn(
            f"record {rid!r}: no position for channel(s) {missing} (their rows of positions are NaN); "
            f"{MONTAGE_HINT}",
            MissingPositionWarning,
            stacklevel=3,
        )
    how = "self"
    out: np.ndarray | None = None
    if montage is not None:
        _, ref = montage_positions(montage)
        cand = normalize_positions(pos, reference=ref)  # (C, 3)
        radius = np.linalg.norm(cand[np.all(np.isfinite(cand), axis=1)], axis=1)  # (n_known,)
        if np.all(radius <= _MAX_RADIUS_RATIO) and float(np.median(radius)) >= 1.0 / _MAX_RADIUS_RATIO:
            out, how = cand, f"montage:{montage}"
    if out is None:  # no montage, or positions in another frame/unit than MNE's head frame in metres
        out = normalize_positions(pos)
    return out.astype(np.float32), tuple(source), how


def _build(
    rid: str,
    x_uv: np.ndarray,
    names: Sequence[str],
    loc: np.ndarray,
    sfreq: float,
    *,
    montage: str | None,
    expected_sfreq: float | None,
    meta: dict[str, Any],
) -> Record:
    """Validate, interpolate NaN, attach positions -> Record (``x_uv`` is ``(C, T)`` in µV)."""
    fs = _check_sfreq(sfreq, expected_sfreq, rid)
    x = _check_signal(x_uv, rid)
    if len(names) != x.shape[0]:
        raise CorruptRecordError(
            rid,
            f"signal has {x.shape[0]} channels but {len(names)} channel names were given; they must match",
        )
    channels = _canonical_names(names, rid)
    top = float32_overflow(x)
    if top is not None:
        raise CorruptRecordError(
            rid,
            f"samples reach {top:.3g} µV, beyond the float32 range ({F32_MAX:.3g}); the file's gain or "
            "physical range is damaged: fix the header or drop the record",
        )
    x, n_nan, n_nan_ch = _interpolate(x, rid, channels)
    pos, source, how = _positions(channels, loc, montage, rid)
    meta = {
        **meta,
        "original_channels": tuple(str(n) for n in names),
        "position_source": source,
        "positions_normalization": how,
        "n_nan_interpolated": n_nan,
        "n_nan_channels": n_nan_ch,
    }
    return Record(x.astype(np.float32), fs, channels, "uV", rid, positions=pos, meta=meta)


# --------------------------------------------------------------------------------------------------------
# EDF / BDF headers (parsed here, before MNE allocates anything)

#: Names of the EDF+/BDF+ annotation (TAL) channels, which hold text rather than samples (as in MNE).
_TAL_NAMES = frozenset({"EDF Annotations", "BDF Annotations"})

#: Width in bytes of each per-signal header field, in file order (EDF specification, section 2.1).
_EDF_SIGNAL_FIELDS: tuple[tuple[str, int], ...] = (
    ("label", 16),
    ("transducer", 80),
    ("physical_dimension", 8),
    ("physical_min", 8),
    ("physical_max", 8),
    ("digital_min", 8),
    ("digital_max", 8),
    ("prefiltering", 80),
    ("samples_per_record", 8),
    ("reserved", 32),
)


@dataclass(frozen=True)
class EdfHeader:
    """The fields of an EDF/BDF header that decide how much data there is and how to read it.

    Attributes:
        kind: ``"edf"`` (2 bytes per sample) or ``"bdf"`` (3 bytes per sample).
        header_bytes: size of the header (``256 * (n_signals + 1)``).
        n_records_declared: number of data records the header states (``-1``: unknown, still recording).
        n_records: complete data records the file holds (what MNE reads).
        record_duration_s: duration of one data record in seconds.
        labels: the signal labels, annotation channels included.
        samples_per_record: samples of each signal in one data record.
        data_channels: indices of the signals that hold samples (not EDF+/BDF+ annotations).
        sfreq: the sampling rate of the data channels in Hz.
    """

    kind: str
    header_bytes: int
    n_records_declared: int
    n_records: int
    record_duration_s: float
    labels: tuple[str, ...]
    samples_per_record: tuple[int, ...]
    data_channels: tuple[int, ...]
    sfreq: float

    @property
    def n_times(self) -> int:
        """Samples per data channel in the complete records of the file."""
        return self.n_records * self.samples_per_record[self.data_channels[0]]


def _edf_text(raw: bytes) -> str:
    """An EDF header field as MNE reads it: latin-1, cut at the first NUL, blanks stripped."""
    return raw.decode("latin-1").split("\x00")[0].strip()


def _edf_number(raw: bytes, what: str, rid: str, name: str, *, integer: bool) -> float:
    text = _edf_text(raw)
    try:
        value = float(int(text)) if integer else float(text.replace(",", "."))
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise CorruptRecordError(
            rid, f"cannot read {name}: header field {what} is {raw!r}, expected {kind}; the header is damaged"
        ) from None
    if not math.isfinite(value):
        raise CorruptRecordError(rid, f"cannot read {name}: header field {what} is {text!r}, not finite")
    return value


def read_edf_header(path: str | Path, *, record_id: str | None = None) -> EdfHeader:
    """Parse and validate the header of an EDF/EDF+ or BDF/BDF+ file without reading any sample.

    Checks (each failure is a :class:`CorruptRecordError` saying what was found and expected): the fixed
    256-byte header and the ``256 * n_signals`` signal headers are present; the header size, number of
    signals, number of records, record duration, samples per record and digital/physical ranges are numbers
    in range; at least one signal holds samples; labels are non-empty and unique; every data channel has the
    same samples per record (mixed sampling rates are refused: MNE would silently upsample them); the file
    holds at least one complete data record; and the samples MNE would allocate stay below
    :data:`MAX_EEG_SAMPLES`. A header that declares more records than the file holds (a truncated file) or
    ``-1`` records is accepted: the complete records are read, as MNE does.

    Args:
        path: the ``.edf`` or ``.bdf`` file (the suffix decides 2- or 3-byte samples).
        record_id: identifier named in errors; defaults to the path.

    Returns:
        The :class:`EdfHeader`.

    Raises:
        CorruptRecordError: the file is missing, or its header fails one of the checks above.
    """
    p = Path(path)
    rid = str(record_id) if record_id is not None else p.as_posix()
    name = p.name
    kind = "bdf" if p.suffix.lower() == ".bdf" else "edf"
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            main = fh.read(256)
            if len(main) < 256:
                raise CorruptRecordError(
                    rid,
                    f"cannot read {name}: the file has {size} bytes, an {kind.upper()} header has at least 256 "
                    "(truncated or not an EDF/BDF file)",
                )
            n_sig = int(
                _edf_number(main[252:256], "number of signals (bytes 252-255)", rid, name, integer=True)
            )
            header_bytes = int(
                _edf_number(main[184:192], "header size (bytes 184-191)", rid, name, integer=True)
            )
            if n_sig < 1 or 256 * (n_sig + 1) > size:
                raise CorruptRecordError(
                    rid,
                    f"cannot read {name}: the header declares {n_sig} signals, which needs "
                    f"{256 * (n_sig + 1)} header bytes, but the file has {size} bytes; expected at least 1 "
                    "signal and a complete header",
                )
            if header_bytes != 256 * (n_sig + 1):
                raise CorruptRecordError(
                    rid,
                    f"cannot read {name}: the header size field says {header_bytes} bytes but {n_sig} signals "
                    f"need 256 * ({n_sig} + 1) = {256 * (n_sig + 1)}; the header is damaged",
                )
            block = fh.read(256 * n_sig)
    except OSError as exc:
        raise CorruptRecordError(rid, f"cannot read {name} ({type(exc).__name__}: {exc})") from None
    fields: dict[str, list[bytes]] = {}
    pos = 0
    for field, width in _EDF_SIGNAL_FIELDS:
        fields[field] = [block[pos + k * width : pos + (k + 1) * width] for k in range(n_sig)]
        pos += width * n_sig
    n_declared = int(
        _edf_number(main[236:244], "number of data records (bytes 236-243)", rid, name, integer=True)
    )
    duration = _edf_number(main[244:252], "record duration (bytes 244-251)", rid, name, integer=False)
    labels = tuple(raw.strip().decode("latin-1") for raw in fields["label"])  # as MNE names the channels
    spr = tuple(
        int(_edf_number(raw, f"samples per record of signal {k}", rid, name, integer=True))
        for k, raw in enumerate(fields["samples_per_record"])
    )
    if n_declared < -1:
        raise CorruptRecordError(
            rid,
            f"cannot read {name}: the header declares {n_declared} data records, expected -1 or a count >= 0",
        )
    if duration <= 0:
        raise CorruptRecordError(
            rid,
            f"cannot read {name}: the data record duration is {duration:g} s, expected > 0 (the sampling rate "
            "is samples per record / duration); the header is damaged",
        )
    bad_spr = [(labels[k], n) for k, n in enumerate(spr) if n < 1]
    if bad_spr:
        raise CorruptRecordError(
            rid,
            f"cannot read {name}: samples per data record {bad_spr} (label, value); expected >= 1 for every signal",
        )
    data = tuple(k for k, lab in enumerate(labels) if lab not in _TAL_NAMES)
    if not data:
        raise CorruptRecordError(rid, f"cannot read {name}: it holds only annotation channels, no signal")
    empty = [k for k in data if not labels[k].replace("\x00", "").strip()]
    if empty:
        raise CorruptRecordError(
            rid, f"cannot read {name}: signal(s) {empty} have an empty label; every channel needs a label"
        )
    seen: dict[str, int] = {}
    for k in data:
        seen[labels[k]] = seen.get(labels[k], 0) + 1
    dups = sorted(lab for lab, c in seen.items() if c > 1)
    if dups:
        raise CorruptRecordError(
            rid,
            f"duplicate channel names in {name}: {dups} appear more than once; every channel must be unique",
        )
    for k in data:
        for lo_f, hi_f, what in (
            ("digital_min", "digital_max", "digital"),
            ("physical_min", "physical_max", "physical"),
        ):
            lo = _edf_number(fields[lo_f][k], f"{what} minimum of signal {k}", rid, name, integer=False)
            hi = _edf_number(fields[hi_f][k], f"{what} maximum of signal {k}", rid, name, integer=False)
            if what == "digital" and lo == hi:
                raise CorruptRecordError(
                    rid,
                    f"cannot read {name}: signal {k} ({labels[k]!r}) has digital minimum = maximum = {lo:g}, so its "
                    "samples cannot be scaled to physical units (division by zero); the header is damaged",
                )
    rates = {spr[k] for k in data}
    if len(rates) > 1:
        shown = {labels[k]: spr[k] for k in data}
        raise CorruptRecordError(
            rid,
            f"{name} mixes sampling rates: samples per {duration:g}-s record differ across channels {shown}; "
            "biojepa refuses mixed rates instead of letting MNE upsample them silently: drop or resample the "
            "odd channels (e.g. with MNE) and save the file again",
        )
    bytes_per_sample = 3 if kind == "bdf" else 2
    record_bytes = sum(spr) * bytes_per_sample
    n_records = (size - header_bytes) // record_bytes
    if n_records < 1:
        raise CorruptRecordError(
            rid,
            f"cannot read {name}: the file holds {size - header_bytes} data bytes, less than one data record "
            f"({record_bytes} bytes = {sum(spr)} samples x {bytes_per_sample} bytes); the file is truncated or "
            "its samples-per-record fields are damaged",
        )
    n_alloc = len(data) * n_records * max(spr)
    if n_alloc > MAX_EEG_SAMPLES:
        raise CorruptRecordError(
            rid,
            f"{name} holds {len(data)} channels x {n_records} records x {max(spr)} samples = {n_alloc} samples, "
            f"more than the reader's limit of {MAX_EEG_SAMPLES} (biojepa.adapters.eeg.readers.MAX_EEG_SAMPLES); "
            "crop the recording into shorter files",
        )
    sfreq = spr[data[0]] / duration
    if not math.isfinite(sfreq) or sfreq <= 0:
        raise CorruptRecordError(rid, f"cannot read {name}: sampling rate {sfreq!r} Hz is not finite and > 0")
    return EdfHeader(kind, header_bytes, n_declared, n_records, duration, labels, spr, data, sfreq)


def check_eeg_header(path: str | Path, *, record_id: str | None = None) -> dict[str, Any]:
    """Check an EEG file without reading its samples (``biojepa datasets verify``).

    EDF/BDF headers are parsed by :func:`read_edf_header`; any other format is opened with
    ``mne.io.read_raw(preload=False)``, which reads its header only. Channel names must be unique after
    canonicalisation.

    Args:
        path: the file.
        record_id: identifier named in errors; defaults to the path.

    Returns:
        ``{"n_channels", "sfreq", "n_times", "channels"}`` (channels as stored).

    Raises:
        CorruptRecordError: missing file, damaged header, mixed sampling rates, duplicate names.
    """
    p = Path(path)
    rid = str(record_id) if record_id is not None else p.as_posix()
    if not p.is_file():
        raise CorruptRecordError(rid, f"file {p} not found; check the path and the dataset root")
    if p.suffix.lower() in (".edf", ".bdf"):
        hdr = read_edf_header(p, record_id=rid)
        names = [hdr.labels[k] for k in hdr.data_channels]
        sfreq, n_times = hdr.sfreq, hdr.n_times
    else:
        raw, _ = _open_raw(p, rid, preload=False)
        names, sfreq, n_times = list(raw.ch_names), float(raw.info["sfreq"]), int(raw.n_times)
    _check_sfreq(sfreq, None, rid)
    _canonical_names(names, rid)
    return {"n_channels": len(names), "sfreq": sfreq, "n_times": n_times, "channels": names}


# --------------------------------------------------------------------------------------------------------
# MNE objects


def _pick_indices(inst: Any, picks: str | Sequence[str], rid: str) -> list[int]:
    """Indices of the picked channels: ``"all"``, a channel type (``"eeg"``), or a sequence of names/types."""
    names = list(inst.ch_names)
    types = list(inst.get_channel_types())
    if isinstance(picks, str):
        wanted: Sequence[str] = [picks]
    elif isinstance(picks, Sequence) and all(isinstance(p, str) for p in picks):
        wanted = picks
    else:
        raise ConfigError(
            f"picks must be 'all', a channel type such as 'eeg', or a list of names, found {picks!r}"
        )
    out: list[int] = []
    for p in wanted:
        if p == "all":
            hits = list(range(len(names)))
        elif p in names:
            hits = [names.index(p)]
        elif p in types:
            hits = [i for i, t in enumerate(types) if t == p]
        else:
            raise CorruptRecordError(
                rid,
                f"picks {p!r} matches no channel name or type (types present: {sorted(set(types))}); "
                "pick an existing type such as 'eeg' or set the channel types (raw.set_channel_types)",
            )
        out.extend(i for i in hits if i not in out)
    if not out:
        raise CorruptRecordError(rid, f"picks {picks!r} selected no channel")
    return out


def _volts_only(inst: Any, idx: Sequence[int], rid: str) -> None:
    """Every picked channel is an electrode voltage (an electrode type whose MNE unit is V)."""
    info = inst.info
    types = inst.get_channel_types()
    bad = [
        f"{info['chs'][i]['ch_name']} ({types[i]})"
        for i in idx
        if types[i] not in _ELECTRODE_TYPES or int(info["chs"][i]["unit"]) != _FIFF_UNIT_V
    ]
    if bad:
        raise ContractError(
            f"record {rid!r}: channel(s) {bad} are not electrode voltages (types {sorted(_ELECTRODE_TYPES)} in V), "
            "so they cannot be given in µV; pick only EEG-like channels (picks='eeg') or set their types "
            "(raw.set_channel_types)"
        )


def _events_from_annotations(raw: Any) -> list[tuple[float, float, str]]:
    ann = raw.annotations
    first = float(raw.first_time)  # annotation onsets count from the same origin as first_time
    return [
        (float(on) - first, float(du), str(de))
        for on, du, de in zip(ann.onset, ann.duration, ann.description, strict=True)
    ]


def _record_from_raw(
    raw: Any,
    rid: str,
    *,
    montage: str | None,
    picks: str | Sequence[str],
    expected_sfreq: float | None,
    meta: dict[str, Any],
) -> Record:
    _check_montage(montage)
    if not (hasattr(raw, "info") and hasattr(raw, "get_data") and hasattr(raw, "annotations")):
        raise ConfigError(f"raw must be an mne.io.Raw (BaseRaw) object, found {type(raw).__name__}")
    idx = _pick_indices(raw, picks, rid)
    _volts_only(raw, idx, rid)
    info = raw.info
    names = [info["chs"][i]["ch_name"] for i in idx]
    loc = _loc_rows([info["chs"][i]["loc"] for i in idx])  # (C, 3)
    x = raw.get_data(picks=idx) * 1e6  # (C, T) V -> µV
    meta = {
        **meta,
        "events": _events_from_annotations(raw),
        "bads": [b for b in info["bads"] if b in names],
    }
    return _build(
        rid, x, names, loc, info["sfreq"], montage=montage, expected_sfreq=expected_sfreq, meta=meta
    )


def read_raw(
    raw: mne.io.BaseRaw,
    *,
    record_id: str,
    montage: str | None = DEFAULT_MONTAGE,
    picks: str | Sequence[str] = "eeg",
    expected_sfreq: float | None = None,
) -> Record:
    """An ``mne.io.Raw`` in memory -> Record in µV with unit-head positions.

    Args:
        raw: any MNE raw object (preloaded or not).
        record_id: identifier named in errors and stored in the record.
        montage: built-in MNE montage used for channels whose ``loc`` is NaN (looked up by name), and whose
            sphere defines the unit head; None disables both (positions then come only from ``loc``).
        picks: ``"eeg"`` (default), another channel type, ``"all"`` or a list of channel names/types;
            every picked channel must be an electrode voltage (eeg, eog, ecg,
            emg, seeg, ecog, dbs, bio).
        expected_sfreq: if given, a different sampling rate raises.

    Returns:
        The record; ``meta``: ``format="mne_raw"``, ``path`` (the file MNE read, if any), ``events`` (from the
        annotations, onsets relative to the first sample), ``bads`` and the common keys of the module.

    Raises:
        CorruptRecordError: no channel picked, duplicate names, an all-NaN channel, bad or unexpected sfreq.
        ContractError: no channel has a position, or a picked channel is not a voltage.
        ConfigError: ``raw`` is not a Raw object or ``picks``/``montage`` is malformed.

    Example:
        >>> import mne, numpy as np
        >>> info = mne.create_info(["Cz", "Pz", "Oz"], 128.0, "eeg")
        >>> rec = read_raw(mne.io.RawArray(np.zeros((3, 256)), info, verbose="error"), record_id="demo")
        >>> rec.signal.shape, rec.units, rec.positions.shape
        ((3, 256), 'uV', (3, 3))
    """
    rid = str(record_id)
    filenames = getattr(raw, "filenames", None) or [None]
    path = Path(filenames[0]).as_posix() if filenames[0] is not None else None
    return _record_from_raw(
        raw,
        rid,
        montage=montage,
        picks=picks,
        expected_sfreq=expected_sfreq,
        meta={"format": "mne_raw", "path": path},
    )


def read_eeg_file(
    path: str | Path,
    *,
    record_id: str | None = None,
    montage: str | None = DEFAULT_MONTAGE,
    picks: str | Sequence[str] = "eeg",
    expected_sfreq: float | None = None,
) -> Record:
    """An EEG file (EDF/EDF+, BDF, GDF, BrainVision ``.vhdr``, EEGLAB ``.set``, FIF) -> Record in µV.

    The file is read with ``mne.io.read_raw(path, preload=True)``. EDF/BDF headers are first validated by
    :func:`read_edf_header` (sizes, counts, mixed rates, the :data:`MAX_EEG_SAMPLES` guard), so nothing is
    allocated for a damaged header. Anything MNE cannot read (a damaged header, a foreign format) becomes a
    :class:`CorruptRecordError`; a truncated data section keeps its complete data records. Warnings MNE
    emits while reading are kept in ``meta["read_warnings"]``, except duplicate channel names, which raise.

    Args:
        path: the file (for BrainVision the ``.vhdr`` header).
        record_id: identifier named in errors; defaults to the path.
        montage: see :func:`read_raw`.
        picks: see :func:`read_raw`.
        expected_sfreq: if given, a different sampling rate raises.

    Returns:
        The record; ``meta``: ``format`` (``edf``, ``bdf``, ``gdf``, ``brainvision``, ``eeglab``, ``fif`` or
        the suffix), ``path``, ``events`` (EDF+/BrainVision/EEGLAB annotations as ``(onset_s, duration_s,
        description)``), ``read_warnings`` and the common keys of the module.

    Raises:
        CorruptRecordError: the file is missing or unreadable, fails validation (see :func:`read_raw`), or
            none of its channels has a position (or a picked channel is not a voltage): a file is a record
            that a dataset quarantines, where :func:`read_raw` raises :class:`ContractError` for the caller.
        OptionalDependencyError: MNE, or a package MNE needs for this format, is not installed.
    """
    p = Path(path)
    rid = str(record_id) if record_id is not None else p.as_posix()
    _check_montage(montage)
    if not p.is_file():
        raise CorruptRecordError(rid, f"file {p} not found; check the path and the dataset root")
    suffix = p.suffix.lower()
    fmt = _FORMATS.get(suffix, suffix.lstrip(".") or "unknown")
    if suffix in (".edf", ".bdf"):
        read_edf_header(p, record_id=rid)  # the size guard: nothing is allocated for a damaged header
    raw, messages = _open_raw(p, rid, preload=True)
    try:
        return _record_from_raw(
            raw,
            rid,
            montage=montage,
            picks=picks,
            expected_sfreq=expected_sfreq,
            meta={"format": fmt, "path": p.as_posix(), "read_warnings": messages},
        )
    except ContractError as exc:  # a file whose channels have no position is a record that cannot be used
        raise CorruptRecordError(rid, str(exc)) from None


def _open_raw(p: Path, rid: str, *, preload: bool) -> tuple[Any, list[str]]:
    """``mne.io.read_raw`` with every failure as CorruptRecordError; returns ``(raw, warning messages)``."""
    mne = _mne()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw = mne.io.read_raw(p, preload=preload, verbose="warning")
        except BioJepaError:
            raise
        except ImportError as exc:
            raise OptionalDependencyError(
                f"reading {p.name} needs a package MNE could not import ({exc}); install it (see MNE's "
                "documentation for this format) or convert the file to EDF/FIF"
            ) from exc
        except Exception as exc:  # noqa: BLE001 - any reader failure on a damaged file is a corrupt record
            raise CorruptRecordError(
                rid,
                f"cannot read {p.name} as an EEG recording ({type(exc).__name__}: {exc}); the header or data "
                "is damaged, or the format is not one of EDF/BDF/GDF/BrainVision/EEGLAB/FIF",
            ) from None
    messages = [str(w.message) for w in caught if not issubclass(w.category, ResourceWarning)]
    dup = [m for m in messages if _DUPLICATE_WARNING.search(m)]
    if dup:
        raise CorruptRecordError(rid, f"duplicate channel names in {p.name}: {dup[0]}")
    return raw, messages


def read_epochs(
    epochs: mne.Epochs,
    *,
    montage: str | None = DEFAULT_MONTAGE,
    picks: str | Sequence[str] = "eeg",
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, float]:
    """``mne.Epochs`` -> arrays in the braindecode / MOABB layout, in µV, with unit-head positions.

    Non-finite samples are interpolated per epoch and channel (a :class:`RuntimeWarning` gives the count).

    Args:
        epochs: MNE epochs (loaded on demand).
        montage: see :func:`read_raw`.
        picks: see :func:`read_raw`.

    Returns:
        ``(X, y, channels, positions, sfreq)``: ``X`` float32 ``(N, C, T)`` in µV, ``y`` int64 ``(N,)`` event
        codes (``epochs.events[:, 2]``), canonical channel names, float32 ``(C, 3)`` positions, sfreq in Hz.

    Raises:
        CorruptRecordError: no epochs, duplicate names, an all-NaN channel in an epoch, bad sfreq.
        ContractError: no channel has a position, or a picked channel is not a voltage.
        ConfigError: ``epochs`` is not an Epochs object.
    """
    rid = "epochs"
    _check_montage(montage)
    if not (hasattr(epochs, "info") and hasattr(epochs, "get_data") and hasattr(epochs, "events")):
        raise ConfigError(f"epochs must be an mne.Epochs object, found {type(epochs).__name__}")
    fs = _check_sfreq(epochs.info["sfreq"], None, rid)
    idx = _pick_indices(epochs, picks, rid)
    _volts_only(epochs, idx, rid)
    names = [epochs.info["chs"][i]["ch_name"] for i in idx]
    channels = _canonical_names(names, rid)
    x = np.asarray(epochs.get_data(picks=idx), dtype=np.float64) * 1e6  # (N, C, T) V -> µV
    if x.ndim != 3 or 0 in x.shape:
        raise CorruptRecordError(
            rid, f"epochs data has shape {x.shape}; expected (N, C, T) with at least one epoch and one sample"
        )
    n_nan = 0
    for k in range(x.shape[0]):
        x[k], n_k, _ = _interpolate(x[k], f"epochs[{k}]", channels)  # (C, T)
        n_nan += n_k
    if n_nan:
        warnings.warn(f"read_epochs: interpolated {n_nan} non-finite sample(s)", RuntimeWarning, stacklevel=2)
    y = np.asarray(epochs.events[:, 2], dtype=np.int64)  # (N,)
    loc = _loc_rows([epochs.info["chs"][i]["loc"] for i in idx])  # (C, 3)
    pos, _, _ = _positions(channels, loc, montage, rid)
    return x.astype(np.float32), y, list(channels), pos, fs


# --------------------------------------------------------------------------------------------------------
# arrays


def from_array(
    x: np.ndarray,
    chs_info: Sequence[Mapping[str, Any]] | Sequence[str],
    sfreq: float,
    *,
    record_id: str = "array",
    units: str = "uV",
    montage: str | None = DEFAULT_MONTAGE,
    expected_sfreq: float | None = None,
) -> Record:
    """A ``(C, T)`` array with braindecode-style ``chs_info`` (or plain names) -> Record in µV.

    Args:
        x: ``(C, T)`` samples in ``units``.
        chs_info: per channel either a name, or a mapping with ``ch_name`` and optionally ``loc`` (xyz in
            metres in MNE's head frame as its first 3 values, like ``raw.info["chs"]``).
        sfreq: sampling rate in Hz.
        record_id: identifier named in errors.
        units: ``"uV"`` (default), ``"mV"``, ``"V"`` or ``"nV"``.
        montage: see :func:`read_raw`.
        expected_sfreq: if given, a different sampling rate raises.

    Returns:
        The record; ``meta``: ``format="array"``, ``path=None``, ``events=[]`` and the common keys.

    Raises:
        CorruptRecordError: empty or non-numeric data, a channel count that does not match ``chs_info``,
            duplicate names, an all-NaN channel, bad or unexpected sfreq.
        ContractError: no channel has a position.
        ConfigError: unknown ``units`` or a malformed ``chs_info`` entry.
    """
    rid = str(record_id)
    _check_montage(montage)
    factor = _TO_UV.get(str(units).strip().lower())
    if factor is None:
        raise ConfigError(f"unknown units {units!r}; expected one of 'uV', 'mV', 'V', 'nV'")
    if isinstance(chs_info, str | Mapping) or not isinstance(chs_info, Sequence):
        raise ConfigError(
            f"chs_info must be a list of channel names or of dicts with 'ch_name' (raw.info['chs']), "
            f"found {type(chs_info).__name__}"
        )
    names: list[str] = []
    locs: list[Any] = []
    for i, ch in enumerate(chs_info):
        if isinstance(ch, str):
            names.append(ch)
            locs.append(None)
        elif isinstance(ch, Mapping) and isinstance(ch.get("ch_name"), str):
            names.append(ch["ch_name"])
            locs.append(ch.get("loc"))
        else:
            raise ConfigError(
                f"chs_info[{i}] must be a channel name or a mapping with a string 'ch_name', found {ch!r}"
            )
    arr = _check_signal(x, rid) * factor  # (C, T) µV
    return _build(
        rid,
        arr,
        names,
        _loc_rows(locs),
        sfreq,
        montage=montage,
        expected_sfreq=expected_sfreq,
        meta={"format": "array", "path": None, "events": []},
    )


# --------------------------------------------------------------------------------------------------------
# eeg-notebooks Muse CSV


def _float(value: str) -> float:
    v = value.strip()
    return float(v) if v else math.nan


def read_muse_csv(
    path: str | Path,
    *,
    record_id: str | None = None,
    montage: str | None = DEFAULT_MONTAGE,
    expected_sfreq: float | None = None,
) -> Record:
    """An eeg-notebooks Muse CSV (``timestamps,TP9,AF7,AF8,TP10,Right AUX,Marker[0]``) -> Record in µV.

    The samples are already in µV; ``Right AUX`` (an unconnected input) is dropped. The sampling rate is
    estimated as ``(n - 1) / (t_end - t_start)`` from the LSL timestamps (rounded to 1 ms in the files) and
    snapped to the nominal 256 Hz when within 1 %. Every non-zero row of the marker column (``Marker`` in the
    2017 files, ``Marker0`` in the 2018 ones) becomes an event ``(row / sfreq, 0.0, str(code))``.

    Args:
        path: the CSV file.
        record_id: identifier named in errors; defaults to the path.
        montage: see :func:`read_raw` (all four Muse electrodes are in the 10-05 montages).
        expected_sfreq: if given, a different (snapped) sampling rate raises.

    Returns:
        The record (channels TP9, AF7, AF8, TP10); ``meta``: ``format="muse_csv"``, ``path``, ``events``,
        ``marker_column`` (None if absent), ``sfreq_estimated``, ``t_start`` (LSL seconds), ``max_gap_s``,
        ``n_backward_steps`` (LSL jitter), ``dropped_channels`` and the common keys.

    Raises:
        CorruptRecordError: missing file or columns, unparsable values, fewer than two rows, timestamps that
            do not advance or jump back by more than 0.1 s, an all-NaN channel, or an unexpected sampling rate.
    """
    p = Path(path)
    rid = str(record_id) if record_id is not None else p.as_posix()
    _check_montage(montage)
    if not p.is_file():
        raise CorruptRecordError(rid, f"file {p} not found; check the path and the dataset root")
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            need = ["timestamps", *MUSE_CHANNELS]
            absent = [c for c in need if c not in header]
            if absent:
                raise CorruptRecordError(
                    rid,
                    f"columns {absent} missing from the header {header}; expected an eeg-notebooks Muse CSV "
                    "'timestamps,TP9,AF7,AF8,TP10,Right AUX,Marker'",
                )
            markers = [h for h in header if _MARKER_COLUMN.match(h)]
            marker = markers[0] if markers else None
            cols = [header.index(c) for c in need] + ([header.index(marker)] if marker else [])
            rows = [[_float(r[j]) for j in cols] for r in reader if r]
    except BioJepaError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, IndexError, csv.Error) as exc:
        raise CorruptRecordError(rid, f"cannot parse {p.name} ({type(exc).__name__}: {exc})") from None
    if len(rows) < 2:
        raise CorruptRecordError(
            rid, f"{p.name} has {len(rows)} data row(s); expected a recording of >= 2 samples"
        )
    table = np.asarray(rows, dtype=np.float64)  # (T, 1 + 4 [+ 1])
    ts = table[:, 0]  # (T,)
    if not np.all(np.isfinite(ts)):
        raise CorruptRecordError(rid, f"{p.name} has missing or non-numeric timestamps")
    steps = np.diff(ts)  # (T - 1,)
    if ts[-1] <= ts[0] or float(steps.min()) < -_MUSE_MAX_JITTER_S:
        raise CorruptRecordError(
            rid,
            f"timestamps of {p.name} do not advance (span {ts[-1] - ts[0]:g} s) or jump back by "
            f"{-float(steps.min()):g} s (> {_MUSE_MAX_JITTER_S:g} s of LSL jitter); the file is damaged or "
            "several runs were concatenated",
        )
    fs_est = (len(ts) - 1) / float(ts[-1] - ts[0])
    fs = MUSE_SFREQ if abs(fs_est / MUSE_SFREQ - 1.0) <= _MUSE_SNAP_REL else fs_est
    fs = _check_sfreq(fs, expected_sfreq, rid)
    x = table[:, 1 : 1 + len(MUSE_CHANNELS)].T  # (4, T) µV
    events: list[tuple[float, float, str]] = []
    if marker is not None:
        codes = np.nan_to_num(table[:, -1], nan=0.0)  # (T,)
        for i in np.flatnonzero(codes != 0):
            c = float(codes[i])
            events.append((i / fs, 0.0, str(int(c)) if c.is_integer() else str(c)))
    meta = {
        "format": "muse_csv",
        "path": p.as_posix(),
        "events": events,
        "marker_column": marker,
        "sfreq_estimated": fs_est,
        "t_start": float(ts[0]),
        "max_gap_s": float(steps.max()),
        "n_backward_steps": int(np.count_nonzero(steps < 0)),
        "dropped_channels": [h for h in header if h not in need and h != marker],
    }
    return _build(
        rid,
        x,
        list(MUSE_CHANNELS),
        np.full((len(MUSE_CHANNELS), 3), np.nan),
        fs,
        montage=montage,
        expected_sfreq=expected_sfreq,
        meta=meta,
    )
