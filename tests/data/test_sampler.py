"""Tests of biojepa.data.sampler: purity, weights, crop ranges, resume, DataLoader workers, ranks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from biojepa.data import ArrayStore, Cache, Record, build_cache
from biojepa.data.sampler import (
    KeyedDataset,
    Sample,
    SourceSpec,
    StepBatchSampler,
    WeightedCropSampler,
    normalise_weights,
    size_weights,
)
from biojepa.errors import ConfigError


def _store(n: int, t: int, c: int = 2, seed: int = 0) -> ArrayStore:
    rng = np.random.default_rng(seed)
    return ArrayStore(rng.normal(size=(n, c, t)), sfreq=100.0)


def _sampler(seed: int = 0, global_batch: int = 4) -> WeightedCropSampler:
    sources = [SourceSpec("a", _store(5, 50), 2.0), SourceSpec("b", _store(3, 80, seed=1), 1.0)]
    return WeightedCropSampler(sources, crop_len=16, seed=seed, global_batch=global_batch)


def _same(s1: Sample, s2: Sample) -> bool:
    return (s1.sample_id, s1.step, s1.source, s1.record_index, s1.crop_start) == (
        s2.sample_id,
        s2.step,
        s2.source,
        s2.record_index,
        s2.crop_start,
    ) and np.array_equal(s1.x, s2.x)


def test_pure_function_of_key() -> None:
    a, b = _sampler(), _sampler()
    keys = [(7, 3), (0, 0), (7, 3), (2, 1)]
    out_a = [a.sample(*k) for k in keys]
    out_b = [b.sample(*k) for k in reversed(keys)][::-1]
    assert all(_same(x, y) for x, y in zip(out_a, out_b, strict=True))
    s = out_a[0]
    assert s.sample_id == 7 * 4 + 3 and s.step == 7
    assert s.x.dtype == np.float32 and s.x.shape == (2, 16)
    other_seed = _sampler(seed=1)
    assert not all(_same(a.sample(k, 0), other_seed.sample(k, 0)) for k in range(5))


def test_crop_matches_store() -> None:
    sampler = _sampler()
    for step in range(20):
        s = sampler.sample(step, 1)
        store = next(src.store for src in sampler.sources if src.id == s.source)
        np.testing.assert_array_equal(s.x, store.get(s.record_index)[:, s.crop_start : s.crop_start + 16])


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**31), step=st.integers(0, 10**6), slot=st.integers(0, 3), crop=st.integers(1, 50)
)
def test_crops_in_range(seed: int, step: int, slot: int, crop: int) -> None:
    sources = [SourceSpec("a", _store(4, 50), 1.0), SourceSpec("b", ArrayStore(np.zeros((2, 1, 64))), 1.0)]
    s = WeightedCropSampler(sources, crop_len=crop, seed=seed, global_batch=4).sample(step, slot)
    n_t = 50 if s.source == "a" else 64
    assert 0 <= s.crop_start <= n_t - crop
    assert s.x.shape[1] == crop
    assert 0 <= s.record_index < (4 if s.source == "a" else 2)


def test_weights_respected() -> None:
    sources = [
        SourceSpec("a", _store(3, 20), 6.0),
        SourceSpec("b", _store(3, 20), 3.0),
        SourceSpec("c", _store(3, 20), 1.0),
        SourceSpec("off", _store(3, 20), 0.0),
    ]
    sampler = WeightedCropSampler(sources, crop_len=8, seed=123, global_batch=10)
    assert sampler.probabilities == pytest.approx({"a": 0.6, "b": 0.3, "c": 0.1, "off": 0.0})
    draws = [sampler.sample(step, slot).source for step in range(300) for slot in range(10)]  # 3000 draws
    counts = np.array([draws.count(k) for k in ("a", "b", "c")])
    assert draws.count("off") == 0
    assert counts.sum() == 3000
    # fixed seed -> deterministic; a correct sampler fails this chi-square test with probability 1e-4
    assert stats.chisquare(counts, f_exp=[1800, 900, 300]).pvalue > 1e-4
    rec = [sampler.sample(step, 0).record_index for step in range(900)]
    assert stats.chisquare(np.bincount(rec, minlength=3)).pvalue > 1e-4  # uniform records


def test_resume_gives_same_stream() -> None:
    sampler = _sampler()
    full = [sampler.sample(k, s) for batch in StepBatchSampler(0, 8, 4) for k, s in batch]
    resumed = [sampler.sample(k, s) for batch in StepBatchSampler(5, 8, 4) for k, s in batch]
    assert len(resumed) == 12
    assert all(_same(x, y) for x, y in zip(full[-12:], resumed, strict=True))


def test_step_batch_sampler_ranks() -> None:
    s = StepBatchSampler(2, 5, batch_size=3, rank=1, world_size=2)
    batches = list(s)
    assert len(s) == len(batches) == 3 and s.global_batch == 6
    assert batches[0] == [(2, 3), (2, 4), (2, 5)]
    union = sorted(k for r in range(2) for b in StepBatchSampler(2, 5, 3, r, 2) for k in b)
    assert union == [(step, slot) for step in range(2, 5) for slot in range(6)]
    assert len(StepBatchSampler(9, 5, 2)) == 0
    with pytest.raises(ConfigError, match="rank"):
        StepBatchSampler(0, 5, 2, rank=2, world_size=2)
    with pytest.raises(ConfigError, match="batch_size"):
        StepBatchSampler(0, 5, 0)


def _collate(samples: list[Sample]) -> list[Sample]:
    return samples


def test_dataloader_workers_do_not_change_stream(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    recs = [
        Record(rng.normal(size=(2, 40 + i)).astype(np.float32), 50.0, ("x", "y"), "uV", f"r{i}")
        for i in range(6)
    ]
    build_cache(recs, tmp_path / "c", dataset_id="toy", shard_bytes=256)
    sources = [SourceSpec("cache", Cache.open(tmp_path / "c"), 1.0), SourceSpec("arr", _store(4, 60), 1.0)]
    sampler = WeightedCropSampler(sources, crop_len=16, seed=5, global_batch=3)

    def run(workers: int) -> list[Sample]:
        loader = torch.utils.data.DataLoader(
            KeyedDataset(sampler),
            batch_sampler=StepBatchSampler(0, 6, 3),
            collate_fn=_collate,
            num_workers=workers,
        )
        return [s for batch in loader for s in batch]

    serial, parallel = run(0), run(2)
    assert len(serial) == 18 and {s.source for s in serial} == {"cache", "arr"}
    assert all(_same(x, y) for x, y in zip(serial, parallel, strict=True))
    assert [s.sample_id for s in serial] == list(range(18))


def test_short_records_rejected_or_padded() -> None:
    store = ArrayStore(np.ones((3, 1, 10)))
    short = ArrayStore(np.ones((2, 1, 4)))
    with pytest.raises(
        ConfigError, match=r"'s': 2 of 2 records are shorter than crop_len=8 samples \(shortest: 4\)"
    ):
        WeightedCropSampler([SourceSpec("ok", store, 1.0), SourceSpec("s", short, 1.0)], 8, 0, 1)
    sampler = WeightedCropSampler([SourceSpec("s", short, 1.0)], 8, 0, 1, pad_short=True)
    x = sampler.sample(0, 0).x
    np.testing.assert_array_equal(x, [[1, 1, 1, 1, 0, 0, 0, 0]])
    # a disabled source is not checked
    WeightedCropSampler([SourceSpec("ok", store, 1.0), SourceSpec("s", short, 0.0)], 8, 0, 1)


def test_invalid_configs() -> None:
    st_ = _store(2, 20)
    with pytest.raises(ConfigError, match="all sampling weights are zero"):
        WeightedCropSampler([SourceSpec("a", st_, 0.0)], 8, 0, 1)
    with pytest.raises(ConfigError, match=">= 0"):
        WeightedCropSampler([SourceSpec("a", st_, -1.0), SourceSpec("b", st_, 2.0)], 8, 0, 1)
    with pytest.raises(ConfigError, match="unique"):
        WeightedCropSampler([SourceSpec("a", st_, 1.0), SourceSpec("a", st_, 1.0)], 8, 0, 1)
    with pytest.raises(ConfigError, match="at least one"):
        WeightedCropSampler([], 8, 0, 1)
    with pytest.raises(ConfigError, match="crop_len"):
        WeightedCropSampler([SourceSpec("a", st_, 1.0)], 0, 0, 1)
    with pytest.raises(ConfigError, match="seed"):
        WeightedCropSampler([SourceSpec("a", st_, 1.0)], 8, -1, 1)
    sampler = WeightedCropSampler([SourceSpec("a", st_, 1.0)], 8, 0, 2)
    with pytest.raises(IndexError, match="slot"):
        sampler.sample(0, 2)


def test_weight_helpers() -> None:
    assert size_weights({"a": 30, "b": 10}) == pytest.approx({"a": 0.75, "b": 0.25})
    assert normalise_weights({"a": 2.0, "b": 0.0}) == {"a": 1.0, "b": 0.0}
    with pytest.raises(ConfigError, match="zero"):
        size_weights({"a": 0})
    with pytest.raises(ConfigError, match="finite"):
        normalise_weights({"a": float("nan")})
    with pytest.raises(ConfigError, match="number"):
        normalise_weights({"a": "heavy"})  # type: ignore[dict-item]
