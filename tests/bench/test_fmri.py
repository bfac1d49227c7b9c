"""Tests of biojepa.bench.fmri: schema of a tiny run, the analytic FLOPs (by hand and against torch's
counter), the row plan, CUDA rows, errors.

Never asserts on speed: only that the figures exist, are finite and positive, and are consistent.
"""

from __future__ import annotations

import doctest
import math
from typing import Any

import pytest
import torch

from biojepa import bench
from biojepa.bench import fmri
from biojepa.bench.fmri import brainjepa_step_flops, run_fmri_bench
from biojepa.errors import ConfigError, UnknownNameError
from biojepa.models import get_spec

ROW_KEYS = {
    "name", "batch", "samples_per_s", "step_s", "step_s_min", "peak_mem_mb", "gflop_per_sample",
    "achieved_gflops", "mfu_or_peak_ratio", "dtype", "compile", "attention_backend", "device",
    "n_tokens", "n_ctx_tokens", "n_tgt_tokens",
}
POSITIVE = (
    "samples_per_s", "step_s", "step_s_min", "gflop_per_sample", "achieved_gflops", "mfu_or_peak_ratio"
)
TINY: dict[str, Any] = {
    "models": ("fmri_vit_tiny",), "batch": 2, "steps": 1, "warmup": 0, "matmul_n": 64, "device": "cpu",
}


