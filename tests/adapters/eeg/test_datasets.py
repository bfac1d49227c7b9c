"""EEG dataset sources: listing, channel selection by name, S-JEPA preprocessing, float16 cache, quarantine.

Fixtures are real-format files written here: eegmmidb-style EDF+ runs (``mne.export.export_raw`` through
edfio, BCI2000 channel names with trailing dots, T0/T1/T2 annotations), eeg-notebooks Muse CSVs and a FIF
file. The realdata tests open the shared eegmmidb S001 and eeg-notebooks P300 copies.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from biojepa.adapters.eeg.datasets import (
    EXTRA_COLUMNS,
    EegFileSource,
    EegSyntheticSource,
    channel_table,
    parse_int_list,
    preprocess_to,
)
from biojepa.adapters.eeg.transforms import preprocess_sjepa
from biojepa.data.cache import ArrayStore, Cache
from biojepa.data.cards import load_card
from biojepa.data.sources import resolve_source
from biojepa.errors import ConfigError, ContractError, DataError
from biojepa.models.spec import SignalContract
from biojepa.registry import DATASETS

mne = pytest.importorskip("mne")
pytest.importorskip("edfio")

EEG_IDS = ["eeg_files", "eeg_synthetic", "eegmmidb", "eegnb_p300", "eegnb_ssvep"]
BCI2000 = ["Fc5.", "C3..", "Cz..", "C4..", "Fc6.", "Oz.."]  # as stored in the eegmmidb EDF headers
CANON = ["FC5", "C3", "Cz", "C4", "FC6", "Oz"]
MUSE = ["TP9", "AF7", "AF8", "TP10"]
FS_MMIDB = 160.0


# ---------------------------------------------------------------------------------------------------------
# fixture writers (also used by test_trials.py)
# ---------------------------------------------------------------------------------------------------------
def eeg_signal(n_ch: int, n_times: int, sfreq: float, seed: int) -> np.ndarray:
    """``(C, T)`` µV: channel ``k`` carries a sine at ``5 + 3 k`` Hz (40 µV) over small noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_times) / sfreq
    sines = np.stack([40.0 * np.sin(2 * np.pi * (5.0 + 3.0 * k) * t) for k in range(n_ch)])  # (C, T)
    return sines + 3.0 * rng.standard_normal((n_ch, n_times))


