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
from biojepa.data.signal import fill_nonfinite
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
    "MUSE_CHANNELS",
    "MUSE_SFREQ",
    "from_array",
    "read_eeg_file",
    "read_epochs",
    "read_muse_csv",
    "read_raw",
]

#: The four EEG electrodes of the Muse 2016 headband, in the column order of the eeg-notebooks CSVs.
MUSE_CHANNELS: tuple[str, ...] = ("TP9", "AF7", "AF8", "TP10")

#: Nominal sampling rate of the Muse 2016 headband in Hz.
MUSE_SFREQ: float = 256.0

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

    The file is read with ``mne.io.read_raw(path, preload=True)``. Anything MNE cannot read (a damaged header,
    a truncated file, a foreign format) becomes a :class:`CorruptRecordError`; warnings MNE emits while reading
    are kept in ``meta["read_warnings"]``, except duplicate channel names, which raise.

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
        CorruptRecordError: the file is missing or unreadable, or fails validation (see :func:`read_raw`).
        ContractError: no channel has a position, or a picked channel is not a voltage.
        OptionalDependencyError: MNE, or a package MNE needs for this format, is not installed.
    """
    p = Path(path)
    rid = str(record_id) if record_id is not None else p.as_posix()
    _check_montage(montage)
    mne = _mne()
    if not p.is_file():
        raise CorruptRecordError(rid, f"file {p} not found; check the path and the dataset root")
    suffix = p.suffix.lower()
    fmt = _FORMATS.get(suffix, suffix.lstrip(".") or "unknown")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            raw = mne.io.read_raw(p, preload=True, verbose="warning")
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
    return _record_from_raw(
        raw,
        rid,
        montage=montage,
        picks=picks,
        expected_sfreq=expected_sfreq,
        meta={"format": fmt, "path": p.as_posix(), "read_warnings": messages},
    )


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
