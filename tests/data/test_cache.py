"""Tests of biojepa.data.cache: build, open, read, quarantine, corruption, atomicity, pickling."""

from __future__ import annotations

import json
import multiprocessing as mp
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biojepa.data import ArrayStore, Cache, Record, build_cache
from biojepa.data.cache import INDEX_COLUMNS, RecordStore
from biojepa.errors import ConfigError, CorruptRecordError, DataError


def _records(n: int = 5, c: int = 3, seed: int = 0) -> list[Record]:
    rng = np.random.default_rng(seed)
    return [
        Record(
            rng.normal(0, 2, (c, 20 + 7 * i)).astype(np.float32),
            250.0,
            tuple(f"L{k}" for k in range(c)),
            "mV",
            f"rec{i}",
        )
        for i in range(n)
    ]


def _bad(rid: str, reason: str) -> Callable[[], Record]:
    def load() -> Record:
        raise CorruptRecordError(rid, reason)

    return load


def test_round_trip_values_and_layout(tmp_path: Path) -> None:
    recs = _records()
    seen: list[int] = []
    rep = build_cache(recs, tmp_path / "c", dataset_id="toy", shard_bytes=400, progress=seen.append)
    assert (rep.n_ok, rep.n_quarantined, rep.n_clipped_values) == (5, 0, 0)
    assert seen == [1, 2, 3, 4, 5]
    assert rep.n_shards > 1  # 400-byte shards force several
    cache = Cache.open(tmp_path / "c")
    assert isinstance(cache, RecordStore)
    assert cache.n_records == len(cache) == 5 and cache.dataset_id == "toy"
    for i, r in enumerate(recs):
        x = cache.get(i)
        assert x.dtype == np.float16 and x.shape == r.signal.shape
        np.testing.assert_array_equal(x, r.signal.astype(np.float16))
        assert cache.record_id(i) == r.record_id and cache.n_times(i) == r.n_times
        assert cache.channels(i) == r.channels
    crop = cache.crop(3, 5, 10)
    assert crop.dtype == np.float32 and crop.shape == (3, 10)
    np.testing.assert_allclose(crop, recs[3].signal[:, 5:15], rtol=1e-3, atol=1e-3)
    np.testing.assert_array_equal(cache.lengths, [r.n_times for r in recs])
    table = pd.read_csv(tmp_path / "c" / "index.csv")
    assert tuple(table.columns) == INDEX_COLUMNS
    assert list(cache.index.columns[:1]) == ["record_id"]
    assert cache.index["channels"].iloc[0] == "L0;L1;L2"
    meta = json.loads((tmp_path / "c" / "meta.json").read_text())
    assert meta["dtype"] == "float16" and meta["format_version"] == 1 and meta["n_ok"] == 5
    shard = np.fromfile(tmp_path / "c" / "shard_00000.f16", dtype="<f2")
    np.testing.assert_array_equal(shard[: 3 * 20], recs[0].signal.astype(np.float16).ravel())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # temp dir renamed away


def test_index_errors(tmp_path: Path) -> None:
    build_cache(_records(2), tmp_path / "c", dataset_id="toy")
    cache = Cache.open(tmp_path / "c")
    with pytest.raises(IndexError, match="out of range"):
        cache.get(2)
    with pytest.raises(ValueError, match="does not fit"):
        cache.crop(0, 15, 10)
    with pytest.raises(ValueError, match="does not fit"):
        cache.crop(0, -1, 3)


def test_quarantine_is_reported_not_dropped(tmp_path: Path) -> None:
    items: list[Record | Callable[[], Record]] = list(_records(20))
    items.insert(3, _bad("broken.dat", "header says 12 leads, data has 11"))
    items.append(_records(1)[0])  # duplicate id rec0
    rep = build_cache(items, tmp_path / "c", dataset_id="toy", max_bad_fraction=0.2)
    assert rep.n_ok == 20 and rep.n_quarantined == 2
    assert rep.quarantined[0] == ("broken.dat", "header says 12 leads, data has 11")
    assert "duplicate" in rep.quarantined[1][1]
    q = pd.read_csv(rep.quarantine_path)
    assert q["record_id"].tolist() == ["broken.dat", "rec0"]
    index = pd.read_csv(tmp_path / "c" / "index.csv", keep_default_na=False)
    assert (index["status"] == "quarantined").sum() == 2
    meta = json.loads((tmp_path / "c" / "meta.json").read_text())
    assert meta["n_quarantined"] == 2
    assert Cache.open(tmp_path / "c").n_records == 20


