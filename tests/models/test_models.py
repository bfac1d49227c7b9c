"""Registry-wide model tests: every name in ``biojepa.models.list_models()`` is covered automatically.

Large specs are shrunk to one encoder and one predictor block (tokenizer and signal contract unchanged), so
the checks stay fast while exercising each registered tokenizer and width.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from biojepa.models import (
    ModelSpec,
    build_encoder,
    build_jepa,
    build_tokenizer_for,
    create_model,
    get_spec,
    list_models,
)

MODEL_NAMES = list_models()
BATCH = 2


def _small_spec(name: str) -> ModelSpec:
    return get_spec(name, encoder={"depth": 1}, predictor={"depth": 1})


def _input(spec: ModelSpec, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(BATCH, len(spec.signal.channels), spec.signal.n_times, generator=g)  # (B, C, T)


def _masks(grid: tuple[int, ...]) -> Any:
    from biojepa.masks import build_mask, make_mask_rngs

    if len(grid) == 1:
        fn = build_mask("block1d", {"keep_min": 0.25, "keep_max": 0.25, "min_block": 1})
    else:
        fn = build_mask("random_tokens", {"keep": 0.25})
    return fn(grid, make_mask_rngs(0, 0, range(BATCH)))


def test_registry_is_not_empty() -> None:
    assert {"synthetic_vit_tiny", "synthetic_vit_xs", "synthetic_vit_s"} <= set(MODEL_NAMES)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_signal_contract_fits_the_tokenizer(name: str) -> None:
    spec = get_spec(name)
    tok = build_tokenizer_for(spec)
    grid = tok.grid((len(spec.signal.channels), spec.signal.n_times))
    assert math.prod(grid) >= 2, f"{name}: a window of n_times={spec.signal.n_times} gives grid {grid}"
    assert spec.name == name


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_spec_json_round_trip(name: str) -> None:
    spec = get_spec(name)
    again = ModelSpec.model_validate(spec.model_dump(mode="json"))
    assert again == spec
    assert ModelSpec.model_validate_json(spec.model_dump_json()) == spec


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_encoder_forward_shape(name: str) -> None:
    spec = _small_spec(name)
    torch.manual_seed(0)
    enc = build_encoder(spec).eval()
    x = _input(spec)
    n_tokens = enc.tokenizer.num_tokens(tuple(x.shape[1:]))
    with torch.no_grad():
        out = enc(x)
    assert out.shape == (BATCH, n_tokens, spec.encoder.dim)
    assert torch.isfinite(out).all()
    assert enc.spec == spec


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_jepa_forward_backward_every_parameter_gets_a_gradient(name: str) -> None:
    spec = _small_spec(name)
    torch.manual_seed(0)
    model = build_jepa(spec).train()
    x = _input(spec)
    grid = tuple(model.context_encoder.tokenizer.grid(tuple(x.shape[1:])))
    masks = _masks(grid)
    out = model(x, masks.ctx_idx, masks.tgt_idx, masks.tgt_valid)
    assert out.pred.shape == out.target.shape == (BATCH, masks.n_tgt, spec.encoder.dim)
    assert torch.isfinite(out.loss) and out.loss.item() > 0
    assert not out.target.requires_grad
    out.loss.backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trainable
    for n, p in trainable:
        assert p.grad is not None, f"{name}: {n} received no gradient"
        assert torch.isfinite(p.grad).all(), f"{name}: {n} has a non-finite gradient"
        assert p.grad.abs().sum() > 0, f"{name}: {n} has an all-zero gradient"
    for n, p in model.target_encoder.named_parameters():
        assert not p.requires_grad and p.grad is None, f"{name}: target {n} must not train"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_create_model_matches_spec(name: str) -> None:
    enc = create_model(name, encoder={"depth": 1})
    assert enc.spec.encoder.depth == 1
    assert enc.num_features == get_spec(name).encoder.dim
