"""Step-indexed schedules: exact values at chosen steps, monotonicity and range (hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biojepa.config import OptimConfig
from biojepa.engine.schedules import Schedules, cosine, linear, warmup_cosine
from biojepa.errors import ConfigError

WC = {"total": 100, "warmup": 10, "start": 1e-6, "peak": 1e-3, "end": 1e-5}


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (0, 1e-6),
        (5, 1e-6 + (1e-3 - 1e-6) * 0.5),
        (10, 1e-3),
        (55, 1e-5 + (1e-3 - 1e-5) * 0.5),  # half-way through the cosine
        (100, 1e-5),
        (1000, 1e-5),  # clamped beyond the end
    ],
)
def test_warmup_cosine_exact_values(step: int, expected: float) -> None:
    assert warmup_cosine(step, **WC) == pytest.approx(expected, rel=1e-12, abs=1e-18)


def test_warmup_zero_starts_at_peak() -> None:
    assert warmup_cosine(0, total=10, warmup=0, start=0.0, peak=2.0, end=0.0) == 2.0
    assert warmup_cosine(10, total=10, warmup=10, start=0.0, peak=2.0, end=0.5) == 0.5


def test_cosine_and_linear_exact_values() -> None:
    assert cosine(0, total=200, start=0.01, end=0.1) == pytest.approx(0.01)
    assert cosine(100, total=200, start=0.01, end=0.1) == pytest.approx(0.055)
    assert cosine(50, total=200, start=0.01, end=0.1) == pytest.approx(
        0.01 + 0.09 * (1 - math.cos(math.pi / 4)) / 2
    )
    assert cosine(200, total=200, start=0.01, end=0.1) == 0.1
    assert cosine(999, total=200, start=0.01, end=0.1) == 0.1
    assert linear(0, total=200, start=0.998, end=0.9995) == pytest.approx(0.998)
    assert linear(100, total=200, start=0.998, end=0.9995) == pytest.approx(0.99875)
    assert linear(200, total=200, start=0.998, end=0.9995) == 0.9995
    assert linear(201, total=200, start=0.998, end=0.9995) == 0.9995


@pytest.mark.parametrize("fn", [cosine, linear])
def test_bad_arguments_raise(fn: object) -> None:
    with pytest.raises(ValueError, match="step must be >= 0"):
        fn(-1, total=10, start=0.0, end=1.0)  # type: ignore[operator]
    with pytest.raises(ValueError, match="total must be > 0"):
        fn(0, total=0, start=0.0, end=1.0)  # type: ignore[operator]


def test_warmup_longer_than_total_raises() -> None:
    with pytest.raises(ValueError, match="warm-up"):
        warmup_cosine(0, total=5, warmup=6, start=0.0, peak=1.0, end=0.0)


steps = st.integers(min_value=1, max_value=200)


@settings(max_examples=50, deadline=None)
@given(
    total=steps,
    frac=st.floats(0.0, 1.0),
    start=st.floats(0, 1e-3),
    peak=st.floats(1e-3, 1e-2),
    end=st.floats(0, 1e-3),
)
def test_warmup_cosine_monotone_and_bounded(
    total: int, frac: float, start: float, peak: float, end: float
) -> None:
    warmup = int(frac * (total - 1))  # warm-up ends inside the run
    vals = [
        warmup_cosine(s, total=total, warmup=warmup, start=start, peak=peak, end=end)
        for s in range(total + 2)
    ]
    lo, hi = min(start, peak, end), max(start, peak, end)
    assert all(lo - 1e-15 <= v <= hi + 1e-15 for v in vals)
    up, down = vals[: warmup + 1], vals[warmup:]
    assert all(b >= a - 1e-15 for a, b in zip(up, up[1:], strict=False))  # warm-up rises to the peak
    assert all(b <= a + 1e-15 for a, b in zip(down, down[1:], strict=False))  # then decays to the end
    assert vals[warmup] == pytest.approx(peak)
    assert vals[total] == end


@settings(max_examples=50, deadline=None)
@given(total=steps, start=st.floats(0, 1), end=st.floats(0, 1), step=st.integers(0, 1000))
def test_cosine_linear_between_endpoints(total: int, start: float, end: float, step: int) -> None:
    lo, hi = min(start, end), max(start, end)
    for fn in (cosine, linear):
        v = fn(step, total=total, start=start, end=end)
        nxt = fn(step + 1, total=total, start=start, end=end)
        assert lo - 1e-12 <= v <= hi + 1e-12
        if end >= start:
            assert nxt >= v - 1e-12
        else:
            assert nxt <= v + 1e-12


def test_schedules_from_config_at() -> None:
    optim = OptimConfig(lr=1e-3, lr_start=0.0, lr_end=0.0, warmup_steps=4, ema_start=0.99, ema_end=1.0)
    s = Schedules.from_config(optim, 20)
    lr, wd, ema = s.at(0)
    assert (lr, wd, ema) == (0.0, pytest.approx(0.01), pytest.approx(0.99))
    assert s.at(4)[0] == pytest.approx(1e-3)
    assert s.at(20) == (0.0, pytest.approx(0.1), pytest.approx(1.0))
    assert s.at(10)[2] == pytest.approx(0.995)


def test_schedules_from_config_shortens_a_long_warmup(caplog: pytest.LogCaptureFixture) -> None:
    optim = OptimConfig(lr=1e-3, lr_start=0.0, lr_end=0.0, warmup_steps=30)
    with caplog.at_level("WARNING"):
        s = Schedules.from_config(optim, 20)
    assert "warmup_steps=30 is longer than the run" in caplog.text
    assert s.warmup == 20
    lrs = [s.lr(i) for i in range(20)]
    assert lrs == sorted(lrs) and lrs[0] == 0.0 and lrs[-1] == pytest.approx(1e-3 * 19 / 20)


def test_schedules_from_config_rejects_bad_totals() -> None:
    with pytest.raises(ConfigError, match="engine.steps must be > 0"):
        Schedules.from_config(OptimConfig(), 0)
