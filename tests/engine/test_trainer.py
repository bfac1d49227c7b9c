"""The Trainer: loss falls, guards, faults, exact resume (in-process and after SIGKILL in a subprocess)."""

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

from biojepa.engine.checkpoint import find_resume, list_checkpoints
from biojepa.engine.faults import FaultInjected
from biojepa.engine.metrics_log import read_metrics
from biojepa.engine.trainer import Trainer, resolve_device
from biojepa.errors import ConfigError, DataError, NonFiniteLossError
from tests.engine._tiny import batch_factory, run_trainer, tiny_config, tiny_model

REPO = Path(__file__).resolve().parents[2]
DETERMINISTIC = (
    "step", "loss", "lr", "wd", "ema", "grad_norm", "finite", "samples_seen", "target_std", "effective_rank",
)  # fmt: skip


def _metrics(run: Path) -> list[dict[str, Any]]:
    return [{k: r[k] for k in DETERMINISTIC} for r in read_metrics(run / "metrics.jsonl")]


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def _assert_same_tensors(a: Path, b: Path) -> None:
    ta, tb = _tensors(a), _tensors(b)
    assert set(ta) == set(tb)
    for k in ta:
        assert torch.equal(ta[k], tb[k]), f"{k} differs between {a} and {b}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """An uninterrupted 12-step run (checkpoints every 4 steps)."""
    run = tmp_path_factory.mktemp("reference")
    return run, run_trainer(str(run))


def test_loss_falls_on_synthetic_data(tmp_path: Path) -> None:
    res = run_trainer(str(tmp_path), ["engine.steps=30", "engine.ckpt_every=30"])
    losses = [r["loss"] for r in res["losses"]]
    assert len(losses) == 30 and all(v is not None for v in losses)
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.85 * first, f"loss did not fall: first 5 mean {first:.4f}, last 5 mean {last:.4f}"
    assert res["steps"] == 30 and res["samples_seen"] == 30 * 8 and res["n_nonfinite"] == 0
    assert res["final_loss"] == losses[-1]


def test_run_directory_layout(reference: tuple[Path, dict[str, Any]]) -> None:
    run, res = reference
    for name in ("config.yaml", "config.sha256", "env.json", "metrics.jsonl"):
        assert (run / name).is_file(), name
    assert [p.name for p in list_checkpoints(run)] == ["step_00000004", "step_00000008", "step_00000012"]
    assert find_resume(run) == run / "checkpoints" / "step_00000012"
    recs = read_metrics(run / "metrics.jsonl")
    assert [r["step"] for r in recs] == list(range(1, 13))
    assert set(recs[0]) == {
        "step",
        "loss",
        "lr",
        "wd",
        "ema",
        "grad_norm",
        "finite",
        "samples_seen",
        "step_s",
        "wall_s",
        "target_std",  # log_every=1: every step is monitored
        "effective_rank",
    }
    assert all(r["target_std"] > 0.01 and 2.0 < r["effective_rank"] <= 32 for r in recs)
    assert res["n_collapse_warnings"] == 0
    assert res["monitor"] is not None and res["monitor"]["effective_rank"] == recs[-1]["effective_rank"]
    assert recs[0]["lr"] == pytest.approx(1e-6)  # schedule at step index 0
    assert recs[-1]["samples_seen"] == 96
    assert res["checkpoint"] == str(run / "checkpoints" / "step_00000012")
    assert [r["step"] for r in res["losses"]] == list(range(1, 13))


def test_log_every_and_keep_losses(tmp_path: Path) -> None:
    res = run_trainer(str(tmp_path), ["engine.log_every=5", "log.keep_losses=3"])
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [5, 10, 12]  # and the last step
    assert [r["step"] for r in res["losses"]] == [10, 11, 12]


def test_crash_in_save_keeps_latest_and_resume_is_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: tuple[Path, dict[str, Any]]
) -> None:
    ref_run, ref = reference
    monkeypatch.setenv("BIOJEPA_FAULT", "raise@save=8")
    with pytest.raises(FaultInjected):
        run_trainer(str(tmp_path))
    assert (tmp_path / "checkpoints" / "latest").read_text().strip() == "step_00000004"
    assert find_resume(tmp_path) == tmp_path / "checkpoints" / "step_00000004"
    monkeypatch.delenv("BIOJEPA_FAULT")
    res = run_trainer(str(tmp_path), resume=True)
    assert res["resumed_from"] == 4
    assert _metrics(tmp_path) == _metrics(ref_run)
    assert res["losses"] == ref["losses"] and res["samples_seen"] == ref["samples_seen"]
    _assert_same_tensors(
        tmp_path / "checkpoints/step_00000012/model.safetensors",
        ref_run / "checkpoints/step_00000012/model.safetensors",
    )


def test_resume_with_accumulation_is_exact(tmp_path: Path) -> None:
    """Interrupt in-process (a progress callback raises after step 7's update) and resume."""
    over = ["optim.accum_steps=2", "engine.steps=10", "engine.ckpt_every=3"]
    full = run_trainer(str(tmp_path / "a"), over)
    assert full["samples_seen"] == 10 * 2 * 8

    class Stop(Exception):
        pass

    def stop_at_7(step: int, total: int, info: Any) -> None:
        if step == 7:
            raise Stop

    cfg = tiny_config(*over)
    with pytest.raises(Stop):
        Trainer(cfg, tiny_model(cfg), batch_factory(cfg), tmp_path / "b", progress=stop_at_7).fit()
    cfg = tiny_config(*over)
    res = Trainer(cfg, tiny_model(cfg), batch_factory(cfg), tmp_path / "b").fit(resume=True)
    assert res.resumed_from == 6
    assert _metrics(tmp_path / "b") == _metrics(tmp_path / "a")
    assert res.losses == full["losses"]
    _assert_same_tensors(
        tmp_path / "a/checkpoints/step_00000010/model.safetensors",
        tmp_path / "b/checkpoints/step_00000010/model.safetensors",
    )


def test_resume_of_a_finished_run_is_a_no_op(tmp_path: Path, reference: tuple[Path, dict[str, Any]]) -> None:
    run = tmp_path / "r"
    first = run_trainer(str(run), ["engine.steps=4"])
    again = run_trainer(str(run), ["engine.steps=4"], resume=True)
    assert again["steps"] == 4 and again["resumed_from"] == 4
    assert again["losses"] == first["losses"] and again["final_loss"] == first["final_loss"]


def test_resume_refuses_a_changed_config_but_allows_bookkeeping_changes(tmp_path: Path) -> None:
    run_trainer(str(tmp_path), ["engine.steps=4"])
    with pytest.raises(ConfigError, match=r"optim\.lr: checkpoint 0\.002, now 0\.005"):
        run_trainer(str(tmp_path), ["engine.steps=4", "optim.lr=0.005"], resume=True)
    res = run_trainer(
        str(tmp_path), ["engine.steps=4", "engine.log_every=2", "engine.keep_ckpts=5"], resume=True
    )
    assert res["steps"] == 4
    longer = run_trainer(str(tmp_path), ["engine.steps=6"], resume=True)  # extending a run is allowed
    assert longer["steps"] == 6 and longer["resumed_from"] == 4
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ConfigError, match="beyond engine.steps=3"):
        run_trainer(str(tmp_path), ["engine.steps=3"], resume=True)


