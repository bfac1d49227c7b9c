"""Tests of biojepa.bench.env: matmul peak, thread context, memory probe, environment info."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from biojepa.bench.env import MemoryProbe, env_info, matmul_peak_gflops, num_threads
from biojepa.errors import ConfigError


@pytest.mark.parametrize("kernel", ["engine", "torch_mm"])
def test_matmul_peak_is_finite_and_positive(kernel: str) -> None:
    g = matmul_peak_gflops(1, n=128, kernel=kernel, repeats=2)
    assert math.isfinite(g) and g > 0


def test_matmul_peak_errors() -> None:
    with pytest.raises(ConfigError, match="kernel"):
        matmul_peak_gflops(1, n=16, kernel="cublas")
    with pytest.raises(ConfigError, match="n >= 1"):
        matmul_peak_gflops(1, n=0)
    with pytest.raises(ConfigError, match="dtype"):
        matmul_peak_gflops(1, n=16, dtype="fp8")


def test_num_threads_sets_and_restores() -> None:
    before = torch.get_num_threads()
    with num_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with num_threads(None):
        assert torch.get_num_threads() == before
    with pytest.raises(ConfigError, match="threads"), num_threads(0):
        pass


def test_memory_probe_sees_a_large_allocation() -> None:
    probe = MemoryProbe().start()
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
    delta = probe.stop()
    assert block.sum() > 0
    assert probe.method in ("vmhwm", "psutil_sampled", "ru_maxrss")
    assert delta >= 0
    if probe.method == "vmhwm":  # exact on Linux
        assert delta >= 60


def test_memory_probe_is_reset_between_regions() -> None:
    big = MemoryProbe().start()
    block = np.ones(64 * 2**20 // 8)
    assert big.stop() >= 0 and block[0] == 1
    del block
    small = MemoryProbe().start()
    delta = small.stop()
    if small.method == "vmhwm":  # the earlier 64 MiB peak does not leak into this region
        assert delta < 32


def test_env_info_fields() -> None:
    info = env_info("cpu")
    assert info["torch"] == torch.__version__
    assert info["device"] == "cpu"
    assert info["cpu_linear_backend"] in ("onednn", "aten")
    assert isinstance(info["threads"], int) and info["threads"] >= 1
