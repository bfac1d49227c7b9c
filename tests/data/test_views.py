"""NormalizedStore / SubsetStore / channel_stats and the cache's extra index columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biojepa.data.cache import ArrayStore, Cache, build_cache
from biojepa.data.record import Record
from biojepa.data.views import NormalizedStore, SubsetStore, channel_stats
from biojepa.errors import ConfigError


def _store(n: int = 5, c: int = 3, t: int = 40) -> ArrayStore:
    rng = np.random.default_rng(0)
    x = rng.normal(loc=np.arange(c)[None, :, None], scale=np.arange(1, c + 1)[None, :, None], size=(n, c, t))
    return ArrayStore(x.astype(np.float32), record_ids=[f"r{i}" for i in range(n)], labels=np.arange(n))


def test_channel_stats_match_numpy_over_the_chosen_records() -> None:
    s = _store()
    mean, std, n = channel_stats(s, [1, 3, 4])
    ref = np.concatenate([s.get(i) for i in (1, 3, 4)], axis=1).astype(np.float64)  # (C, 3T)
    np.testing.assert_allclose(mean, ref.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(std, ref.std(axis=1), rtol=1e-6)
    assert n == 120
    with pytest.raises(ConfigError, match="zero records"):
        channel_stats(s, [])


def test_normalized_store_zscores_and_clips_every_read() -> None:
    s = _store()
    mean, std, _ = channel_stats(s)
    v = NormalizedStore(s, mean, std, clip=1.0)
    x = v.get(2)
    assert x.dtype == np.float32 and np.abs(x).max() <= 1.0
    raw = (s.get(2) - mean[:, None]) / std[:, None]
    np.testing.assert_allclose(x, np.clip(raw, -1, 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v.crop(2, 5, 10), x[:, 5:15], rtol=1e-6)
    unclipped = NormalizedStore(s, mean, std, clip=None)
    all_x = np.concatenate([unclipped.get(i) for i in range(5)], axis=1)
    np.testing.assert_allclose(all_x.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(all_x.std(axis=1), 1.0, atol=1e-5)
    with pytest.raises(ConfigError, match="std > 0"):
        NormalizedStore(s, mean, np.zeros(3))
    with pytest.raises(ConfigError, match="3 channels"):
        NormalizedStore(_store(c=2), mean, std).get(0)


def test_subsets_renumber_and_compose() -> None:
    s = _store()
    sub = SubsetStore(s, [4, 1, 3])
    assert sub.n_records == 3 and [sub.record_id(i) for i in range(3)] == ["r4", "r1", "r3"]
    np.testing.assert_array_equal(sub.get(0), s.get(4))
    assert sub.lengths.tolist() == [40, 40, 40] and sub.index["record_id"].tolist() == ["r4", "r1", "r3"]
    assert [sub.subset([0, 2]).record_id(i) for i in range(2)] == ["r4", "r3"]  # in the view's numbering
    norm = NormalizedStore(s, np.zeros(3), np.ones(3), keep=[0, 2, 4]).subset([1, 2])
    assert isinstance(norm, NormalizedStore) and [norm.record_id(i) for i in range(2)] == ["r2", "r4"]
    assert sub.sfreq == s.sfreq  # other attributes are forwarded
    with pytest.raises(ConfigError, match="unique"):
        SubsetStore(s, [1, 1])
    with pytest.raises(ConfigError, match="within"):
        SubsetStore(s, [7])


def test_cache_extra_columns_round_trip_and_feed_fingerprints(tmp_path: Path) -> None:
    recs = [
        Record(np.full((2, 8), k, np.float32), 10.0, ("a", "b"), "mV", f"r{k}", meta={"fingerprint": f"fp{k % 2}",
                                                                                  "fold": k})
        for k in range(1, 4)
    ]
    build_cache(recs, tmp_path / "c", dataset_id="x", extra_columns=("fingerprint", "fold"),
                extra_meta={"note": "hello"})
    cache = Cache.open(tmp_path / "c")
    assert cache.index["fingerprint"].tolist() == ["fp1", "fp0", "fp1"]
    assert cache.index["fold"].tolist() == ["1", "2", "3"] and cache.meta["extra"] == {"note": "hello"}
    assert SubsetStore(cache, [2, 0]).fingerprints == ["fp1", "fp1"]
    with pytest.raises(ConfigError, match="clash"):
        build_cache(recs, tmp_path / "d", dataset_id="x", extra_columns=("units",))
