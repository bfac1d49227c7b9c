"""The wheel ships recipes and dataset cards and finds them outside the checkout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.slow
def test_wheel_contains_resources_and_works_outside_checkout(tmp_path: Path) -> None:
    import hatchling  # noqa: F401  (the test extra installs it; building the wheel needs it)

    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO_ROOT), "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(dist)],
        check=True, capture_output=True, text=True,
    )
    (wheel,) = dist.glob("biojepa-*.whl")
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target),
         str(wheel)],
        check=True, capture_output=True, text=True,
    )
    code = (
        "import json, biojepa; from biojepa.resources import resource_dir; from biojepa.config import list_recipes;"
        "from biojepa.data.cards import list_cards;"
        "print(json.dumps({'file': biojepa.__file__, 'recipes_dir': str(resource_dir('recipes')),"
        "'recipes': list_recipes(), 'cards': list_cards()}))"
    )
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    info = json.loads(out.stdout)
    assert info["file"].startswith(str(target)), info
    assert info["recipes_dir"].startswith(str(target))
    shipped_recipes = sorted(str(p.relative_to(REPO_ROOT / "recipes").with_suffix(""))
                             for p in (REPO_ROOT / "recipes").rglob("*.yaml"))
    assert info["recipes"] == shipped_recipes
    shipped_cards = sorted(p.stem for p in (REPO_ROOT / "datasets").glob("*.yaml"))
    assert info["cards"] == shipped_cards
