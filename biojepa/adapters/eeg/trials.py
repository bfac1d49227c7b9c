"""BCI trials: recordings -> labelled epochs ``(n, C, T)`` in µV at 128 Hz (for ``biojepa finetune bci``).

Every recording is preprocessed as a whole first (S-JEPA: zero-phase band-pass 0.5-40 Hz at the native rate,
polyphase resampling to ``sfreq``; :func:`~biojepa.adapters.eeg.datasets.preprocess_to`), then one epoch of
``n_times`` samples is cut at each labelled event, from ``round((onset + tmin) * sfreq)``. An epoch that would
start before the recording or run past its end is dropped and counted in ``meta``.

=============  =================  =============================================  ==========  ============
dataset        paradigm           classes (event -> class)                       runs        window
=============  =================  =============================================  ==========  ============
eegmmidb       ``mi``             T1 -> left_fist, T2 -> right_fist (imagined)   4, 8, 12    536 (4.19 s)
eegmmidb       ``mi_executed``    T1 -> left_fist, T2 -> right_fist (executed)   3, 7, 11    536
eegmmidb       ``mi_fists_feet``  T1 -> both_fists, T2 -> both_feet (imagined)   6, 10, 14   536
eegnb_p300     ``erp``            marker 1 -> non_target, 2 -> target            -           152 (1.19 s)
eegnb_ssvep    ``ssvep``          marker 1 -> 30Hz, 2 -> 20Hz                    -           384 (3.0 s)
eeg_synthetic  ``mi``             ERD at C3 -> mu_erd_left, C4 -> mu_erd_right   -           536
lee2019        ``mi``             MOABB Lee2019_MI: left_hand, right_hand        -           536
lee2019        ``erp``            MOABB Lee2019_ERP: NonTarget, Target           -           152
lee2019        ``ssvep``          MOABB Lee2019_SSVEP: 12.0, 8.57, 6.67, 5.45    -           536
bnci2014_001   ``mi``             MOABB BNCI2014_001: left_hand, right_hand,     -           536
                                  feet, tongue
bnci2014_001   ``mi_lr``          MOABB BNCI2014_001: left_hand, right_hand      -           536
=============  =================  =============================================  ==========  ============

Windows are in samples at 128 Hz (at another ``sfreq`` the same duration).

``lee2019`` and ``bnci2014_001`` have no plain-file reader: their trials load through the optional package
MOABB (:func:`biojepa.adapters.eeg.moabb.load_moabb_trials`, which documents its preprocessing and labels),
with ``root=None`` (MOABB keeps its own data folder and downloads on first use).

eegmmidb labels come from the (run, annotation) pair, never from the annotation alone: T1/T2 mean left/right
fist in runs 3/4/7/8/11/12 and both fists/both feet in runs 5/6/9/10/13/14, so a paradigm accepts only its own
runs. T0 (rest) is not a class unless ``events`` maps it. The windows follow S-JEPA (4.19 s for MI, 1.19 s for
ERP). SSVEP is the exception: in eeg-notebooks v0.1 each flicker lasts 3.0 s (``soa = 3.0`` in the upstream
``stimulus_presentation/generate_SSVEP.py``), followed by a 0.5-0.7 s pause; the onsets in the shared copy are
3.39-3.73 s apart (median 3.56 s; one pair 2.72 s apart in subject4). A 4.19 s crop would run into the next
stimulus, so the default is the whole 3.0 s stimulus (384 samples), the longest window that stays inside one.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biojepa.errors import ConfigError, ContractError, CorruptRecordError, DataError

__all__ = [
    "MOABB_DATASET_IDS",
    "PARADIGMS",
    "SYNTH_SUBJECTS",
    "SYNTH_TRIALS_PER_SUBJECT",
    "Paradigm",
    "TrialSet",
    "load_trials",
]


@dataclasses.dataclass(frozen=True)
class Paradigm:
    """The default event mapping, runs and window of one (dataset, paradigm) pair.

    Attributes:
        events: event description (EDF+ annotation, Muse marker code or MOABB event name) -> class name; the
            class order is the order of first appearance.
        window_s: default epoch length in seconds (``n_times = round(window_s * sfreq)``).
        runs: default eegmmidb runs (None for the other datasets).
        allowed_runs: the runs in which ``events`` mean these classes (None: no run restriction).
        freqs: stimulation frequency of each event (SSVEP), or None.
        note: where the numbers come from.
    """

    events: Mapping[str, str]
    window_s: float
    runs: tuple[int, ...] | None = None
    allowed_runs: tuple[int, ...] | None = None
    freqs: Mapping[str, float] | None = None
    note: str = ""


_MI_WINDOW_S = 536 / 128.0  # S-JEPA's 4.19 s motor-imagery / SSVEP crop
_ERP_WINDOW_S = 152 / 128.0  # S-JEPA's 1.19 s ERP crop

#: (dataset id, paradigm) -> defaults.
PARADIGMS: dict[tuple[str, str], Paradigm] = {
    ("eegmmidb", "mi"): Paradigm(
        {"T1": "left_fist", "T2": "right_fist"},
        _MI_WINDOW_S,
        runs=(4, 8, 12),
        allowed_runs=(4, 8, 12),
        note="imagined left/right fist; S-JEPA's 4.19 s MI crop",
    ),
    ("eegmmidb", "mi_executed"): Paradigm(
        {"T1": "left_fist", "T2": "right_fist"},
        _MI_WINDOW_S,
        runs=(3, 7, 11),
        allowed_runs=(3, 7, 11),
        note="executed left/right fist; S-JEPA's 4.19 s MI crop",
    ),
    ("eegmmidb", "mi_fists_feet"): Paradigm(
        {"T1": "both_fists", "T2": "both_feet"},
        _MI_WINDOW_S,
        runs=(6, 10, 14),
        allowed_runs=(6, 10, 14),
        note="imagined both fists/both feet; S-JEPA's 4.19 s MI crop",
    ),
    ("eegnb_p300", "erp"): Paradigm(
        {"1": "non_target", "2": "target"},
        _ERP_WINDOW_S,
        note="upstream event_id {'Non-Target': 1, 'Target': 2}; S-JEPA's 1.19 s ERP crop (stimuli are "
        "0.5-0.7 s apart, so windows overlap the next stimulus, as in any oddball design)",
    ),
    ("eegnb_ssvep", "ssvep"): Paradigm(
        {"1": "30Hz", "2": "20Hz"},
        3.0,
        freqs={"1": 30.0, "2": 20.0},
        note="upstream event_id {'30 Hz': 1, '20 Hz': 2}; each flicker lasts 3.0 s and onsets are 3.4-3.7 s "
        "apart (one pair 2.7 s), so the window is the 3.0 s stimulus instead of S-JEPA's 4.19 s crop",
    ),
    ("eeg_synthetic", "mi"): Paradigm(
        {"0": "mu_erd_left", "1": "mu_erd_right"},
        _MI_WINDOW_S,
        note="generated by biojepa.adapters.eeg.synthetic.simulate_trials (4 subjects x 40 trials)",
    ),
    # MOABB-backed pairs (biojepa.adapters.eeg.moabb): events are MOABB event names -> class names.
    ("lee2019", "mi"): Paradigm(
        {"left_hand": "left_hand", "right_hand": "right_hand"},
        _MI_WINDOW_S,
        note="MOABB Lee2019_MI + LeftRightImagery (offline runs); S-JEPA's 4.19 s MI crop from the cue",
    ),
    ("lee2019", "erp"): Paradigm(
        {"NonTarget": "NonTarget", "Target": "Target"},
        _ERP_WINDOW_S,
        note="MOABB Lee2019_ERP + P300 (offline and online runs); Target is label 1 (the ROC-AUC positive "
        "class); S-JEPA's 1.19 s ERP crop",
    ),
    ("lee2019", "ssvep"): Paradigm(
        {"12.0": "12.0", "8.57": "8.57", "6.67": "6.67", "5.45": "5.45"},
        _MI_WINDOW_S,
        freqs={"12.0": 12.0, "8.57": 8.57, "6.67": 6.67, "5.45": 5.45},
        note="MOABB Lee2019_SSVEP + SSVEP (offline runs); S-JEPA's 4.19 s crop (stimuli last 4 s, so the "
        "last 0.19 s follow the stimulus)",
    ),
    ("bnci2014_001", "mi"): Paradigm(
        {"left_hand": "left_hand", "right_hand": "right_hand", "feet": "feet", "tongue": "tongue"},
        _MI_WINDOW_S,
        note="MOABB BNCI2014_001 + MotorImagery (4 classes, both sessions); S-JEPA's 4.19 s MI crop from the "
        "cue (t = 2 s), running 0.19 s past the 4 s imagery period",
    ),
    ("bnci2014_001", "mi_lr"): Paradigm(
        {"left_hand": "left_hand", "right_hand": "right_hand"},
        _MI_WINDOW_S,
        note="MOABB BNCI2014_001 + LeftRightImagery (both sessions); S-JEPA's 4.19 s MI crop from the cue",
    ),
}

#: Dataset ids whose trials load through MOABB (:mod:`biojepa.adapters.eeg.moabb`), not from files.
MOABB_DATASET_IDS: tuple[str, ...] = ("lee2019", "bnci2014_001")

#: Trials per simulated subject and number of simulated subjects of ``eeg_synthetic``.
SYNTH_SUBJECTS = 4
SYNTH_TRIALS_PER_SUBJECT = 40


def _valid_pairs() -> str:
    return ", ".join(f"{d}/{p}" for d, p in PARADIGMS)


# ---------------------------------------------------------------------------------------------------------
# the trial set
# ---------------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class TrialSet:
    """Labelled epochs of one paradigm.

    Attributes:
        X: float32 ``(n, C, T)`` in µV at ``sfreq``.
        y: int64 ``(n,)`` labels in ``0 .. len(class_names) - 1``.
        class_names: class of each label.
        subjects: ``(n,)`` str subject of each trial (``"S001"``, ``"subject1"``, ``"synth01"``): the
            groups of a leave-one-subject-out split.
        runs: ``(n,)`` str recording each trial was cut from (its record id, e.g. ``"S001R04"``): never split
            the trials of one run between training and test.
        channels: ``C`` canonical channel names (rows of ``X``).
        positions: float64 ``(C, 3)`` unit-head electrode positions (NaN rows: unknown).
        sfreq: sampling rate in Hz.
        paradigm: the paradigm name.
        meta: facts about the extraction (records, dropped epochs, windows, frequencies, ...).

    Raises:
        DataError: at construction, when the arrays disagree in shape or a label is out of range.
    """

    X: np.ndarray
    y: np.ndarray
    class_names: list[str]
    subjects: np.ndarray
    runs: np.ndarray
    channels: list[str]
    positions: np.ndarray
    sfreq: float
    paradigm: str
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.X = np.asarray(self.X, dtype=np.float32)
        self.y = np.asarray(self.y, dtype=np.int64)
        self.subjects = np.asarray(self.subjects, dtype=str)
        self.runs = np.asarray(self.runs, dtype=str)
        self.positions = np.asarray(self.positions, dtype=np.float64)
        self.class_names = [str(c) for c in self.class_names]
        self.channels = [str(c) for c in self.channels]
        if self.X.ndim != 3:
            raise DataError(f"TrialSet.X must be (n, C, T), found shape {self.X.shape}")
        n, c, _ = self.X.shape
        for name, arr in (("y", self.y), ("subjects", self.subjects), ("runs", self.runs)):
            if arr.shape != (n,):
                raise DataError(
                    f"TrialSet.{name} must have shape ({n},) like X's first axis, found {arr.shape}"
                )
        if len(self.channels) != c or self.positions.shape != (c, 3):
            raise DataError(
                f"TrialSet has {c} channels in X but {len(self.channels)} names and positions of shape "
                f"{self.positions.shape}; expected {c} names and ({c}, 3) positions"
            )
        if n and (self.y.min() < 0 or self.y.max() >= len(self.class_names)):
            raise DataError(
                f"TrialSet labels must be in 0..{len(self.class_names) - 1} ({self.class_names}), found "
                f"{sorted(set(self.y.tolist()))}"
            )

    @property
    def n_trials(self) -> int:
        """Number of trials ``n``."""
        return int(self.X.shape[0])

    def __len__(self) -> int:
        return self.n_trials

    @property
    def n_channels(self) -> int:
        """Channels ``C``."""
        return int(self.X.shape[1])

    @property
    def n_times(self) -> int:
        """Samples per trial ``T``."""
        return int(self.X.shape[2])

    def class_counts(self) -> dict[str, int]:
        """Trials per class name."""
        counts = np.bincount(self.y, minlength=len(self.class_names))
        return {name: int(k) for name, k in zip(self.class_names, counts, strict=True)}

    def subset(self, idx: Sequence[int] | np.ndarray) -> TrialSet:
        """The trials ``idx`` (integer indices or a boolean mask) with the same classes, channels, meta."""
        sel = np.asarray(idx)
        if sel.dtype == bool:
            if sel.shape != (self.n_trials,):
                raise ConfigError(f"a boolean subset mask needs shape ({self.n_trials},), found {sel.shape}")
            sel = np.flatnonzero(sel)
        sel = sel.astype(np.int64)
        if sel.ndim != 1 or (sel.size and (sel.min() < -self.n_trials or sel.max() >= self.n_trials)):
            raise ConfigError(
                f"subset indices must be a 1-D array within [0, {self.n_trials}), found {idx!r}"
            )
        return dataclasses.replace(
            self,
            X=self.X[sel],
            y=self.y[sel],
            subjects=self.subjects[sel],
            runs=self.runs[sel],
            class_names=list(self.class_names),
            channels=list(self.channels),
            positions=self.positions.copy(),
            meta=dict(self.meta),
        )


# ---------------------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------------------
def _event_map(paradigm: Paradigm, events: Mapping[Any, Any] | None) -> tuple[dict[str, str], list[str]]:
    mapping = dict(paradigm.events) if events is None else events
    if not isinstance(mapping, Mapping) or not mapping:
        raise ConfigError(f"events must be a non-empty mapping event -> class name, found {events!r}")
    out: dict[str, str] = {}
    for key, cls in mapping.items():
        if isinstance(key, bool) or not isinstance(key, (str, int, np.integer)) or not str(key).strip():
            raise ConfigError(f"event keys must be annotation names or marker codes, found {key!r}")
        if not isinstance(cls, str) or not cls.strip():
            raise ConfigError(f"events[{key!r}] must be a non-empty class name, found {cls!r}")
        out[str(key).strip()] = cls.strip()
    names = list(dict.fromkeys(out.values()))
    if len(names) < 2:
        raise ConfigError(f"events must name at least 2 classes, found {names} from {out}")
    return out, names


def class_freqs(
    mapping: Mapping[str, str], freqs: Mapping[str, float], class_of: Mapping[str, int]
) -> dict[str, dict[Any, float]]:
    """SSVEP stimulus frequencies per class: ``{"freqs": {label: Hz}, "freqs_by_name": {class name: Hz}}``.

    Args:
        mapping: event -> class name.
        freqs: event -> stimulus frequency (Hz).
        class_of: class name -> integer label.
    """
    by_name: dict[str, float] = {}
    for ev, cls in mapping.items():
        if ev in freqs:
            by_name.setdefault(cls, freqs[ev])
    return {"freqs": {class_of[c]: hz for c, hz in by_name.items()}, "freqs_by_name": by_name}  # label -> Hz


def _window(paradigm: Paradigm, n_times: int | None, sfreq: float) -> int:
    if n_times is None:
        return round(paradigm.window_s * sfreq)
    if isinstance(n_times, bool) or not isinstance(n_times, (int, np.integer)) or int(n_times) < 1:
        raise ConfigError(f"n_times must be a positive number of samples, found {n_times!r}")
    return int(n_times)


def _spacing(onsets: list[np.ndarray]) -> dict[str, float] | None:
    gaps = np.concatenate([np.diff(np.sort(o)) for o in onsets if o.size > 1] or [np.zeros(0)])
    if not gaps.size:
        return None
    return {"min": float(gaps.min()), "median": float(np.median(gaps)), "max": float(gaps.max())}


def load_trials(
    dataset_id: str,
    root: str | Path | None,
    paradigm: str,
    *,
    subjects: Any = None,
    runs: Any = None,
    events: Mapping[Any, str] | None = None,
    tmin: float = 0.0,
    n_times: int | None = None,
    sfreq: float = 128.0,
    seed: int = 0,
) -> TrialSet:
    """Labelled epochs of ``paradigm`` from the recordings of ``dataset_id`` under ``root``.

    Args:
        dataset_id: ``eegmmidb``, ``eegnb_p300``, ``eegnb_ssvep``, ``eeg_synthetic``, or ``lee2019`` /
            ``bnci2014_001`` (through MOABB: :func:`~biojepa.adapters.eeg.moabb.load_moabb_trials`).
        root: the dataset folder (same layout as ``--data ID=DIR``); None for ``eeg_synthetic`` and for the
            MOABB datasets (MOABB keeps its own data folder: ``MNE_DATA``, see ``moabb.set_download_dir``).
        paradigm: see :data:`PARADIGMS` (the module docstring lists the pairs).
        subjects: subject numbers (ints, a list or ``"1-3"``; default all found; for ``eeg_synthetic`` 1-4).
        runs: eegmmidb run numbers (default the paradigm's runs; only the paradigm's runs are accepted).
        events: event -> class name, overriding the paradigm's mapping (e.g. ``{"T1": "left", "T2":
            "right"}``; add ``"T0": "rest"`` for a rest class). Class order = order of first appearance.
        tmin: epoch start relative to the event onset, in seconds.
        n_times: epoch length in samples at ``sfreq`` (default: the paradigm's window).
        sfreq: output rate in Hz (S-JEPA: 128).
        seed: random seed of ``eeg_synthetic``.

    Returns:
        The :class:`TrialSet`; ``meta`` holds ``records``, ``n_dropped_past_end``, ``n_dropped_before_start``,
        ``n_ignored_events`` (descriptions not mapped, e.g. T0), ``n_overlapping_next_event``,
        ``onset_spacing_s``, ``events``, ``window_s`` and, for SSVEP, ``freqs`` (label -> Hz, the form the
        CCA baseline takes) and ``freqs_by_name`` (class name -> Hz).

    Raises:
        ConfigError: an unknown dataset/paradigm pair (the message lists the valid ones), runs outside the
            paradigm, a root for ``eeg_synthetic`` or a MOABB dataset (or none for the others), bad arguments.
        OptionalDependencyError: a MOABB dataset without ``moabb`` installed.
        CorruptRecordError: a record cannot be read or has no event of the paradigm.
        ContractError: a record's channels differ from the first record's.
        DataError: a class has no trial at all.
    """
    key = (str(dataset_id), str(paradigm))
    spec = PARADIGMS.get(key)
    if spec is None:
        raise ConfigError(
            f"unknown dataset/paradigm {dataset_id!r}/{paradigm!r}; valid pairs: {_valid_pairs()}"
        )
    if not (isinstance(sfreq, (int, float)) and not isinstance(sfreq, bool) and sfreq > 0):
        raise ConfigError(f"sfreq must be a positive number of Hz, found {sfreq!r}")
    if isinstance(tmin, bool) or not isinstance(tmin, (int, float)) or not np.isfinite(tmin):
        raise ConfigError(f"tmin must be a finite number of seconds, found {tmin!r}")
    window = _window(spec, n_times, float(sfreq))
    if dataset_id in MOABB_DATASET_IDS:
        return _moabb_trials(key, root, subjects, runs, events, float(tmin), window, float(sfreq))
    if dataset_id == "eeg_synthetic":
        return _synthetic_trials(spec, root, subjects, runs, events, float(tmin), window, float(sfreq), seed)
    return _file_trials(key, spec, root, subjects, runs, events, float(tmin), window, float(sfreq))


def _moabb_trials(
    key: tuple[str, str],
    root: str | Path | None,
    subjects: Any,
    runs: Any,
    events: Mapping[Any, str] | None,
    tmin: float,
    window: int,
    sfreq: float,
) -> TrialSet:
    dataset_id, paradigm = key
    if root is not None:
        raise ConfigError(
            f"{dataset_id} trials load through MOABB, which keeps its own data folder, so pass no folder "
            f"(got {str(root)!r}): `--data {dataset_id}` or load_trials({dataset_id!r}, None, {paradigm!r}). "
            "To keep MOABB's downloads elsewhere, run moabb.set_download_dir(DIR) once (MNE_DATA config); "
            "biojepa has no reader for a plain copy of these files"
        )
    if runs is not None:
        raise ConfigError(f"runs select eegmmidb runs; {dataset_id} (MOABB) selects trials by subjects only")
    from biojepa.adapters.eeg.moabb import load_moabb_trials

    return load_moabb_trials(
        dataset_id, paradigm, subjects=subjects, n_times=window, sfreq=sfreq, events=events, tmin=tmin
    )


def _file_trials(
    key: tuple[str, str],
    spec: Paradigm,
    root: str | Path | None,
    subjects: Any,
    runs: Any,
    events: Mapping[Any, str] | None,
    tmin: float,
    window: int,
    sfreq: float,
) -> TrialSet:
    from biojepa.adapters.eeg.datasets import (
        PREPROCESSING,
        list_eegmmidb,
        list_muse,
        parse_int_list,
        preprocess_to,
        read_ref,
    )

    dataset_id, paradigm = key
    if root is None:
        raise ConfigError(
            f"dataset {dataset_id!r} needs its folder (root); see `biojepa datasets info {dataset_id}`"
        )
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ConfigError(f"data folder {root} for dataset {dataset_id!r} does not exist")
    mapping, class_names = _event_map(spec, events)
    if dataset_id == "eegmmidb":
        want_runs = list(spec.runs or ()) if runs is None else parse_int_list(runs, "runs")
        allowed = spec.allowed_runs or ()
        bad = [r for r in want_runs if r not in allowed]
        if bad:
            raise ConfigError(
                f"eegmmidb runs {bad} are not {paradigm!r} runs: T1/T2 mean different movements in different "
                f"runs, so {paradigm!r} accepts only runs {list(allowed)}; choose the paradigm of those runs "
                f"({', '.join(p for d, p in PARADIGMS if d == 'eegmmidb')})"
            )
        refs, _ = list_eegmmidb(root, subjects, want_runs)
    else:
        if runs is not None:
            raise ConfigError(f"runs select eegmmidb runs; {dataset_id} selects recordings by subjects only")
        refs, _ = list_muse(root, subjects)
    class_of = {cls: i for i, cls in enumerate(class_names)}
    xs: list[np.ndarray] = []
    ys: list[int] = []
    subj: list[str] = []
    rid: list[str] = []
    channels: list[str] | None = None
    positions: np.ndarray | None = None
    ignored: Counter[str] = Counter()
    n_past = n_before = n_overlap = 0
    onsets_all: list[np.ndarray] = []
    records: list[str] = []
    for ref in refs:
        rec = read_ref(ref)
        if channels is None:
            channels = list(rec.channels)
            positions = np.asarray(rec.positions, dtype=np.float64) if rec.positions is not None else None
            order = list(range(len(channels)))
        else:
            if set(rec.channels) != set(channels):
                raise ContractError(
                    f"record {ref.record_id!r} has channels {list(rec.channels)} but the first record "
                    f"({records[0]!r}) has {channels}; the trials of one set must share their channels"
                )
            order = [rec.channels.index(c) for c in channels]
        try:
            x = preprocess_to(rec.signal[order], rec.sfreq, sfreq)  # (C, T')
        except (ConfigError, ValueError) as exc:
            raise CorruptRecordError(
                ref.record_id, f"cannot band-pass/resample at {rec.sfreq:g} Hz: {exc}"
            ) from None
        evs = list(rec.meta.get("events", []))
        onsets = np.array([float(e[0]) for e in evs], dtype=np.float64)  # (E,)
        onsets_all.append(onsets)
        starts_all = np.round((np.sort(onsets) + tmin) * sfreq).astype(np.int64)  # (E,) every event, sorted
        used = 0
        for onset, _, desc in evs:
            cls = mapping.get(str(desc).strip())
            if cls is None:
                ignored[str(desc)] += 1
                continue
            used += 1
            start = round((float(onset) + tmin) * sfreq)
            if start < 0:
                n_before += 1
                continue
            if start + window > x.shape[1]:
                n_past += 1
                continue
            later = starts_all[starts_all > start]
            n_overlap += bool(later.size and later[0] < start + window)
            xs.append(x[:, start : start + window])  # (C, window)
            ys.append(class_of[cls])
            subj.append(ref.subject)
            rid.append(ref.record_id)
        if used == 0:
            found = dict(Counter(str(e[2]) for e in evs))
            raise CorruptRecordError(
                ref.record_id,
                f"no event of paradigm {paradigm!r} ({sorted(mapping)}) in this recording; its events are "
                f"{found or 'none'}; check the file or pass events=... with the descriptions it uses",
            )
        records.append(ref.record_id)
    if channels is None:  # pragma: no cover - the listings raise before an empty selection gets here
        raise DataError(f"{dataset_id}: no recording selected under {root}")
    counts = Counter(ys)
    empty = [c for c in class_names if counts.get(class_of[c], 0) == 0]
    if empty:
        raise DataError(
            f"{dataset_id}/{paradigm}: no trial of class(es) {empty} in records {records[:10]}"
            f"{' ...' if len(records) > 10 else ''} (events {mapping}); every class needs at least one "
            "trial - check the event mapping, the runs or tmin/n_times"
        )
    if positions is None:
        positions = np.full((len(channels), 3), np.nan)
    meta: dict[str, Any] = {
        "dataset_id": dataset_id,
        "root": str(root.absolute()),
        "events": mapping,
        "tmin": tmin,
        "n_times": window,
        "window_s": window / sfreq,
        "records": records,
        "n_records": len(records),
        "n_dropped_past_end": n_past,
        "n_dropped_before_start": n_before,
        "n_ignored_events": dict(ignored),
        "n_overlapping_next_event": n_overlap,
        "onset_spacing_s": _spacing(onsets_all),
        "preprocessing": PREPROCESSING,
        "note": spec.note,
    }
    if spec.freqs is not None:
        meta.update(class_freqs(mapping, spec.freqs, class_of))
    return TrialSet(
        X=np.stack(xs) if xs else np.zeros((0, len(channels), window), np.float32),  # (n, C, T)
        y=np.asarray(ys, dtype=np.int64),
        class_names=class_names,
        subjects=np.asarray(subj, dtype=str),
        runs=np.asarray(rid, dtype=str),
        channels=channels,
        positions=positions,
        sfreq=sfreq,
        paradigm=paradigm,
        meta=meta,
    )


def _synthetic_trials(
    spec: Paradigm,
    root: str | Path | None,
    subjects: Any,
    runs: Any,
    events: Mapping[Any, str] | None,
    tmin: float,
    window: int,
    sfreq: float,
    seed: int,
) -> TrialSet:
    from biojepa.adapters.eeg.datasets import channel_table, parse_int_list
    from biojepa.adapters.eeg.synthetic import DEFAULT_CHANNELS, simulate_trials

    if root is not None:
        raise ConfigError(f"eeg_synthetic is generated, do not pass a folder (got {str(root)!r})")
    if events is not None or runs is not None or tmin != 0.0:
        raise ConfigError(
            "eeg_synthetic trials take no events, runs or tmin (the trials are generated as such)"
        )
    want = (
        parse_int_list(subjects, "subjects") if subjects is not None else list(range(1, SYNTH_SUBJECTS + 1))
    )
    bad = [s for s in want if not 1 <= s <= SYNTH_SUBJECTS]
    if bad:
        raise ConfigError(f"eeg_synthetic has subjects 1-{SYNTH_SUBJECTS}, found {bad}")
    x, y, subj = simulate_trials(
        n_subjects=SYNTH_SUBJECTS,
        trials_per_subject=SYNTH_TRIALS_PER_SUBJECT,
        n_times=window,
        sfreq=sfreq,
        seed=seed,
    )  # (n, C, T), (n,), (n,)
    keep = np.isin(subj + 1, want)  # (n,)
    x, y, subj = x[keep], y[keep], subj[keep]
    within = np.concatenate([np.arange(int(np.sum(subj == s))) for s in np.unique(subj)])  # (n,) trial index
    half = SYNTH_TRIALS_PER_SUBJECT // 2
    names = [f"synth{s + 1:02d}" for s in subj]
    channels, positions = channel_table(list(DEFAULT_CHANNELS))
    mapping, class_names = _event_map(spec, None)
    return TrialSet(
        X=x,
        y=y,
        class_names=class_names,
        subjects=np.asarray(names, dtype=str),
        runs=np.asarray(
            [f"{n}-run{1 + int(w >= half)}" for n, w in zip(names, within, strict=True)], dtype=str
        ),
        channels=channels,
        positions=positions,
        sfreq=sfreq,
        paradigm="mi",
        meta={
            "dataset_id": "eeg_synthetic",
            "root": None,
            "events": mapping,
            "tmin": 0.0,
            "n_times": window,
            "window_s": window / sfreq,
            "seed": seed,
            "subjects": [f"synth{s:02d}" for s in want],
            "n_dropped_past_end": 0,
            "n_dropped_before_start": 0,
            "note": spec.note,
        },
    )
