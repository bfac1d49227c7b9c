"""Tests of biojepa.bench.report.format_table (pure Python)."""

from __future__ import annotations

from biojepa.bench.report import format_table


def _result() -> dict[str, object]:
    row = {
        "name": "m/fp32/eager",
        "batch": 32,
        "samples_per_s": 50.04,
        "step_s": 0.6404,
        "step_s_min": 0.61,
        "peak_mem_mb": 1234.4,
        "gflop_per_sample": 4.057,
        "achieved_gflops": 203.0,
        "mfu_or_peak_ratio": 0.47,
        "attention_backend": "sdpa/flash_attention",
    }
    return {
        "env": {"torch": "2.13.0", "device": "cpu", "threads": 2, "matmul_peak_gflops": 430.2},
        "rows": [row, {**row, "name": "m/fp32/compile", "peak_mem_mb": None, "mask_note": "fallback masks"}],
        "errors": [{"name": "x/fp32/compile", "error": "RuntimeError: boom"}],
    }


def test_table_contents() -> None:
    text = format_table(_result())
    lines = text.splitlines()
    assert lines[0].startswith("torch 2.13.0 | device cpu | threads 2 | matmul peak 430 GFLOP/s")
    assert "samples/s" in lines[1] and "GFLOP/sample" in lines[1]
    assert set(lines[2].replace(" ", "")) == {"-"}
    assert "m/fp32/eager" in lines[3] and "50.0" in lines[3] and "0.640" in lines[3] and "47%" in lines[3]
    assert "sdpa/flash_attention" in lines[3]
    assert " - " in lines[4]  # a missing value
    assert "note: fallback masks" in text
    assert "error: x/fp32/compile: RuntimeError: boom" in text
    # the columns line up
    assert len({len(line) for line in lines[1:3]}) == 1


def test_empty_result() -> None:
    text = format_table({"env": {}, "rows": []})
    assert "matmul peak - GFLOP/s" in text.splitlines()[0]
    assert len(text.splitlines()) == 3
