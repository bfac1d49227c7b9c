"""Tests of biojepa.nn.vit: shapes, bias-free layers, LayerNorm eps, init, SDPA vs manual, linear()."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import biojepa.nn.vit as vit
from biojepa.errors import ConfigError
from biojepa.nn.vit import (
    Attention,
    Block,
    Linear,
    Mlp,
    TransformerStack,
    cpu_linear_backend,
    layer_norm,
    linear,
    set_cpu_linear_backend,
)

SETTINGS = settings(max_examples=25, deadline=None)


def _x(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def restore_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Restore the backend choice afterwards; route even tiny products to oneDNN (when it is used)."""
    monkeypatch.setattr(vit, "ONEDNN_MIN_MACS", 0)
    saved = vit._onednn_ok
    yield
    vit._onednn_ok = saved


def _used_onednn(y: torch.Tensor) -> bool:
    return type(y.grad_fn).__name__ == "_OneDnnLinearBackward"


# -- the stack ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [False, True])
def test_stack_shapes(bias: bool) -> None:
    stack = TransformerStack(32, 2, 4, bias=bias)
    assert stack(_x(3, 7, 32)).shape == (3, 7, 32)
    assert stack(_x(1, 1, 32)).shape == (1, 1, 32)


def test_bias_free_stack_has_no_bias_parameters() -> None:
    names = [n for n, _ in TransformerStack(32, 2, 4, bias=False).named_parameters()]
    assert names and not [n for n in names if "bias" in n]
    with_bias = [n for n, _ in TransformerStack(32, 2, 4, bias=True).named_parameters() if n.endswith("bias")]
    # per block: norm1, qkv, proj, norm2, fc1, fc2; plus the final norm
    assert len(with_bias) == 2 * 6 + 1


def test_layer_norms_use_eps_1e6() -> None:
    norms = [m for m in TransformerStack(16, 2, 2).modules() if isinstance(m, nn.LayerNorm)]
    assert len(norms) == 2 * 2 + 1
    assert all(m.eps == 1e-6 for m in norms)
    ln = layer_norm(8, bias=False)
    assert ln.eps == 1e-6 and ln.bias is None


