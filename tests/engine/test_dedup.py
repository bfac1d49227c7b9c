"""Pretraining de-duplication, the training record-list hash and pooled normalisation statistics
(biojepa.engine.pretrain: _deduplicate, record_list_hash, pooled_normalization), on tiny in-memory stores."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biojepa.data.cache import ArrayStore
from biojepa.data.views import NormalizedStore, SubsetStore, channel_stats
from biojepa.engine.pretrain import _deduplicate, pooled_normalization, record_list_hash
from biojepa.errors import ConfigError


def _store(fps: list[str] | None, prefix: str, *, labels: bool = False) -> ArrayStore:
    """An ArrayStore of ``len(fps)`` records (record ``i`` is constant ``i``) with ``fingerprints``."""
    n = len(fps) if fps is not None else 3
    x = np.repeat(np.arange(n, dtype=np.float32)[:, None, None], 2, axis=1)  # (N, 2, 1)
    x = np.repeat(x, 4, axis=2)  # (N, 2, 4)
    store = ArrayStore(
        x, record_ids=[f"{prefix}{i}" for i in range(n)], labels=np.arange(n) * 10 if labels else None
    )
    if fps is not None:
        store.fingerprints = list(fps)
    return store


def _opened(**stores: Any) -> dict[str, tuple[Any, Any, Any, Any]]:
    return {k: (s, None, None, None) for k, s in stores.items()}


def _ids(store: Any) -> list[str]:
    return [store.record_id(i) for i in range(store.n_records)]


def test_earlier_source_keeps_the_record_and_within_source_duplicates_drop() -> None:
    opened = _opened(a=_store(["f1", "f2", "f2", "f3"], "a"), b=_store(["f3", "f4", "f1", "f5"], "b"))
    dropped = _deduplicate(opened)
    assert dropped == {"a": 1, "b": 2}
    assert _ids(opened["a"][0]) == ["a0", "a1", "a3"]
    assert _ids(opened["b"][0]) == ["b1", "b3"]
    # the kept records' samples and fingerprints follow the view
    sub = opened["b"][0]
    assert sub.get(0)[0, 0] == 1.0 and sub.get(1)[0, 0] == 3.0
    assert sub.fingerprints == ["f4", "f5"]


def test_order_of_sources_decides_who_keeps_a_shared_record() -> None:
    a, b = _store(["x", "y"], "a"), _store(["y", "z"], "b")
    first = _opened(a=a, b=b)
    assert _deduplicate(first) == {"a": 0, "b": 1}
    second = _opened(b=b, a=a)
    assert _deduplicate(second) == {"b": 0, "a": 1}
    assert _ids(second["a"][0]) == ["a0"] and second["b"][0] is b  # untouched store is kept as is


def test_excluded_fingerprints_drop_everywhere_including_the_declaring_source() -> None:
    a = _store(["h1", "k1", "k2"], "a")
    a.exclude_fingerprints = {"h1", "h2"}
    b = _store(["h2", "k3", "k1"], "b")
    opened = _opened(a=a, b=b)
    assert _deduplicate(opened) == {"a": 1, "b": 2}
    assert _ids(opened["a"][0]) == ["a1", "a2"] and _ids(opened["b"][0]) == ["b1"]
    # the subset view keeps the declaring store's exclusions
    assert opened["a"][0].exclude_fingerprints == {"h1", "h2"}


def test_stores_without_fingerprints_and_empty_fingerprints_are_untouched() -> None:
    plain = _store(None, "p")
    blanks = _store(["", "", "f"], "q")
    other = _store(["f", "g"], "r")
    opened = _opened(p=plain, q=blanks, r=other)
    dropped = _deduplicate(opened)
    assert "p" not in dropped and opened["p"][0] is plain
    assert dropped["q"] == 0 and opened["q"][0] is blanks  # empty fingerprints never match
    assert dropped["r"] == 1 and _ids(opened["r"][0]) == ["r1"]


def test_a_source_emptied_by_deduplication_is_refused() -> None:
    opened = _opened(a=_store(["f1", "f2"], "a"), b=_store(["f2", "f1", "f2"], "b"))
    with pytest.raises(ConfigError, match="'b'.*every record duplicates"):
        _deduplicate(opened)


def test_subset_store_inputs_are_deduplicated_in_their_own_numbering() -> None:
    base = _store(["f0", "f1", "f1", "f3", "f4"], "s")
    view = SubsetStore(base, [1, 2, 3])  # records s1, s2, s3; s1 and s2 share f1
    opened = _opened(v=view)
    assert _deduplicate(opened) == {"v": 1}
    assert _ids(opened["v"][0]) == ["s1", "s3"]


def test_subset_of_a_normalized_store_keeps_the_right_records() -> None:
    """A SubsetStore forwards unknown attributes to the store it wraps; its `subset` must not be the wrapped
    NormalizedStore's, whose indices are in another numbering."""
    base = _store(["f0", "f1", "f1", "f3", "f4"], "s")
    norm = NormalizedStore(base, [0.0, 0.0], [1.0, 1.0], None)
    view = SubsetStore(norm, [1, 2, 3])  # records s1, s2, s3
    opened = _opened(v=view)
    assert _deduplicate(opened) == {"v": 1}
    assert _ids(opened["v"][0]) == ["s1", "s3"]


