"""MOABB-backed BCI trials (lee2019, bnci2014_001) against a fake ``moabb`` package injected into sys.modules.

The fake paradigms honour the ``tmin``/``tmax`` they are built with and return ``mne.EpochsArray`` in volts
(standard_1005 positions) whose every channel is a 5 Hz sine starting at phase 0 at MOABB's task-interval start,
with an amplitude that encodes the trial's class and the channel's name. So the tests can check the crop's
timing, the µV scaling, the labels and the channel order of what biojepa returns, without MOABB, network or
downloads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from biojepa.adapters.eeg.moabb import MOABB_PAIRS, PAD_S, load_moabb_trials
from biojepa.adapters.eeg.positions import resolve_montage
from biojepa.adapters.eeg.trials import MOABB_DATASET_IDS, PARADIGMS, load_trials
from biojepa.errors import ConfigError, DataError, OptionalDependencyError

mne = pytest.importorskip("mne")
pd = pytest.importorskip("pandas")

REPO = Path(__file__).resolve().parents[3]
NATIVE_FS = 250.0  # 250 -> 128 Hz is the polyphase ratio 64/125
SINE_HZ = 5.0
CHANNELS = ("C3", "Cz", "C4")
CH_OFFSET = {"C3": 0.0, "Cz": 1.0, "C4": 2.0}
TRIALS_PER_CLASS = 2  # per subject and session


def amplitude_uv(label: int, channel: str) -> float:
    """The fake's sine amplitude in µV for a class index (position in the dataset's event_id) and channel."""
    return 10.0 * (label + 1) + CH_OFFSET[channel]


# ---------------------------------------------------------------------------------------------------------
# the fake moabb package
# ---------------------------------------------------------------------------------------------------------
class _FakeDataset:
    event_id: ClassVar[dict[str, int]] = {}
    interval: ClassVar[list[float]] = [0.0, 4.0]
    code: ClassVar[str] = "Fake"
    subject_list: ClassVar[list[int]] = [1, 2, 3]


class Lee2019_MI(_FakeDataset):  # MOABB's class names
    event_id: ClassVar[dict[str, int]] = {"left_hand": 2, "right_hand": 1}
    code = "Lee2019-MI"
    subject_list: ClassVar[list[int]] = list(range(1, 55))


class Lee2019_ERP(_FakeDataset):
    event_id: ClassVar[dict[str, int]] = {"Target": 1, "NonTarget": 2}
    interval: ClassVar[list[float]] = [0.0, 1.0]
    code = "Lee2019-ERP"


class Lee2019_SSVEP(_FakeDataset):
    event_id: ClassVar[dict[str, int]] = {"12.0": 1, "8.57": 2, "6.67": 3, "5.45": 4}
    code = "Lee2019-SSVEP"


class BNCI2014_001(_FakeDataset):
    event_id: ClassVar[dict[str, int]] = {"left_hand": 1, "right_hand": 2, "feet": 3, "tongue": 4}
    interval: ClassVar[list[float]] = [2.0, 6.0]
    code = "BNCI2014-001"
    subject_list: ClassVar[list[int]] = list(range(1, 10))


class _FakeParadigm:
    built: ClassVar[list[dict[str, Any]]] = []
    cap_to_interval: ClassVar[bool] = False  # True: ignore tmax beyond the task interval (short epochs)
    fail: ClassVar[Exception | None] = None

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        _FakeParadigm.built.append({"cls": type(self).__name__, **kwargs})

    def _events(self, dataset: _FakeDataset) -> list[str]:
        return list(self.kwargs.get("events") or dataset.event_id)

    def get_data(
        self, dataset: _FakeDataset, subjects: list[int] | None = None, return_epochs: bool = False
    ) -> tuple[Any, np.ndarray, Any]:
        if _FakeParadigm.fail is not None:
            raise _FakeParadigm.fail
        if not return_epochs:
            raise AssertionError("biojepa must ask for mne.Epochs")
        i0 = float(dataset.interval[0])
        t0 = i0 + float(self.kwargs["tmin"])
        t1 = i0 + float(self.kwargs["tmax"])
        if _FakeParadigm.cap_to_interval:
            t1 = min(t1, float(dataset.interval[1]))
        first = round(t0 * NATIVE_FS)
        times = (first + np.arange(round(t1 * NATIVE_FS) - first + 1)) / NATIVE_FS  # (T,) around the event
        phase = np.sin(2 * np.pi * SINE_HZ * (times - i0))  # (T,) phase 0 at the interval start
        order = list(dataset.event_id)
        subjects = list(subjects or dataset.subject_list)
        names = list(CHANNELS) if subjects[0] % 2 else list(reversed(CHANNELS))  # even subjects: reversed
        xs, labels, rows = [], [], []
        for subject in subjects:
            for session in ("0train", "1test"):
                for k in range(TRIALS_PER_CLASS):
                    for ev in self._events(dataset):
                        amp = np.array([amplitude_uv(order.index(ev), n) for n in names])  # (C,)
                        xs.append(amp[:, None] * 1e-6 * phase[None, :])  # (C, T) volts
                        labels.append(ev)
                        rows.append({"subject": subject, "session": session, "run": str(k)})
        info = mne.create_info(names, NATIVE_FS, "eeg")
        info.set_montage(resolve_montage("standard_1005"))
        epochs = mne.EpochsArray(np.stack(xs), info, tmin=float(times[0]), verbose="error")  # (N, C, T)
        return epochs, np.asarray(labels), pd.DataFrame(rows)


class LeftRightImagery(_FakeParadigm):
    def __init__(self, **kwargs: Any) -> None:
        if "events" in kwargs:
            raise ValueError("LeftRightImagery dont accept events")
        super().__init__(**kwargs)

    def _events(self, dataset: _FakeDataset) -> list[str]:
        return ["left_hand", "right_hand"]


class MotorImagery(_FakeParadigm):
    pass


class P300(_FakeParadigm):
    pass


class SSVEP(_FakeParadigm):
    pass


@pytest.fixture
def fake_moabb(monkeypatch: pytest.MonkeyPatch) -> type[_FakeParadigm]:
    pkg = types.ModuleType("moabb")
    pkg.__path__ = []  # a package
    pkg.__version__ = "0.0.fake"  # type: ignore[attr-defined]
    datasets = types.ModuleType("moabb.datasets")
    paradigms = types.ModuleType("moabb.paradigms")
    for cls in (Lee2019_MI, Lee2019_ERP, Lee2019_SSVEP, BNCI2014_001):
        setattr(datasets, cls.__name__, cls)
    for cls in (LeftRightImagery, MotorImagery, P300, SSVEP):
        setattr(paradigms, cls.__name__, cls)
    pkg.datasets, pkg.paradigms = datasets, paradigms  # type: ignore[attr-defined]
    for name, mod in (("moabb", pkg), ("moabb.datasets", datasets), ("moabb.paradigms", paradigms)):
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setattr(_FakeParadigm, "built", [])
    monkeypatch.setattr(_FakeParadigm, "cap_to_interval", False)
    monkeypatch.setattr(_FakeParadigm, "fail", None)
    return _FakeParadigm


def expected_uv(
    y: np.ndarray, class_of_event: list[int], channels: list[str], n: int, t0: float
) -> np.ndarray:
    """``(N, C, n)`` sines the crop should hold: amplitude of each trial's event, phase from ``t0`` s."""
    t = t0 + np.arange(n) / 128.0  # (n,)
    amp = np.array([[amplitude_uv(class_of_event[int(lab)], ch) for ch in channels] for lab in y])  # (N, C)
    return amp[:, :, None] * np.sin(2 * np.pi * SINE_HZ * t)[None, None, :]  # (N, C, n)


