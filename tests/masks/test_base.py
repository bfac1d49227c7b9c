"""Tests of biojepa.masks.base: MaskSet, make_mask_rngs, stack_rows, build_mask."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from biojepa.errors import ConfigError, UnknownNameError
from biojepa.masks import MaskRngs, MaskSet, build_mask, make_mask_rngs, stack_rows
from biojepa.masks.base import MASK_BATCH_TAG, MASK_SAMPLE_TAG
from biojepa.registry import MASKS


def _ms(ctx: list[list[int]], tgt: list[list[int]], valid: list[list[bool]] | None = None) -> MaskSet:
    v = None if valid is None else torch.tensor(valid, dtype=torch.bool)
    return MaskSet(torch.tensor(ctx, dtype=torch.int64), torch.tensor(tgt, dtype=torch.int64), v)


# -- MaskSet ----------------------------------------------------------------------------------------


def test_maskset_properties_and_valid_passes() -> None:
    m = _ms([[0, 2], [1, 3]], [[1, 3, 4], [0, 2, 4]])
    assert (m.batch_size, m.n_ctx, m.n_tgt) == (2, 2, 3)
    m.validate(5)


@pytest.mark.parametrize(
    ("ctx", "tgt", "n", "match"),
    [
        ([[0, 5]], [[1, 2]], 5, "out of range"),
        ([[0, 1]], [[-1, 2]], 5, "out of range"),
        ([[2, 0]], [[1, 3]], 5, "not sorted"),
        ([[0, 2]], [[3, 1]], 5, "not sorted"),
        ([[0, 0]], [[1, 2]], 5, "repeats index 0"),
        ([[0, 1]], [[2, 2]], 5, "repeats index 2"),
        ([[0, 1], [0, 2]], [[2, 3], [2, 3]], 5, r"row 1: tokens \[2\] are both"),
    ],
)
def test_maskset_validate_rejects(ctx: list[list[int]], tgt: list[list[int]], n: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _ms(ctx, tgt).validate(n)


def test_maskset_validate_ignores_padding_but_checks_valid_part() -> None:
    m = _ms([[0], [0]], [[1, 2, 2], [3, 3, 3]], [[True, True, False], [True, False, False]])
    m.validate(4)
    bad = _ms([[1], [0]], [[1, 2, 2], [3, 3, 3]], [[True, True, False], [True, False, False]])
    with pytest.raises(ValueError, match="both context and target"):
        bad.validate(4)


def test_maskset_construction_checks_structure() -> None:
    with pytest.raises(ValueError, match="2-D int64"):
        MaskSet(torch.zeros(2, 3, dtype=torch.int32), torch.zeros(2, 1, dtype=torch.int64))
    with pytest.raises(ValueError, match="batch sizes differ"):
        MaskSet(torch.zeros(2, 3, dtype=torch.int64), torch.zeros(1, 1, dtype=torch.int64))
    with pytest.raises(ValueError, match="tgt_valid"):
        MaskSet(
            torch.zeros(2, 3, dtype=torch.int64),
            torch.zeros(2, 1, dtype=torch.int64),
            torch.ones(2, 2).bool(),
        )


def test_maskset_to_returns_copy_on_device() -> None:
    m = _ms([[0]], [[1, 2]], [[True, False]])
    m2 = m.to("cpu")
    assert m2 is not m and m2.ctx_idx.device.type == "cpu"
    assert torch.equal(m2.tgt_valid, m.tgt_valid)  # type: ignore[arg-type]
    assert _ms([[0]], [[1]]).to(torch.device("cpu")).tgt_valid is None


# -- make_mask_rngs -----------------------------------------------------------------------------------


def _draws(rngs: MaskRngs) -> tuple[float, list[float]]:
    return float(rngs.batch.random()), [float(g.random()) for g in rngs.samples]


def test_rngs_independent_of_batch_split() -> None:
    full_b, full_s = _draws(make_mask_rngs(7, 3, [10, 11, 12, 13]))
    part_b, part_s = _draws(make_mask_rngs(7, 3, [12, 13]))
    assert part_b == full_b
    assert part_s == full_s[2:]
    reord_b, reord_s = _draws(make_mask_rngs(7, 3, [13, 10]))
    assert reord_b == full_b and reord_s == [full_s[3], full_s[0]]


def test_rngs_depend_on_seed_step_and_id() -> None:
    base_b, base_s = _draws(make_mask_rngs(0, 0, [0, 1]))
    assert base_s[0] != base_s[1]
    for seed, step in [(1, 0), (0, 1)]:
        b, s = _draws(make_mask_rngs(seed, step, [0, 1]))
        assert b != base_b and s != base_s


def test_rngs_are_a_stream_of_their_own() -> None:
    """The mask streams differ from plain (seed, step[, id]) seeds that a data stream would use."""
    b, s = _draws(make_mask_rngs(3, 4, [5]))
    assert b != np.random.default_rng([3, 4]).random()
    assert s[0] != np.random.default_rng([3, 4, 5]).random()
    assert b != s[0]
    assert MASK_BATCH_TAG != 0 and MASK_SAMPLE_TAG != 0 and MASK_BATCH_TAG != MASK_SAMPLE_TAG


@pytest.mark.parametrize(("seed", "step", "ids"), [(-1, 0, [0]), (0, -2, [0]), (0, 0, [-3]), (0.5, 0, [0])])
def test_rngs_reject_bad_numbers(seed: object, step: object, ids: list[object]) -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        make_mask_rngs(seed, step, ids)  # type: ignore[arg-type]


def test_rngs_accept_numpy_ints() -> None:
    a = _draws(make_mask_rngs(np.int64(2), np.int32(1), np.array([4, 5])))  # type: ignore[arg-type]
    assert a == _draws(make_mask_rngs(2, 1, [4, 5]))


# -- stack_rows ---------------------------------------------------------------------------------------


def test_stack_rows_equal_lengths() -> None:
    m = stack_rows([np.array([0, 3]), np.array([1, 2])], [np.array([1, 2]), np.array([0, 3])])
    assert m.tgt_valid is None
    assert m.ctx_idx.dtype == torch.int64 and m.ctx_idx.tolist() == [[0, 3], [1, 2]]
    m.validate(4)


def test_stack_rows_pads_ragged_targets() -> None:
    m = stack_rows([np.array([0]), np.array([5])], [np.array([1, 2, 4]), np.array([3])])
    assert m.tgt_idx.tolist() == [[1, 2, 4], [3, 3, 3]]
    assert m.tgt_valid is not None
    assert m.tgt_valid.tolist() == [[True, True, True], [True, False, False]]
    m.validate(6)


@pytest.mark.parametrize(
    ("ctx", "tgt", "match"),
    [
        ([[0, 1], [2]], [[2], [0]], "same length"),
        ([[0]], [[1], [2]], "one context and one target row"),
        ([], [], "one context and one target row"),
        ([[0], [1]], [[1, 2], []], "target row 1 is empty"),
    ],
)
def test_stack_rows_rejects(ctx: list[list[int]], tgt: list[list[int]], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        stack_rows([np.array(r, dtype=np.int64) for r in ctx], [np.array(r, dtype=np.int64) for r in tgt])


# -- registry and build_mask --------------------------------------------------------------------------


def test_registry_lists_masks_with_meta() -> None:
    names = MASKS.names()
    assert {"block1d", "random_tokens"} <= set(names)
    for name in ("block1d", "random_tokens"):
        meta = MASKS.entry(name).meta
        assert meta["modality"] == "any"
        assert isinstance(meta["summary"], str) and meta["summary"]


def test_build_mask_binds_params_and_pickles() -> None:
    fn = build_mask("block1d", {"min_block": 3, "keep_min": 0.3, "keep_max": 0.3})
    fn2 = pickle.loads(pickle.dumps(fn))
    a = fn((20,), make_mask_rngs(0, 0, [0, 1]))
    b = fn2((20,), make_mask_rngs(0, 0, [0, 1]))
    assert a.n_ctx == 6  # ceil(0.3 * 20)
    assert torch.equal(a.ctx_idx, b.ctx_idx) and torch.equal(a.tgt_idx, b.tgt_idx)


def test_build_mask_rejects_unknown_params_listing_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"'min_blok'.*valid parameters: keep_min, keep_max, min_block"):
        build_mask("block1d", {"min_blok": 3})
    with pytest.raises(ConfigError, match="valid parameters: keep"):
        build_mask("random_tokens", {"grid": (3,)})


def test_build_mask_unknown_name() -> None:
    with pytest.raises(UnknownNameError, match="block1d"):
        build_mask("block2d", {})
