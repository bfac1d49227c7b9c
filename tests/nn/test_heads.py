"""Tests of biojepa.nn.heads: shapes, masks, init, gradients, errors."""

from __future__ import annotations

import pytest
import torch

from biojepa.errors import ConfigError, ContractError
from biojepa.nn.heads import AttentivePooler, LinearHead, default_n_heads, masked_mean


def _tokens(b: int = 3, n: int = 5, d: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, n, d, generator=torch.Generator().manual_seed(seed))  # (B, N, D)


def test_linear_head_mean_pool_equals_linear_of_mean() -> None:
    head = LinearHead(8, 3)
    x = _tokens()
    out = head(x)
    assert out.shape == (3, 3)
    torch.testing.assert_close(out, head.linear(x.mean(dim=1)))


def test_linear_head_pool_none_takes_pooled_features() -> None:
    head = LinearHead(8, 2, pool="none")
    x = torch.randn(4, 8)
    assert head(x).shape == (4, 2)
    with pytest.raises(ContractError, match="pooled features"):
        head(_tokens())
    with pytest.raises(ContractError, match="token features"):
        head(x, torch.ones(4, 8, dtype=torch.bool))


def test_linear_head_mask_ignores_padding() -> None:
    head = LinearHead(8, 3)
    x = _tokens()
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.bool)
    garbage = x.clone()
    garbage[~mask] = 1e3  # padded positions hold garbage
    out = head(garbage, mask)
    ref = torch.stack([head(x[i : i + 1, : int(mask[i].sum())])[0] for i in range(3)])  # (B, n_out)
    torch.testing.assert_close(out, ref)


def test_masked_mean_rejects_empty_rows_and_bad_shapes() -> None:
    x = _tokens()
    mask = torch.ones(3, 5, dtype=torch.bool)
    mask[1] = False
    with pytest.raises(ContractError, match=r"no valid token in batch rows \[1\]"):
        masked_mean(x, mask)
    with pytest.raises(ContractError, match="key padding mask has shape"):
        masked_mean(x, torch.ones(3, 4, dtype=torch.bool))
    with pytest.raises(ContractError, match=r"\(B, N, D\)"):
        masked_mean(torch.randn(3, 8))


@pytest.mark.parametrize("n_heads", [1, 2, 4])
def test_attentive_pooler_shapes_and_mask(n_heads: int) -> None:
    torch.manual_seed(0)
    pooler = AttentivePooler(8, 5, n_heads=n_heads)
    x = _tokens(n=6)
    assert pooler(x).shape == (3, 5)
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[:, 4:] = False
    noisy = x.clone()
    noisy[:, 4:] = 50.0
    torch.testing.assert_close(pooler(noisy, mask), pooler(x[:, :4]))


def test_attentive_pooler_is_permutation_invariant() -> None:
    torch.manual_seed(0)
    pooler = AttentivePooler(8, 2, n_heads=2)
    x = _tokens(n=7)
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(pooler(x), pooler(x[:, perm]), rtol=1e-5, atol=1e-6)


def test_attentive_pooler_matches_manual_single_head_attention() -> None:
    torch.manual_seed(0)
    pooler = AttentivePooler(4, 2, n_heads=1, norm=False)
    x = _tokens(b=2, n=3, d=4)
    q = pooler.q(pooler.query)[0]  # (1, D)
    k, v = pooler.kv(x).chunk(2, dim=-1)  # 2 × (B, N, D)
    w = torch.softmax(q @ k.transpose(1, 2) / 2.0, dim=-1)  # (B, 1, N)
    ref = pooler.proj((w @ v)[:, 0])  # (B, n_out)
    torch.testing.assert_close(pooler(x), ref)


def test_heads_init_and_gradients() -> None:
    torch.manual_seed(0)
    pooler = AttentivePooler(64, 3, bias=True)
    assert pooler.n_heads == 1  # 64 / 64
    for name, p in pooler.named_parameters():
        p = p.detach()
        if (name.endswith("weight") and p.ndim == 2) or name == "query":
            assert p.abs().max() <= 0.04 + 1e-7, name  # truncated at 2 std
            assert 0.01 < float(p.std()) < 0.03, name
        if name.endswith("bias") and "norm" not in name:
            assert torch.count_nonzero(p) == 0, name
    pooler(_tokens(d=64)).sum().backward()
    for name, p in pooler.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_attentive_pooler_without_bias_or_norm() -> None:
    pooler = AttentivePooler(8, 2, n_heads=2, bias=False, norm=False)
    assert all(not n.endswith("bias") for n, _ in pooler.named_parameters())
    assert isinstance(pooler.norm, torch.nn.Identity)


def test_default_n_heads() -> None:
    assert default_n_heads(384) == 6
    assert default_n_heads(48) == 1
    assert default_n_heads(100) == 1


def test_head_config_errors() -> None:
    with pytest.raises(ConfigError, match="divide dim=8"):
        AttentivePooler(8, 2, n_heads=3)
    with pytest.raises(ConfigError, match="n_out >= 1"):
        LinearHead(8, 0)
    with pytest.raises(ConfigError, match="pool must be"):
        LinearHead(8, 2, pool="max")  # type: ignore[arg-type]
    with pytest.raises(ContractError, match=r"tokens \(B, N, 8\)"):
        AttentivePooler(8, 2)(torch.randn(2, 3, 6))
