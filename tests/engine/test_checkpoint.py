"""Atomic checkpoints: round trip, manifest verification, fallback, crash during save, safe loading."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch

from biojepa.engine import checkpoint as ckpt
from biojepa.engine.checkpoint import (
    find_resume,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
    verify_checkpoint,
)
from biojepa.engine.faults import FaultInjected, parse_faults
from biojepa.engine.seed import capture_rng_state
from biojepa.engine.step import build_optimizer, train_step
from biojepa.errors import CheckpointError
from tests.engine._tiny import make_batch, tiny_config, tiny_model


@pytest.fixture(scope="module")
def cfg() -> Any:
    return tiny_config()


def _trained(cfg: Any, n_steps: int = 1) -> tuple[Any, torch.optim.Optimizer]:
    model = tiny_model(cfg)
    opt = build_optimizer(model)
    for s in range(n_steps):
        train_step(model, opt, [make_batch(cfg, s)], lr=1e-3, weight_decay=0.05, momentum=0.99)
    return model, opt


def _save(run: Path, step: int, model: Any, opt: torch.optim.Optimizer, keep: int = 3, **kw: Any) -> Path:
    return save_checkpoint(
        run, step, model, opt, {"config_hash": "abc", "samples_seen": step * 8}, keep, **kw
    )


def _rewrite_manifest(path: Path) -> None:
    """Re-hash every file (simulates an attacker who also rewrites the manifest)."""
    man = json.loads((path / "manifest.json").read_text())
    for name in man["files"]:
        data = (path / name).read_bytes()
        man["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    (path / "manifest.json").write_text(json.dumps(man))


def test_round_trip_restores_every_tensor(cfg: Any, tmp_path: Path) -> None:
    model, opt = _trained(cfg, 2)
    path = _save(tmp_path, 2, model, opt, trainer_state={"rng": capture_rng_state()})
    assert path == tmp_path / "checkpoints" / "step_00000002"
    assert (tmp_path / "checkpoints" / "latest").read_text().strip() == "step_00000002"
    assert sorted(p.name for p in path.iterdir()) == [
        "manifest.json",
        "model.safetensors",
        "state.json",
        "trainer.pt",
    ]
    fresh, fresh_opt = _trained(tiny_config("engine.seed=5"), 1)
    state = load_checkpoint(path, fresh, fresh_opt)
    assert state["step"] == 2 and state["config_hash"] == "abc" and state["samples_seen"] == 16
    assert "rng" in state
    ref = model.state_dict()
    got = fresh.state_dict()
    assert set(ref) == set(got)
    assert any(k.startswith("target_encoder.") for k in ref) and any(k.startswith("predictor.") for k in ref)
    for k in ref:
        assert torch.equal(ref[k], got[k]), k
    a, b = opt.state_dict(), fresh_opt.state_dict()
    for pid, st in a["state"].items():
        for name, t in st.items():
            assert torch.equal(t, b["state"][pid][name]), (pid, name)
    assert verify_checkpoint(path)["step"] == 2


def test_keep_prunes_oldest(cfg: Any, tmp_path: Path) -> None:
    model, opt = _trained(cfg)
    for s in (1, 2, 3, 4):
        _save(tmp_path, s, model, opt, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_00000003", "step_00000004"]
    assert find_resume(tmp_path) == tmp_path / "checkpoints" / "step_00000004"


def test_no_checkpoints(tmp_path: Path) -> None:
    assert find_resume(tmp_path) is None
    assert list_checkpoints(tmp_path) == []


@pytest.mark.parametrize(
    ("damage", "fname"),
    [
        ("truncate", "model.safetensors"),
        ("bitflip", "model.safetensors"),
        ("truncate", "trainer.pt"),
        ("bitflip", "trainer.pt"),
        ("delete", "state.json"),
    ],
)
def test_damaged_checkpoint_raises_and_resume_falls_back(
    cfg: Any, tmp_path: Path, damage: str, fname: str, caplog: pytest.LogCaptureFixture
) -> None:
    model, opt = _trained(cfg)
    _save(tmp_path, 4, model, opt)
    newest = _save(tmp_path, 8, model, opt)
    f = newest / fname
    data = bytearray(f.read_bytes())
    if damage == "truncate":
        f.write_bytes(bytes(data[: len(data) // 2]))
        match = f"{fname} has {len(data) // 2} bytes"
    elif damage == "bitflip":
        data[len(data) // 2] ^= 0x01
        f.write_bytes(bytes(data))
        match = f"{fname} has sha256"
    else:
        f.unlink()
        match = f"file {fname} is missing"
    with pytest.raises(CheckpointError, match=match):
        verify_checkpoint(newest)
    with pytest.raises(CheckpointError, match=fname.replace(".", r"\.")):
        load_checkpoint(newest, tiny_model(cfg), None)
    with caplog.at_level("WARNING"):
        assert find_resume(tmp_path) == tmp_path / "checkpoints" / "step_00000004"
    assert "step_00000008" in caplog.text and fname in caplog.text


def test_missing_manifest_and_bad_latest_pointer(cfg: Any, tmp_path: Path) -> None:
    model, opt = _trained(cfg)
    _save(tmp_path, 4, model, opt)
    newest = _save(tmp_path, 8, model, opt)
    (newest / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match="no manifest.json"):
        verify_checkpoint(newest)
    (tmp_path / "checkpoints" / "latest").write_text("../../etc\n")
    assert find_resume(tmp_path) == tmp_path / "checkpoints" / "step_00000004"


def test_exception_before_rename_keeps_latest(
    cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, opt = _trained(cfg)
    _save(tmp_path, 4, model, opt)
    real_replace = os.replace

    def failing_replace(src: Any, dst: Any) -> None:
        if Path(dst).name == "step_00000008":
            raise OSError("disk full (injected)")
        real_replace(src, dst)

    monkeypatch.setattr(ckpt.os, "replace", failing_replace)
    with pytest.raises(OSError, match="injected"):
        _save(tmp_path, 8, model, opt)
    ckdir = tmp_path / "checkpoints"
    assert (ckdir / "latest").read_text().strip() == "step_00000004"
    assert not (ckdir / "step_00000008").exists()
    assert not [p for p in ckdir.iterdir() if ".tmp-" in p.name]
    assert find_resume(tmp_path) == ckdir / "step_00000004"


def test_fault_hook_before_commit_keeps_latest_and_leftovers_are_cleaned(cfg: Any, tmp_path: Path) -> None:
    model, opt = _trained(cfg)
    _save(tmp_path, 4, model, opt)
    ckdir = tmp_path / "checkpoints"
    with pytest.raises(FaultInjected):
        _save(tmp_path, 8, model, opt, before_commit=parse_faults("raise@save=8").before_commit)
    assert (ckdir / "latest").read_text().strip() == "step_00000004"
    assert find_resume(tmp_path) == ckdir / "step_00000004"
    # a leftover from a process that died mid-save (no exception handler ran) is ignored, then removed
    leftover = ckdir / "step_00000012.tmp-99999"
    leftover.mkdir()
    (leftover / "model.safetensors").write_bytes(b"half")
    assert find_resume(tmp_path) == ckdir / "step_00000004"
    _save(tmp_path, 8, model, opt)
    assert not leftover.exists()
    assert find_resume(tmp_path) == ckdir / "step_00000008"


def test_resaving_an_existing_step_replaces_it(cfg: Any, tmp_path: Path) -> None:
    model, opt = _trained(cfg)
    first = _save(tmp_path, 4, model, opt)
    (first / "state.json").write_text("{}")  # corrupt it
    _save(tmp_path, 4, model, opt)
    assert verify_checkpoint(first)["step"] == 4


def test_malicious_pickle_does_not_run(cfg: Any, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple[Any, tuple[str]]:
            return (exec, (f"open({str(marker)!r}, 'w').close()",))

    model, opt = _trained(cfg)
    path = _save(tmp_path, 4, model, opt)
    for writer in ("torch", "pickle"):
        with open(path / "trainer.pt", "wb") as f:
            if writer == "torch":
                torch.save({"optimizer": Evil()}, f)
            else:
                pickle.dump({"optimizer": Evil()}, f)
        _rewrite_manifest(path)  # the hashes match: only the safe unpickler stands in the way
        verify_checkpoint(path)
        with pytest.raises(CheckpointError, match="weights_only=True"):
            load_checkpoint(path, tiny_model(cfg), build_optimizer(tiny_model(cfg)))
        assert not marker.exists()


@pytest.mark.parametrize(
    ("blob", "match"),
    [
        ({"optimizer": {}, "payload": "x"}, r"unexpected entries \['payload'\]"),
        ({"optimizer": {"state": {}, "param_groups": [{"dtype": torch.float32}]}}, "is a dtype"),
        ({"optimizer": {}, "rng": {(1, 2): 3}}, "non-string, non-int key"),
    ],
)
def test_trainer_file_outside_the_allow_list_is_refused(
    cfg: Any, tmp_path: Path, blob: dict[str, Any], match: str
) -> None:
    model, opt = _trained(cfg)
    path = _save(tmp_path, 4, model, opt)
    torch.save(blob, path / "trainer.pt")  # types torch's weights_only unpickler accepts
    _rewrite_manifest(path)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path, tiny_model(cfg), build_optimizer(tiny_model(cfg)))


def test_architecture_mismatch_is_a_checkpoint_error(cfg: Any, tmp_path: Path) -> None:
    model, opt = _trained(cfg)
    path = _save(tmp_path, 4, model, opt)
    other = tiny_model(tiny_config("model.overrides.encoder.dim=64"))
    with pytest.raises(CheckpointError, match="does not match the model"):
        load_checkpoint(path, other, None)


def test_bad_arguments(cfg: Any, tmp_path: Path) -> None:
    model, opt = _trained(cfg)
    with pytest.raises(ValueError, match="keep must be >= 1"):
        _save(tmp_path, 1, model, opt, keep=0)
    with pytest.raises(CheckpointError, match="does not exist"):
        verify_checkpoint(tmp_path / "nope")
