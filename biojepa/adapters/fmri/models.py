"""Brain-JEPA models (Dong et al. 2024; research note fmri.md §1.5), registered in :data:`biojepa.registry.MODELS`.

Input: ROI x time series at the contract's TR (``signal.tr_s``), each record's ROI means removed and scaled by
the population median / IQR of the training data (``normalization.method = "robust"``, statistics filled in by
pretraining; :mod:`biojepa.adapters.fmri.transforms`). Tokens: one ROI x 16 frames, ROI-major; positions: the
ROI's gradient row through ``Linear(30 -> D/2)`` beside a sin-cos of the time patch
(:mod:`biojepa.adapters.fmri.tokenizer`). The gradient table is fitted on the pretraining subjects when
``biojepa pretrain fmri`` starts (``roi_table: auto``) or read from a file made by ``biojepa fmri gradients``.

==================  =======================  ==========  ===========  ======================  ===============
name                ROIs (atlas)             TR          frames       encoder (dim/depth/hd)  predictor
==================  =======================  ==========  ===========  ======================  ===============
``fmri_vit_s``      450 (Tian S3 + Sch. 400) 2.205 s     160 (10 x16) 384 / 12 / 6            384 / 6 / 6
``fmri_vit_b``      450                      2.205 s     160          768 / 12 / 12           384 / 6 / 12
``fmri_vit_l``      450                      2.205 s     160          1024 / 24 / 16          384 / 6 / 16
``fmri_vit_tiny``   116 (AAL)                2.2 s       80 (5 x 16)  128 / 4 / 4             64 / 2 / 4
==================  =======================  ==========  ===========  ======================  ===============

The 450-ROI sizes keep Brain-JEPA's input (UK Biobank, TR 0.735 s subsampled 3x = 2.205 s, 160 frames): their
ROI names are generic (``ROI001`` ... in the order "50 Tian-S3 subcortical, then 400 Schaefer-17-network
cortical"); give your atlas's names with ``model.overrides.signal.channels=[...]`` (and ``atlas``). The tiny
size is the CPU configuration for AAL-116 data such as ABIDE (80 frames at 2.2 s = 176 s fit every ABIDE site,
OHSU's 77 frames at 2.5 s included).
"""

from __future__ import annotations

from collections.abc import Sequence

from biojepa.adapters.fmri.rois import AAL116, generic_roi_names
from biojepa.models.spec import (
    EncoderSpec,
    ModelSpec,
    Normalization,
    PredictorSpec,
    SignalContract,
    TokenizerSpec,
    channel_order_sha256,
)
from biojepa.registry import MODELS

__all__ = ["BRAINJEPA_TR_S", "brainjepa_spec"]

#: Brain-JEPA's effective TR: UK Biobank's 0.735 s, every third frame.
BRAINJEPA_TR_S = 2.205
#: Brain-JEPA's ROI set: Tian Scale III subcortex (50) then Schaefer-400 17-network cortex (400).
BRAINJEPA_ATLAS = "tian_s3_50+schaefer400_17n"


def brainjepa_spec(
    name: str,
    *,
    dim: int,
    depth: int,
    heads: int,
    pred: tuple[int, int, int] = (384, 6, 6),
    rois: Sequence[str] = generic_roi_names(450),
    atlas: str = BRAINJEPA_ATLAS,
    tr_s: float = BRAINJEPA_TR_S,
    n_frames: int = 160,
    patch_len: int = 16,
    roi_dim: int = 30,
) -> ModelSpec:
    """A Brain-JEPA model spec (robust-scaled ROI series, gradient positions fitted at pretraining)."""
    pdim, pdepth, pheads = pred
    rois = list(rois)
    return ModelSpec(
        name=name,
        modality="fmri",
        tokenizer=TokenizerSpec(
            kind="fmri_roi",
            args={"patch_len": patch_len, "roi_pos": "gradients", "roi_dim": roi_dim, "roi_table": "auto",
                  "roi_norm": "minmax"},
        ),
        encoder=EncoderSpec(dim=dim, depth=depth, n_heads=heads, mlp_ratio=4.0, bias=True, n_registers=0),
        predictor=PredictorSpec(dim=pdim, depth=pdepth, n_heads=pheads, mlp_ratio=4.0, bias=True),
        signal=SignalContract(
            tr_s=tr_s,
            channels=rois,
            units="a.u.",
            n_times=n_frames,
            normalization=Normalization(method="robust"),
            atlas=atlas,
            roi_order_sha256=channel_order_sha256(rois),
        ),
        description=(
            f"Brain-JEPA: ROI x {patch_len}-frame tokens (ROI-major), gradient ({roi_dim}) + sin-cos time positions; "
            f"encoder {dim}/{depth}/{heads}, predictor {pdim}/{pdepth}/{pheads}; {len(rois)} ROIs ({atlas}), "
            f"{n_frames} frames at TR {tr_s:g} s."
        ),
    )


@MODELS.register("fmri_vit_s", modality="fmri", summary="Brain-JEPA ViT-S: 450 ROIs x 160 frames, d=384, 12 layers")
def fmri_vit_s() -> ModelSpec:
    """Encoder 384/12/6 (~22 M), predictor 384/6/6; 450 ROIs, 160 frames at 2.205 s (4,500 tokens)."""
    return brainjepa_spec("fmri_vit_s", dim=384, depth=12, heads=6, pred=(384, 6, 6))


@MODELS.register("fmri_vit_b", modality="fmri", summary="Brain-JEPA ViT-B (the paper's main model): d=768, 12 layers")
def fmri_vit_b() -> ModelSpec:
    """Encoder 768/12/12 (~86 M), predictor 384/6/12; 450 ROIs, 160 frames at 2.205 s."""
    return brainjepa_spec("fmri_vit_b", dim=768, depth=12, heads=12, pred=(384, 6, 12))


@MODELS.register("fmri_vit_l", modality="fmri", summary="Brain-JEPA ViT-L: d=1024, 24 layers")
def fmri_vit_l() -> ModelSpec:
    """Encoder 1024/24/16 (~303 M), predictor 384/6/16; 450 ROIs, 160 frames at 2.205 s."""
    return brainjepa_spec("fmri_vit_l", dim=1024, depth=24, heads=16, pred=(384, 6, 16))


@MODELS.register("fmri_vit_tiny", modality="fmri", summary="CPU-size Brain-JEPA: AAL-116, 80 frames, d=128, 4 layers")
def fmri_vit_tiny() -> ModelSpec:
    """Encoder 128/4/4, predictor 64/2/4; AAL-116 ROIs, 80 frames at 2.2 s (5 patches, 580 tokens)."""
    return brainjepa_spec(
        "fmri_vit_tiny", dim=128, depth=4, heads=4, pred=(64, 2, 4), rois=AAL116, atlas="aal116", tr_s=2.2,
        n_frames=80,
    )
