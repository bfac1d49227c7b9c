"""``biojepa fmri gradients`` (biojepa.adapters.fmri.group) and ``biojepa pretrain fmri`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from biojepa.adapters.fmri.gradients import GradientTable
from biojepa.adapters.fmri.group import load_fc, run_gradients
from biojepa.cli import app
from biojepa.errors import ConfigError
from tests.adapters.fmri.test_datasets import write_abide


def _fc(n: int = 30, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lab = np.arange(n) * 3 // n
    sig = rng.normal(size=(3, 400))[lab] + 0.7 * rng.normal(size=(n, 400))  # (R, T) three networks
    return np.corrcoef(sig)


def test_fc_files_npy_and_csv_give_the_same_table(tmp_path: Path) -> None:
    fc = _fc()
    np.save(tmp_path / "fc.npy", fc)
    names = [f"R{i}" for i in range(30)]
    with open(tmp_path / "fc.csv", "w", encoding="utf-8") as fh:
        fh.write("," + ",".join(names) + "\n")
        fh.writelines(n + "," + ",".join(repr(float(v)) for v in row) + "\n" for n, row in zip(names, fc, strict=True))
    np.testing.assert_allclose(load_fc(tmp_path / "fc.csv"), fc)
    a = run_gradients(out=tmp_path / "a.npy", fc=tmp_path / "fc.npy", k=5)
    b = run_gradients(out=tmp_path / "b.npy", fc=tmp_path / "fc.csv", k=5)
    assert a["sha256"] == b["sha256"] and a["shape"] == [30, 5]
    table = GradientTable.load(a["out"], expected_sha256=a["sha256"])
    assert table.params["k"] == 5 and len(a["eigenvalues"]) == 5


def test_bad_inputs(tmp_path: Path) -> None:
    np.save(tmp_path / "rect.npy", np.zeros((3, 4)))
    with pytest.raises(ConfigError, match="square"):
        run_gradients(out=tmp_path / "t.npy", fc=tmp_path / "rect.npy")
    with pytest.raises(ConfigError, match="exactly one"):
        run_gradients(out=tmp_path / "t.npy")
    with pytest.raises(ConfigError, match="exactly one"):
        run_gradients(out=tmp_path / "t.npy", fc=tmp_path / "rect.npy", data="fmri_synthetic")
    with pytest.raises(ConfigError, match="not found"):
        run_gradients(out=tmp_path / "t.npy", fc=tmp_path / "missing.npy")


def test_from_series_uses_only_the_given_subjects(tmp_path: Path) -> None:
    root = tmp_path / "abide"
    table = write_abide(root, sites={"PITT": (4, 2.0, 120), "OLIN": (3, 2.0, 120)})
    kw = {"out": tmp_path / "g", "data": f"abide_roi={root}", "k": 8, "cache_dir": tmp_path / "cache"}
    pitt = [str(s) for s in table.loc[table.site == "PITT", "subject_id"]]
    a = run_gradients(**{**kw, "out": tmp_path / "a.npy"}, subjects=pitt)
    b = run_gradients(**{**kw, "out": tmp_path / "b.npy"}, sites=["PITT"])
    c = run_gradients(**{**kw, "out": tmp_path / "c.npy"})
    assert a["subjects"] == pitt and a["n_records"] == 4
    assert a["sha256"] == b["sha256"] != c["sha256"]  # the same 4 subjects; all 7 give another table
    with pytest.raises(ConfigError, match="not among"):
        run_gradients(**{**kw, "out": tmp_path / "d.npy"}, subjects=["999"])


def test_cli_writes_the_table_and_json(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["fmri", "gradients", "--data", "fmri_synthetic", "--k", "6",
                                   "--out", str(tmp_path / "t.npy"), "--json", str(tmp_path / "r.json"),
                                   "n_records=12", "n_rois=40"])
    assert res.exit_code == 0, res.output
    payload = json.loads((tmp_path / "r.json").read_text())
    assert payload["status"] == "ok" and payload["shape"] == [40, 6] and payload["n_records"] == 12
    assert "roi_table_sha256=" + payload["sha256"] in res.output
    bad = CliRunner().invoke(app, ["fmri", "gradients", "--out", str(tmp_path / "x.npy"), "--json",
                                   str(tmp_path / "e.json")])
    assert bad.exit_code == 2 and json.loads((tmp_path / "e.json").read_text())["status"] == "error"


def test_pretrain_fmri_demo_then_resume_reuses_the_table(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["pretrain", "fmri", "--out", str(out), "--json", str(tmp_path / "r.json"), "engine.steps=4",
            "engine.ckpt_every=2", "data.batch_size=4", "data.fmri_synthetic.n_records=12", "log.progress=none"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["status"] == "ok" and r["model_name"] == "fmri_vit_tiny" and r["steps"] == 4
    assert r["monitor"]["target_std"] > 0 and r["n_collapse_warnings"] >= 0
    cfg = json.loads((out / "model" / "config.json").read_text())
    args_tok = cfg["spec"]["tokenizer"]["args"]
    saved = GradientTable.load(out / "roi_gradients.npy")
    assert args_tok["roi_table_sha256"] == saved.sha256() and np.asarray(args_tok["roi_table"]).shape == (116, 30)
    assert cfg["signal"]["normalization"]["method"] == "robust"
    assert len(cfg["signal"]["normalization"]["stats"]["mean"]) == 116
    card = (out / "model" / "README.md").read_text()
    assert saved.sha256() in card and "aal116" in card
    again = CliRunner().invoke(app, [*args[:2], "--out", str(out), "--resume", "auto", "engine.steps=6",
                                     "engine.ckpt_every=2", "data.batch_size=4", "data.fmri_synthetic.n_records=12",
                                     "log.progress=none"])
    assert again.exit_code == 0, again.output
    cfg2 = json.loads((out / "model" / "config.json").read_text())
    assert cfg2["spec"]["tokenizer"]["args"]["roi_table_sha256"] == saved.sha256()


def test_finetune_fmri_cli_writes_the_evaluation_json(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["finetune", "fmri", "--task", "label", "--data", "fmri_synthetic", "--model",
                                   "random:fmri_vit_tiny", "--split", "kfold", "--folds", "2", "--seeds", "1",
                                   "--mode", "sklearn", "--baselines", "connectivity", "--json",
                                   str(tmp_path / "r.json"), "n_records=16"])
    assert res.exit_code == 0, res.output
    payload = json.loads((tmp_path / "r.json").read_text())
    assert payload["status"] == "ok" and payload["mode"] == "sklearn"
    assert {r["variant"] for r in payload["rows"]} == {"random_init", "connectivity", "chance"}
    bad = CliRunner().invoke(app, ["finetune", "fmri", "--task", "dx", "--data", "fmri_synthetic", "--model",
                                   "random:fmri_vit_tiny", "--split", "bogus", "--json", str(tmp_path / "e.json")])
    assert bad.exit_code == 2 and json.loads((tmp_path / "e.json").read_text())["status"] == "error"
