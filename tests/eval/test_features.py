"""Tests of biojepa.eval.features: window grid, pooling, eval mode, padding, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from biojepa.errors import ConfigError, ContractError, DataError
from biojepa.eval.features import FeatureSet, as_feature_set, extract_features
from biojepa.eval.windows import extract_windows


class PatchEncoder(nn.Module):
    """(B, C, T) -> (B, T // P, D): non-overlapping patches through a Linear layer, then dropout."""

    def __init__(self, channels: int = 2, patch: int = 4, dim: int = 6) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Linear(channels * patch, dim)
        self.drop = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, T = x.shape
        p = x.reshape(B, C, T // self.patch, self.patch).permute(0, 2, 1, 3)  # (B, N, C, P)
        return self.drop(self.proj(p.reshape(B, T // self.patch, C * self.patch)))  # (B, N, D)


@pytest.fixture()
def encoder() -> PatchEncoder:
    torch.manual_seed(0)
    return PatchEncoder()


def _records(n: int = 5, t: int = 20, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 2, t)).astype(np.float32)  # (N, C, T)


def test_token_features_equal_encoder_on_each_window(encoder: PatchEncoder) -> None:
    X = _records()
    fs = extract_features(encoder, X, window=8, stride=5, batch_size=3, pool="tokens")
    assert fs.kind == "tokens"
    assert fs.feats.shape == (5, 4, 2, 6)  # windows at 0, 5, 10, 12; 2 tokens of width 6
    assert fs.feats.dtype == np.float32
    np.testing.assert_array_equal(fs.n_windows, [4] * 5)
    assert (fs.window, fs.stride, fs.dim, len(fs)) == (8, 5, 6, 5)
    wins = extract_windows(torch.from_numpy(X), 8, 5)  # (N, W, C, window)
    encoder.eval()
    with torch.no_grad():
        ref = encoder(wins.reshape(20, 2, 8)).reshape(5, 4, 2, 6).numpy()  # (N, W, Ntok, D)
    np.testing.assert_allclose(fs.feats, ref, rtol=1e-5, atol=1e-6)


def test_pooled_features_are_token_means_and_mode_is_restored(encoder: PatchEncoder) -> None:
    X = _records()
    encoder.train()
    tok = extract_features(encoder, X, window=8, stride=5, pool="tokens")
    pooled = extract_features(encoder, X, window=8, stride=5, batch_size=7, pool="mean")
    assert encoder.training  # restored
    assert pooled.kind == "pooled" and pooled.feats.shape == (5, 4, 6)
    np.testing.assert_allclose(pooled.feats, tok.feats.mean(axis=2), rtol=1e-5, atol=1e-6)  # dropout was off
    assert not any(p.grad is not None for p in encoder.parameters())


def test_variable_length_records_are_padded(encoder: PatchEncoder) -> None:
    recs = [_records(1, 20)[0], _records(1, 8, seed=1)[0], _records(1, 13, seed=2)[0]]
    fs = extract_features(encoder, recs, window=8, stride=5)
    np.testing.assert_array_equal(fs.n_windows, [4, 1, 2])
    assert fs.feats.shape == (3, 4, 6)
    assert np.all(fs.feats[1, 1:] == 0) and np.all(fs.feats[2, 2:] == 0)
    one = extract_features(encoder, recs[2][None], window=8, stride=5)
    np.testing.assert_allclose(fs.feats[2, :2], one.feats[0], rtol=1e-5, atol=1e-6)


def test_extract_features_errors(encoder: PatchEncoder) -> None:
    X = _records()
    with pytest.raises(ContractError, match="shorter than the window"):
        extract_features(encoder, X, window=40, stride=5)
    bad = X.copy()
    bad[3, 1, 2] = np.nan
    with pytest.raises(DataError, match="record 3 holds non-finite"):
        extract_features(encoder, bad, window=8, stride=5)
    with pytest.raises(ConfigError, match="pool must be"):
        extract_features(encoder, X, window=8, stride=5, pool="cls")  # type: ignore[arg-type]
    with pytest.raises(ContractError, match=r"\(N, C, T\)"):
        extract_features(encoder, X[0], window=8, stride=5)

    class Flat(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.mean(dim=(1, 2))[:, None]  # (B, 1): breaks the contract

    with pytest.raises(ContractError, match="must map"):
        extract_features(Flat(), X, window=8, stride=5)


def test_save_load_round_trip(tmp_path: Path, encoder: PatchEncoder) -> None:
    fs = extract_features(encoder, _records(), window=8, stride=5, pool="tokens")
    path = fs.save(tmp_path / "sub" / "feats.npz")
    assert path.exists() and not list(path.parent.glob("*.tmp"))
    back = FeatureSet.load(path)
    np.testing.assert_array_equal(back.feats, fs.feats)
    np.testing.assert_array_equal(back.n_windows, fs.n_windows)
    assert (back.window, back.stride, back.kind) == (8, 5, "tokens")
    sub = back.subset([0, 2])
    assert sub.feats.shape[0] == 2 and sub.window == 8


def test_load_refuses_pickles_and_incomplete_files(tmp_path: Path) -> None:
    np.savez(tmp_path / "obj.npz", feats=np.array([{"a": 1}], dtype=object), n_windows=np.ones(1),
             window=np.int64(1), stride=np.int64(1))  # fmt: skip
    with pytest.raises(DataError, match="cannot read feature file"):
        FeatureSet.load(tmp_path / "obj.npz")
    np.savez(tmp_path / "part.npz", feats=np.zeros((1, 1, 2), dtype=np.float32))
    with pytest.raises(DataError, match="lacks arrays"):
        FeatureSet.load(tmp_path / "part.npz")
    with pytest.raises(DataError, match="cannot read"):
        FeatureSet.load(tmp_path / "missing.npz")


def test_as_feature_set_and_validation() -> None:
    fs = as_feature_set(np.ones((4, 3)))
    assert fs.feats.shape == (4, 1, 3) and fs.kind == "pooled"
    np.testing.assert_array_equal(fs.n_windows, [1, 1, 1, 1])
    assert as_feature_set(fs) is fs
    assert as_feature_set(np.ones((2, 3, 4, 5))).kind == "tokens"
    with pytest.raises(ContractError, match=r"\(N, D\)"):
        as_feature_set(np.ones(3))
    with pytest.raises(ContractError, match=r"n_windows must lie in \[1, 2\]"):
        FeatureSet(np.zeros((2, 2, 3)), np.array([1, 3]))
