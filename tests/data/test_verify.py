"""`verify_dataset` / `biojepa datasets verify`: header scans, reports, threshold, every registered id."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from biojepa.cli import app
from biojepa.data.sources import resolve_source
from biojepa.data.verify import INDEX_COLUMNS, ScanResult, verify_dataset
from biojepa.errors import ConfigError, DataError
from biojepa.registry import DATASETS
from tests.fuzz.test_edf_header_fuzz import write_base as write_edf

with warnings.catch_warnings():  # wfdb 4.3 uses an argument pandas 3.1 deprecates, at import time
    warnings.filterwarnings("ignore", message=".*inplace keyword.*", category=DeprecationWarning)
    wfdb = pytest.importorskip("wfdb")

LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def write_wfdb_folder(root: Path, n: int, sfreq: float = 100.0, n_times: int = 600) -> Path:
    """``n`` valid 12-lead WFDB records ``rec0`` ... written with wfdb.wrsamp."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        x = rng.normal(size=(12, n_times)) * 0.5  # (12, T) mV
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*inplace keyword.*", category=DeprecationWarning)
            wfdb.wrsamp(
                f"rec{i}",
                fs=sfreq,
                units=["mV"] * 12,
                sig_name=LEADS,
                p_signal=x.T,
                fmt=["16"] * 12,
                write_dir=str(root),
            )
    return root


def damage_header(hea: Path) -> None:
    """Replace the number of signals of the record line with garbage bytes."""
    head = hea.read_bytes()
    first, _, rest = head.partition(b"\n")
    name, _n_sig, *others = first.split(b" ")
    hea.write_bytes(b" ".join([name, b"\xff\x00", *others]) + b"\n" + rest)


@pytest.fixture
def wfdb_root(tmp_path: Path) -> Path:
    root = write_wfdb_folder(tmp_path / "wf", 8)
    damage_header(root / "rec3.hea")
    (root / "rec5.dat").write_bytes((root / "rec5.dat").read_bytes()[:100])  # truncated data file
    return root


