"""Tests of biojepa.nn.encoder and biojepa.nn.predictor: registers, kept tokens, target-only output."""

from __future__ import annotations

import pytest
import torch

from biojepa.nn.encoder import SignalEncoder
from biojepa.nn.predictor import Predictor
from biojepa.nn.tokenizers import PatchTokenizer1d, gather_tokens

C, P, N, D = 3, 8, 16, 32  # channels, patch, tokens, width


def _x(b: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, C, N * P, generator=torch.Generator().manual_seed(seed))  # (B, C, T)


def _encoder(n_registers: int = 1, seed: int = 0) -> SignalEncoder:
    torch.manual_seed(seed)
    return SignalEncoder(PatchTokenizer1d(C, D, P), dim=D, depth=2, n_heads=4, n_registers=n_registers).eval()


def _predictor(enc: SignalEncoder, seed: int = 1) -> Predictor:
    torch.manual_seed(seed)
    return Predictor(enc.tokenizer, embed_dim=D, dim=16, depth=2, n_heads=2).eval()


@pytest.mark.parametrize("n_registers", [0, 1, 3])
def test_registers_are_excluded_from_the_output(n_registers: int) -> None:
    enc = _encoder(n_registers)
    with torch.no_grad():
        out = enc(_x())
    assert out.shape == (2, N, D)
    assert enc.num_features == D
    if n_registers:
        assert enc.registers is not None and enc.registers.shape == (1, n_registers, D)
        # the registers take part in attention: changing them changes the token features
        with torch.no_grad():
            enc.registers.add_(torch.randn(enc.registers.shape, generator=torch.Generator().manual_seed(1)))
            assert not torch.allclose(enc(_x()), out, atol=1e-4)
    else:
        assert enc.registers is None


def test_keep_idx_gives_kept_tokens_only() -> None:
    enc = _encoder()
    keep = torch.tensor([[0, 1, 2, 9], [5, 6, 7, 8]])  # (B, K)
    assert enc(_x(), keep).shape == (2, 4, D)


def test_masked_tokens_do_not_influence_the_context_encoder() -> None:
    enc = _encoder()
    keep = torch.tensor([[2, 3, 4, 5, 11], [0, 1, 12, 13, 14]])  # (B, K)
    x = _x()
    y = x.clone()
    for b in range(2):
        dropped = sorted(set(range(N)) - set(keep[b].tolist()))
        for n in dropped:  # overwrite every dropped patch
            y[b, :, n * P : (n + 1) * P] = torch.randn(C, P) * 100
    with torch.no_grad():
        torch.testing.assert_close(enc(x, keep), enc(y, keep), rtol=0, atol=1e-6)
        # ... while the full encoder does see them
        assert not torch.allclose(enc(x), enc(y))


def test_context_features_depend_on_positions_not_only_content() -> None:
    enc = _encoder()
    x = _x(1)
    # same patch content at two different positions: different features (positional embedding)
    x[:, :, 0:P] = x[:, :, 5 * P : 6 * P]
    with torch.no_grad():
        a = enc(x, torch.tensor([[0]]))
        b = enc(x, torch.tensor([[5]]))
    assert not torch.allclose(a, b)


def test_forward_features_pooling() -> None:
    enc = _encoder()
    x = _x()
    with torch.no_grad():
        tokens = enc.forward_features(x, pool="none")
        torch.testing.assert_close(enc.forward_features(x), tokens.mean(dim=1))
    assert tokens.shape == (2, N, D)
    with pytest.raises(ValueError, match="pool must be"):
        enc.forward_features(x, pool="max")


def test_tokenizer_width_must_match() -> None:
    with pytest.raises(ValueError, match="differs from encoder width"):
        SignalEncoder(PatchTokenizer1d(C, 16, P), dim=D, depth=1, n_heads=4)


def _pred_inputs(enc: SignalEncoder) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    x = _x()
    ctx_idx = torch.tensor([[0, 1, 2, 3], [8, 9, 10, 11]])  # (B, K)
    tgt_idx = torch.tensor([[4, 5, 9, 15, 12], [0, 2, 3, 6, 7]])  # (B, M)
    with torch.no_grad():
        ctx = enc(x, ctx_idx)  # (B, K, D)
    coords = enc.tokenizer.coords(x)  # (1, N, 1)
    return ctx, coords, ctx_idx, tgt_idx


def test_predictor_outputs_at_target_positions_only() -> None:
    enc = _encoder()
    pred = _predictor(enc)
    ctx, coords, ctx_idx, tgt_idx = _pred_inputs(enc)
    with torch.no_grad():
        out = pred(ctx, coords, ctx_idx, tgt_idx)
    assert out.shape == (2, 5, D)  # (B, M, D), at the encoder width


def test_predictor_is_equivariant_to_the_order_of_targets() -> None:
    enc = _encoder()
    pred = _predictor(enc)
    ctx, coords, ctx_idx, tgt_idx = _pred_inputs(enc)
    perm = torch.tensor([3, 0, 4, 1, 2])
    with torch.no_grad():
        out = pred(ctx, coords, ctx_idx, tgt_idx)
        out_perm = pred(ctx, coords, ctx_idx, tgt_idx[:, perm])
    torch.testing.assert_close(out_perm, out[:, perm], rtol=1e-4, atol=1e-5)
    # every target is predicted from its own position: the rows differ
    assert torch.cdist(out[0], out[0]).add(torch.eye(5) * 1e9).min() > 1e-4


def test_predictor_sees_the_context() -> None:
    enc = _encoder()
    pred = _predictor(enc)
    ctx, coords, ctx_idx, tgt_idx = _pred_inputs(enc)
    with torch.no_grad():
        a = pred(ctx, coords, ctx_idx, tgt_idx)
        b = pred(ctx + 1.0, coords, ctx_idx, tgt_idx)
    assert not torch.allclose(a, b)


def test_predictor_matches_a_hand_assembled_sequence() -> None:
    enc = _encoder()
    pred = _predictor(enc)
    ctx, coords, ctx_idx, tgt_idx = _pred_inputs(enc)
    with torch.no_grad():
        pe = pred.pos_embed(coords)  # (1, N, d)
        z = pred.down(ctx) + gather_tokens(pe, ctx_idx)  # (B, K, d)
        q = pred.mask_token + gather_tokens(pe, tgt_idx)  # (B, M, d)
        h = pred.transformer(torch.cat([z, q], dim=1))  # (B, K + M, d)
        expected = pred.up(h[:, ctx_idx.shape[1] :])  # (B, M, D)
        torch.testing.assert_close(pred(ctx, coords, ctx_idx, tgt_idx), expected)


def test_predictor_gradients_reach_context_and_parameters() -> None:
    enc = _encoder()
    pred = _predictor(enc).train()
    ctx, coords, ctx_idx, tgt_idx = _pred_inputs(enc)
    ctx = ctx.clone().requires_grad_(True)
    pred(ctx, coords, ctx_idx, tgt_idx).abs().mean().backward()
    assert ctx.grad is not None and ctx.grad.abs().sum() > 0
    for name, p in pred.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
