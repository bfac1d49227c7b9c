"""The JEPA model: exact EMA, no gradient into the target encoder, disjoint masks, padded-target loss."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from biojepa.engine.jepa import JEPA, ema_update_, latent_loss
from biojepa.errors import ConfigError
from biojepa.masks import build_mask, make_mask_rngs
from biojepa.registry import MASKS
from tests.engine._tiny import make_batch, tiny_config, tiny_model


@pytest.fixture(scope="module")
def cfg() -> Any:
    return tiny_config()


@pytest.mark.parametrize("momentum", [0.0, 0.25, 0.5, 0.75, 0.99, 1.0])
def test_ema_matches_manual_formula(momentum: float) -> None:
    g = torch.Generator().manual_seed(0)
    target = [
        torch.randn(5, 3, generator=g, dtype=torch.float64),
        torch.randn(7, generator=g, dtype=torch.float64),
    ]
    online = [
        torch.randn(5, 3, generator=g, dtype=torch.float64),
        torch.randn(7, generator=g, dtype=torch.float64),
    ]
    expected = [momentum * t + (1.0 - momentum) * o for t, o in zip(target, online, strict=True)]
    ema_update_(target, online, momentum)
    for got, exp in zip(target, expected, strict=True):
        torch.testing.assert_close(got, exp, rtol=0, atol=1e-15)


def test_ema_endpoints_are_exact(cfg: Any) -> None:
    model: JEPA = tiny_model(cfg)
    with torch.no_grad():
        for p in model.context_encoder.parameters():
            p.add_(1.0)
    before = [p.clone() for p in model.target_encoder.parameters()]
    model.update_target(1.0)  # momentum 1: target unchanged
    assert all(torch.equal(a, b) for a, b in zip(before, model.target_encoder.parameters(), strict=True))
    model.update_target(0.0)  # momentum 0: target = online
    for t, o in zip(model.target_encoder.parameters(), model.context_encoder.parameters(), strict=True):
        assert torch.equal(t, o)


def test_ema_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="matching parameter lists"):
        ema_update_([torch.zeros(1)], [], 0.5)
    with pytest.raises(ValueError, match="momentum must be in"):
        ema_update_([torch.zeros(1)], [torch.zeros(1)], 1.5)


def test_target_encoder_gets_no_gradient(cfg: Any) -> None:
    model: JEPA = tiny_model(cfg)
    model.train()
    x, masks = make_batch(cfg, 0)
    out = model(x, masks.ctx_idx, masks.tgt_idx, masks.tgt_valid)
    assert out.pred.shape == out.target.shape == (x.shape[0], masks.n_tgt, 32)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert all(p.grad is None and not p.requires_grad for p in model.target_encoder.parameters())
    assert not out.target.requires_grad
    trainable = dict(model.named_parameters())
    for name, p in trainable.items():
        if name.startswith("target_encoder."):
            continue
        assert p.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(p.grad).all(), name
    assert not model.target_encoder.training  # train() keeps the target encoder in eval mode
    assert model.export_encoder() is model.target_encoder
    assert {id(p) for p in model.trainable_parameters()}.isdisjoint(
        id(p) for p in model.target_encoder.parameters()
    )


#: parameters a mask needs beyond its defaults (spatial masks need channel positions on a unit head)
MASK_TEST_PARAMS: dict[str, dict[str, object]] = {
    "spatial": {"positions": [[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, -1.0, 0.0]]},
    "spatiotemporal": {},  # defaults (Brain-JEPA ranges) on the (4, 8) test grid
}


def _grid_for(name: str) -> tuple[int, ...]:
    fn = build_mask(name, MASK_TEST_PARAMS.get(name, {}))
    for grid in ((32,), (4, 8), (2, 4, 4)):
        try:
            fn(grid, make_mask_rngs(0, 0, [0]))
            return grid
        except ConfigError:
            continue
    raise AssertionError(f"mask {name!r} accepts none of the test grids")


@pytest.mark.parametrize("name", MASKS.names())
def test_registered_masks_never_overlap_context_and_target(name: str) -> None:
    grid = _grid_for(name)
    n = math.prod(grid)
    fn = build_mask(name, MASK_TEST_PARAMS.get(name, {}))
    for step in range(5):
        ids = list(range(step * 6, step * 6 + 6))
        m = fn(grid, make_mask_rngs(3, step, ids))
        m.validate(n)  # range, sortedness, duplicates and overlap
        for b in range(m.batch_size):
            tgt = m.tgt_idx[b] if m.tgt_valid is None else m.tgt_idx[b][m.tgt_valid[b]]
            ctx = set(m.ctx_idx[b].tolist())
            assert ctx and len(tgt) > 0
            assert ctx.isdisjoint(tgt.tolist())


def test_latent_loss_ignores_padding() -> None:
    g = torch.Generator().manual_seed(1)
    pred = torch.randn(2, 4, 3, generator=g)
    target = torch.randn(2, 4, 3, generator=g)
    valid = torch.tensor([[True, True, True, True], [True, True, False, False]])
    for kind in ("l1", "smooth_l1", "l2"):
        base = latent_loss(pred, target, kind, valid)
        junk = pred.clone()
        junk[~valid] = 1e6  # padded slots may hold anything
        assert torch.equal(latent_loss(junk, target, kind, valid), base)
        flat = torch.cat([(pred[0] - target[0]), (pred[1, :2] - target[1, :2])])  # (6, 3) valid rows only
        manual = {
            "l1": flat.abs().mean(),
            "l2": flat.square().mean(),
            "smooth_l1": torch.nn.functional.smooth_l1_loss(flat, torch.zeros_like(flat)),
        }[kind]
        torch.testing.assert_close(base, manual)
    all_valid = torch.ones(2, 4, dtype=torch.bool)
    torch.testing.assert_close(latent_loss(pred, target, "l1", all_valid), latent_loss(pred, target, "l1"))
    with pytest.raises(ValueError, match="unknown loss"):
        latent_loss(pred, target, "huber")  # type: ignore[arg-type]


def test_forward_with_ragged_targets_is_finite(cfg: Any) -> None:
    model: JEPA = tiny_model(cfg)
    x, _ = make_batch(cfg, 0)
    ctx = torch.tensor([[0, 1], [2, 3]] + [[0, 1]] * (x.shape[0] - 2))  # (B, 2)
    tgt = torch.tensor([[4, 5, 6], [6, 7, 7]] + [[2, 3, 4]] * (x.shape[0] - 2))  # (B, 3)
    valid = torch.ones_like(tgt, dtype=torch.bool)
    valid[1, 2] = False
    out = model(x, ctx, tgt, valid)
    assert np.isfinite(float(out.loss.detach()))


def test_several_masks_per_input_match_repeating_the_batch() -> None:
    """R mask rows per input (sample-major) give exactly the loss of a batch with each input repeated R times."""
    from biojepa.models import build_jepa, get_spec

    torch.manual_seed(0)
    spec = get_spec("eeg_sjepa_tiny", encoder={"depth": 1}, predictor={"depth": 1})
    model = build_jepa(spec).eval()
    x = torch.randn(2, 19, 512) * 20  # (B, C, T)
    fn = build_mask("spatial", {"positions": model.context_encoder.tokenizer.positions.tolist(), "n_contexts": 3})
    grid = model.context_encoder.tokenizer.grid((19, 512))
    masks = fn(grid, make_mask_rngs(0, 0, [0, 1]))
    out = model(x, masks.ctx_idx, masks.tgt_idx, masks.tgt_valid)
    ref = model(x.repeat_interleave(3, dim=0), masks.ctx_idx, masks.tgt_idx, masks.tgt_valid)
    torch.testing.assert_close(out.loss, ref.loss)
    torch.testing.assert_close(out.pred, ref.pred)
    with pytest.raises(ValueError, match="multiple of the batch"):
        model(x[:1].repeat(5, 1, 1)[:, :, :512], masks.ctx_idx, masks.tgt_idx)


def test_target_norm_layer_normalises_targets_and_default_is_unchanged(cfg: Any) -> None:
    from biojepa.models import build_jepa, get_spec
    from biojepa.nn.tokenizers import gather_tokens

    model: JEPA = tiny_model(cfg)
    assert model.target_norm is False  # build_jepa's default
    assert "target_norm=False" in repr(model)
    x, masks = make_batch(cfg, 0)
    keys = set(model.state_dict())
    with torch.no_grad():
        full = model.target_encoder(x)  # (B, N, D)
        plain = model(x, masks.ctx_idx, masks.tgt_idx, masks.tgt_valid)
        fresh = JEPA(model.context_encoder, model.predictor, loss="l1")  # target_norm omitted
        fresh.target_encoder.load_state_dict(model.target_encoder.state_dict())
        same = fresh(x, masks.ctx_idx, masks.tgt_idx, masks.tgt_valid)
        model.target_norm = True
        normed = model(x, masks.ctx_idx, masks.tgt_idx, masks.tgt_valid)
    # default False: the targets are exactly the target encoder's tokens, bit for bit
    assert torch.equal(plain.target, gather_tokens(full, masks.tgt_idx))
    assert torch.equal(same.target, plain.target) and torch.equal(same.loss, plain.loss)
    # True: per-token layer norm over D, no affine parameters, computed before the gather
    expected = gather_tokens(torch.nn.functional.layer_norm(full.float(), (full.shape[-1],)), masks.tgt_idx)
    assert torch.equal(normed.target, expected)
    torch.testing.assert_close(
        normed.target.mean(-1), torch.zeros(normed.target.shape[:2]), atol=1e-5, rtol=0
    )
    torch.testing.assert_close(
        normed.target.var(-1, correction=0), torch.ones(normed.target.shape[:2]), atol=1e-3, rtol=0
    )
    assert torch.equal(normed.pred, plain.pred)  # only the targets change
    assert not torch.equal(normed.loss, plain.loss)
    assert normed.target.dtype == torch.float32 and not normed.target.requires_grad
    assert set(model.state_dict()) == keys  # no new parameters or buffers: checkpoints are unchanged
    spec = get_spec(cfg.model.name, **cfg.model.overrides)
    assert build_jepa(spec).target_norm is False


def test_target_norm_trains_and_keeps_the_target_encoder_gradient_free(cfg: Any) -> None:
    torch.manual_seed(0)
    model: JEPA = tiny_model(cfg)
    model.target_norm = True
    model.train()
    x, masks = make_batch(cfg, 1)
    out = model(x, masks.ctx_idx, masks.tgt_idx, masks.tgt_valid)
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert all(p.grad is None for p in model.target_encoder.parameters())
    assert all(p.grad is not None for p in model.trainable_parameters())
