"""Tests of biojepa.masks.collator: Batch and MaskCollator (incl. DataLoader worker independence)."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from biojepa.errors import ConfigError, UnknownNameError
from biojepa.masks import Batch, MaskCollator

C, T, PATCH, B, STEPS = 2, 40, 4, 3, 4  # grid (10,)


@dataclass(frozen=True)
class FakeSample:
    x: np.ndarray
    sample_id: int
    step: int
    source: str


def make_sample(step: int, slot: int) -> FakeSample:
    sid = step * B + slot
    x = np.full((C, T), float(sid), dtype=np.float32)  # (C, T)
    return FakeSample(x=x, sample_id=sid, step=step, source=f"src{slot % 2}")


class FakeDataset(Dataset):
    """Map-style dataset indexed by (step, slot)."""

    def __len__(self) -> int:
        return STEPS * B

    def __getitem__(self, key: tuple[int, int]) -> FakeSample:
        return make_sample(*key)


class StepBatches(Sampler):
    """One batch of keys per step."""

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(STEPS):
            yield [(step, slot) for slot in range(B)]

    def __len__(self) -> int:
        return STEPS


def patch_grid(shape: tuple[int, int]) -> tuple[int, ...]:
    return (shape[1] // PATCH,)


def _collator(seed: int = 0, **kw: object) -> MaskCollator:
    return MaskCollator("block1d", {"min_block": 2, "keep_min": 0.2, "keep_max": 0.5}, patch_grid, seed, **kw)


def _batches(collator: MaskCollator, num_workers: int) -> list[Batch]:
    loader = DataLoader(
        FakeDataset(), batch_sampler=StepBatches(), collate_fn=collator, num_workers=num_workers
    )
    return list(loader)


def _key(b: Batch) -> tuple:
    m = b.masks
    ids = b.sample_ids.tolist()
    return (b.step, ids, b.sources, m.ctx_idx.tolist(), m.tgt_idx.tolist(), b.x.sum().item())


def test_collator_builds_batch() -> None:
    coll = _collator(validate=True)
    batch = coll([make_sample(5, s) for s in range(B)])
    assert batch.x.shape == (B, C, T) and batch.x.dtype == torch.float32
    assert batch.step == 5
    assert batch.sample_ids.dtype == torch.int64 and batch.sample_ids.tolist() == [15, 16, 17]
    assert batch.sources == ["src0", "src1", "src0"]
    assert len(batch) == B
    assert batch.masks.batch_size == B and batch.masks.n_ctx + batch.masks.n_tgt == T // PATCH
    assert torch.equal(batch.x[1], torch.full((C, T), 16.0))
    moved = batch.to("cpu")
    assert moved is not batch and torch.equal(moved.masks.ctx_idx, batch.masks.ctx_idx)


def test_masks_independent_of_worker_count() -> None:
    coll = _collator(seed=3)
    main = _batches(coll, 0)
    workers = _batches(coll, 2)
    assert [b.step for b in main] == list(range(STEPS))
    assert [_key(b) for b in main] == [_key(b) for b in workers]
    # and independent of how a step's samples are split into sub-batches
    half = coll([make_sample(2, s) for s in range(1, B)])
    assert half.masks.ctx_idx.tolist() == main[2].masks.ctx_idx[1:].tolist()


def test_different_seeds_give_different_masks() -> None:
    a = [_key(b)[3:5] for b in _batches(_collator(seed=0), 0)]
    b = [_key(b)[3:5] for b in _batches(_collator(seed=1), 0)]
    assert a != b


def test_collator_pickles() -> None:
    coll = MaskCollator("random_tokens", {"keep": 0.5}, (10,), seed=4)
    clone = pickle.loads(pickle.dumps(coll))
    samples = [make_sample(1, s) for s in range(B)]
    assert _key(coll(samples)) == _key(clone(samples))
    assert "random_tokens" in repr(coll)


def test_collator_rejects_mixed_steps_and_shapes() -> None:
    coll = _collator()
    with pytest.raises(ValueError, match=r"share one step, found steps \[0, 1\]"):
        coll([make_sample(0, 0), make_sample(1, 0)])
    odd = FakeSample(np.zeros((C, T + 4), dtype=np.float32), 1, 0, "x")
    with pytest.raises(ValueError, match="one shape"):
        coll([make_sample(0, 0), odd])
    with pytest.raises(ValueError, match="empty"):
        coll([])


def test_collator_config_errors_early() -> None:
    with pytest.raises(ConfigError, match="valid parameters"):
        MaskCollator("block1d", {"keep": 0.5}, (10,), 0)
    with pytest.raises(ConfigError, match="keep_min"):
        MaskCollator("block1d", {"keep_min": 2.0}, (10,), 0)
    with pytest.raises(ConfigError, match="seed"):
        MaskCollator("block1d", {}, (10,), -1)
    with pytest.raises(UnknownNameError):
        MaskCollator("nope", {}, (10,), 0)
