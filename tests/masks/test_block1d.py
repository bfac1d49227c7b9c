"""Tests of the ECG-JEPA block sampler (biojepa.masks.block1d)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from biojepa.errors import ConfigError
from biojepa.masks import MaskSet, make_mask_rngs
from biojepa.masks.block1d import block1d, sample_block_mask

SETTINGS = settings(max_examples=50, deadline=None)


def _runs(mask: np.ndarray) -> list[int]:
    """Lengths of the maximal runs of True in a 1-D bool array."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)  # (N + 2,)
    edges = np.flatnonzero(np.diff(padded))
    return (edges[1::2] - edges[0::2]).tolist()


def _masked(m: MaskSet, n: int) -> np.ndarray:
    out = np.zeros((m.batch_size, n), dtype=bool)  # (B, N)
    np.put_along_axis(out, m.tgt_idx.numpy(), True, axis=1)
    return out


params = st.fixed_dictionaries(
    {
        "n": st.integers(2, 300),
        "lo": st.floats(0.01, 0.95),
        "span": st.floats(0.0, 0.5),
        "min_block": st.integers(1, 40),
        "seed": st.integers(0, 2**31),
        "step": st.integers(0, 10**6),
        "ids": st.lists(st.integers(0, 10**9), min_size=1, max_size=4, unique=True),
    }
)


def _call(p: dict) -> tuple[MaskSet, float, float]:
    lo = p["lo"]
    hi = min(lo + p["span"], 0.99)
    rngs = make_mask_rngs(p["seed"], p["step"], p["ids"])
    return block1d((p["n"],), rngs, keep_min=lo, keep_max=hi, min_block=p["min_block"]), lo, hi


@SETTINGS
@given(params)
def test_block1d_partition_counts_and_runs(p: dict) -> None:
    n, min_block = p["n"], p["min_block"]
    m, lo, hi = _call(p)
    m.validate(n)  # range, sorted, unique, disjoint
    assert m.tgt_valid is None
    assert m.ctx_idx.dtype == torch.int64 and m.tgt_idx.dtype == torch.int64
    k = m.n_ctx
    assert m.batch_size == len(p["ids"])
    assert k + m.n_tgt == n  # union = all tokens (with disjointness)
    # K = ceil(r N) with r in [lo, hi], kept inside [1, N - 1]
    assert min(max(math.ceil(lo * n), 1), n - 1) <= k <= min(max(math.ceil(hi * n), 1), n - 1)
    for row_ctx, row_tgt in zip(m.ctx_idx.tolist(), m.tgt_idx.tolist()):
        assert sorted(row_ctx + row_tgt) == list(range(n))
    masked = _masked(m, n)
    for row in masked:
        runs = _runs(row)
        assert sum(runs) == n - k
        if n - k >= min_block:
            assert min(runs) >= min_block, runs
            assert len(runs) <= (n - k) // min_block
        else:
            assert runs == [n - k]  # a single short block


@SETTINGS
@given(params)
def test_block1d_deterministic_and_split_invariant(p: dict) -> None:
    a, _, _ = _call(p)
    b, _, _ = _call(p)
    assert torch.equal(a.ctx_idx, b.ctx_idx) and torch.equal(a.tgt_idx, b.tgt_idx)
    # the last sample alone (same seed, step, id) gets the same row and the same K
    alone, _, _ = _call({**p, "ids": p["ids"][-1:]})
    assert torch.equal(alone.ctx_idx[0], a.ctx_idx[-1])
    assert torch.equal(alone.tgt_idx[0], a.tgt_idx[-1])


@SETTINGS
@given(st.integers(2, 400), st.integers(1, 30), st.integers(0, 10**6), st.data())
def test_sample_block_mask_exact_count(n: int, min_block: int, seed: int, data: st.DataObject) -> None:
    n_mask = data.draw(st.integers(0, n))
    mask = sample_block_mask(n, n_mask, min_block, np.random.default_rng(seed))
    assert mask.shape == (n,) and mask.dtype == bool
    assert int(mask.sum()) == n_mask
    if n_mask >= min_block:
        assert min(_runs(mask)) >= min_block


def test_block1d_one_run_when_budget_below_two_blocks() -> None:
    """Budget in [min_block, 2 * min_block): the leftover is glued to the first block -> one run."""
    rngs = make_mask_rngs(1, 2, range(64))
    m = block1d((200,), rngs, keep_min=0.93, keep_max=0.93, min_block=10)  # K = 186, 14 masked
    assert m.n_ctx == 186
    lengths = [_runs(row) for row in _masked(m, 200)]
    assert all(r == [14] for r in lengths)
    starts = {int(row[0]) for row in m.tgt_idx.tolist()}
    assert len(starts) > 10  # blocks are placed at varied positions


def test_block1d_ecg_defaults() -> None:
    """ECG-JEPA defaults on 200 patches: 30-50 context, 150-170 targets, blocks of >= 10 patches."""
    ks, rows = set(), set()
    for step in range(20):
        m = block1d((200,), make_mask_rngs(0, step, range(8)))
        m.validate(200)
        assert 30 <= m.n_ctx <= 50 and m.n_ctx + m.n_tgt == 200
        ks.add(m.n_ctx)
        assert all(min(_runs(row)) >= 10 for row in _masked(m, 200))
        rows |= {tuple(r) for r in m.ctx_idx.tolist()}
    assert len(ks) > 3  # K varies from batch to batch
    # rows vary (a few coincide by chance: ~1 % of rows keep exactly the first or the last K tokens)
    assert len(rows) > 140


def test_block1d_seed_changes_masks() -> None:
    a = block1d((200,), make_mask_rngs(0, 0, [0, 1]))
    b = block1d((200,), make_mask_rngs(1, 0, [0, 1]))
    assert a.n_ctx != b.n_ctx or not torch.equal(a.tgt_idx, b.tgt_idx)


def test_block1d_accepts_numpy_grid_ints() -> None:
    m = block1d((np.int64(50),), make_mask_rngs(0, 0, [0]), min_block=np.int64(5))  # type: ignore[arg-type]
    m.validate(50)


@pytest.mark.parametrize(
    ("grid", "kwargs", "match"),
    [
        ((200,), {"keep_min": 0.0}, "0 < keep_min <= keep_max < 1"),
        ((200,), {"keep_min": 0.3, "keep_max": 0.2}, "0 < keep_min <= keep_max < 1"),
        ((200,), {"keep_max": 1.0}, "0 < keep_min <= keep_max < 1"),
        ((200,), {"keep_min": "0.1"}, "must be numbers"),
        ((200,), {"min_block": 0}, "min_block must be an integer >= 1"),
        ((200,), {"min_block": 2.5}, "min_block must be an integer >= 1"),
        ((200,), {"min_block": True}, "min_block must be an integer >= 1"),
        ((12, 200), {}, "1-D token sequence, found a 2-D grid"),
        ((1,), {}, "at least 2 tokens"),
    ],
)
def test_block1d_rejects_bad_config(grid: tuple[int, ...], kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        block1d(grid, make_mask_rngs(0, 0, [0]), **kwargs)
