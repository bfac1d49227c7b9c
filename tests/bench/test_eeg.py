"""Tests of biojepa.bench.eeg: schema of a tiny run, the analytic FLOPs, the target entry, CUDA rows, errors.

Never asserts on speed: only that the figures exist, are finite and positive, and are consistent.
"""

from __future__ import annotations

import doctest
import math
from typing import Any

import pytest
import torch
from torch import nn

from biojepa import bench
from biojepa.bench import eeg
from biojepa.bench.eeg import local_encoder_macs, run_eeg_bench, sjepa_step_flops
from biojepa.errors import ConfigError, UnknownNameError
from biojepa.models import get_spec

ROW_KEYS = {
    "name", "batch", "samples_per_s", "step_s", "step_s_min", "peak_mem_mb", "gflop_per_sample",
    "achieved_gflops", "mfu_or_peak_ratio", "dtype", "compile", "attention_backend", "device",
    "n_contexts", "n_tokens", "n_ctx_tokens", "n_tgt_tokens",
}
POSITIVE = (
    "samples_per_s", "step_s", "step_s_min", "gflop_per_sample", "achieved_gflops", "mfu_or_peak_ratio"
)
TINY: dict[str, Any] = {
    "models": ("eeg_sjepa_tiny",), "batch": 2, "steps": 1, "warmup": 0, "n_times": 512, "contexts": (1, 2),
    "matmul_n": 64, "device": "cpu",
}
SJEPA_LAYERS = ((8, 32, 8), (16, 2, 2), (32, 2, 2), (64, 2, 2), (64, 2, 2))


