"""BCI trials through MOABB (optional): ``lee2019`` and ``bnci2014_001`` -> :class:`~.trials.TrialSet`.

biojepa has dataset cards but no plain-file reader for these two datasets; when the optional package
``moabb`` is installed (``pip install moabb``), their labelled trials load through it. MOABB downloads each
dataset on first use into its own data folder (MNE's ``MNE_DATA`` config, default ``~/mne_data``; change it
with ``moabb.set_download_dir(DIR)``), so there is no ``root``: ``load_trials("lee2019", None, "mi")`` or
``biojepa finetune bci --data lee2019 ...``. Importing this module does not import MOABB.

=============  ===========  ==========================================  ==============================  ======
dataset        paradigm     MOABB dataset / paradigm                    classes (label 0, 1, ...)       window
=============  ===========  ==========================================  ==============================  ======
lee2019        ``mi``       ``Lee2019_MI`` / ``LeftRightImagery``       left_hand, right_hand           536
lee2019        ``erp``      ``Lee2019_ERP`` / ``P300``                  NonTarget, Target               152
lee2019        ``ssvep``    ``Lee2019_SSVEP`` / ``SSVEP``               12.0, 8.57, 6.67, 5.45 (Hz)     536
bnci2014_001   ``mi``       ``BNCI2014_001`` / ``MotorImagery`` (4)     left_hand, right_hand, feet,    536
                                                                        tongue
bnci2014_001   ``mi_lr``    ``BNCI2014_001`` / ``LeftRightImagery``     left_hand, right_hand           536
=============  ===========  ==========================================  ==============================  ======

Windows are in samples at 128 Hz (S-JEPA's 4.19 s and 1.19 s crops; at another ``sfreq`` the same duration).

Class names are MOABB's event names; the label order is the order of the ``events`` mapping (the table's, by
default): MOABB's event codes for MI and SSVEP, and for ERP NonTarget = 0, Target = 1, so that the positive
class of ROC-AUC is label 1 as for ``eegnb_p300``. ``events`` (MOABB event name -> class name) selects and
renames classes, e.g. ``{"left_hand": "left", "right_hand": "right"}`` on ``bnci2014_001/mi``. Lee2019 MI and
SSVEP use the offline (training) runs only: MOABB gives no labels for their online runs; Lee2019 ERP uses
both (MOABB's defaults). Both sessions of every subject are used.

Preprocessing (S-JEPA: 0.5-40 Hz, 128 Hz, µV): MOABB is asked for the band 0.5-40 Hz, which it applies to the
**continuous** recording before epoching (``raw.filter(0.5, 40, method="iir")``: MNE's default IIR is a
4th-order Butterworth run forward and backward, the same zero-phase design as
:func:`~biojepa.adapters.eeg.transforms.bandpass`; only the edge padding differs), with ``resample=None``, no
baseline and no other filter. Each epoch is requested from ``tmin - 0.5`` s to ``tmin + window + 0.5`` s
relative to MOABB's task-interval start (the event for Lee2019, the cue at t = 2 s of each BNCI2014-001
trial), converted to µV (:func:`~biojepa.adapters.eeg.readers.read_epochs`: canonical names, unit-head
positions), resampled to ``sfreq`` with :func:`~biojepa.adapters.eeg.transforms.resample_poly` and cropped to
the window starting at ``tmin``; the 0.5 s margins absorb the resampler's edge transients. Filtering the
continuous recording rather than each epoch is what S-JEPA's 0.5 Hz high-pass needs (a 0.5 Hz filter run on
a 4 s epoch alone would be dominated by its edges). Epochs MNE cannot cut because the padded window runs past
the recording are dropped by MNE (counted in ``meta["n_dropped_outside_recording"]``). Subjects are loaded one
at a time to bound memory.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections import Counter
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from biojepa._optional import require
from biojepa.adapters.eeg.trials import PARADIGMS, TrialSet, _event_map, _window, class_freqs
from biojepa.errors import BioJepaError, ConfigError, ContractError, DataError, OptionalDependencyError

__all__ = ["MOABB_PAIRS", "PAD_S", "PREPROCESSING", "MoabbSpec", "load_moabb_trials"]

#: Seconds of signal requested from MOABB before and after each window (resampling margin).
PAD_S = 0.5

#: S-JEPA's pass band, requested from MOABB (applied to the continuous recording).
_BAND_HZ = (0.5, 40.0)

#: What :func:`load_moabb_trials` does to the signal, for provenance.
PREPROCESSING = (
    "MOABB/MNE zero-phase IIR Butterworth band-pass 0.5-40 Hz (order 4, forward-backward) on the continuous "
    "recording; epochs padded by 0.5 s, polyphase resampling, cropped; µV"
)

_INSTALL_HINT = (
    "loading {ds!r} trials needs the optional package 'moabb', which is not installed ({exc}). Install it "
    "with: pip install moabb. MOABB downloads the dataset on first use (network needed; the subjects asked "
    "for, all of them by default) into its data folder (MNE_DATA, default ~/mne_data); biojepa itself never "
    "downloads"
)


@dataclasses.dataclass(frozen=True)
class MoabbSpec:
    """The MOABB classes behind one (dataset id, paradigm) pair.

    Attributes:
        dataset: class name in ``moabb.datasets`` (built without arguments).
        paradigm: class name in ``moabb.paradigms``.
        fixed_events: the events a paradigm always returns and that cannot be passed to it
            (``LeftRightImagery``: left_hand, right_hand); None: ``events=[...]`` is passed.
        pass_n_classes: whether to pass ``n_classes=len(events)`` (``MotorImagery``, ``SSVEP``: both check it
            against ``events``).
    """

    dataset: str
    paradigm: str
    fixed_events: tuple[str, ...] | None = None
    pass_n_classes: bool = False


_LR = ("left_hand", "right_hand")

#: (dataset id, paradigm) -> MOABB classes; the defaults (events, window, freqs) are in ``trials.PARADIGMS``.
MOABB_PAIRS: dict[tuple[str, str], MoabbSpec] = {
    ("lee2019", "mi"): MoabbSpec("Lee2019_MI", "LeftRightImagery", fixed_events=_LR),
    ("lee2019", "erp"): MoabbSpec("Lee2019_ERP", "P300"),
    ("lee2019", "ssvep"): MoabbSpec("Lee2019_SSVEP", "SSVEP", pass_n_classes=True),
    ("bnci2014_001", "mi"): MoabbSpec("BNCI2014_001", "MotorImagery", pass_n_classes=True),
    ("bnci2014_001", "mi_lr"): MoabbSpec("BNCI2014_001", "LeftRightImagery", fixed_events=_LR),
}


def _valid_pairs() -> str:
    return ", ".join(f"{d}/{p}" for d, p in MOABB_PAIRS)


def _require_moabb(dataset_id: str) -> ModuleType:
    try:
        return require("moabb", extra="moabb", purpose=f"loading {dataset_id!r} trials")
    except OptionalDependencyError as exc:
        raise OptionalDependencyError(_INSTALL_HINT.format(ds=dataset_id, exc=exc.__cause__ or exc)) from exc


def _moabb_class(module: str, name: str) -> Any:
    mod = importlib.import_module(module)
    cls = getattr(mod, name, None)
    if cls is None:
        version = getattr(importlib.import_module("moabb"), "__version__", "unknown")
        raise OptionalDependencyError(
            f"the installed moabb ({version}) has no {module}.{name}; install a current MOABB "
            "(pip install -U moabb)"
        )
    return cls


def _subjects(value: Any, available: list[int], dataset_id: str) -> list[int]:
    from biojepa.adapters.eeg.datasets import parse_int_list

    if value is None:
        return list(available)
    want = parse_int_list(value, "subjects")
    bad = [s for s in want if s not in available]
    if bad:
        raise ConfigError(
            f"{dataset_id} has subjects {min(available)}-{max(available)} in MOABB, found {bad}; choose "
            "subjects from that range"
        )
    return want


def load_moabb_trials(
    dataset_id: str,
    paradigm: str,
    *,
    subjects: Any = None,
    n_times: int | None = None,
    sfreq: float = 128.0,
    events: Mapping[Any, str] | None = None,
    tmin: float = 0.0,
) -> TrialSet:
    """Labelled epochs of ``paradigm`` from a MOABB dataset, preprocessed as S-JEPA (see the module doc).

    Args:
        dataset_id: ``lee2019`` or ``bnci2014_001``.
        paradigm: ``mi``, ``erp`` or ``ssvep`` for lee2019; ``mi`` (4 classes) or ``mi_lr`` for bnci2014_001.
        subjects: MOABB subject numbers (ints, a list or ``"1-3"``); default every subject of the dataset
            (MOABB downloads what is missing).
        n_times: epoch length in samples at ``sfreq`` (default: the paradigm's window, 536 or 152 at 128 Hz).
        sfreq: output rate in Hz (S-JEPA: 128).
        events: MOABB event name -> class name (default: the paradigm's classes under MOABB's names); the
            label order is the mapping's order.
        tmin: window start relative to MOABB's task-interval start, in seconds.

    Returns:
        The :class:`~biojepa.adapters.eeg.trials.TrialSet`: subjects ``"subject<N>"``, runs
        ``"subject<N>-session<S>-run<R>"`` (MOABB's session and run names); ``meta`` holds ``dataset_id``,
        ``moabb_dataset``, ``moabb_code``, ``moabb_paradigm``, ``moabb_version``, ``moabb_interval_s``,
        ``events``, ``tmin``, ``n_times``, ``window_s``, ``subjects``, ``n_trials_by_subject``, ``sessions``,
        ``n_ignored_labels``, ``n_dropped_outside_recording`` (epochs whose padded window ran past the
        recording, from MNE's drop log), ``preprocessing``, ``note`` and, for SSVEP, ``freqs`` (label -> Hz)
        and ``freqs_by_name``.

    Raises:
        ConfigError: an unknown dataset/paradigm pair (the message lists the valid ones), subjects or event
            names the MOABB dataset does not have, bad arguments, or MOABB epochs shorter than the window.
        OptionalDependencyError: ``moabb`` is not installed (the message gives ``pip install moabb``).
        DataError: MOABB fails to load a subject (e.g. no network for the first download), returns labels
            that do not match its epochs, or a class has no trial.
        ContractError: subjects with different channel sets.
    """
    key = (str(dataset_id), str(paradigm))
    spec = MOABB_PAIRS.get(key)
    if spec is None:
        raise ConfigError(
            f"unknown MOABB dataset/paradigm {dataset_id!r}/{paradigm!r}; valid pairs: {_valid_pairs()}"
        )
    base = PARADIGMS[key]
    if isinstance(sfreq, bool) or not isinstance(sfreq, (int, float)) or not sfreq > 0:
        raise ConfigError(f"sfreq must be a positive number of Hz, found {sfreq!r}")
    if isinstance(tmin, bool) or not isinstance(tmin, (int, float)) or not np.isfinite(tmin):
        raise ConfigError(f"tmin must be a finite number of seconds, found {tmin!r}")
    sfreq, tmin = float(sfreq), float(tmin)
    window = _window(base, n_times, sfreq)
    mapping, class_names = _event_map(base, events)
    moabb = _require_moabb(key[0])

    dataset = _moabb_class("moabb.datasets", spec.dataset)()
    known = list(spec.fixed_events or [str(k) for k in dataset.event_id])
    unknown = [k for k in mapping if k not in known]
    if unknown:
        raise ConfigError(
            f"events {unknown} are not events of MOABB {spec.dataset} with {spec.paradigm}; its events are "
            f"{known} (map those)"
        )
    want = _subjects(subjects, [int(s) for s in dataset.subject_list], key[0])
    interval0 = float(dataset.interval[0])
    kwargs: dict[str, Any] = {
        "fmin": _BAND_HZ[0],
        "fmax": _BAND_HZ[1],
        "tmin": tmin - PAD_S,
        "tmax": tmin + window / sfreq + PAD_S,
        "baseline": None,
        "resample": None,
    }
    if spec.fixed_events is None:
        kwargs["events"] = list(mapping)
    if spec.pass_n_classes:
        kwargs["n_classes"] = len(mapping)
    para = _moabb_class("moabb.paradigms", spec.paradigm)(**kwargs)

    class_of = {c: i for i, c in enumerate(class_names)}
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    subj: list[np.ndarray] = []
    rid: list[np.ndarray] = []
    channels: list[str] | None = None
    positions: np.ndarray | None = None
    ignored: Counter[str] = Counter()
    n_outside = 0
    per_subject: dict[str, int] = {}
    sessions: set[str] = set()
    for s in want:
        x, labels, meta, chans, pos, starts, n_out = _load_subject(
            para, dataset, spec, s, interval0 + tmin, sfreq
        )
        n_outside += n_out
        if channels is None:
            channels, positions = chans, pos
        elif chans != channels:
            if set(chans) != set(channels):
                raise ContractError(
                    f"MOABB {spec.dataset} subject {s} has channels {chans} but subject {want[0]} has "
                    f"{channels}; the trials of one set must share their channels"
                )
            x = x[:, [chans.index(c) for c in channels]]  # (N, C, T') in the first subject's order
        if starts < 0 or starts + window > x.shape[2]:
            raise ConfigError(
                f"MOABB returned {spec.dataset} epochs of {x.shape[2] / sfreq:.2f} s at {sfreq:g} Hz, but a "
                f"{window}-sample window from tmin={tmin:g} s needs samples {starts}..{starts + window}; the "
                "epochs are shorter than the window: lower n_times or tmin"
            )
        keep = [k for k, lab in enumerate(labels) if lab in mapping]
        ignored.update(lab for lab in labels if lab not in mapping)
        xs.append(x[keep, :, starts : starts + window])  # (n_s, C, window)
        ys.append(np.asarray([class_of[mapping[labels[k]]] for k in keep], dtype=np.int64))
        names = [f"subject{int(meta['subject'].iloc[k])}" for k in keep]
        subj.append(np.asarray(names, dtype=str))
        rid.append(
            np.asarray(
                [
                    f"{n}-session{meta['session'].iloc[k]}-run{meta['run'].iloc[k]}"
                    for n, k in zip(names, keep, strict=True)
                ],
                dtype=str,
            )
        )
        sessions.update(str(v) for v in meta["session"])
        per_subject[f"subject{s}"] = len(keep)
    if channels is None or positions is None:  # pragma: no cover - parse_int_list refuses an empty selection
        raise DataError(f"{key[0]}: no subject selected")
    y = np.concatenate(ys)  # (n,)
    counts = np.bincount(y, minlength=len(class_names))
    empty = [c for c, k in zip(class_names, counts, strict=True) if k == 0]
    if empty:
        raise DataError(
            f"{key[0]}/{key[1]}: no trial of class(es) {empty} among subjects {want} (events {mapping}); "
            "every class needs at least one trial - check the events mapping"
        )
    meta_out: dict[str, Any] = {
        "dataset_id": key[0],
        "root": None,
        "moabb_dataset": spec.dataset,
        "moabb_code": str(getattr(dataset, "code", spec.dataset)),
        "moabb_paradigm": spec.paradigm,
        "moabb_version": str(getattr(moabb, "__version__", "unknown")),
        "moabb_interval_s": [float(v) for v in dataset.interval],
        "events": mapping,
        "tmin": tmin,
        "n_times": window,
        "window_s": window / sfreq,
        "subjects": [f"subject{s}" for s in want],
        "n_trials_by_subject": per_subject,
        "sessions": sorted(sessions),
        "n_ignored_labels": dict(ignored),
        "n_dropped_outside_recording": n_outside,
        "preprocessing": PREPROCESSING,
        "note": base.note,
    }
    if base.freqs is not None:
        meta_out.update(class_freqs(mapping, base.freqs, class_of))
    return TrialSet(
        X=np.concatenate(xs),  # (n, C, window)
        y=y,
        class_names=class_names,
        subjects=np.concatenate(subj),
        runs=np.concatenate(rid),
        channels=channels,
        positions=positions,
        sfreq=sfreq,
        paradigm=key[1],
        meta=meta_out,
    )


def _load_subject(
    para: Any, dataset: Any, spec: MoabbSpec, subject: int, t_start: float, sfreq: float
) -> tuple[np.ndarray, list[str], Any, list[str], np.ndarray, int, int]:
    """One subject's epochs from MOABB -> ``(X (N, C, T') µV at sfreq, labels, metadata, channels, positions,
    index of the window start in T', epochs MNE dropped because they ran outside the recording)``."""
    from biojepa.adapters.eeg.readers import read_epochs
    from biojepa.adapters.eeg.transforms import resample_poly

    try:
        epochs, labels, meta = para.get_data(dataset, subjects=[subject], return_epochs=True)
    except BioJepaError:
        raise
    except Exception as exc:  # MOABB, MNE and download failures become one typed error
        raise DataError(
            f"MOABB could not load subject {subject} of {spec.dataset} with {spec.paradigm} "
            f"({type(exc).__name__}: {exc}); MOABB downloads missing files on first use (network needed) "
            "into its data folder (MNE_DATA, default ~/mne_data)"
        ) from exc
    labels = [str(v) for v in np.asarray(labels).ravel()]
    x, _, chans, pos, fs = read_epochs(epochs)  # (N, C, T) µV; MOABB's labels replace the event codes
    n, c, t = x.shape
    if len(labels) != n or len(meta) != n:
        raise DataError(
            f"MOABB returned {n} epochs but {len(labels)} labels and {len(meta)} metadata rows for subject "
            f"{subject} of {spec.dataset}; expected one label and one row per epoch"
        )
    missing = [col for col in ("subject", "session", "run") if col not in meta.columns]
    if missing:
        raise DataError(f"MOABB metadata lacks columns {missing}; found {list(meta.columns)}")
    flat = resample_poly(x.reshape(n * c, t), fs, sfreq)  # (N * C, T')
    x = flat.reshape(n, c, flat.shape[-1])  # (N, C, T')
    starts = round((t_start - float(epochs.times[0])) * sfreq)
    n_out = sum(1 for reasons in getattr(epochs, "drop_log", ()) if "NO_DATA" in reasons)
    return x, labels, meta, list(chans), np.asarray(pos, dtype=np.float64), starts, n_out
