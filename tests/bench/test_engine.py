"""Tests of biojepa.bench.engine: schema of a tiny run, argument errors, mask fallback, compile errors.

Never asserts on speed: only that the figures exist, are finite and positive, and are consistent.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest
import torch

from biojepa.bench import engine
from biojepa.bench.engine import run_engine_bench
from biojepa.errors import ConfigError, UnknownNameError

ROW_KEYS = {
    "name",
    "batch",
    "samples_per_s",
    "step_s",
    "step_s_min",
    "peak_mem_mb",
    "gflop_per_sample",
    "achieved_gflops",
    "mfu_or_peak_ratio",
    "dtype",
    "compile",
    "attention_backend",
    "device",
}
POSITIVE = (
    "samples_per_s", "step_s", "step_s_min", "gflop_per_sample", "achieved_gflops", "mfu_or_peak_ratio"
)


@pytest.fixture(scope="module")
def tiny() -> dict[str, Any]:
    return run_engine_bench(models=("synthetic_vit_tiny",), batch=2, steps=2, warmup=1, matmul_n=256)


def test_tiny_run_has_the_schema(tiny: dict[str, Any]) -> None:
    assert tiny["schema_version"] == 1 and tiny["status"] == "ok" and tiny["errors"] == []
    env = tiny["env"]
    assert {"torch", "threads", "device", "matmul_peak_gflops"} <= set(env)
    assert env["threads"] == 2 and env["device"] == "cpu" and env["torch"] == torch.__version__
    assert math.isfinite(env["matmul_peak_gflops"]) and env["matmul_peak_gflops"] > 0
    assert len(tiny["rows"]) == 1
    row = tiny["rows"][0]
    assert ROW_KEYS <= set(row)
    assert row["name"] == "synthetic_vit_tiny/fp32/eager"
    assert (row["batch"], row["dtype"], row["compile"], row["device"]) == (2, "fp32", False, "cpu")
    for key in POSITIVE:
        assert math.isfinite(row[key]) and row[key] > 0, key
    assert math.isfinite(row["peak_mem_mb"]) and row["peak_mem_mb"] >= 0
    assert row["attention_backend"].startswith("sdpa")
    assert math.isfinite(row["final_loss"])
    assert 0 < row["cpu_utilization"] < 10
    assert row["nonfinite_steps"] == 0


def test_tiny_run_figures_are_consistent(tiny: dict[str, Any]) -> None:
    row = tiny["rows"][0]
    assert len(row["step_times_s"]) == 2
    assert row["step_s_min"] <= row["step_s"]
    assert row["samples_per_s"] == pytest.approx(row["batch"] / row["step_s"])
    assert row["achieved_gflops"] == pytest.approx(row["gflop_per_sample"] * row["samples_per_s"])
    peak = tiny["env"]["matmul_peak_gflops"]
    assert row["mfu_or_peak_ratio"] == pytest.approx(row["achieved_gflops"] / peak)
    # keep 0.20 of 64 tokens: K = 13 context tokens, 51 targets, block1d masks
    assert row["mask"] == "block1d" and row["keep"] == 0.2
    assert (row["flops"]["n_ctx"], row["flops"]["n_tgt"]) == (13, 51)


def test_threads_are_restored() -> None:
    before = torch.get_num_threads()
    run_engine_bench(models=("synthetic_vit_tiny",), batch=1, steps=1, warmup=0, threads=1, matmul_n=64)
    assert torch.get_num_threads() == before


def test_run_through_the_package_entry_point() -> None:
    from biojepa import bench

    out = bench.run(
        "engine", models=["synthetic_vit_tiny"], batch=1, steps=1, warmup=0, keep=0.5, matmul_n=64
    )
    assert out["rows"][0]["flops"]["n_ctx"] == 32
    assert "synthetic_vit_tiny/fp32/eager" in bench.format_table(out)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch": 0}, "batch"),
        ({"steps": 0}, "steps"),
        ({"warmup": -1}, "warmup"),
        ({"keep": 1.0}, "keep"),
        ({"keep": 0}, "keep"),
        ({"dtype": "bf16"}, "bf16"),
        ({"dtype": "fp16"}, "dtype"),
        ({"device": "tpu"}, "device"),
        ({"models": ()}, "models"),
        ({"models": "synthetic_vit_tiny"}, "models"),
        ({"threads": 0}, "threads"),
        ({"seed": -1}, "seed"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"models": ("synthetic_vit_tiny",), "batch": 1, "steps": 1, "warmup": 0}
    args.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        run_engine_bench(**args)


def test_unknown_model() -> None:
    with pytest.raises(UnknownNameError, match="synthetic_vit_tiny"):
        run_engine_bench(models=("synthetic_vit_tinny",), batch=1, steps=1, warmup=0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when CUDA is missing")
def test_cuda_requested_without_cuda() -> None:
    with pytest.raises(ConfigError, match="CUDA"):
        run_engine_bench(models=("synthetic_vit_tiny",), device="cuda", steps=1, warmup=0)


def test_auto_device_resolves() -> None:
    out = run_engine_bench(
        models=("synthetic_vit_tiny",), batch=1, steps=1, warmup=0, device="auto", matmul_n=64
    )
    assert out["env"]["device"] == ("cuda" if torch.cuda.is_available() else "cpu")


def test_mask_source_uses_block1d_with_a_pinned_keep_ratio() -> None:
    name, note, make = engine._mask_source((200,), 0.2, 3)
    assert name == "block1d" and note == ""
    for step in range(3):
        m = make(step)
        assert (m.n_ctx, m.n_tgt) == (40, 160)
        m.validate(200)


def test_mask_source_for_a_2d_grid() -> None:
    name, _, make = engine._mask_source((4, 10), 0.25, 2)
    assert name == "random_tokens"
    assert make(0).n_ctx == 10


def test_mask_source_fallback_without_biojepa_masks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "biojepa.masks", None)  # the import now fails
    name, note, make = engine._mask_source((20,), 0.2, 3)
    assert name == "fallback_contiguous" and "not importable" in note
    m = make(0)
    assert m.ctx_idx.shape == (3, 4) and m.tgt_idx.shape == (3, 16)
    for b in range(3):
        ctx = m.ctx_idx[b].tolist()
        assert ctx == list(range(ctx[0], ctx[0] + 4))  # one contiguous block
        assert sorted(ctx + m.tgt_idx[b].tolist()) == list(range(20))


def test_compile_failure_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: torch.nn.Module, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch.nn.Module, "compile", broken)
    out = run_engine_bench(
        models=("synthetic_vit_tiny",), batch=1, steps=1, warmup=0, compile=True, matmul_n=64
    )
    assert [r["name"] for r in out["rows"]] == ["synthetic_vit_tiny/fp32/eager"]
    assert out["errors"] == [
        {"name": "synthetic_vit_tiny/fp32/compile", "error": "RuntimeError: no compiler here"}
    ]


def test_attention_backend_names_the_sdpa_kernel() -> None:
    name = engine.attention_backend(4, 16, 33, 2, torch.device("cpu"), torch.float32)
    assert name.startswith("sdpa")