# ---------------------------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------------------------
def test_pairs_are_listed_with_sjepa_windows() -> None:
    moabb_pairs = {k for k in PARADIGMS if k[0] in MOABB_DATASET_IDS}
    assert moabb_pairs == set(MOABB_PAIRS)
    assert {k[0] for k in MOABB_PAIRS} == {"lee2019", "bnci2014_001"}
    windows = {k: round(PARADIGMS[k].window_s * 128) for k in MOABB_PAIRS}
    assert windows[("lee2019", "erp")] == 152
    assert all(w == 536 for k, w in windows.items() if k != ("lee2019", "erp"))


def test_lee2019_mi_shapes_scaling_labels_subjects(fake_moabb: type[_FakeParadigm]) -> None:
    ts = load_trials("lee2019", None, "mi", subjects=[1, 2])
    n = 2 * 2 * 2 * TRIALS_PER_CLASS  # subjects x sessions x classes x trials
    assert ts.X.shape == (n, 3, 536) and ts.X.dtype == np.float32
    assert ts.sfreq == 128.0 and ts.paradigm == "mi"
    assert ts.class_names == ["left_hand", "right_hand"]
    assert ts.class_counts() == {"left_hand": n // 2, "right_hand": n // 2}
    assert sorted(set(ts.subjects)) == ["subject1", "subject2"]
    assert ts.runs[0] == "subject1-session0train-run0"
    assert len(set(ts.runs)) == 2 * 2 * TRIALS_PER_CLASS
    assert ts.channels == list(CHANNELS)  # subject 2 came reversed and was put in subject 1's order
    assert ts.positions.shape == (3, 3) and np.allclose(np.linalg.norm(ts.positions, axis=1), 1.0, atol=0.2)
    # µV, class and channel per trial, and the crop starting at the event (MOABB's event_id puts right_hand first)
    order = [list(Lee2019_MI.event_id).index(c) for c in ts.class_names]
    want = expected_uv(ts.y, order, ts.channels, 536, 0.0)
    np.testing.assert_allclose(ts.X, want, atol=0.05 * 30)
    np.testing.assert_allclose(ts.X[:, :, 8:-8], want[:, :, 8:-8], atol=0.2)
    built = fake_moabb.built[-1]
    assert built["cls"] == "LeftRightImagery" and "events" not in built
    assert (built["fmin"], built["fmax"], built["resample"], built["baseline"]) == (0.5, 40.0, None, None)
    assert built["tmin"] == pytest.approx(-PAD_S) and built["tmax"] == pytest.approx(536 / 128 + PAD_S)
    assert ts.meta["moabb_dataset"] == "Lee2019_MI" and ts.meta["moabb_paradigm"] == "LeftRightImagery"
    assert ts.meta["moabb_version"] == "0.0.fake" and ts.meta["root"] is None
    assert ts.meta["n_trials_by_subject"] == {"subject1": n // 2, "subject2": n // 2}


def test_bnci_interval_start_tmin_and_event_subset(fake_moabb: type[_FakeParadigm]) -> None:
    ts = load_trials(
        "bnci2014_001", None, "mi", subjects="1", events={"feet": "F", "tongue": "T"}, tmin=0.5, n_times=256
    )
    assert ts.class_names == ["F", "T"] and ts.X.shape == (2 * 2 * TRIALS_PER_CLASS, 3, 256)
    built = fake_moabb.built[-1]
    assert (
        built["cls"] == "MotorImagery" and built["events"] == ["feet", "tongue"] and built["n_classes"] == 2
    )
    assert built["tmin"] == pytest.approx(0.5 - PAD_S) and built["tmax"] == pytest.approx(0.5 + 2 + PAD_S)
    # the window starts 0.5 s after the cue (MOABB's interval start, t = 2 s of the trial)
    want = expected_uv(ts.y, [2, 3], ts.channels, 256, 0.5)
    np.testing.assert_allclose(ts.X[:, :, 8:-8], want[:, :, 8:-8], atol=0.2)
    assert ts.meta["moabb_interval_s"] == [2.0, 6.0] and ts.meta["events"] == {"feet": "F", "tongue": "T"}


def test_bnci_four_classes_and_left_right(fake_moabb: type[_FakeParadigm]) -> None:
    four = load_moabb_trials("bnci2014_001", "mi", subjects=[3])
    assert four.class_names == ["left_hand", "right_hand", "feet", "tongue"]
    assert np.bincount(four.y).tolist() == [2 * TRIALS_PER_CLASS] * 4 and four.n_times == 536
    assert fake_moabb.built[-1]["n_classes"] == 4
    lr = load_moabb_trials("bnci2014_001", "mi_lr", subjects=[3])
    assert lr.class_names == ["left_hand", "right_hand"] and fake_moabb.built[-1]["cls"] == "LeftRightImagery"


def test_lee2019_erp_window_and_positive_class(fake_moabb: type[_FakeParadigm]) -> None:
    ts = load_trials("lee2019", None, "erp", subjects=[2])
    assert ts.X.shape == (2 * 2 * TRIALS_PER_CLASS, 3, 152)
    assert ts.class_names == ["NonTarget", "Target"]  # Target = label 1, the ROC-AUC positive class
    order = [list(Lee2019_ERP.event_id).index(c) for c in ts.class_names]
    np.testing.assert_allclose(
        ts.X[:, :, 8:-8], expected_uv(ts.y, order, ts.channels, 152, 0.0)[:, :, 8:-8], atol=0.2
    )
    assert fake_moabb.built[-1]["events"] == ["NonTarget", "Target"]


def test_lee2019_ssvep_frequencies(fake_moabb: type[_FakeParadigm]) -> None:
    ts = load_trials("lee2019", None, "ssvep", subjects=[1])
    assert ts.class_names == ["12.0", "8.57", "6.67", "5.45"] and ts.n_times == 536
    assert ts.meta["freqs"] == {0: 12.0, 1: 8.57, 2: 6.67, 3: 5.45}
    assert fake_moabb.built[-1]["n_classes"] == 4


def test_epochs_shorter_than_the_window(fake_moabb: type[_FakeParadigm]) -> None:
    fake_moabb.cap_to_interval = True  # epochs stop at the 1 s ERP interval
    with pytest.raises(ConfigError, match="shorter than the window"):
        load_trials("lee2019", None, "erp", subjects=[1])
    # a window that fits in the capped epochs works
    assert load_trials("lee2019", None, "erp", subjects=[1], n_times=64).n_times == 64


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dataset_id": "lee2019", "root": None, "paradigm": "mi_executed"}, "bnci2014_001/mi_lr"),
        ({"dataset_id": "lee2019", "root": "/data/lee2019", "paradigm": "mi"}, "MOABB, which keeps"),
        ({"dataset_id": "bnci2014_001", "root": None, "paradigm": "mi", "runs": [1]}, "subjects only"),
    ],
)
def test_config_errors_before_moabb(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, Any], match: str
) -> None:
    monkeypatch.setitem(sys.modules, "moabb", None)  # these must fail on the arguments, not on the import
    with pytest.raises(ConfigError, match=match):
        load_trials(**kwargs)


