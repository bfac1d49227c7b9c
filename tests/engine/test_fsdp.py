"""``engine.strategy=fsdp``: FSDP2 sharding under torchrun, sharded DCP checkpoints, resume, export.

The subprocess runs reuse the torchrun launcher of ``test_distributed.py`` (``--standalone
--nproc-per-node=2`` over gloo, one thread per rank) on the tiny synthetic recipe. Module-scoped fixtures hold
the runs so that several assertions share one launch. Sharded and single-process runs average gradients in
another order, so they are compared with a relative tolerance of 1e-5; runs of the same world size exactly.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from biojepa.config import resolve_config
from biojepa.engine.checkpoint import (
    LAYOUT_FULL,
    LAYOUT_SHARDED,
    TRAINER_KEYS,
    checkpoint_layout,
    find_resume,
    load_checkpoint,
    load_sharded_checkpoint,
    verify_checkpoint,
)
from biojepa.engine.fsdp import shard_units
from biojepa.engine.pretrain import run_pretrain
from biojepa.engine.trainer import _resume_diff
from biojepa.errors import CheckpointError, ConfigError
from tests.engine._tiny import tiny_config, tiny_model
from tests.engine.test_distributed import _assert_close_runs, _metrics, _torchrun

FSDP = "engine.strategy=fsdp"
_CK = "checkpoints"


# -- helpers -------------------------------------------------------------------------------------------------
def _in_process(out: Path, *overrides: str, resume: bool = False) -> tuple[dict[str, Any], list[str]]:
    """``run_pretrain`` of the tiny recipe in this process; its result and the engine's log messages."""
    records: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda r: records.append(r.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("biojepa.engine")
    level, threads = logger.level, torch.get_num_threads()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        return run_pretrain(tiny_config(*overrides), out, resume=resume), records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        torch.set_num_threads(threads)


def _ok(done: Any) -> None:
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]


def _flip_byte(path: Path, offset: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# -- module-scoped runs ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of this module's runs."""
    return tmp_path_factory.mktemp("fsdp")


@pytest.fixture(scope="module")
def single(runs: Path) -> tuple[Path, list[str]]:
    """``engine.strategy=fsdp`` in ONE process (nothing to shard): the reference run, and its log."""
    _, log = _in_process(runs / "single", FSDP)
    return runs / "single", log


@pytest.fixture(scope="module")
def sharded(runs: Path) -> Path:
    """An uninterrupted 2-process fsdp run (12 steps, checkpoints every 4)."""
    out = runs / "sharded"
    _ok(_torchrun(out, FSDP))
    return out


@pytest.fixture(scope="module")
def stopped(runs: Path) -> Path:
    """A 2-process fsdp run stopped by SIGTERM after step 6 (checkpoints 4 and 6); only ever copied."""
    out = runs / "stopped"
    done = _torchrun(out, FSDP, fault="signal:TERM@step=6")
    assert done.returncode != 0, done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def resumed(runs: Path, stopped: Path) -> tuple[Path, Any]:
    """The stopped run resumed with ``--resume auto`` (same world size)."""
    out = _copy_run(stopped, runs / "resumed")
    done = _torchrun(out, FSDP)
    _ok(done)
    return out, done


@pytest.fixture(scope="module")
def corrupted(runs: Path, stopped: Path) -> tuple[Path, Any]:
    """The stopped run with one flipped byte in a shard of ``step_00000006``, resumed with a NaN gradient
    injected on rank 1 at step 10."""
    out = _copy_run(stopped, runs / "corrupted")
    _flip_byte(out / _CK / "step_00000006" / "__1_0.distcp")
    done = _torchrun(out, FSDP, fault="nan_grad@step=10,rank=1")
    _ok(done)
    return out, done


# -- (a) two sharded processes == one process ---------------------------------------------------------------
@pytest.mark.distributed
@pytest.mark.slow
def test_fsdp_two_processes_match_one_process(single: tuple[Path, list[str]], sharded: Path) -> None:
    ref, _ = single
    _assert_close_runs(_metrics(sharded), _metrics(ref), rel=1e-5)
    assert all(isinstance(r["grad_norm"], float) for r in _metrics(sharded))  # a plain float, not a DTensor
    result = json.loads(sharded.with_suffix(".json").read_text())
    assert result["status"] == "ok" and result["world_size"] == 2 and result["steps"] == 12
    # the export gathered the full target encoder: same files, same tensors, same config (hash apart)
    assert sorted(p.name for p in (sharded / "model").iterdir()) == sorted(p.name for p in (ref / "model").iterdir())
    a, b = load_file(str(ref / "model/model.safetensors")), load_file(str(sharded / "model/model.safetensors"))
    assert set(a) == set(b) and all(a[k].shape == b[k].shape and a[k].dtype == b[k].dtype for k in a)
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-5)
    ca, cb = (json.loads((d / "model/config.json").read_text()) for d in (ref, sharded))
    assert set(ca) == set(cb) and ca["spec"] == cb["spec"] and ca["files"].keys() == cb["files"].keys()