def test_fresh_start_refuses_existing_checkpoints(tmp_path: Path) -> None:
    run_trainer(str(tmp_path), ["engine.steps=4"])
    with pytest.raises(ConfigError, match="already holds checkpoints"):
        run_trainer(str(tmp_path), ["engine.steps=4"])


def test_resume_without_checkpoint_starts_fresh(tmp_path: Path) -> None:
    res = run_trainer(str(tmp_path), ["engine.steps=4"], resume=True)
    assert res["resumed_from"] is None and res["steps"] == 4


def test_nonfinite_steps_are_skipped_and_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIOJEPA_FAULT", "nan_loss@step=3..4")
    res = run_trainer(str(tmp_path), ["engine.steps=8"])
    assert res["n_nonfinite"] == 2 and res["steps"] == 8
    recs = {r["step"]: r for r in read_metrics(tmp_path / "metrics.jsonl")}
    assert [recs[s]["finite"] for s in (2, 3, 4, 5)] == [True, False, False, True]
    assert recs[3]["loss"] is None and recs[5]["loss"] is not None
    assert [r["loss"] is None for r in res["losses"]] == [False, False, True, True] + [False] * 4


def test_too_many_nonfinite_steps_abort_and_keep_the_good_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIOJEPA_FAULT", "nan_grad@step=6..12")
    with pytest.raises(NonFiniteLossError, match=r"3 consecutive non-finite steps \(steps 6\.\.8"):
        run_trainer(str(tmp_path), ["engine.max_nonfinite=3"])
    assert find_resume(tmp_path) == tmp_path / "checkpoints" / "step_00000004"
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_00000004"]


def test_bad_fault_value_fails_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIOJEPA_FAULT", "kill@soon")
    with pytest.raises(ConfigError, match="BIOJEPA_FAULT"):
        run_trainer(str(tmp_path))
    assert not (tmp_path / "checkpoints").exists()


