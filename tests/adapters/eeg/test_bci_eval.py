"""`biojepa finetune bci` on the generated corpus: rows, splits, baselines, chance, JSON and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from biojepa.adapters.eeg.bci_eval import BciEvalConfig, parse_events, run_bci
from biojepa.cli import app
from biojepa.errors import ConfigError, ContractError
from biojepa.eval.results import EvalResult

FAST = {"max_epochs": 2, "patience": 2, "n_permutations": 20}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import biojepa
    from biojepa.io import save_pretrained

    torch.manual_seed(0)
    enc = biojepa.create_model("eeg_sjepa_tiny", encoder={"depth": 1})
    return Path(save_pretrained(enc, tmp_path_factory.mktemp("m") / "model"))


def test_loso_rows_on_the_synthetic_corpus(model_dir: Path) -> None:
    cfg = BciEvalConfig(paradigm="mi", data="eeg_synthetic", models=[str(model_dir)], split="loso", seeds=2, **FAST)
    res = run_bci(cfg)
    EvalResult.model_validate({k: v for k, v in res.items() if k not in ("models", "wall_s", "protocol")})
    rows = {r["variant"]: r for r in res["rows"]}
    assert list(rows) == ["pretrained", "random_init", "csp_lda", "chance"]
    assert res["split"]["kind"] == "loso" and res["split"]["n_splits"] == 4  # 4 simulated subjects
    n = res["n_records"]["trials"]
    for r in rows.values():
        assert r["metric"] == "accuracy" and r["n_test"] == n
        assert 0.0 < r["chance_bound"] < 1.0
    assert rows["pretrained"]["seeds"] == [0, 1] and len(rows["pretrained"]["per_seed"]) == 2
    assert len(rows["pretrained"]["per_fold"]) == 4
    # the planted mu desynchronisation is what CSP is built for: far above the binomial bound
    assert rows["csp_lda"]["value"] > rows["csp_lda"]["chance_bound"] + 0.2
    assert rows["csp_lda"]["p_value"] < 0.1
    assert rows["chance"]["value"] == pytest.approx(0.5)


@pytest.mark.parametrize("arch", ["post_local", "contextual"])
def test_within_subject_folds_and_other_architectures(arch: str) -> None:
    cfg = BciEvalConfig(paradigm="mi", data="eeg_synthetic", models=["random:eeg_sjepa_tiny"], arch=arch,
                        scheme="full", split="within", folds=2, seeds=1, baselines="", **FAST)
    res = run_bci(cfg)
    assert [r["variant"] for r in res["rows"]] == ["random_init", "chance"]  # no pretrained model was given
    assert res["split"]["n_splits"] == 4 * 2 and res["mode"] == f"full-{arch}"


def test_config_and_contract_errors(model_dir: Path) -> None:
    with pytest.raises(ConfigError, match="paradigm"):
        BciEvalConfig(paradigm="motor", data="eeg_synthetic", models=["random:eeg_sjepa"])
    with pytest.raises(ConfigError, match="one per seed"):
        BciEvalConfig(paradigm="mi", data="eeg_synthetic", models=["a", "b"], seeds=3)
    with pytest.raises(ConfigError, match="arch"):
        BciEvalConfig(paradigm="mi", data="eeg_synthetic", models=["a"], arch="late")
    import biojepa
    from biojepa.io import save_pretrained

    enc = biojepa.create_model("eeg_sjepa_tiny", encoder={"depth": 1}, signal={"sfreq": 256.0, "n_times": 1024})
    other = save_pretrained(enc, model_dir.parent / "at256")
    with pytest.raises(ContractError, match="256 Hz"):
        run_bci(BciEvalConfig(paradigm="mi", data="eeg_synthetic", models=[str(other)], seeds=1, **FAST))
    assert parse_events("T1=left, T2=right") == {"T1": "left", "T2": "right"}
    with pytest.raises(ConfigError, match="MARKER=CLASS"):
        parse_events("T1")


def test_cli_writes_the_result_json(tmp_path: Path) -> None:
    out = tmp_path / "bci.json"
    res = CliRunner().invoke(app, ["finetune", "bci", "--paradigm", "mi", "--data", "eeg_synthetic", "--model",
                                   "random:eeg_sjepa_tiny", "--split", "loso", "--seeds", "1", "--max-epochs", "1",
                                   "--patience", "1", "--permutations", "0", "--json", str(out)])
    assert res.exit_code == 0, res.output
    payload = json.loads(out.read_text())
    assert payload["status"] == "ok" and payload["task"] == "eeg_synthetic/mi"
    assert "chance" in res.output and "csp_lda" in res.output
    bad = CliRunner().invoke(app, ["finetune", "bci", "--paradigm", "mi", "--data", "eeg_synthetic", "--model",
                                   "random:eeg_sjepa_tiny", "--split", "sideways", "--json", str(out)])
    assert bad.exit_code == 2
    assert json.loads(out.read_text())["status"] == "error"
