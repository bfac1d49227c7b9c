"""biojepa.encode() on numpy arrays: contract checks, channel reordering, windowing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import biojepa
from biojepa.errors import ContractError

CH = ["S1", "S2", "S3", "S4"]


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return biojepa.create_model("synthetic_vit_tiny").eval()


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((3, 4, 2048)).astype(np.float32)


def test_shape_dtype_determinism(model: torch.nn.Module, x: np.ndarray) -> None:
    a = biojepa.encode(x, model, sfreq=128, channels=CH)
    b = biojepa.encode(x, model, sfreq=128, channels=CH)
    assert a.shape == (3, 64) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)


def test_windows_are_mean_pooled(model: torch.nn.Module, x: np.ndarray) -> None:
    full = biojepa.encode(x, model, sfreq=128, channels=CH)
    w0 = biojepa.encode(x[:, :, :1024], model, sfreq=128, channels=CH)
    w1 = biojepa.encode(x[:, :, 1024:], model, sfreq=128, channels=CH)
    np.testing.assert_allclose(full, (w0 + w1) / 2, rtol=1e-5, atol=1e-6)


def test_channels_are_matched_by_name(model: torch.nn.Module, x: np.ndarray) -> None:
    ref = biojepa.encode(x, model, sfreq=128, channels=CH)
    perm = [2, 0, 3, 1]
    shuffled = biojepa.encode(x[:, perm], model, sfreq=128, channels=[CH[i].lower() for i in perm])
    np.testing.assert_allclose(ref, shuffled, rtol=1e-6)
    with pytest.raises(ContractError, match=r"lacks \['S4'\]"):
        biojepa.encode(x[:, :3], model, sfreq=128, channels=CH[:3])


def test_rate_units_nan_and_length_errors(model: torch.nn.Module, x: np.ndarray) -> None:
    with pytest.raises(ContractError, match="allow_resample=True"):
        biojepa.encode(x, model, sfreq=256, channels=CH)
    out = biojepa.encode(np.repeat(x, 2, axis=-1), model, sfreq=256, channels=CH, allow_resample=True)
    assert out.shape == (3, 64)
    bad = x.copy()
    bad[0, 1, 5] = np.nan
    with pytest.raises(ContractError, match="NaN"):
        biojepa.encode(bad, model, sfreq=128, channels=CH)
    with pytest.raises(ContractError, match="model window of 1024"):
        biojepa.encode(x[:, :, :500], model, sfreq=128, channels=CH)
    with pytest.raises(ContractError, match="cannot be converted"):
        biojepa.encode(x, model, sfreq=128, channels=CH, units="mV")


def test_model_directory_input(model: torch.nn.Module, x: np.ndarray, tmp_path: Path) -> None:
    from biojepa.io import save_pretrained

    d = save_pretrained(model, tmp_path / "m")
    np.testing.assert_array_equal(biojepa.encode(x, d, sfreq=128, channels=CH),
                                  biojepa.encode(x, model, sfreq=128, channels=CH))
    with pytest.raises(ContractError, match="neither a model directory"):
        biojepa.encode(x, str(tmp_path / "nope"), sfreq=128, channels=CH)
