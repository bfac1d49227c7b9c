"""Recipes, overrides and validation of RunConfig."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from biojepa.config import RunConfig, apply_overrides, config_hash, list_recipes, load_recipe, resolve_config
from biojepa.errors import ConfigError, UnknownNameError


@pytest.mark.parametrize("name", list_recipes())
def test_every_shipped_recipe_validates_and_names_a_registered_model_mask_and_dataset(name: str) -> None:
    from biojepa.models import get_spec
    from biojepa.registry import DATASETS, MASKS

    cfg = resolve_config(name)
    spec = get_spec(cfg.model.name, **cfg.model.overrides)
    assert cfg.data.crop_len == spec.signal.n_times
    assert cfg.mask.name in MASKS
    for src in cfg.data.sources:
        assert src.id in DATASETS


def test_overrides_merge_then_validate() -> None:
    cfg = resolve_config("synthetic/tiny", ["engine.steps=7", "optim.betas=[0.8, 0.9]", "mask.params.min_block=2"])
    assert cfg.engine.steps == 7
    assert cfg.optim.betas == (0.8, 0.9)
    assert cfg.mask.params["min_block"] == 2


def test_invalid_values_name_every_bad_field() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config("synthetic/tiny", ["engine.steps=0", "optim.lr=fast", "data.colour=red"])
    msg = str(info.value)
    assert "engine.steps" in msg and "optim.lr" in msg and "data.colour" in msg


@pytest.mark.parametrize("bad", ["engine.steps", "=3", "engine.steps.x=1"])
def test_malformed_overrides(bad: str) -> None:
    with pytest.raises(ConfigError):
        apply_overrides({"engine": {"steps": 3}}, [bad])


def test_unknown_recipe_suggests() -> None:
    with pytest.raises(UnknownNameError, match="synthetic/tiny"):
        load_recipe("synthetic/tiyn")


def test_recipe_from_path_and_hash_is_stable(tmp_path: Path) -> None:
    data = load_recipe("synthetic/tiny")
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(data))
    a = resolve_config(p)
    b = resolve_config("synthetic/tiny")
    assert isinstance(a, RunConfig)
    assert config_hash(a) == config_hash(b)
    assert config_hash(resolve_config("synthetic/tiny", ["engine.seed=1"])) != config_hash(b)


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    p = tmp_path / "evil.yaml"
    p.write_text("!!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_recipe(p)


def test_non_mapping_recipe(tmp_path: Path) -> None:
    p = tmp_path / "list.yaml"
    p.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_recipe(p)


def test_data_source_parameter_overrides_by_id() -> None:
    from biojepa.config import apply_overrides

    base = {"data": {"sources": [{"id": "wfdb", "root": "/a"}, {"id": "ptbxl", "root": "/b", "params": {"x": 1}}]}}
    out = apply_overrides(base, ["data.ptbxl.folds=1-6", "data.wfdb.workers=4", "data.batch_size=8"])
    assert out["data"]["sources"][1]["params"] == {"x": 1, "folds": "1-6"}
    assert out["data"]["sources"][0]["params"] == {"workers": 4} and out["data"]["batch_size"] == 8
    with pytest.raises(ConfigError, match="neither a data setting"):
        apply_overrides(base, ["data.georgia.prefixes=E"])


def test_target_norm_and_collapse_monitor_fields() -> None:
    cfg = resolve_config("synthetic/tiny")
    assert cfg.model.target_norm is False
    assert cfg.engine.monitor_every is None
    assert (cfg.engine.collapse_std_min, cfg.engine.collapse_rank_min) == (0.01, 2.0)
    cfg = resolve_config(
        "synthetic/tiny",
        [
            "model.target_norm=true",
            "engine.monitor_every=25",
            "engine.collapse_std_min=0",
            "engine.collapse_rank_min=4",
        ],
    )
    assert cfg.model.target_norm is True and cfg.engine.monitor_every == 25
    assert (cfg.engine.collapse_std_min, cfg.engine.collapse_rank_min) == (0.0, 4.0)
    for key in ("target_norm", "monitor_every", "collapse_std_min", "collapse_rank_min"):
        section = "model" if key == "target_norm" else "engine"
        assert type(cfg).model_fields[section].annotation.model_fields[key].description  # documented
    with pytest.raises(ConfigError) as info:
        resolve_config(
            "synthetic/tiny",
            ["engine.monitor_every=0", "engine.collapse_std_min=-1", "engine.collapse_rank_min=-2"],
        )
    msg = str(info.value)
    for field in ("engine.monitor_every", "engine.collapse_std_min", "engine.collapse_rank_min"):
        assert field in msg, field
    with pytest.raises(ConfigError, match="model.target_norm"):
        resolve_config("synthetic/tiny", ["model.target_norm=maybe"])