def test_normalized_store_subset_keeps_normalisation_and_metadata() -> None:
    base = _store(["f0", "f0", "f2"], "n")
    norm = NormalizedStore(base, [1.0, 1.0], [2.0, 2.0], None)
    norm.normalization = {"method": "zscore", "mean": [1.0, 1.0], "std": [2.0, 2.0]}
    norm.provenance = {"folds": [1]}
    norm.exclude_fingerprints = set()
    opened = _opened(n=norm)
    assert _deduplicate(opened) == {"n": 1}
    sub = opened["n"][0]
    assert isinstance(sub, NormalizedStore) and _ids(sub) == ["n0", "n2"]
    np.testing.assert_allclose(sub.get(1), (2.0 - 1.0) / 2.0)  # still normalised
    assert sub.normalization == norm.normalization and sub.provenance == {"folds": [1]}


def test_labels_follow_the_kept_records() -> None:
    store = _store(["f0", "f1", "f1", "f3"], "l", labels=True)
    opened = _opened(l=store)
    _deduplicate(opened)
    sub = opened["l"][0]
    assert sub.n_records == 3
    assert len(sub.labels) == sub.n_records
    assert list(sub.labels) == [0, 10, 30]


# ---------------------------------------------------------------------------------------------------------
def _sources(**ids: list[str]) -> dict[str, Any]:
    return {k: SimpleNamespace(store=ArrayStore(np.zeros((len(v), 1, 2)), record_ids=v)) for k, v in ids.items()}


def test_record_list_hash_is_order_independent_and_sensitive() -> None:
    h, n = record_list_hash(_sources(a=["1", "2"], b=["x"]))
    assert n == 3
    assert h == hashlib.sha256(b"a/1\na/2\nb/x").hexdigest()
    assert record_list_hash(_sources(b=["x"], a=["2", "1"])) == (h, 3)
    assert record_list_hash(_sources(a=["1", "3"], b=["x"]))[0] != h
    assert record_list_hash(_sources(a=["1", "2"], c=["x"]))[0] != h  # the source id is part of the line
    assert record_list_hash(_sources(a=["1", "2"], b=["x", "y"])) != (h, 3)


# ---------------------------------------------------------------------------------------------------------
def _stats(x: np.ndarray) -> dict[str, Any]:
    mean, std, _ = channel_stats(ArrayStore(x))
    return {"method": "zscore", "mean": mean.tolist(), "std": std.tolist(), "n_records": len(x)}


def test_pooled_normalization_single_source_equals_its_stats() -> None:
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(4, 3, 50))
    s = _stats(x)
    out = pooled_normalization({"a": s}, {"a": 0.3})
    np.testing.assert_allclose(out["mean"], s["mean"], rtol=1e-12)
    np.testing.assert_allclose(out["std"], s["std"], rtol=1e-12)
    assert out["pooled_over"] == {"a": 1.0}
    assert out["per_dataset"] == {"a": {"mean": s["mean"], "std": s["std"], "n_records": 4}}


@settings(max_examples=25, deadline=None)
@given(
    n_a=st.integers(1, 6), n_b=st.integers(1, 6), t=st.integers(2, 20), seed=st.integers(0, 2**16),
    shift=st.floats(-5, 5), scale=st.floats(0.1, 10),
)
def test_pooled_normalization_matches_the_concatenated_mixture(
    n_a: int, n_b: int, t: int, seed: int, shift: float, scale: float
) -> None:
    rng = np.random.default_rng(seed)
    xa = rng.normal(0.0, 1.0, size=(n_a, 2, t)).astype(np.float32)  # ArrayStore keeps float32
    xb = rng.normal(shift, scale, size=(n_b, 2, t)).astype(np.float32)
    # weights proportional to the sample counts: the pooled statistics are those of the concatenated data
    out = pooled_normalization({"a": _stats(xa), "b": _stats(xb)}, {"a": 2.0 * n_a, "b": 2.0 * n_b})
    both = np.concatenate([xa, xb], axis=0).astype(np.float64).transpose(1, 0, 2).reshape(2, -1)  # (C, N * T)
    np.testing.assert_allclose(out["mean"], both.mean(axis=1), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(out["std"], both.std(axis=1), rtol=1e-7, atol=1e-9)
    assert out["pooled_over"]["a"] == pytest.approx(n_a / (n_a + n_b))


def test_pooled_normalization_weights_a_mixture() -> None:
    a = {"mean": [0.0], "std": [1.0]}
    b = {"mean": [4.0], "std": [2.0]}
    out = pooled_normalization({"a": a, "b": b}, {"a": 3.0, "b": 1.0})  # 75 % / 25 %
    assert out["mean"] == pytest.approx([1.0])
    # E[x^2] = 0.75 * 1 + 0.25 * (4 + 16) = 5.75; var = 5.75 - 1 = 4.75
    assert out["std"] == pytest.approx([4.75**0.5])
    assert out["pooled_over"] == pytest.approx({"a": 0.75, "b": 0.25})


def test_pooled_normalization_of_robust_statistics_averages_medians_and_iqrs() -> None:
    a = {"method": "robust", "mean": [0.0, 1.0], "std": [1.0, 2.0], "n_records": 3}
    b = {"method": "robust", "mean": [2.0, 1.0], "std": [3.0, 2.0], "n_records": 1}
    out = pooled_normalization({"a": a, "b": b}, {"a": 0.75, "b": 0.25})
    np.testing.assert_allclose(out["mean"], [0.5, 1.0])
    np.testing.assert_allclose(out["std"], [1.5, 2.0])  # weighted IQRs, not a mixture standard deviation
    single = pooled_normalization({"a": a}, {"a": 1.0})
    assert single["mean"] == a["mean"] and single["std"] == a["std"]
