"""Model directories: round trip, strict loading, tamper detection, tagged weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import biojepa
from biojepa.errors import CheckpointError, ConfigError
from biojepa.io import CONFIG_NAME, README_NAME, WEIGHTS_NAME, read_config, save_pretrained


@pytest.fixture
def saved(tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(0)
    enc = biojepa.create_model("synthetic_vit_tiny")
    return enc, save_pretrained(enc, tmp_path / "model", training={"recipe": "synthetic/tiny", "steps": 3,
                                                                     "datasets": {"synthetic": {"n_records": 8,
                                                                                                "license": "CC0"}}})


def test_round_trip_gives_identical_outputs(saved: tuple[torch.nn.Module, Path]) -> None:
    enc, d = saved
    assert {p.name for p in d.iterdir()} == {WEIGHTS_NAME, CONFIG_NAME, README_NAME}
    loaded = biojepa.load(d)
    x = torch.randn(2, 4, 1024)
    enc.eval()
    with torch.no_grad():
        assert torch.equal(enc(x), loaded(x))
    assert loaded.spec == enc.spec
    assert not loaded.training


def test_config_and_card_content(saved: tuple[torch.nn.Module, Path]) -> None:
    _, d = saved
    cfg = read_config(d)
    assert cfg["biojepa_version"] == biojepa.__version__
    assert cfg["signal"]["channels"] == ["S1", "S2", "S3", "S4"]
    assert cfg["spec"]["encoder"]["dim"] == 64
    card = (d / README_NAME).read_text()
    assert "Signal contract" in card and "Not for clinical diagnosis" in card
    assert "| synthetic | 8 | — | — | — | CC0 |" in card  # dataset, records, weight, duplicates, folds, licence


def test_refuses_to_overwrite(saved: tuple[torch.nn.Module, Path]) -> None:
    enc, d = saved
    with pytest.raises(FileExistsError):
        save_pretrained(enc, d)
    save_pretrained(enc, d, overwrite=True)


def test_bit_flip_is_detected(saved: tuple[torch.nn.Module, Path]) -> None:
    _, d = saved
    w = d / WEIGHTS_NAME
    data = bytearray(w.read_bytes())
    data[-5] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        biojepa.load(d)


def test_truncated_weights_are_rejected_without_hash_check(saved: tuple[torch.nn.Module, Path]) -> None:
    _, d = saved
    w = d / WEIGHTS_NAME
    w.write_bytes(w.read_bytes()[:100])
    with pytest.raises(CheckpointError):
        biojepa.load(d, verify=False)


def test_missing_and_unexpected_tensors_are_named(saved: tuple[torch.nn.Module, Path], tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    from biojepa.io.model_dir import sha256_file

    _, d = saved
    state = load_file(str(d / WEIGHTS_NAME))
    dropped = sorted(state)[0]
    del state[dropped]
    state["extra.weight"] = torch.zeros(1)
    save_file(state, str(d / WEIGHTS_NAME))
    cfg = json.loads((d / CONFIG_NAME).read_text())
    cfg["files"][WEIGHTS_NAME]["sha256"] = sha256_file(d / WEIGHTS_NAME)
    (d / CONFIG_NAME).write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=rf"missing tensors \['{dropped}'\].*extra.weight"):
        biojepa.load(d)


def test_not_a_model_directory(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="config.json is missing"):
        biojepa.load(tmp_path)
    (tmp_path / CONFIG_NAME).write_text(json.dumps({"format": "biojepa-model", "format_version": 99}))
    with pytest.raises(CheckpointError, match="upgrade biojepa"):
        biojepa.load(tmp_path)


def test_tagged_weights_resolve_locally_only(saved: tuple[torch.nn.Module, Path], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    enc, d = saved
    home = tmp_path / "home"
    monkeypatch.setenv("BIOJEPA_HOME", str(home))
    with pytest.raises(CheckpointError, match="never downloads"):
        biojepa.create_model("synthetic_vit_tiny.demo")
    shutil.copytree(d, home / "weights" / "synthetic_vit_tiny.demo")
    m = biojepa.create_model("synthetic_vit_tiny.demo")
    assert torch.equal(m.state_dict()["registers"], enc.state_dict()["registers"])
    with pytest.raises(ConfigError, match="overrides"):
        biojepa.create_model("synthetic_vit_tiny.demo", encoder={"depth": 1})
    shutil.copytree(d, home / "weights" / "synthetic_vit_xs.demo")
    with pytest.raises(CheckpointError, match="not 'synthetic_vit_xs'"):
        biojepa.create_model("synthetic_vit_xs.demo")
