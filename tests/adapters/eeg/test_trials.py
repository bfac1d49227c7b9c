"""BCI trial extraction: paradigms, labels from (run, annotation), epoch cutting after preprocessing, errors.

Fixtures are eegmmidb-style EDF+ runs and eeg-notebooks Muse CSVs written by the helpers of test_datasets.py;
the realdata tests cut the shared eegmmidb S001 imagery runs and the eeg-notebooks P300 and SSVEP copies.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biojepa.adapters.eeg.readers import read_eeg_file, read_muse_csv
from biojepa.adapters.eeg.synthetic import DEFAULT_CHANNELS
from biojepa.adapters.eeg.transforms import preprocess_sjepa
from biojepa.adapters.eeg.trials import PARADIGMS, TrialSet, load_trials
from biojepa.errors import ConfigError, ContractError, CorruptRecordError, DataError
from tests.adapters.eeg.test_datasets import BCI2000, CANON, MUSE, write_mmidb_run, write_muse_csv

pytest.importorskip("mne")
pytest.importorskip("edfio")

FS = 128.0
# 30-s runs: T0 at 0, T1 at 4.2, T0 at 8.4, T2 at 12.6, T0 at 16.8, T1 at 21.0, T0 at 25.2 (3 task events)
TASK_ONSETS = [(4.2, "T1"), (12.6, "T2"), (21.0, "T1")]


@pytest.fixture(scope="module")
def mmidb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mmidb_trials")
    for run in (3, 4, 5, 8):
        write_mmidb_run(root, 1, run, duration_s=30.0)
    write_mmidb_run(root, 2, 4, names=[BCI2000[i] for i in (5, 4, 3, 2, 1, 0)], duration_s=30.0)  # reversed
    return root


@pytest.fixture(scope="module")
def muse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("muse_trials")
    write_muse_csv(
        root / "subject1/session1/data_a.csv", 2560, {256: 1, 512: 2, 768: 1, 2500: 2}, marker_column="Marker"
    )
    write_muse_csv(root / "subject3/session1/data_b.csv", 2560, {100: 2, 1000: 1}, seed=3)
    return root


def _continuous(path: Path) -> np.ndarray:
    rec = read_eeg_file(path)
    return preprocess_sjepa(rec.signal, rec.sfreq)[0]  # (C, T')


def test_paradigm_table() -> None:
    assert PARADIGMS[("eegmmidb", "mi")].runs == (4, 8, 12)
    assert PARADIGMS[("eegmmidb", "mi_executed")].runs == (3, 7, 11)
    assert round(PARADIGMS[("eegmmidb", "mi")].window_s * FS) == 536
    assert round(PARADIGMS[("eegnb_p300", "erp")].window_s * FS) == 152
    assert round(PARADIGMS[("eegnb_ssvep", "ssvep")].window_s * FS) == 384


def test_mi_trials_labels_and_content(mmidb: Path) -> None:
    ts = load_trials("eegmmidb", mmidb, "mi")
    assert isinstance(ts, TrialSet) and ts.paradigm == "mi" and ts.sfreq == FS
    assert ts.X.shape == (9, 6, 536) and ts.X.dtype == np.float32 and ts.y.dtype == np.int64
    assert ts.class_names == ["left_fist", "right_fist"] and ts.channels == CANON
    assert ts.y.tolist() == [0, 1, 0] * 3
    assert ts.subjects.tolist() == ["S001"] * 6 + ["S002"] * 3
    assert ts.runs.tolist() == ["S001R04"] * 3 + ["S001R08"] * 3 + ["S002R04"] * 3
    assert ts.meta["records"] == ["S001R04", "S001R08", "S002R04"]
    assert ts.meta["n_ignored_events"] == {"T0": 12} and ts.meta["n_dropped_past_end"] == 0
    assert ts.positions.shape == (6, 3) and np.isfinite(ts.positions).all()
    assert np.allclose(np.linalg.norm(ts.positions, axis=1), 1.0, atol=0.2)
    # an epoch is the preprocessed continuous recording from the onset sample
    cont = _continuous(mmidb / "S001" / "S001R08.edf")  # (6, 3840)
    for k, (onset, _) in enumerate(TASK_ONSETS):
        start = round(onset * FS)
        np.testing.assert_array_equal(ts.X[3 + k], cont[:, start : start + 536])
    # S002's file stores the channels in reverse order: rows are reordered by name
    rev = _continuous(mmidb / "S002" / "S002R04.edf")[::-1]
    np.testing.assert_array_equal(ts.X[6], rev[:, 538 : 538 + 536])
    assert ts.class_counts() == {"left_fist": 6, "right_fist": 3}


def test_executed_runs_and_run_groups(mmidb: Path) -> None:
    ts = load_trials("eegmmidb", mmidb, "mi_executed", subjects=[1])
    assert ts.meta["records"] == ["S001R03"] and ts.n_trials == 3
    with pytest.raises(ConfigError, match=r"runs \[5\] are not 'mi' runs.*accepts only runs \[4, 8, 12\]"):
        load_trials("eegmmidb", mmidb, "mi", runs=[4, 5])
    with pytest.raises(ConfigError, match=r"subjects \[9\] have no EDF file"):
        load_trials("eegmmidb", mmidb, "mi", subjects="9")
    only = load_trials("eegmmidb", mmidb, "mi", subjects=1, runs="8")
    assert only.meta["records"] == ["S001R08"]


def test_tmin_window_and_dropped_epochs(mmidb: Path, tmp_path: Path) -> None:
    base = load_trials("eegmmidb", mmidb, "mi", subjects=[1], runs=[4])
    early = load_trials("eegmmidb", mmidb, "mi", subjects=[1], runs=[4], tmin=-0.5, n_times=100)
    assert early.X.shape == (3, 6, 100) and early.meta["window_s"] == 100 / FS
    cont = _continuous(mmidb / "S001" / "S001R04.edf")
    start = round((4.2 - 0.5) * FS)
    np.testing.assert_array_equal(early.X[0], cont[:, start : start + 100])
    assert not np.array_equal(early.X[0], base.X[0, :, :100])
    late = load_trials("eegmmidb", mmidb, "mi", subjects=[1], runs=[4], tmin=-4.5)
    assert late.n_trials == 2 and late.meta["n_dropped_before_start"] == 1
    # an event too close to the end of its recording is dropped and counted
    root = tmp_path / "db"
    write_mmidb_run(
        root, 1, 4, duration_s=30.0, events=[(4.0, 4.1, "T1"), (12.0, 4.1, "T2"), (27.0, 2.9, "T2")]
    )
    ts = load_trials("eegmmidb", root, "mi")
    assert ts.n_trials == 2 and ts.meta["n_dropped_past_end"] == 1 and ts.y.tolist() == [0, 1]
    slow = load_trials("eegmmidb", root, "mi", sfreq=100.0)
    assert slow.X.shape == (2, 6, 419) and slow.sfreq == 100.0  # 4.1875 s at 100 Hz


def test_events_override_and_rest_class(mmidb: Path) -> None:
    ts = load_trials(
        "eegmmidb", mmidb, "mi", subjects=[1], runs=[4], events={"T1": "left", "T2": "right", "T0": "rest"}
    )
    assert ts.class_names == ["left", "right", "rest"]
    assert ts.class_counts() == {"left": 2, "right": 1, "rest": 4} and ts.meta["n_ignored_events"] == {}
    assert ts.y.tolist() == [2, 0, 2, 1, 2, 0, 2]  # in time order: T0 T1 T0 T2 T0 T1 T0
    with pytest.raises(ConfigError, match="at least 2 classes"):
        load_trials("eegmmidb", mmidb, "mi", events={"T1": "x", "T2": "x"})
    with pytest.raises(ConfigError, match="non-empty class name"):
        load_trials("eegmmidb", mmidb, "mi", events={"T1": "a", "T2": ""})


def test_unknown_pairs_and_bad_arguments(mmidb: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown dataset/paradigm 'eegmmidb'/'ssvep'.*eegmmidb/mi, "):
        load_trials("eegmmidb", mmidb, "ssvep")
    with pytest.raises(ConfigError, match=r"valid pairs:.*eegnb_ssvep/ssvep"):
        load_trials("lee2019", mmidb, "mi_executed")
    with pytest.raises(ConfigError, match="needs its folder"):
        load_trials("eegmmidb", None, "mi")
    with pytest.raises(ConfigError, match="n_times"):
        load_trials("eegmmidb", mmidb, "mi", n_times=0)
    with pytest.raises(ConfigError, match="sfreq"):
        load_trials("eegmmidb", mmidb, "mi", sfreq=-1.0)


def test_bad_records(tmp_path: Path) -> None:
    root = tmp_path / "db"
    write_mmidb_run(root, 1, 4, duration_s=20.0, events=[(0.0, 4.2, "T0"), (4.2, 4.2, "T0")])
    with pytest.raises(CorruptRecordError, match=r"'S001R04'.*no event of paradigm 'mi'.*\{'T0': 2\}"):
        load_trials("eegmmidb", root, "mi")
    root = tmp_path / "one_class"
    write_mmidb_run(root, 1, 4, duration_s=20.0, events=[(1.0, 4.1, "T1"), (8.0, 4.1, "T1")])
    with pytest.raises(DataError, match=r"no trial of class\(es\) \['right_fist'\]"):
        load_trials("eegmmidb", root, "mi")
    root = tmp_path / "channels"
    write_mmidb_run(root, 1, 4, duration_s=20.0)
    write_mmidb_run(root, 1, 8, names=BCI2000[:4], duration_s=20.0)
    with pytest.raises(ContractError, match=r"record 'S001R08' has channels .* first record \('S001R04'\)"):
        load_trials("eegmmidb", root, "mi")


def test_p300_trials(muse: Path) -> None:
    ts = load_trials("eegnb_p300", muse, "erp")
    assert ts.X.shape == (5, 4, 152) and ts.channels == MUSE
    assert ts.class_names == ["non_target", "target"]
    assert ts.y.tolist() == [0, 1, 0, 1, 0]  # row 2500 of 2560: past the end at 128 Hz
    assert ts.meta["n_dropped_past_end"] == 1
    assert ts.subjects.tolist() == ["subject1"] * 3 + ["subject3"] * 2
    assert ts.runs.tolist()[0] == "subject1/session1/data_a"
    rec = read_muse_csv(muse / "subject1/session1/data_a.csv")
    cont = preprocess_sjepa(rec.signal, rec.sfreq)[0]
    np.testing.assert_array_equal(ts.X[1], cont[:, 256 : 256 + 152])  # marker row 512 at 256 Hz -> 256
    ints = load_trials("eegnb_p300", muse, "erp", events={1: "frequent", 2: "rare"}, subjects=[3])
    assert ints.class_names == ["frequent", "rare"] and ints.y.tolist() == [1, 0]
    with pytest.raises(ConfigError, match="selects recordings by subjects only"):
        load_trials("eegnb_p300", muse, "erp", runs=[1])


def test_ssvep_trials(muse: Path) -> None:
    ts = load_trials("eegnb_ssvep", muse, "ssvep", subjects=[1])
    assert ts.class_names == ["30Hz", "20Hz"] and ts.X.shape == (3, 4, 384)
    assert ts.meta["freqs"] == {0: 30.0, 1: 20.0} and ts.meta["window_s"] == 3.0
    assert ts.meta["freqs_by_name"] == {"30Hz": 30.0, "20Hz": 20.0}
    assert ts.meta["n_dropped_past_end"] == 1  # onset at 2500 / 256 s + 3 s > 10 s
    renamed = load_trials("eegnb_ssvep", muse, "ssvep", events={"1": "fast", "2": "slow"})
    assert renamed.meta["freqs_by_name"] == {"fast": 30.0, "slow": 20.0}
    swapped = load_trials("eegnb_ssvep", muse, "ssvep", events={"2": "20Hz", "1": "30Hz"})
    assert swapped.class_names == ["20Hz", "30Hz"] and swapped.meta["freqs"] == {0: 20.0, 1: 30.0}


def test_synthetic_trials_and_subsets() -> None:
    ts = load_trials("eeg_synthetic", None, "mi")
    assert ts.X.shape == (160, 19, 536) and ts.channels == list(DEFAULT_CHANNELS)
    assert ts.class_names == ["mu_erd_left", "mu_erd_right"] and np.isfinite(ts.positions).all()
    assert sorted(set(ts.subjects.tolist())) == ["synth01", "synth02", "synth03", "synth04"]
    assert sorted(set(ts.runs.tolist()))[:2] == ["synth01-run1", "synth01-run2"]
    for s in ("synth01", "synth04"):
        sub = ts.subset(ts.subjects == s)
        assert sub.n_trials == 40 and sub.class_counts() == {"mu_erd_left": 20, "mu_erd_right": 20}
        assert sub.channels == ts.channels and sub.meta["seed"] == 0
    two = load_trials("eeg_synthetic", None, "mi", subjects="2-3", n_times=256)
    assert two.X.shape == (80, 19, 256) and set(two.subjects.tolist()) == {"synth02", "synth03"}
    np.testing.assert_array_equal(
        two.X[0], load_trials("eeg_synthetic", None, "mi", subjects=[2], n_times=256).X[0]
    )
    with pytest.raises(ConfigError, match="do not pass a folder"):
        load_trials("eeg_synthetic", Path("/tmp"), "mi")
    with pytest.raises(ConfigError, match="no events, runs or tmin"):
        load_trials("eeg_synthetic", None, "mi", events={"0": "a", "1": "b"})
    with pytest.raises(ConfigError, match=r"subjects 1-4, found \[5\]"):
        load_trials("eeg_synthetic", None, "mi", subjects=[5])


def test_trialset_validation_and_subset() -> None:
    x = np.zeros((4, 2, 10), np.float32)
    ts = TrialSet(
        x,
        [0, 1, 1, 0],
        ["a", "b"],
        ["s1"] * 4,
        ["r1", "r1", "r2", "r2"],
        ["C3", "C4"],
        np.zeros((2, 3)),
        128.0,
        "mi",
    )
    assert ts.n_channels == 2 and ts.n_times == 10 and len(ts) == 4
    sub = ts.subset([2, 3])
    assert sub.runs.tolist() == ["r2", "r2"] and sub.y.tolist() == [1, 0] and ts.n_trials == 4
    assert ts.subset(np.array([True, False, False, True])).y.tolist() == [0, 0]
    with pytest.raises(ConfigError, match="boolean subset mask"):
        ts.subset(np.array([True, False]))
    with pytest.raises(ConfigError, match="subset indices"):
        ts.subset([7])
    with pytest.raises(DataError, match=r"labels must be in 0\.\.1"):
        TrialSet(
            x, [0, 1, 2, 0], ["a", "b"], ["s"] * 4, ["r"] * 4, ["C3", "C4"], np.zeros((2, 3)), 128.0, "mi"
        )
    with pytest.raises(DataError, match=r"subjects must have shape \(4,\)"):
        TrialSet(
            x, [0, 1, 1, 0], ["a", "b"], ["s"] * 3, ["r"] * 4, ["C3", "C4"], np.zeros((2, 3)), 128.0, "mi"
        )
    with pytest.raises(DataError, match="2 channels in X but 1 names"):
        TrialSet(x, [0, 1, 1, 0], ["a", "b"], ["s"] * 4, ["r"] * 4, ["C3"], np.zeros((2, 3)), 128.0, "mi")


# ---------------------------------------------------------------------------------------------------------
# real data
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.realdata
def test_real_eegmmidb_imagery_trials(shared_data: Path) -> None:
    from biojepa.data.cards import load_card

    ts = load_trials("eegmmidb", shared_data / "eeg" / "eegmmidb_S001", "mi")
    assert ts.X.shape == (45, 64, 536) and ts.channels == load_card("eegmmidb").channels
    assert ts.class_counts() == {"left_fist": 23, "right_fist": 22}  # runs 4/8/12: T1 8+8+7, T2 7+7+8
    assert {r: int(np.sum(ts.runs == r)) for r in ("S001R04", "S001R08", "S001R12")} == dict.fromkeys(
        ("S001R04", "S001R08", "S001R12"), 15
    )
    assert set(ts.subjects.tolist()) == {"S001"} and np.isfinite(ts.positions).all()
    assert ts.meta["n_ignored_events"] == {"T0": 45} and ts.meta["n_dropped_past_end"] == 0
    assert 4.0 <= ts.meta["onset_spacing_s"]["min"] and ts.meta["onset_spacing_s"]["max"] <= 4.3
    sd = ts.X.std(axis=2)
    assert 3.0 < float(np.median(sd)) < 100.0  # band-passed µV


@pytest.mark.realdata
def test_real_p300_trials(shared_data: Path) -> None:
    ts = load_trials("eegnb_p300", shared_data / "eeg" / "eegnb_muse_p300", "erp")
    assert ts.X.shape == (4166, 4, 152) and ts.channels == MUSE
    assert ts.class_counts() == {"non_target": 3519, "target": 647}  # 3521 + 647 markers, 2 past the end
    assert ts.meta["n_dropped_past_end"] == 2 and ts.meta["n_records"] == 22
    counts = {s: int(np.sum(ts.subjects == s)) for s in ("subject1", "subject2", "subject4", "subject5")}
    assert counts == {"subject1": 2127, "subject2": 962, "subject4": 93, "subject5": 984}
    assert 0.13 < float(ts.y.mean()) < 0.17  # rare targets
    assert 0.49 < ts.meta["onset_spacing_s"]["min"] and ts.meta["onset_spacing_s"]["max"] < 0.75


@pytest.mark.realdata
def test_real_ssvep_trials(shared_data: Path) -> None:
    ts = load_trials("eegnb_ssvep", shared_data / "eeg" / "eegnb_muse_ssvep", "ssvep")
    assert ts.X.shape == (290, 4, 384) and ts.class_counts() == {"30Hz": 142, "20Hz": 148}
    assert ts.meta["n_dropped_past_end"] == 9 and ts.meta["freqs"] == {0: 30.0, 1: 20.0}
    assert {s: int(np.sum(ts.subjects == s)) for s in ("subject1", "subject4")} == {
        "subject1": 128,
        "subject4": 162,
    }
    # the 3-s window stays inside one stimulus: onsets are at least 3.39 s apart but for one pair
    assert ts.meta["n_overlapping_next_event"] == 1 and 3.3 < ts.meta["onset_spacing_s"]["median"] < 3.7
