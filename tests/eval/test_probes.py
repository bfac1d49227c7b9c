"""Tests of biojepa.eval.probes on planted problems: learning, early stopping, attention, determinism."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest
import torch

from biojepa.errors import ConfigError, DataError
from biojepa.eval.features import FeatureSet
from biojepa.eval.metrics import binomial_chance_bound, compute_metric, roc_auc_macro
from biojepa.eval.probes import ProbeConfig, predict, train_probe


def _planted_windows(n: int, seed: int, n_labels: int = 3, d: int = 8, w: int = 3, noise: float = 1.0):
    """Pooled window features z + noise, labels = linear function of z (plus label noise) > 0."""
    rng = np.random.default_rng(seed)
    A = np.random.default_rng(99).normal(size=(d, n_labels))  # shared across splits
    z = rng.normal(size=(n, d))  # (N, D)
    feats = 3.0 * z[:, None, :] + 5.0 + noise * rng.normal(size=(n, w, d))  # (N, W, D), off-centre scale
    y = ((z @ A + 0.3 * rng.normal(size=(n, n_labels))) > 0).astype(np.int64)  # (N, L)
    return FeatureSet(feats.astype(np.float32), np.full(n, w)), y


def test_linear_probe_learns_planted_multilabel_problem() -> None:
    tr, ytr = _planted_windows(240, 0)
    va, yva = _planted_windows(120, 1)
    te, yte = _planted_windows(120, 2)
    cfg = ProbeConfig(task="multilabel", max_steps=300, batch_size=32, eval_every=25, lr=1e-2, patience=300)
    res = train_probe(tr, ytr, va, yva, cfg)
    assert res.metric == "auc_macro"
    assert res.best_value > 0.9
    assert roc_auc_macro(yte, predict(res.head, te)) > 0.9
    assert [s for s, _ in res.history] == list(range(25, 301, 25))
    assert res.best_value == max(v for _, v in res.history)
    assert dict(res.history)[res.best_step] == res.best_value
    first_loss, last_loss = res.train_loss[0][1], res.train_loss[-1][1]
    assert last_loss < first_loss
    assert not res.head.training


def test_early_stopping_stops_when_validation_stalls() -> None:
    tr, ytr = _planted_windows(200, 0, n_labels=1, noise=0.1)
    va, yva = _planted_windows(60, 1, n_labels=1, noise=0.1)
    yva = (va.feats[:, 0, :] @ np.ones(8) > va.feats[:, 0, :].sum(1).mean()).astype(int)[:, None]  # (N, 1)
    cfg = ProbeConfig(max_steps=3000, batch_size=16, eval_every=10, patience=50, lr=1e-2)
    res = train_probe(tr, ytr, va, yva, cfg)
    assert res.stopped_early
    assert res.steps < cfg.max_steps
    assert res.steps == res.best_step + cfg.patience  # no improvement in the last `patience` steps
    assert all(v <= res.best_value for s, v in res.history if s > res.best_step)


def test_predict_averages_window_outputs() -> None:
    tr, ytr = _planted_windows(60, 0)
    res = train_probe(tr, ytr, tr, ytr, ProbeConfig(max_steps=20, eval_every=10, batch_size=8))
    feats = np.array(tr.feats)
    feats[0, 2] = 1e3  # window 2 of record 0 becomes padding below
    fs = FeatureSet(feats, np.array([2] + [3] * 59))
    scores = predict(res.head, fs, batch_size=7)
    assert scores.shape == (60, 3) and scores.dtype == np.float32
    with torch.no_grad():
        per_window = res.head(torch.from_numpy(feats.reshape(180, 8))).reshape(60, 3, 3).numpy()  # (N, W, L)
    np.testing.assert_allclose(scores[1:], per_window[1:].mean(axis=1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores[0], per_window[0, :2].mean(axis=0), rtol=1e-5, atol=1e-5)


def _key_token_problem(n: int, seed: int, ntok: int = 8, d: int = 6):
    """Token features where the class is the sign of feature 1 of the one token flagged by feature 0."""
    rng = np.random.default_rng(seed)
    toks = rng.normal(size=(n, 1, ntok, d)) * 0.5  # (N, W=1, Ntok, D)
    toks[..., 1] = rng.choice([-1.0, 1.0], size=(n, 1, ntok))  # distractor signs everywhere
    key = rng.integers(0, ntok, size=n)
    y = rng.integers(0, 2, size=n)
    toks[np.arange(n), 0, key, 0] = 4.0  # the flag
    toks[np.arange(n), 0, key, 1] = 2.0 * y - 1.0  # the label lives in the flagged token only
    return FeatureSet(toks.astype(np.float32), np.ones(n)), y


def test_attentive_probe_reads_the_flagged_token() -> None:
    tr, ytr = _key_token_problem(400, 0)
    va, yva = _key_token_problem(100, 1)
    te, yte = _key_token_problem(200, 2)
    cfg = ProbeConfig(head="attentive", task="multiclass", max_steps=300, batch_size=64, eval_every=50,
                      lr=1e-2, weight_decay=0.0, n_heads=1)  # fmt: skip
    res = train_probe(tr, ytr, va, yva, cfg)
    acc = compute_metric("accuracy", yte, predict(res.head, te))
    assert acc > 0.9
    assert acc > binomial_chance_bound(len(yte), 0.5)
    # the task is built so that mean pooling cannot solve it: a linear probe on mean tokens stays far lower
    lin = train_probe(tr, ytr, va, yva, cfg.model_copy(update={"head": "linear"}))
    assert compute_metric("accuracy", yte, predict(lin.head, te)) < 0.8


def test_probe_is_deterministic_given_the_seed() -> None:
    tr, ytr = _planted_windows(80, 0)
    va, yva = _planted_windows(40, 1)
    cfg = ProbeConfig(max_steps=40, eval_every=10, batch_size=16)
    torch.manual_seed(123)  # global state must not matter
    a = train_probe(tr, ytr, va, yva, cfg)
    torch.manual_seed(456)
    b = train_probe(tr, ytr, va, yva, cfg)
    c = train_probe(tr, ytr, va, yva, cfg.model_copy(update={"seed": 1}))
    assert a.history == b.history and a.train_loss == b.train_loss
    for k, v in a.head.state_dict().items():
        assert torch.equal(v, b.head.state_dict()[k]), k
    assert not torch.equal(a.head.head.linear.weight, c.head.head.linear.weight)


def test_regression_probe_handles_target_scale() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(300, 5))
    feats = (z[:, None, :] + 0.1 * rng.normal(size=(300, 2, 5))).astype(np.float32)  # (N, W, D)
    y = 1000.0 * (z @ np.arange(1.0, 6.0)) + 5000.0
    fs = FeatureSet(feats, np.full(300, 2))
    cfg = ProbeConfig(
        task="regression", max_steps=200, eval_every=50, batch_size=32, lr=1e-2, weight_decay=0.0
    )
    res = train_probe(fs.subset(np.arange(200)), y[:200], fs.subset(np.arange(200, 300)), y[200:], cfg)
    assert res.metric == "r2" and res.n_out == 1
    assert res.best_value > 0.95
    pred = predict(res.head, fs.subset(np.arange(200, 300)))
    assert pred.shape == (100, 1)
    assert abs(float(pred.mean()) - float(y[200:].mean())) < 0.1 * float(y[200:].std())


def test_linear_probe_on_token_features_mean_pools() -> None:
    tr, ytr = _key_token_problem(50, 0)
    res = train_probe(tr, ytr, tr, ytr, ProbeConfig(task="multiclass", max_steps=10, eval_every=5))
    assert type(res.head.head).__name__ == "LinearHead" and res.head.head.pool == "mean"
    assert predict(res.head, tr).shape == (50, 2)


def test_probe_errors() -> None:
    tr, ytr = _planted_windows(20, 0)
    with pytest.raises(ConfigError, match="pool='tokens'"):
        train_probe(tr, ytr, tr, ytr, ProbeConfig(head="attentive", max_steps=2))
    with pytest.raises(DataError, match="rows"):
        train_probe(tr, ytr[:5], tr, ytr, ProbeConfig(max_steps=2))
    with pytest.raises(DataError, match="0/1"):
        train_probe(tr, ytr * 2, tr, ytr, ProbeConfig(max_steps=2))
    with pytest.raises(DataError, match="class ids"):
        train_probe(tr, np.full(20, 0.5), tr, np.zeros(20), ProbeConfig(task="multiclass", max_steps=2))
    tok, ytok = _key_token_problem(20, 0)
    with pytest.raises(DataError, match="differ in kind"):
        train_probe(tr, ytr, tok, ytok, ProbeConfig(max_steps=2))
    with pytest.raises(pydantic.ValidationError, match="unknown metric"):
        ProbeConfig(metric="auroc")
    with pytest.raises(pydantic.ValidationError, match="Extra inputs"):
        ProbeConfig(epochs=3)  # type: ignore[call-arg]
