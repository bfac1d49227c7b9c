"""run_pretrain: the pipeline behind `biojepa pretrain`, its result dict and its refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from biojepa.config import config_hash
from biojepa.engine.pretrain import SCHEMA_VERSION, resolve_weights, run_pretrain
from biojepa.errors import ConfigError, UnknownNameError
from biojepa.io import load
from tests.engine._tiny import tiny_config

RESULT_KEYS = {
    "schema_version",
    "status",
    "model_dir",
    "run_dir",
    "model_name",
    "recipe",
    "config_hash",
    "steps",
    "resumed_from",
    "world_size",
    "samples_seen",
    "wall_s",
    "final_loss",
    "losses",
    "datasets",
    "device",
    "monitor",
    "n_collapse_warnings",
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, dict[str, Any]]:
    cfg = tiny_config("engine.steps=6", "engine.ckpt_every=3", "log.keep_losses=4")
    out = tmp_path_factory.mktemp("pretrain") / "out"
    return cfg, out, run_pretrain(cfg, out)


def test_result_dict(finished: tuple[Any, Path, dict[str, Any]]) -> None:
    cfg, out, res = finished
    assert set(res) == RESULT_KEYS
    assert res["schema_version"] == SCHEMA_VERSION == 1 and res["status"] == "ok"
    assert res["run_dir"] == str(out.absolute()) and Path(res["model_dir"]).is_absolute()
    assert res["model_name"] == "synthetic_vit_tiny" and res["recipe"] == "synthetic_tiny"
    assert res["config_hash"] == config_hash(cfg)
    assert res["steps"] == 6 and res["samples_seen"] == 6 * 8
    assert res["resumed_from"] is None and res["world_size"] == 1
    assert [r["step"] for r in res["losses"]] == [3, 4, 5, 6]
    assert res["final_loss"] == res["losses"][-1]["loss"]
    assert res["datasets"] == {"synthetic": {"n_records": 16, "n_quarantined": 0, "n_duplicates_dropped": 0}}
    assert res["device"] == "cpu" and res["wall_s"] >= 0
    # the collapse monitors of the last step (a 6-step run measures at its last step)
    assert set(res["monitor"]) == {"target_std", "effective_rank", "n_tokens"} and res["monitor"]["n_tokens"] > 0
    assert res["n_collapse_warnings"] >= 0
    json.dumps(res, allow_nan=False)  # the --json file is strict JSON


def test_exported_model_is_the_target_encoder(finished: tuple[Any, Path, dict[str, Any]]) -> None:
    from safetensors.torch import load_file

    cfg, out, res = finished
    enc = load(res["model_dir"])
    assert enc.spec.signal.n_times == cfg.data.crop_len
    ckpt = load_file(str(out / "checkpoints" / "step_00000006" / "model.safetensors"))
    exported = enc.state_dict()
    assert exported
    for k, v in exported.items():
        assert torch.equal(v, ckpt[f"target_encoder.{k}"]), k
    training = json.loads((Path(res["model_dir"]) / "config.json").read_text())["training"]
    assert training["recipe"] == "synthetic_tiny" and training["steps"] == 6
    assert training["config_hash"] == res["config_hash"]
    assert training["datasets"]["synthetic"]["n_records"] == 16
    assert (out / "config.yaml").is_file() and (out / "env.json").is_file()


def test_non_empty_out_dir_needs_resume(finished: tuple[Any, Path, dict[str, Any]]) -> None:
    cfg, out, res = finished
    with pytest.raises(ConfigError, match="not empty.*--resume auto.*another --out"):
        run_pretrain(cfg, out)
    again = run_pretrain(cfg, out, resume=True, recipe="synthetic/tiny")  # finished: nothing to do
    assert again["steps"] == 6 and again["losses"] == res["losses"]
    assert again["recipe"] == "synthetic/tiny"


def test_crop_must_match_the_model_window(tmp_path: Path) -> None:
    cfg = tiny_config("data.crop_len=64")
    with pytest.raises(ConfigError, match=r"data\.crop_len=64 differs .*signal\.n_times=128\)"):
        run_pretrain(cfg, tmp_path / "out")


def test_channel_count_must_match(tmp_path: Path) -> None:
    cfg = tiny_config(
        "data.sources=[{id: synthetic, params: {n_records: 4, n_channels: 3, n_times: 256, seed: 0}}]"
    )
    with pytest.raises(ConfigError, match="has 3 channels but model 'synthetic_vit_tiny' expects 4"):
        run_pretrain(cfg, tmp_path / "out")


def test_unknown_dataset_and_duplicate_sources(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="unknown dataset"):
        run_pretrain(tiny_config("data.sources=[{id: no_such_data}]"), tmp_path / "a")
    dup = "data.sources=[{id: synthetic, params: {n_records: 4}}, {id: synthetic, params: {n_records: 4}}]"
    with pytest.raises(ConfigError, match="listed twice"):
        run_pretrain(tiny_config(dup), tmp_path / "b")


def test_resolve_weights_precedence() -> None:
    sizes = {"a": 10, "b": 30}
    assert resolve_weights({"a": None, "b": None}, {"a": None, "b": None}, sizes) == {"a": 0.25, "b": 0.75}
    assert resolve_weights({"a": 2.0, "b": None}, {"a": 5.0, "b": 1.0}, sizes) == pytest.approx({"a": 2 / 3, "b": 1 / 3})
    assert resolve_weights({"a": None, "b": None}, {"a": 5.0, "b": 1.0}, sizes) == pytest.approx({"a": 5 / 6, "b": 1 / 6})


def test_resolve_weights_mixes_published_weights_with_size_for_the_rest() -> None:
    # b has no weight: it gets its size share (30 of 100 records); a and c split the other 0.7 as 3:1
    sizes = {"a": 50, "b": 30, "c": 20}
    w = resolve_weights({"a": None, "b": None, "c": None}, {"a": 0.3, "b": None, "c": 0.1}, sizes)
    assert w == pytest.approx({"a": 0.525, "b": 0.3, "c": 0.175})
    assert sum(w.values()) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="weight 0"):
        resolve_weights({"a": 0.0, "b": None}, {"a": None, "b": None}, {"a": 1, "b": 1})
    with pytest.raises(ConfigError, match=">= 0"):
        resolve_weights({"a": -1.0, "b": None}, {"a": None, "b": None}, {"a": 1, "b": 1})
