"""Every script in examples/ runs (with small arguments)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

#: per-script arguments that keep each example fast; every example must be listed (completeness)
ARGS: dict[str, list[str]] = {
    "pretrain_tiny.py": ["--steps", "20", "--out", "{tmp}/run"],
    "encode_ptbxl.py": ["--data", "{shared}", "--steps", "60", "--out", "{tmp}/run"],
}
#: examples that read the project's shared real recordings (run by the realdata test below)
REALDATA = {"encode_ptbxl.py"}
#: a line each example must print
EXPECT: dict[str, str] = {
    "pretrain_tiny.py": "embeddings: (16, 64), finite: True",
    "encode_ptbxl.py": "embedded 384 records: (384, 128), finite: True",
}


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in (REPO_ROOT / "examples").glob("*.py")) == sorted(ARGS)


def _run(script: str, tmp_path: Path, shared: Path | None = None) -> None:
    args = [a.replace("{tmp}", str(tmp_path)).replace("{shared}", str(shared)) for a in ARGS[script]]
    out = subprocess.run([sys.executable, str(REPO_ROOT / "examples" / script), *args], cwd=tmp_path,
                         capture_output=True, text=True, timeout=280)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    assert EXPECT[script] in out.stdout, out.stdout[-2000:]


@pytest.mark.parametrize("script", sorted(set(ARGS) - REALDATA))
def test_example_runs(script: str, tmp_path: Path) -> None:
    _run(script, tmp_path)


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("script", sorted(REALDATA))
def test_realdata_example_runs(script: str, tmp_path: Path, shared_data: Path) -> None:
    _run(script, tmp_path, shared_data)
