"""Tests of biojepa.bench.encode: schema of a tiny run, the rows, the checks, the CUDA merge, argument errors.

Never asserts on speed: only that the figures exist, are finite and positive, and are consistent.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from biojepa import bench
from biojepa.bench import encode as encode_bench
from biojepa.bench.encode import TARGET_RECORDS_PER_S, make_model, run_encode_bench
from biojepa.errors import ConfigError, UnknownNameError

ENGINE_ROW_KEYS = {
    "name", "batch", "samples_per_s", "step_s", "step_s_min", "peak_mem_mb", "gflop_per_sample",
    "achieved_gflops", "mfu_or_peak_ratio", "dtype", "compile", "attention_backend", "device",
}
TINY: dict[str, Any] = {
    "models": ("ecg_vit_tiny",), "n_records": 4, "repeats": 1, "warmup": 1, "matmul_n": 64, "device": "cpu",
}
ROW = "encode/ecg_vit_tiny/fp32"
COLD = "encode/cold_start/ecg_vit_tiny"


def _pos(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench_encode")


@pytest.fixture(scope="module")
def tiny(workdir: Path) -> dict[str, Any]:
    return bench.run("encode", workdir=workdir, **TINY)


def _rows(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in result["rows"]}


def test_registered_as_a_benchmark() -> None:
    assert bench.BENCHES["encode"].__name__ == "run_encode_bench"


def test_tiny_run_has_the_schema(tiny: dict[str, Any]) -> None:
    assert tiny["schema_version"] == 1 and tiny["status"] == "ok" and tiny["bench"] == "encode"
    assert tiny["errors"] == []
    env = tiny["env"]
    assert {"torch", "threads", "device", "matmul_peak_gflops"} <= set(env)
    assert env["threads"] == 2 and env["device"] == "cpu" and _pos(env["matmul_peak_gflops"])
    assert "gpu" not in env
    for key in ("load_avg_start", "load_avg_end"):
        assert len(env[key]) == 3 and all(v >= 0 for v in env[key])
    assert [r["name"] for r in tiny["rows"]] == [ROW, COLD]
    for row in tiny["rows"]:
        assert ENGINE_ROW_KEYS <= set(row), row["name"]
        assert _pos(row["step_s"]) and _pos(row["step_s_min"]) and row["step_s_min"] <= row["step_s"]
        assert math.isfinite(row["peak_mem_mb"]) and row["peak_mem_mb"] >= 0
        assert row["device"] == "cpu" and row["model"] == "ecg_vit_tiny"
    assert tiny["params"]["n_records"] == 4 and tiny["params"]["models"] == ["ecg_vit_tiny"]
    assert tiny["params"]["cold_start"] is True


def test_throughput_row(tiny: dict[str, Any]) -> None:
    from biojepa.bench.flops import encoder_forward_flops
    from biojepa.models import get_spec

    row = _rows(tiny)[ROW]
    assert (row["stage"], row["batch"], row["n_records"], row["dtype"], row["compile"]) == ("encode", 64, 4, "fp32",
                                                                                           False)
    # the tiny model's own contract: 12 leads, 5 s at 100 Hz
    assert (row["sfreq"], row["n_times"], row["n_channels"], row["windows_per_record"]) == (100.0, 500, 12, 1)
    for key in ("records_per_s", "samples_per_s", "gflop_per_sample", "achieved_gflops", "mfu_or_peak_ratio",
                "cpu_utilization"):
        assert _pos(row[key]), key
    assert row["records_per_s"] == row["samples_per_s"] == pytest.approx(4 / row["step_s"])
    assert len(row["step_times_s"]) == 1 and (row["steps"], row["warmup"]) == (1, 1)
    assert row["gflop_per_sample"] == pytest.approx(encoder_forward_flops(get_spec("ecg_vit_tiny"), 50) * 1e-9)
    assert row["achieved_gflops"] == pytest.approx(row["gflop_per_sample"] * row["records_per_s"])
    assert row["mfu_or_peak_ratio"] == pytest.approx(row["achieved_gflops"] / tiny["env"]["matmul_peak_gflops"])
    assert row["attention_backend"].startswith("sdpa")


def test_cold_start_row(tiny: dict[str, Any]) -> None:
    row = _rows(tiny)[COLD]
    assert row["stage"] == "cold_start" and (row["batch"], row["n_records"]) == (1, 1)
    for key in ("cold_start_s", "load_s", "encode_s", "process_wall_s", "peak_mem_mb"):
        assert _pos(row[key]), key
    assert row["import_s"] >= 0
    assert row["cold_start_s"] == pytest.approx(row["import_s"] + row["load_s"] + row["encode_s"])
    assert row["process_wall_s"] >= row["cold_start_s"] == row["step_s"]
    assert row["records_per_s"] is None and row["samples_per_s"] is None
    assert row["peak_mem_method"] == "child_ru_maxrss" and row["threads"] == 2


def test_checks_of_a_run_without_the_target_model(tiny: dict[str, Any]) -> None:
    assert tiny["checks"] == {"target_records_per_s": 60.0, "xs_meets_target": None, "xs_records_per_s": None}


@pytest.mark.parametrize(("rate", "meets"), [(TARGET_RECORDS_PER_S, True), (59.9, False), (250.0, True)])
def test_checks_compare_the_cpu_xs_row_with_the_target(rate: float, meets: bool) -> None:
    rows = [
        {"name": "encode/ecg_vit_xs/fp32", "stage": "encode", "model": "ecg_vit_xs", "device": "cpu",
         "records_per_s": rate},
        {"name": "encode/ecg_vit_xs/fp32/cuda", "stage": "encode", "model": "ecg_vit_xs", "device": "cuda",
         "records_per_s": 1e4},
    ]
    checks = encode_bench._checks(rows)
    assert checks["xs_meets_target"] is meets and checks["xs_records_per_s"] == rate


def test_temporary_files_are_removed(tiny: dict[str, Any], workdir: Path) -> None:
    assert list(workdir.iterdir()) == []


def test_format_table_renders_rows_and_checks(tiny: dict[str, Any]) -> None:
    text = bench.format_table(tiny)
    lines = text.splitlines()
    assert lines[0].startswith("torch ") and "samples/s" in lines[1]
    assert lines[3].split()[0] == ROW and lines[4].split()[0] == COLD
    assert len({len(line) for line in lines[1:3]}) == 1  # the columns line up
    assert "check: target_records_per_s = 60.00" in text and "check: xs_meets_target = None" in text


def test_make_model_has_contract_statistics_and_is_seeded() -> None:
    a, b = make_model("ecg_vit_tiny", seed=3), make_model("ecg_vit_tiny", seed=3)
    norm = a.spec.signal.normalization
    assert norm.method == "zscore" and norm.stats["std"] == [0.2] * 12 and norm.stats["mean"] == [0.0] * 12
    assert not a.training
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k


def _fake_row(name: str, x: Any, *, device: str, **kw: Any) -> dict[str, Any]:
    cuda = device != "cpu"
    rate = 500.0 if cuda else 61.0
    return {"name": f"encode/{name}/fp32" + ("/cuda" if cuda else ""), "stage": "encode", "model": name,
            "records_per_s": rate, "samples_per_s": rate, "achieved_gflops": 10.0, "device": device,
            "n": int(x.shape[0]), "batch": kw["batch"]}


def test_cuda_rows_are_added_when_cuda_is_available(monkeypatch: pytest.MonkeyPatch) -> None:
    peaks: list[str] = []

    def fake_peak(threads: Any, n: int = 0, *, device: str = "cpu", dtype: str = "fp32") -> float:
        peaks.append(device)
        return 100.0 if device == "cpu" else 1000.0

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(encode_bench, "_bench_model", _fake_row)
    monkeypatch.setattr(encode_bench, "matmul_peak_gflops", fake_peak)
    monkeypatch.setattr(encode_bench, "_gpu_name", lambda device: "Fake GPU")
    out = run_encode_bench(models=("ecg_vit_xs", "ecg_vit_tiny"), n_records=2, cold_start=False)
    assert peaks == ["cpu", "cuda"]
    assert [r["name"] for r in out["rows"]] == [
        "encode/ecg_vit_xs/fp32", "encode/ecg_vit_tiny/fp32", "encode/ecg_vit_xs/fp32/cuda",
        "encode/ecg_vit_tiny/fp32/cuda",
    ]
    assert all(r["n"] == 2 and r["batch"] == 64 for r in out["rows"])
    assert out["env"]["gpu"] == "Fake GPU" and out["env"]["cuda_device"] == "cuda" and out["env"]["device"] == "cpu"
    cuda_row = out["rows"][2]
    assert cuda_row["gpu"] == "Fake GPU" and cuda_row["mfu_or_peak_ratio"] == pytest.approx(0.01)
    assert out["rows"][0]["mfu_or_peak_ratio"] == pytest.approx(0.1)
    # the target is judged on the CPU row, not the GPU's
    assert out["checks"]["xs_meets_target"] is True and out["checks"]["xs_records_per_s"] == 61.0


def test_a_failed_cold_start_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(encode_bench, "_bench_model", _fake_row)
    monkeypatch.setattr(encode_bench, "_COLD_START_CODE", "import sys; sys.exit('no model here')")
    out = run_encode_bench(**{**TINY, "workdir": tmp_path})
    assert [r["name"] for r in out["rows"]] == [ROW]
    assert len(out["errors"]) == 1 and out["errors"][0]["name"] == COLD
    assert "exited with 1" in out["errors"][0]["error"] and "no model here" in out["errors"][0]["error"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_records": 0}, "n_records"),
        ({"repeats": 0}, "repeats"),
        ({"warmup": -1}, "warmup"),
        ({"batch": 0}, "batch"),
        ({"threads": 0}, "threads"),
        ({"seed": -1}, "seed"),
        ({"matmul_n": 0}, "matmul_n"),
        ({"n_records": True}, "n_records"),
        ({"cold_start": "yes"}, "cold_start"),
        ({"models": ()}, "models"),
        ({"models": "ecg_vit_tiny"}, "models"),
        ({"models": (3,)}, "model names"),
        ({"models": ("synthetic_vit_tiny",)}, "not an ECG model"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        run_encode_bench(**{**TINY, **kwargs})


def test_unknown_model() -> None:
    with pytest.raises(UnknownNameError, match="ecg_vit_tinny"):
        run_encode_bench(**{**TINY, "models": ("ecg_vit_tinny",)})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when CUDA is missing")
def test_cuda_requested_without_cuda() -> None:
    with pytest.raises(ConfigError, match="CUDA"):
        run_encode_bench(**{**TINY, "device": "cuda"})
