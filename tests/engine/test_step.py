"""One optimizer step: weight decay only on matrices, non-finite steps skipped, accumulation."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from biojepa.engine.step import build_optimizer, param_groups, set_hparams, train_step
from tests.engine._tiny import make_batch, tiny_config, tiny_model


@pytest.fixture(scope="module")
def cfg() -> Any:
    return tiny_config()


def test_weight_decay_only_on_matrices(cfg: Any) -> None:
    model = tiny_model(cfg)
    groups = param_groups(model)
    names = {id(p): n for n, p in model.named_parameters()}
    decay = [names[id(p)] for p in groups[0]["params"]]  # type: ignore[union-attr]
    no_decay = [names[id(p)] for p in groups[1]["params"]]  # type: ignore[union-attr]
    assert decay and no_decay
    assert all(dict(model.named_parameters())[n].ndim >= 2 for n in decay)
    assert not any(n.endswith(("registers", "mask_token")) for n in decay)
    assert any(n.endswith("registers") for n in no_decay) and any(n.endswith("mask_token") for n in no_decay)
    assert not any(n.startswith("target_encoder.") for n in decay + no_decay)
    opt = build_optimizer(model)
    set_hparams(opt, 0.1, 0.5)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.5, 0.0]
    assert all(g["lr"] == 0.1 for g in opt.param_groups)
    # with zero gradients AdamW's update is pure decoupled weight decay: p <- p * (1 - lr * wd)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.trainable_parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for n, p in model.named_parameters():
        if n in decay:
            torch.testing.assert_close(p.detach(), before[n] * (1 - 0.1 * 0.5))
        else:
            assert torch.equal(p.detach(), before[n]), n


@pytest.mark.parametrize("fault", ["nan_loss", "nan_grad"])
def test_non_finite_step_skips_optimizer_and_ema(cfg: Any, fault: str) -> None:
    model = tiny_model(cfg)
    opt = build_optimizer(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    stats = train_step(
        model, opt, [make_batch(cfg, 0)], lr=1e-2, weight_decay=0.1, momentum=0.5, **{fault: True}
    )
    assert not stats.finite
    after = model.state_dict()
    for k, v in before.items():
        assert torch.equal(v, after[k]), k
    assert opt.state_dict()["state"] == {}  # AdamW never stepped
    assert all(p.grad is None for p in model.parameters())


def test_finite_step_updates_context_and_ema(cfg: Any) -> None:
    model = tiny_model(cfg)
    opt = build_optimizer(model)
    ctx0 = [p.detach().clone() for p in model.context_encoder.parameters()]
    tgt0 = [p.detach().clone() for p in model.target_encoder.parameters()]
    stats = train_step(model, opt, [make_batch(cfg, 0)], lr=1e-2, weight_decay=0.1, momentum=0.75)
    assert stats.finite and stats.grad_norm > 0
    assert (stats.lr, stats.weight_decay, stats.momentum) == (1e-2, 0.1, 0.75)
    ctx1 = [p.detach() for p in model.context_encoder.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(ctx0, ctx1, strict=True))
    for t0, c1, t1 in zip(tgt0, ctx1, model.target_encoder.parameters(), strict=True):
        torch.testing.assert_close(t1.detach(), 0.75 * t0 + 0.25 * c1)


def test_accumulation_averages_micro_batch_losses(cfg: Any) -> None:
    model = tiny_model(cfg)
    opt = build_optimizer(model)
    b0, b1 = make_batch(cfg, 0), make_batch(cfg, 1)
    with torch.no_grad():
        l0 = float(model(b0[0], b0[1].ctx_idx, b0[1].tgt_idx).loss)
        l1 = float(model(b1[0], b1[1].ctx_idx, b1[1].tgt_idx).loss)
    stats = train_step(model, opt, [b0, b1], lr=0.0, weight_decay=0.0, momentum=1.0)
    assert stats.loss == pytest.approx((l0 + l1) / 2, rel=1e-5)
    with pytest.raises(ValueError, match="at least one micro-batch"):
        train_step(model, opt, [], lr=0.0, weight_decay=0.0, momentum=1.0)


def test_monitoring_changes_no_number_of_the_step(cfg: Any) -> None:
    """Monitored and unmonitored steps give identical losses, gradient norms, parameters, EMA and RNG."""
    runs = []
    for monitor in (False, True):
        model = tiny_model(cfg)
        opt = build_optimizer(model)
        torch.manual_seed(123)
        stats = []
        for s in range(3):
            micro = [make_batch(cfg, 2 * s), make_batch(cfg, 2 * s + 1)]
            stats.append(
                train_step(model, opt, micro, lr=1e-2, weight_decay=0.05, momentum=0.9, monitor=monitor)
            )
        runs.append((stats, model.state_dict(), opt.state_dict()["state"], torch.get_rng_state()))
    (s0, p0, o0, r0), (s1, p1, o1, r1) = runs
    assert [(s.loss, s.grad_norm, s.finite) for s in s0] == [(s.loss, s.grad_norm, s.finite) for s in s1]
    assert set(p0) == set(p1) and all(torch.equal(p0[k], p1[k]) for k in p0)
    for k, st in o0.items():
        assert all(torch.equal(v, o1[k][n]) for n, v in st.items() if isinstance(v, torch.Tensor))
    assert torch.equal(r0, r1)
    assert all(s.monitor is None for s in s0)
    for s in s1:
        assert s.monitor is not None and set(s.monitor) == {"target_std", "effective_rank", "n_tokens"}
        assert s.monitor["target_std"] > 0 and 1.0 <= s.monitor["effective_rank"] <= 32


def test_monitor_measures_the_last_micro_batch_targets(cfg: Any) -> None:
    from biojepa.engine.monitors import collapse_stats

    model = tiny_model(cfg)
    opt = build_optimizer(model)
    b0, b1 = make_batch(cfg, 0), make_batch(cfg, 1)
    with torch.no_grad():
        # (B, M, D): the targets of the last micro-batch, before the step's EMA update
        target = model(b1[0], b1[1].ctx_idx, b1[1].tgt_idx, b1[1].tgt_valid).target
    stats = train_step(model, opt, [b0, b1], lr=1e-2, weight_decay=0.0, momentum=0.5, monitor=True)
    assert stats.monitor == collapse_stats(target, b1[1].tgt_valid)
    assert stats.monitor["n_tokens"] == float(
        b1[1].tgt_idx.numel() if b1[1].tgt_valid is None else b1[1].tgt_valid.sum()
    )
    # a collapsed target encoder (its final norm zeroed: every target token 0) is measured as such
    with torch.no_grad():
        model.target_encoder.transformer.norm.weight.zero_()
        if model.target_encoder.transformer.norm.bias is not None:
            model.target_encoder.transformer.norm.bias.zero_()
    stats = train_step(model, opt, [b0], lr=1e-2, weight_decay=0.0, momentum=1.0, monitor=True)
    assert stats.monitor is not None
    assert (stats.monitor["target_std"], stats.monitor["effective_rank"]) == (0.0, 1.0)
