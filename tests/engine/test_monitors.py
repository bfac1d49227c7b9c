"""Collapse monitors: target std and effective rank on constructed targets, thresholds, degenerate inputs."""

from __future__ import annotations

import math

import pytest
import torch

from biojepa.engine.monitors import collapse_stats, collapse_warnings, effective_rank
from biojepa.errors import ConfigError, DataError


def _white(b: int, m: int, d: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, m, d, generator=torch.Generator().manual_seed(seed))  # (B, M, D)


def test_collapsed_targets_give_zero_std_and_rank_one() -> None:
    token = torch.linspace(-2.0, 3.0, 16)  # (D,)
    target = token.expand(4, 10, 16).clone()  # (B, M, D): every token the same
    s = collapse_stats(target)
    assert s["target_std"] == 0.0
    assert s["effective_rank"] == 1.0
    assert s["n_tokens"] == 40.0
    reasons = collapse_warnings(s, std_min=0.01, rank_min=2.0)
    assert len(reasons) == 2
    assert "target_std 0 < 0.01" in reasons[0] and "effective_rank 1 < 2" in reasons[1]


def test_white_noise_has_rank_near_d_and_unit_std() -> None:
    s = collapse_stats(_white(4, 1024, 32))
    assert s["n_tokens"] == 4096.0
    assert s["target_std"] == pytest.approx(1.0, abs=0.03)
    assert 0.97 * 32 < s["effective_rank"] <= 32
    assert collapse_warnings(s, std_min=0.01, rank_min=2.0) == []


def test_rank_of_known_spectra() -> None:
    g = torch.Generator().manual_seed(1)
    u = torch.linalg.qr(torch.randn(200, 8, generator=g, dtype=torch.float64))[0]  # (200, 8) orthonormal
    v = torch.linalg.qr(torch.randn(8, 8, generator=g, dtype=torch.float64))[0]  # (8, 8)
    for sv in ([5.0, 0, 0, 0, 0, 0, 0, 0], [1.0] * 4 + [0.0] * 4, [4.0, 2.0, 1.0, 1.0, 0, 0, 0, 0]):
        s = torch.tensor(sv, dtype=torch.float64)
        x = u @ torch.diag(s) @ v.T  # (200, 8) with singular values sv
        p = s[s > 0] / s.sum()
        expected = math.exp(float(-(p * p.log()).sum()))
        assert effective_rank(x) == pytest.approx(expected, rel=1e-6)
    assert effective_rank(torch.zeros(5, 3)) == 1.0
    assert effective_rank(torch.zeros(0, 3)) == 1.0


def test_rank_one_and_low_rank_targets() -> None:
    g = torch.Generator().manual_seed(2)
    scores = torch.randn(2, 50, 1, generator=g)  # (B, M, 1)
    direction = torch.randn(1, 1, 24, generator=g)  # (1, 1, D)
    s = collapse_stats(scores * direction + 3.0)  # rank 1 after centring, yet a large std
    assert s["effective_rank"] == pytest.approx(1.0, abs=1e-3)
    assert s["target_std"] > 0.1
    assert [r.split()[0] for r in collapse_warnings(s, std_min=0.01, rank_min=2.0)] == ["effective_rank"]
    basis = torch.randn(3, 24, generator=g)  # (3, D)
    s3 = collapse_stats(torch.randn(2, 500, 3, generator=g) @ basis)  # (B, M, D) of rank 3
    assert 1.5 < s3["effective_rank"] <= 3.0 + 1e-6


def test_valid_mask_drops_padded_tokens() -> None:
    target = _white(2, 6, 8)
    valid = torch.tensor([[True] * 6, [True, True, True, False, False, False]])
    target[1, 3:] = 1e6  # padded slots may hold anything
    s = collapse_stats(target, valid)
    ref = collapse_stats(torch.cat([target[0], target[1, :3]])[None])  # (1, 9, D)
    assert s == ref and s["n_tokens"] == 9.0
    with pytest.raises(DataError, match="valid has shape"):
        collapse_stats(target, valid[:, :3])


