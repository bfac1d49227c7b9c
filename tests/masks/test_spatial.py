"""Tests of the S-JEPA spatial block mask (biojepa.masks.spatial)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from biojepa.errors import ConfigError
from biojepa.masks import MaskSet, build_mask, make_mask_rngs
from biojepa.masks.spatial import channel_tokens, sample_spatial_channels, spatial, spatial_block_channels
from biojepa.registry import MASKS

SETTINGS = settings(max_examples=40, deadline=None)

# 62 channels of Lee2019 (OpenBMI), all in MNE's standard_1005 montage
# fmt: off
LEE2019 = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "FC5", "FC1", "FC2", "FC6", "T7",
    "C3", "Cz", "C4", "T8", "TP9", "CP5", "CP1", "CP2", "CP6", "TP10", "P7", "P3",
    "Pz", "P4", "P8", "PO9", "O1", "Oz", "O2", "PO10", "FC3", "FC4", "C5", "C1",
    "C2", "C6", "CP3", "CPz", "CP4", "P1", "P2", "POz", "FT9", "FTT9h", "TTP7h", "TP7",
    "TPP9h", "FT10", "FTT10h", "TPP8h", "TP8", "TPP10h", "F9", "F10", "AF7", "AF3", "AF4", "AF8",
    "PO3", "PO4",
)
# fmt: on


# -- brute-force reference (positions on a 1/8 grid and radii on a 1/16 grid: squared distances are exact) --
def _ref_block(pos: np.ndarray, centre: int, radius: float) -> set[int]:
    out = set()
    for j in range(pos.shape[0]):
        if np.isnan(pos[j]).any():
            continue
        d2 = sum((float(pos[j, a]) - float(pos[centre, a])) ** 2 for a in range(3))
        if d2 < radius * radius:
            out.add(j)
    return out


def _known(pos: np.ndarray) -> list[int]:
    return [c for c in range(pos.shape[0]) if not np.isnan(pos[c]).any()]


def _worst_outside(pos: np.ndarray, radius: float) -> int:
    return min(pos.shape[0] - len(_ref_block(pos, c, radius)) for c in _known(pos))


def _channels_of(tokens: list[int], n_t: int) -> list[int]:
    """Channels of a token row, checking that every channel appears with all its time tokens in order."""
    assert len(tokens) % n_t == 0
    arr = np.asarray(tokens, dtype=np.int64).reshape(-1, n_t)  # (n_ch, N_t)
    chans = (arr[:, 0] // n_t).tolist()
    assert np.array_equal(arr, np.asarray(chans)[:, None] * n_t + np.arange(n_t)[None, :])
    return chans


@st.composite
def montages(draw: st.DrawFn) -> tuple[np.ndarray, float]:
    c = draw(st.integers(2, 16))
    coords = draw(st.lists(st.tuples(*[st.integers(-8, 8)] * 3), min_size=c, max_size=c))
    pos = np.asarray(coords, dtype=np.float64) / 8.0  # (C, 3)
    unknown = draw(st.lists(st.booleans(), min_size=c, max_size=c))
    unknown[draw(st.integers(0, c - 1))] = False  # at least one known position
    pos[np.asarray(unknown)] = np.nan
    radius = draw(st.integers(1, 40)) / 16.0
    return pos, radius


params = st.fixed_dictionaries(
    {
        "montage": montages(),
        "n_t": st.integers(1, 5),
        "n_ctx": st.integers(1, 10),
        "n_tgt": st.integers(1, 10),
        "seed": st.integers(0, 2**31),
        "step": st.integers(0, 10**6),
        "ids": st.lists(st.integers(0, 10**9), min_size=1, max_size=5, unique=True),
        "as_list": st.booleans(),
    }
)


def _call(p: dict, ids: list[int] | None = None) -> MaskSet:
    pos, radius = p["montage"]
    rngs = make_mask_rngs(p["seed"], p["step"], p["ids"] if ids is None else ids)
    return spatial(
        (pos.shape[0], p["n_t"]),
        rngs,
        positions=pos.tolist() if p["as_list"] else pos,
        radius=radius,
        n_context_channels=p["n_ctx"],
        n_target_channels=p["n_tgt"],
    )


@SETTINGS
@given(params)
def test_spatial_blocks_context_and_targets(p: dict) -> None:
    pos, radius = p["montage"]
    c, n_t = pos.shape[0], p["n_t"]
    worst = _worst_outside(pos, radius)
    if worst == 0:
        with pytest.raises(ConfigError, match="radius=.* is too large for this montage"):
            _call(p)
        return
    m = _call(p)
    m.validate(c * n_t)  # range, sorted, unique, context and (valid) targets disjoint
    assert m.batch_size == len(p["ids"])
    k = min(p["n_ctx"], worst)
    assert m.n_ctx == k * n_t
    valid = torch.ones_like(m.tgt_idx, dtype=torch.bool) if m.tgt_valid is None else m.tgt_valid
    known = set(_known(pos))
    n_valid = []
    for b in range(m.batch_size):
        ctx = _channels_of(m.ctx_idx[b].tolist(), n_t)
        row_valid = valid[b].tolist()
        nv = sum(row_valid)
        assert row_valid == [True] * nv + [False] * (m.n_tgt - nv)  # padding only at the end
        tgt_row = m.tgt_idx[b].tolist()
        assert all(t == tgt_row[nv - 1] for t in tgt_row[nv:])  # padding repeats the last valid index
        tgt = _channels_of(tgt_row[:nv], n_t)
        n_valid.append(nv)
        assert tgt and set(tgt) <= known  # NaN positions are never targets
        # some centre with a known position explains the row: targets inside its block, context outside
        fits = [
            cen
            for cen in known
            if set(tgt) <= _ref_block(pos, cen, radius)
            and not set(ctx) & _ref_block(pos, cen, radius)
            and len(tgt) == min(p["n_tgt"], len(_ref_block(pos, cen, radius)))
        ]
        assert fits, (ctx, tgt)
    assert max(n_valid) == m.n_tgt
    assert (m.tgt_valid is None) == (len(set(n_valid)) == 1)


@SETTINGS
@given(params)
def test_spatial_replays_sample_helper_and_is_split_invariant(p: dict) -> None:
    pos, radius = p["montage"]
    n_t = p["n_t"]
    if _worst_outside(pos, radius) == 0:
        return  # covered by the test above
    m = _call(p)
    again = _call(p)
    assert torch.equal(m.ctx_idx, again.ctx_idx) and torch.equal(m.tgt_idx, again.tgt_idx)
    k = m.n_ctx // n_t
    for b, sid in enumerate(p["ids"]):
        # the row is the helper's draw with the sample's own generator
        rng = make_mask_rngs(p["seed"], p["step"], [sid]).samples[0]
        centre, ctx_ch, tgt_ch = sample_spatial_channels(pos, radius, k, p["n_tgt"], rng)
        assert centre in _known(pos)
        block = spatial_block_channels(pos, centre, radius)
        assert set(block.tolist()) == _ref_block(pos, centre, radius)
        assert set(tgt_ch.tolist()) <= set(block.tolist()) and not set(ctx_ch.tolist()) & set(block.tolist())
        assert m.ctx_idx[b].tolist() == channel_tokens(ctx_ch, n_t).tolist()
        nv = len(tgt_ch) * n_t
        assert m.tgt_idx[b, :nv].tolist() == channel_tokens(tgt_ch, n_t).tolist()
        # the same sample alone in its batch gets the same rows
        alone = _call(p, ids=[sid])
        assert torch.equal(alone.ctx_idx[0], m.ctx_idx[b])
        assert torch.equal(alone.tgt_idx[0], m.tgt_idx[b, :nv])


@SETTINGS
@given(montages(), st.data())
def test_spatial_block_channels_matches_brute_force(
    montage: tuple[np.ndarray, float], data: st.DataObject
) -> None:
    pos, radius = montage
    centre = data.draw(st.sampled_from(_known(pos)))
    block = spatial_block_channels(pos, centre, radius)
    assert block.dtype == np.int64 and block.tolist() == sorted(block.tolist())
    assert set(block.tolist()) == _ref_block(pos, centre, radius)
    assert centre in block.tolist()


def test_spatial_block_is_strictly_within_the_radius() -> None:
    pos = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.25, 0.0, 0.0], [0.0, -0.375, 0.0], [np.nan] * 3])
    assert spatial_block_channels(pos, 0, 0.5).tolist() == [0, 2, 3]  # channel 1 is exactly 0.5 away
    assert spatial_block_channels(pos, 1, 0.25).tolist() == [1]  # channel 2 is exactly 0.25 away
    assert spatial_block_channels(pos.tolist(), 2, 0.26).tolist() == [0, 1, 2]


def test_spatial_block_channels_rejects_unknown_centre() -> None:
    pos = np.array([[0.0, 0.0, 1.0], [np.nan, np.nan, np.nan], [1.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="unknown"):
        spatial_block_channels(pos, 1, 0.5)
    with pytest.raises(ValueError, match="channel index"):
        spatial_block_channels(pos, 3, 0.5)


def test_spatial_nan_channels_never_centre_or_target_but_can_be_context() -> None:
    # channels 0-3 known and far apart (each block = the centre only), channels 4-9 unknown
    pos = np.full((10, 3), np.nan)
    pos[:4] = np.eye(4, 3) * 2.0  # (4, 3): rows 2 e_x, 2 e_y, 2 e_z and the origin
    m = spatial((10, 3), make_mask_rngs(0, 0, range(64)), positions=pos, radius=0.5, n_context_channels=9)
    m.validate(30)
    assert m.n_ctx == 9 * 3 and m.n_tgt == 3 and m.tgt_valid is None
    centres = {_channels_of(row, 3)[0] for row in m.tgt_idx.tolist()}
    assert centres == {0, 1, 2, 3}  # every known channel gets drawn, no unknown one
    assert all(set(range(4, 10)) <= set(_channels_of(row, 3)) for row in m.ctx_idx.tolist())


def test_spatial_pads_ragged_targets() -> None:
    # a cluster of 3 close channels plus 5 isolated ones: blocks of size 3 or 1
    pos = np.array(
        [[0, 0, 1], [0.1, 0, 1], [0, 0.1, 1]] + [[2.0 * i, 5.0, 0.0] for i in range(5)], dtype=float
    )
    m = spatial((8, 4), make_mask_rngs(3, 1, range(32)), positions=pos, radius=0.5, n_context_channels=2)
    m.validate(32)
    assert m.tgt_valid is not None and m.n_tgt == 3 * 4
    counts = sorted(set(m.tgt_valid.sum(dim=1).tolist()))
    assert counts == [4, 12]  # 1 or 3 target channels, all 4 time tokens each


def test_spatial_caps_targets_and_context() -> None:
    pos = _lee2019_positions()
    m = spatial((62, 2), make_mask_rngs(0, 0, range(16)), positions=pos, radius=0.8)
    m.validate(124)
    assert m.n_ctx == 8 * 2  # 8 context channels
    assert m.n_tgt == 8 * 2  # 0.8 blocks hold 7-17 channels: at most 8 targets
    assert all(int(v) in {14, 16} for v in (m.tgt_valid.sum(dim=1) if m.tgt_valid is not None else [16]))


def test_spatial_context_shrinks_to_the_montage() -> None:
    # 4 channels on a line 1 apart, radius 1.5: the middle channels' blocks hold 3, leaving 1 outside
    pos = np.array([[float(i), 0.0, 0.0] for i in range(4)])
    m = spatial((4, 2), make_mask_rngs(0, 0, range(8)), positions=pos, radius=1.5, n_context_channels=8)
    assert m.n_ctx == 1 * 2


def _lee2019_positions() -> np.ndarray:
    mne = pytest.importorskip("mne")  # the eeg extra
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # MNE >= 1.13 renames standard_1005 to colin27_1005
        try:
            montage = mne.channels.make_standard_montage("standard_1005", head_size=1.0)
        except ValueError:
            montage = mne.channels.make_standard_montage("colin27_1005", head_size=1.0)
    ch_pos = montage.get_positions()["ch_pos"]
    pos = np.asarray([ch_pos[name] for name in LEE2019], dtype=np.float64)  # (62, 3)
    return pos - pos.mean(axis=0)  # centred (distances do not change)


@pytest.mark.parametrize(("radius", "lo", "hi"), [(0.4, 3.0, 5.0), (0.6, 6.0, 8.5), (0.8, 10.5, 14.0)])
def test_spatial_block_sizes_on_lee2019_montage(radius: float, lo: float, hi: float) -> None:
    """eeg.md section 1.2: mean block of 3.8 / 7.1 / 12.2 channels at radius 0.4 / 0.6 / 0.8."""
    pos = _lee2019_positions()
    assert pos.shape == (62, 3)
    sizes = [len(spatial_block_channels(pos, c, radius)) for c in range(62)]
    assert lo <= float(np.mean(sizes)) <= hi
    # the mask draws centres uniformly: its mean target count follows the block sizes (capped at 8)
    m = spatial((62, 1), make_mask_rngs(5, 0, range(400)), positions=pos, radius=radius)
    per_row = m.tgt_valid.sum(dim=1) if m.tgt_valid is not None else torch.full((400,), m.n_tgt)
    expected = float(np.mean([min(s, 8) for s in sizes]))
    assert abs(float(per_row.float().mean()) - expected) < 0.12 * expected + 0.3


# -- temporal-block option ------------------------------------------------------------------------------
@SETTINGS
@given(
    st.integers(1, 6),
    st.integers(2, 40),
    st.floats(0.05, 0.9),
    st.floats(0.0, 0.3),
    st.integers(1, 10),
    st.integers(0, 2**31),
    st.lists(st.integers(0, 10**9), min_size=1, max_size=4, unique=True),
)
def test_spatial_temporal_option(
    c: int, n_t: int, lo: float, span: float, min_block: int, seed: int, ids: list[int]
) -> None:
    hi = min(lo + span, 0.95)
    pos = np.random.default_rng(0).normal(size=(c, 3))
    kwargs = {"temporal": True, "time_keep_min": lo, "time_keep_max": hi, "time_min_block": min_block}
    rngs = make_mask_rngs(seed, 1, ids)
    if n_t < min_block + 1:
        with pytest.raises(ConfigError, match="N_t >= "):
            spatial((c, n_t), rngs, positions=pos, **kwargs)
        return
    m = spatial((c, n_t), rngs, positions=pos, **kwargs)
    m.validate(c * n_t)
    assert m.tgt_valid is None and m.n_ctx + m.n_tgt == c * n_t
    length = m.n_ctx // c
    assert m.n_ctx == length * c
    assert min_block <= length <= n_t - 1
    assert min(max(math.ceil(lo * n_t), min_block), n_t - 1) <= length
    assert length <= min(max(math.ceil(hi * n_t), min_block), n_t - 1)
    for b in range(m.batch_size):
        ctx = np.asarray(m.ctx_idx[b].tolist()).reshape(c, length)  # (C, L)
        times = ctx % n_t
        assert (ctx // n_t == np.arange(c)[:, None]).all()  # every channel keeps the same time block
        assert (times == times[0]).all()
        assert (np.diff(times[0]) == 1).all()  # contiguous
        assert sorted(m.ctx_idx[b].tolist() + m.tgt_idx[b].tolist()) == list(range(c * n_t))
    alone = spatial((c, n_t), make_mask_rngs(seed, 1, ids[-1:]), positions=pos, **kwargs)
    assert torch.equal(alone.ctx_idx[0], m.ctx_idx[-1])


def test_spatial_temporal_ignores_unknown_positions() -> None:
    pos = np.full((3, 3), np.nan)
    m = spatial((3, 10), make_mask_rngs(0, 0, [0, 1]), positions=pos, temporal=True)
    m.validate(30)
    assert 5 * 3 <= m.n_ctx <= 8 * 3


# -- registry and validation ----------------------------------------------------------------------------
def test_spatial_is_registered_and_buildable() -> None:
    assert MASKS.get("spatial") is spatial
    assert MASKS.entry("spatial").meta["modality"] == "eeg" and MASKS.entry("spatial").meta["grid_ndim"] == 2
    assert "spatial" in MASKS.names(modality="eeg")
    pos = np.random.default_rng(1).normal(size=(12, 3))
    pos /= np.linalg.norm(pos, axis=1, keepdims=True)  # on the unit sphere
    fn = build_mask("spatial", {"positions": pos.tolist(), "radius": 0.6, "n_context_channels": 4})
    m = fn((12, 3), make_mask_rngs(0, 0, [0, 1, 2]))
    m.validate(36)
    assert m.n_ctx == 4 * 3


def test_spatial_seed_changes_masks() -> None:
    pos = _unit_sphere(20)
    a = spatial((20, 2), make_mask_rngs(0, 0, range(4)), positions=pos, n_context_channels=4)
    b = spatial((20, 2), make_mask_rngs(1, 0, range(4)), positions=pos, n_context_channels=4)
    assert not torch.equal(a.ctx_idx, b.ctx_idx)


def _unit_sphere(c: int) -> np.ndarray:
    pos = np.random.default_rng(7).normal(size=(c, 3))
    return pos / np.linalg.norm(pos, axis=1, keepdims=True)  # (C, 3)


@pytest.mark.parametrize(
    ("grid", "kwargs", "match"),
    [
        ((20,), {}, "2-D .* grid, found a 1-D grid"),
        ((4, 20, 2), {}, "2-D .* grid, found a 3-D grid"),
        ((20, 0), {}, ">= 1 time token"),
        ((20, 2), {"positions": np.zeros((20, 2))}, r"shape \(C, 3\)"),
        ((20, 2), {"positions": np.zeros((19, 3))}, "19 rows but the token grid has 20 channels"),
        ((20, 2), {"positions": [["a", "b", "c"]] * 20}, "could not convert"),
        ((20, 2), {"positions": np.full((20, 3), np.inf)}, "infinite"),
        ((20, 2), {"positions": np.full((20, 3), np.nan)}, "every row of positions is NaN"),
        ((20, 2), {"radius": 0.0}, "radius must be a number > 0"),
        ((20, 2), {"radius": -1}, "radius must be a number > 0"),
        ((20, 2), {"radius": True}, "radius must be a number > 0"),
        ((20, 2), {"radius": 2.5}, "too large for this montage"),
        ((20, 2), {"n_context_channels": 0}, "n_context_channels must be an integer >= 1"),
        ((20, 2), {"n_target_channels": 1.5}, "n_target_channels must be an integer >= 1"),
        ((20, 2), {"time_keep_min": 0.0}, "0 < time_keep_min <= time_keep_max < 1"),
        ((20, 2), {"time_keep_min": 0.8, "time_keep_max": 0.7}, "0 < time_keep_min <= time_keep_max < 1"),
        ((20, 2), {"time_keep_max": "0.7"}, "must be numbers"),
        ((20, 2), {"time_min_block": 0}, "time_min_block must be an integer >= 1"),
        ((20, 2), {"temporal": "yes"}, "temporal must be true or false"),
        ((20, 2), {"temporal": True, "time_min_block": 2}, "N_t >= 3"),
    ],
)
def test_spatial_rejects_bad_config(grid: tuple[int, ...], kwargs: dict, match: str) -> None:
    kwargs = {"positions": _unit_sphere(20), **kwargs}
    with pytest.raises(ConfigError, match=match):
        spatial(grid, make_mask_rngs(0, 0, [0]), **kwargs)  # type: ignore[arg-type]


def test_spatial_rejects_empty_batch() -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        spatial((4, 2), make_mask_rngs(0, 0, []), positions=_unit_sphere(4))


def test_spatial_n_contexts_gives_sample_major_rows_each_with_its_own_draw() -> None:
    from biojepa.adapters.eeg.positions import unit_head_positions

    pos = unit_head_positions(list(LEE2019))
    n_t, r = 3, 4
    one = spatial((len(LEE2019), n_t), make_mask_rngs(0, 0, [5, 6]), positions=pos, radius=0.6)
    many = spatial((len(LEE2019), n_t), make_mask_rngs(0, 0, [5, 6]), positions=pos, radius=0.6, n_contexts=r)
    assert many.batch_size == 2 * r and one.batch_size == 2
    # the first draw of each sample is the single-context draw (same per-sample stream)
    for i in range(2):
        assert torch.equal(many.ctx_idx[i * r], one.ctx_idx[i])
    for row in range(2 * r):
        ctx = set(many.ctx_idx[row].tolist())
        valid = many.tgt_valid[row] if many.tgt_valid is not None else torch.ones_like(many.tgt_idx[row], dtype=bool)
        tgt = set(many.tgt_idx[row][valid].tolist())
        assert not ctx & tgt
        _channels_of(sorted(ctx), n_t)
    # views of one input differ (different centres) with overwhelming probability
    assert len({tuple(many.ctx_idx[k].tolist()) for k in range(r)}) > 1
    temporal = spatial((len(LEE2019), 6), make_mask_rngs(0, 0, [1]), positions=pos, temporal=True, n_contexts=3)
    assert temporal.batch_size == 3


def test_spatial_rejects_bad_n_contexts() -> None:
    with pytest.raises(ConfigError, match="n_contexts"):
        spatial((4, 2), make_mask_rngs(0, 0, [0]), positions=np.eye(4, 3), n_contexts=0)