@pytest.mark.distributed
@pytest.mark.slow
def test_sharded_checkpoint_layout_and_manifest(sharded: Path) -> None:
    ck = sharded / _CK / "step_00000012"
    names = sorted(p.name for p in ck.iterdir())
    assert names == [".metadata", "__0_0.distcp", "__1_0.distcp", "manifest.json", "state.json", "trainer.pt"]
    manifest = verify_checkpoint(ck)
    assert manifest["layout"] == LAYOUT_SHARDED and set(manifest["files"]) == set(names) - {"manifest.json"}
    state = json.loads((ck / "state.json").read_text())
    assert state["layout"] == LAYOUT_SHARDED and state["world_size"] == 2 and state["step"] == 12
    blob = torch.load(ck / "trainer.pt", weights_only=True)
    assert set(blob) <= TRAINER_KEYS and "optimizer" not in blob and len(blob["rng_ranks"]) == 2
    assert not [p for p in (sharded / _CK).iterdir() if ".tmp-" in p.name]  # the agreed temp folder was renamed
    assert (sharded / _CK / "latest").read_text().strip() == "step_00000012"


@pytest.mark.distributed
@pytest.mark.slow
def test_fsdp_gradient_accumulation_matches_one_process(runs: Path) -> None:
    accum = ("optim.accum_steps=2", "data.batch_size=4", "engine.steps=6", "engine.ckpt_every=3", FSDP)
    _in_process(runs / "accum_single", *accum)
    _ok(_torchrun(runs / "accum_sharded", *accum))  # reduce-scatter on the second micro-batch only
    _assert_close_runs(_metrics(runs / "accum_sharded"), _metrics(runs / "accum_single"), rel=1e-5)