def test_device_and_precision_checks(tmp_path: Path) -> None:
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="is not a device"):
        resolve_device("toaster")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")
        cfg = tiny_config("engine.precision=bf16")
        with pytest.raises(ConfigError, match="bf16 needs a CUDA device"):
            Trainer(cfg, tiny_model(cfg), batch_factory(cfg), tmp_path)


def test_progress_events_and_short_iterator(tmp_path: Path) -> None:
    cfg = tiny_config("engine.steps=3")
    events: list[tuple[int, int, dict[str, Any]]] = []

    def progress(step: int, total: int, info: Any) -> None:
        events.append((step, total, dict(info)))

    Trainer(cfg, tiny_model(cfg), batch_factory(cfg), tmp_path / "a", progress=progress).fit()
    assert [(s, t) for s, t, _ in events] == [(1, 3), (2, 3), (3, 3)]
    assert all(set(info) == {"loss", "lr", "eff_rank"} and info["loss"] > 0 for _, _, info in events)
    recs = read_metrics(tmp_path / "a" / "metrics.jsonl")
    assert [info["eff_rank"] for _, _, info in events] == [r["effective_rank"] for r in recs]

    full = batch_factory(cfg)

    def short(step: int) -> Any:
        it = full(step)
        return iter([next(it)])

    with pytest.raises(DataError, match="batch iterator ended at optimizer step 1"):
        Trainer(cfg, tiny_model(cfg), short, tmp_path / "b").fit()


def test_monitor_every_adds_logged_monitored_steps(tmp_path: Path) -> None:
    res = run_trainer(str(tmp_path), ["engine.log_every=5", "engine.monitor_every=3"])
    recs = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in recs] == [3, 5, 6, 9, 10, 12]  # monitored steps are always logged
    assert [r["step"] for r in recs if "effective_rank" in r] == [3, 6, 9, 12]  # and the last step
    assert res["monitor"] == {
        "target_std": recs[-1]["target_std"],
        "effective_rank": recs[-1]["effective_rank"],
        "n_tokens": res["monitor"]["n_tokens"],
    }
    assert res["monitor"]["n_tokens"] > 8 and res["n_collapse_warnings"] == 0


def _collapse_model(cfg: Any) -> Any:
    """The tiny model with a collapsed target encoder: its final norm zeroed, so every target token is 0."""
    model = tiny_model(cfg)
    norm = model.target_encoder.transformer.norm
    with torch.no_grad():
        norm.weight.zero_()
        if norm.bias is not None:
            norm.bias.zero_()
    return model


def test_collapsed_targets_warn_once_per_monitored_step_and_resume_the_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    over = ["optim.ema_start=1.0", "optim.ema_end=1.0", "engine.log_every=2", "engine.steps=4"]
    cfg = tiny_config(*over)
    events: list[dict[str, Any]] = []
    with caplog.at_level("WARNING", logger="biojepa.engine.trainer"):
        res = Trainer(
            cfg,
            _collapse_model(cfg),
            batch_factory(cfg),
            tmp_path,
            progress=lambda s, t, i: events.append(dict(i)),
        ).fit()
    warned = [r.getMessage() for r in caplog.records if "representation collapse" in r.getMessage()]
    assert len(warned) == 2 and res.n_collapse_warnings == 2  # monitored steps 2 and 4, one warning each
    assert warned[0].startswith("step 2: possible representation collapse")
    for needle in ("target_std 0 < 0.01", "effective_rank 1 < 2", "optim.lr", "optim.ema_start",
                   "model.target_norm", "mask"):  # fmt: skip
        assert needle in warned[1], needle
    assert res.monitor is not None
    assert (res.monitor["target_std"], res.monitor["effective_rank"]) == (0.0, 1.0)
    recs = {r["step"]: r for r in read_metrics(tmp_path / "metrics.jsonl")}
    assert (recs[4]["target_std"], recs[4]["effective_rank"]) == (0.0, 1.0)
    assert "eff_rank" not in events[0] and events[1]["eff_rank"] == 1.0 and events[3]["eff_rank"] == 1.0
    # thresholds of 0 switch the warnings off (and may change on resume: they do not change the numbers)
    caplog.clear()
    cfg = tiny_config(*over[:-1], "engine.steps=6", "engine.collapse_std_min=0", "engine.collapse_rank_min=0")
    more = Trainer(cfg, _collapse_model(cfg), batch_factory(cfg), tmp_path).fit(resume=True)
    assert more.resumed_from == 4 and more.n_collapse_warnings == 2  # restored from the checkpoint, none new
    assert not [r for r in caplog.records if "representation collapse" in r.getMessage()]
    cfg = tiny_config(*over[:-1], "engine.steps=8")
    again = Trainer(cfg, _collapse_model(cfg), batch_factory(cfg), tmp_path).fit(resume=True)
    assert again.resumed_from == 6 and again.n_collapse_warnings == 3  # + step 8 (step 6 ran with thresholds 0)


