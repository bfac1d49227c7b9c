"""The command line: tree, exit codes, --json on success and failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biojepa.cli import PENDING, app

runner = CliRunner()


def test_no_args_shows_help() -> None:
    res = runner.invoke(app, [])
    assert res.exit_code == 2  # no_args_is_help exits with the usage code
    assert "pretrain" in res.output and "models" in res.output


def test_version() -> None:
    import biojepa

    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.output.strip() == f"biojepa {biojepa.__version__}"


def test_pending_command_machinery_exits_2_and_writes_error_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    from biojepa import cli

    monkeypatch.setitem(cli.PENDING, "demo later", "a future issue")
    demo = typer.Typer()
    demo.callback()(lambda: None)
    demo.command("later", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
        cli._pending("demo later")
    )
    out = tmp_path / "r.json"
    res = runner.invoke(demo, ["later", "anything", "--json", str(out)])
    assert res.exit_code == 2, res.output
    assert "not available" in res.output and "a future issue" in res.output
    payload = json.loads(out.read_text())
    assert payload["status"] == "error" and "not available" in payload["message"]


def test_landed_commands_are_not_pending() -> None:
    assert "datasets verify" not in PENDING  # landed with the reliability issue (tests/data/test_verify.py)
    res = runner.invoke(app, ["datasets", "verify", "--help"])
    assert res.exit_code == 0 and "--max-bad-fraction" in res.output and "--root" in res.output
    for command in PENDING:  # anything still pending answers with exit code 2
        assert runner.invoke(app, command.split()).exit_code == 2


def test_models_list_and_info(tmp_path: Path) -> None:
    res = runner.invoke(app, ["models", "list", "synthetic_*", "--json", str(tmp_path / "m.json")])
    assert res.exit_code == 0
    names = [m["name"] for m in json.loads((tmp_path / "m.json").read_text())["models"]]
    assert "synthetic_vit_tiny" in names
    res = runner.invoke(app, ["models", "info", "synthetic_vit_xs"])
    assert res.exit_code == 0
    info = json.loads(res.output)
    assert info["n_params_encoder"] == 3_600_000  # ECG-JEPA ViT-XS: 3.6 M learnable encoder parameters
    res = runner.invoke(app, ["models", "info", "ecg_vit_zz"])
    assert res.exit_code == 2 and "unknown model" in res.output


def test_recipes_list_and_show() -> None:
    res = runner.invoke(app, ["recipes", "list"])
    assert res.exit_code == 0 and "synthetic/tiny" in res.output
    res = runner.invoke(app, ["recipes", "show", "synthetic/tiny", "engine.steps=9"])
    assert res.exit_code == 0 and "steps: 9" in res.output and "config sha256" in res.output
    res = runner.invoke(app, ["recipes", "show", "synthetic/tiny", "engine.steps=-9"])
    assert res.exit_code == 2 and "engine.steps" in res.output


def test_datasets_list_and_info(tmp_path: Path) -> None:
    res = runner.invoke(app, ["datasets", "list", "--json", str(tmp_path / "d.json")])
    assert res.exit_code == 0, res.output
    ids = [d["id"] for d in json.loads((tmp_path / "d.json").read_text())["datasets"]]
    assert "synthetic" in ids
    res = runner.invoke(app, ["datasets", "info", "synthetic"])
    assert res.exit_code == 0 and "license" in res.output
    res = runner.invoke(app, ["datasets", "info", "no_such_set"])
    assert res.exit_code == 2


def test_pretrain_invalid_override_exits_2_naming_the_field(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    res = runner.invoke(app, ["pretrain", "synthetic", "--out", str(tmp_path / "run"), "--json", str(out),
                              "optim.lr=-1"])
    assert res.exit_code == 2
    assert "optim.lr" in res.output
    assert json.loads(out.read_text())["status"] == "error"


def test_pretrain_bad_data_arg_exits_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["pretrain", "synthetic", "--out", str(tmp_path / "run"), "--data", "nodir"])
    assert res.exit_code == 2 and "ID=DIR" in res.output


def test_pretrain_synthetic_end_to_end_then_resume(tmp_path: Path) -> None:
    run = tmp_path / "run"
    out = tmp_path / "r.json"
    common = ["pretrain", "synthetic", "--out", str(run), "--json", str(out), "engine.ckpt_every=3",
              "data.batch_size=8", "data.sources.0.params.n_records=32"]
    res = runner.invoke(app, [*common, "engine.steps=4"])
    assert res.exit_code == 0, res.output
    r = json.loads(out.read_text())
    assert r["status"] == "ok" and r["steps"] == 4 and r["samples_seen"] == 32
    assert Path(r["model_dir"]).is_absolute() and (Path(r["model_dir"]) / "model.safetensors").is_file()
    for key in ("schema_version", "run_dir", "model_name", "recipe", "config_hash", "wall_s", "final_loss",
                "losses", "datasets", "device"):
        assert key in r
    # a non-empty --out without --resume is a usage error
    res = runner.invoke(app, [*common, "engine.steps=4"])
    assert res.exit_code == 2 and "--resume" in res.output
    # continue to 6 steps
    res = runner.invoke(app, [*common, "--resume", "auto", "engine.steps=6"])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["steps"] == 6
