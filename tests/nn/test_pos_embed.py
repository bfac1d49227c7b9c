"""Tests of biojepa.nn.pos_embed: values at known positions, n-D shapes, distinct rows, caching."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from biojepa.nn.pos_embed import SinCosPosEmbed, sincos_1d, sincos_2d, sincos_3d, sincos_nd

SETTINGS = settings(max_examples=50, deadline=None)


def test_sincos_1d_position_zero_is_sin0_cos1() -> None:
    emb = sincos_1d(torch.tensor([0.0]), 8)  # (1, 8)
    torch.testing.assert_close(emb, torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]]))


def test_sincos_1d_known_values() -> None:
    # dim 4: frequencies 1 and 1/100; layout [sin(p w0), sin(p w1), cos(p w0), cos(p w1)]
    emb = sincos_1d(torch.tensor([1.0, 3.0]), 4)  # (2, 4)
    expected = torch.tensor(
        [
            [math.sin(1.0), math.sin(0.01), math.cos(1.0), math.cos(0.01)],
            [math.sin(3.0), math.sin(0.03), math.cos(3.0), math.cos(0.03)],
        ]
    )
    torch.testing.assert_close(emb, expected)


def test_sincos_1d_integer_positions_and_temperature() -> None:
    emb = sincos_1d(torch.tensor([2]), 2, temperature=5.0)  # one frequency: 1
    torch.testing.assert_close(emb, torch.tensor([[math.sin(2.0), math.cos(2.0)]]))
    assert emb.dtype == torch.float32
    assert sincos_1d(torch.tensor([2.0], dtype=torch.float64), 4).dtype == torch.float64


def test_sincos_1d_rejects_odd_dim() -> None:
    with pytest.raises(ValueError, match="even dim"):
        sincos_1d(torch.arange(3), 5)


@pytest.mark.parametrize(("n_axes", "fn"), [(1, None), (2, sincos_2d), (3, sincos_3d)])
def test_nd_shapes(n_axes: int, fn: object) -> None:
    coords = torch.rand(2, 7, n_axes)  # (B, N, n)
    out = sincos_nd(coords, 24) if fn is None else fn(coords, 24)  # type: ignore[operator]
    assert out.shape == (2, 7, 24)
    assert torch.isfinite(out).all()


def test_nd_axes_are_split_evenly_and_remainder_is_zero() -> None:
    coords = torch.tensor([[1.0, 2.0, 3.0]])  # (1, 3)
    out = sincos_3d(coords, 10)  # 2·floor(10 / 6) = 2 channels per axis, 4 zero channels
    assert out.shape == (1, 10)
    for a in range(3):
        torch.testing.assert_close(out[:, 2 * a : 2 * a + 2], sincos_1d(coords[:, a], 2))
    assert torch.equal(out[:, 6:], torch.zeros(1, 4))


def test_nd_errors() -> None:
    with pytest.raises(ValueError, match="last axis of 2"):
        sincos_2d(torch.rand(4, 3), 8)
    with pytest.raises(ValueError, match="last axis of 3"):
        sincos_3d(torch.rand(4, 2), 8)
    with pytest.raises(ValueError, match="too small"):
        sincos_nd(torch.rand(4, 3), 4)


def test_rows_of_an_ecg_sized_grid_are_distinct() -> None:
    emb = sincos_1d(torch.arange(200), 192)  # (200, 192)
    dist = torch.cdist(emb, emb)  # (200, 200)
    off_diag = dist + torch.eye(200) * 1e9
    assert off_diag.min() > 0.1


def test_3d_rows_distinct_for_distinct_coordinates() -> None:
    g = torch.Generator().manual_seed(0)
    coords = torch.rand(64, 3, generator=g) * 10  # (64, 3) e.g. electrode positions
    emb = sincos_3d(coords, 96)  # (64, 96)
    off_diag = torch.cdist(emb, emb) + torch.eye(64) * 1e9
    assert off_diag.min() > 1e-3


@SETTINGS
@given(pos=st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=16), half=st.integers(1, 16))
def test_sin_cos_pairs_lie_on_the_unit_circle(pos: list[float], half: int) -> None:
    emb = sincos_1d(torch.tensor(pos, dtype=torch.float64), 2 * half)  # (P, 2·half)
    radius = emb[:, :half] ** 2 + emb[:, half:] ** 2
    torch.testing.assert_close(radius, torch.ones_like(radius))


def test_module_shapes_and_no_parameters() -> None:
    pe = SinCosPosEmbed(16, n_axes=2)
    assert list(pe.parameters()) == []
    assert pe(torch.rand(1, 5, 2)).shape == (1, 5, 16)
    assert pe(torch.rand(3, 5, 2)).shape == (3, 5, 16)
    assert "dim=16" in repr(pe)


def test_module_matches_functions() -> None:
    coords = torch.arange(10, dtype=torch.float32).view(1, 10, 1)  # (1, N, 1)
    torch.testing.assert_close(SinCosPosEmbed(8)(coords), sincos_1d(coords[..., 0], 8))
    c3 = torch.rand(2, 4, 3)
    torch.testing.assert_close(SinCosPosEmbed(12, n_axes=3)(c3), sincos_nd(c3, 12))


def test_module_cache_is_reused_and_invalidated() -> None:
    pe = SinCosPosEmbed(8)
    a = torch.arange(6, dtype=torch.float32).view(1, 6, 1)
    pe(a)
    first = pe(a.clone())
    assert pe(a) is first  # equal shared grid: served from the cache
    torch.testing.assert_close(first, sincos_1d(a[..., 0], 8))
    b = a + 1
    second = pe(b)
    assert second is not first
    torch.testing.assert_close(second, sincos_1d(b[..., 0], 8))
    with torch.inference_mode():
        inf = pe(b)
    assert inf.is_inference()
    assert not pe(b).is_inference()  # an inference tensor is never handed to autograd code


def test_module_rejects_wrong_axes() -> None:
    with pytest.raises(ValueError, match="n_axes"):
        SinCosPosEmbed(8, n_axes=4)
    with pytest.raises(ValueError, match="1 axes"):
        SinCosPosEmbed(8)(torch.rand(1, 4, 2))