def test_unknown_pair_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"valid pairs: lee2019/mi, lee2019/erp, lee2019/ssvep"):
        load_moabb_trials("eegmmidb", "mi")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: load_trials("bnci2014_001", None, "mi", subjects=[10]), r"subjects 1-9"),
        (lambda: load_trials("bnci2014_001", None, "mi", events={"left": "l", "feet": "f"}), r"\['left'\]"),
        (lambda: load_trials("lee2019", None, "mi", events={"left_hand": "l", "feet": "f"}), "LeftRight"),
    ],
)
def test_bad_subjects_and_events(fake_moabb: type[_FakeParadigm], call: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call()


def test_moabb_failure_becomes_data_error(fake_moabb: type[_FakeParadigm]) -> None:
    fake_moabb.fail = RuntimeError("Name or service not known")
    with pytest.raises(DataError, match=r"subject 1 of Lee2019_MI .*service not known.*network"):
        load_trials("lee2019", None, "mi", subjects=[1])


def test_missing_moabb_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "moabb", None)  # import moabb -> ImportError
    with pytest.raises(OptionalDependencyError, match=r"pip install moabb") as info:
        load_trials("lee2019", None, "mi")
    assert "downloads the dataset on first use" in str(info.value)
    assert isinstance(info.value, ImportError)


def test_importing_biojepa_does_not_import_moabb(tmp_path: Path) -> None:
    trap = tmp_path / "moabb"
    trap.mkdir()
    (trap / "__init__.py").write_text("raise RuntimeError('moabb imported at import time')\n")
    code = (
        "import sys, biojepa, biojepa.adapters.eeg.trials, biojepa.adapters.eeg.moabb; "
        "print('moabb' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
