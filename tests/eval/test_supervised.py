"""fit_classifier: the new/full schemes, early stopping with the best state restored, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from biojepa.errors import ConfigError, DataError
from biojepa.eval.supervised import SupervisedConfig, fit_classifier, predict_logits


class _Toy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(8, 8)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.body(x.flatten(1))))  # (B, 2)


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.standard_normal((n, 2, 4)).astype(np.float32)
    x[:, 0, 0] += np.where(y == 1, 2.0, -2.0)
    return x, y


def test_new_scheme_freezes_pretrained_and_full_unfreezes_after_warmup() -> None:
    x, y = _data(64, 0)
    for scheme, changed in (("new", False), ("full", True)):
        torch.manual_seed(0)
        m = _Toy()
        before = m.body.weight.detach().clone()
        head_before = m.head.weight.detach().clone()
        fit = fit_classifier(m, x[:48], y[:48], x[48:], y[48:],
                             SupervisedConfig(scheme=scheme, max_epochs=8, patience=8, warmup_epochs=2),  # type: ignore[arg-type]
                             pretrained=[m.body])
        assert fit.epochs == 8
        assert (not torch.equal(m.body.weight, before)) == (changed and fit.best_epoch >= 2)
        assert not torch.equal(m.head.weight, head_before)
        assert all(p.requires_grad for p in m.parameters())  # trainability restored after fitting


def test_early_stopping_restores_the_best_validation_state() -> None:
    x, y = _data(64, 1)
    torch.manual_seed(0)
    m = _Toy()
    fit = fit_classifier(m, x[:48], y[:48], x[48:], y[48:], SupervisedConfig(max_epochs=200, patience=5, lr=1e-2))
    assert fit.epochs < 200 and fit.epochs == fit.best_epoch + 6
    best = min(h["val_loss"] for h in fit.history)
    assert fit.best_val_loss == pytest.approx(best)
    logits = torch.as_tensor(predict_logits(m, x[48:]))
    val = float(torch.nn.functional.cross_entropy(logits, torch.as_tensor(y[48:])))
    assert val == pytest.approx(best, rel=1e-4)
    assert np.mean(predict_logits(m, x).argmax(1) == y) > 0.9


def test_deterministic_for_a_seed() -> None:
    x, y = _data(40, 2)
    outs = []
    for _ in range(2):
        torch.manual_seed(0)
        m = _Toy()
        fit_classifier(m, x[:30], y[:30], x[30:], y[30:], SupervisedConfig(max_epochs=5, patience=5, seed=3))
        outs.append(predict_logits(m, x))
    np.testing.assert_array_equal(outs[0], outs[1])


def test_errors() -> None:
    x, y = _data(10, 0)
    with pytest.raises(DataError, match="validation"):
        fit_classifier(_Toy(), x, y, x[:0], y[:0], SupervisedConfig())
    with pytest.raises(DataError, match="differ"):
        fit_classifier(_Toy(), x, y[:5], x, y, SupervisedConfig())
    with pytest.raises(ConfigError, match="scheme"):
        SupervisedConfig(scheme="half")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="patience"):
        SupervisedConfig(patience=0)
