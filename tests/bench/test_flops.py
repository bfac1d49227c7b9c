"""Tests of biojepa.bench.flops: the reference ViT-XS count and the per-block formula."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from biojepa.bench.flops import (
    _counted_macs_per_token,
    block_macs,
    encoder_forward_flops,
    jepa_step_flops,
    keep_count,
    patch_embed_macs_per_token,
    spec_num_tokens,
)
from biojepa.errors import ConfigError
from biojepa.models import get_spec
from biojepa.nn.vit import Block


def test_vit_xs_step_reproduces_the_reference_4_094_gflop() -> None:
    # env_perf.md §3b: ECG-JEPA ViT-XS at keep 0.20 (K = 40 of 200 tokens), official implementation
    spec = get_spec("synthetic_vit_xs")
    f = jepa_step_flops(spec, n_ctx=40, n_tgt=160, ctx_embeds_all_patches=True)
    assert f.total == pytest.approx(4.094, rel=0.01)
    assert f.target_fwd == pytest.approx(1.694, rel=0.01)
    assert f.context_fwd == pytest.approx(0.324, rel=0.01)
    assert f.predictor_fwd == pytest.approx(0.484, rel=0.01)
    assert f.trained_fwd_bwd == pytest.approx(2.400, rel=0.01)
    assert (f.n_tokens, f.n_ctx, f.n_tgt, f.n_registers) == (200, 40, 160, 1)


@pytest.mark.parametrize(("k", "expected"), [(30, 3.87), (50, 4.32)])
def test_vit_xs_reference_at_other_keep_ratios(k: int, expected: float) -> None:
    f = jepa_step_flops(get_spec("synthetic_vit_xs"), n_ctx=k, n_tgt=200 - k, ctx_embeds_all_patches=True)
    assert f.total == pytest.approx(expected, rel=0.01)


def test_biojepa_embeds_only_kept_patches() -> None:
    spec = get_spec("synthetic_vit_xs")
    ours = jepa_step_flops(spec, n_ctx=40, n_tgt=160)
    ref = jepa_step_flops(spec, n_ctx=40, n_tgt=160, ctx_embeds_all_patches=True)
    patch_flop = 2 * 12 * 25 * 192  # one 12 x 25 patch projected to 192
    # the context encoder skips 160 patches: forward + weight gradient (2x)
    assert ref.total - ours.total == pytest.approx(2 * 160 * patch_flop * 1e-9)
    assert ours.total == pytest.approx(ours.target_fwd + ours.trained_fwd_bwd)


def test_block_macs_matches_the_modules() -> None:
    dim, n = 24, 7
    blk = Block(dim, 4, mlp_ratio=2.5)
    linear_macs = sum(m.in_features * m.out_features for m in blk.modules() if isinstance(m, nn.Linear)) * n
    attention_macs = 2 * n * n * dim  # QK^T and AV over all heads
    assert block_macs(n, dim, 2.5) == linear_macs + attention_macs


def test_patch_embed_counts_from_the_spec_and_the_module() -> None:
    spec = get_spec("synthetic_vit_tiny")
    assert patch_embed_macs_per_token(spec) == 4 * 16 * 64
    # the generic path for other tokenizer kinds (count the projection weights) agrees for patch1d
    assert _counted_macs_per_token(spec) == 4 * 16 * 64
    assert spec_num_tokens(spec) == (64,)


def test_encoder_forward_flops_scales_with_tokens() -> None:
    spec = get_spec("synthetic_vit_tiny")
    f64 = encoder_forward_flops(spec, 64)
    f32 = encoder_forward_flops(spec, 32)
    assert f64 > 2 * f32 * 0.9 and f64 > f32
    # registers are added to the transformer tokens, not to the embedded patches
    assert encoder_forward_flops(spec, 64, n_embedded=0) < f64


def test_default_token_count_comes_from_the_signal_contract() -> None:
    spec = get_spec("synthetic_vit_tiny")
    assert jepa_step_flops(spec, n_ctx=13, n_tgt=51).n_tokens == 64


@pytest.mark.parametrize(("k", "m"), [(0, 10), (10, 0), (150, 60)])
def test_invalid_token_counts(k: int, m: int) -> None:
    with pytest.raises(ConfigError, match="token counts"):
        jepa_step_flops(get_spec("synthetic_vit_xs"), n_ctx=k, n_tgt=m)


def test_keep_count_rule() -> None:
    assert keep_count(200, 0.20) == 40
    assert keep_count(200, 0.15) == 30
    assert keep_count(10, 0.001) == 1
    assert keep_count(10, 0.999) == 9
    with pytest.raises(ConfigError, match="keep"):
        keep_count(10, 1.0)


def test_as_dict_is_json_ready() -> None:
    d = jepa_step_flops(get_spec("synthetic_vit_tiny"), n_ctx=13, n_tgt=51).as_dict()
    assert set(d) >= {"total", "target_fwd", "context_fwd", "predictor_fwd", "trained_fwd_bwd"}
    assert all(isinstance(v, (int, float)) for v in d.values())
    assert torch.isfinite(torch.tensor(list(d.values()), dtype=torch.float64)).all()
