"""Tests of the Brain-JEPA tokenizer (biojepa.adapters.fmri.tokenizer) and the fmri_vit_* specs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from biojepa.adapters.fmri.gradients import GradientTable, build_gradients
from biojepa.adapters.fmri.rois import AAL116, roi_order_sha256
from biojepa.adapters.fmri.tokenizer import (
    FITTED_TABLE_NAME,
    RoiPatchTokenizer,
    RoiTimeEmbed,
    fit_roi_table,
    placeholder_table,
    table_sha256,
)
from biojepa.data.cache import ArrayStore
from biojepa.errors import ConfigError, ContractError
from biojepa.models import build_encoder, build_jepa, get_spec
from biojepa.nn.pos_embed import sincos_1d
from biojepa.registry import TOKENIZERS


def _blocks(n_rois: int = 24, n_blocks: int = 3, seed: int = 0) -> np.ndarray:
    """A block-structured group FC: ROIs of a block correlate 0.6, others 0.05."""
    rng = np.random.default_rng(seed)
    lab = np.arange(n_rois) * n_blocks // n_rois
    fc = np.where(lab[:, None] == lab[None, :], 0.6, 0.05) + rng.normal(0, 0.01, (n_rois, n_rois))
    fc = (fc + fc.T) / 2
    np.fill_diagonal(fc, 1.0)
    return fc


def test_registered_and_built_by_the_fmri_specs() -> None:
    assert TOKENIZERS.get("fmri_roi") is RoiPatchTokenizer
    for name in ("fmri_vit_tiny", "fmri_vit_s", "fmri_vit_b", "fmri_vit_l"):
        spec = get_spec(name)
        assert spec.tokenizer.kind == "fmri_roi" and spec.modality == "fmri"
        assert spec.signal.roi_order_sha256 == roi_order_sha256(spec.signal.channels)


def test_parameter_counts_match_the_paper_sizes() -> None:
    counts = {n: sum(p.numel() for p in build_encoder(get_spec(n)).parameters()) for n in ("fmri_vit_s",)}
    assert 21e6 < counts["fmri_vit_s"] < 23e6  # ViT-S ~22 M (fmri.md §1.5)


def test_tokens_are_roi_major_patches_of_the_input() -> None:
    tok = RoiPatchTokenizer(8, n_rois=3, patch_len=4, roi_pos="learned")
    x = torch.arange(2 * 3 * 12, dtype=torch.float32).reshape(2, 3, 12)  # (B, R, T)
    assert tok.grid((3, 12)) == (3, 3)
    out = tok.embed(x)  # (2, 9, 8)
    w, b = tok.proj.weight, tok.proj.bias
    for r in range(3):
        for p in range(3):
            manual = x[:, r, 4 * p : 4 * p + 4] @ w.T + b  # (B, D)
            torch.testing.assert_close(out[:, r * 3 + p], manual)
    coords = tok.coords(x)  # (1, 9, 2)
    assert coords[0, 4].tolist() == [1.0, 1.0] and coords[0, 8].tolist() == [2.0, 2.0]
    keep = torch.tensor([[0, 4, 8], [1, 2, 7]])
    torch.testing.assert_close(tok.embed(x, keep), torch.stack([out[0, [0, 4, 8]], out[1, [1, 2, 7]]]))


def test_grid_rejects_wrong_roi_counts_and_lengths() -> None:
    tok = RoiPatchTokenizer(8, n_rois=3, patch_len=4, roi_pos="none")
    with pytest.raises(ContractError, match="3 ROIs, the input has 4"):
        tok.grid((4, 12))
    with pytest.raises(ContractError, match="multiple of the patch length 4"):
        tok.grid((3, 10))
    with pytest.raises(ContractError, match="multiple"):
        tok.grid((3, 2))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"roi_pos": "polar"}, "unknown roi_pos"),
        ({"roi_norm": "zscore"}, "unknown roi_norm"),
        ({"patch_len": 0}, "patch_len"),
        ({"roi_pos": "xyz", "roi_dim": 30}, "roi_dim=3"),
        ({"roi_pos": "xyz", "roi_dim": 3, "roi_table": "auto"}, "xyz table must be given"),
        ({"roi_pos": "gradients", "roi_table": None}, "needs roi_table"),
        ({"roi_table": [[0.0] * 30] * 5}, r"shape \(5, 30\)"),
        ({"roi_table": [[float("nan")] * 30] * 6}, "non-finite"),
    ],
)
def test_bad_arguments_raise_config_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RoiPatchTokenizer(8, n_rois=6, **kwargs)


def test_width_must_split_into_even_halves() -> None:
    with pytest.raises(ConfigError, match="multiple of 4"):
        RoiPatchTokenizer(10, n_rois=4, roi_pos="none")


def test_position_is_sincos_time_beside_a_minmax_scaled_roi_part() -> None:
    table = np.random.default_rng(0).normal(size=(5, 30))
    emb = RoiTimeEmbed(16, 5, "gradients", table, "minmax")
    coords = RoiPatchTokenizer(16, n_rois=5, patch_len=2, roi_table=table).coords(torch.zeros(1, 5, 6))
    out = emb(coords)  # (1, 15, 16)
    torch.testing.assert_close(out[..., :8], sincos_1d(coords[..., 1], 8))
    roi = out[..., 8:]
    assert roi.min().item() == pytest.approx(-1.0) and roi.max().item() == pytest.approx(1.0)
    # every time patch of one ROI shares its ROI half; different ROIs differ
    torch.testing.assert_close(roi[0, 0], roi[0, 2])
    assert not torch.allclose(roi[0, 0], roi[0, 3])
    # the table is a fixed buffer, not a weight (it lives in the spec)
    assert "table" not in emb.state_dict() and not emb.table.requires_grad


@pytest.mark.parametrize("roi_pos", ["learned", "none"])
def test_learned_and_none_providers(roi_pos: str) -> None:
    emb = RoiTimeEmbed(8, 4, roi_pos, None, "minmax")
    coords = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [3.0, 1.0]]])
    out = emb(coords)
    if roi_pos == "none":
        assert torch.count_nonzero(out[..., 4:]) == 0
        assert not list(emb.parameters())
    else:
        assert emb.embedding is not None and emb.embedding.shape == (4, 4)
        assert not torch.allclose(out[0, 0, 4:], out[0, 1, 4:])


def test_layernorm_roi_scaling_normalises_each_roi() -> None:
    table = np.random.default_rng(1).normal(size=(6, 3))
    part = RoiTimeEmbed(16, 6, "xyz", table, "layernorm").roi_part()
    assert part is not None
    torch.testing.assert_close(part.mean(dim=-1), torch.zeros(6), atol=1e-5, rtol=0)


def test_valid_tokens_are_the_fully_covered_patches() -> None:
    tok = RoiPatchTokenizer(8, n_rois=3, patch_len=4, roi_pos="none")
    assert tok.valid_tokens((3, 16), 9).tolist() == [0, 1, 4, 5, 8, 9]
    assert tok.valid_tokens((3, 16), 16).tolist() == list(range(12))
    with pytest.raises(ContractError, match="shorter than one patch"):
        tok.valid_tokens((3, 16), 3)


def test_auto_table_is_a_placeholder_until_fitted() -> None:
    tok = RoiPatchTokenizer(8, n_rois=5, roi_dim=4)
    assert not tok.table_fitted
    np.testing.assert_allclose(tok.table, placeholder_table(5, 4))
    assert len({tuple(r) for r in np.round(tok.table, 6)}) == 5  # the placeholder tells ROIs apart
    fitted = RoiPatchTokenizer(8, n_rois=5, roi_dim=4, roi_table=np.ones((5, 4)).tolist())
    assert fitted.table_fitted


def test_table_file_is_read_and_verified(tmp_path: Path) -> None:
    gt = build_gradients(_blocks(), k=4)
    path = gt.save(tmp_path / "g.npy")
    tok = RoiPatchTokenizer(8, n_rois=24, roi_dim=4, roi_table=str(path), roi_table_sha256=gt.sha256())
    np.testing.assert_allclose(tok.table, gt.gradients)
    assert tok.roi_table_sha256 == gt.sha256()
    with pytest.raises(ConfigError, match="does not match"):
        RoiPatchTokenizer(8, n_rois=24, roi_dim=4, roi_table=str(path), roi_table_sha256="0" * 64)
    with pytest.raises(ConfigError, match="shape"):
        RoiPatchTokenizer(8, n_rois=20, roi_dim=4, roi_table=str(path))
    with pytest.raises(ConfigError, match="not found"):
        RoiPatchTokenizer(8, n_rois=24, roi_dim=4, roi_table=str(tmp_path / "missing.npy"))


def test_xyz_table_from_csv(tmp_path: Path) -> None:
    xyz = np.random.default_rng(2).normal(size=(4, 3)) * 40
    f = tmp_path / "centroids.csv"
    f.write_text("label,x,y,z\n" + "".join(f"{i},{a},{b},{c}\n" for i, (a, b, c) in enumerate(xyz)), encoding="utf-8")
    tok = RoiPatchTokenizer(8, n_rois=4, roi_pos="xyz", roi_dim=3, roi_table=str(f))
    np.testing.assert_allclose(tok.table, xyz)
    assert tok.roi_table_sha256 == table_sha256(xyz)


def _store(n: int = 6, r: int = 24, t: int = 64, seed: int = 0) -> ArrayStore:
    """Records whose ROIs share three block signals (the FC has three blocks)."""
    rng = np.random.default_rng(seed)
    lab = np.arange(r) * 3 // r
    x = np.stack([rng.normal(size=(3, t))[lab] + 0.5 * rng.normal(size=(r, t)) for _ in range(n)])
    return ArrayStore(x.astype(np.float32), sfreq=0.5)


def _spec(n_rois: int = 24, **args: object):
    names = [f"R{i}" for i in range(n_rois)]
    return get_spec(
        "fmri_vit_tiny",
        tokenizer={"args": {"roi_dim": 4, **args}},
        signal={"channels": names, "roi_order_sha256": roi_order_sha256(names), "n_times": 32},
        encoder={"depth": 1},
        predictor={"depth": 1},
    )


def test_fit_spec_fits_gradients_on_the_training_records_and_reuses_them(tmp_path: Path) -> None:
    spec = _spec()
    store = _store()
    fitted = RoiPatchTokenizer.fit_spec(spec, {"synth": store}, tmp_path)
    args = fitted.tokenizer.args
    assert np.asarray(args["roi_table"]).shape == (24, 4)
    saved = GradientTable.load(tmp_path / FITTED_TABLE_NAME)
    assert args["roi_table_sha256"] == saved.sha256()
    assert args["roi_table_origin"]["kind"] == "fitted" and args["roi_table_origin"]["n_records"] == 6
    np.testing.assert_allclose(args["roi_table"], fit_roi_table([store.get(i) for i in range(6)], k=4).gradients)
    # (that the builder recovers block structure is tested in test_gradients.py)
    # a resumed run reuses the saved table, not a refit on other data
    again = RoiPatchTokenizer.fit_spec(spec, {"synth": _store(seed=5)}, tmp_path)
    assert again.tokenizer.args["roi_table_sha256"] == args["roi_table_sha256"]
    # the fitted spec builds a model whose positions come from the values, no file needed
    enc = build_encoder(fitted)
    assert enc.tokenizer.table_fitted
    np.testing.assert_allclose(enc.pos_embed.table.numpy(), np.asarray(args["roi_table"]), rtol=1e-6)


def test_fit_spec_resolves_a_path_and_ignores_other_providers(tmp_path: Path) -> None:
    gt = build_gradients(_blocks(), k=4)
    path = gt.save(tmp_path / "t.npy")
    spec = _spec(roi_table=str(path), roi_table_sha256=gt.sha256())
    fitted = RoiPatchTokenizer.fit_spec(spec, {}, None)
    assert fitted.tokenizer.args["roi_table_origin"] == {"kind": "file", "path": str(path.absolute())}
    np.testing.assert_allclose(fitted.tokenizer.args["roi_table"], gt.gradients)
    assert RoiPatchTokenizer.fit_spec(_spec(roi_pos="learned"), {}, None) is None
    inline = _spec(roi_table=gt.gradients.tolist())
    assert RoiPatchTokenizer.fit_spec(inline, {}, None) is None


def test_encoder_and_predictor_share_the_table_but_not_the_projection() -> None:
    table = np.random.default_rng(3).normal(size=(24, 4))
    model = build_jepa(_spec(roi_table=table.tolist()), loss="smooth_l1", target_norm=True)
    enc_pe, pred_pe = model.context_encoder.pos_embed, model.predictor.pos_embed
    torch.testing.assert_close(enc_pe.table, pred_pe.table)
    assert enc_pe.proj.weight.shape == (64, 4) and pred_pe.proj.weight.shape == (32, 4)
    assert enc_pe.proj.weight.data_ptr() != pred_pe.proj.weight.data_ptr()


def test_aal116_table_names() -> None:
    assert len(AAL116) == len(set(AAL116)) == 116
    assert AAL116[0] == "Precentral_L" and AAL116[-1] == "Vermis_10"