def _pos(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def tiny() -> dict[str, Any]:
    return bench.run("fmri", **TINY)


def _fake_row_factory(calls: list[tuple[Any, ...]]) -> Any:
    def fake_row(
        name: str, *, batch: int, steps: int, warmup: int, dev: Any, dtype: str, **_: Any
    ) -> dict[str, Any]:
        calls.append((name, dev.type, batch, steps, warmup, dtype, torch.get_num_threads()))
        return {"name": f"{name}/{dtype}/eager", "device": str(dev), "batch": batch, "samples_per_s": 50.0,
                "peak_mem_mb": 10.0, "achieved_gflops": 100.0}

    return fake_row


@pytest.fixture
def fake_rows(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Replace the timed row by a recorder and the matmul peak by a constant (no timing at all)."""
    from biojepa.bench import env as bench_env

    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(fmri, "_bench_row", _fake_row_factory(calls))
    monkeypatch.setattr(bench_env, "matmul_peak_gflops", lambda *a, **k: 200.0)
    return calls


def test_registered_as_a_benchmark() -> None:
    assert bench.BENCHES["fmri"].__name__ == "run_fmri_bench"
    assert "fmri" in bench.BENCHES


def test_docstring_examples() -> None:
    result = doctest.testmod(fmri)
    assert result.attempted > 0 and result.failed == 0


# -- a real (tiny) run ---------------------------------------------------------------------------------


def test_tiny_run_has_the_schema(tiny: dict[str, Any]) -> None:
    assert tiny["schema_version"] == 1 and tiny["status"] == "ok" and tiny["bench"] == "fmri"
    assert tiny["errors"] == [] and tiny["checks"] == {}
    env = tiny["env"]
    assert {"torch", "threads", "device", "matmul_peak_gflops"} <= set(env)
    assert env["threads"] == 2 and env["device"] == "cpu" and _pos(env["matmul_peak_gflops"])
    assert "gpu" not in env
    assert [r["name"] for r in tiny["rows"]] == ["fmri_vit_tiny/fp32/eager"]
    row = tiny["rows"][0]
    assert ROW_KEYS <= set(row)
    for key in POSITIVE:
        assert _pos(row[key]), key
    assert math.isfinite(row["peak_mem_mb"]) and row["peak_mem_mb"] >= 0
    assert (row["batch"], row["dtype"], row["compile"], row["device"]) == (2, "fp32", False, "cpu")
    assert row["attention_backend"].startswith("sdpa")
    assert math.isfinite(row["final_loss"]) and row["nonfinite_steps"] == 0
    assert row["samples_per_s"] == pytest.approx(2 / row["step_s"])
    assert row["achieved_gflops"] == pytest.approx(row["gflop_per_sample"] * row["samples_per_s"])
    assert row["mfu_or_peak_ratio"] == pytest.approx(row["achieved_gflops"] / env["matmul_peak_gflops"])
    assert len(row["step_times_s"]) == 1 and row["cpu_utilization"] > 0
    assert (row["loss"], row["target_norm"], row["mask"]) == ("smooth_l1", True, "spatiotemporal")
    assert row["mask_params"]["enc_mask_scale"] == (0.84, 1.0)  # Brain-JEPA's ranges, the mask's defaults
    assert tiny["params"]["cpu_plan"] == [{"model": "fmri_vit_tiny", "batch": 2, "steps": 1, "warmup": 0}]


def test_row_reports_the_grid_and_its_masks(tiny: dict[str, Any]) -> None:
    from biojepa.masks.base import build_mask, make_mask_rngs

    row = tiny["rows"][0]
    # AAL-116 x 80 frames, 16-frame patches: 116 x 5 tokens
    assert (row["grid"], row["n_tokens"], row["n_rois"], row["n_frames"]) == ([116, 5], 580, 116, 80)
    # the one timed step (step 0, samples 0 and 1) drew these masks
    masks = build_mask("spatiotemporal", {})((116, 5), make_mask_rngs(0, 0, [0, 1]))
    k, m = int(masks.ctx_idx.shape[1]), int(masks.tgt_idx.shape[1])
    assert (row["n_ctx_tokens"], row["n_tgt_tokens"]) == (k, m)
    valid = m if masks.tgt_valid is None else float(masks.tgt_valid.sum()) / 2
    assert row["n_tgt_tokens_valid"] == pytest.approx(valid) and 1 <= valid <= m
    f = brainjepa_step_flops(get_spec("fmri_vit_tiny"), k, m, batch=2)
    assert row["gflop_per_sample"] == pytest.approx(f.total)
    assert row["step_gflop_per_sample"] == [pytest.approx(f.total)]
    assert row["flops"]["target_fwd"] == pytest.approx(f.target_fwd) and row["flops"]["batch"] == 2


def test_format_table_renders_the_row(tiny: dict[str, Any]) -> None:
    lines = bench.format_table(tiny).splitlines()
    assert lines[0].startswith("torch ") and lines[3].startswith("fmri_vit_tiny/fp32/eager")


# -- the analytic FLOPs --------------------------------------------------------------------------------


def test_step_flops_by_hand_for_the_tiny_model() -> None:
    # fmri_vit_tiny: 116 ROIs x 5 patches of 16 frames; encoder 128 / 4 layers, predictor 64 / 2 layers,
    # MLP 4x, no registers; 30 gradient columns -> Linear(30 -> D/2) position of every ROI
    spec = get_spec("fmri_vit_tiny")
    f = brainjepa_step_flops(spec, 200, 150)

    def block(n: int, d: int) -> int:  # qkv 3d^2 + proj d^2 + MLP 2·d·4d, plus QK^T and AV
        return n * (4 * d * d + 2 * d * 4 * d) + 2 * n * n * d

    patch = 16 * 128  # MACs per token
    pos_e, pos_p = 116 * 30 * 64, 116 * 30 * 32  # MACs of one position Linear call (encoder, predictor)
    target = 2 * (580 * patch + pos_e + 4 * block(580, 128))
    ctx_fwd = 2 * (200 * patch + pos_e + 4 * block(200, 128))
    ctx_bwd = 2 * (200 * patch + pos_e) + 2 * 2 * 4 * block(200, 128)  # data-fed Linears: weight grad only
    pred_mm = 2 * (200 * 128 * 64 + 2 * block(350, 64) + 150 * 64 * 128)  # down, 2 blocks over 200 + 150, up
    pred_fwd = pred_mm + 2 * pos_p
    pred_bwd = 2 * pred_mm + 2 * pos_p
    total = target + ctx_fwd + ctx_bwd + pred_fwd + pred_bwd
    assert total == 3_208_284_160
    assert f.total == pytest.approx(total * 1e-9)
    assert f.target_fwd == pytest.approx(target * 1e-9)
    assert f.context_fwd == pytest.approx(ctx_fwd * 1e-9)
    assert f.predictor_fwd == pytest.approx(pred_fwd * 1e-9)
    assert f.trained_fwd_bwd == pytest.approx((ctx_fwd + ctx_bwd + pred_fwd + pred_bwd) * 1e-9)
    assert f.pos_fwd_per_step == pytest.approx(2 * (2 * pos_e + pos_p) * 1e-9)
    assert (f.n_rois, f.n_patches, f.n_tokens, f.n_ctx, f.n_tgt, f.batch) == (116, 5, 580, 200, 150, 1)
    # the position Linears run once per step: a batch of 4 shares them
    four = brainjepa_step_flops(spec, 200, 150, batch=4)
    per_step_pos = 2 * (2 * pos_e + pos_p) + 2 * (pos_e + pos_p)  # forwards + weight gradients
    assert (f.total - four.total) * 1e9 == pytest.approx(per_step_pos * (1 - 1 / 4))


def test_step_flops_match_torch_flop_counter(monkeypatch: pytest.MonkeyPatch) -> None:
    """The analytic count against torch's FlopCounterMode on one forward + backward of fmri_vit_tiny.

    oneDNN Linear and the fused CPU attention kernel are invisible to the counter: aten Linear and the math
    SDPA backend (plain matmuls) are forced for the measurement.
    """
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from biojepa.masks.base import build_mask, make_mask_rngs
    from biojepa.models import build_jepa
    from biojepa.nn import vit

    monkeypatch.setattr(vit, "_onednn_ok", False)  # aten F.linear (restored after the test)
    spec = get_spec("fmri_vit_tiny")
    batch = 2
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = build_jepa(spec, loss="smooth_l1", target_norm=True).train()
        x = torch.randn(batch, 116, 80)  # (B, R, T)
    masks = build_mask("spatiotemporal", {})((116, 5), make_mask_rngs(0, 0, range(batch)))
    counter = FlopCounterMode(display=False)
    with sdpa_kernel(SDPBackend.MATH), counter:
        out = model(x, masks.ctx_idx, masks.tgt_idx, masks.tgt_valid)
        out.loss.backward()
    counted = counter.get_total_flops() / batch
    f = brainjepa_step_flops(spec, int(masks.ctx_idx.shape[1]), int(masks.tgt_idx.shape[1]), batch=batch)
    assert counted == pytest.approx(f.total * 1e9, rel=1e-3)  # exact today; 0.1 % leaves room for a stray op


def test_fmri_vit_s_step_is_about_one_tflop() -> None:
    # 450 ROIs x 10 patches; K and M near the spatiotemporal mask's means on this grid (~1,100 and ~1,050)
    f = brainjepa_step_flops(get_spec("fmri_vit_s"), 1100, 1050)
    assert f.n_tokens == 4500 and (f.n_rois, f.n_patches) == (450, 10)
    # the target encoder's forward over 4,500 tokens alone is ~0.56 TFLOP; the whole step roughly twice that
    assert 540 < f.target_fwd < 590
    assert 950 < f.total < 1150
    b = brainjepa_step_flops(get_spec("fmri_vit_b"), 1100, 1050)
    # ViT-B (D = 768): the encoder blocks' matmuls cost 4x, attention 2x; the predictor keeps d = 384
    assert 2.5 * f.target_fwd < b.target_fwd < 3 * f.target_fwd and 2 * f.total < b.total < 3 * f.total


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((0, 10), {}, "token counts"),
        ((10, 0), {}, "token counts"),
        ((300, 281), {}, "token counts"),
        ((10, 10), {"batch": 0}, "batch"),
    ],
)
def test_step_flops_rejects_counts_that_do_not_fit(
    args: tuple[int, int], kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        brainjepa_step_flops(get_spec("fmri_vit_tiny"), *args, **kwargs)


def test_step_flops_rejects_a_non_fmri_model() -> None:
    with pytest.raises(ConfigError, match="fmri_roi"):
        brainjepa_step_flops(get_spec("eeg_sjepa_tiny"), 10, 10)


# -- the row plan, CUDA rows, threads ------------------------------------------------------------------


def test_default_plan_on_cpu(fake_rows: list[tuple[Any, ...]]) -> None:
    out = run_fmri_bench(device="cpu")
    assert fake_rows == [
        ("fmri_vit_s", "cpu", 1, 3, 1, "fp32", 2), ("fmri_vit_tiny", "cpu", 8, 5, 2, "fp32", 2)
    ]
    assert [r["name"] for r in out["rows"]] == ["fmri_vit_s/fp32/eager", "fmri_vit_tiny/fp32/eager"]
    assert all(r["mfu_or_peak_ratio"] == pytest.approx(0.5) for r in out["rows"])


def test_batch_and_per_model_overrides(fake_rows: list[tuple[Any, ...]]) -> None:
    run_fmri_bench(device="cpu", batch=4, steps=2, warmup=0, cpu_batches={"fmri_vit_tiny": 16})
    assert [c[:5] for c in fake_rows] == [("fmri_vit_s", "cpu", 4, 2, 0), ("fmri_vit_tiny", "cpu", 16, 2, 0)]


def test_cuda_rows_are_added_when_cuda_is_available(
    monkeypatch: pytest.MonkeyPatch, fake_rows: list[tuple[Any, ...]]
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda dev=None: "Fake GPU")
    out = run_fmri_bench(models=("fmri_vit_tiny",), device="auto")
    assert [c[:6] for c in fake_rows] == [
        ("fmri_vit_tiny", "cpu", 8, 5, 2, "fp32"),
        ("fmri_vit_s", "cuda", 8, 10, 3, "bf16"),
        ("fmri_vit_b", "cuda", 8, 10, 3, "bf16"),
    ]
    assert out["env"]["device"] == "cpu" and out["env"]["gpu"] == "Fake GPU"
    assert out["env"]["cuda_device"] == "cuda" and out["env"]["cuda_matmul_peak_gflops"] == 200.0
    cuda_rows = [r for r in out["rows"] if r["device"] == "cuda"]
    assert [r["name"] for r in cuda_rows] == ["fmri_vit_s/bf16/eager", "fmri_vit_b/bf16/eager"]
    assert all(r["gpu"] == "Fake GPU" for r in cuda_rows)


def test_no_cuda_rows_without_cuda_or_on_cpu(
    monkeypatch: pytest.MonkeyPatch, fake_rows: list[tuple[Any, ...]]
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    run_fmri_bench(models=("fmri_vit_tiny",), device="auto")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    run_fmri_bench(models=("fmri_vit_tiny",), device="cpu")
    assert [c[1] for c in fake_rows] == ["cpu", "cpu"]


def test_threads_are_restored(fake_rows: list[tuple[Any, ...]]) -> None:
    before = torch.get_num_threads()
    run_fmri_bench(models=("fmri_vit_tiny",), threads=1, device="cpu")
    assert fake_rows[0][-1] == 1 and torch.get_num_threads() == before


# -- errors --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch": 0}, "batch"),
        ({"steps": 0}, "steps"),
        ({"warmup": -1}, "warmup"),
        ({"steps": True}, "steps"),
        ({"cuda_batch": 0}, "cuda_batch"),
        ({"seed": -1}, "seed"),
        ({"matmul_n": 0}, "matmul_n"),
        ({"models": ()}, "models"),
        ({"models": "fmri_vit_tiny"}, "models"),
        ({"models": ("fmri_vit_tiny", "fmri_vit_tiny")}, "repeat"),
        ({"models": ("eeg_sjepa_tiny",)}, "not a Brain-JEPA fMRI model"),
        ({"cuda_models": "fmri_vit_s"}, "cuda_models"),
        ({"cuda_models": ("ecg_vit_tiny",)}, "not a Brain-JEPA fMRI model"),
        ({"cpu_batches": {"fmri_vit_s": 2}}, "not in models"),
        ({"cpu_batches": {"fmri_vit_tiny": 0}}, "cpu_batches"),
        ({"cpu_batches": [("fmri_vit_tiny", 2)]}, "cpu_batches"),
        ({"device": "tpu"}, "device"),
        ({"threads": 0}, "threads"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        run_fmri_bench(**{**TINY, **kwargs})


def test_unknown_model() -> None:
    with pytest.raises(UnknownNameError, match="fmri_vit_tinny"):
        run_fmri_bench(**{**TINY, "models": ("fmri_vit_tinny",)})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when CUDA is missing")
def test_cuda_requested_without_cuda() -> None:
    with pytest.raises(ConfigError, match="CUDA"):
        run_fmri_bench(**{**TINY, "device": "cuda"})


def test_bench_package_docstring_lists_fmri() -> None:
    import biojepa.bench

    result = doctest.testmod(biojepa.bench)
    assert result.attempted > 0 and result.failed == 0
