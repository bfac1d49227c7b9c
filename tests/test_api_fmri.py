"""biojepa.encode() with fMRI models: ROI matrices, files, NIfTI, the ROI-order and TR contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io
import torch

import biojepa
from biojepa.adapters.fmri.conform import conform_fmri
from biojepa.adapters.fmri.rois import AAL116, roi_order_sha256
from biojepa.adapters.fmri.transforms import resample_tr
from biojepa.data.record import Record
from biojepa.errors import ContractError
from biojepa.io import save_pretrained

NAMES = list(AAL116)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    """fmri_vit_tiny (1 layer) with robust statistics in its contract, as after pretraining."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    stats = {"mean": rng.normal(0, 0.1, 116).tolist(), "std": rng.uniform(0.5, 2.0, 116).tolist()}
    return biojepa.create_model(
        "fmri_vit_tiny", encoder={"depth": 1}, signal={"normalization": {"method": "robust", "stats": stats}}
    ).eval()


def _series(t: int = 240, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(116, t)).astype(np.float32)  # (R, T)


def test_roi_matrix_with_stated_orientation_and_tr(model: torch.nn.Module) -> None:
    x = _series()
    a = biojepa.encode(x, model, tr_s=1.1, orientation="roi_time", channels=NAMES)
    b = biojepa.encode(x.T, model, tr_s=1.1, orientation="time_roi", channels=NAMES)
    assert a.shape == (1, 128) and np.isfinite(a).all()
    np.testing.assert_allclose(a, b, atol=1e-6)
    # TR 1.1 s -> the model's 2.2 s keeps every other frame: the same as giving those frames at 2.2 s
    c = biojepa.encode(x[:, ::2], model, tr_s=2.2, orientation="roi_time", channels=NAMES)
    np.testing.assert_allclose(a, c, atol=1e-5)


def test_built_in_roi_table_names_the_rows(model: torch.nn.Module) -> None:
    x = _series()
    a = biojepa.encode(x, model, tr_s=2.2, orientation="roi_time", channels=NAMES)
    np.testing.assert_allclose(a, biojepa.encode(x, model, tr_s=2.2, orientation="roi_time", channels="aal116"))


def test_orientation_is_never_guessed(model: torch.nn.Module) -> None:
    x = _series(t=116)  # square: both axes could be ROIs
    with pytest.raises(ContractError, match="ambiguous"):
        biojepa.encode(x, model, tr_s=2.2, channels=NAMES)
    y = _series(t=200)
    with pytest.raises(ContractError, match="looks transposed"):
        biojepa.encode(y.T, model, tr_s=2.2, orientation="roi_time", channels=NAMES)
    # an unstated orientation is accepted only when exactly one axis has the model's ROI count
    np.testing.assert_allclose(
        biojepa.encode(y.T, model, tr_s=2.2, channels=NAMES),
        biojepa.encode(y, model, tr_s=2.2, orientation="roi_time", channels=NAMES),
    )


def test_roi_order_is_checked_by_name(model: torch.nn.Module) -> None:
    x = _series()
    ref = biojepa.encode(x, model, tr_s=2.2, orientation="roi_time", channels=NAMES)
    perm = np.random.default_rng(2).permutation(116)
    shuffled = biojepa.encode(x[perm], model, tr_s=2.2, orientation="roi_time", channels=[NAMES[i] for i in perm])
    np.testing.assert_allclose(ref, shuffled, atol=1e-6)
    with pytest.raises(ContractError, match="pass channels"):
        biojepa.encode(x, model, tr_s=2.2, orientation="roi_time")
    other = [f"Schaefer_{i}" for i in range(116)]
    with pytest.raises(ContractError, match=roi_order_sha256(NAMES)[:12]):
        biojepa.encode(x, model, tr_s=2.2, orientation="roi_time", channels=other)


def test_tr_and_nan_contract(model: torch.nn.Module) -> None:
    x = _series()
    with pytest.raises(ContractError, match="tr_s"):
        biojepa.encode(x, model, orientation="roi_time", channels=NAMES)
    bad = x.copy()
    bad[3, 10] = np.nan
    with pytest.raises(ContractError, match="NaN"):
        biojepa.encode(bad, model, tr_s=2.2, orientation="roi_time", channels=NAMES)
    filled = biojepa.encode(bad, model, tr_s=2.2, orientation="roi_time", channels=NAMES, nan="interpolate")
    assert np.isfinite(filled).all()


def test_zero_variance_rois_give_finite_embeddings(model: torch.nn.Module) -> None:
    x = _series()
    x[100:111] = 0.3  # cerebellar ROIs cut by the field of view
    out = biojepa.encode(x, model, tr_s=2.2, orientation="roi_time", channels=NAMES)
    assert np.isfinite(out).all()
    z = conform_fmri(x, 2.2, NAMES, model.spec, normalization="per_record")
    assert np.isfinite(z).all() and np.count_nonzero(z[100:111]) == 0


def test_robust_contract_is_applied_and_needs_statistics(model: torch.nn.Module) -> None:
    x = _series(t=80)
    stats = model.spec.signal.normalization.stats
    y = conform_fmri(x, 2.2, NAMES, model.spec)
    expected = (x - x.mean(axis=1, keepdims=True) - np.asarray(stats["mean"])[:, None]) / np.asarray(stats["std"])[
        :, None]
    np.testing.assert_allclose(y, expected, atol=1e-4)
    fresh = biojepa.create_model("fmri_vit_tiny", encoder={"depth": 1})
    with pytest.raises(ContractError, match="without statistics"):
        biojepa.encode(x, fresh, tr_s=2.2, orientation="roi_time", channels=NAMES)
    out = biojepa.encode(x, fresh, tr_s=2.2, orientation="roi_time", channels=NAMES, normalization="per_record")
    assert np.isfinite(out).all()


