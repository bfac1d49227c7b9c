"""The PTB-XL benchmark runner (`biojepa finetune ptbxl`) on the shared PTB-XL subset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from biojepa.adapters.ecg.ptbxl_eval import PtbxlEvalConfig, fit_logistic, load_encoder, run_ptbxl
from biojepa.cli import app
from biojepa.errors import ConfigError
from biojepa.eval.results import EvalResult

ROW_KEYS = {"variant", "metric", "split", "value", "std", "ci95", "seeds", "per_seed", "val_value", "per_class",
            "n_labels", "dropped_labels", "steps"}


def _cfg(shared_data: Path, tmp_path: Path, **kw: object) -> PtbxlEvalConfig:
    base: dict[str, object] = {
        "model": "random:ecg_vit_tiny", "data_root": shared_data / "ecg" / "ptbxl_subset",
        "task": "superdiagnostic", "mode": "pooled_lr", "train_folds": "1-6", "val_folds": "7",
        "test_folds": "8", "sfreq_files": 100, "seeds": 2, "max_steps": 20, "n_boot": 50, "eval_every": 10,
        "cache_dir": tmp_path / "cache",
    }
    base.update(kw)
    return PtbxlEvalConfig(**base)  # type: ignore[arg-type]


@pytest.mark.realdata
def test_pooled_lr_with_baselines_gives_the_result_schema(shared_data: Path, tmp_path: Path) -> None:
    res = run_ptbxl(_cfg(shared_data, tmp_path))
    EvalResult.model_validate({k: res[k] for k in ("schema_version", "status", "task", "mode", "folds", "n_records",
                                                   "rows")})
    assert res["n_records"] == {"train": 286, "val": 52, "test": 46}  # 1 record has no superclass
    assert res["folds"] == {"train": [1, 2, 3, 4, 5, 6], "val": [7], "test": [8]}
    assert (res["window"], res["stride"], res["model_sfreq"]) == (250, 125, 100.0)  # 2.5 s / 1.25 s at 100 Hz
    rows = {r["variant"]: r for r in res["rows"]}
    assert list(rows) == ["pretrained", "random_init", "handcrafted"]
    for r in rows.values():
        assert set(r) == ROW_KEYS and r["metric"] == "auc_macro" and r["split"] == "test"
        assert 0.0 <= r["value"] <= 1.0 and r["n_labels"] == 5
        assert r["ci95"][0] <= r["ci95"][1] and set(r["per_class"]) == {"CD", "HYP", "MI", "NORM", "STTC"}
        assert r["dropped_labels"] == []
    assert rows["pretrained"]["seeds"] == [0, 1] and len(rows["pretrained"]["per_seed"]) == 2
    assert rows["handcrafted"]["seeds"] == [0] and rows["handcrafted"]["std"] == 0.0
    # the classical baseline reads real amplitude/interval information: far above chance on this split
    assert rows["handcrafted"]["value"] > 0.65
    # the train-fold statistics normalise the input (mV scale: std of a lead ~0.1-0.3 mV)
    assert all(0.02 < s < 1.0 for s in res["normalization"]["std"])


@pytest.mark.realdata
def test_attentive_probe_is_deterministic_and_reports_dropped_labels(shared_data: Path, tmp_path: Path) -> None:
    cfg = _cfg(shared_data, tmp_path, mode="linear", seeds=1, baselines=(), task="rhythm")
    a, b = run_ptbxl(cfg), run_ptbxl(cfg)
    assert a["rows"][0]["value"] == b["rows"][0]["value"]
    row = a["rows"][0]
    # rhythm labels missing from the small test fold are listed, never dropped silently
    assert row["dropped_labels"] and row["n_labels"] == len(row["per_class"]) + len(row["dropped_labels"])


@pytest.mark.realdata
def test_finetune_modes_run(shared_data: Path, tmp_path: Path) -> None:
    for mode in ("finetune_after_linear", "finetune"):
        res = run_ptbxl(_cfg(shared_data, tmp_path, mode=mode, seeds=1, max_steps=4, eval_every=2, baselines=()))
        assert res["rows"][0]["steps"] <= 4 and np.isfinite(res["rows"][0]["value"])
    single = run_ptbxl(_cfg(shared_data, tmp_path, task="superdiagnostic_single", mode="pooled_lr", seeds=1,
                            baselines=("scratch",), max_steps=4, eval_every=2))
    assert [r["variant"] for r in single["rows"]] == ["pretrained", "scratch"]


@pytest.mark.realdata
def test_bad_settings(shared_data: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"fold"):
        run_ptbxl(_cfg(shared_data, tmp_path, test_folds="10"))  # the subset holds folds 1-8 only
    with pytest.raises(ConfigError, match="multiple of the model's patch"):
        run_ptbxl(_cfg(shared_data, tmp_path, window_s=2.55))
    with pytest.raises(ConfigError, match="unknown PTB-XL task"):
        run_ptbxl(_cfg(shared_data, tmp_path, task="everything"))
    with pytest.raises(ConfigError, match="valid: random_init, handcrafted, scratch"):
        run_ptbxl(_cfg(shared_data, tmp_path, baselines=("knn",)))
    with pytest.raises(ConfigError, match="12-lead"):
        run_ptbxl(_cfg(shared_data, tmp_path, model="random:synthetic_vit_tiny"))


def test_load_encoder_refuses_what_it_cannot_resolve(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="random:<name>"):
        load_encoder(str(tmp_path / "nope"))
    a, b = load_encoder("random:ecg_vit_tiny", seed=1), load_encoder("random:ecg_vit_tiny", seed=1)
    assert all((p == q).all() for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_fit_logistic_finds_the_planted_signal() -> None:
    rng = np.random.default_rng(0)
    f = rng.normal(size=(300, 6))
    y = np.stack([(f[:, 0] > 0), (f[:, 1] + 0.3 * rng.normal(size=300) > 0), np.zeros(300, bool)], axis=1)
    y = y.astype(np.uint8)
    s, c, val = fit_logistic(f[:200], y[:200], f[200:250], y[200:250], f[250:], multilabel=True)
    assert s.shape == (50, 3) and val > 0.9 and c > 0
    assert np.all(s[:, 2] == 0.0)  # a label never positive in training scores its prevalence (0)
    yc = (f[:, 0] > 0).astype(int) + (f[:, 1] > 0).astype(int)  # 3 classes
    s, _, val = fit_logistic(f[:200], yc[:200], f[200:250], yc[200:250], f[250:], multilabel=False)
    assert s.shape == (50, 3) and val > 0.85


@pytest.mark.realdata
def test_cli_finetune_ptbxl(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / "ecg" / "ptbxl_subset"
    out = tmp_path / "r.json"
    args = ["finetune", "ptbxl", "--model", "random:ecg_vit_tiny", "--data-root", str(root), "--task",
            "superdiagnostic", "--mode", "pooled_lr", "--train-folds", "1-6", "--val-folds", "7", "--test-folds",
            "8", "--sfreq", "100", "--seeds", "1", "--n-boot", "20", "--cache-dir", str(tmp_path / "c"),
            "--baselines", "handcrafted", "--json", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["status"] == "ok" and [r["variant"] for r in data["rows"]] == ["pretrained", "handcrafted"]
    assert "handcrafted" in res.output and "macro AUC" in res.output
    bad_args = [a if a != "8" else "10" for a in args]  # test fold 10 is not in the subset
    bad_args[-1] = str(tmp_path / "e.json")
    bad = CliRunner().invoke(app, bad_args)
    assert bad.exit_code == 2, bad.output
    err = json.loads((tmp_path / "e.json").read_text())
    assert err["status"] == "error" and "fold" in err["message"]


@pytest.mark.realdata
def test_protocol_seven_windows_and_train_fold_statistics(shared_data: Path, tmp_path: Path) -> None:
    from biojepa.adapters.ecg.ptbxl_eval import load_ptbxl_splits
    from biojepa.eval.windows import window_starts

    cfg = _cfg(shared_data, tmp_path)
    data = load_ptbxl_splits(cfg, 100.0)
    assert data.x["test"].shape[1:] == (12, 1000)  # 10 s at 100 Hz
    assert len(window_starts(1000, 250, 125)) == 7  # ECG-JEPA: 2.5-s windows, 1.25-s stride, 7 per record
    # normalisation statistics come from the training folds only (ecg.md §5.8), in mV (no extra x1000)
    raw = data.raw["train"].transpose(1, 0, 2).reshape(12, -1).astype(np.float64)  # (12, N*T)
    np.testing.assert_allclose(data.info["normalization"]["mean"], raw.mean(axis=1), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(data.info["normalization"]["std"], raw.std(axis=1), rtol=1e-4)
    assert abs(float(data.x["train"].mean())) < 0.05 and abs(float(data.x["test"].mean())) > 0.0
    assert np.abs(data.x["val"]).max() <= 5.0
    assert set(data.ecg_ids["test"]).isdisjoint(data.ecg_ids["train"])


@pytest.mark.realdata
def test_several_models_pair_with_seeds(shared_data: Path, tmp_path: Path) -> None:
    cfg = _cfg(shared_data, tmp_path, model="random:ecg_vit_tiny,random:ecg_vit_tiny", seeds=5, baselines=())
    res = run_ptbxl(cfg)
    row = res["rows"][0]
    assert row["seeds"] == [0, 1] and len(res["model"]) == 2  # seeds follow the number of models
    assert row["per_seed"][0] != row["per_seed"][1]  # two different encoders (seeded differently)