def test_too_many_bad_fails_with_report(tmp_path: Path) -> None:
    items: list[Record | Callable[[], Record]] = [*_records(9), _bad("x1", "bad"), _bad("x2", "bad")]
    with pytest.raises(DataError, match=r"2 of 11 records.*0\.182.*max_bad_fraction 0\.05") as info:
        build_cache(items, tmp_path / "c", dataset_id="toy")
    report = tmp_path / "c.quarantine.csv"
    assert str(report) in str(info.value)
    assert pd.read_csv(report)["record_id"].tolist() == ["x1", "x2"]
    assert not (tmp_path / "c").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["c.quarantine.csv"]  # temp dir cleaned


def test_empty_input_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no records"):
        build_cache([], tmp_path / "c", dataset_id="toy")
    with pytest.raises(ConfigError, match="dataset_id"):
        build_cache(_records(1), tmp_path / "c", dataset_id="")
    with pytest.raises(TypeError, match=r"expected a biojepa\.data\.Record"):
        build_cache([np.zeros((2, 3))], tmp_path / "c", dataset_id="toy")  # type: ignore[list-item]
    assert list(tmp_path.iterdir()) == []


def test_other_errors_propagate_and_leave_nothing(tmp_path: Path) -> None:
    def boom() -> Record:
        raise OSError("disk on fire")

    with pytest.raises(OSError, match="disk on fire"):
        build_cache([*_records(2), boom], tmp_path / "c", dataset_id="toy")
    assert list(tmp_path.iterdir()) == []


def test_clipping_counted(tmp_path: Path) -> None:
    sig = np.array([[1.0, 7e4, -1e5, 3.0]], np.float32)
    rep = build_cache([Record(sig, 1.0, ("a",), "uV", "big")], tmp_path / "c", dataset_id="toy")
    assert rep.n_clipped_values == 2
    cache = Cache.open(tmp_path / "c")
    np.testing.assert_array_equal(cache.get(0)[0], np.array([1.0, 65504.0, -65504.0, 3.0], np.float16))
    assert cache.meta["n_clipped_values"] == 2 and cache.meta["n_clipped_records"] == 1


def test_existing_directory_needs_overwrite(tmp_path: Path) -> None:
    build_cache(_records(2), tmp_path / "c", dataset_id="v1")
    with pytest.raises(ConfigError, match=r"not empty.*overwrite=True"):
        build_cache(_records(3), tmp_path / "c", dataset_id="v2")
    assert Cache.open(tmp_path / "c").dataset_id == "v1"
    build_cache(_records(3), tmp_path / "c", dataset_id="v2", overwrite=True)
    assert Cache.open(tmp_path / "c").n_records == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]
    (tmp_path / "empty").mkdir()
    build_cache(_records(1), tmp_path / "empty", dataset_id="toy")  # an empty dir is fine
    assert Cache.open(tmp_path / "empty").n_records == 1


@pytest.mark.parametrize("damage", ["truncate", "delete_shard", "edit_index", "delete_meta", "bad_version"])
def test_corruption_detected(tmp_path: Path, damage: str) -> None:
    build_cache(_records(4), tmp_path / "c", dataset_id="toy", shard_bytes=300)
    root = tmp_path / "c"
    shard = root / "shard_00001.f16"
    if damage == "truncate":
        shard.write_bytes(shard.read_bytes()[:-2])
        match = "shard_00001.f16 has .* bytes, expected"
    elif damage == "delete_shard":
        shard.unlink()
        match = "shard_00001.f16 is missing"
    elif damage == "edit_index":
        text = (root / "index.csv").read_text().replace("rec1", "recX")
        (root / "index.csv").write_text(text)
        match = "sha256"
    elif damage == "delete_meta":
        (root / "meta.json").unlink()
        match = "not a biojepa cache"
    else:
        meta = json.loads((root / "meta.json").read_text())
        meta["format_version"] = 99
        (root / "meta.json").write_text(json.dumps(meta))
        match = "format_version 99"
    with pytest.raises(DataError, match=match) as info:
        Cache.open(root)
    assert "rebuild" in str(info.value)


def _worker_read(cache: Cache, i: int, q: mp.Queue) -> None:  # runs in a child process
    q.put(cache.get(i).astype(np.float32).tolist())


