"""Tests of the uniform random token mask (biojepa.masks.random_tokens)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from biojepa.errors import ConfigError
from biojepa.masks import make_mask_rngs
from biojepa.masks.random_tokens import random_tokens


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(1, 12), min_size=1, max_size=3).filter(lambda g: math.prod(g) >= 2),
    st.floats(0.01, 0.99),
    st.integers(0, 2**31),
    st.lists(st.integers(0, 10**9), min_size=1, max_size=4, unique=True),
)
def test_random_tokens_properties(grid: list[int], keep: float, seed: int, ids: list[int]) -> None:
    n = math.prod(grid)
    m = random_tokens(tuple(grid), make_mask_rngs(seed, 3, ids), keep=keep)
    m.validate(n)
    assert m.batch_size == len(ids)
    assert m.n_ctx == min(max(math.ceil(keep * n), 1), n - 1)
    assert m.n_ctx + m.n_tgt == n
    for c, t in zip(m.ctx_idx.tolist(), m.tgt_idx.tolist()):
        assert sorted(c + t) == list(range(n))
    again = random_tokens(tuple(grid), make_mask_rngs(seed, 3, ids[-1:]), keep=keep)
    assert torch.equal(again.ctx_idx[0], m.ctx_idx[-1])


def test_random_tokens_rows_differ_and_cover_grid() -> None:
    m = random_tokens((4, 25), make_mask_rngs(0, 0, range(16)), keep=0.25)
    assert m.n_ctx == 25 and m.n_tgt == 75
    assert len({tuple(r) for r in m.ctx_idx.tolist()}) == 16
    assert len(set(m.ctx_idx.flatten().tolist())) > 80  # kept tokens spread over the grid


@pytest.mark.parametrize(
    ("grid", "keep", "match"),
    [((10,), 0.0, r"keep must be a number in \(0, 1\)"), ((10,), 1.0, "keep"), ((10,), True, "keep"),
     ((1,), 0.5, "at least 2 tokens"), ((), 0.5, "at least 2 tokens")],
)
def test_random_tokens_rejects(grid: tuple[int, ...], keep: float, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        random_tokens(grid, make_mask_rngs(0, 0, [0]), keep=keep)
