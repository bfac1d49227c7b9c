"""Tests of biojepa.eval.finetune on a tiny encoder and a planted problem."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pydantic
import pytest
import torch
from torch import nn

from biojepa.errors import ConfigError, ContractError, DataError, NonFiniteLossError
from biojepa.eval.features import extract_features
from biojepa.eval.finetune import FinetuneConfig, FinetuneModel, finetune, predict_windows
from biojepa.eval.metrics import accuracy, binomial_chance_bound, roc_auc_macro
from biojepa.eval.probes import ProbeConfig, predict, train_probe
from biojepa.eval.windows import window_starts
from biojepa.nn.encoder import SignalEncoder
from biojepa.nn.heads import AttentivePooler, LinearHead
from biojepa.nn.tokenizers import build_tokenizer

C, T, CROP = 2, 128, 64


def _encoder(seed: int = 0) -> SignalEncoder:
    """A 2-block, width-32 SignalEncoder over 2 channels, patch 16."""
    torch.manual_seed(seed)
    tok = build_tokenizer("patch1d", dim=32, n_channels=C, patch_size=16)
    return SignalEncoder(tok, dim=32, depth=2, n_heads=2)


def _multilabel(n: int, seed: int, shift: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Label l of a record = sign of the offset of channel l (noise std 1 per sample)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=(n, C))  # (N, L)
    x = rng.normal(size=(n, C, T)) + shift * (2 * y[:, :, None] - 1)  # (N, C, T)
    return x.astype(np.float32), y


def _multiclass(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three classes: channel 0 offset -0.7 / 0 / +0.7."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)  # (N,)
    x = rng.normal(size=(n, C, T))  # (N, C, T)
    x[:, 0, :] += 0.7 * (y[:, None] - 1)
    return x.astype(np.float32), y


def _cfg(**kw: object) -> FinetuneConfig:
    base: dict[str, object] = {
        "crop_len": CROP, "steps": 40, "batch_size": 16, "lr": 1e-3, "lr_end": 1e-5, "warmup_steps": 5,
        "eval_every": 10,
    }  # fmt: skip
    base.update(kw)
    return FinetuneConfig(**base)  # type: ignore[arg-type]


def _state(m: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- learning ----------------------------------------------------------------------------------------
def test_finetune_learns_planted_multilabel_problem() -> None:
    xtr, ytr = _multilabel(96, 0)
    xva, yva = _multilabel(48, 1)
    xte, yte = _multilabel(48, 2)
    cfg = _cfg(steps=150, eval_every=25, patience=150)
    res = finetune(_encoder(), xtr, ytr, xva, yva, cfg)
    assert isinstance(res.model, FinetuneModel)
    assert isinstance(res.model.head, AttentivePooler)
    assert res.metric == "auc_macro"
    assert [s for s, _ in res.history] == [25, 50, 75, 100, 125, 150]
    assert res.best_value == max(v for _, v in res.history)
    assert dict(res.history)[res.best_step] == res.best_value
    # chance AUC on 48 records has a standard deviation of about 0.085: 0.9 is far beyond it
    assert res.best_value > 0.9
    assert res.train_loss[-1][1] < 0.5 * res.train_loss[0][1]
    assert not res.model.training
    assert roc_auc_macro(yte, predict_windows(res.model, xte, window=CROP, stride=32)) > 0.9
    assert res.steps == 150 and not res.stopped_early


def test_linear_head_multiclass_beats_binomial_chance_bound() -> None:
    xtr, ytr = _multiclass(96, 0)
    xva, yva = _multiclass(60, 1)
    cfg = _cfg(head="linear", task="multiclass", steps=120, eval_every=40, weight_decay=0.01, betas=(0.9, 0.99),
               grad_clip=None)  # fmt: skip
    res = finetune(_encoder(), xtr, ytr, xva, yva, cfg)
    assert isinstance(res.model.head, LinearHead)
    assert res.metric == "accuracy"
    scores = predict_windows(res.model, xva, window=CROP, stride=32)
    assert scores.shape == (60, 3)
    assert accuracy(yva, scores) == pytest.approx(res.best_value)
    assert res.best_value > binomial_chance_bound(60, 1 / 3) + 0.15


# -- determinism and isolation -----------------------------------------------------------------------
def test_same_seed_gives_identical_runs_and_other_seed_differs() -> None:
    xtr, ytr = _multilabel(40, 0)
    xva, yva = _multilabel(20, 1)
    enc = _encoder()
    a = finetune(enc, xtr, ytr, xva, yva, _cfg(seed=3))
    torch.manual_seed(1234)  # the global RNG state must not matter
    b = finetune(enc, xtr, ytr, xva, yva, _cfg(seed=3))
    c = finetune(enc, xtr, ytr, xva, yva, _cfg(seed=4))
    assert a.best_value == b.best_value and a.history == b.history and a.train_loss == b.train_loss
    assert _same(_state(a.model), _state(b.model))
    assert not _same(_state(a.model), _state(c.model))


def test_callers_encoder_and_global_rng_are_untouched() -> None:
    xtr, ytr = _multilabel(40, 0)
    xva, yva = _multilabel(20, 1)
    enc = _encoder()
    enc.eval()
    before = _state(enc)
    torch.manual_seed(7)
    expected_draw = torch.rand(3)
    torch.manual_seed(7)
    res = finetune(enc, xtr, ytr, xva, yva, _cfg())
    assert torch.equal(torch.rand(3), expected_draw)
    assert _same(_state(enc), before)
    assert not enc.training
    assert res.model.encoder is not enc
    assert not _same(_state(res.model.encoder), before)  # the copy was trained


def test_freeze_encoder_trains_the_head_only() -> None:
    xtr, ytr = _multilabel(60, 0)
    xva, yva = _multilabel(30, 1)
    enc = _encoder()
    cfg = _cfg(freeze_encoder=True, steps=60, eval_every=20, head="linear", lr=1e-2)
    res = finetune(enc, xtr, ytr, xva, yva, cfg)
    assert _same(_state(res.model.encoder), _state(enc))
    assert all(p.requires_grad for p in res.model.parameters())  # flags restored on the returned model
    init = finetune(enc, xtr, ytr, xva, yva, cfg.model_copy(update={"steps": 1, "lr": 1e-12, "lr_end": 0.0}))
    assert not _same(_state(res.model.head), _state(init.model.head))
    assert res.best_value > 0.9


# -- head initialisation -----------------------------------------------------------------------------
def test_probe_head_initialises_the_model() -> None:
    xtr, ytr = _multilabel(40, 0)
    xva, yva = _multilabel(20, 1)
    enc = _encoder()
    feats_tr = extract_features(enc, xtr, window=CROP, stride=32, pool="tokens")
    feats_va = extract_features(enc, xva, window=CROP, stride=32, pool="tokens")
    probe = train_probe(
        feats_tr, ytr, feats_va, yva, ProbeConfig(head="attentive", max_steps=30, eval_every=10)
    )
    probe_before = _state(probe.head)
    # one step at a negligible learning rate: the fine-tuned model is the encoder + the probe as given
    cfg = _cfg(steps=1, lr=1e-12, lr_end=0.0, warmup_steps=0, eval_stride=32)
    res = finetune(enc, xtr, ytr, xva, yva, cfg, head=probe.head)
    assert res.model.head is not probe.head
    assert _same(_state(probe.head), probe_before)
    got = predict_windows(res.model, xva, window=CROP, stride=32)
    np.testing.assert_allclose(got, predict(probe.head, feats_va), rtol=1e-4, atol=1e-4)
    assert res.best_value == pytest.approx(roc_auc_macro(yva, predict(probe.head, feats_va)), abs=1e-9)


def test_given_head_with_wrong_output_width_is_rejected() -> None:
    xtr, ytr = _multilabel(20, 0)
    with pytest.raises(ConfigError, match=r"logits \(B, 2\)"):
        finetune(_encoder(), xtr, ytr, xtr, ytr, _cfg(), head=AttentivePooler(32, 5))


# -- prediction ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [1, 7, 256])
def test_predict_windows_matches_a_manual_window_loop(batch_size: int) -> None:
    torch.manual_seed(0)
    model = FinetuneModel(_encoder(), AttentivePooler(32, 3))
    model.train()
    x = np.random.default_rng(0).normal(size=(5, C, 100)).astype(np.float32)  # (N, C, T)
    got = predict_windows(model, x, window=CROP, stride=24, batch_size=batch_size)
    assert model.training  # mode restored
    starts = window_starts(100, CROP, 24)
    assert list(starts) == [0, 24, 36]
    model.eval()
    with torch.no_grad():
        want = np.stack([
            np.mean([model(torch.from_numpy(x[i : i + 1, :, s : s + CROP]))[0].numpy() for s in starts], axis=0)
            for i in range(len(x))
        ])  # fmt: skip  # (N, L)
    assert got.dtype == np.float32 and got.shape == (5, 3)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_predict_windows_rejects_bad_input() -> None:
    model = FinetuneModel(_encoder(), LinearHead(32, 2))
    x = np.zeros((3, C, T), dtype=np.float32)
    with pytest.raises(DataError, match=r"\(N, C, T\)"):
        predict_windows(model, x[0], window=CROP, stride=32)
    with pytest.raises(ContractError, match="shorter than the window"):
        predict_windows(model, x, window=2 * T, stride=32)
    with pytest.raises(ConfigError, match="batch_size"):
        predict_windows(model, x, window=CROP, stride=32, batch_size=0)
    x[2, 1, 5] = np.nan
    with pytest.raises(DataError, match="record 2"):
        predict_windows(model, x, window=CROP, stride=32)


def test_float16_memmap_input_matches_the_float32_array(tmp_path: Path) -> None:
    xtr, ytr = _multilabel(40, 0)
    xva, yva = _multilabel(20, 1)
    mm_tr = np.memmap(tmp_path / "tr.f16", dtype=np.float16, mode="w+", shape=xtr.shape)
    mm_tr[:] = xtr
    mm_tr.flush()
    mm_va = np.memmap(tmp_path / "va.f16", dtype=np.float16, mode="w+", shape=xva.shape)
    mm_va[:] = xva
    mm_va.flush()
    ro_tr = np.memmap(tmp_path / "tr.f16", dtype=np.float16, mode="r", shape=xtr.shape)
    ro_va = np.memmap(tmp_path / "va.f16", dtype=np.float16, mode="r", shape=xva.shape)
    enc = _encoder()
    a = finetune(enc, ro_tr, ytr, ro_va, yva, _cfg(steps=20))
    b = finetune(enc, xtr.astype(np.float16).astype(np.float32), ytr, xva.astype(np.float16).astype(np.float32),
                 yva, _cfg(steps=20))  # fmt: skip
    assert a.best_value == b.best_value
    assert _same(_state(a.model), _state(b.model))
    np.testing.assert_array_equal(
        predict_windows(a.model, ro_va, window=CROP, stride=32),
        predict_windows(b.model, xva.astype(np.float16).astype(np.float32), window=CROP, stride=32),
    )


# -- schedule, callback, early stopping --------------------------------------------------------------
def test_progress_reports_the_warmup_cosine_schedule() -> None:
    xtr, ytr = _multilabel(20, 0)
    seen: list[tuple[int, int, dict[str, float]]] = []
    cfg = _cfg(steps=20, warmup_steps=4, lr=1e-3, lr_end=1e-5, eval_every=10)
    finetune(_encoder(), xtr, ytr, xtr, ytr, cfg, progress=lambda s, n, info: seen.append((s, n, dict(info))))
    assert [s for s, _, _ in seen] == list(range(1, 21))
    assert all(n == 20 for _, n, _ in seen)
    lrs = [info["lr"] for _, _, info in seen]
    assert lrs[0] == pytest.approx(0.25e-3)  # linear warm-up from 0
    assert lrs[3] == pytest.approx(1e-3)  # peak at the end of the warm-up
    assert lrs[-1] == pytest.approx(1e-5)
    assert all(a >= b for a, b in itertools.pairwise(lrs[3:]))  # cosine decay
    assert set(seen[9][2]) == {"loss", "lr", "value", "best_value"}
    assert set(seen[0][2]) == {"loss", "lr"}


def test_warmup_longer_than_the_run_is_shortened() -> None:
    xtr, ytr = _multilabel(20, 0)
    lrs: list[float] = []
    finetune(_encoder(), xtr, ytr, xtr, ytr, _cfg(steps=4, warmup_steps=200, eval_every=2),
             progress=lambda s, n, info: lrs.append(info["lr"]))  # fmt: skip
    assert lrs == pytest.approx([0.25e-3, 0.5e-3, 0.75e-3, 1e-5])  # the last step ends the schedule


def test_early_stopping_stops_when_validation_is_flat() -> None:
    xtr, ytr = _multilabel(40, 0)
    xva = np.zeros((10, C, T), dtype=np.float32)  # identical records: equal scores, AUC 0.5 at every check
    yva = np.tile([[0, 1], [1, 0]], (5, 1))  # (10, 2)
    cfg = _cfg(steps=500, eval_every=5, patience=15)
    res = finetune(_encoder(), xtr, ytr, xva, yva, cfg)
    assert res.stopped_early
    assert res.best_step == 5 and res.best_value == 0.5
    assert res.steps == res.best_step + cfg.patience == 20
    assert [s for s, _ in res.history] == [5, 10, 15, 20]


def test_non_finite_loss_raises() -> None:
    xtr, ytr = _multilabel(8, 0)
    xtr[:] = np.inf
    xva, yva = _multilabel(8, 1)
    with pytest.raises(NonFiniteLossError, match="step 1"):
        finetune(_encoder(), xtr, ytr, xva, yva, _cfg(steps=5))


# -- configuration and input errors ------------------------------------------------------------------
def test_defaults_follow_the_ecg_jepa_finetune_after_linear_protocol() -> None:
    cfg = FinetuneConfig(crop_len=250)
    assert (cfg.head, cfg.task, cfg.steps, cfg.batch_size) == ("attentive", "multilabel", 5000, 128)
    assert (cfg.lr, cfg.lr_end, cfg.warmup_steps, cfg.weight_decay, cfg.grad_clip) == (
        1e-4,
        1e-6,
        200,
        0.0,
        1.0,
    )
    assert (cfg.eval_every, cfg.patience, cfg.selection_metric) == (100, 2000, "auc_macro")
    assert (cfg.window, cfg.stride) == (250, 125)
    assert FinetuneConfig(crop_len=1, task="multiclass").stride == 1
    assert FinetuneConfig(crop_len=1, task="multiclass").selection_metric == "accuracy"
    assert FinetuneConfig(crop_len=250, eval_window=1000, eval_stride=100).stride == 100


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # crop_len is required
        {"crop_len": 0},
        {"crop_len": 64, "steps": 0},
        {"crop_len": 64, "eval_stride": 0},
        {"crop_len": 64, "eval_window": 0},
        {"crop_len": 64, "lr": 0.0},
        {"crop_len": 64, "lr": 1e-4, "lr_end": 1e-3},
        {"crop_len": 64, "grad_clip": 0.0},
        {"crop_len": 64, "betas": (0.9, 1.0)},
        {"crop_len": 64, "metric": "auc"},
        {"crop_len": 64, "metric": "accuracy"},  # not a multilabel metric
        {"crop_len": 64, "task": "multiclass", "metric": "r2"},
        {"crop_len": 64, "task": "regression"},
        {"crop_len": 64, "n_classes": 1},
        {"crop_len": 64, "learning_rate": 1e-3},  # unknown field
    ],
)
def test_invalid_config_is_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        FinetuneConfig(**kwargs)  # type: ignore[arg-type]


def test_config_is_frozen() -> None:
    cfg = FinetuneConfig(crop_len=64)
    with pytest.raises(pydantic.ValidationError):
        cfg.steps = 3  # type: ignore[misc]


def test_malformed_inputs_are_rejected() -> None:
    xtr, ytr = _multilabel(20, 0)
    enc = _encoder()
    with pytest.raises(ContractError, match="crop_len"):
        finetune(enc, xtr[:, :, :48], ytr, xtr, ytr, _cfg())
    with pytest.raises(ContractError, match="shorter than the window"):
        finetune(enc, xtr, ytr, xtr[:, :, :48], ytr, _cfg())
    with pytest.raises(DataError, match="channels"):
        finetune(enc, xtr, ytr, xtr[:, :1], ytr, _cfg())
    with pytest.raises(DataError, match="rows"):
        finetune(enc, xtr, ytr[:10], xtr, ytr, _cfg())
    with pytest.raises(DataError, match=r"\(N, C, T\)"):
        finetune(enc, xtr[0], ytr, xtr, ytr, _cfg())
    with pytest.raises(DataError, match="no records"):
        finetune(enc, xtr, ytr, xtr[:0], ytr[:0], _cfg())
    with pytest.raises(DataError, match="class id"):
        finetune(enc, xtr, np.arange(20) % 3, xtr, np.arange(20) % 3, _cfg(task="multiclass", n_classes=2))


def test_encoder_breaking_the_token_contract_is_rejected() -> None:
    class Pooled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(CROP, 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x).mean(dim=1)  # (B, 8): pooled, not tokens

    xtr, ytr = _multilabel(20, 0)
    with pytest.raises(ContractError, match="tokens"):
        finetune(Pooled(), xtr, ytr, xtr, ytr, _cfg())
