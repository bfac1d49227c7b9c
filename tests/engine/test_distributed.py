"""Multi-process training: torchrun environment, DDP over gloo, agreed skip decisions, signals, elastic restarts.

The subprocess tests launch ``torchrun --standalone --nproc-per-node=2`` on the tiny synthetic recipe (CPU,
one thread per rank) and compare against a single-process reference run. DDP averages gradients in another
order than one process does, so cross-world-size comparisons use a relative tolerance of 1e-5; runs of the
same world size are compared exactly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from biojepa.engine import distributed
from biojepa.engine.metrics_log import read_metrics
from biojepa.engine.pretrain import run_pretrain
from biojepa.errors import ConfigError
from tests.engine._tiny import BASE_OVERRIDES, tiny_config

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("_ddp_worker.py")
_TIMEOUT = 240


# -- environment detection and the single-process no-ops ------------------------------------------------------
def test_detect_reads_torchrun_variables() -> None:
    assert distributed.detect({}) == distributed.DistInfo()
    info = distributed.detect({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "TORCHELASTIC_RESTART_COUNT": "2"})
    assert (info.rank, info.local_rank, info.world_size, info.restart) == (3, 1, 4, 2)
    assert info.is_distributed and not info.is_main
    assert distributed.detect({"TORCHELASTIC_RESTART_COUNT": "1"}).restart == 1


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"RANK": "0"}, "LOCAL_RANK, WORLD_SIZE"),
        ({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "two"}, "WORLD_SIZE='two'"),
        ({"RANK": "2", "LOCAL_RANK": "0", "WORLD_SIZE": "2"}, "RANK=2"),
        ({"RANK": "-1", "LOCAL_RANK": "0", "WORLD_SIZE": "2"}, "RANK='-1'"),
    ],
)
def test_detect_rejects_partial_or_invalid_environments(env: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        distributed.detect(env)


def test_per_rank_batch_keeps_the_global_batch() -> None:
    assert distributed.per_rank_batch(8, 1) == 8
    assert distributed.per_rank_batch(8, 4) == 2
    with pytest.raises(ConfigError, match=r"data.batch_size=6 or 9"):
        distributed.per_rank_batch(8, 3)


def test_device_for_picks_the_local_cuda_device() -> None:
    info = distributed.DistInfo(rank=3, local_rank=1, world_size=4)
    assert distributed.device_for(info, torch.device("cuda")) == torch.device("cuda", 1)
    assert distributed.device_for(info, torch.device("cpu")) == torch.device("cpu")
    assert distributed.device_for(distributed.DistInfo(), torch.device("cuda")) == torch.device("cuda")


def test_collectives_are_identities_for_one_process() -> None:
    assert distributed.any_flags(True, False) == (True, False)
    assert distributed.mean_scalar(2.5) == 2.5
    assert distributed.broadcast_object({"a": 1}) == {"a": 1}
    assert distributed.all_gather_objects([1, 2]) == [[1, 2]]
    distributed.barrier()
    order = []
    with distributed.main_first(distributed.DistInfo()):
        order.append("ran")
    assert order == ["ran"]


# -- subprocess helpers ----------------------------------------------------------------------------------------
def _env(fault: str | None = None, dump: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"BIOJEPA_FAULT", "RANK", "WORLD_SIZE", "LOCAL_RANK"}}
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "PYTHONPATH": str(REPO)})
    if fault:
        env["BIOJEPA_FAULT"] = fault
    if dump:
        env["BIOJEPA_TEST_DUMP"] = str(dump)
    return env


def _cli_args(out: Path, extra: tuple[str, ...]) -> list[str]:
    return [
        "pretrain", "synthetic", "--recipe", "tiny", "--out", str(out), "--resume", "auto",
        "--json", str(out.with_suffix(".json")), *BASE_OVERRIDES, "log.progress=plain", *extra,
    ]  # fmt: skip


def _torchrun(
    out: Path, *extra: str, fault: str | None = None, max_restarts: int = 0, dump: Path | None = None
) -> subprocess.CompletedProcess[str]:
    # the documented form `torchrun ... -m biojepa pretrain ...`; the worker script adds the weight dumps
    entry = [str(WORKER)] if dump is not None else ["-m", "biojepa"]
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
        f"--max-restarts={max_restarts}", "--monitor-interval=0.2", *entry, *_cli_args(out, extra),
    ]  # fmt: skip
    return _run(cmd, _env(fault, dump))


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` in its own session; on timeout kill the whole group (torchrun's workers too) and fail."""
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(cmd[:8])} ... hung for {_TIMEOUT} s:\n{(out + err)[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _single(out: Path, *extra: str, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "biojepa", *_cli_args(out, extra)], _env(fault))


def _metrics(run: Path) -> list[dict[str, Any]]:
    keys = ("step", "loss", "lr", "ema", "grad_norm", "finite", "samples_seen")
    return [{k: r.get(k) for k in keys} for r in read_metrics(run / "metrics.jsonl")]


def _assert_close_runs(a: list[dict[str, Any]], b: list[dict[str, Any]], rel: float = 1e-5) -> None:
    assert [r["step"] for r in a] == [r["step"] for r in b]
    for ra, rb in zip(a, b, strict=True):
        assert ra["samples_seen"] == rb["samples_seen"] and ra["finite"] == rb["finite"], (ra, rb)
        assert ra["lr"] == rb["lr"] and ra["ema"] == rb["ema"], (ra, rb)
        for k in ("loss", "grad_norm"):
            assert (ra[k] is None) == (rb[k] is None), (k, ra, rb)
            if ra[k] is not None:
                assert ra[k] == pytest.approx(rb[k], rel=rel), (k, ra, rb)


def _assert_ranks_identical(dump: Path) -> None:
    r0, r1 = load_file(str(dump / "rank0.safetensors")), load_file(str(dump / "rank1.safetensors"))
    assert set(r0) == set(r1) and any(k.startswith("target") for k in r0)
    for k in r0:
        assert torch.equal(r0[k], r1[k]), f"{k} differs between rank 0 and rank 1"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted single-process CLI run of the tiny recipe (12 steps, checkpoints every 4)."""
    run = tmp_path_factory.mktemp("ddp_reference") / "run"
    done = _single(run)
    assert done.returncode == 0, done.stderr[-3000:]
    return run


# -- DDP over gloo ---------------------------------------------------------------------------------------------
@pytest.mark.distributed
@pytest.mark.slow
def test_ddp_nan_on_one_rank_is_skipped_by_both_and_ranks_end_identical(tmp_path: Path, reference: Path) -> None:
    out, dump = tmp_path / "run", tmp_path / "dump"
    done = _torchrun(out, fault="nan_grad@step=3,rank=1", dump=dump)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    _assert_ranks_identical(dump)
    rows = _metrics(out)
    assert [r["step"] for r in rows] == list(range(1, 13))
    assert [r["step"] for r in rows if not r["finite"]] == [3]  # both ranks skipped step 3 (one decision)
    # rank 0 (which logs) had a finite gradient of its own and still skipped: the decision was agreed
    assert rows[2]["loss"] is None and rows[2]["grad_norm"] is not None
    state = json.loads((out / "checkpoints/step_00000012/state.json").read_text())
    assert state["n_nonfinite"] == 1 and state["world_size"] == 2 and state["samples_seen"] == 96
    warnings = [ln for ln in done.stderr.splitlines() if "step 3: non-finite" in ln]
    assert len(warnings) == 1  # logged once, by rank 0, naming the samples of both ranks
    assert all(f"{i}," in warnings[0] or f"{i}]" in warnings[0] for i in range(16, 24))
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["status"] == "ok" and result["world_size"] == 2 and result["steps"] == 12
    # up to the skipped step the run is the single-process run; the skip then makes it differ
    _assert_close_runs(rows[:2], _metrics(reference)[:2])
    assert rows[3]["loss"] != pytest.approx(_metrics(reference)[3]["loss"], rel=1e-6)


@pytest.mark.distributed
@pytest.mark.slow
def test_elastic_restart_after_an_injected_worker_exit_finishes_the_run(tmp_path: Path, reference: Path) -> None:
    out, dump = tmp_path / "run", tmp_path / "dump"
    done = _torchrun(out, fault="exit:1@step=7,rank=1,restart=0", max_restarts=1, dump=dump)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["status"] == "ok" and result["resumed_from"] == 4 and result["steps"] == 12
    _assert_ranks_identical(dump)
    # steps 5..7 were redone after the restart: each step appears once and matches the reference run
    _assert_close_runs(_metrics(out), _metrics(reference))
    ref, got = load_file(str(reference / "model/model.safetensors")), load_file(str(out / "model/model.safetensors"))
    for k in ref:
        torch.testing.assert_close(got[k], ref[k], rtol=1e-4, atol=1e-5)


@pytest.mark.distributed
@pytest.mark.slow
def test_sigterm_on_one_rank_checkpoints_both_and_resume_with_another_world_size(
    tmp_path: Path, reference: Path
) -> None:
    out = tmp_path / "run"
    stopped = _torchrun(out, fault="signal:TERM@step=6,rank=1")
    assert stopped.returncode != 0
    interrupted = json.loads(out.with_suffix(".json").read_text())
    assert interrupted["status"] == "interrupted" and interrupted["step"] == 6
    assert (out / "checkpoints/latest").read_text().strip() == "step_00000006"  # not a multiple of ckpt_every
    assert [r["step"] for r in _metrics(out)] == list(range(1, 7))
    # continue in ONE process: the global batch, sample ids and schedules carry over
    res = run_pretrain(tiny_config(), out, resume=True)
    assert res["resumed_from"] == 6 and res["world_size"] == 1 and res["samples_seen"] == 96
    _assert_close_runs(_metrics(out), _metrics(reference))


@pytest.mark.distributed
@pytest.mark.slow
def test_ddp_save_failure_on_rank_0_stops_both_ranks_and_keeps_latest(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = _torchrun(out, fault="raise@save=8,rank=0")
    assert done.returncode != 0
    # rank 1 learnt of the failure and stopped with a CheckpointError instead of waiting at the next collective
    assert "[rank 1] error: CheckpointError: rank 0 could not write the checkpoint" in done.stdout + done.stderr
    assert (out / "checkpoints/latest").read_text().strip() == "step_00000004"  # the previous complete one
    assert not list((out / "checkpoints").glob("*.tmp-*"))
    assert [r["step"] for r in _metrics(out)] == list(range(1, 9))


# -- signals in one process --------------------------------------------------------------------------------------
def test_sigterm_checkpoints_exits_143_and_resume_is_exact(tmp_path: Path, reference: Path) -> None:
    out = tmp_path / "run"
    stopped = _single(out, fault="signal:TERM@step=6")
    assert stopped.returncode == 143, stopped.stderr[-3000:]
    assert "--resume auto" in stopped.stderr
    payload = json.loads(out.with_suffix(".json").read_text())
    assert payload["status"] == "interrupted" and payload["checkpoint"].endswith("step_00000006")
    resumed = _single(out)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _metrics(out) == _metrics(reference)  # exact: same process count and thread count
    a = load_file(str(reference / "model/model.safetensors"))
    b = load_file(str(out / "model/model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sigusr1_checkpoints_and_training_continues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: Path
) -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGUSR1)
    monkeypatch.setenv("BIOJEPA_FAULT", "signal:USR1@step=6")
    res = run_pretrain(tiny_config(), tmp_path / "run", resume=False)
    assert res["steps"] == 12 and res["resumed_from"] is None
    names = sorted(p.name for p in (tmp_path / "run/checkpoints").iterdir() if p.name.startswith("step_"))
    assert names == ["step_00000006", "step_00000008", "step_00000012"]  # 6 on demand (keep_ckpts=3)
    assert _metrics(tmp_path / "run") == _metrics(reference)  # a checkpoint changes no number
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGUSR1)) == before  # handlers restored


def test_an_unparsable_fault_value_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from biojepa.cli import app

    monkeypatch.setenv("BIOJEPA_FAULT", "kil@step=3")  # a typo must not silently disable a fault test
    res = CliRunner().invoke(app, _cli_args(tmp_path / "run", ()))
    assert res.exit_code == 2, res.output
    assert "BIOJEPA_FAULT" in res.output and "kil@step=3" in res.output
    assert not (tmp_path / "run" / "checkpoints").exists()
