"""Models for synthetic multichannel signals: the demo/test models and the benchmark shapes.

``synthetic_vit_xs`` and ``synthetic_vit_s`` have exactly the ECG-JEPA ViT-XS / ViT-S shapes (12 channels,
5000 samples at 500 Hz, patch 25 -> 200 tokens, bias-free, one register token; research note ecg.md §1.5),
so the engine benchmark measures the real pretraining step before any ECG data exists.
"""

from __future__ import annotations

from biojepa.models.spec import EncoderSpec, ModelSpec, PredictorSpec, SignalContract, TokenizerSpec
from biojepa.registry import MODELS


def _channels(n: int) -> list[str]:
    return [f"S{i + 1}" for i in range(n)]


@MODELS.register("synthetic_vit_tiny", modality="synthetic", summary="tiny ViT for demos and CPU tests")
def synthetic_vit_tiny() -> ModelSpec:
    """4 channels × 1024 samples at 128 Hz, patch 16 -> 64 tokens, width 64, 2 blocks."""
    return ModelSpec(
        name="synthetic_vit_tiny",
        modality="synthetic",
        tokenizer=TokenizerSpec(kind="patch1d", args={"n_channels": 4, "patch_size": 16}),
        encoder=EncoderSpec(dim=64, depth=2, n_heads=4, n_registers=1),
        predictor=PredictorSpec(dim=32, depth=2, n_heads=4),
        signal=SignalContract(sfreq=128.0, channels=_channels(4), units="a.u.", n_times=1024),
        description="Tiny synthetic-signal ViT used by the demo (`biojepa pretrain synthetic`) and tests.",
    )


def _ecg_shape(name: str, dim: int, depth: int, heads: int, pdim: int, pdepth: int, pheads: int) -> ModelSpec:
    return ModelSpec(
        name=name,
        modality="synthetic",
        tokenizer=TokenizerSpec(kind="patch1d", args={"n_channels": 12, "patch_size": 25}),
        encoder=EncoderSpec(dim=dim, depth=depth, n_heads=heads, n_registers=1),
        predictor=PredictorSpec(dim=pdim, depth=pdepth, n_heads=pheads),
        signal=SignalContract(sfreq=500.0, channels=_channels(12), units="a.u.", n_times=5000),
        description=f"ECG-JEPA-shaped ViT ({dim}/{depth}/{heads}, predictor {pdim}/{pdepth}/{pheads}) on "
        "synthetic 12-channel input; used by `biojepa bench engine`.",
    )


@MODELS.register("synthetic_vit_xs", modality="synthetic", summary="ECG-JEPA ViT-XS shape (benchmarks)")
def synthetic_vit_xs() -> ModelSpec:
    """Encoder 192/8/4, predictor 96/8/4, 12×5000 input, patch 25."""
    return _ecg_shape("synthetic_vit_xs", 192, 8, 4, 96, 8, 4)


@MODELS.register("synthetic_vit_s", modality="synthetic", summary="ECG-JEPA ViT-S shape (benchmarks)")
def synthetic_vit_s() -> ModelSpec:
    """Encoder 384/8/6, predictor 192/8/6, 12×5000 input, patch 25."""
    return _ecg_shape("synthetic_vit_s", 384, 8, 6, 192, 8, 6)