def test_final_norm_standardises_tokens() -> None:
    out = TransformerStack(64, 1, 4)(_x(2, 5, 64) * 3 + 1)  # (B, N, D)
    torch.testing.assert_close(out.mean(-1), torch.zeros(2, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(-1, unbiased=False), torch.ones(2, 5), atol=1e-3, rtol=0)


def test_init_truncated_normal_and_residual_scaling() -> None:
    depth = 4
    torch.manual_seed(0)
    stack = TransformerStack(128, depth, 4)
    std, scale = 0.02, 1.0 / math.sqrt(2 * depth)
    stack.requires_grad_(False)
    for blk in stack.blocks:
        assert isinstance(blk, Block)
        for lin in (blk.attn.qkv, blk.mlp.fc1):
            assert lin.weight.abs().max() <= 2 * std + 1e-7  # truncated at 2 std
        for lin in (blk.attn.proj, blk.mlp.fc2):
            assert lin.weight.abs().max() <= 2 * std * scale + 1e-7
        ratio = float(blk.attn.proj.weight.std() / blk.attn.qkv.weight.std())
        assert ratio == pytest.approx(scale, rel=0.05)
        ratio = float(blk.mlp.fc2.weight.std() / blk.mlp.fc1.weight.std())
        assert ratio == pytest.approx(scale, rel=0.05)
        # truncation at +-2 std leaves 0.88 std
        assert float(blk.attn.qkv.weight.std()) == pytest.approx(0.88 * std, rel=0.05)
        assert torch.equal(blk.norm1.weight, torch.ones(128))


def test_block_with_zero_residual_projections_is_identity() -> None:
    blk = Block(16, 2)
    with torch.no_grad():
        blk.attn.proj.weight.zero_()
        blk.mlp.fc2.weight.zero_()
    x = _x(2, 6, 16)
    assert torch.equal(blk(x), x)


def test_mlp_hidden_width() -> None:
    mlp = Mlp(16, 40)
    assert mlp.fc1.out_features == 40 and mlp.fc2.in_features == 40
    assert Block(16, 2, mlp_ratio=2.5).mlp.fc1.out_features == 40


def test_attention_rejects_indivisible_heads() -> None:
    with pytest.raises(ValueError, match="not divisible"):
        Attention(30, 4)


def _manual_attention(attn: Attention, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    B, N, D = x.shape
    H, Dh = attn.n_heads, attn.head_dim
    qkv = x @ attn.qkv.weight.t()  # (B, N, 3D)
    q, k, v = qkv.split(D, dim=-1)  # 3 × (B, N, D)
    q, k, v = (t.reshape(B, N, H, Dh).transpose(1, 2) for t in (q, k, v))  # 3 × (B, H, N, Dh)
    scores = q @ k.transpose(-2, -1) / math.sqrt(Dh)  # (B, H, N, N)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    out = scores.softmax(-1) @ v  # (B, H, N, Dh)
    return out.transpose(1, 2).reshape(B, N, D) @ attn.proj.weight.t()  # (B, N, D)


@pytest.mark.parametrize("with_mask", [False, True])
def test_sdpa_attention_equals_manual_reference(with_mask: bool) -> None:
    torch.manual_seed(0)
    attn = Attention(32, 4)
    x = _x(2, 9, 32)
    mask = None
    if with_mask:
        mask = torch.ones(2, 1, 9, 9, dtype=torch.bool)  # (B, 1, N, N)
        mask[0, :, :, 5:] = False  # sample 0 cannot attend to its last tokens
    out = attn(x, mask)
    torch.testing.assert_close(out, _manual_attention(attn, x, mask), rtol=1e-4, atol=1e-5)


def test_attention_gradients_match_manual_reference() -> None:
    torch.manual_seed(0)
    attn = Attention(16, 2)
    x = _x(2, 5, 16).requires_grad_(True)
    (g_sdpa,) = torch.autograd.grad(attn(x).square().sum(), x)
    (g_ref,) = torch.autograd.grad(_manual_attention(attn, x, None).square().sum(), x)
    torch.testing.assert_close(g_sdpa, g_ref, rtol=1e-4, atol=1e-5)


# -- linear / Linear ------------------------------------------------------------------------------------


def test_linear_module_is_a_drop_in_nn_linear() -> None:
    lin = Linear(6, 4, bias=True)
    assert isinstance(lin, nn.Linear)
    assert set(lin.state_dict()) == {"weight", "bias"}
    ref = nn.Linear(6, 4)
    ref.load_state_dict(lin.state_dict())
    x = _x(3, 6)
    torch.testing.assert_close(lin(x), ref(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", ["aten", "auto"])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("shape", [(5, 24), (3, 7, 24), (2, 3, 4, 24)])
def test_linear_matches_f_linear_forward_and_backward(
    restore_backend: None, backend: str, bias: bool, shape: tuple[int, ...]
) -> None:
    set_cpu_linear_backend(backend)
    x = _x(*shape, seed=1).requires_grad_(True)
    w = _x(16, 24, seed=2).requires_grad_(True)
    b = _x(16, seed=3).requires_grad_(True) if bias else None
    gy = _x(*shape[:-1], 16, seed=4)
    y = linear(x, w, b)
    assert _used_onednn(y) == (cpu_linear_backend() == "onednn")
    grads = torch.autograd.grad(y, [t for t in (x, w, b) if t is not None], gy)
    x_ref, w_ref = x.detach().requires_grad_(True), w.detach().requires_grad_(True)
    b_ref = None if b is None else b.detach().requires_grad_(True)
    y_ref = F.linear(x_ref, w_ref, b_ref)
    refs = torch.autograd.grad(y_ref, [t for t in (x_ref, w_ref, b_ref) if t is not None], gy)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    for g, r in zip(grads, refs, strict=True):
        assert g.shape == r.shape and g.is_contiguous()
        torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("out_features", [8, 32])  # weight gradient: both operand orders
def test_linear_non_contiguous_input_and_frozen_weight(restore_backend: None, out_features: int) -> None:
    set_cpu_linear_backend("auto")
    base = _x(4, 24, 6).requires_grad_(True)
    x = base.transpose(1, 2)  # (4, 6, 24), not contiguous
    w = _x(out_features, 24, seed=5)  # frozen: no gradient wanted
    y = linear(x, w)
    (gx,) = torch.autograd.grad(y.sum(), base)
    (gx_ref,) = torch.autograd.grad(F.linear(x, w).sum(), base)
    torch.testing.assert_close(y, F.linear(x, w), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-5, atol=1e-5)
    w2 = w.clone().requires_grad_(True)
    (gw,) = torch.autograd.grad(linear(x.detach(), w2).square().sum(), w2)
    (gw_ref,) = torch.autograd.grad(F.linear(x.detach(), w2).square().sum(), w2)
    torch.testing.assert_close(gw, gw_ref, rtol=1e-5, atol=1e-4)


def test_linear_is_deterministic(restore_backend: None) -> None:
    set_cpu_linear_backend("auto")
    x = _x(8, 50, 96).requires_grad_(True)
    w = _x(128, 96, seed=1).requires_grad_(True)
    runs = []
    for _ in range(2):
        y = linear(x, w)
        runs.append((y, *torch.autograd.grad(y.square().sum(), (x, w))))
    for a, b in zip(*runs, strict=True):
        assert torch.equal(a, b)


def test_small_products_stay_with_f_linear() -> None:
    x = _x(2, 5, 8).requires_grad_(True)
    w = _x(4, 8).requires_grad_(True)
    y = linear(x, w)  # 320 multiply-accumulates: far below ONEDNN_MIN_MACS
    assert not _used_onednn(y)
    assert torch.equal(y, F.linear(x, w))


def test_large_products_use_onednn_when_available() -> None:
    x = _x(64, 128).requires_grad_(True)
    w = _x(256, 128).requires_grad_(True)  # 64·128·256 = 2**21 multiply-accumulates
    y = linear(x, w)
    assert _used_onednn(y) == (cpu_linear_backend() == "onednn")
    torch.testing.assert_close(y, F.linear(x, w), rtol=1e-5, atol=1e-4)


def test_linear_falls_back_outside_fp32_cpu(restore_backend: None) -> None:
    set_cpu_linear_backend("auto")
    x64, w64 = _x(3, 5).double(), _x(4, 5).double()
    assert torch.equal(linear(x64, w64), F.linear(x64, w64))
    x, w = _x(3, 5).requires_grad_(True), _x(4, 5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert linear(x, w).dtype == torch.bfloat16
    assert linear(_x(5), w).shape == (4,)  # 1-D input
    assert linear(_x(0, 5), w).shape == (0, 4)  # empty input
    torch.backends.mkldnn.enabled = False  # torch's own switch is respected
    try:
        assert not _used_onednn(linear(x, w))
    finally:
        torch.backends.mkldnn.enabled = True


def test_backend_selection(restore_backend: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert set_cpu_linear_backend("aten") == "aten"
    assert cpu_linear_backend() == "aten"
    assert set_cpu_linear_backend("auto") in ("onednn", "aten")
    with pytest.raises(ConfigError, match="unknown CPU linear backend"):
        set_cpu_linear_backend("blas")
    monkeypatch.setenv(vit.CPU_LINEAR_ENV, "aten")
    vit._onednn_ok = None  # resolved again from the environment
    assert cpu_linear_backend() == "aten"


def test_onednn_request_fails_loudly_without_the_kernel(
    restore_backend: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vit, "_onednn_op", lambda: None)
    assert set_cpu_linear_backend("auto") == "aten"
    with pytest.raises(RuntimeError, match="not usable"):
        set_cpu_linear_backend("onednn")


def test_stack_output_equal_across_linear_backends(restore_backend: None) -> None:
    torch.manual_seed(0)
    stack = TransformerStack(32, 2, 4)
    x = _x(2, 11, 32)
    set_cpu_linear_backend("aten")
    ref = stack(x)
    set_cpu_linear_backend("auto")
    torch.testing.assert_close(stack(x), ref, rtol=1e-4, atol=1e-5)


@SETTINGS
@given(
    rows=st.integers(1, 40),
    din=st.integers(1, 48),
    dout=st.integers(1, 48),
    seed=st.integers(0, 2**16),
)
def test_linear_property_matches_f_linear(rows: int, din: int, dout: int, seed: int) -> None:
    saved = vit.ONEDNN_MIN_MACS
    vit.ONEDNN_MIN_MACS = 0  # every product through oneDNN (when it is the backend in use)
    try:
        _check_linear_sums(rows, din, dout, seed)
    finally:
        vit.ONEDNN_MIN_MACS = saved


def _check_linear_sums(rows: int, din: int, dout: int, seed: int) -> None:
    x = _x(rows, din, seed=seed).requires_grad_(True)
    w = _x(dout, din, seed=seed + 1).requires_grad_(True)
    y = linear(x, w)
    gx, gw = torch.autograd.grad(y.sum(), (x, w))
    torch.testing.assert_close(y, F.linear(x, w), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(gx, w.sum(0).expand(rows, din), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(gw, x.sum(0).expand(dout, din), rtol=1e-4, atol=1e-4)