def _pos(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def tiny() -> dict[str, Any]:
    return bench.run("eeg", **TINY)


def _rows(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in result["rows"]}


def test_registered_as_a_benchmark() -> None:
    assert bench.BENCHES["eeg"].__name__ == "run_eeg_bench"
    assert sorted(bench.BENCHES) == ["ecg", "eeg", "encode", "engine", "fmri"]


def test_docstring_examples() -> None:
    result = doctest.testmod(eeg)
    assert result.attempted > 0 and result.failed == 0


def test_tiny_run_has_the_schema(tiny: dict[str, Any]) -> None:
    assert tiny["schema_version"] == 1 and tiny["status"] == "ok" and tiny["bench"] == "eeg"
    assert tiny["errors"] == []
    env = tiny["env"]
    assert {"torch", "threads", "device", "matmul_peak_gflops"} <= set(env)
    assert env["threads"] == 2 and env["device"] == "cpu" and _pos(env["matmul_peak_gflops"])
    assert "gpu" not in env
    names = ["eeg_sjepa_tiny/fp32/eager/ctx1", "eeg_sjepa_tiny/fp32/eager/ctx2"]
    assert [r["name"] for r in tiny["rows"]] == names
    for row in tiny["rows"]:
        assert ROW_KEYS <= set(row), row["name"]
        for key in POSITIVE:
            assert _pos(row[key]), (row["name"], key)
        assert math.isfinite(row["peak_mem_mb"]) and row["peak_mem_mb"] >= 0
        assert (row["batch"], row["dtype"], row["compile"], row["device"]) == (2, "fp32", False, "cpu")
        assert row["attention_backend"].startswith("sdpa")
        assert math.isfinite(row["final_loss"]) and row["nonfinite_steps"] == 0
        assert row["samples_per_s"] == pytest.approx(2 / row["step_s"])
        assert row["achieved_gflops"] == pytest.approx(row["gflop_per_sample"] * row["samples_per_s"])
        assert row["mfu_or_peak_ratio"] == pytest.approx(row["achieved_gflops"] / env["matmul_peak_gflops"])
        assert len(row["step_times_s"]) == 1 and row["cpu_utilization"] > 0
        assert row["mask"] == "spatial" and row["mask_params"]["radius"] == 0.4
    assert tiny["params"]["contexts"] == [1, 2] and tiny["params"]["n_times"] == 512


def test_ctx_rows_report_their_contexts_and_token_counts(tiny: dict[str, Any]) -> None:
    for r, row in enumerate(tiny["rows"], start=1):
        assert row["n_contexts"] == r and row["flops"]["n_contexts"] == r
        assert row["mask_params"]["n_contexts"] == r
        # 19 channels x 3 time tokens (512 samples); 8 context channels of the 10-20 montage, 3 tokens each
        assert row["grid"] == [19, 3] and row["n_tokens"] == 57
        assert row["n_ctx_tokens"] == 24 and row["flops"]["n_ctx_channels"] == 8
        assert row["n_tgt_tokens"] % 3 == 0 and 3 <= row["n_tgt_tokens"] <= 24
        assert 3 <= row["n_tgt_tokens_valid"] <= row["n_tgt_tokens"]


def test_row_flops_are_the_analytic_count_of_its_masks(tiny: dict[str, Any]) -> None:
    spec = get_spec("eeg_sjepa_tiny")
    one, two = tiny["rows"]
    for row in (one, two):
        f = sjepa_step_flops(
            spec, conv_layers=SJEPA_LAYERS, n_times=512, n_ctx_tokens=row["n_ctx_tokens"],
            n_tgt_tokens=row["n_tgt_tokens"], n_contexts=row["n_contexts"],
        )
        assert row["gflop_per_sample"] == pytest.approx(f.total)
        assert row["flops"]["target_fwd"] == pytest.approx(f.target_fwd)
    # the target encoder runs once per input whatever the number of masks
    assert one["flops"]["target_fwd"] == pytest.approx(two["flops"]["target_fwd"])


def test_local_encoder_macs_by_hand() -> None:
    # 512 samples: lengths 61, 30, 15, 7, 3; MACs = L_out * c_out * c_in * k
    by_hand = [61 * 8 * 1 * 32, 30 * 16 * 8 * 2, 15 * 32 * 16 * 2, 7 * 64 * 32 * 2, 3 * 64 * 64 * 2]
    assert local_encoder_macs(512, SJEPA_LAYERS) == (sum(by_hand), by_hand[0]) == (91904, 15616)


def test_local_encoder_macs_match_the_module() -> None:
    from biojepa.adapters.eeg.tokenizer import LocalEncoder

    enc = LocalEncoder(SJEPA_LAYERS)
    counted: list[int] = []

    def hook(m: nn.Module, _inp: Any, out: torch.Tensor) -> None:
        assert isinstance(m, nn.Conv1d)
        counted.append(out.shape[-1] * m.out_channels * m.in_channels * m.kernel_size[0])

    for conv in enc.convs:
        conv.register_forward_hook(hook)
    with torch.no_grad():
        enc(torch.zeros(1, 1, 2048))  # (B, C, T)
    assert local_encoder_macs(2048, SJEPA_LAYERS) == (sum(counted), counted[0])


def test_step_flops_by_hand_for_the_tiny_model() -> None:
    # eeg_sjepa_tiny: 19 channels, encoder 64 / 2 layers, predictor 64 / 2 layers, FF 256, no registers
    spec = get_spec("eeg_sjepa_tiny")
    f = sjepa_step_flops(
        spec, conv_layers=SJEPA_LAYERS, n_times=512, n_ctx_tokens=24, n_tgt_tokens=6, n_contexts=2
    )

    def block(n: int) -> int:  # qkv 3d^2 + proj d^2 + MLP 2·d·4d, plus QK^T and AV
        return n * (4 * 64 * 64 + 2 * 64 * 256) + 2 * n * n * 64

    conv, conv1 = 91904, 15616  # per channel, all layers / first layer (test above)
    target = 2 * 19 * conv + 2 * 2 * block(57)  # CNN on 19 channels, 2 blocks over 57 tokens; forward only
    ctx_fwd = 2 * 8 * conv + 2 * 2 * block(24)  # CNN on the 8 kept channels, 2 blocks over 24 tokens
    ctx_bwd = 2 * (2 * 8 * conv) - 2 * 8 * conv1 + 2 * (2 * 2 * block(24))  # no input grad of the data
    pred_fwd = 2 * 24 * 64 * 64 + 2 * 2 * block(30) + 2 * 6 * 64 * 64  # down, 2 blocks over 24 + 6, up
    total = target + 2 * (ctx_fwd + ctx_bwd + 3 * pred_fwd)
    assert total == 94_395_392
    assert f.total == pytest.approx(total * 1e-9)
    assert f.target_fwd == pytest.approx(target * 1e-9)
    assert f.context_fwd == pytest.approx(ctx_fwd * 1e-9)
    assert f.predictor_fwd == pytest.approx(pred_fwd * 1e-9)
    assert f.total == pytest.approx(f.target_fwd + f.trained_fwd_bwd)
    counts = (f.n_tokens, f.n_time_tokens, f.n_ctx_channels, f.n_ctx_tokens, f.n_tgt_tokens)
    assert counts == (57, 3, 8, 24, 6)


def test_eeg_sjepa_has_930_tokens_and_contexts_scale_the_trained_part() -> None:
    spec = get_spec("eeg_sjepa")
    one = sjepa_step_flops(spec, conv_layers=SJEPA_LAYERS, n_times=2048, n_ctx_tokens=120, n_tgt_tokens=60)
    eight = sjepa_step_flops(
        spec, conv_layers=SJEPA_LAYERS, n_times=2048, n_ctx_tokens=120, n_tgt_tokens=60, n_contexts=8
    )
    assert (one.n_channels, one.n_time_tokens, one.n_tokens) == (62, 15, 930)
    assert eight.target_fwd == pytest.approx(one.target_fwd)
    assert eight.trained_fwd_bwd == pytest.approx(8 * one.trained_fwd_bwd)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_ctx_tokens": 0}, "token counts"),
        ({"n_tgt_tokens": 0}, "token counts"),
        ({"n_ctx_tokens": 58}, "token counts"),
        ({"n_contexts": 0}, "token counts"),
        ({"n_ctx_tokens": 4}, "whole channels"),
        ({"n_times": 100}, "no token"),
    ],
)
def test_step_flops_rejects_counts_that_do_not_fit(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {
        "conv_layers": SJEPA_LAYERS, "n_times": 512, "n_ctx_tokens": 24, "n_tgt_tokens": 6
    }
    with pytest.raises(ConfigError, match=match):
        sjepa_step_flops(get_spec("eeg_sjepa_tiny"), **{**args, **kwargs})


def test_whole_channels() -> None:
    aligned = torch.tensor([[0, 1, 2, 6, 7, 8], [3, 4, 5, 9, 10, 11]])  # (2, 6): channels {0, 2} and {1, 3}
    assert eeg._whole_channels(aligned, 3) == 2
    assert eeg._whole_channels(torch.tensor([[0, 1, 3, 6, 7, 8]]), 3) is None
    assert eeg._whole_channels(torch.tensor([[0, 1, 2, 3]]), 3) is None


def test_target_entry_of_the_tiny_run(tiny: dict[str, Any]) -> None:
    target = tiny["target"]
    row = _rows(tiny)["eeg_sjepa_tiny/fp32/eager/ctx1"]
    assert target["row"] == row["name"] and target["comparable"] is False
    assert (target["min_samples_per_s"], target["max_peak_mem_mb"], target["batch"]) == (10.0, 4096.0, 32)
    assert target["meets_speed"] is (row["samples_per_s"] >= 10.0)
    assert target["meets_memory"] is (row["peak_mem_mb"] < 4096.0)
    assert target["met"] is (target["meets_speed"] and target["meets_memory"])
    # the table's verdict is only given for the configuration
    assert tiny["checks"] == {"target_row": row["name"], "target_met": None}


def _fake_row(name: str, samples_per_s: float, peak: float, batch: int = 32) -> dict[str, Any]:
    return {
        "name": name, "device": "cpu", "batch": batch, "samples_per_s": samples_per_s, "peak_mem_mb": peak
    }


@pytest.mark.parametrize(
    ("speed", "peak", "met"), [(12.0, 900.0, True), (9.0, 900.0, False), (12.0, 4096.0, False)]
)
def test_target_verdict(speed: float, peak: float, met: bool) -> None:
    rows = [
        _fake_row("eeg_sjepa/fp32/eager/ctx8", 99.0, 1.0), _fake_row("eeg_sjepa/fp32/eager/ctx1", speed, peak)
    ]
    target = eeg._target(rows, ("eeg_sjepa_tiny", "eeg_sjepa"), 2048)
    assert target["row"] == "eeg_sjepa/fp32/eager/ctx1" and target["comparable"] is True
    assert target["met"] is met and target["samples_per_s"] == speed


def test_target_without_a_ctx1_row() -> None:
    target = eeg._target([_fake_row("eeg_sjepa/fp32/eager/ctx8", 20.0, 1.0)], ("eeg_sjepa",), 2048)
    assert target["row"] is None and target["met"] is None and target["comparable"] is False


def test_cuda_rows_are_added_when_cuda_is_available(monkeypatch: pytest.MonkeyPatch) -> None:
    from biojepa.bench import env as bench_env

    calls: list[tuple[str, int, str, int]] = []

    def fake_row(
        name: str, *, n_contexts: int, batch: int, dev: Any, dtype: str, **_: Any
    ) -> dict[str, Any]:
        calls.append((dev.type, batch, dtype, n_contexts))
        return {"name": f"{name}/{dtype}/eager/ctx{n_contexts}", "device": str(dev), "batch": batch,
                "samples_per_s": 50.0, "peak_mem_mb": 10.0, "achieved_gflops": 100.0}

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda dev=None: "Fake GPU")
    monkeypatch.setattr(bench_env, "matmul_peak_gflops", lambda *a, **k: 200.0)
    monkeypatch.setattr(eeg, "_bench_row", fake_row)
    out = run_eeg_bench(models=("eeg_sjepa",), batch=8, cuda_batch=64, contexts=(1, 8), device="auto")
    assert calls == [
        ("cpu", 8, "fp32", 1), ("cpu", 8, "fp32", 8), ("cuda", 64, "bf16", 1), ("cuda", 64, "bf16", 8)
    ]
    assert out["env"]["device"] == "cpu" and out["env"]["gpu"] == "Fake GPU"
    assert out["env"]["cuda_device"] == "cuda" and out["env"]["cuda_matmul_peak_gflops"] == 200.0
    cuda_rows = [r for r in out["rows"] if r["device"] == "cuda"]
    assert [r["name"] for r in cuda_rows] == ["eeg_sjepa/bf16/eager/ctx1", "eeg_sjepa/bf16/eager/ctx8"]
    assert all(r["gpu"] == "Fake GPU" and r["mfu_or_peak_ratio"] == pytest.approx(0.5) for r in cuda_rows)
    # the target is judged on the CPU row; batch 8 is not the configuration
    assert out["target"]["row"] == "eeg_sjepa/fp32/eager/ctx1" and out["target"]["comparable"] is False


