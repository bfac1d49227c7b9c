"""Tests of the lazy biojepa.eval namespace."""

from __future__ import annotations

import subprocess
import sys

import pytest

import biojepa.eval as ev


def test_every_public_name_resolves() -> None:
    for name in ev.__all__:
        assert getattr(ev, name) is not None, name
    assert set(ev.__all__) <= set(dir(ev))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ev.nope  # noqa: B018


def test_metrics_and_results_do_not_import_torch() -> None:
    code = (
        "import sys, biojepa.eval, biojepa.eval.metrics, biojepa.eval.results, biojepa.eval.windows; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
