"""Tests of biojepa.bench.ecg: schema of a tiny run, the data rows, the checks, the CUDA merge, argument errors.

Never asserts on speed: only that the figures exist, are finite and positive, and are consistent.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from biojepa import bench
from biojepa.bench import ecg, engine
from biojepa.bench.ecg import run_ecg_bench, write_wfdb_corpus
from biojepa.errors import ConfigError, UnknownNameError

ENGINE_ROW_KEYS = {
    "name", "batch", "samples_per_s", "step_s", "step_s_min", "peak_mem_mb", "gflop_per_sample",
    "achieved_gflops", "mfu_or_peak_ratio", "dtype", "compile", "attention_backend", "device",
}
DATA_ROWS = ("data/cache_build_500hz", "data/cache_build_100hz_to_500hz", "data/sampler_crop", "data/collated_batch")
TINY: dict[str, Any] = {
    "n_records": 8, "steps": 2, "warmup": 1, "batch": 4, "models": ("ecg_vit_tiny",), "data_steps": 3,
    "build_repeats": 2, "matmul_n": 64, "device": "cpu",
}


def _pos(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench_ecg")


@pytest.fixture(scope="module")
def tiny(workdir: Path) -> dict[str, Any]:
    return bench.run("ecg", workdir=workdir, **TINY)


def _rows(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in result["rows"]}


def test_registered_as_a_benchmark() -> None:
    assert bench.BENCHES["ecg"].__name__ == "run_ecg_bench"


def test_tiny_run_has_the_schema(tiny: dict[str, Any]) -> None:
    assert tiny["schema_version"] == 1 and tiny["status"] == "ok" and tiny["bench"] == "ecg"
    assert tiny["errors"] == []
    env = tiny["env"]
    assert {"torch", "threads", "device", "matmul_peak_gflops"} <= set(env)
    assert env["threads"] == 2 and env["device"] == "cpu" and _pos(env["matmul_peak_gflops"])
    assert "gpu" not in env
    assert [r["name"] for r in tiny["rows"]] == [*DATA_ROWS, "ecg_vit_tiny/fp32/eager"]
    for row in tiny["rows"]:
        assert ENGINE_ROW_KEYS <= set(row), row["name"]
        assert _pos(row["step_s"]) and _pos(row["step_s_min"]) and row["step_s_min"] <= row["step_s"]
        assert math.isfinite(row["peak_mem_mb"]) and row["peak_mem_mb"] >= 0
        assert row["cpu_utilization"] > 0
        assert row["device"] == "cpu"
    assert tiny["params"]["n_records"] == 8 and tiny["params"]["models"] == ["ecg_vit_tiny"]


def test_training_row_is_an_engine_row(tiny: dict[str, Any]) -> None:
    row = _rows(tiny)["ecg_vit_tiny/fp32/eager"]
    assert (row["batch"], row["dtype"], row["compile"], row["model"]) == (4, "fp32", False, "ecg_vit_tiny")
    for key in ("samples_per_s", "gflop_per_sample", "achieved_gflops", "mfu_or_peak_ratio"):
        assert _pos(row[key]), key
    assert row["samples_per_s"] == pytest.approx(4 / row["step_s"])
    assert len(row["step_times_s"]) == 2 and "stage" not in row
    # ecg_vit_tiny: 500 samples in patches of 10 -> 50 tokens, keep 0.20 -> 10 context tokens
    assert (row["flops"]["n_ctx"], row["flops"]["n_tgt"]) == (10, 40)


def test_cache_build_rows(tiny: dict[str, Any]) -> None:
    rows = _rows(tiny)
    payload_mb = 8 * 12 * 5000 * 2 / 2**20  # float16 samples of 8 records at 500 Hz
    for name, source_sfreq in (("data/cache_build_500hz", 500.0), ("data/cache_build_100hz_to_500hz", 100.0)):
        row = rows[name]
        assert row["stage"] == "cache_build" and row["dtype"] == "fp16"
        assert (row["n_records"], row["source_sfreq"], row["target_sfreq"]) == (8, source_sfreq, 500.0)
        assert _pos(row["records_per_s"]) and row["records_per_s"] == pytest.approx(8 / row["step_s"])
        assert row["samples_per_s"] is None and row["batch"] is None
        assert len(row["step_times_s"]) == 2 and row["warmup"] == 1
        assert row["cache_mb"] >= payload_mb
        # WFDB format 16: two bytes per sample, 10 s records at the source rate
        assert row["source_mb"] >= 8 * 12 * 10 * source_sfreq * 2 / 2**20


def test_sampler_and_collated_rows(tiny: dict[str, Any]) -> None:
    rows = _rows(tiny)
    for name, stage in (("data/sampler_crop", "sampler_crop"), ("data/collated_batch", "collated_batch")):
        row = rows[name]
        assert row["stage"] == stage and row["batch"] == 4
        assert _pos(row["samples_per_s"]) and _pos(row["batches_per_s"])
        assert row["samples_per_s"] == pytest.approx(4 / row["step_s"])
        assert row["batches_per_s"] == pytest.approx(1 / row["step_s"])
        assert (row["crop_len"], row["n_channels"]) == (5000, 12)
        assert len(row["step_times_s"]) == 3 and row["records_per_s"] is None
    assert rows["data/collated_batch"]["mask"] == "block1d" and rows["data/collated_batch"]["grid"] == [200]


def test_checks(tiny: dict[str, Any]) -> None:
    checks = tiny["checks"]
    rows = _rows(tiny)
    ratio = rows["data/collated_batch"]["samples_per_s"] / rows["ecg_vit_tiny/fp32/eager"]["samples_per_s"]
    assert _pos(checks["data_to_train_ratio"])
    assert checks["data_to_train_ratio"] == pytest.approx(ratio)
    assert checks["data_keeps_up"] is (ratio >= 10.0)
    assert checks["required_ratio"] == 10.0 and checks["fastest_train_row"] == "ecg_vit_tiny/fp32/eager"
    assert "data_to_cuda_train_ratio" not in checks


def test_temporary_files_are_removed(tiny: dict[str, Any], workdir: Path) -> None:
    assert list(workdir.iterdir()) == []


def test_format_table_renders_data_rows_and_checks(tiny: dict[str, Any]) -> None:
    text = bench.format_table(tiny)
    lines = text.splitlines()
    assert lines[0].startswith("torch ") and "ecg_vit_tiny/fp32/eager" in lines[3]
    data_head = next(i for i, line in enumerate(lines) if line.startswith("data stage"))
    assert "records/s" in lines[data_head] and "batches/s" in lines[data_head]
    assert [line.split()[0] for line in lines[data_head + 2 : data_head + 6]] == list(DATA_ROWS)
    assert len({len(line) for line in lines[data_head : data_head + 2]}) == 1  # the columns line up
    assert f"check: data_keeps_up = {tiny['checks']['data_keeps_up']}" in text
    assert "check: data_to_train_ratio = " in text


def test_write_wfdb_corpus_is_readable(tmp_path: Path) -> None:
    from biojepa.adapters.ecg.leads import STANDARD_LEADS
    from biojepa.adapters.ecg.readers import read_wfdb
    from biojepa.adapters.ecg.synthetic import EcgSynthSpec, simulate_ecg

    names = write_wfdb_corpus(tmp_path, 2, 100.0, seed=3)
    assert names == ["rec00000", "rec00001"]
    x, _ = simulate_ecg(EcgSynthSpec(n_records=2, sfreq=100.0, duration_s=10.0, seed=3))  # (2, 12, 1000)
    for i, name in enumerate(names):
        rec = read_wfdb(tmp_path / name)
        assert rec.sfreq == 100.0 and tuple(rec.channels) == STANDARD_LEADS and rec.signal.shape == (12, 1000)
        np.testing.assert_allclose(rec.signal, x[i], atol=2e-3)  # 16-bit quantisation


def test_cuda_rows_are_merged_when_cuda_is_available(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake_engine(**kw: Any) -> dict[str, Any]:
        calls.append(kw)
        cuda = kw["device"] != "cpu"
        row = {"name": f"m/{kw.get('dtype') or 'fp32'}/eager", "batch": kw["batch"],
               "samples_per_s": 1000.0 if cuda else 20.0, "device": kw["device"]}
        env = {"device": kw["device"], "matmul_peak_gflops": 5.0, "matmul_peak_kernel": "k"}
        if cuda:
            env["gpu"] = "Fake GPU"
        return {"env": env, "rows": [row], "errors": []}

    data = [{"name": "data/collated_batch", "stage": "collated_batch", "samples_per_s": 100.0}]
    monkeypatch.setattr(engine, "run_engine_bench", fake_engine)
    monkeypatch.setattr(ecg, "_data_rows", lambda *args: data)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    out = run_ecg_bench(models=("ecg_vit_tiny",), device="auto", batch=8, cuda_batch=64)
    assert [(c["device"], c["batch"], c.get("dtype")) for c in calls] == [("cpu", 8, None), ("cuda", 64, "bf16")]
    assert out["env"]["gpu"] == "Fake GPU" and out["env"]["cuda_matmul_peak_gflops"] == 5.0
    assert out["env"]["device"] == "cpu"
    cuda_row = out["rows"][-1]
    assert cuda_row["device"] == "cuda" and cuda_row["gpu"] == "Fake GPU" and cuda_row["name"] == "m/bf16/eager"
    # the check compares the data path with the CPU training rate, not the GPU's
    assert out["checks"]["data_to_train_ratio"] == pytest.approx(5.0)
    assert out["checks"]["data_keeps_up"] is False and out["checks"]["fastest_train_row"] == "m/fp32/eager"
    assert out["checks"]["data_to_cuda_train_ratio"] == pytest.approx(0.1)


def test_checks_without_training_rows() -> None:
    checks = ecg._checks([{"name": "data/collated_batch", "stage": "collated_batch", "samples_per_s": 1.0}])
    assert checks["data_to_train_ratio"] is None and checks["data_keeps_up"] is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_records": 0}, "n_records"),
        ({"data_steps": 0}, "data_steps"),
        ({"build_repeats": 0}, "build_repeats"),
        ({"cuda_batch": 0}, "cuda_batch"),
        ({"batch": 0}, "batch"),
        ({"steps": 0}, "steps"),
        ({"warmup": -1}, "warmup"),
        ({"keep": 1.0}, "keep"),
        ({"models": ()}, "models"),
        ({"models": "ecg_vit_tiny"}, "models"),
        ({"models": ("synthetic_vit_tiny",)}, "not an ECG model"),
        ({"device": "tpu"}, "device"),
        ({"seed": -1}, "seed"),
        ({"threads": 0}, "threads"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], match: str, tmp_path: Path) -> None:
    args: dict[str, Any] = {**TINY, "workdir": tmp_path}
    args.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        run_ecg_bench(**args)


def test_unknown_model(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="ecg_vit_tinny"):
        run_ecg_bench(**{**TINY, "models": ("ecg_vit_tinny",), "workdir": tmp_path})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when CUDA is missing")
def test_cuda_requested_without_cuda(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CUDA"):
        run_ecg_bench(**{**TINY, "device": "cuda", "workdir": tmp_path})
