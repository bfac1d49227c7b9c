"""Tests of biojepa.eval.windows: grid coverage, window extraction, aggregation with padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from biojepa.errors import ConfigError, ContractError
from biojepa.eval.windows import aggregate, extract_windows, window_starts


def test_ptbxl_grid_has_seven_windows() -> None:
    starts = window_starts(5000, 1250, 625)  # 10 s at 500 Hz, 2.5 s windows, 1.25 s stride
    np.testing.assert_array_equal(starts, [0, 625, 1250, 1875, 2500, 3125, 3750])


def test_last_window_is_flush_with_the_end() -> None:
    np.testing.assert_array_equal(window_starts(10, 4, 3), [0, 3, 6])
    np.testing.assert_array_equal(window_starts(11, 4, 3), [0, 3, 6, 7])
    np.testing.assert_array_equal(window_starts(4, 4, 3), [0])


@settings(max_examples=50, deadline=None)
@given(window=st.integers(1, 50), stride=st.integers(1, 60), extra=st.integers(0, 200))
def test_grid_covers_the_record(window: int, stride: int, extra: int) -> None:
    n = window + extra
    starts = window_starts(n, window, stride)
    assert starts[0] == 0
    assert starts[-1] + window == n
    assert np.all(np.diff(starts) > 0)
    assert np.all(np.diff(starts) <= stride)
    covered = np.zeros(n, dtype=bool)
    for s in starts:
        covered[s : s + window] = True
    assert covered.all() or stride > window  # gaps only when the stride skips samples
    assert len(starts) == (n - window) // stride + 1 + int((n - window) % stride != 0)


def test_grid_errors() -> None:
    with pytest.raises(ContractError, match="shorter than the window"):
        window_starts(3, 4, 1)
    with pytest.raises(ConfigError, match="positive integers"):
        window_starts(10, 4, 0)


@pytest.mark.parametrize("as_torch", [False, True])
def test_extract_windows_content(as_torch: bool) -> None:
    x = np.arange(2 * 3 * 11, dtype=np.float32).reshape(2, 3, 11)  # (B, C, T)
    xin = torch.from_numpy(x) if as_torch else x
    w = extract_windows(xin, 4, 3)
    assert tuple(w.shape) == (2, 4, 3, 4)
    assert isinstance(w, torch.Tensor) == as_torch
    w = np.asarray(w)
    for b in range(2):
        for i, s in enumerate([0, 3, 6, 7]):
            np.testing.assert_array_equal(w[b, i], x[b, :, s : s + 4])
    single = extract_windows(x[0], 4, 3)  # (C, T) -> (1, W, C, window)
    np.testing.assert_array_equal(np.asarray(single)[0], w[0])
    with pytest.raises(ContractError, match=r"\(C, T\) or \(B, C, T\)"):
        extract_windows(x[0, 0], 4, 3)


@pytest.mark.parametrize("as_torch", [False, True])
def test_aggregate_mean_max_with_padding(as_torch: bool) -> None:
    v = np.array([[[1.0], [3.0], [100.0]], [[2.0], [-4.0], [6.0]]])  # (B=2, W=3, 1)
    nw = np.array([2, 3])
    vin = torch.from_numpy(v) if as_torch else v
    mean = np.asarray(aggregate(vin, "mean", nw))
    mx = np.asarray(aggregate(vin, "max", nw))
    np.testing.assert_allclose(mean, [[2.0], [4.0 / 3.0]])
    np.testing.assert_allclose(mx, [[3.0], [6.0]])
    np.testing.assert_allclose(np.asarray(aggregate(vin, "mean")), v.mean(axis=1))
    np.testing.assert_allclose(np.asarray(aggregate(vin, "max")), v.max(axis=1))


def test_aggregate_errors() -> None:
    v = np.zeros((2, 3, 4))
    with pytest.raises(ConfigError, match="'mean' or 'max'"):
        aggregate(v, "median")  # type: ignore[arg-type]
    with pytest.raises(ContractError, match=r"values in \[1, 3\]"):
        aggregate(v, "mean", np.array([0, 3]))
    with pytest.raises(ContractError, match=r"\(B, W, \.\.\.\)"):
        aggregate(np.zeros(3))