def test_max_tokens_subsamples_deterministically() -> None:
    target = _white(8, 512, 16, seed=3)  # 4096 tokens
    a = collapse_stats(target, max_tokens=100)
    b = collapse_stats(target, max_tokens=100)
    full = collapse_stats(target)
    assert a == b
    assert a["n_tokens"] == full["n_tokens"] == 4096.0
    assert a["target_std"] == full["target_std"]  # the std uses every token
    assert a["effective_rank"] != full["effective_rank"]  # the rank only the strided subsample
    idx = torch.arange(100) * 4096 // 100
    sub = target.reshape(-1, 16)[idx]  # (100, D)
    assert a["effective_rank"] == pytest.approx(effective_rank(sub - sub.double().mean(0).float()), rel=1e-5)
    with pytest.raises(ConfigError, match="max_tokens"):
        collapse_stats(target, max_tokens=0)


@pytest.mark.parametrize(
    ("target", "valid", "n"),
    [
        (torch.randn(1, 1, 8), None, 1),  # one token
        (torch.zeros(3, 4, 8), None, 12),  # all-zero matrix
        (torch.randn(2, 3, 8), torch.zeros(2, 3, dtype=torch.bool), 0),  # no valid token
        (torch.randn(2, 3, 1), None, 6),  # D = 1: at most rank 1
    ],
)
def test_degenerate_inputs_are_finite_and_quiet(
    target: torch.Tensor, valid: torch.Tensor | None, n: int
) -> None:
    s = collapse_stats(target, valid)
    assert all(math.isfinite(v) for v in s.values())
    assert s["n_tokens"] == n
    assert s["effective_rank"] == pytest.approx(1.0)
    if n < 2:
        assert s["target_std"] == 0.0
        assert collapse_warnings(s, std_min=0.01, rank_min=2.0) == []  # nothing to judge


def test_stats_are_detached_float_and_do_not_touch_rng() -> None:
    x = _white(2, 64, 8).to(torch.bfloat16).requires_grad_(True)
    state = torch.get_rng_state()
    s = collapse_stats(x * 2)
    assert torch.equal(state, torch.get_rng_state())
    assert set(s) == {"target_std", "effective_rank", "n_tokens"} and all(
        type(v) is float for v in s.values()
    )
    assert x.grad is None


def test_non_finite_targets_give_nan_and_no_warning() -> None:
    target = _white(2, 5, 4)
    target[0, 0, 0] = float("nan")
    s = collapse_stats(target)
    assert math.isnan(s["target_std"]) and math.isnan(s["effective_rank"]) and s["n_tokens"] == 10.0
    assert collapse_warnings(s, std_min=0.01, rank_min=2.0) == []


def test_bad_shapes_and_thresholds() -> None:
    with pytest.raises(DataError, match=r"\(B, M, D\)"):
        collapse_stats(torch.zeros(4, 8))
    with pytest.raises(DataError, match=r"\(n, D\)"):
        effective_rank(torch.zeros(2, 3, 4))
    with pytest.raises(ConfigError, match="thresholds"):
        collapse_warnings(
            {"target_std": 1.0, "effective_rank": 4.0, "n_tokens": 10.0}, std_min=-1, rank_min=2
        )
    ok = {"target_std": 0.5, "effective_rank": 3.0, "n_tokens": 10.0}
    assert collapse_warnings(ok, std_min=0.01, rank_min=2.0) == []
    assert collapse_warnings(ok, std_min=0.0, rank_min=0.0) == []  # 0 disables
    assert len(collapse_warnings(ok, std_min=1.0, rank_min=4.0)) == 2


def test_docstring_example() -> None:
    import doctest

    import biojepa.engine.monitors as mod

    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