def test_verify_writes_index_and_quarantine_without_decoding_samples(
    wfdb_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("verify must not decode samples")

    monkeypatch.setattr(wfdb, "rdrecord", no_decoding)
    calls: list[tuple[int, int]] = []
    rep = verify_dataset(
        "wfdb",
        wfdb_root,
        out=tmp_path / "out",
        max_bad_fraction=0.3,
        progress=lambda k, n: calls.append((k, n)),
    )
    assert (rep.n_ok, rep.n_quarantined, rep.n_records) == (6, 2, 8)
    assert calls[-1] == (8, 8) and len(calls) == 8
    index = pd.read_csv(rep.index_path, keep_default_na=False)
    assert tuple(index.columns) == INDEX_COLUMNS
    assert index.set_index("record_id")["status"].to_dict() == {
        f"rec{i}": ("quarantined" if i in (3, 5) else "ok") for i in range(8)
    }
    q = pd.read_csv(rep.quarantine_path).set_index("record_id")["reason"]
    assert list(q.index) == ["rec3", "rec5"]
    assert "record line" in q["rec3"] and "n_signals" in q["rec3"]
    assert "truncated" in q["rec5"] and "rec5.dat has 100 bytes" in q["rec5"]
    assert dict(rep.quarantined) == q.to_dict()
    assert rep.as_dict()["bad_fraction"] == pytest.approx(0.25)


def test_above_the_threshold_the_reports_are_written_then_data_error(wfdb_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "strict"
    with pytest.raises(
        DataError, match=r"2 of 8 records are quarantined \(fraction 0.2500 > max_bad_fraction 0.1\)"
    ) as info:
        verify_dataset("wfdb", wfdb_root, out=out, max_bad_fraction=0.1)
    assert str(out / "quarantine.csv") in str(info.value)
    assert len(pd.read_csv(out / "index.csv")) == 8 and len(pd.read_csv(out / "quarantine.csv")) == 2


def test_default_output_is_the_cache_dir(
    wfdb_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIOJEPA_CACHE_DIR", str(tmp_path / "cache"))
    rep = verify_dataset("wfdb", wfdb_root, max_bad_fraction=0.5)
    assert rep.out_dir == (tmp_path / "cache" / "verify" / "wfdb").absolute() and rep.index_path.is_file()


def test_bad_arguments(wfdb_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"max_bad_fraction must be a number in \[0, 1\]"):
        verify_dataset("wfdb", wfdb_root, out=tmp_path, max_bad_fraction=1.5)
    with pytest.raises(ConfigError, match="--max-bad-fraction"):
        verify_dataset("wfdb", wfdb_root, out=tmp_path, params={"max_bad_fraction": 0.5})
    with pytest.raises(ConfigError, match="does not exist"):
        verify_dataset("wfdb", tmp_path / "nope", out=tmp_path)
    with pytest.raises(ConfigError, match="unknown parameter"):
        verify_dataset("wfdb", wfdb_root, out=tmp_path, params={"colour": 1})
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no records found"):
        verify_dataset("wfdb", empty, out=tmp_path)


@pytest.mark.parametrize("ds_id", DATASETS.names())
def test_every_registered_dataset_is_verifiable_or_refused_clearly(ds_id: str, tmp_path: Path) -> None:
    source = resolve_source(ds_id)
    empty = tmp_path / "empty"
    empty.mkdir()
    if DATASETS.entry(ds_id).meta.get("reader", "generated") == "generated":
        assert not hasattr(source, "scan")
        with pytest.raises(
            ConfigError, match=rf"dataset '{ds_id}' is generated in memory.*nothing to verify"
        ):
            verify_dataset(ds_id, empty, out=tmp_path / "out")
    else:  # a file source scans; an empty folder is a clear ConfigError / DataError, never a traceback
        assert callable(source.scan)
        with pytest.raises((ConfigError, DataError), match=r"(?i)no |not found|lacks|missing"):
            verify_dataset(ds_id, empty, out=tmp_path / "out")


def test_eeg_files_scan_edf_headers(tmp_path: Path) -> None:
    root = tmp_path / "eeg"
    root.mkdir()
    good = write_edf(root / "a.edf")
    (root / "b.edf").write_bytes(good)
    mixed = bytearray(good)
    off = 256 + 4 * (16 + 80 + 8 * 5 + 80)  # the samples-per-record field of signal 0
    mixed[off : off + 8] = b"50".ljust(8)
    (root / "c.edf").write_bytes(bytes(mixed))
    (root / "d.edf").write_bytes(good[:200])
    rep = verify_dataset("eeg_files", root, out=tmp_path / "out", max_bad_fraction=0.5)
    assert (rep.n_ok, rep.n_quarantined) == (2, 2)
    reasons = dict(rep.quarantined)
    assert "mixes sampling rates" in reasons["c.edf"] and "the file has 200 bytes" in reasons["d.edf"]


def test_roi_dir_scan_reads_the_small_matrices(tmp_path: Path) -> None:
    root = tmp_path / "rois"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        np.save(root / f"sub{i}.npy", rng.normal(size=(8, 40)))  # ROI x time
    bad = rng.normal(size=(8, 40))
    bad[2, 5] = np.nan
    np.save(root / "sub9.npy", bad)
    rep = verify_dataset(
        "roi_dir",
        root,
        out=tmp_path / "out",
        max_bad_fraction=0.5,
        params={"tr_s": 2.0, "orientation": "roi_time"},
    )
    assert (rep.n_ok, rep.n_quarantined) == (3, 1)
    assert "NaN" in dict(rep.quarantined)["sub9.npy"]


def test_code15_scan_uses_the_hdf5_shapes(tmp_path: Path) -> None:
    h5py = pytest.importorskip("h5py")
    root = tmp_path / "code15"
    root.mkdir()
    with h5py.File(root / "exams_part0.hdf5", "w") as f:
        f["exam_id"] = np.array([11, 12, 0])
        f["tracings"] = np.zeros((3, 64, 12), dtype=np.float32)
    (root / "exams.csv").write_text(
        "exam_id,patient_id,age,is_male,trace_file\n11,1,50,True,exams_part0.hdf5\n"
        "12,2,60,False,exams_part0.hdf5\n13,3,70,True,exams_part1.hdf5\n"
    )
    rep = verify_dataset("code15", root, out=tmp_path / "out", max_bad_fraction=0.5)
    assert (rep.n_ok, rep.n_quarantined) == (2, 1)
    assert "exams_part1.hdf5" in dict(rep.quarantined)["13"]


def test_scan_result_of_a_check() -> None:
    from biojepa.data.verify import check_record
    from biojepa.errors import CorruptRecordError

    def bad() -> None:
        raise CorruptRecordError("r1", "broken")

    assert check_record("r1", "/x", bad) == ScanResult("r1", "quarantined", "broken", "/x")
    assert check_record("r2", "/y", lambda: None) == ScanResult("r2", "ok", "", "/y")


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_verify_ok_fail_and_usage_errors(wfdb_root: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    base = [
        "datasets",
        "verify",
        "wfdb",
        "--root",
        str(wfdb_root),
        "--out",
        str(tmp_path / "o"),
        "--progress",
        "plain",
    ]
    res = runner.invoke(app, [*base, "--max-bad-fraction", "0.5", "--json", str(tmp_path / "ok.json")])
    assert res.exit_code == 0, res.output
    assert "wfdb: 8 records scanned, 6 ok, 2 quarantined" in res.output and "quarantine report:" in res.output
    info = json.loads((tmp_path / "ok.json").read_text())
    assert info["status"] == "ok" and info["n_quarantined"] == 2 and info["quarantined"][0][0] == "rec3"
    res = runner.invoke(app, [*base, "--json", str(tmp_path / "bad.json")])  # default max 0.01
    assert res.exit_code == 1, res.output
    err = json.loads((tmp_path / "bad.json").read_text())
    assert err["status"] == "error" and "quarantine.csv" in err["message"]
    res = runner.invoke(app, ["datasets", "verify", "synthetic", "--root", str(wfdb_root)])
    assert res.exit_code == 2 and "nothing to verify" in res.output
    res = runner.invoke(app, [*base, "-p", "colour=red"])
    assert res.exit_code == 2 and "unknown parameter" in res.output
    res = runner.invoke(app, [*base, "-p", "nokeyvalue"])
    assert res.exit_code == 2 and "key=value" in res.output