def test_resume_of_a_checkpoint_written_before_the_new_config_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint whose stored config lacks model.target_norm / engine.monitor_every / ... still resumes."""
    new_keys = {
        "model": ("target_norm",),
        "engine": ("monitor_every", "collapse_std_min", "collapse_rank_min"),
    }
    original = Trainer._state_extra

    def old_state(self: Trainer, step: int, c: Any) -> dict[str, Any]:
        extra = original(self, step, c)
        config = json.loads(json.dumps(extra["config"]))
        for section, keys in new_keys.items():
            for k in keys:
                del config[section][k]
        extra["config"] = config
        del extra["monitor"], extra["n_collapse_warnings"]
        return extra

    monkeypatch.setattr(Trainer, "_state_extra", old_state)
    run_trainer(str(tmp_path), ["engine.steps=4"])
    monkeypatch.undo()
    stored = json.loads((tmp_path / "checkpoints/step_00000004/state.json").read_text())["config"]
    assert "target_norm" not in stored["model"] and "monitor_every" not in stored["engine"]
    absent = r"model\.target_norm: checkpoint \(absent; default False\), now True"
    with pytest.raises(ConfigError, match=absent):
        run_trainer(str(tmp_path), ["engine.steps=6", "model.target_norm=true"], resume=True)
    res = run_trainer(str(tmp_path), ["engine.steps=6", "engine.monitor_every=2"], resume=True)
    assert res["resumed_from"] == 4 and res["steps"] == 6 and res["n_collapse_warnings"] == 0


def test_resume_diff_fills_absent_keys_with_schema_defaults() -> None:
    from biojepa.engine.trainer import _resume_diff, _schema_defaults

    d = _schema_defaults()
    assert d["model.target_norm"] is False and d["engine.monitor_every"] is None
    assert d["engine.collapse_std_min"] == 0.01 and d["optim.betas"] == [0.9, 0.99]
    assert "engine.steps" not in d and "name" not in d  # required: no default
    now = tiny_config().model_dump(mode="json")
    old = json.loads(json.dumps(now))
    del old["model"]["target_norm"], old["optim"]["grad_clip"]
    assert _resume_diff(old, now) == []
    del old["model"]["loss"]  # absent but "l1" is the default and the current value
    assert _resume_diff(old, now) == []
    old["model"]["extra_knob"] = 3  # a key the current schema no longer has is a difference
    assert _resume_diff(old, now) == ["model.extra_knob: checkpoint 3, now None"]
    del old["model"]["extra_knob"]
    changed = tiny_config("model.loss=l2").model_dump(mode="json")
    assert _resume_diff(old, changed) == ["model.loss: checkpoint (absent; default 'l1'), now 'l2'"]


# -- THE resume test: SIGKILL in a subprocess, resume in another, compare with an uninterrupted run ---------
_SCRIPT = """
import sys
import torch
torch.set_num_threads(1)
from biojepa.engine.pretrain import run_pretrain
from tests.engine._tiny import tiny_config
run_pretrain(tiny_config(), sys.argv[1], resume=sys.argv[2] == "1")
"""


def _run(out: Path, resume: bool, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BIOJEPA_FAULT"}
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"})
    if fault:
        env["BIOJEPA_FAULT"] = fault
    return subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(out), "1" if resume else "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_kill_and_resume_reproduces_the_uninterrupted_run(tmp_path: Path) -> None:
    a, b = tmp_path / "uninterrupted", tmp_path / "killed"
    done = _run(a, resume=False)
    assert done.returncode == 0, done.stderr[-3000:]
    killed = _run(b, resume=False, fault="kill@step=6")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert (b / "checkpoints" / "latest").read_text().strip() == "step_00000004"
    assert [r["step"] for r in read_metrics(b / "metrics.jsonl")] == [1, 2, 3, 4, 5, 6]  # 5, 6 will be redone
    resumed = _run(b, resume=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    ma, mb = _metrics(a), _metrics(b)
    assert [r["step"] for r in ma] == list(range(1, 13))
    assert mb == ma  # identical losses, schedules, gradient norms and sample counts, no duplicated steps
    _assert_same_tensors(
        a / "checkpoints/step_00000012/model.safetensors", b / "checkpoints/step_00000012/model.safetensors"
    )
    _assert_same_tensors(a / "model/model.safetensors", b / "model/model.safetensors")
    state = json.loads((b / "checkpoints/step_00000012/state.json").read_text())
    assert state["samples_seen"] == 96 and state["n_nonfinite"] == 0