# -- (b) stop and resume ---------------------------------------------------------------------------------------
@pytest.mark.distributed
@pytest.mark.slow
def test_fsdp_sigterm_then_resume_reproduces_the_uninterrupted_run(
    stopped: Path, resumed: tuple[Path, Any], sharded: Path
) -> None:
    assert (stopped / _CK / "latest").read_text().strip() == "step_00000006"
    assert json.loads(stopped.with_suffix(".json").read_text())["status"] == "interrupted"
    out, _ = resumed
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["resumed_from"] == 6 and result["steps"] == 12
    assert _metrics(out) == _metrics(sharded)  # exact: same world size, same shards
    a, b = load_file(str(sharded / "model/model.safetensors")), load_file(str(out / "model/model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


# -- (c) a corrupted shard -------------------------------------------------------------------------------------
@pytest.mark.distributed
@pytest.mark.slow
def test_corrupted_shard_falls_back_to_the_previous_checkpoint(corrupted: tuple[Path, Any], sharded: Path) -> None:
    out, done = corrupted
    why = [ln for ln in done.stderr.splitlines() if "step_00000006 is unusable" in ln]
    assert why and "__1_0.distcp" in why[0] and "sha256" in why[0], done.stderr[-3000:]
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["status"] == "ok" and result["resumed_from"] == 4 and result["steps"] == 12
    assert _metrics(out)[:9] == _metrics(sharded)[:9]  # steps 5..9 redone from step 4, exactly


@pytest.mark.distributed
@pytest.mark.slow
def test_fsdp_nan_gradient_on_one_rank_is_skipped_by_both(corrupted: tuple[Path, Any], sharded: Path) -> None:
    out, done = corrupted
    rows = _metrics(out)
    assert [r["step"] for r in rows] == list(range(1, 13))
    assert [r["step"] for r in rows if not r["finite"]] == [10]  # one agreed decision
    # the norm is reduced over the shards, so rank 0 (which logs) sees rank 1's NaN too
    assert rows[9]["loss"] is None and rows[9]["grad_norm"] is None
    assert rows[10]["loss"] != pytest.approx(_metrics(sharded)[10]["loss"], rel=1e-6)
    assert len([ln for ln in done.stderr.splitlines() if "step 10: non-finite" in ln]) == 1


# -- (e) layouts never mix -------------------------------------------------------------------------------------
@pytest.mark.distributed
@pytest.mark.slow
def test_whole_and_sharded_checkpoints_are_never_loaded_as_the_other(
    runs: Path, single: tuple[Path, list[str]], sharded: Path
) -> None:
    # a sharded run resumed by one process: the trainer's whole-model loader refuses it
    out = _copy_run(sharded, runs / "sharded_into_single")
    with pytest.raises(CheckpointError, match=r"is sharded: it was written by engine.strategy=fsdp under torchrun"):
        _in_process(out, FSDP, resume=True)
    cfg = tiny_config()
    with pytest.raises(CheckpointError, match="Resume it under torchrun with engine.strategy=fsdp"):
        load_checkpoint(out / _CK / "step_00000012", tiny_model(cfg), None)
    # the loader of an fsdp run under torchrun refuses a whole-model checkpoint before any collective
    with pytest.raises(CheckpointError, match=r"holds the whole model.*\(engine.strategy=ddp\)"):
        load_sharded_checkpoint(single[0] / _CK / "step_00000012", tiny_model(cfg), None)


# -- verification of sharded checkpoints -----------------------------------------------------------------------
@pytest.mark.distributed
@pytest.mark.slow
def test_verify_names_the_damaged_shard_or_the_missing_metadata(runs: Path, sharded: Path) -> None:
    out = _copy_run(sharded, runs / "damaged")
    ck = out / _CK / "step_00000012"
    _flip_byte(ck / "__0_0.distcp")
    with pytest.raises(CheckpointError, match=r"file __0_0\.distcp has sha256"):
        verify_checkpoint(ck)
    assert find_resume(out) == out / _CK / "step_00000008"
    (out / _CK / "step_00000008" / ".metadata").unlink()  # an unfinished DCP save
    with pytest.raises(CheckpointError, match=r"file \.metadata is missing"):
        verify_checkpoint(out / _CK / "step_00000008")
    assert find_resume(out) == out / _CK / "step_00000004"


# -- (d) one process, config and pure helpers -------------------------------------------------------------------
@pytest.mark.slow
def test_fsdp_with_one_process_trains_like_a_single_process(runs: Path, single: tuple[Path, list[str]]) -> None:
    ref, log = single
    assert sum("nothing to shard" in m for m in log) == 1  # logged once
    _in_process(runs / "single_ddp")
    assert _metrics(ref) == _metrics(runs / "single_ddp")
    a, b = load_file(str(ref / "model/model.safetensors")), load_file(str(runs / "single_ddp/model/model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert checkpoint_layout(verify_checkpoint(ref / _CK / "step_00000012"), ref) == LAYOUT_FULL


def test_strategy_field_defaults_to_ddp_and_is_validated() -> None:
    assert resolve_config("synthetic/tiny").engine.strategy == "ddp"
    assert resolve_config("synthetic/tiny", [FSDP]).engine.strategy == "fsdp"
    cfg = resolve_config("synthetic/tiny")
    assert "fsdp" in type(cfg.engine).model_fields["strategy"].description  # documented
    with pytest.raises(ConfigError, match="engine.strategy"):
        resolve_config("synthetic/tiny", ["engine.strategy=zero3"])


def test_changing_the_strategy_is_a_resume_diff() -> None:
    ddp, fsdp = (resolve_config("synthetic/tiny", o).model_dump(mode="json") for o in ([], [FSDP]))
    assert _resume_diff(ddp, fsdp) == ["engine.strategy: checkpoint 'ddp', now 'fsdp'"]
    old = json.loads(json.dumps(ddp))
    del old["engine"]["strategy"]  # a checkpoint written before the field existed: its default, ddp
    assert _resume_diff(old, ddp) == []
    assert _resume_diff(old, fsdp) == ["engine.strategy: checkpoint (absent; default 'ddp'), now 'fsdp'"]


def test_shard_units_are_the_blocks_of_every_transformer_stack() -> None:
    cfg = tiny_config("model.overrides.encoder.depth=2", "model.overrides.predictor.depth=3")
    model = tiny_model(cfg)
    units = shard_units(model)
    expected = [*model.context_encoder.transformer.blocks, *model.target_encoder.transformer.blocks,
                *model.predictor.transformer.blocks]  # fmt: skip
    assert len(units) == 2 + 2 + 3 and {id(u) for u in units} == {id(u) for u in expected}
    with pytest.raises(ConfigError, match="no transformer block"):
        shard_units(torch.nn.Linear(2, 2))


@pytest.mark.parametrize(
    ("meta", "expected"),
    [({}, LAYOUT_FULL), ({"layout": "full"}, LAYOUT_FULL), ({"layout": "sharded"}, LAYOUT_SHARDED)],
)
def test_checkpoint_layout_defaults_to_full(meta: dict[str, str], expected: str) -> None:
    assert checkpoint_layout(meta, "ck") == expected


def test_checkpoint_layout_refuses_an_unknown_layout() -> None:
    with pytest.raises(CheckpointError, match=r"layout 'zarr'.*reads \['full', 'sharded'\]"):
        checkpoint_layout({"layout": "zarr"}, "ck")

