"""ECG readers: files of every ECG-JEPA pretraining source -> validated :class:`~biojepa.data.record.Record`.

Every reader returns ``float32 (12, T)`` samples in **millivolts**, rows in
:data:`~biojepa.adapters.ecg.leads.STANDARD_LEADS` order (or the ``leads`` asked for), at the file's
**native** sampling rate. Nothing is resampled or filtered here (that is
:mod:`biojepa.adapters.ecg.transforms`); readers only decode, scale to mV, match leads **by name**,
interpolate NaN samples and reject records that cannot be used, with a
:class:`~biojepa.errors.CorruptRecordError` naming the record and the reason.

Which reader serves which source (research note ecg.md §1.1, §3.3):

============================================  ==============================================================
source                                        how to read it
============================================  ==============================================================
MIMIC-IV-ECG                                  :func:`list_mimic_records` + :func:`read_wfdb` (aVF before aVL)
PTB-XL, PTB (original, Frank leads), any      :func:`list_wfdb_records` + :func:`read_wfdb`
WFDB folder
PhysioNet/CinC 2020/2021 (CPSC, CPSC-Extra,   :func:`list_cinc_records` + :func:`read_cinc` (``.hea`` + ``.mat``)
Georgia, Ningbo, Chapman-Shaoxing, PTB,
INCART)
CODE-15%                                      :func:`iter_code15` (HDF5 + ``exams.csv``, 400 Hz, zero padding)
============================================  ==============================================================

Every record's ``meta["fingerprint"]`` is :func:`~biojepa.adapters.ecg.transforms.fingerprint` of the signal in
float64 (before the float32 cast): a scale-invariant hash, so the CinC-2020 ``HR`` copies of PTB-XL (stored with gain 200/mV instead of
1000/mV, hence 5x larger) de-duplicate against PTB-XL itself.

Header gains are trusted as written (CinC 2020: A/Q 1000/mV, HR 200/mV, E 4880/mV, S 2000000/mV); the gain of
every returned lead is recorded in ``meta["gain"]`` so a dataset layer can correct a source if it wants to.
"""

from __future__ import annotations

import csv
import math
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from biojepa.adapters.ecg.leads import STANDARD_LEADS, canonical_lead, lead_indices
from biojepa.adapters.ecg.transforms import fingerprint, interpolate_nans
from biojepa.data.record import Record
from biojepa.data.signal import F32_MAX, float32_overflow
from biojepa.errors import BioJepaError, ConfigError, CorruptRecordError, DataError, OptionalDependencyError

__all__ = [
    "CODE15_SFREQ",
    "FLAT_PTP_MV",
    "MAX_WFDB_SAMPLES",
    "check_cinc_header",
    "check_wfdb_header",
    "iter_code15",
    "list_cinc_records",
    "list_mimic_records",
    "list_wfdb_records",
    "read_cinc",
    "read_wfdb",
    "scan_code15",
]

#: Sampling rate of CODE-15% tracings in Hz.
CODE15_SFREQ: float = 400.0

#: A lead whose peak-to-peak amplitude is below this (in mV) is rejected as flat (disconnected electrode).
FLAT_PTP_MV: float = 1e-6

#: Largest number of samples (signals x samples per signal) a reader accepts; checked on the header, before
#: anything is allocated (the samples are decoded as float64: 2**28 samples are 2 GiB). 24 h of 12 leads at
#: 500 Hz is about 5.2e8 samples: split such Holter records into segments before reading them.
MAX_WFDB_SAMPLES: int = 2**28

#: Physical unit string (lower-case) -> factor that converts it to millivolts.
_TO_MV: dict[str, float] = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "nv": 1e-6, "v": 1e3}

#: WFDB formats with a fixed number of bytes per sample (the data file size can be checked exactly).
_BYTES_PER_SAMPLE: dict[str, int] = {"8": 1, "16": 2, "61": 2, "80": 1, "160": 2, "24": 3, "32": 4}

#: Packed WFDB formats: (bytes, samples) per packing group (the data file must hold at least this much).
_PACKED_BYTES: dict[str, tuple[int, int]] = {"212": (3, 2), "310": (4, 3), "311": (4, 3)}

#: Every WFDB format code that wfdb can decode (anything else is refused on the header).
_KNOWN_FORMATS = frozenset({*_BYTES_PER_SAMPLE, *_PACKED_BYTES, "0", "508", "516", "524"})

#: WFDB's "invalid sample" value of 16-bit formats (read as NaN).
_INVALID_16 = -32768

#: What wfdb / scipy / h5py raise on damaged or foreign files (translated to CorruptRecordError).
_READ_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    EOFError,
    AttributeError,
    NotImplementedError,
    OverflowError,
    MemoryError,
)

_FMT_RE = re.compile(r"^(\d+)(?:x(\d+))?(?::(\d+))?(?:\+(\d+))?$")
_GAIN_RE = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?:\(([-+]?\d+)\))?(?:/(.*))?$")


# --------------------------------------------------------------------------------------------------------
# optional dependencies


def _import_wfdb() -> ModuleType:
    try:
        with warnings.catch_warnings():
            # wfdb 4.3 calls DataFrame.set_index(inplace=True) at import time, deprecated by pandas 3.1
            warnings.filterwarnings("ignore", message=".*inplace keyword.*", category=DeprecationWarning)
            import wfdb
    except ImportError as exc:  # pragma: no cover - wfdb is in the ecg extra
        raise OptionalDependencyError(
            "reading WFDB records needs the 'wfdb' package; install it with: pip install 'biojepa[ecg]'"
        ) from exc
    return wfdb


def _import_h5py() -> ModuleType:
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py is in the ecg extra
        raise OptionalDependencyError(
            "reading CODE-15% HDF5 files needs the 'h5py' package; install it with: pip install 'biojepa[ecg]'"
        ) from exc
    return h5py


# --------------------------------------------------------------------------------------------------------
# WFDB header parsing (tolerant; shared by read_wfdb and read_cinc)


@dataclass(frozen=True)
class _Signal:
    """One signal line of a WFDB header."""

    file_name: str
    fmt: str
    samps_per_frame: int
    skew: int
    byte_offset: int
    gain: float
    baseline: int
    units: str
    name: str


