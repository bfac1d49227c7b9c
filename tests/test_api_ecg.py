"""biojepa.encode() on ECG: leads by name and alias, the signal contract, windowing, inputs of every kind."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import biojepa
from biojepa.adapters.ecg.leads import STANDARD_LEADS
from biojepa.adapters.ecg.synthetic import EcgSynthSpec, simulate_ecg
from biojepa.api import encode_iter
from biojepa.errors import ContractError

LEADS = list(STANDARD_LEADS)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    stats = {"mean": [0.0] * 12, "std": [0.15] * 12, "per_dataset": {"ptbxl": {"mean": [0.01] * 12,
                                                                              "std": [0.2] * 12}}}
    return biojepa.create_model("ecg_vit_tiny", signal={"normalization": {"method": "zscore", "stats": stats,
                                                                          "clip": 5.0}})


@pytest.fixture(scope="module")
def ecg() -> np.ndarray:
    x, _ = simulate_ecg(EcgSynthSpec(n_records=3, sfreq=100.0, duration_s=10.0))
    return x  # (3, 12, 1000) mV


def test_permuted_leads_and_aliases_give_identical_embeddings(model: torch.nn.Module, ecg: np.ndarray) -> None:
    ref = biojepa.encode(ecg, model, sfreq=100, channels=LEADS)
    assert ref.shape == (3, 128) and ref.dtype == np.float32 and np.isfinite(ref).all()
    perm = np.random.default_rng(1).permutation(12)
    shuffled = biojepa.encode(ecg[:, perm], model, sfreq=100, channels=[LEADS[i] for i in perm])
    np.testing.assert_array_equal(ref, shuffled)
    aliases = ["i", "MLII", "III", "AVR", "avl", "aVF", "V1", "v2", "V3", "V4", "V5", "V6"]
    np.testing.assert_array_equal(ref, biojepa.encode(ecg, model, sfreq=100, channels=aliases))


def test_batch_single_and_repeated_calls_agree(model: torch.nn.Module, ecg: np.ndarray) -> None:
    batch = biojepa.encode(ecg, model, sfreq=100, channels=LEADS, batch_size=5)
    singles = np.stack([biojepa.encode(ecg[i], model, sfreq=100, channels=LEADS)[0] for i in range(3)])
    np.testing.assert_allclose(batch, singles, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(batch, biojepa.encode(ecg, model, sfreq=100, channels=LEADS, batch_size=5))


def test_long_records_are_windowed_and_pooled(model: torch.nn.Module, ecg: np.ndarray) -> None:
    # a 10-s record and a 5-s model window: two windows, the embedding is their mean
    emb = biojepa.encode(ecg[0], model, sfreq=100, channels=LEADS)
    halves = biojepa.encode(np.stack([ecg[0][:, :500], ecg[0][:, 500:]]), model, sfreq=100, channels=LEADS)
    np.testing.assert_allclose(emb[0], halves.mean(axis=0), rtol=1e-5, atol=1e-6)
    toks = biojepa.encode(ecg[0], model, sfreq=100, channels=LEADS, return_tokens=True, stride=250)
    assert isinstance(toks, list) and toks[0].shape == (3, 50, 128)  # windows at 0, 250, 500
    one = biojepa.encode(ecg[:, :, :500], model, sfreq=100, channels=LEADS, return_tokens=True)
    assert isinstance(one, np.ndarray) and one.shape == (3, 50, 128)
    with pytest.raises(ContractError, match="shorter than the model window of 500"):
        biojepa.encode(ecg[:, :, :300], model, sfreq=100, channels=LEADS)
    padded = biojepa.encode(ecg[:, :, :300], model, sfreq=100, channels=LEADS, pad=True)
    assert padded.shape == (3, 128) and np.isfinite(padded).all()


def test_every_contract_violation_raises_a_clear_error(model: torch.nn.Module, ecg: np.ndarray) -> None:
    with pytest.raises(ContractError, match=r"III, aVR, aVL, aVF are missing"):
        biojepa.encode(ecg[:, [0, 1, 6, 7, 8, 9, 10, 11]], model, sfreq=100,
                       channels=["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"])
    with pytest.raises(ContractError, match="duplicate lead"):
        biojepa.encode(ecg, model, sfreq=100, channels=[*LEADS[:11], "I"])
    with pytest.raises(ContractError, match="unknown lead name 'X9'"):
        biojepa.encode(ecg, model, sfreq=100, channels=[*LEADS[:11], "X9"])
    with pytest.raises(ContractError, match="pass channels"):
        biojepa.encode(ecg, model, sfreq=100)
    with pytest.raises(ContractError, match=r"sampled at 500 Hz, the model expects 100 Hz.*allow_resample"):
        biojepa.encode(ecg, model, sfreq=500, channels=LEADS)
    with pytest.raises(ContractError, match="pass sfreq"):
        biojepa.encode(ecg, model, channels=LEADS)
    with pytest.raises(ContractError, match=r"looks like uV: pass units='uV'"):
        biojepa.encode(ecg * 1000.0, model, sfreq=100, channels=LEADS)  # microvolts given as if mV
    with pytest.raises(ContractError, match=r"looks like V"):
        biojepa.encode(ecg / 1000.0, model, sfreq=100, channels=LEADS)
    bad = ecg.copy()
    bad[1, 3, 100:110] = np.nan
    with pytest.raises(ContractError, match=r"record 1: the input holds 10 NaN.*nan='interpolate'"):
        biojepa.encode(bad, model, sfreq=100, channels=LEADS)
    with pytest.raises(ContractError, match="cannot be converted"):
        biojepa.encode(ecg, model, sfreq=100, channels=LEADS, units="furlongs")
    with pytest.raises(ContractError, match="normalization must be"):
        biojepa.encode(ecg, model, sfreq=100, channels=LEADS, normalization="whatever")
    untrained = biojepa.create_model("ecg_vit_tiny")
    with pytest.raises(ContractError, match="without statistics"):
        biojepa.encode(ecg, untrained, sfreq=100, channels=LEADS)


def test_explicit_options_fix_what_they_name(model: torch.nn.Module, ecg: np.ndarray) -> None:
    ref = biojepa.encode(ecg, model, sfreq=100, channels=LEADS)
    np.testing.assert_allclose(biojepa.encode(ecg * 1000.0, model, sfreq=100, channels=LEADS, units="uV"), ref,
                               rtol=1e-4, atol=1e-5)
    up = np.repeat(ecg, 5, axis=-1)  # 500 Hz, resampled back to 100 Hz
    assert biojepa.encode(up, model, sfreq=500, channels=LEADS, allow_resample=True).shape == (3, 128)
    bad = ecg.copy()
    bad[1, 3, 100:110] = np.nan
    fixed = biojepa.encode(bad, model, sfreq=100, channels=LEADS, nan="interpolate")
    np.testing.assert_allclose(fixed[0], ref[0], rtol=1e-6)
    assert not np.allclose(biojepa.encode(ecg, model, sfreq=100, channels=LEADS, normalization="ptbxl"), ref)
    per = biojepa.encode(ecg, model, sfreq=100, channels=LEADS, normalization="per_record")
    assert per.shape == (3, 128) and not np.allclose(per, ref)
    eight = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]
    sub = biojepa.encode(ecg[:, [0, 1, 6, 7, 8, 9, 10, 11]], model, sfreq=100, channels=eight,
                         missing_channels="fill")
    assert sub.shape == (3, 128) and np.isfinite(sub).all() and not np.allclose(sub, ref)


def test_dataframes_records_and_wfdb_paths(model: torch.nn.Module, ecg: np.ndarray, tmp_path: Path) -> None:
    ref = biojepa.encode(ecg[0], model, sfreq=100, channels=LEADS)
    df = pd.DataFrame(ecg[0].T, columns=[c.upper() for c in LEADS])
    np.testing.assert_array_equal(biojepa.encode(df, model, sfreq=100), ref)
    with pytest.raises(ContractError, match="DataFrame input needs sfreq"):
        biojepa.encode(df, model)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        import wfdb

        for i in range(2):
            wfdb.wrsamp(f"r{i}", fs=100, units=["mV"] * 12, sig_name=[c.upper() for c in LEADS],
                        p_signal=ecg[i].T.astype(np.float64), fmt=["16"] * 12, write_dir=str(tmp_path))
    paths = [str(tmp_path / "r0"), str(tmp_path / "r1.hea")]
    from_files = biojepa.encode(paths, model)
    np.testing.assert_allclose(from_files, biojepa.encode(ecg[:2], model, sfreq=100, channels=LEADS), atol=2e-3)
    (tmp_path / "r1.dat").unlink()
    results = list(encode_iter([*paths, str(tmp_path / "missing")], model))
    assert [r.record_id for r in results] == [*paths, str(tmp_path / "missing")]
    assert results[0].error is None and results[0].embedding is not None and results[0].n_windows == 2
    assert results[1].embedding is None and ".dat" in results[1].error
    assert results[2].embedding is None and "no WFDB header" in results[2].error
    np.testing.assert_array_equal(results[0].embedding, biojepa.encode(paths[0], model)[0])


def test_cli_encode_end_to_end_with_one_corrupt_record(model: torch.nn.Module, ecg: np.ndarray,
                                                        tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from biojepa.cli import app
    from biojepa.io import save_pretrained
    from biojepa.io.embeddings import read_embeddings

    mdir = save_pretrained(model, tmp_path / "model")
    (tmp_path / "recs").mkdir()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        import wfdb

        for i in range(3):
            wfdb.wrsamp(f"r{i}", fs=100, units=["mV"] * 12, sig_name=LEADS, p_signal=ecg[i].T.astype(np.float64),
                        fmt=["16"] * 12, write_dir=str(tmp_path / "recs"))
    dat = tmp_path / "recs" / "r1.dat"
    dat.write_bytes(dat.read_bytes()[:1000])  # truncated: header/data length mismatch
    np.save(tmp_path / "arr.npy", ecg[:2])
    for suffix in (".parquet", ".npy"):
        out = tmp_path / f"emb{suffix}"
        res = CliRunner().invoke(app, ["encode", str(tmp_path / "recs"), "--model", str(mdir), "--out", str(out),
                                       "--progress", "plain", "--json", str(tmp_path / "e.json")])
        assert res.exit_code == 0, res.output
        table, emb = read_embeddings(out)
        assert table["record_id"].tolist() == [str(tmp_path / "recs" / f"r{i}") for i in range(3)]
        assert table["error"].iloc[1] != "" and table["error"].iloc[0] == table["error"].iloc[2] == ""
        assert emb.shape == (3, 128) and np.isnan(emb[1]).all() and np.isfinite(emb[[0, 2]]).all()
        np.testing.assert_allclose(emb[0], biojepa.encode(str(tmp_path / "recs" / "r0"), model)[0], rtol=1e-6)
        summary = json.loads((tmp_path / "e.json").read_text())
        assert summary["n_ok"] == 2 and summary["n_errors"] == 1 and "r1" in summary["errors"][0][0]
    res = CliRunner().invoke(app, ["encode", str(tmp_path / "arr.npy"), "--model", str(mdir), "--out",
                                   str(tmp_path / "a.npy"), "--sfreq", "100", "--channels", ",".join(LEADS)])
    assert res.exit_code == 0, res.output
    _, emb = read_embeddings(tmp_path / "a.npy")
    np.testing.assert_allclose(emb, biojepa.encode(ecg[:2], model, sfreq=100, channels=LEADS), rtol=1e-5, atol=1e-6)
    bad = CliRunner().invoke(app, ["encode", str(tmp_path / "arr.npy"), "--model", str(mdir), "--out",
                                   str(tmp_path / "a.txt")])
    assert bad.exit_code == 2 and ".parquet or .npy" in bad.output
