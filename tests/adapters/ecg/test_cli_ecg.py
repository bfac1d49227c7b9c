"""`biojepa pretrain ecg` (the README's main job) and `biojepa datasets prepare` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from biojepa.cli import app
from biojepa.io import load, read_config


def test_pretrain_ecg_demo_writes_a_loadable_model_with_the_data_contract(tmp_path: Path) -> None:
    out, js = tmp_path / "run", tmp_path / "r.json"
    res = CliRunner().invoke(app, ["pretrain", "ecg", "--out", str(out), "--json", str(js), "engine.steps=4",
                                   "data.sources.0.params.n_records=16", "log.progress=plain"])
    assert res.exit_code == 0, res.output
    data = json.loads(js.read_text())
    assert data["status"] == "ok" and data["model_name"] == "ecg_vit_tiny" and data["recipe"] == "ecg/demo"
    assert data["datasets"] == {"ecg_synthetic": {"n_records": 16, "n_quarantined": 0, "n_duplicates_dropped": 0}}
    cfg = read_config(data["model_dir"])
    sig = cfg["signal"]
    assert sig["sfreq"] == 100.0 and sig["n_times"] == 500 and sig["units"] == "mV"
    stats = sig["normalization"]["stats"]
    assert sig["normalization"]["method"] == "zscore" and len(stats["mean"]) == 12 and len(stats["std"]) == 12
    assert set(stats["per_dataset"]) == {"ecg_synthetic"} and all(0.01 < s < 2.0 for s in stats["std"])  # mV
    assert cfg["training"]["n_training_records"] == 16 and len(cfg["training"]["record_list_sha256"]) == 64
    enc = load(data["model_dir"])
    assert enc.spec.name == "ecg_vit_tiny"
    card = (Path(data["model_dir"]) / "README.md").read_text()
    assert "ecg_synthetic" in card and "not" in card.lower()


def test_pretrain_ecg_real_recipes_need_data(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["pretrain", "ecg", "--recipe", "vit_xs", "--out", str(tmp_path / "r"),
                                   "--json", str(tmp_path / "e.json")])
    assert res.exit_code == 2, res.output
    assert "pass --data" in json.loads((tmp_path / "e.json").read_text())["message"]
    res = CliRunner().invoke(app, ["pretrain", "ecg", "--recipe", "synthetic/tiny", "--out", str(tmp_path / "s")])
    assert res.exit_code == 2 and "not 'ecg'" in res.output


@pytest.mark.realdata
def test_pretrain_ecg_refuses_heldout_ptbxl_folds(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / "ecg" / "ptbxl_subset"
    res = CliRunner().invoke(app, ["pretrain", "ecg", "--recipe", "demo", "--data", f"ptbxl={root}",
                                   "data.ptbxl.folds=1-10", f"data.cache_dir={tmp_path / 'c'}",
                                   "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "never used for" in res.output


def _write_records(root: Path, n: int, sfreq: float = 100.0) -> None:
    import warnings

    from biojepa.adapters.ecg.leads import STANDARD_LEADS
    from biojepa.adapters.ecg.synthetic import EcgSynthSpec, simulate_ecg

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        import wfdb

        x, _ = simulate_ecg(EcgSynthSpec(n_records=n, sfreq=sfreq, duration_s=6.0))
        root.mkdir(parents=True)
        for i in range(n):
            wfdb.wrsamp(f"rec{i}", fs=sfreq, units=["mV"] * 12, sig_name=list(STANDARD_LEADS),
                        p_signal=x[i].T.astype(np.float64), fmt=["16"] * 12, write_dir=str(root))


def test_datasets_prepare_builds_once_then_reuses(tmp_path: Path) -> None:
    root = tmp_path / "wf"
    _write_records(root, 3)
    (root / "rec2.dat").unlink()  # one bad record: quarantined, the others kept
    args = ["datasets", "prepare", "wfdb", "--root", str(root), "--sfreq", "100", "--cache-dir",
            str(tmp_path / "c"), "--max-bad-fraction", "0.5", "--progress", "plain", "--json"]
    res = CliRunner().invoke(app, [*args, str(tmp_path / "p.json")])
    assert res.exit_code == 0, res.output
    info = json.loads((tmp_path / "p.json").read_text())
    assert info["built"] is True and info["n_ok"] == 2 and info["n_quarantined"] == 1
    report = Path(info["quarantine_report"]).read_text()
    assert "rec2" in report and ".dat" in report
    again = CliRunner().invoke(app, [*args, str(tmp_path / "q.json")])
    assert again.exit_code == 0 and json.loads((tmp_path / "q.json").read_text())["built"] is False
    strict_args = [a if a != "0.5" else "0.1" for a in args]
    strict = CliRunner().invoke(app, [*strict_args, str(tmp_path / "s.json")])
    assert strict.exit_code == 1 and "quarantined" in json.loads((tmp_path / "s.json").read_text())["message"]
    bad = CliRunner().invoke(app, ["datasets", "prepare", "ecg_synthetic", "--root", str(root)])
    assert bad.exit_code == 2 and "generated" in bad.output
    bad = CliRunner().invoke(app, ["datasets", "prepare", "wfdb", "--root", str(root), "colour=1",
                                   "--cache-dir", str(tmp_path / "c")])
    assert bad.exit_code == 2 and "unknown parameter" in bad.output


def test_pretraining_quarantines_one_corrupt_header_counts_and_logs_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "wf"
    _write_records(root, 4)
    hea = root / "rec2.hea"
    head = bytearray(hea.read_bytes())
    head[5:9] = b"\xff\x00?!"  # byte damage in the record line (the number of signals)
    hea.write_bytes(bytes(head))
    js = tmp_path / "r.json"
    with caplog.at_level("WARNING"):
        res = CliRunner().invoke(app, [
            "pretrain", "ecg", "--recipe", "demo", "--data", f"wfdb={root}", "--out", str(tmp_path / "run"),
            "--json", str(js), "engine.steps=2", f"data.cache_dir={tmp_path / 'c'}", "data.wfdb.max_bad_fraction=0.5",
            "log.progress=none",
        ])
    assert res.exit_code == 0, res.output
    data = json.loads(js.read_text())
    assert data["datasets"]["wfdb"]["n_records"] == 3 and data["datasets"]["wfdb"]["n_quarantined"] == 1
    assert "data wfdb: 3 records, 1 quarantined" in res.output
    logged = [r.getMessage() for r in caplog.records if "quarantined" in r.getMessage()]
    assert any("record rec2 quarantined" in m and "record line" in m for m in logged), logged