@dataclass(frozen=True)
class _Header:
    """The parts of a WFDB header the readers use."""

    record_name: str
    n_sig: int
    fs: float
    sig_len: int | None
    signals: tuple[_Signal, ...]
    comments: tuple[str, ...]


def _parse_header(text: str, rid: str) -> _Header:
    """Parse a single-segment WFDB header, tolerating a record name that carries ``.mat`` (CinC Georgia)."""
    comments: list[str] = []
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            comments.append(line[1:].strip())
        else:
            lines.append(line)
    if not lines:
        raise CorruptRecordError(rid, "unreadable header: no record line found (the .hea file is empty)")
    head = lines[0].split()
    name = head[0]
    if "/" in name:
        raise CorruptRecordError(
            rid,
            f"multi-segment record {name!r} is not supported; read its single-segment records instead",
        )
    for ext in (".mat", ".hea", ".dat"):
        name = name.removesuffix(ext)
    try:
        n_sig = int(head[1])
        fs = float(head[2].split("/")[0]) if len(head) > 2 else 250.0
        sig_len = int(head[3]) if len(head) > 3 else None
    except (IndexError, ValueError):
        raise CorruptRecordError(
            rid,
            f"unreadable header: record line {lines[0]!r} does not match "
            "'name n_signals sampling_rate n_samples'",
        ) from None
    if n_sig < 1:
        raise CorruptRecordError(rid, f"unreadable header: it declares {n_sig} signals, expected at least 1")
    if not math.isfinite(fs) or fs <= 0:
        raise CorruptRecordError(
            rid, f"unreadable header: sampling rate {head[2]!r} is not a positive number"
        )
    if sig_len is not None and sig_len < 1:
        raise CorruptRecordError(rid, f"header declares {sig_len} samples; expected at least 1")
    if len(lines) - 1 < n_sig:
        raise CorruptRecordError(
            rid, f"unreadable header: it declares {n_sig} signals but has {len(lines) - 1} signal line(s)"
        )
    signals = tuple(_parse_signal_line(lines[1 + i], i, rid) for i in range(n_sig))
    return _Header(name, n_sig, fs, sig_len, signals, tuple(comments))


def _parse_signal_line(line: str, i: int, rid: str) -> _Signal:
    parts = line.split(maxsplit=8)
    if len(parts) < 2:
        raise CorruptRecordError(rid, f"unreadable header: signal line {i} {line!r} has no format field")
    m = _FMT_RE.match(parts[1])
    if m is None:
        raise CorruptRecordError(
            rid, f"unreadable header: signal line {i} has format {parts[1]!r}, expected e.g. '16' or '16+24'"
        )
    fmt, spf, skew, offset = m.group(1), int(m.group(2) or 1), int(m.group(3) or 0), int(m.group(4) or 0)
    if fmt not in _KNOWN_FORMATS:
        raise CorruptRecordError(
            rid,
            f"unreadable header: signal line {i} has format code {fmt!r}, which is not a WFDB format "
            f"(known: {', '.join(sorted(_KNOWN_FORMATS, key=int))}); the header is damaged",
        )
    if spf < 1:
        raise CorruptRecordError(
            rid, f"unreadable header: signal line {i} declares {spf} samples per frame, expected at least 1"
        )
    file_name = parts[0]
    if file_name != "~" and (
        "/" in file_name or "\\" in file_name or file_name in (".", "..") or Path(file_name).is_absolute()
    ):
        raise CorruptRecordError(
            rid,
            f"unreadable header: signal line {i} names the data file {file_name!r}; a WFDB data file must sit "
            "beside its header (a bare file name, no directory part)",
        )
    adc_zero = 0
    if len(parts) > 4:
        try:
            adc_zero = int(parts[4])
        except ValueError:
            raise CorruptRecordError(
                rid, f"unreadable header: signal line {i} has ADC zero {parts[4]!r}, expected an integer"
            ) from None
    gain, baseline, units = 200.0, adc_zero, "mV"  # WFDB defaults when the field is absent
    if len(parts) > 2:
        g = _GAIN_RE.match(parts[2])
        if g is None:
            raise CorruptRecordError(
                rid,
                f"unreadable header: signal line {i} has gain field {parts[2]!r}, expected "
                "'gain[(baseline)][/units]' such as '1000/mV' or '1000.0(0)/mV'",
            )
        gain = float(g.group(1))
        if g.group(2) is not None:
            baseline = int(g.group(2))
        if g.group(3):
            units = g.group(3)
    name = parts[8].strip() if len(parts) > 8 else ""
    return _Signal(file_name, fmt, spf, skew, offset, gain, baseline, units, name)


def _read_header(hea: Path, rid: str) -> _Header:
    if not hea.is_file():
        raise CorruptRecordError(
            rid, f"header file {hea} not found; check the record path and the dataset root"
        )
    try:
        text = hea.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise CorruptRecordError(rid, f"unreadable header {hea}: {exc}") from None
    return _parse_header(text, rid)


# --------------------------------------------------------------------------------------------------------
# shared validation


def _target_leads(leads: Sequence[str] | None) -> tuple[str, ...] | None:
    """Canonical names of the requested leads (a programming error raises ConfigError)."""
    if leads is None:
        return None
    if isinstance(leads, str):
        raise ConfigError(
            f"leads must be a sequence of lead names such as {STANDARD_LEADS}, found the string {leads!r}"
        )
    out: list[str] = []
    for name in leads:
        lead = canonical_lead(name)
        if lead is None:
            raise ConfigError(f"unknown lead {name!r} in leads; choose from {', '.join(STANDARD_LEADS)}")
        if lead in out:
            raise ConfigError(f"lead {lead!r} is requested twice in leads {list(leads)!r}")
        out.append(lead)
    if not out:
        raise ConfigError(
            "leads is empty; pass at least one lead name, or None to keep every recognised lead"
        )
    return tuple(out)


