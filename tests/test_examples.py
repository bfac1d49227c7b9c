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
}
#: a line each example must print
EXPECT: dict[str, str] = {
    "pretrain_tiny.py": "embeddings: (16, 64), finite: True",
}


def test_every_example_is_covered() -> None:
    assert sorted(p.name for p in (REPO_ROOT / "examples").glob("*.py")) == sorted(ARGS)


@pytest.mark.parametrize("script", sorted(ARGS))
def test_example_runs(script: str, tmp_path: Path) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in ARGS[script]]
    out = subprocess.run([sys.executable, str(REPO_ROOT / "examples" / script), *args], cwd=tmp_path,
                         capture_output=True, text=True, timeout=280)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    assert EXPECT[script] in out.stdout, out.stdout[-2000:]
