"""Tests of biojepa.nn.tokenizers: PatchTokenizer1d equals Conv1d, kept-token path, contract errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from biojepa.errors import ContractError
from biojepa.nn.pos_embed import SinCosPosEmbed
from biojepa.nn.tokenizers import PatchTokenizer1d, Tokenizer, build_tokenizer, gather_tokens
from biojepa.registry import TOKENIZERS

SETTINGS = settings(max_examples=25, deadline=None)


def _x(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _conv_reference(tok: PatchTokenizer1d) -> nn.Conv1d:
    conv = nn.Conv1d(
        tok.n_channels, tok.embed_dim, tok.patch_size, stride=tok.patch_size, bias=tok.proj.bias is not None
    )
    conv.load_state_dict(tok.proj.state_dict())
    return conv


@pytest.mark.parametrize("bias", [False, True])
def test_patch_embedding_equals_conv1d(bias: bool) -> None:
    torch.manual_seed(0)
    tok = PatchTokenizer1d(12, 32, 25, bias=bias)
    if bias:
        nn.init.normal_(tok.proj.bias)
    x = _x(3, 12, 500)
    ref = _conv_reference(tok)(x).transpose(1, 2)  # (B, N, D)
    tokens, coords = tok(x)
    assert tokens.shape == (3, 20, 32)
    torch.testing.assert_close(tokens, ref, rtol=1e-4, atol=1e-5)
    assert coords.shape == (1, 20, 1)
    assert torch.equal(coords[0, :, 0], torch.arange(20, dtype=torch.float32))


@SETTINGS
@given(c=st.integers(1, 5), p=st.integers(1, 8), n=st.integers(1, 12), b=st.integers(1, 3))
def test_patch_embedding_equals_conv1d_property(c: int, p: int, n: int, b: int) -> None:
    torch.manual_seed(c * 1000 + p * 10 + n)
    tok = PatchTokenizer1d(c, 8, p)
    x = _x(b, c, p * n, seed=n)
    ref = _conv_reference(tok)(x).transpose(1, 2)  # (B, N, D)
    torch.testing.assert_close(tok.embed(x), ref, rtol=1e-4, atol=1e-5)


def test_keep_idx_equals_gathering_the_full_output() -> None:
    torch.manual_seed(0)
    tok = PatchTokenizer1d(4, 16, 8)
    x = _x(2, 4, 80)
    keep = torch.tensor([[0, 3, 4, 9], [1, 2, 5, 7]])  # (B, K)
    full_tokens, full_coords = tok(x)
    tokens, coords = tok(x, keep)
    assert tokens.shape == (2, 4, 16) and coords.shape == (2, 4, 1)
    torch.testing.assert_close(tokens, gather_tokens(full_tokens, keep), rtol=1e-5, atol=1e-6)
    assert torch.equal(coords, gather_tokens(full_coords, keep))
    assert torch.equal(coords[..., 0], keep.float())


def test_kept_tokens_ignore_dropped_samples() -> None:
    tok = PatchTokenizer1d(3, 8, 5)
    x = _x(1, 3, 50)
    keep = torch.tensor([[2, 6]])
    y = x.clone()
    y[..., :10] = 1e6  # patches 0 and 1 are not kept
    assert torch.equal(tok(x, keep)[0], tok(y, keep)[0])


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((2, 3, 100), "expects 4 channels"),
        ((2, 4, 90), "multiple of the patch size"),
        ((2, 4, 10), "multiple"),
    ],
)
def test_contract_errors(shape: tuple[int, ...], match: str) -> None:
    tok = PatchTokenizer1d(4, 8, 20)
    with pytest.raises(ContractError, match=match):
        tok(torch.zeros(shape))


def test_grid_and_num_tokens() -> None:
    tok = PatchTokenizer1d(12, 8, 25)
    assert tok.grid((12, 5000)) == (200,)
    assert tok.num_tokens((12, 5000)) == 200
    with pytest.raises(ContractError):
        tok.grid((11, 5000))


def test_invalid_sizes_raise() -> None:
    with pytest.raises(ValueError, match="invalid patch1d"):
        PatchTokenizer1d(0, 8, 4)


def test_pos_embed_module_and_registry() -> None:
    tok = build_tokenizer("patch1d", n_channels=2, dim=8, patch_size=4)
    assert isinstance(tok, Tokenizer) and isinstance(tok, PatchTokenizer1d)
    assert "patch1d" in TOKENIZERS.names()
    pe = tok.make_pos_embed(6)
    assert isinstance(pe, SinCosPosEmbed) and pe.dim == 6
    assert "patch_size=4" in repr(tok)


def test_gather_tokens_broadcasts_a_shared_grid() -> None:
    shared = torch.arange(10, dtype=torch.float32).view(1, 5, 2)  # (1, N, D)
    idx = torch.tensor([[4, 0], [1, 1]])  # (B, K)
    out = gather_tokens(shared, idx)
    assert out.shape == (2, 2, 2)
    assert torch.equal(out[0], shared[0, [4, 0]])
    assert torch.equal(out[1], shared[0, [1, 1]])


def test_backward_reaches_the_projection_only_through_kept_patches() -> None:
    tok = PatchTokenizer1d(2, 4, 3)
    x = _x(1, 2, 12)
    tokens, _ = tok(x, torch.tensor([[1]]))
    tokens.sum().backward()
    grad = tok.proj.weight.grad  # (D, C, P)
    assert grad is not None
    # the gradient of sum(W p) w.r.t. W is the kept patch itself, repeated for every output channel
    patch = x[0, :, 3:6]  # (C, P), patch 1
    torch.testing.assert_close(grad, patch.expand(4, 2, 3), rtol=1e-5, atol=1e-6)