def _select_leads(
    names: Sequence[str], rid: str, target: tuple[str, ...] | None
) -> tuple[list[int], tuple[str, ...]]:
    """Rows of ``names`` to keep and their canonical names (unknown / duplicate / missing -> CorruptRecordError)."""
    lead_indices(names, rid, target=STANDARD_LEADS, missing="allow")  # validates unknown and duplicate names
    if target is None:
        rows = [i for i, n in enumerate(names) if canonical_lead(n) is not None]
        if not rows:
            raise CorruptRecordError(rid, f"no ECG lead recognised among {list(names)!r}")
        return rows, tuple(str(canonical_lead(names[i])) for i in rows)
    return lead_indices(names, rid, target=target).tolist(), target


def _check_sfreq(fs: float, expected: float | None, rid: str) -> None:
    if expected is not None and not math.isclose(fs, float(expected), rel_tol=1e-9, abs_tol=1e-9):
        raise CorruptRecordError(
            rid,
            f"sampling rate is {fs:g} Hz but {float(expected):g} Hz was expected; check the dataset card "
            "(expected_sfreq) or resample the source",
        )


def _gains_and_scales(signals: Sequence[_Signal], rows: Sequence[int], rid: str) -> list[float]:
    """Per kept row: the factor that converts header units to mV; rejects gain 0 and unknown units."""
    scales: list[float] = []
    for i in rows:
        s = signals[i]
        if s.gain == 0 or not math.isfinite(s.gain):
            raise CorruptRecordError(
                rid,
                f"gain {s.gain:g} for signal {i} ({s.name!r}) in the header: ADC units cannot be converted to "
                "physical units (WFDB would silently assume 200/mV); fix the gain field of the header",
            )
        factor = _TO_MV.get(s.units.strip().lower())
        if factor is None:
            raise CorruptRecordError(
                rid,
                f"unknown unit {s.units!r} for signal {i} ({s.name!r}); expected one of mV, uV (µV) or V",
            )
        scales.append(factor)
    return scales


def _header_meta(fmt: str, base: Path, hdr: Any, names: Sequence[str], rows: Sequence[int]) -> dict[str, Any]:
    """The metadata every header-based reader records for the kept rows (native names, units, gains)."""
    kept = set(rows)
    return {
        "format": fmt,
        "path": base.as_posix(),
        "native_leads": [names[i] for i in rows],
        "units_native": [hdr.signals[i].units for i in rows],
        "gain": [hdr.signals[i].gain for i in rows],
        "dropped_leads": [n for i, n in enumerate(names) if i not in kept],
        "comments": list(hdr.comments),
    }


def _finish(
    rid: str,
    x: np.ndarray,
    channels: tuple[str, ...],
    sfreq: float,
    meta: dict[str, Any],
) -> Record:
    """NaN interpolation, flat-lead check, fingerprint -> Record (``x`` is ``(C, T)`` in mV)."""
    top = float32_overflow(x)
    if top is not None:
        raise CorruptRecordError(
            rid,
            f"samples reach {top:.3g} mV, beyond the float32 range ({F32_MAX:.3g}); the header's gain is "
            "damaged (too small) or the units are wrong: fix the header or drop the record",
        )
    # fingerprint the float64 physical values: float32 rounding would break its gain invariance
    fp = fingerprint(np.nan_to_num(np.asarray(x, dtype=np.float64)))
    x, n_nan = interpolate_nans(x, rid, channels)  # (C, T) float32
    ptp = x.max(axis=1).astype(np.float64) - x.min(axis=1)  # (C,)
    flat = np.flatnonzero(ptp < FLAT_PTP_MV)
    if flat.size:
        c = int(flat[0])
        raise CorruptRecordError(
            rid,
            f"flat lead {channels[c]}: peak-to-peak {ptp[c]:.3g} mV < {FLAT_PTP_MV:g} mV (disconnected electrode "
            "or empty channel); the record cannot be used for training",
        )
    meta["n_nan_interpolated"] = n_nan
    meta["fingerprint"] = fp
    return Record(x, sfreq, channels, "mV", rid, meta=meta)


def _base_path(path: str | Path, suffixes: tuple[str, ...]) -> Path:
    p = Path(path)
    if p.suffix in suffixes:
        p = p.with_suffix("")
    return p


# --------------------------------------------------------------------------------------------------------
# WFDB


def _check_size_guard(hdr: _Header, rid: str) -> None:
    """Refuse a header whose declared sample count exceeds :data:`MAX_WFDB_SAMPLES` (before any allocation)."""
    if hdr.sig_len is None:
        return
    per_frame = sum(s.samps_per_frame for s in hdr.signals)
    total = hdr.sig_len * per_frame
    if total > MAX_WFDB_SAMPLES:
        raise CorruptRecordError(
            rid,
            f"header declares {hdr.sig_len} samples x {per_frame} values per frame = {total} values, more than the "
            f"reader's limit of {MAX_WFDB_SAMPLES} (biojepa.adapters.ecg.readers.MAX_WFDB_SAMPLES); the header is "
            "damaged, or the record is a long recording that must be split into segments first",
        )


