"""Tests of the biojepa.bench package surface: BENCHES, run(), a cheap import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from biojepa import bench
from biojepa.errors import UnknownNameError


def test_benches_lists_engine() -> None:
    assert "engine" in bench.BENCHES
    assert callable(bench.BENCHES["engine"])
    assert bench.BENCHES["engine"].__name__ == "run_engine_bench"


def test_run_unknown_benchmark() -> None:
    with pytest.raises(UnknownNameError, match="valid benchmarks: ecg, eeg, encode, engine"):
        bench.run("engin")


def test_import_does_not_load_torch() -> None:
    code = "import sys, biojepa.bench; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
