"""S-JEPA models (Guetschel et al. 2024; research note eeg.md §1.1), registered in :data:`biojepa.registry.MODELS`.

Input: EEG in **µV** at **128 Hz**, band-passed 0.5–40 Hz (:func:`~biojepa.adapters.eeg.transforms.preprocess_sjepa`),
no normalisation (as the paper). Channels are matched **by name** to the model's channel table (the signal
contract's ``channels``); their unit-head positions come from the MNE ``standard_1005`` montage unless the spec's
tokenizer arguments give ``positions``. The tokenizer is the per-channel CNN of
:mod:`biojepa.adapters.eeg.tokenizer` (receptive field 152 samples = 1.19 s, one token per second per channel).

=====================  =========  ========  ============  =======================  ==============  ==========
name                   channels   window    tokens        encoder (dim/depth/hd)   predictor       FF width
=====================  =========  ========  ============  =======================  ==============  ==========
``eeg_sjepa``          62 (Lee)   16 s      62 x 15       64 / 8 / 8               64 / 4 / 8      256
``eeg_sjepa_l``        62 (Lee)   16 s      62 x 15       128 / 12 / 8             128 / 6 / 8     512
``eeg_sjepa_tiny``     19 (10-20) 4 s       19 x 3        64 / 2 / 4               64 / 2 / 4      256
=====================  =========  ========  ============  =======================  ==============  ==========

``eeg_sjepa`` is the paper's architecture with the feed-forward width set explicitly to 4 x d (PyTorch's
``nn.Transformer`` default of 2048 = 32 x d inflates the encoder 8-fold; eeg.md §1.6). Recipes pin the
channel table and window of the data they train on (``model.overrides.signal``).
"""

from __future__ import annotations

from collections.abc import Sequence

from biojepa.models.spec import (
    EncoderSpec,
    ModelSpec,
    Normalization,
    PredictorSpec,
    SignalContract,
    TokenizerSpec,
)
from biojepa.registry import MODELS

__all__ = ["LEE2019_CHANNELS", "TEN_TWENTY_19", "sjepa_spec"]

#: The 62 EEG channels of Lee2019 (OpenBMI), S-JEPA's pretraining montage, in alphabetical order.
LEE2019_CHANNELS: tuple[str, ...] = (
    "AF3", "AF4", "AF7", "AF8", "C1", "C2", "C3", "C4", "C5", "C6", "CP1", "CP2", "CP3", "CP4", "CP5", "CP6",
    "CPz", "Cz", "F10", "F3", "F4", "F7", "F8", "F9", "FC1", "FC2", "FC3", "FC4", "FC5", "FC6", "FT10", "FT9",
    "FTT10h", "FTT9h", "Fp1", "Fp2", "Fz", "O1", "O2", "Oz", "P1", "P2", "P3", "P4", "P7", "P8", "PO10", "PO3",
    "PO4", "PO9", "POz", "Pz", "T7", "T8", "TP10", "TP7", "TP8", "TP9", "TPP10h", "TPP8h", "TPP9h", "TTP7h",
)

#: The 19 electrodes of the international 10-20 system (modern T7/T8/P7/P8 names).
TEN_TWENTY_19: tuple[str, ...] = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1",
    "O2",
)

#: S-JEPA's sampling rate (Hz).
SJEPA_SFREQ = 128.0


def sjepa_spec(
    name: str,
    *,
    dim: int = 64,
    depth: int = 8,
    heads: int = 8,
    pred: tuple[int, int, int] = (64, 4, 8),
    channels: Sequence[str] = LEE2019_CHANNELS,
    n_times: int = 2048,
    mlp_ratio: float = 4.0,
) -> ModelSpec:
    """An S-JEPA model spec (µV at 128 Hz, channel table by name, no normalisation)."""
    pdim, pdepth, pheads = pred
    return ModelSpec(
        name=name,
        modality="eeg",
        tokenizer=TokenizerSpec(kind="sjepa_local", args={"montage": "standard_1005", "norm": "group"}),
        encoder=EncoderSpec(dim=dim, depth=depth, n_heads=heads, mlp_ratio=mlp_ratio, bias=True, n_registers=0),
        predictor=PredictorSpec(dim=pdim, depth=pdepth, n_heads=pheads, mlp_ratio=mlp_ratio, bias=True),
        signal=SignalContract(
            sfreq=SJEPA_SFREQ,
            channels=list(channels),
            units="uV",
            n_times=n_times,
            normalization=Normalization(method="none"),
        ),
        description=(
            f"S-JEPA: per-channel conv tokens, position-initialised channel embedding + sinusoidal time; "
            f"encoder {dim}/{depth}/{heads} (FF {int(dim * mlp_ratio)}), predictor {pdim}/{pdepth}/{pheads}; "
            f"{len(channels)} channels at 128 Hz, {n_times / SJEPA_SFREQ:g} s window, µV."
        ),
    )


@MODELS.register("eeg_sjepa", modality="eeg", summary="S-JEPA (Guetschel et al. 2024): 62 ch, 16 s, d=64, 8 layers")
def eeg_sjepa() -> ModelSpec:
    """The paper's architecture: encoder 64/8/8 (FF 256), predictor 64/4/8; Lee2019's 62 channels, 16 s."""
    return sjepa_spec("eeg_sjepa")


@MODELS.register("eeg_sjepa_l", modality="eeg", summary="S-JEPA, wider and deeper: d=128, 12 layers")
def eeg_sjepa_l() -> ModelSpec:
    """Encoder 128/12/8 (FF 512), predictor 128/6/8; Lee2019's 62 channels, 16 s."""
    return sjepa_spec("eeg_sjepa_l", dim=128, depth=12, heads=8, pred=(128, 6, 8))


@MODELS.register("eeg_sjepa_tiny", modality="eeg", summary="CPU-size S-JEPA: 19 ch (10-20), 4 s, 2 layers")
def eeg_sjepa_tiny() -> ModelSpec:
    """Encoder 64/2/4, predictor 64/2/4; the 19 10-20 channels, 4 s (512 samples, 3 tokens per channel)."""
    return sjepa_spec("eeg_sjepa_tiny", depth=2, heads=4, pred=(64, 2, 4), channels=TEN_TWENTY_19, n_times=512)
