"""Package-level contracts: cheap import, lazy public API, version."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import biojepa

HEAVY_OR_EXTRA = ["torch", "wfdb", "mne", "nilearn", "nibabel", "h5py", "timm", "torchvision", "sklearn", "pandas",
                  "scipy"]


def test_import_is_cheap_and_pulls_no_extras() -> None:
    code = (
        "import sys, json, time; t=time.perf_counter(); import biojepa; dt=time.perf_counter()-t; "
        f"print(json.dumps({{'dt': dt, 'mods': [m for m in {HEAVY_OR_EXTRA!r} if m in sys.modules]}}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    info = json.loads(out.stdout)
    assert info["mods"] == [], f"import biojepa imported {info['mods']}"


def test_public_api_is_lazy_and_complete() -> None:
    assert biojepa.__version__.count(".") >= 2
    for name in biojepa.__all__:
        assert name in dir(biojepa)
    assert callable(biojepa.create_model)
    assert callable(biojepa.list_models)
    assert callable(biojepa.load)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        biojepa.nope  # noqa: B018


def test_python_dash_m_runs_the_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "biojepa", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"biojepa {biojepa.__version__}"
