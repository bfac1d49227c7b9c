"""Tests of the Brain-JEPA spatiotemporal mask (biojepa.masks.spatiotemporal)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from biojepa.errors import ConfigError
from biojepa.masks import MaskSet, build_mask, make_mask_rngs
from biojepa.masks.spatiotemporal import (
    SpatiotemporalSizes,
    draw_sizes,
    sample_spatiotemporal,
    spatiotemporal,
)
from biojepa.registry import MASKS

SETTINGS = settings(max_examples=40, deadline=None)
DEFAULTS = {
    "enc_mask_scale": (0.84, 1.0),
    "pred_mask_R_scale": (0.45, 0.6),
    "pred_mask_T_roi_scale": (0.2, 0.6),
    "pred_mask_R_roi_scale": (0.15, 0.3),
    "pred_mask_T_scale": (0.0, 0.4),
}


@st.composite
def ranges(draw: st.DrawFn, lo_min: float, hi_min: float) -> tuple[float, float]:
    a = draw(st.floats(lo_min, 1.0))
    b = draw(st.floats(max(a, hi_min), 1.0))
    return (a, b)


params = st.fixed_dictionaries(
    {
        "r": st.integers(8, 40),
        "p": st.integers(4, 12),
        "seed": st.integers(0, 2**31),
        "step": st.integers(0, 10**6),
        "ids": st.lists(st.integers(0, 10**9), min_size=1, max_size=4, unique=True),
        "defaults": st.booleans(),
        "enc_mask_scale": ranges(0.5, 0.5),
        "pred_mask_R_scale": ranges(0.05, 0.05),
        "pred_mask_T_roi_scale": ranges(0.05, 0.05),
        "pred_mask_R_roi_scale": ranges(0.0, 0.0),
        "pred_mask_T_scale": ranges(0.0, 0.0),
    }
)


def _kwargs(p: dict) -> dict:
    return dict(DEFAULTS) if p["defaults"] else {k: p[k] for k in DEFAULTS}


def _call(p: dict, ids: list[int] | None = None) -> MaskSet:
    rngs = make_mask_rngs(p["seed"], p["step"], p["ids"] if ids is None else ids)
    return spatiotemporal((p["r"], p["p"]), rngs, min_keep=1, **_kwargs(p))


def _sizes(p: dict) -> SpatiotemporalSizes:
    """The sizes the mask uses (min_keep=1 always accepts the first draw)."""
    return draw_sizes(p["r"], p["p"], make_mask_rngs(p["seed"], p["step"], []).batch, **_kwargs(p))


def _in_range(count: int, n: int, rng: tuple[float, float], lo_clip: int, hi_clip: int) -> bool:
    """``count`` is a clipped ``int(n * u)`` for some ``u`` in ``[lo, hi]``.

    ``n * lo`` may round either way in floating point (``8 * 0.9999999999999999`` truncates to 7), so the lower
    bound is taken just below it and the upper bound just above it.
    """
    lo = min(max(math.floor(n * rng[0] - 1e-9), lo_clip), hi_clip)
    hi = min(max(math.floor(n * rng[1] + 1e-9), lo_clip), hi_clip)
    return lo <= count <= hi


@SETTINGS
@given(params)
def test_spatiotemporal_invariants_and_ranges(p: dict) -> None:
    r, n_p = p["r"], p["p"]
    kw = _kwargs(p)
    m = _call(p)
    m.validate(r * n_p)  # range, sorted, unique, context and (valid) targets disjoint
    assert m.batch_size == len(p["ids"])
    s = _sizes(p)
    # batch sizes respect the configured ranges
    assert _in_range(s.r_obs, r, kw["enc_mask_scale"], 1, r)
    assert _in_range(s.t_obs, n_p, kw["enc_mask_scale"], 1, n_p)
    assert _in_range(s.r_a, r, kw["pred_mask_R_scale"], 1, r - 1)
    assert _in_range(s.t_a, n_p, kw["pred_mask_T_roi_scale"], 1, s.t_obs)
    assert 2 * s.k_side <= s.t_obs - 1
    assert s.k_side <= max(math.ceil(n_p * kw["pred_mask_T_scale"][1]) - 1, 0)
    for n, f in zip(s.n_cols, s.roi_frac, strict=True):
        assert _in_range(n, n_p, kw["pred_mask_T_scale"], 0, s.k_side)
        assert kw["pred_mask_R_roi_scale"][0] <= f <= kw["pred_mask_R_roi_scale"][1]
    assert max(1, s.r_obs - s.r_a) <= s.r_ctx <= min(s.r_obs, r - s.r_a)
    assert m.n_ctx == s.n_context >= 1

    valid = torch.ones_like(m.tgt_idx, dtype=torch.bool) if m.tgt_valid is None else m.tgt_valid
    counts = []
    for b, sid in enumerate(p["ids"]):
        d = sample_spatiotemporal(r, n_p, s, make_mask_rngs(p["seed"], p["step"], [sid]).samples[0])
        obs, ctx_r, alpha = set(d.obs_rois.tolist()), set(d.ctx_rois.tolist()), set(d.alpha_rois.tolist())
        # observation block: r_obs ROIs x a contiguous window; alpha overlaps it in r_obs - r_ctx ROIs
        assert len(obs) == s.r_obs and len(alpha) == s.r_a and len(ctx_r) == s.r_ctx
        assert ctx_r == obs - alpha and len(obs & alpha) == s.r_obs - s.r_ctx
        win = d.obs_window.tolist()
        assert len(win) == s.t_obs and win == list(range(win[0], win[0] + s.t_obs)) and win[-1] < n_p
        aw = d.alpha_window.tolist()
        assert len(aw) == s.t_a and aw == list(range(aw[0], aw[0] + s.t_a)) and set(aw) <= set(win)
        # side columns: right pool = last k columns of the window, left pool = first k
        right, left = (c.tolist() for c in d.side_cols)
        assert len(right) == s.n_cols[0] and set(right) <= set(win[len(win) - s.k_side :])
        assert len(left) == s.n_cols[1] and set(left) <= set(win[: s.k_side])
        for side, cols in enumerate((right, left)):
            beta, gamma = set(d.beta_rois[side].tolist()), set(d.gamma_rois[side].tolist())
            assert beta <= ctx_r and len(beta) == int(s.roi_frac[side] * s.r_ctx)
            assert gamma <= obs & alpha and len(gamma) == int(s.roi_frac[side] * (s.r_obs - s.r_ctx))
        # the grids are exactly the union of the regions
        expect_t = np.zeros((r, n_p), dtype=bool)
        expect_t[np.ix_(d.alpha_rois, d.alpha_window)] = True
        for side in range(2):
            rows = np.concatenate([d.beta_rois[side], d.gamma_rois[side]])
            expect_t[np.ix_(rows, d.side_cols[side])] = True
        assert np.array_equal(d.target, expect_t)
        expect_c = np.zeros((r, n_p), dtype=bool)
        expect_c[np.ix_(d.ctx_rois, sorted(set(win) - set(right) - set(left)))] = True
        assert np.array_equal(d.context, expect_c)
        assert not (d.context & d.target).any()
        # the batch row is this draw; padding only at the end, repeating the last valid index
        assert m.ctx_idx[b].tolist() == np.flatnonzero(d.context).tolist()
        nv = int(valid[b].sum())
        assert valid[b].tolist() == [True] * nv + [False] * (m.n_tgt - nv)
        assert m.tgt_idx[b, :nv].tolist() == np.flatnonzero(d.target).tolist()
        assert all(t == int(m.tgt_idx[b, nv - 1]) for t in m.tgt_idx[b, nv:].tolist())
        counts.append(nv)
        # context tokens are ROI-major r * P + p of context ROIs inside the window
        toks = m.ctx_idx[b]
        assert set((toks // n_p).tolist()) == ctx_r and set((toks % n_p).tolist()) <= set(win)
    assert max(counts) == m.n_tgt
    assert (m.tgt_valid is None) == (len(set(counts)) == 1)


@SETTINGS
@given(params)
def test_spatiotemporal_is_deterministic_and_split_invariant(p: dict) -> None:
    m = _call(p)
    again = _call(p)
    assert torch.equal(m.ctx_idx, again.ctx_idx) and torch.equal(m.tgt_idx, again.tgt_idx)
    assert (m.tgt_valid is None) == (again.tgt_valid is None)
    valid = torch.ones_like(m.tgt_idx, dtype=torch.bool) if m.tgt_valid is None else m.tgt_valid
    for b, sid in enumerate(p["ids"]):
        alone = _call(p, ids=[sid])  # the same sample alone in its batch gets the same row
        assert alone.tgt_valid is None
        assert torch.equal(alone.ctx_idx[0], m.ctx_idx[b])
        assert torch.equal(alone.tgt_idx[0], m.tgt_idx[b][valid[b]])


def test_spatiotemporal_defaults_on_the_brain_jepa_grid() -> None:
    """450 ROIs x 10 patches: the sizes of fmri.md section 1.4."""
    for step in range(20):
        s = draw_sizes(450, 10, make_mask_rngs(0, step, []).batch, **DEFAULTS)
        assert int(450 * 0.84) <= s.r_obs <= 449 and s.t_obs in (8, 9)
        assert int(450 * 0.45) <= s.r_a <= int(450 * 0.6) and 2 <= s.t_a <= 5
        assert s.k_side == 3 and all(0 <= n <= 3 for n in s.n_cols)
        # context ROIs ~ r_obs * (1 - r_a / R) (the expected overlap of a uniform alpha draw)
        assert abs(s.r_ctx - s.r_obs * (1 - s.r_a / 450)) <= 1
    m = spatiotemporal((450, 10), make_mask_rngs(0, 0, range(8)))
    m.validate(4500)
    assert 0.84 * 0.4 * 450 * 2 <= m.n_ctx <= 0.55 * 450 * 9


def test_spatiotemporal_pads_ragged_targets() -> None:
    # gamma columns that fall inside the alpha window are counted once, so target counts differ per sample
    m = spatiotemporal((40, 10), make_mask_rngs(1, 0, range(32)), pred_mask_T_scale=(0.3, 0.4))
    m.validate(400)
    assert m.tgt_valid is not None
    counts = m.tgt_valid.sum(dim=1)
    assert int(counts.max()) == m.n_tgt and int(counts.min()) < m.n_tgt
    assert len(set(counts.tolist())) > 1


def test_spatiotemporal_without_side_targets_is_the_alpha_block() -> None:
    m = spatiotemporal((12, 6), make_mask_rngs(2, 3, range(5)), pred_mask_T_scale=(0.0, 0.0))
    s = draw_sizes(12, 6, make_mask_rngs(2, 3, []).batch, **{**DEFAULTS, "pred_mask_T_scale": (0.0, 0.0)})
    assert s.k_side == 0 and s.n_cols == (0, 0)
    assert m.tgt_valid is None and m.n_tgt == s.r_a * s.t_a and m.n_ctx == s.r_ctx * s.t_obs


def test_spatiotemporal_min_keep_redraws_sizes() -> None:
    rngs = make_mask_rngs(0, 0, [0, 1])
    m = spatiotemporal((8, 4), rngs, min_keep=12)
    assert m.n_ctx >= 12
    with pytest.raises(ConfigError, match="could not keep min_keep=1000"):
        spatiotemporal((8, 4), make_mask_rngs(0, 0, [0]), min_keep=1000)


def test_spatiotemporal_seed_step_and_sample_change_masks() -> None:
    base = spatiotemporal((30, 10), make_mask_rngs(0, 0, [0, 1]))
    for rngs in (make_mask_rngs(1, 0, [0, 1]), make_mask_rngs(0, 1, [0, 1]), make_mask_rngs(0, 0, [2, 3])):
        other = spatiotemporal((30, 10), rngs)
        assert other.ctx_idx.shape != base.ctx_idx.shape or not torch.equal(other.ctx_idx, base.ctx_idx)


def test_spatiotemporal_is_registered_and_buildable() -> None:
    assert MASKS.get("spatiotemporal") is spatiotemporal
    meta = MASKS.entry("spatiotemporal").meta
    assert meta["modality"] == "fmri" and meta["grid_ndim"] == 2
    assert "spatiotemporal" in MASKS.names(modality="fmri")
    fn = build_mask("spatiotemporal", {"enc_mask_scale": [0.9, 1.0], "min_keep": 2})  # YAML gives lists
    m = fn((20, 6), make_mask_rngs(0, 0, [0, 1, 2]))
    m.validate(120)


@pytest.mark.parametrize(
    ("grid", "kwargs", "match"),
    [
        ((20,), {}, "2-D .* grid, found a 1-D grid"),
        ((4, 5, 2), {}, "2-D .* grid, found a 3-D grid"),
        ((1, 10), {}, ">= 2 ROIs"),
        ((20, 0), {}, ">= 1 time patch"),
        ((20, 10), {"enc_mask_scale": (0.9, 0.8)}, "enc_mask_scale must be a pair"),
        ((20, 10), {"enc_mask_scale": (0.0, 0.0)}, "hi > 0"),
        ((20, 10), {"pred_mask_R_scale": (0.5, 1.2)}, "pred_mask_R_scale must be a pair"),
        ((20, 10), {"pred_mask_T_roi_scale": 0.5}, "pred_mask_T_roi_scale must be a pair"),
        ((20, 10), {"pred_mask_R_roi_scale": (-0.1, 0.2)}, "pred_mask_R_roi_scale must be a pair"),
        ((20, 10), {"pred_mask_T_scale": ("0", "0.4")}, "pred_mask_T_scale must be a pair"),
        ((20, 10), {"pred_mask_T_scale": (0.1, 0.2, 0.3)}, "pred_mask_T_scale must be a pair"),
        ((20, 10), {"pred_mask_T_scale": (True, 0.4)}, "pred_mask_T_scale must be a pair"),
        ((20, 10), {"min_keep": 0}, "min_keep must be an integer >= 1"),
        ((20, 10), {"min_keep": 2.5}, "min_keep must be an integer >= 1"),
    ],
)
def test_spatiotemporal_rejects_bad_config(grid: tuple[int, ...], kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        spatiotemporal(grid, make_mask_rngs(0, 0, [0]), **kwargs)  # type: ignore[arg-type]


def test_spatiotemporal_rejects_empty_batch() -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        spatiotemporal((8, 4), make_mask_rngs(0, 0, []))
