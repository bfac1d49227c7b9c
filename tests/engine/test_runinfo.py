"""Run-directory provenance: resolved config, its hash, environment, git SHA."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from biojepa.config import config_hash, resolve_config
from biojepa.engine import runinfo
from biojepa.engine.runinfo import git_sha, write_run_info
from tests.engine._tiny import tiny_config


def test_write_run_info(tmp_path: Path) -> None:
    cfg = tiny_config()
    digest = write_run_info(tmp_path / "run", cfg, device="cpu")
    run = tmp_path / "run"
    assert digest == config_hash(cfg)
    assert (run / "config.sha256").read_text().strip() == digest
    again = resolve_config(run / "config.yaml")  # the resolved config is itself a valid recipe
    assert again == cfg
    assert config_hash(again) == digest
    env = json.loads((run / "env.json").read_text())
    for key in ("biojepa", "torch", "numpy", "python", "platform", "threads", "device", "git_sha"):
        assert key in env
    assert env["device"] == "cpu"
    assert env["git_sha"] is None or len(env["git_sha"]) >= 7


def test_git_sha_outside_a_repository_is_none(tmp_path: Path) -> None:
    assert git_sha(tmp_path) is None


def test_git_sha_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("git is not installed")

    monkeypatch.setattr(runinfo.subprocess, "run", boom)
    assert git_sha() is None

    def timeout(*args: object, **kwargs: object) -> None:
        raise subprocess.TimeoutExpired("git", 5)

    monkeypatch.setattr(runinfo.subprocess, "run", timeout)
    assert git_sha() is None