def mmidb_events(duration_s: float, first: str = "T1") -> list[tuple[float, float, str]]:
    """T0 and T1/T2 alternating every 4.2 s (4.1 s movements), like an eegmmidb task run."""
    out: list[tuple[float, float, str]] = []
    t, k, task = 0.0, 0, [first, "T2" if first == "T1" else "T1"]
    while t + 4.2 <= duration_s:
        out.append((t, 4.2, "T0") if k % 2 == 0 else (t, 4.1, task[(k // 2) % 2]))
        t += 4.2
        k += 1
    return out


def write_edf(
    path: Path,
    x_uv: np.ndarray,
    names: Sequence[str],
    sfreq: float,
    events: Sequence[tuple[float, float, str]] = (),
) -> Path:
    """An EDF+ file through MNE's exporter (edfio): ``x_uv`` ``(C, T)`` µV, events ``(onset, dur, desc)``."""
    raw = mne.io.RawArray(
        np.asarray(x_uv) * 1e-6, mne.create_info(list(names), sfreq, "eeg"), verbose="error"
    )
    if events:
        on, dur, desc = zip(*events, strict=True)
        raw.set_annotations(mne.Annotations(list(on), list(dur), list(desc)))
    path.parent.mkdir(parents=True, exist_ok=True)
    mne.export.export_raw(path, raw, fmt="edf", overwrite=True, verbose="error")
    return path


def write_mmidb_run(
    root: Path,
    subject: int,
    run: int,
    *,
    names: Sequence[str] = BCI2000,
    duration_s: float = 20.0,
    sfreq: float = FS_MMIDB,
    events: Sequence[tuple[float, float, str]] | None = None,
) -> Path:
    """``root/S<sss>/S<sss>R<rr>.edf`` with the eegmmidb layout and annotations."""
    n = round(duration_s * sfreq)
    x = eeg_signal(len(names), n, sfreq, seed=100 * subject + run)
    evs = mmidb_events(duration_s) if events is None else events
    return write_edf(root / f"S{subject:03d}" / f"S{subject:03d}R{run:02d}.edf", x, names, sfreq, evs)


def write_muse_csv(
    path: Path,
    n_times: int,
    markers: dict[int, int],
    *,
    marker_column: str = "Marker0",
    seed: int = 0,
    sfreq: float = 256.0,
) -> Path:
    """An eeg-notebooks Muse CSV (timestamps, TP9, AF7, AF8, TP10, Right AUX, marker); markers row -> code."""
    x = eeg_signal(4, n_times, sfreq, seed)  # (4, T)
    aux = np.zeros(n_times)
    lines = [f"timestamps,{','.join(MUSE)},Right AUX,{marker_column}"]
    for i in range(n_times):
        vals = ",".join(f"{v:.3f}" for v in x[:, i])
        lines.append(f"{1.5e9 + i / sfreq:.3f},{vals},{aux[i]:.1f},{markers.get(i, 0)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def contract(channels: Sequence[str], n_times: int = 256, units: str = "uV") -> SignalContract:
    return SignalContract(sfreq=128.0, channels=list(channels), units=units, n_times=n_times)


# ---------------------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mmidb_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two subjects x runs 3, 4 of 20 s at 160 Hz, 6 BCI2000-named channels."""
    root = tmp_path_factory.mktemp("eegmmidb")
    for s in (1, 2):
        for r in (3, 4):
            write_mmidb_run(root, s, r)
    return root


@pytest.fixture(scope="module")
def muse_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("muse")
    write_muse_csv(
        root / "subject1/session1/data_2017-02-04-15_45_13.csv",
        2560,
        {256: 1, 512: 2},
        marker_column="Marker",
    )
    write_muse_csv(root / "subject1/session2/data_2017-02-09-17.13.56.csv", 2560, {300: 1}, seed=1)
    write_muse_csv(root / "subject2/session1/data_2018-04-15-20.08.41.csv", 3072, {100: 2}, seed=2)
    return root


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("eeg_cache")


# ---------------------------------------------------------------------------------------------------------
# registry, import cost, helpers
# ---------------------------------------------------------------------------------------------------------
def test_registered_with_cards_and_modality() -> None:
    assert DATASETS.names(modality="eeg") == EEG_IDS
    for ds_id in EEG_IDS:
        source = resolve_source(ds_id)
        assert source.id == ds_id and source.card.modality == "eeg" and source.card.id == ds_id
    assert isinstance(resolve_source("eegmmidb"), EegFileSource)
    assert isinstance(resolve_source("eeg_synthetic"), EegSyntheticSource)
    assert load_card("eeg_synthetic").access == "generated" and load_card("eeg_files").channels == []


def test_importing_the_modules_does_not_import_mne() -> None:
    code = (
        "import sys\n"
        "import biojepa.adapters.eeg.datasets, biojepa.adapters.eeg.synthetic, biojepa.adapters.eeg.trials\n"
        "print('mne' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, [3]), ([4, 8, 12], [4, 8, 12]), ("1-3,7", [1, 2, 3, 7]), ("5, 3", [3, 5]), ([2, "4-5"], [2, 4, 5])],
)
def test_parse_int_list(value: object, expected: list[int]) -> None:
    assert parse_int_list(value, "runs") == expected


@pytest.mark.parametrize("value", ["a", "3-1", [], True, [1.5], {"x": 1}, "-2"])
def test_parse_int_list_rejects(value: object) -> None:
    with pytest.raises(ConfigError, match="runs"):
        parse_int_list(value, "runs")


def test_channel_table_matches_the_reader_positions(muse_root: Path) -> None:
    from biojepa.adapters.eeg.readers import read_muse_csv

    names, pos = channel_table(["C3..", "fp1", "Nope"])
    assert names == ["C3", "Fp1", "Nope"] and pos.shape == (3, 3) and pos.dtype == np.float64
    assert np.all(np.isnan(pos[2])) and np.all(np.abs(np.linalg.norm(pos[:2], axis=1) - 1.0) < 0.2)
    rec = read_muse_csv(next(muse_root.glob("subject2/*/*.csv")))
    _, muse_pos = channel_table(MUSE)
    np.testing.assert_allclose(muse_pos, rec.positions, atol=1e-5)
    with pytest.raises(ConfigError, match="duplicates"):
        channel_table(["C3", "c3"])
    _, none = channel_table(["X1", "X2"])
    assert np.isnan(none).all()


def test_preprocess_to_is_sjepa_at_128() -> None:
    x = eeg_signal(2, 1600, 160.0, 0)
    np.testing.assert_array_equal(preprocess_to(x, 160.0), preprocess_sjepa(x, 160.0)[0])
    assert preprocess_to(x, 160.0, 100.0).shape == (2, 1000)


# ---------------------------------------------------------------------------------------------------------
# eegmmidb
# ---------------------------------------------------------------------------------------------------------
def test_eegmmidb_open_selects_by_name_preprocesses_and_caches(mmidb_root: Path, cache_dir: Path) -> None:
    from biojepa.adapters.eeg.readers import read_eeg_file

    source = resolve_source("eegmmidb")
    sig = contract(["C4", "cz", "C3.."])  # any spelling: matched by canonical name
    store = source.open(mmidb_root, cache_dir=cache_dir, params={}, signal=sig)
    assert store.n_records == 4
    assert [store.record_id(i) for i in range(4)] == ["S001R03", "S001R04", "S002R03", "S002R04"]
    assert store.channels(0) == ("C4", "Cz", "C3") and store.lengths.tolist() == [2560] * 4
    idx = store.index
    assert idx["subject"].tolist() == ["S001", "S001", "S002", "S002"]
    assert idx["run"].tolist() == ["R03", "R04", "R03", "R04"] and idx["units"].tolist() == ["uV"] * 4
    assert set(EXTRA_COLUMNS) <= set(idx.columns) and (idx["sfreq_native"].astype(float) == FS_MMIDB).all()
    # values: the chosen rows of the S-JEPA-preprocessed recording, stored as float16 µV (not normalised)
    rec = read_eeg_file(mmidb_root / "S002" / "S002R03.edf")
    want = preprocess_sjepa(rec.signal, rec.sfreq)[0][
        [CANON.index("C4"), CANON.index("Cz"), CANON.index("C3")]
    ]
    got = store.get(2).astype(np.float32)  # (3, 2560)
    np.testing.assert_allclose(got, want, atol=0.05, rtol=2e-3)
    assert 20.0 < float(np.abs(got).max()) < 100.0  # µV, not z-scores
    assert getattr(store, "normalization", None) is None
    prov = store.provenance
    assert prov["n_records"] == 4 and prov["subjects"] == ["S001", "S002"] and prov["runs"] == [3, 4]
    assert prov["channels"] == ["C4", "Cz", "C3"] and prov["sfreq"] == 128.0 and prov["n_too_short"] == 0
    assert prov["n_quarantined"] == 0 and "0.5-40 Hz" in prov["preprocessing"]


def test_eegmmidb_cache_is_reused_and_keyed(mmidb_root: Path, cache_dir: Path) -> None:
    source = resolve_source("eegmmidb")
    first = source.prepare(mmidb_root, cache_dir=cache_dir, channels=["C4", "Cz", "C3"])
    meta = (first.cache_path / "meta.json").read_text()
    again = source.prepare(mmidb_root, cache_dir=cache_dir, channels=["C4", "Cz", "C3"])
    assert again.built is False and again.cache_path == first.cache_path and again.n_ok == 4
    assert (again.cache_path / "meta.json").read_text() == meta
    assert again.cache_path.parent.name == "eegmmidb" and again.cache_path.name.startswith("128hz-")
    # another channel order, subset or rate is another cache
    other = source.prepare(mmidb_root, cache_dir=cache_dir, channels=["C3", "Cz", "C4"])
    sub = source.prepare(mmidb_root, cache_dir=cache_dir, channels=["C4", "Cz", "C3"], params={"runs": "4"})
    slow = source.prepare(mmidb_root, cache_dir=cache_dir, sfreq=100.0, channels=["C4", "Cz", "C3"])
    assert len({first.cache_path, other.cache_path, sub.cache_path, slow.cache_path}) == 4
    assert sub.n_ok == 2 and Cache.open(slow.cache_path).lengths.tolist() == [2000] * 4
    stored = json.loads(meta)["extra"]
    assert stored["preprocessing_version"] >= 1 and stored["channels"] == ["C4", "Cz", "C3"]


def test_eegmmidb_subject_and_run_selection(mmidb_root: Path, cache_dir: Path) -> None:
    source = resolve_source("eegmmidb")
    store = source.open(
        mmidb_root, cache_dir=cache_dir, params={"subjects": [2], "runs": [4]}, signal=contract(["Cz"])
    )
    assert [store.record_id(i) for i in range(store.n_records)] == ["S002R04"]
    with pytest.raises(ConfigError, match=r"subjects \[7\] have no EDF file.*found: 1, 2"):
        source.open(mmidb_root, cache_dir=cache_dir, params={"subjects": 7}, signal=contract(["Cz"]))
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['folds'\].*valid: max_bad_fraction"):
        source.open(mmidb_root, cache_dir=cache_dir, params={"folds": 1}, signal=contract(["Cz"]))
    with pytest.raises(ConfigError, match="missing must be 'error' or 'skip'"):
        source.open(mmidb_root, cache_dir=cache_dir, params={"missing": "drop"}, signal=contract(["Cz"]))
    with pytest.raises(ConfigError, match="needs a folder"):
        source.open(None, cache_dir=cache_dir, signal=contract(["Cz"]))
    with pytest.raises(ConfigError, match="does not exist"):
        source.open(mmidb_root / "nope", cache_dir=cache_dir, signal=contract(["Cz"]))
    with pytest.raises(ContractError, match="units 'mV'"):
        source.open(mmidb_root, cache_dir=cache_dir, signal=contract(["Cz"], units="mV"))


def test_records_shorter_than_the_window_are_left_out(tmp_path: Path) -> None:
    root = tmp_path / "db"
    write_mmidb_run(root, 1, 3, duration_s=20.0)
    write_mmidb_run(root, 1, 4, duration_s=9.0)
    source = resolve_source("eegmmidb")
    store = source.open(root, cache_dir=tmp_path / "c", signal=contract(["C3", "C4"], n_times=1280))
    assert store.n_records == 1 and store.record_id(0) == "S001R03" and store.provenance["n_too_short"] == 1
    with pytest.raises(DataError, match="no record is at least 2561 samples"):
        source.open(root, cache_dir=tmp_path / "c", signal=contract(["C3", "C4"], n_times=2561))


@pytest.fixture
def mixed_root(tmp_path: Path) -> Path:
    """S001 runs 3-6; run 4 lacks Oz."""
    root = tmp_path / "mixed"
    for run in (3, 5, 6):
        write_mmidb_run(root, 1, run, duration_s=10.0)
    write_mmidb_run(root, 1, 4, names=BCI2000[:-1], duration_s=10.0)
    return root


def test_missing_channel_raises_or_is_quarantined(mixed_root: Path, tmp_path: Path) -> None:
    source = resolve_source("eegmmidb")
    sig = contract(["C3", "Oz"])
    with pytest.raises(ContractError, match=r"record 'S001R04' lacks the model channel\(s\) \['Oz'\]"):
        source.open(mixed_root, cache_dir=tmp_path / "c", signal=sig)
    with pytest.raises(DataError, match="1 of 4 records were quarantined"):  # default max_bad_fraction 0.05
        source.open(mixed_root, cache_dir=tmp_path / "c", params={"missing": "skip"}, signal=sig)
    store = source.open(
        mixed_root, cache_dir=tmp_path / "c", params={"missing": "skip", "max_bad_fraction": 0.5}, signal=sig
    )
    assert [store.record_id(i) for i in range(3)] == ["S001R03", "S001R05", "S001R06"]
    assert store.meta["n_quarantined"] == 1 and store.provenance["n_quarantined"] == 1
    quarantine = (Path(store.root) / "quarantine.csv").read_text()
    assert "S001R04" in quarantine and "['Oz']" in quarantine
    # a contract the short record satisfies keeps all four
    assert source.open(mixed_root, cache_dir=tmp_path / "c", signal=contract(["C3"])).n_records == 4


def test_without_a_contract_records_keep_their_channels(
    mmidb_root: Path, mixed_root: Path, tmp_path: Path
) -> None:
    source = resolve_source("eegmmidb")
    store = source.open(mmidb_root, cache_dir=tmp_path / "c")
    assert (
        store.channels(0) == tuple(CANON)
        and store.n_records == 4
        and store.provenance["channels"] == "as recorded"
    )
    with pytest.raises(ContractError, match=r"record 'S001R04' has channels .* but the first record has"):
        source.open(mixed_root, cache_dir=tmp_path / "c")
    kept = source.open(
        mixed_root, cache_dir=tmp_path / "c", params={"missing": "skip", "max_bad_fraction": 0.3}
    )
    assert kept.n_records == 3 and kept.meta["n_quarantined"] == 1


def test_unreadable_file_is_quarantined(mmidb_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "bad"
    for s, r in ((1, 3), (1, 4), (2, 3)):
        src = mmidb_root / f"S{s:03d}" / f"S{s:03d}R{r:02d}.edf"
        (root / f"S{s:03d}").mkdir(parents=True, exist_ok=True)
        (root / f"S{s:03d}" / src.name).write_bytes(src.read_bytes())
    (root / "S002" / "S002R04.edf").write_bytes(b"0       not an EDF header at all")
    source = resolve_source("eegmmidb")
    with pytest.raises(DataError, match="quarantined"):
        source.open(root, cache_dir=tmp_path / "c", signal=contract(["Cz"]))
    store = source.open(
        root, cache_dir=tmp_path / "c", params={"max_bad_fraction": 0.25}, signal=contract(["Cz"])
    )
    assert store.n_records == 3
    q = (Path(store.root) / "quarantine.csv").read_text()
    assert "S002R04" in q and "cannot read" in q
    # a reused cache is checked against a stricter limit again
    with pytest.raises(DataError, match="existing cache"):
        source.prepare(
            root, cache_dir=tmp_path / "c", channels=["Cz"], params={"max_bad_fraction": 0.25 - 1e-6}
        )


# ---------------------------------------------------------------------------------------------------------
# eeg-notebooks, eeg_files, eeg_synthetic
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ds_id", ["eegnb_p300", "eegnb_ssvep"])
def test_muse_sources(muse_root: Path, cache_dir: Path, ds_id: str) -> None:
    source = resolve_source(ds_id)
    store = source.open(muse_root, cache_dir=cache_dir, signal=contract(MUSE[::-1]))
    ids = [store.record_id(i) for i in range(store.n_records)]
    assert ids == [
        "subject1/session1/data_2017-02-04-15_45_13",
        "subject1/session2/data_2017-02-09-17.13.56",
        "subject2/session1/data_2018-04-15-20.08.41",
    ]
    assert store.channels(0) == ("TP10", "AF8", "AF7", "TP9") and store.lengths.tolist() == [1280, 1280, 1536]
    assert store.index["session"].tolist() == ["session1", "session2", "session1"]
    assert store.provenance["subjects"] == ["subject1", "subject2"]
    one = source.open(muse_root, cache_dir=cache_dir, params={"subjects": "2"}, signal=contract(MUSE))
    assert one.n_records == 1 and one.index["subject"].tolist() == ["subject2"]
    assert (
        source.open(muse_root, cache_dir=cache_dir, params={"sessions": [2]}, signal=contract(MUSE)).n_records
        == 1
    )
    with pytest.raises(ContractError, match=r"lacks the model channel\(s\) \['Cz'\]"):
        source.open(muse_root, cache_dir=cache_dir, signal=contract(["TP9", "Cz"]))


def test_eeg_files_source(tmp_path: Path) -> None:
    root = tmp_path / "files"
    write_edf(root / "a.edf", eeg_signal(3, 3000, 250.0, 1), ["C3", "Cz", "C4"], 250.0)
    raw = mne.io.RawArray(
        eeg_signal(4, 2000, 200.0, 2) * 1e-6,
        mne.create_info(["C4", "C3", "Cz", "Pz"], 200.0, "eeg"),
        verbose="error",
    )
    (root / "sub").mkdir()
    raw.save(root / "sub" / "b_raw.fif", verbose="error")
    (root / "notes.txt").write_text("not EEG")
    source = resolve_source("eeg_files")
    store = source.open(root, cache_dir=tmp_path / "c", signal=contract(["C3", "C4"]))
    assert [store.record_id(i) for i in range(2)] == ["a.edf", "sub/b_raw.fif"]
    assert store.lengths.tolist() == [1536, 1280] and store.channels(1) == ("C3", "C4")
    assert store.index["sfreq_native"].astype(float).tolist() == [250.0, 200.0]
    only = source.open(
        root, cache_dir=tmp_path / "c", params={"pattern": "**/*.fif"}, signal=contract(["Cz"])
    )
    assert only.n_records == 1 and only.record_id(0) == "sub/b_raw.fif"
    with pytest.raises(ConfigError, match=r"no EEG file under .* matches \*\.gdf"):
        source.open(root, cache_dir=tmp_path / "c", params={"pattern": "*.gdf"}, signal=contract(["Cz"]))
    with pytest.raises(ConfigError, match="pattern must be a glob"):
        source.open(root, cache_dir=tmp_path / "c", params={"pattern": [3]}, signal=contract(["Cz"]))


def test_fingerprints_identify_the_same_recording(mmidb_root: Path, tmp_path: Path) -> None:
    """The same EDF seen through eegmmidb and eeg_files gets the same fingerprint (for de-duplication)."""
    sig = contract(["Cz"])
    a = resolve_source("eegmmidb").open(
        mmidb_root, cache_dir=tmp_path / "c", params={"subjects": 1}, signal=sig
    )
    b = resolve_source("eeg_files").open(
        mmidb_root, cache_dir=tmp_path / "c", params={"pattern": "S001/*.edf"}, signal=sig
    )
    fa, fb = a.fingerprints, b.fingerprints
    assert fa == fb and len(set(fa)) == 2 and all(len(f) == 32 for f in fa)


def test_eeg_synthetic_source() -> None:
    source = resolve_source("eeg_synthetic")
    store = source.open(
        None, params={"n_records": 8, "seed": 1}, signal=contract(["C3", "Cz", "C4"], n_times=1500)
    )
    assert isinstance(store, ArrayStore) and store.get(0).shape == (3, 1500)  # at least one window long
    assert store.channel_names == ("C3", "Cz", "C4") and store.units == "uV" and store.sfreq == 128.0
    assert store.labels is not None and np.bincount(store.labels).tolist() == [4, 4]
    assert store.provenance["generated"] and store.provenance["class_names"] == [
        "mu_erd_left",
        "mu_erd_right",
    ]
    assert getattr(store, "normalization", None) is None and store.subjects.tolist() == ["synth01"] * 8
    default = source.open(None)
    assert default.get(0).shape == (19, 1024) and default.n_records == 256
    again = source.open(
        None, params={"n_records": 8, "seed": 1}, signal=contract(["C3", "Cz", "C4"], n_times=1500)
    )
    np.testing.assert_array_equal(store.get(5), again.get(5))
    with pytest.raises(ConfigError, match="do not pass a directory"):
        source.open(Path("/tmp"))
    with pytest.raises(ConfigError, match=r"unknown eeg_synthetic parameter\(s\) \['bogus'\]"):
        source.open(None, params={"bogus": 1})
    with pytest.raises(ConfigError, match="shorter than the model window of 2048"):
        source.open(None, params={"duration_s": 4.0}, signal=contract(["Cz"], n_times=2048))
    with pytest.raises(ContractError, match="differ from the model's channels"):
        source.open(None, params={"channels": ["C3", "C4"]}, signal=contract(["C4", "C3"]))
    with pytest.raises(ContractError, match="not in montage"):
        source.open(None, signal=contract(["C3", "EMG1"]))
    with pytest.raises(ConfigError, match="n_classes"):
        source.open(None, params={"n_classes": 5})


# ---------------------------------------------------------------------------------------------------------
# real data
# ---------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("eeg_real_cache")


@pytest.mark.realdata
def test_real_eegmmidb_pretraining_open(shared_data: Path, real_cache: Path) -> None:
    card = load_card("eegmmidb")
    root = shared_data / "eeg" / "eegmmidb_S001"
    sig = SignalContract(sfreq=128.0, channels=card.channels, units="uV", n_times=2048)
    store = resolve_source("eegmmidb").open(root, cache_dir=real_cache, params={"runs": [3, 5]}, signal=sig)
    assert store.n_records == 2 and [store.record_id(i) for i in range(2)] == ["S001R03", "S001R05"]
    assert list(store.channels(0)) == card.channels and len(card.channels) == 64
    assert store.lengths.tolist() == [16000, 16000]  # 125 s at 128 Hz
    crop = store.crop(0, 1000, 2048)  # (64, 2048)
    assert crop.shape == (64, 2048) and crop.dtype == np.float32
    sd = crop.std(axis=1)
    assert 3.0 < float(np.median(sd)) < 100.0  # band-passed µV
    assert store.provenance["subjects"] == ["S001"] and store.provenance["runs"] == [3, 5]
    assert store.index["sfreq_native"].astype(float).tolist() == [160.0, 160.0]


@pytest.mark.realdata
def test_real_eegnb_p300_pretraining_open(shared_data: Path, real_cache: Path) -> None:
    root = shared_data / "eeg" / "eegnb_muse_p300"
    store = resolve_source("eegnb_p300").open(
        root, cache_dir=real_cache, params={"subjects": [2, 4]}, signal=contract(MUSE, n_times=2048)
    )
    assert store.n_records == 6 and store.channels(0) == tuple(MUSE)
    assert store.index["subject"].tolist() == ["subject2"] * 5 + ["subject4"]
    assert store.record_id(5) == "subject4/session1/data_2018-04-22-21.41.19"
    # 120-s runs (30732 or 30744 rows at 256 Hz) -> about 15366 samples; the 60-s run -> 7680
    assert all(abs(n - 15366) <= 6 for n in store.lengths[:5]) and store.lengths[5] == 7680
    assert 5.0 < float(np.median(store.crop(0, 500, 2048).std(axis=1))) < 200.0
