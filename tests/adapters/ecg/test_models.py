"""The registered ECG-JEPA models: published sizes, token counts, signal contracts, reduced lead sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biojepa.adapters.ecg.leads import STANDARD_LEADS, conform_leads
from biojepa.errors import ContractError
from biojepa.models import build_jepa, create_model, get_spec, list_models

# learnable encoder parameters of Weimann & Conrad's configs (research note ecg.md §1.5)
PUBLISHED = {"ecg_vit_xs": 3_600_000, "ecg_vit_s": 14_277_888, "ecg_vit_b": 85_185_024}


def test_the_ecg_models_are_registered() -> None:
    assert list_models("ecg_*") == ["ecg_vit_b", "ecg_vit_s", "ecg_vit_tiny", "ecg_vit_xs"]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_encoder_sizes_match_the_paper_exactly(name: str) -> None:
    enc = create_model(name)
    assert sum(p.numel() for p in enc.parameters() if p.requires_grad) == PUBLISHED[name]


@pytest.mark.parametrize(
    ("name", "dim", "depth", "heads", "pred"),
    [("ecg_vit_xs", 192, 8, 4, (96, 8, 4)), ("ecg_vit_s", 384, 8, 6, (192, 8, 6)),
     ("ecg_vit_b", 768, 12, 12, (384, 12, 12)), ("ecg_vit_tiny", 128, 4, 4, (64, 2, 4))],
)
def test_specs(name: str, dim: int, depth: int, heads: int, pred: tuple[int, int, int]) -> None:
    s = get_spec(name)
    assert (s.encoder.dim, s.encoder.depth, s.encoder.n_heads) == (dim, depth, heads)
    assert (s.predictor.dim, s.predictor.depth, s.predictor.n_heads) == pred
    assert s.encoder.bias is False and s.predictor.bias is False and s.encoder.n_registers == 1
    assert s.modality == "ecg" and s.signal.channels == list(STANDARD_LEADS) and s.signal.units == "mV"
    assert s.signal.normalization.method == "zscore" and s.signal.normalization.clip == 5.0
    assert s.tokenizer.kind == "patch1d" and s.tokenizer.args["n_channels"] == 12


@pytest.mark.parametrize("name", ["ecg_vit_xs", "ecg_vit_s", "ecg_vit_b"])
def test_ecg_jepa_tokenisation_is_200_tokens_of_50_ms(name: str) -> None:
    s = get_spec(name)
    assert s.signal.sfreq == 500.0 and s.signal.n_times == 5000 and s.tokenizer.args["patch_size"] == 25
    jepa = build_jepa(s)
    assert jepa.context_encoder.tokenizer.grid((12, 5000)) == (200,)
    assert jepa.context_encoder.tokenizer.grid((12, 1250)) == (50,)  # the 2.5-s evaluation window


def test_tiny_model_runs_on_a_window_and_on_a_shorter_crop() -> None:
    enc = create_model("ecg_vit_tiny").eval()
    with torch.inference_mode():
        assert enc(torch.zeros(2, 12, 500)).shape == (2, 50, 128)
        assert enc(torch.zeros(2, 12, 250)).shape == (2, 25, 128)  # 2.5 s: what the PTB-XL protocol feeds


def test_reduced_lead_sets_raise_by_default_and_fill_only_when_asked() -> None:
    x = np.random.default_rng(0).normal(size=(8, 500)).astype(np.float32)
    eight = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]
    with pytest.raises(ContractError, match=r"III, aVR, aVL, aVF are missing"):
        conform_leads(x, eight)
    full, present = conform_leads(x, eight, missing="fill")
    assert full.shape == (12, 500) and present.sum() == 8
    np.testing.assert_array_equal(full[~present], 0.0)
    np.testing.assert_array_equal(full[STANDARD_LEADS.index("V3")], x[eight.index("V3")])
    enc = create_model("ecg_vit_tiny").eval()
    with torch.inference_mode():
        out = enc(torch.from_numpy(full)[None])
    assert out.shape == (1, 50, 128) and torch.isfinite(out).all()
    single, present1 = conform_leads(x[:1], ["MLII"], missing="fill")  # Holter lead name -> II
    assert present1.tolist() == [i == 1 for i in range(12)]
    np.testing.assert_array_equal(single[1], x[0])
