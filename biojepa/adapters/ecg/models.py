"""ECG-JEPA models (research note ecg.md §1.3, §1.5), registered in :data:`biojepa.registry.MODELS`.

All take the 12 standard leads (matched by name, :mod:`biojepa.adapters.ecg.leads`) in millivolts,
z-scored per lead with the training data's statistics and clipped to ±5 (the statistics are filled in from
the data when a model is pretrained and stored in ``config.json``). The tokenizer is a Conv1d over all 12
leads with kernel = stride = one patch: one token mixes every lead of one time window; fixed sinusoidal
positions; one register token; bias-free pre-norm blocks.

=================  ==========  ===========  =========  ===========  ======================  =========
name               sfreq (Hz)  window       patch      tokens       encoder (dim/depth/hd)  predictor
=================  ==========  ===========  =========  ===========  ======================  =========
``ecg_vit_b``      500         10 s (5000)  25 (50ms)  200          768 / 12 / 12           384/12/12
``ecg_vit_s``      500         10 s (5000)  25 (50ms)  200          384 / 8 / 6             192/8/6
``ecg_vit_xs``     500         10 s (5000)  25 (50ms)  200          192 / 8 / 4             96/8/4
``ecg_vit_tiny``   100         5 s (500)    10 (100ms) 50           128 / 4 / 4             64/2/4
=================  ==========  ===========  =========  ===========  ======================  =========

``ecg_vit_tiny`` is biojepa's CPU size (the configuration measured in research note ecg_small_scale.md);
the other three are Weimann & Conrad's.
"""

from __future__ import annotations

from biojepa.adapters.ecg.leads import STANDARD_LEADS
from biojepa.models.spec import (
    EncoderSpec,
    ModelSpec,
    Normalization,
    PredictorSpec,
    SignalContract,
    TokenizerSpec,
)
from biojepa.registry import MODELS

__all__ = ["ecg_spec"]


def ecg_spec(
    name: str,
    dim: int,
    depth: int,
    heads: int,
    pred: tuple[int, int, int],
    *,
    sfreq: float = 500.0,
    n_times: int = 5000,
    patch: int = 25,
) -> ModelSpec:
    """An ECG-JEPA model spec (12 standard leads, mV, per-lead z-score + clip ±5)."""
    pdim, pdepth, pheads = pred
    return ModelSpec(
        name=name,
        modality="ecg",
        tokenizer=TokenizerSpec(kind="patch1d", args={"n_channels": len(STANDARD_LEADS), "patch_size": patch}),
        encoder=EncoderSpec(dim=dim, depth=depth, n_heads=heads, n_registers=1, bias=False),
        predictor=PredictorSpec(dim=pdim, depth=pdepth, n_heads=pheads, bias=False),
        signal=SignalContract(
            sfreq=sfreq,
            channels=list(STANDARD_LEADS),
            units="mV",
            n_times=n_times,
            normalization=Normalization(method="zscore", clip=5.0),
        ),
        description=(
            f"ECG-JEPA ViT ({dim}/{depth}/{heads}, predictor {pdim}/{pdepth}/{pheads}); 12 leads at {sfreq:g} Hz, "
            f"{n_times / sfreq:g} s window, {patch}-sample multi-lead patches."
        ),
    )


@MODELS.register("ecg_vit_tiny", modality="ecg", summary="CPU-size ECG-JEPA (100 Hz, 5 s, 50 tokens)")
def ecg_vit_tiny() -> ModelSpec:
    """Encoder 128/4/4, predictor 64/2/4; 100 Hz, 500 samples, patch 10."""
    return ecg_spec("ecg_vit_tiny", 128, 4, 4, (64, 2, 4), sfreq=100.0, n_times=500, patch=10)


@MODELS.register("ecg_vit_xs", modality="ecg", summary="ECG-JEPA ViT-XS (Weimann & Conrad), 3.6 M params")
def ecg_vit_xs() -> ModelSpec:
    """Encoder 192/8/4, predictor 96/8/4; 500 Hz, 5000 samples, patch 25."""
    return ecg_spec("ecg_vit_xs", 192, 8, 4, (96, 8, 4))


@MODELS.register("ecg_vit_s", modality="ecg", summary="ECG-JEPA ViT-S (Weimann & Conrad), 14.3 M params")
def ecg_vit_s() -> ModelSpec:
    """Encoder 384/8/6, predictor 192/8/6; 500 Hz, 5000 samples, patch 25."""
    return ecg_spec("ecg_vit_s", 384, 8, 6, (192, 8, 6))


@MODELS.register("ecg_vit_b", modality="ecg", summary="ECG-JEPA ViT-B (Weimann & Conrad), 85.2 M params")
def ecg_vit_b() -> ModelSpec:
    """Encoder 768/12/12, predictor 384/12/12; 500 Hz, 5000 samples, patch 25."""
    return ecg_spec("ecg_vit_b", 768, 12, 12, (384, 12, 12))
