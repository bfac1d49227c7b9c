"""biojepa.encode() for EEG models: channels by name, MNE objects and files, S-JEPA preprocessing, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import biojepa
from biojepa.errors import ContractError

NAMES = ["Fz", "C3", "Cz", "C4", "Pz"]


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return biojepa.create_model("eeg_sjepa_tiny", encoder={"depth": 1}, signal={"channels": NAMES})


def _eeg(n_times: int = 1024, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n_times) / 128.0
    return (rng.standard_normal((5, n_times)) * 10 + 20 * np.sin(2 * np.pi * 10 * t)).astype(np.float32)  # µV


def _raw(x_uv: np.ndarray, names: list[str], sfreq: float = 128.0):
    import mne

    info = mne.create_info(names, sfreq, "eeg")
    return mne.io.RawArray(x_uv.astype(np.float64) * 1e-6, info, verbose="error")


def test_channel_order_and_spelling_do_not_matter(model: torch.nn.Module) -> None:
    x = _eeg()
    ref = biojepa.encode(x, model, sfreq=128, channels=NAMES)
    perm = [3, 0, 4, 1, 2]
    shuffled = biojepa.encode(x[perm], model, sfreq=128, channels=[NAMES[i] for i in perm])
    np.testing.assert_array_equal(ref, shuffled)
    bci2000 = biojepa.encode(x, model, sfreq=128, channels=["Fz..", "C3..", "Cz..", "C4..", "PZ"])
    np.testing.assert_array_equal(ref, bci2000)
    assert ref.shape == (1, 64) and np.isfinite(ref).all()


def test_mne_raw_epochs_and_edf_file_match_the_array(model: torch.nn.Module, tmp_path: Path) -> None:
    import mne

    x = _eeg()
    ref = biojepa.encode(x, model, sfreq=128, channels=NAMES)
    raw = _raw(x, NAMES)
    np.testing.assert_allclose(biojepa.encode(raw, model), ref, rtol=1e-5, atol=1e-5)
    epochs = mne.make_fixed_length_epochs(raw, duration=4.0, preload=True, verbose="error")
    emb = biojepa.encode(epochs, model)
    assert emb.shape == (2, 64)
    f = tmp_path / "rec.edf"
    mne.export.export_raw(f, raw, fmt="edf", verbose="error")
    from_file = biojepa.encode(f, model)
    np.testing.assert_allclose(from_file, ref, rtol=1e-3, atol=1e-3)  # EDF stores 16-bit samples


def test_sjepa_bandpass_is_applied(model: torch.nn.Module) -> None:
    x = _eeg()
    drift = x + np.linspace(0, 400, x.shape[1], dtype=np.float32)  # a slow drift the 0.5 Hz high-pass removes
    a = biojepa.encode(x, model, sfreq=128, channels=NAMES)
    b = biojepa.encode(drift, model, sfreq=128, channels=NAMES)
    np.testing.assert_allclose(a, b, atol=0.05)


def test_contract_errors(model: torch.nn.Module) -> None:
    x = _eeg()
    with pytest.raises(ContractError, match=r"lacks \['Pz'\]"):
        biojepa.encode(x[:4], model, sfreq=128, channels=NAMES[:4])
    with pytest.raises(ContractError, match="allow_resample"):
        biojepa.encode(x, model, sfreq=256, channels=NAMES)
    up = biojepa.encode(np.repeat(x, 2, axis=1), model, sfreq=256, channels=NAMES, allow_resample=True)
    assert up.shape == (1, 64)
    with pytest.raises(ContractError, match="units='V'"):
        biojepa.encode(x * 1e-6, model, sfreq=128, channels=NAMES)
    volts = biojepa.encode(x * 1e-6, model, sfreq=128, channels=NAMES, units="V")
    np.testing.assert_allclose(volts, biojepa.encode(x, model, sfreq=128, channels=NAMES), rtol=1e-4, atol=1e-4)
    with pytest.raises(ContractError, match="shorter than the model window"):
        biojepa.encode(x[:, :300], model, sfreq=128, channels=NAMES)
    with pytest.raises(ContractError, match="duplicated"):
        biojepa.encode(x, model, sfreq=128, channels=["Fz", "C3", "Cz", "C4", "Cz.."])


def test_cli_encode_embeds_a_folder_of_edf_files(model: torch.nn.Module, tmp_path: Path) -> None:
    import mne
    from typer.testing import CliRunner

    from biojepa.cli import app
    from biojepa.io import save_pretrained
    from biojepa.io.embeddings import read_embeddings

    model_dir = save_pretrained(model, tmp_path / "model")
    folder = tmp_path / "recs"
    folder.mkdir()
    for k in range(2):
        mne.export.export_raw(folder / f"r{k}.edf", _raw(_eeg(seed=k), NAMES), fmt="edf", verbose="error")
    (folder / "broken.edf").write_bytes(b"not an edf")
    out = tmp_path / "emb.npy"
    res = CliRunner().invoke(app, ["encode", str(folder), "--model", str(model_dir), "--out", str(out)])
    assert res.exit_code == 0, res.output
    table, emb = read_embeddings(out)
    assert table["record_id"].tolist() == [str(folder / n) for n in ("broken.edf", "r0.edf", "r1.edf")]
    assert table["error"][0] and not table["error"][1] and not table["error"][2]
    ref = biojepa.encode(_eeg(seed=1), model, sfreq=128, channels=NAMES)
    np.testing.assert_allclose(emb[2], ref[0], rtol=1e-3, atol=1e-3)
