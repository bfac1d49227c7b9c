"""Tests of biojepa.data.record."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biojepa.data.record import Record
from biojepa.errors import CorruptRecordError


def _rec(**kw: object) -> Record:
    args: dict[str, object] = dict(
        signal=np.zeros((2, 10), np.float32), sfreq=100.0, channels=("a", "b"), units="mV", record_id="r1"
    )
    args.update(kw)
    return Record(**args)  # type: ignore[arg-type]


def test_valid_record_properties() -> None:
    r = _rec(signal=np.ones((2, 250), np.float64), positions=np.zeros((2, 3), np.float64), meta={"age": 3})
    assert r.signal.dtype == np.float32
    assert r.positions is not None and r.positions.dtype == np.float32
    assert (r.n_channels, r.n_times) == (2, 250)
    assert r.duration_s == pytest.approx(2.5)
    assert r.meta["age"] == 3
    assert isinstance(r.channels, tuple)


def test_list_channels_become_tuple_and_pickle_round_trip() -> None:
    r = _rec(channels=["a", "b"])
    assert r.channels == ("a", "b")
    r2 = pickle.loads(pickle.dumps(r))
    np.testing.assert_array_equal(r2.signal, r.signal)
    assert r2.record_id == "r1"


def test_frozen() -> None:
    r = _rec()
    with pytest.raises(AttributeError):
        r.sfreq = 3.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"signal": np.zeros(10, np.float32)}, "2-D"),
        ({"signal": np.zeros((2, 10), np.int16)}, "float dtype"),
        ({"signal": [[0.0] * 10] * 2}, "numpy array"),
        ({"signal": np.zeros((2, 0), np.float32)}, "no samples"),
        ({"signal": np.zeros((0, 10), np.float32), "channels": ()}, "no channels"),
        ({"signal": np.full((2, 10), np.nan, np.float32)}, "non-finite"),
        ({"channels": ("a",)}, "2 rows but 1 channel"),
        ({"channels": ("a", "a")}, "duplicates"),
        ({"channels": ("a", "")}, "non-empty"),
        ({"channels": "ab"}, "sequence of strings"),
        ({"sfreq": 0.0}, "sfreq"),
        ({"sfreq": float("inf")}, "sfreq"),
        ({"sfreq": float("nan")}, "sfreq"),
        ({"sfreq": "fast"}, "sfreq"),
        ({"units": ""}, "units"),
        ({"positions": np.zeros((3, 3))}, r"positions must have shape \(2, 3\)"),
        ({"positions": np.zeros((2, 3), dtype=object)}, "numeric"),
        ({"meta": [1, 2]}, "mapping"),
    ],
)
def test_invalid_records_raise_with_id(kw: dict[str, object], match: str) -> None:
    with pytest.raises(CorruptRecordError, match=match) as info:
        _rec(**kw)
    assert info.value.record_id == "r1"
    assert "r1" in str(info.value)


@settings(max_examples=50, deadline=None)
@given(
    c=st.integers(1, 6),
    t=st.integers(1, 300),
    sfreq=st.floats(0.01, 1e4),
    dtype=st.sampled_from([np.float16, np.float32, np.float64]),
)
def test_any_valid_shape_builds(c: int, t: int, sfreq: float, dtype: type) -> None:
    sig = np.arange(c * t, dtype=np.float64).reshape(c, t).astype(dtype)  # (C, T)
    r = Record(sig, sfreq, tuple(f"ch{k}" for k in range(c)), "uV", "x")
    assert r.signal.shape == (c, t) and r.signal.dtype == np.float32
    assert r.duration_s == pytest.approx(t / sfreq)


def test_empty_record_id_rejected() -> None:
    with pytest.raises(CorruptRecordError, match="record_id must be a non-empty string"):
        _rec(record_id="")