def test_pickle_and_fork(tmp_path: Path) -> None:
    recs = _records(3)
    build_cache(recs, tmp_path / "c", dataset_id="toy", shard_bytes=200)
    cache = Cache.open(tmp_path / "c")
    before = cache.get(1).copy()
    clone = pickle.loads(pickle.dumps(cache))
    assert clone._maps == {}  # maps are reopened lazily, not pickled
    np.testing.assert_array_equal(clone.get(1), before)
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_worker_read, args=(cache, 2, q))
    p.start()
    got = q.get(timeout=60)
    p.join(timeout=60)
    assert p.exitcode == 0
    np.testing.assert_array_equal(
        np.array(got, np.float32), recs[2].signal.astype(np.float16).astype(np.float32)
    )


def test_array_store_interface() -> None:
    data = np.arange(2 * 3 * 8, dtype=np.float64).reshape(2, 3, 8)  # (N, C, T)
    store = ArrayStore(data, sfreq=10.0, labels=np.array([0, 1]), dataset_id="arr")
    assert isinstance(store, RecordStore)
    assert store.n_records == len(store) == 2
    x = store.get(1)
    assert x.dtype == np.float32 and x.shape == (3, 8) and not x.flags.writeable
    np.testing.assert_array_equal(store.crop(1, 2, 4), data[1, :, 2:6])
    assert store.record_id(0) == "0" and store.n_times(1) == 8 and store.channels(0) == ("S1", "S2", "S3")
    assert store.index["label"].tolist() == [0, 1]
    with pytest.raises(IndexError):
        store.get(-1)
    with pytest.raises(ValueError, match="does not fit"):
        store.crop(0, 5, 4)
    with pytest.raises(ConfigError, match=r"\(N, C, T\)"):
        ArrayStore(np.zeros((3, 4)))
    with pytest.raises(ConfigError, match="NaN"):
        ArrayStore(np.full((1, 1, 2), np.nan))
    with pytest.raises(ConfigError, match="channel names"):
        ArrayStore(np.zeros((1, 2, 2)), channels=["a"])


@settings(max_examples=25, deadline=None)
@given(
    shapes=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 40)), min_size=1, max_size=6),
    shard_bytes=st.integers(2, 600),
)
def test_property_round_trip(shapes: list[tuple[int, int]], shard_bytes: int) -> None:
    rng = np.random.default_rng(len(shapes))
    recs = [
        Record(
            rng.normal(0, 100, s).astype(np.float32), 1.0, tuple(f"c{k}" for k in range(s[0])), "uV", f"r{i}"
        )
        for i, s in enumerate(shapes)
    ]
    with tempfile.TemporaryDirectory() as d:
        rep = build_cache(recs, Path(d) / "c", dataset_id="p", shard_bytes=shard_bytes)
        cache = Cache.open(Path(d) / "c")
        assert rep.n_ok == cache.n_records == len(recs)
        for i, r in enumerate(recs):
            np.testing.assert_array_equal(cache.get(i), r.signal.astype(np.float16))
        del cache


def test_awkward_ids_and_channel_names_survive_the_index(tmp_path: Path) -> None:
    ids = ['a,b "c"', "001", "NA", "x\ny", "  padded "]
    recs = [Record(np.ones((1, 3), np.float32), 1.0, ("c h",), "uV", i) for i in ids]
    build_cache(recs, tmp_path / "c", dataset_id="toy")
    cache = Cache.open(tmp_path / "c")
    assert [cache.record_id(i) for i in range(cache.n_records)] == ids
    assert cache.channels(0) == ("c h",)


def test_semicolon_channel_is_quarantined(tmp_path: Path) -> None:
    recs = [*_records(30), Record(np.ones((1, 4), np.float32), 1.0, ("a;b",), "uV", "semi")]
    rep = build_cache(recs, tmp_path / "c", dataset_id="toy")
    assert rep.quarantined == (
        ("semi", "a channel name contains ';', which the cache index uses as separator"),
    )


def test_reuse_cache_returns_a_valid_cache_or_refuses_one_above_the_bad_fraction(tmp_path: Path) -> None:
    from biojepa.data.cache import reuse_cache

    assert reuse_cache(tmp_path / "none", "demo", 0.05) is None
    build_cache([*_records(3), _bad("broken", "truncated")], tmp_path / "c", dataset_id="demo", max_bad_fraction=0.5,
                extra_meta={"provenance": {"root": "/data"}})
    cache, n_bad, prov = reuse_cache(tmp_path / "c", "demo", 0.5)
    assert cache.n_records == 3 and n_bad == 1 and prov == {"root": "/data"}
    with pytest.raises(DataError, match=r"1 of 4 records quarantined, above max_bad_fraction 0.1"):
        reuse_cache(tmp_path / "c", "demo", 0.1)