def test_short_series_are_padded_with_a_validity_mask(model: torch.nn.Module) -> None:
    x = _series(t=50)  # 50 frames at 2.2 s < the 80-frame window: 3 full patches of 16 frames
    with pytest.raises(ContractError, match="pad=True"):
        biojepa.encode(x, model, tr_s=2.2, orientation="roi_time", channels=NAMES)
    out = biojepa.encode(x, model, tr_s=2.2, orientation="roi_time", channels=NAMES, pad=True)
    # by hand: only the tokens of the 3 covered patches are encoded and pooled; the padding never enters
    xn = conform_fmri(x, 2.2, NAMES, model.spec)
    padded = np.zeros((1, 116, 80), dtype=np.float32)
    padded[0, :, :50] = xn
    keep = model.tokenizer.valid_tokens((116, 80), 50).unsqueeze(0)
    with torch.inference_mode():
        manual = model(torch.from_numpy(padded), keep_idx=keep).mean(dim=1).numpy()
        zero_filled = model(torch.from_numpy(padded)).mean(dim=1).numpy()
    np.testing.assert_allclose(out, manual, atol=1e-5)
    assert np.abs(out - zero_filled).max() > 1e-3


def test_files_dataframes_and_records(model: torch.nn.Module, tmp_path: Path) -> None:
    x = _series()
    ref = biojepa.encode(x, model, tr_s=1.5, orientation="roi_time", channels=NAMES)
    scipy.io.savemat(tmp_path / "sub.mat", {"ROISignals": x.T})  # DPABI: time x ROI
    np.savetxt(tmp_path / "sub.1D", x.T)  # AFNI: time x ROI
    np.save(tmp_path / "sub.npy", x)
    pd.DataFrame(x.T, columns=NAMES).to_csv(tmp_path / "sub.csv", index=False)  # header row: time x ROI
    for f, kw in (("sub.mat", {}), ("sub.1D", {}), ("sub.npy", {"orientation": "roi_time"}), ("sub.csv", {})):
        names = {} if f == "sub.csv" else {"channels": NAMES}
        out = biojepa.encode(str(tmp_path / f), model, tr_s=1.5, **names, **kw)
        np.testing.assert_allclose(out, ref, atol=1e-4, err_msg=f)
    df = pd.DataFrame(x.T, columns=NAMES)
    np.testing.assert_allclose(biojepa.encode(df, model, tr_s=1.5), ref, atol=1e-5)
    rec = Record(x, 1 / 1.5, tuple(NAMES), "a.u.", "r1")
    np.testing.assert_allclose(biojepa.encode(rec, model), ref, atol=1e-5)
    res = list(biojepa.api.encode_iter([str(tmp_path / "sub.mat"), str(tmp_path / "missing.mat")], model,
                                       tr_s=1.5, channels=NAMES))
    assert res[0].error is None and res[1].embedding is None and "not found" in res[1].error


def test_nifti_with_a_labels_atlas(tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel")
    rng = np.random.default_rng(0)
    labels = np.zeros((8, 8, 8), dtype=np.int16)
    labels[:4, :4, :] = 1
    labels[4:, :4, :] = 2
    labels[:4, 4:, :] = 3
    labels[4:, 4:, :] = 4
    courses = rng.normal(size=(4, 64))
    data = np.zeros((8, 8, 8, 64), dtype=np.float32)
    for k in range(4):
        data[labels == k + 1] = courses[k] + 0.01 * rng.normal(size=(int((labels == k + 1).sum()), 64))
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = 2.2
    nib.save(img, tmp_path / "bold.nii.gz")
    nib.save(nib.Nifti1Image(labels, affine), tmp_path / "atlas.nii.gz")
    names = ["1", "2", "3", "4"]
    torch.manual_seed(0)
    m = biojepa.create_model(
        "fmri_vit_tiny", encoder={"depth": 1},
        signal={"channels": names, "roi_order_sha256": roi_order_sha256(names), "atlas": "blocks4", "n_times": 64},
    ).eval()
    out = biojepa.encode(str(tmp_path / "bold.nii.gz"), m, labels_img=str(tmp_path / "atlas.nii.gz"),
                         normalization="per_record")
    ref = biojepa.encode(courses, m, tr_s=2.2, orientation="roi_time", channels=names, normalization="per_record")
    assert out.shape == (1, 128)
    np.testing.assert_allclose(out, ref, atol=2e-2)
    with pytest.raises(ContractError, match="labels_img"):
        biojepa.encode(str(tmp_path / "bold.nii.gz"), m, normalization="per_record")


def test_saved_model_keeps_its_contract(model: torch.nn.Module, tmp_path: Path) -> None:
    d = save_pretrained(model, tmp_path / "m")
    loaded = biojepa.load(d)
    assert loaded.spec.signal.atlas == "aal116"
    assert loaded.spec.signal.roi_order_sha256 == roi_order_sha256(NAMES)
    x = _series()
    np.testing.assert_allclose(
        biojepa.encode(x, loaded, tr_s=2.2, orientation="roi_time", channels=NAMES),
        biojepa.encode(x, model, tr_s=2.2, orientation="roi_time", channels=NAMES), atol=1e-6)


def test_resample_reference_grid() -> None:
    x = _series(t=195)
    assert resample_tr(x, 1.5, 2.2).shape == (116, 133)