def _expected_bytes(sigs: Sequence[_Signal], sig_len: int) -> tuple[int, bool] | None:
    """``(bytes the data file must have, exact)`` for one data file, or None when it cannot be computed."""
    if any(s.skew != 0 for s in sigs) or len({s.byte_offset for s in sigs}) != 1:
        return None
    fmts = {s.fmt for s in sigs}
    if all(f in _BYTES_PER_SAMPLE for f in fmts):
        frame_bytes = sum(s.samps_per_frame * _BYTES_PER_SAMPLE[s.fmt] for s in sigs)
        return sigs[0].byte_offset + sig_len * frame_bytes, True
    if len(fmts) == 1 and next(iter(fmts)) in _PACKED_BYTES:
        n_bytes, n_samples = _PACKED_BYTES[next(iter(fmts))]
        n_values = sig_len * sum(s.samps_per_frame for s in sigs)
        return sigs[0].byte_offset + -(-n_values // n_samples) * n_bytes, False
    return None


def _check_data_files(base: Path, hdr: _Header, rows: Sequence[int], rid: str) -> None:
    """Every data file holding a kept row exists and has the size the header implies.

    Fixed-width formats (8, 16, 24, 32, 61, 80, 160) must match exactly; packed formats (212, 310, 311) must
    hold at least the declared samples. Nothing is read but the file sizes.
    """
    by_file: dict[str, list[int]] = {}
    for i, s in enumerate(hdr.signals):
        by_file.setdefault(s.file_name, []).append(i)
    for fname, idx in by_file.items():
        if fname == "~" or not set(idx) & set(rows):
            continue
        fpath = base.parent / fname
        if not fpath.is_file():
            raise CorruptRecordError(
                rid,
                f"data file {fname} is missing (expected at {fpath}); download or restore the record's files",
            )
        if hdr.sig_len is None:
            continue
        expected = _expected_bytes([hdr.signals[i] for i in idx], hdr.sig_len)
        if expected is None:
            continue
        n_bytes, exact = expected
        actual = fpath.stat().st_size
        if actual < n_bytes or (exact and actual != n_bytes):
            kind = "truncated" if actual < n_bytes else "longer than declared"
            raise CorruptRecordError(
                rid,
                f"header/data length mismatch: the header declares {hdr.sig_len} samples x {len(idx)} signals "
                f"({n_bytes} bytes) but {fname} has {actual} bytes ({kind}); re-download the record",
            )


def _checked_header(
    base: Path, rid: str, target: tuple[str, ...] | None, expected_sfreq: float | None, *, data: str
) -> tuple[_Header, list[str], list[int], tuple[str, ...], list[float]]:
    """Header parse + every check that needs no sample: rate, leads, gains, size guard, data files.

    ``data`` is ``"wfdb"`` (check the data files named in the header) or ``"mat"`` (the ``.mat`` sibling is
    checked by the caller).
    """
    hdr = _read_header(Path(f"{base}.hea"), rid)
    _check_sfreq(hdr.fs, expected_sfreq, rid)
    names = [s.name for s in hdr.signals]
    rows, channels = _select_leads(names, rid, target)
    scales = _gains_and_scales(hdr.signals, rows, rid)
    _check_size_guard(hdr, rid)
    if data == "wfdb":
        _check_data_files(base, hdr, rows, rid)
    return hdr, names, rows, channels, scales


def check_wfdb_header(
    path: str | Path,
    *,
    record_id: str | None = None,
    leads: Sequence[str] | None = STANDARD_LEADS,
    expected_sfreq: float | None = None,
) -> dict[str, Any]:
    """Check a WFDB record without reading its samples: what :func:`read_wfdb` checks before decoding.

    The header is parsed and validated (record line, signal lines, format codes, gains, units, lead names,
    sampling rate), the declared size is checked against :data:`MAX_WFDB_SAMPLES`, and each data file must
    exist with the size the header implies. Used by ``biojepa datasets verify``.

    Args:
        path: record path without extension (a ``.hea`` suffix is accepted too).
        record_id: id used in errors; defaults to ``path`` without extension.
        leads: as :func:`read_wfdb`.
        expected_sfreq: as :func:`read_wfdb`.

    Returns:
        ``{"n_signals", "sfreq", "n_times" (None when the header does not say), "channels"}``.

    Raises:
        CorruptRecordError: anything :func:`read_wfdb` would refuse before decoding the samples.
    """
    base = _base_path(path, (".hea",))
    rid = str(record_id) if record_id is not None else base.as_posix()
    hdr, _, _, channels, _ = _checked_header(base, rid, _target_leads(leads), expected_sfreq, data="wfdb")
    return {"n_signals": hdr.n_sig, "sfreq": hdr.fs, "n_times": hdr.sig_len, "channels": channels}


def read_wfdb(
    path: str | Path,
    *,
    record_id: str | None = None,
    leads: Sequence[str] | None = STANDARD_LEADS,
    expected_sfreq: float | None = None,
) -> Record:
    """Read a WFDB record (``.hea`` + ``.dat`` and friends) as a 12-lead Record in mV at its native rate.

    Leads are matched by name (``AVR``, ``avr``, ``aVR`` all work; MIMIC-IV-ECG's aVF-before-aVL order is
    put back in standard order); PTB's Frank leads ``vx``/``vy``/``vz`` are dropped. Samples marked invalid
    in the file (WFDB maps them to NaN) are linearly interpolated.

    Args:
        path: record path without extension (a ``.hea`` suffix is accepted too).
        record_id: id used in the Record and in errors; defaults to ``path`` without extension.
        leads: wanted leads in the wanted order (default the 12 standard leads); ``None`` keeps every
            recognised lead in file order, under its canonical name.
        expected_sfreq: when given, a record at another rate is rejected.

    Returns:
        Record with ``signal`` float32 ``(len(leads), T)`` in mV, ``meta`` keys ``format`` (``"wfdb"``),
        ``path``, ``native_leads`` / ``units_native`` / ``gain`` (per returned row: name, unit and ADC gain
        as stored in the header), ``dropped_leads`` (extra leads not returned), ``n_nan_interpolated``,
        ``comments`` (header comment lines without ``#``) and ``fingerprint``.

    Raises:
        CorruptRecordError: unreadable header, missing or truncated data file, gain 0, unknown unit,
            unknown / duplicate / missing lead, all-NaN or flat lead, unexpected sampling rate.
        ConfigError: ``leads`` names a lead that does not exist.

    Example:
        >>> rec = read_wfdb("ptb-xl/records500/00000/00001_hr", expected_sfreq=500)  # doctest: +SKIP
        >>> rec.signal.shape, rec.channels[3]  # doctest: +SKIP
        ((12, 5000), 'aVR')
    """
    base = _base_path(path, (".hea",))
    rid = str(record_id) if record_id is not None else base.as_posix()
    hdr, names, rows, channels, scales = _checked_header(
        base, rid, _target_leads(leads), expected_sfreq, data="wfdb"
    )

    wfdb = _import_wfdb()
    wanted = sorted(set(rows))
    try:
        rec = wfdb.rdrecord(str(base), channels=wanted, physical=True, return_res=64)
        p = np.asarray(rec.p_signal, dtype=np.float64)  # (T, len(wanted))
        w_names = list(rec.sig_name)
        fs = float(rec.fs)
    except BioJepaError:
        raise
    except _READ_ERRORS as exc:  # wfdb raises many types; none may escape as a traceback
        hint = ""
        if Path(f"{base}.mat").is_file():
            hint = " (this looks like a PhysioNet/CinC .mat record: use read_cinc)"
        raise CorruptRecordError(
            rid, f"wfdb cannot read the record: {type(exc).__name__}: {exc}{hint}"
        ) from None
    if p.ndim != 2 or p.shape[1] != len(wanted) or p.shape[0] < 1:
        raise CorruptRecordError(
            rid, f"wfdb returned samples of shape {p.shape}, expected (T, {len(wanted)})"
        )
    if w_names != [names[i] for i in wanted] or not math.isclose(fs, hdr.fs):
        raise CorruptRecordError(
            rid, f"wfdb read signals {w_names} at {fs:g} Hz, but the header lists {names} at {hdr.fs:g} Hz"
        )
    pos = {i: k for k, i in enumerate(wanted)}
    order = [pos[i] for i in rows]
    x = p[:, order].T * np.asarray(scales)[:, None]  # (C, T) in mV
    return _finish(rid, x, channels, hdr.fs, _header_meta("wfdb", base, hdr, names, rows))


# --------------------------------------------------------------------------------------------------------
# PhysioNet / CinC 2020-2021 (.hea + MATLAB v4 .mat)


def _comment_fields(comments: Sequence[str]) -> dict[str, str]:
    """``"Key: value"`` comment lines -> {lower-case key: stripped value} (first occurrence wins)."""
    out: dict[str, str] = {}
    for c in comments:
        key, sep, value = c.partition(":")
        if sep:
            out.setdefault(key.strip().lower(), value.strip())
    return out


def _parse_dx(value: str | None) -> list[str]:
    codes: list[str] = []
    for tok in (value or "").replace(";", ",").split(","):
        tok = tok.strip()
        if tok and tok not in codes:
            codes.append(tok)
    return codes


def _check_mat(mat: Path, hdr: _Header, rid: str) -> None:
    """The ``.mat`` file exists and its ``val`` header (read without the data) fits the WFDB header and the
    size guard, so :func:`scipy.io.loadmat` never allocates what the file cannot hold."""
    if not mat.is_file():
        raise CorruptRecordError(
            rid, f"data file {mat.name} is missing (expected at {mat}); restore the .mat file"
        )
    import scipy.io
    from scipy.io.matlab import MatReadError

    try:
        found = {str(name): tuple(int(d) for d in shape) for name, shape, _ in scipy.io.whosmat(str(mat))}
    except (*_READ_ERRORS, MatReadError) as exc:  # scipy raises many types for damaged files
        raise CorruptRecordError(rid, f"unreadable {mat.name}: {type(exc).__name__}: {exc}") from None
    shape = found.get("val")
    if shape is None:
        raise CorruptRecordError(
            rid,
            f"{mat.name} has no 'val' variable (found {sorted(found)}); expected a (signals, samples) matrix",
        )
    if len(shape) != 2 or shape[0] != hdr.n_sig:
        raise CorruptRecordError(
            rid,
            f"header/data mismatch: the header declares {hdr.n_sig} signals but 'val' in {mat.name} has shape "
            f"{shape}; the files do not belong together",
        )
    n_values = shape[0] * shape[1]
    if n_values > MAX_WFDB_SAMPLES:
        raise CorruptRecordError(
            rid,
            f"'val' in {mat.name} declares shape {shape} = {n_values} values, more than the reader's limit of "
            f"{MAX_WFDB_SAMPLES}; the file is damaged",
        )
    size = mat.stat().st_size
    with mat.open("rb") as fh:
        v4 = not fh.read(6).startswith(b"MATLAB")  # MAT v4 has no text header and no compression
    if v4 and n_values > size:  # every value takes at least one byte in an uncompressed file
        raise CorruptRecordError(
            rid,
            f"'val' in {mat.name} declares shape {shape} ({n_values} values) but the file has {size} bytes "
            "(truncated or damaged); re-download the record",
        )


def check_cinc_header(
    path: str | Path,
    *,
    record_id: str | None = None,
    leads: Sequence[str] | None = STANDARD_LEADS,
    expected_sfreq: float | None = None,
) -> dict[str, Any]:
    """Check a PhysioNet/CinC record (``.hea`` + ``.mat``) without reading its samples.

    The header is validated as in :func:`read_cinc` and the shape of ``val`` is read from the MAT-file's
    variable header (:func:`scipy.io.whosmat`) and compared with the header.

    Returns:
        ``{"n_signals", "sfreq", "n_times", "channels"}``.

    Raises:
        CorruptRecordError: anything :func:`read_cinc` would refuse before decoding the samples.
    """
    base = _base_path(path, (".hea", ".mat"))
    rid = str(record_id) if record_id is not None else base.as_posix()
    hdr, _, _, channels, _ = _checked_header(base, rid, _target_leads(leads), expected_sfreq, data="mat")
    _check_mat(Path(f"{base}.mat"), hdr, rid)
    return {"n_signals": hdr.n_sig, "sfreq": hdr.fs, "n_times": hdr.sig_len, "channels": channels}


def read_cinc(
    path: str | Path,
    *,
    record_id: str | None = None,
    leads: Sequence[str] | None = STANDARD_LEADS,
    expected_sfreq: float | None = None,
) -> Record:
    """Read a PhysioNet/CinC 2020/2021 record (``<rec>.hea`` + ``<rec>.mat``) as a Record in mV.

    The header is parsed here (not by wfdb), so Georgia headers whose first line names the record
    ``E00009.mat`` are read too. ``val`` (``(C, n)``) is loaded with :func:`scipy.io.loadmat`, checked against
    the header, and scaled as ``(val - baseline) / gain``. The header gain is trusted as written.

    Args:
        path: record path without extension (``.hea`` or ``.mat`` suffixes are accepted).
        record_id: id used in the Record and in errors; defaults to ``path`` without extension.
        leads: wanted leads in the wanted order; ``None`` keeps every recognised lead in file order.
        expected_sfreq: when given, a record at another rate is rejected.

    Returns:
        Record with ``signal`` float32 ``(len(leads), T)`` in mV; ``meta`` as :func:`read_wfdb` (with
        ``format="cinc_mat"``) plus ``dx`` (SNOMED CT codes of ``#Dx:``, deduplicated in order, ``[]`` when
        blank), ``age`` and ``sex`` (raw strings, or None when absent or blank).

    Raises:
        CorruptRecordError: unreadable header or ``.mat``, missing ``.mat``, ``val`` shape differing from
            the header, gain 0, unknown unit, unknown / duplicate / missing lead, all-NaN or flat lead,
            unexpected sampling rate.
        ConfigError: ``leads`` names a lead that does not exist.
    """
    base = _base_path(path, (".hea", ".mat"))
    rid = str(record_id) if record_id is not None else base.as_posix()
    hdr, names, rows, channels, scales = _checked_header(
        base, rid, _target_leads(leads), expected_sfreq, data="mat"
    )
    mat = Path(f"{base}.mat")
    _check_mat(mat, hdr, rid)
    import scipy.io
    from scipy.io.matlab import MatReadError

    try:
        val = scipy.io.loadmat(str(mat)).get("val")
    except (*_READ_ERRORS, MatReadError) as exc:  # scipy raises many types for damaged files
        raise CorruptRecordError(rid, f"unreadable {mat.name}: {type(exc).__name__}: {exc}") from None
    if (
        not isinstance(val, np.ndarray)
        or val.ndim != 2
        or not (np.issubdtype(val.dtype, np.integer) or np.issubdtype(val.dtype, np.floating))
    ):
        found = (
            "no 'val' variable"
            if val is None
            else f"'val' of type {type(val).__name__} {getattr(val, 'shape', '')}"
        )
        raise CorruptRecordError(
            rid, f"{mat.name} has {found}; expected a numeric (signals, samples) matrix 'val'"
        )
    if val.shape[0] != hdr.n_sig:
        raise CorruptRecordError(
            rid,
            f"header/data mismatch: the header declares {hdr.n_sig} signals but 'val' in {mat.name} has shape "
            f"{val.shape}; the files do not belong together",
        )
    if hdr.sig_len is not None and val.shape[1] != hdr.sig_len:
        raise CorruptRecordError(
            rid,
            f"header/data length mismatch: the header declares {hdr.sig_len} samples but 'val' in {mat.name} "
            f"has {val.shape[1]} (truncated or wrong header); re-download the record",
        )
    if val.shape[1] < 1:
        raise CorruptRecordError(rid, f"'val' in {mat.name} has no samples")

    v = val[rows].astype(np.float64)  # (C, T) digital values of the kept rows
    if np.issubdtype(val.dtype, np.integer):
        for k, i in enumerate(rows):
            if hdr.signals[i].fmt == "16":
                v[k, val[i] == _INVALID_16] = np.nan  # WFDB's invalid-sample value
    baseline = np.array([hdr.signals[i].baseline for i in rows], dtype=np.float64)[:, None]  # (C, 1)
    gain = np.array([hdr.signals[i].gain for i in rows], dtype=np.float64)[:, None]  # (C, 1)
    x = (v - baseline) / gain * np.asarray(scales)[:, None]  # (C, T) in mV

    fields = _comment_fields(hdr.comments)
    meta = {
        **_header_meta("cinc_mat", base, hdr, names, rows),
        "dx": _parse_dx(fields.get("dx")),
        "age": fields.get("age") or None,
        "sex": fields.get("sex") or None,
    }
    return _finish(rid, x, channels, hdr.fs, meta)


# --------------------------------------------------------------------------------------------------------
# record lists


def _root_dir(root: str | Path) -> Path:
    r = Path(root)
    if not r.is_dir():
        raise DataError(f"dataset root {r} is not a directory; pass the folder that holds the records")
    return r


def _strip_ext(name: str) -> str:
    name = name.replace("\\", "/").strip()
    for ext in (".hea", ".dat"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def _pairs_with_mat(root: Path, rel: str) -> bool:
    return Path(f"{root / rel}.mat").is_file()


def _records_from_file(folder: Path, prefix: str, seen: set[Path]) -> list[str]:
    """Entries of ``folder/RECORDS``; sub-folder entries are followed (their RECORDS, else their headers)."""
    key = folder.resolve()
    if key in seen:
        return []
    seen.add(key)
    out: list[str] = []
    for raw in (folder / "RECORDS").read_text(encoding="utf-8", errors="replace").splitlines():
        entry = raw.strip().replace("\\", "/")
        if not entry or entry.startswith("#"):
            continue
        sub = folder / entry.rstrip("/")
        if entry.endswith("/") or (sub.is_dir() and not Path(f"{sub}.hea").is_file()):
            sub_prefix = f"{prefix}{entry.rstrip('/')}/"
            if (sub / "RECORDS").is_file():
                out += _records_from_file(sub, sub_prefix, seen)
            elif sub.is_dir():
                out += [
                    sub_prefix + h.relative_to(sub).with_suffix("").as_posix() for h in sub.rglob("*.hea")
                ]
            continue
        out.append(prefix + _strip_ext(entry))
    return out


def list_wfdb_records(root: str | Path) -> list[str]:
    """Record names of a WFDB folder: relative paths without extension, POSIX separators, sorted.

    A PhysioNet ``RECORDS`` file at ``root`` is used when present (entries naming sub-folders are followed
    through their own ``RECORDS``); otherwise every ``*.hea`` below ``root`` is listed, whether or not its
    data file exists (the reader then reports the missing file). Headers paired with a ``.mat`` file are
    CinC records and are left out (see :func:`list_cinc_records`).

    Raises:
        DataError: ``root`` is not a directory.
    """
    r = _root_dir(root)
    if (r / "RECORDS").is_file():
        names = _records_from_file(r, "", set())
    else:
        names = [h.relative_to(r).with_suffix("").as_posix() for h in r.rglob("*.hea")]
    return sorted({n for n in names if not _pairs_with_mat(r, n)})


def _names_mat(hea: Path) -> bool:
    """True when the header's first signal line stores its samples in a ``.mat`` file."""
    try:
        with hea.open(encoding="utf-8", errors="replace") as f:
            lines = [ln for ln in (f.readline() for _ in range(8)) if ln.strip() and not ln.startswith("#")]
    except OSError:
        return False
    return len(lines) > 1 and lines[1].split()[0].lower().endswith(".mat")


def list_cinc_records(root: str | Path) -> list[str]:
    """PhysioNet/CinC records below ``root``: ``*.hea`` with a ``.mat`` sibling or whose header names one.

    Returns:
        Sorted relative record names without extension, POSIX separators.

    Raises:
        DataError: ``root`` is not a directory.
    """
    r = _root_dir(root)
    out = []
    for h in r.rglob("*.hea"):
        if h.with_suffix(".mat").is_file() or _names_mat(h):
            out.append(h.relative_to(r).with_suffix("").as_posix())
    return sorted(out)


def list_mimic_records(root: str | Path) -> list[str]:
    """MIMIC-IV-ECG record names: the ``path`` column of ``record_list.csv``, else :func:`list_wfdb_records`.

    Returns:
        Sorted, de-duplicated relative record paths without extension (e.g.
        ``files/p1000/p10000032/s40689238/40689238``).

    Raises:
        DataError: ``root`` is not a directory, or ``record_list.csv`` has no ``path`` column.
    """
    r = _root_dir(root)
    csv_path = r / "record_list.csv"
    if not csv_path.is_file():
        return list_wfdb_records(r)
    with csv_path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or "path" not in reader.fieldnames:
            raise DataError(
                f"{csv_path} has columns {reader.fieldnames}, expected a 'path' column (MIMIC-IV-ECG "
                "record_list.csv); remove the file to list the WFDB headers instead"
            )
        names = {_strip_ext(row["path"]) for row in reader if (row.get("path") or "").strip()}
    return sorted(names)


# --------------------------------------------------------------------------------------------------------
# CODE-15%


def _opt_int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _opt_bool(value: str | None) -> bool | None:
    v = (value or "").strip().lower()
    if v in ("true", "1", "1.0", "yes"):
        return True
    if v in ("false", "0", "0.0", "no"):
        return False
    return None


def _part_key(p: Path) -> tuple[int, str]:
    m = re.search(r"(\d+)$", p.stem)
    return (int(m.group(1)) if m else -1, p.name)


def _read_exams_csv(path: Path) -> dict[int, dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    if not path.is_file():
        return rows
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or "exam_id" not in reader.fieldnames:
            raise DataError(
                f"{path} has columns {reader.fieldnames}, expected CODE-15% columns incl. exam_id"
            )
        for line_no, row in enumerate(reader, start=2):
            eid = _opt_int(row.get("exam_id"))
            if eid is None:
                raise DataError(f"{path} line {line_no}: exam_id {row.get('exam_id')!r} is not an integer")
            rows.setdefault(
                eid,
                {
                    "patient_id": _opt_int(row.get("patient_id")),
                    "age": _opt_int(row.get("age")),
                    "is_male": _opt_bool(row.get("is_male")),
                    "trace_file": (row.get("trace_file") or "").strip() or None,
                },
            )
    return rows


def _raiser(rid: str, reason: str) -> Callable[[], Record]:
    def load() -> Record:
        raise CorruptRecordError(rid, reason)

    return load


def _code15_loader(
    h5: Path,
    row: int,
    exam_id: int,
    info: dict[str, Any] | None,
    rows: list[int],
    channels: tuple[str, ...],
    min_nonzero: int | None,
) -> Callable[[], Record]:
    rid = f"{exam_id}"

    def load() -> Record:
        h5py = _import_h5py()
        try:
            with h5py.File(h5, "r") as f:
                ds = f["tracings"]
                if ds.ndim != 3 or ds.shape[2] != len(STANDARD_LEADS) or ds.shape[0] <= row:
                    raise CorruptRecordError(
                        rid,
                        f"'tracings' in {h5.name} has shape {ds.shape}; expected (N > {row}, T, 12)",
                    )
                x = np.asarray(ds[row], dtype=np.float64).T  # (12, T)
        except BioJepaError:
            raise
        except _READ_ERRORS as exc:  # h5py raises OSError/KeyError/ValueError for damaged files
            raise CorruptRecordError(
                rid, f"cannot read tracing {row} of {h5.name}: {type(exc).__name__}: {exc}"
            ) from None
        n_t = x.shape[1]
        nonzero = np.any(x != 0, axis=0)  # (T,) True where any lead is non-zero (NaN counts as non-zero)
        if not nonzero.any():
            raise CorruptRecordError(rid, f"exam is all zero in {h5.name} (row {row}); it holds no ECG")
        start = int(np.argmax(nonzero))
        stop = n_t - int(np.argmax(nonzero[::-1]))
        if min_nonzero is not None and stop - start < min_nonzero:
            raise CorruptRecordError(
                rid,
                f"non-zero span of {stop - start} samples is shorter than min_nonzero={min_nonzero} (the exam is "
                "zero-padded); excluded as in ECG-JEPA, which keeps only exams that fill all 4096 samples",
            )
        x = x[rows, start:stop]  # (C, T_trimmed)
        meta: dict[str, Any] = {
            "format": "code15_hdf5",
            "path": h5.as_posix(),
            "exam_id": exam_id,
            "patient_id": info["patient_id"] if info else None,
            "age": info["age"] if info else None,
            "is_male": info["is_male"] if info else None,
            "trace_file": h5.name,
            "n_trimmed_start": start,
            "n_trimmed_end": n_t - stop,
        }
        return _finish(rid, x, channels, CODE15_SFREQ, meta)

    return load


def iter_code15(
    root: str | Path,
    *,
    leads: Sequence[str] | None = STANDARD_LEADS,
    min_nonzero: int | None = None,
) -> Iterator[Callable[[], Record]]:
    """One lazy loader per CODE-15% exam (``exams_part*.hdf5`` + ``exams.csv``), 400 Hz, mV.

    Iterating reads only the ``exam_id`` arrays; each loader reads its tracing when called, trims the zero
    padding at both ends (samples that are zero in all 12 leads) and validates it like the other readers.
    Rows with ``exam_id`` 0 (CODE-15's padding rows) are skipped. Exams present in an HDF5 file but absent
    from ``exams.csv`` are read with ``None`` metadata. An ``exams.csv`` row whose ``trace_file`` is missing,
    or whose exam is in no HDF5 file, still yields a loader, which raises :class:`CorruptRecordError`; so
    does a damaged HDF5 file (one loader, named after the file). Order: files by part number, rows in file
    order, then the unmatched ``exams.csv`` rows.

    Args:
        root: folder with ``exams.csv`` and ``exams_part*.hdf5``.
        leads: wanted leads in the wanted order (the files store the 12 standard leads).
        min_nonzero: minimum trimmed length in samples; shorter exams raise :class:`CorruptRecordError`
            from their loader (ECG-JEPA: 4096, the whole tracing). None keeps any non-empty exam.

    Yields:
        Zero-argument callables returning a Record (``record_id = str(exam_id)``); ``meta``: ``exam_id``,
        ``patient_id``, ``age``, ``is_male``, ``trace_file``, ``n_trimmed_start``, ``n_trimmed_end``,
        ``n_nan_interpolated``, ``fingerprint``, ``format``, ``path``.

    Raises:
        DataError: ``root`` holds neither HDF5 files nor ``exams.csv``, or ``exams.csv`` is malformed.
        ConfigError: bad ``leads`` or ``min_nonzero``.
    """
    target = _target_leads(leads) or STANDARD_LEADS  # None: the 12 stored leads in file order
    rows = [STANDARD_LEADS.index(t) for t in target]
    if min_nonzero is not None:
        if not isinstance(min_nonzero, (int, np.integer)) or isinstance(min_nonzero, bool) or min_nonzero < 1:
            raise ConfigError(
                f"min_nonzero must be None or a positive integer (e.g. 4096), found {min_nonzero!r}"
            )
        min_nonzero = int(min_nonzero)
    r = _root_dir(root)
    files = sorted(r.glob("exams_part*.hdf5"), key=_part_key)
    exams = _read_exams_csv(r / "exams.csv")
    if not files and not exams:
        raise DataError(
            f"no CODE-15% data under {r}: expected exams.csv and exams_part*.hdf5 files (Zenodo 4916206)"
        )
    return _iter_code15(files, exams, rows, target, min_nonzero, r)


def _iter_code15(
    files: list[Path],
    exams: dict[int, dict[str, Any]],
    rows: list[int],
    channels: tuple[str, ...],
    min_nonzero: int | None,
    root: Path,
) -> Iterator[Callable[[], Record]]:
    h5py = _import_h5py()
    found: set[int] = set()
    for h5 in files:
        try:
            with h5py.File(h5, "r") as f:
                ids = np.asarray(f["exam_id"][()]).reshape(-1)  # (N,)
                n_tr = f["tracings"].shape[0]
        except _READ_ERRORS as exc:  # damaged or foreign file: one failing loader, named after the file
            yield _raiser(h5.name, f"cannot read exam_id/tracings of {h5}: {type(exc).__name__}: {exc}")
            continue
        if n_tr != ids.shape[0]:
            yield _raiser(
                h5.name, f"{h5.name} has {ids.shape[0]} exam ids but {n_tr} tracings; they must match"
            )
            continue
        for i, eid in enumerate(ids.tolist()):
            eid = int(eid)
            if eid == 0:
                continue
            found.add(eid)
            yield _code15_loader(h5, i, eid, exams.get(eid), rows, channels, min_nonzero)
    for eid, info in exams.items():
        if eid in found or eid == 0:
            continue
        tf = info["trace_file"]
        if tf is None:
            reason = "exams.csv gives no trace_file and the exam is in none of the exams_part*.hdf5 files"
        elif not (root / tf).is_file():
            reason = f"trace_file {tf} named in exams.csv is missing under {root}; download that part"
        else:
            reason = f"exam_id {eid} is not in {tf} (nor in any other exams_part*.hdf5 file)"
        yield _raiser(str(eid), reason)


def scan_code15(root: str | Path) -> list[Any]:
    """Header scan of a CODE-15% folder: one :class:`~biojepa.data.verify.ScanResult` per exam, no tracing read.

    Each ``exams_part*.hdf5`` must open and hold ``exam_id`` and ``tracings`` of shape ``(N, T, 12)`` with as
    many ids as tracings (else the file is one quarantined entry, named after the file); each exam of a
    readable file is ok; each ``exams.csv`` exam found in no file is quarantined with the reason. Zero
    padding and ``min_nonzero`` need the samples, so they are left to pretraining.

    Raises:
        DataError: ``root`` holds neither HDF5 files nor ``exams.csv``, or ``exams.csv`` is malformed.
    """
    from biojepa.data.verify import ScanResult

    r = _root_dir(root)
    files = sorted(r.glob("exams_part*.hdf5"), key=_part_key)
    exams = _read_exams_csv(r / "exams.csv")
    if not files and not exams:
        raise DataError(
            f"no CODE-15% data under {r}: expected exams.csv and exams_part*.hdf5 files (Zenodo 4916206)"
        )
    h5py = _import_h5py()
    out: list[ScanResult] = []
    found: set[int] = set()
    for h5 in files:
        try:
            with h5py.File(h5, "r") as f:
                ids = np.asarray(f["exam_id"][()]).reshape(-1)  # (N,)
                shape = tuple(int(d) for d in f["tracings"].shape)
        except _READ_ERRORS as exc:
            out.append(
                ScanResult(
                    h5.name,
                    "quarantined",
                    f"cannot read exam_id/tracings of {h5}: {type(exc).__name__}: {exc}",
                    h5.as_posix(),
                )
            )
            continue
        if len(shape) != 3 or shape[2] != len(STANDARD_LEADS) or shape[0] != ids.shape[0]:
            out.append(
                ScanResult(
                    h5.name,
                    "quarantined",
                    f"'tracings' in {h5.name} has shape {shape} for "
                    f"{ids.shape[0]} exam ids; expected ({ids.shape[0]}, T, 12)",
                    h5.as_posix(),
                )
            )
            continue
        for eid in ids.tolist():
            if int(eid) != 0:
                found.add(int(eid))
                out.append(ScanResult(str(int(eid)), "ok", "", h5.as_posix()))
    for eid, info in exams.items():
        if eid in found or eid == 0:
            continue
        tf = info["trace_file"]
        reason = (
            "exams.csv gives no trace_file and the exam is in none of the exams_part*.hdf5 files"
            if tf is None
            else f"exam_id {eid} is in none of the exams_part*.hdf5 files (exams.csv names {tf})"
        )
        out.append(ScanResult(str(eid), "quarantined", reason, ""))
    return out