def test_threads_are_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    def fake_row(name: str, *, n_contexts: int, dtype: str, **_: Any) -> dict[str, Any]:
        seen.append(torch.get_num_threads())
        return {"name": f"{name}/{dtype}/eager/ctx{n_contexts}", "device": "cpu", "batch": 1,
                "samples_per_s": 1.0, "peak_mem_mb": 1.0, "achieved_gflops": 1.0}

    monkeypatch.setattr(eeg, "_bench_row", fake_row)
    before = torch.get_num_threads()
    run_eeg_bench(models=("eeg_sjepa_tiny",), threads=1, contexts=(1,), device="cpu", matmul_n=32)
    assert seen == [1] and torch.get_num_threads() == before


def test_format_table_renders_the_rows_and_the_check(tiny: dict[str, Any]) -> None:
    text = bench.format_table(tiny)
    lines = text.splitlines()
    assert lines[0].startswith("torch ")
    assert lines[3].startswith("eeg_sjepa_tiny/fp32/eager/ctx1")
    assert lines[4].startswith("eeg_sjepa_tiny/fp32/eager/ctx2")
    assert "check: target_met = None" in text


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch": 0}, "batch"),
        ({"steps": 0}, "steps"),
        ({"warmup": -1}, "warmup"),
        ({"cuda_batch": 0}, "cuda_batch"),
        ({"seed": -1}, "seed"),
        ({"n_times": 100}, "receptive field"),
        ({"models": ()}, "models"),
        ({"models": "eeg_sjepa_tiny"}, "models"),
        ({"models": ("ecg_vit_tiny",)}, "not an S-JEPA EEG model"),
        ({"contexts": ()}, "contexts"),
        ({"contexts": 8}, "contexts"),
        ({"contexts": (1, 0)}, "contexts"),
        ({"contexts": (1, 1)}, "repeat"),
        ({"radius": 0.0}, "radius"),
        ({"radius": True}, "radius"),
        ({"device": "tpu"}, "device"),
        ({"threads": 0}, "threads"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        run_eeg_bench(**{**TINY, **kwargs})


def test_a_radius_too_large_for_the_montage() -> None:
    with pytest.raises(ConfigError, match="radius"):
        run_eeg_bench(**{**TINY, "radius": 5.0, "contexts": (1,)})


def test_unknown_model() -> None:
    with pytest.raises(UnknownNameError, match="eeg_sjepa_tinny"):
        run_eeg_bench(**{**TINY, "models": ("eeg_sjepa_tinny",)})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when CUDA is missing")
def test_cuda_requested_without_cuda() -> None:
    with pytest.raises(ConfigError, match="CUDA"):
        run_eeg_bench(**{**TINY, "device": "cuda"})
