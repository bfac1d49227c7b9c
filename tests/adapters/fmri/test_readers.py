"""fMRI readers on tiny real-format files written by the tests and on the shared ABIDE AAL-116 ``.mat`` files.

Written files: ``.npy`` (``np.save``), ``.csv``/``.tsv`` (pandas), ``.txt``/``.1D`` (``np.savetxt``), MATLAB
v5 (``scipy.io.savemat``) and v7.3 (HDF5 through h5py with a MATLAB header block), and a synthetic 4-D NIfTI
(nibabel, 10x10x10 voxels of 4 mm, 30 frames) with a blocky labels atlas whose regions carry planted time
courses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io

from biojepa.adapters.fmri import readers
from biojepa.adapters.fmri.readers import (
    atlas_centroids,
    read_nifti_rois,
    read_roi_file,
    read_roi_matrix,
)
from biojepa.data.record import Record
from biojepa.errors import ConfigError, ContractError, CorruptRecordError

R, T = 5, 40


def series(n_roi: int = R, n_t: int = T, seed: int = 0) -> np.ndarray:
    """``(R, T)`` float64 values exactly representable in float32 (so round trips compare with ==)."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.3, (n_roi, n_t)).astype(np.float32).astype(np.float64)


# --------------------------------------------------------------------------------------------------------
# ROI matrices: round trips


@pytest.mark.parametrize("orientation", ["roi_time", "time_roi"])
def test_npy_round_trip_both_orientations(tmp_path: Path, orientation: str) -> None:
    x = series()
    f = tmp_path / "sub-01.npy"
    np.save(f, x if orientation == "roi_time" else x.T)
    rec = read_roi_matrix(f, tr_s=2.0, orientation=orientation)  # type: ignore[arg-type]
    assert isinstance(rec, Record)
    assert rec.signal.dtype == np.float32 and rec.signal.shape == (R, T)
    np.testing.assert_array_equal(rec.signal, x.astype(np.float32))
    assert rec.sfreq == 0.5 and rec.units == "a.u." and rec.record_id == "sub-01"
    assert rec.channels == ("ROI001", "ROI002", "ROI003", "ROI004", "ROI005")
    assert rec.meta["orientation"] == orientation and rec.meta["format"] == "npy"
    assert rec.meta["tr_s"] == 2.0 and rec.meta["zero_variance_rois"] == []
    assert rec.meta["shape_as_read"] == ((R, T) if orientation == "roi_time" else (T, R))
    assert rec.meta["roi_names_source"] == "generated"


def test_npy_int_array_and_n_rois_decides_orientation(tmp_path: Path) -> None:
    x = np.arange(R * T, dtype=np.int16).reshape(T, R)  # (T, R)
    f = tmp_path / "ints.npy"
    np.save(f, x)
    rec = read_roi_matrix(f, tr_s=1.5, n_rois=R, record_id="custom")
    np.testing.assert_array_equal(rec.signal, x.T.astype(np.float32))
    assert rec.meta["orientation"] == "time_roi" and rec.record_id == "custom"


def test_csv_header_names_columns(tmp_path: Path) -> None:
    x = series()
    names = ["Precentral_L", "Precentral_R", "Frontal_Sup_L", "Frontal_Sup_R", "Vermis_10"]
    f = tmp_path / "ts.csv"
    pd.DataFrame(x.T, columns=names).to_csv(f, index=False, float_format="%.9g")
    rec = read_roi_matrix(f, tr_s=2.0)
    assert rec.channels == tuple(names)
    np.testing.assert_array_equal(rec.signal, x.astype(np.float32))
    assert rec.meta["orientation"] == "time_roi" and rec.meta["header"] is True
    assert rec.meta["roi_names_source"] == "header"


def test_tsv_header_and_caller_names_override(tmp_path: Path) -> None:
    x = series(seed=1)
    f = tmp_path / "ts.TSV"  # suffix is case-insensitive
    pd.DataFrame(x.T, columns=[f"h{i}" for i in range(R)]).to_csv(
        f, sep="\t", index=False, float_format="%.9g"
    )
    mine = [f"r{i}" for i in range(R)]
    rec = read_roi_matrix(f, tr_s=0.72, roi_names=mine)
    assert rec.channels == tuple(mine) and rec.meta["format"] == "tsv"
    np.testing.assert_array_equal(rec.signal, x.astype(np.float32))


def test_headerless_csv_needs_orientation_or_n_rois(tmp_path: Path) -> None:
    x = series()
    f = tmp_path / "plain.csv"
    np.savetxt(f, x, delimiter=",", fmt="%.9g")  # (R, T) = ROI x time
    with pytest.raises(ContractError, match=r"shape \(5, 40\).*ambiguous.*orientation='roi_time'"):
        read_roi_matrix(f, tr_s=2.0)
    rec = read_roi_matrix(f, tr_s=2.0, n_rois=R)
    assert rec.meta["orientation"] == "roi_time" and rec.meta["header"] is False
    np.testing.assert_array_equal(rec.signal, x.astype(np.float32))


def test_txt_whitespace_with_comment_lines(tmp_path: Path) -> None:
    x = series(seed=2)
    f = tmp_path / "ts.txt"
    np.savetxt(f, x.T, fmt="%.9g", header="exported by a test\nframes x ROIs")  # '#'-prefixed comment lines
    rec = read_roi_matrix(f, tr_s=2.0, orientation="time_roi")
    np.testing.assert_array_equal(rec.signal, x.astype(np.float32))
    assert rec.meta["format"] == "txt"


def test_afni_1d_is_time_by_roi(tmp_path: Path) -> None:
    x = series(seed=3)
    f = tmp_path / "sub_roi.1D"
    np.savetxt(f, x.T, fmt="%.9g", header="3dmaskave -quiet output", comments="# ")
    rec = read_roi_matrix(f, tr_s=2.5)
    np.testing.assert_array_equal(rec.signal, x.astype(np.float32))
    assert rec.meta["format"] == "1d" and rec.meta["orientation"] == "time_roi"
    assert rec.record_id == "sub_roi"


def test_mat_roisignals_is_time_by_roi(tmp_path: Path) -> None:
    x = series(seed=4)
    f = tmp_path / "50001.mat"
    scipy.io.savemat(f, {"ROISignals": x.T, "other": np.ones((2, 2))})
    rec = read_roi_matrix(f, tr_s=1.5, n_rois=R)
    np.testing.assert_array_equal(rec.signal, x.astype(np.float32))
    assert rec.meta["variable"] == "ROISignals" and rec.meta["mat_version"] == "v5"
    assert rec.meta["orientation"] == "time_roi" and rec.record_id == "50001"


def test_mat_other_variable_has_no_convention(tmp_path: Path) -> None:
    x = series(seed=5)
    f = tmp_path / "custom.mat"
    scipy.io.savemat(f, {"ts": x})  # ROI x time under a custom name
    with pytest.raises(ContractError, match="ambiguous"):
        read_roi_matrix(f, tr_s=2.0, variable="ts")
    rec = read_roi_matrix(f, tr_s=2.0, variable="ts", orientation="roi_time")
    np.testing.assert_array_equal(rec.signal, x.astype(np.float32))
    with pytest.raises(CorruptRecordError, match=r"no variable 'ROISignals'.*\['ts'\].*variable="):
        read_roi_matrix(f, tr_s=2.0, orientation="roi_time")


def _write_mat_v73(path: Path, name: str, matlab_array: np.ndarray) -> None:
    """A MATLAB v7.3 file: HDF5 with a 512-byte MATLAB header; arrays stored column-major (axes reversed)."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w", userblock_size=512) as f:
        ds = f.create_dataset(name, data=np.ascontiguousarray(matlab_array.T))
        ds.attrs["MATLAB_class"] = np.bytes_("double")
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    head = text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with path.open("r+b") as fh:
        fh.write(head.ljust(512, b"\x00"))


def test_mat_v73_via_h5py(tmp_path: Path) -> None:
    x = series(seed=6)
    f = tmp_path / "v73.mat"
    _write_mat_v73(f, "ROISignals", x.T)  # MATLAB (T, R)
    rec = read_roi_matrix(f, tr_s=2.0)
    np.testing.assert_array_equal(rec.signal, x.astype(np.float32))
    assert rec.meta["mat_version"] == "v7.3" and rec.meta["orientation"] == "time_roi"


def test_mat_v73_without_h5py_says_how_to_convert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "v73.mat"
    _write_mat_v73(f, "ROISignals", series().T)
    monkeypatch.setattr(readers, "_import_h5py", lambda: None)
    with pytest.raises(CorruptRecordError, match=r"v7\.3.*not supported.*'-v7'.*pip install h5py"):
        read_roi_matrix(f, tr_s=2.0)


def test_default_names_width_grows(tmp_path: Path) -> None:
    f = tmp_path / "wide.npy"
    np.save(f, np.random.default_rng(0).normal(size=(1200, 3)))
    rec = read_roi_matrix(f, tr_s=1.0, orientation="roi_time")
    assert rec.channels[0] == "ROI0001" and rec.channels[-1] == "ROI1200"


# --------------------------------------------------------------------------------------------------------
# orientation is never guessed


def test_transposed_matrix_with_n_rois_raises(tmp_path: Path) -> None:
    x = series()
    f = tmp_path / "t.npy"
    np.save(f, x.T)  # time x ROI on disk
    with pytest.raises(ContractError, match=r"looks transposed.*orientation='time_roi'"):
        read_roi_matrix(f, tr_s=2.0, orientation="roi_time", n_rois=R)


def test_roisignals_saved_roi_by_time_looks_transposed(tmp_path: Path) -> None:
    f = tmp_path / "wrong.mat"
    scipy.io.savemat(f, {"ROISignals": series()})  # (R, T): breaks the DPABI convention
    with pytest.raises(ContractError, match=r"looks transposed.*re-save it as time x ROI"):
        read_roi_matrix(f, tr_s=2.0, n_rois=R)


def test_ambiguous_orientation_raises(tmp_path: Path) -> None:
    f = tmp_path / "sq.npy"
    np.save(f, series(n_roi=40, n_t=41))
    with pytest.raises(
        ContractError, match=r"shape \(40, 41\).*ambiguous.*orientation='roi_time'.*'time_roi'"
    ):
        read_roi_matrix(f, tr_s=2.0)
    g = tmp_path / "square.npy"
    np.save(g, series(n_roi=30, n_t=30))
    with pytest.raises(ContractError, match="matches both axes.*ambiguous"):
        read_roi_matrix(g, tr_s=2.0, n_rois=30)
    with pytest.raises(ContractError, match="no axis has that many"):
        read_roi_matrix(g, tr_s=2.0, n_rois=7)


@pytest.mark.parametrize("kind", ["1d", "mat", "csv_header"])
def test_orientation_contradicting_convention_is_config_error(tmp_path: Path, kind: str) -> None:
    x = series()
    if kind == "1d":
        f = tmp_path / "a.1D"
        np.savetxt(f, x.T, fmt="%.9g")
    elif kind == "mat":
        f = tmp_path / "a.mat"
        scipy.io.savemat(f, {"ROISignals": x.T})
    else:
        f = tmp_path / "a.csv"
        pd.DataFrame(x.T, columns=list("abcde")).to_csv(f, index=False)
    with pytest.raises(ConfigError, match=r"time x ROI.*orientation='roi_time' contradicts"):
        read_roi_matrix(f, tr_s=2.0, orientation="roi_time")
    assert read_roi_matrix(f, tr_s=2.0, orientation="time_roi").signal.shape == (R, T)


# --------------------------------------------------------------------------------------------------------
# ROI names


def test_roi_name_errors(tmp_path: Path) -> None:
    f = tmp_path / "n.npy"
    np.save(f, series())
    with pytest.raises(ContractError, match="3 ROI names were given for 5 ROIs"):
        read_roi_matrix(f, tr_s=2.0, orientation="roi_time", roi_names=["a", "b", "c"])
    with pytest.raises(ContractError, match=r"duplicate ROI names \[a\]"):
        read_roi_matrix(f, tr_s=2.0, orientation="roi_time", roi_names=["a", "a", "b", "c", "d"])
    with pytest.raises(ContractError, match="looks transposed"):
        read_roi_matrix(f, tr_s=2.0, orientation="time_roi", roi_names=[f"r{i}" for i in range(R)])
    g = tmp_path / "idx.csv"
    pd.DataFrame(series().T, columns=list("abcde")).to_csv(g)  # pandas index column: empty header cell
    with pytest.raises(ContractError, match="empty.*index=False"):
        read_roi_matrix(g, tr_s=2.0)
    h = tmp_path / "dup.csv"
    pd.DataFrame(series().T, columns=list("abcde")).to_csv(h, index=False)
    h.write_text(h.read_text().replace("a,b,c", "a,a,c", 1))
    with pytest.raises(ContractError, match="duplicate ROI names"):
        read_roi_matrix(h, tr_s=2.0)


# --------------------------------------------------------------------------------------------------------
# bad content and arguments


def test_nan_and_inf_are_corrupt_with_count_and_rois(tmp_path: Path) -> None:
    x = series()
    x[1, 3] = np.nan
    x[1, 7] = np.nan
    x[4, 0] = np.inf
    f = tmp_path / "nan.npy"
    np.save(f, x)
    with pytest.raises(
        CorruptRecordError, match=r"3 value\(s\) out of 200 are NaN/inf.*ROI002 \(row 1\).*ROI005"
    ):
        read_roi_matrix(f, tr_s=2.0, orientation="roi_time")
    g = tmp_path / "nan.csv"
    pd.DataFrame(x.T, columns=list("abcde")).to_csv(g, index=False)  # NaN written as an empty cell
    with pytest.raises(CorruptRecordError, match=r"non-numeric cell '' at line 5, column 2.*empty cells"):
        read_roi_matrix(g, tr_s=2.0)


def test_non_numeric_cell_names_line_and_column(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text("a,b,c\n1,2,3\n4,oops,6\n7,8,9\n")
    with pytest.raises(CorruptRecordError, match=r"'oops' at line 3, column 2 of bad\.csv") as info:
        read_roi_matrix(f, tr_s=2.0)
    assert info.value.record_id == "bad"
    g = tmp_path / "commas.txt"
    g.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(
        CorruptRecordError,
        match=r"'4,5,6' at line 2, column 1.*line 1 was read as the header.*should be named \.csv",
    ):
        read_roi_matrix(g, tr_s=2.0, orientation="time_roi")
    h = tmp_path / "ragged.tsv"
    h.write_text("1\t2\t3\n4\t5\n")
    with pytest.raises(CorruptRecordError, match="line 2 of ragged.tsv has 2 tab-separated cells.*3"):
        read_roi_matrix(h, tr_s=2.0, orientation="time_roi")


def test_truncated_and_malformed_files(tmp_path: Path) -> None:
    f = tmp_path / "trunc.npy"
    np.save(f, series())
    f.write_bytes(f.read_bytes()[:-50])
    with pytest.raises(CorruptRecordError, match=r"trunc.*truncated or damaged"):
        read_roi_matrix(f, tr_s=2.0, orientation="roi_time")
    g = tmp_path / "trunc.mat"
    scipy.io.savemat(g, {"ROISignals": series().T})
    g.write_bytes(g.read_bytes()[:200])
    with pytest.raises(CorruptRecordError, match="truncated or damaged|truncated or not a MAT-file"):
        read_roi_matrix(g, tr_s=2.0)
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CorruptRecordError, match="pickles are refused"):
        read_roi_matrix(obj, tr_s=2.0, orientation="roi_time")
    for arr, match in [
        (np.zeros(10), r"2-D.*shape \(10,\)"),
        (np.zeros((2, 3, 4)), r"2-D.*shape \(2, 3, 4\)"),
        (np.zeros((0, 5)), "empty"),
        (np.zeros((5, 1)), r"1 frame\(s\).*at least 2"),
        (np.array([[1 + 2j, 3]]), "real int or float"),
    ]:
        h = tmp_path / "shape.npy"
        np.save(h, arr)
        with pytest.raises(CorruptRecordError, match=match):
            read_roi_matrix(h, tr_s=2.0, orientation="roi_time")
    e = tmp_path / "empty.csv"
    e.write_text("a,b\n")
    with pytest.raises(CorruptRecordError, match="only a header row"):
        read_roi_matrix(e, tr_s=2.0)
    with pytest.raises(CorruptRecordError, match="not found"):
        read_roi_matrix(tmp_path / "missing.npy", tr_s=2.0, orientation="roi_time")


def test_oversize_guard_refuses_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "big.npy"
    np.save(f, series())
    size = f.stat().st_size

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("np.load must not be called for an oversized file")

    monkeypatch.setattr(np, "load", boom)
    with pytest.raises(CorruptRecordError, match=rf"{size} bytes, more than max_bytes=100.*not read"):
        read_roi_matrix(f, tr_s=2.0, orientation="roi_time", max_bytes=100)


@pytest.mark.parametrize("tr", [None, 0.0, -1.0, float("nan"), float("inf"), "2", True])
def test_tr_is_required_and_positive(tmp_path: Path, tr: object) -> None:
    f = tmp_path / "x.npy"
    np.save(f, series())
    with pytest.raises(ConfigError, match="tr_s"):
        read_roi_matrix(f, tr_s=tr, orientation="roi_time")  # type: ignore[arg-type]


def test_bad_arguments_are_config_errors(tmp_path: Path) -> None:
    f = tmp_path / "x.npy"
    np.save(f, series())
    with pytest.raises(ConfigError, match="orientation must be"):
        read_roi_matrix(f, tr_s=2.0, orientation="rois_first")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="n_rois must be a positive integer"):
        read_roi_matrix(f, tr_s=2.0, n_rois=0)
    with pytest.raises(ConfigError, match="only applies to .mat"):
        read_roi_matrix(f, tr_s=2.0, orientation="roi_time", variable="ts")
    with pytest.raises(ConfigError, match=r"suffix '\.xlsx'"):
        read_roi_matrix(tmp_path / "x.xlsx", tr_s=2.0)
    with pytest.raises(ConfigError, match="read_nifti_rois"):
        read_roi_matrix(tmp_path / "bold.nii.gz", tr_s=2.0)


def test_zero_variance_rois_are_flagged_not_rejected(tmp_path: Path) -> None:
    x = series(n_roi=6)
    x[2] = 0.0
    x[5] = 3.25  # constant but non-zero
    f = tmp_path / "zv.npy"
    np.save(f, x.T)
    rec = read_roi_matrix(f, tr_s=2.0, orientation="time_roi")
    assert rec.meta["zero_variance_rois"] == [2, 5]
    assert np.isfinite(rec.signal).all()
    np.testing.assert_array_equal(rec.signal, x.astype(np.float32))


def test_import_is_lazy() -> None:
    code = (
        "import sys; import biojepa.adapters.fmri.readers; "
        "bad = [m for m in ('nilearn', 'nibabel', 'h5py') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --------------------------------------------------------------------------------------------------------
# NIfTI

AFFINE = np.array([[4.0, 0, 0, -20.0], [0, 4.0, 0, -30.0], [0, 0, 4.0, -10.0], [0, 0, 0, 1.0]])
#: label -> voxel block; labels are not in voxel order, so sorting matters
BLOCKS: dict[int, tuple[slice, slice, slice]] = {
    7: (slice(0, 5), slice(0, 5), slice(0, 5)),
    3: (slice(5, 10), slice(0, 5), slice(0, 5)),
    12: (slice(0, 5), slice(5, 10), slice(0, 10)),
    20: (slice(5, 10), slice(5, 10), slice(5, 10)),
}
N_FRAMES = 30


def planted() -> dict[int, np.ndarray]:
    t = np.arange(N_FRAMES)
    rng = np.random.default_rng(7)
    return {
        lab: 100.0 + 5.0 * np.sin(2 * np.pi * (k + 1) * t / N_FRAMES + k) + rng.normal(0, 1.0, N_FRAMES)
        for k, lab in enumerate(sorted(BLOCKS))
    }


def atlas_data(shape: tuple[int, int, int] = (10, 10, 10)) -> np.ndarray:
    lab = np.zeros(shape, dtype=np.int16)
    for value, block in BLOCKS.items():
        lab[block] = value
    return lab


@pytest.fixture(scope="module")
def nib():
    return pytest.importorskip("nibabel")


def func_image(nib, *, tr: float = 2.0, unit: str = "sec", frames: int = N_FRAMES):
    rng = np.random.default_rng(11)
    data = rng.normal(0.0, 0.5, (10, 10, 10, frames))  # (X, Y, Z, T) voxel noise
    lab = atlas_data()
    for value, course in planted().items():
        data[lab == value] += course[:frames]
    img = nib.Nifti1Image(data.astype(np.float32), AFFINE)
    img.header.set_xyzt_units("mm", unit)
    zooms = img.header.get_zooms()
    img.header.set_zooms((*zooms[:3], tr))
    return img


def write_pair(nib, folder: Path, **kw: object) -> tuple[Path, Path]:
    func = folder / "sub-01_task-rest_bold.nii.gz"
    atlas = folder / "atlas.nii.gz"
    nib.save(func_image(nib, **kw), func)  # type: ignore[arg-type]
    nib.save(nib.Nifti1Image(atlas_data(), AFFINE), atlas)
    return func, atlas


def test_nifti_end_to_end_values_order_and_header_tr(nib, tmp_path: Path) -> None:
    func, atlas = write_pair(nib, tmp_path, tr=2.0)
    rec = read_nifti_rois(func, atlas)
    truth = planted()
    assert rec.record_id == "sub-01_task-rest_bold"
    assert rec.meta["labels"] == [3, 7, 12, 20] and rec.channels == ("3", "7", "12", "20")
    assert rec.signal.shape == (4, N_FRAMES) and rec.signal.dtype == np.float32
    for row, lab in enumerate(rec.meta["labels"]):
        r = np.corrcoef(rec.signal[row], truth[lab])[0, 1]
        assert r > 0.99, (lab, r)
        assert (
            abs(float(rec.signal[row].mean()) - float(truth[lab].mean())) < 0.2
        )  # raw means, no standardising
    assert rec.meta["tr_s"] == 2.0 and rec.meta["tr_source"] == "nifti_header" and rec.sfreq == 0.5
    assert rec.meta["format"] == "nifti" and rec.meta["orientation"] == "time_roi"
    assert rec.meta["atlas"] == atlas.as_posix() and rec.meta["n_voxels"] == [125, 125, 250, 125]
    assert rec.meta["zero_variance_rois"] == []


def test_nifti_label_subset_in_given_order_and_names(nib, tmp_path: Path) -> None:
    func, atlas = write_pair(nib, tmp_path)
    rec = read_nifti_rois(func, atlas, labels=[20, 3], roi_names=["vis", "mot"], tr_s=1.0)
    truth = planted()
    assert rec.meta["labels"] == [20, 3] and rec.channels == ("vis", "mot")
    assert np.corrcoef(rec.signal[0], truth[20])[0, 1] > 0.99
    assert np.corrcoef(rec.signal[1], truth[3])[0, 1] > 0.99
    assert rec.meta["tr_source"] == "argument"
    arr = read_nifti_rois(func, atlas, labels=np.array([20, 3]), roi_names=np.array(["vis", "mot"]), tr_s=1.0)
    np.testing.assert_array_equal(arr.signal, rec.signal)
    with pytest.raises(ContractError, match=r"labels \[99\] are not in the labels image"):
        read_nifti_rois(func, atlas, labels=[3, 99], tr_s=1.0)
    with pytest.raises(ContractError, match="1 ROI names were given for 2 ROIs"):
        read_nifti_rois(func, atlas, labels=[20, 3], roi_names=["x"], tr_s=1.0)
    with pytest.raises(ConfigError, match="background"):
        read_nifti_rois(func, atlas, labels=[0, 3], tr_s=1.0)


def test_nifti_tr_from_bids_sidecar_and_msec_header(nib, tmp_path: Path) -> None:
    func, atlas = write_pair(nib, tmp_path, tr=2000.0, unit="msec")
    rec = read_nifti_rois(func, atlas)
    assert rec.meta["tr_s"] == pytest.approx(2.0) and rec.meta["tr_source"] == "nifti_header"
    (tmp_path / "sub-01_task-rest_bold.json").write_text(
        json.dumps({"RepetitionTime": 0.8, "TaskName": "rest"})
    )
    rec = read_nifti_rois(func, atlas)
    assert rec.meta["tr_s"] == 0.8 and rec.meta["tr_source"] == "bids_json"
    assert read_nifti_rois(func, atlas, tr_s=3.0).meta["tr_source"] == "argument"
    (tmp_path / "sub-01_task-rest_bold.json").write_text(json.dumps({"RepetitionTime": -1}))
    with pytest.raises(CorruptRecordError, match="RepetitionTime -1"):
        read_nifti_rois(func, atlas)


def test_nifti_without_usable_tr_asks_for_it(nib, tmp_path: Path) -> None:
    func, atlas = write_pair(nib, tmp_path, unit="unknown")
    with pytest.raises(CorruptRecordError, match=r"time unit 'unknown'.*pass tr_s="):
        read_nifti_rois(func, atlas)
    with pytest.raises(CorruptRecordError, match="in-memory.*pass tr_s="):
        read_nifti_rois(func_image(nib, tr=0.0), nib.Nifti1Image(atlas_data(), AFFINE))


def test_nifti_in_memory_images(nib) -> None:
    rec = read_nifti_rois(func_image(nib, tr=1.5), nib.Nifti1Image(atlas_data().astype(np.float32), AFFINE))
    assert rec.record_id == "nifti" and rec.meta["atlas"] == "<in-memory>" and rec.meta["path"] is None
    assert rec.meta["tr_s"] == 1.5 and rec.meta["labels"] == [3, 7, 12, 20]


def test_nifti_label_outside_field_of_view_raises(nib, tmp_path: Path) -> None:
    big = np.zeros((14, 10, 10), dtype=np.int16)  # same grid origin, 4 more slabs in x beyond the image
    big[:10] = atlas_data()
    big[11:14, 0:3, 0:3] = 42
    with pytest.raises(CorruptRecordError, match=r"label\(s\) \[42\].*field of view"):
        read_nifti_rois(func_image(nib), nib.Nifti1Image(big, AFFINE), tr_s=2.0)
    rec = read_nifti_rois(func_image(nib), nib.Nifti1Image(big, AFFINE), tr_s=2.0, labels=[3, 7, 12, 20])
    assert rec.signal.shape == (4, N_FRAMES)
    far = AFFINE.copy()
    far[:3, 3] += 1000.0  # the whole atlas lies outside the image
    with pytest.raises(CorruptRecordError, match="none of the labels.*same space"):
        read_nifti_rois(func_image(nib), nib.Nifti1Image(atlas_data(), far), tr_s=2.0)


def test_nifti_bad_inputs(nib, tmp_path: Path) -> None:
    atlas = nib.Nifti1Image(atlas_data(), AFFINE)
    three_d = nib.Nifti1Image(func_image(nib).get_fdata()[..., 0].astype(np.float32), AFFINE)
    with pytest.raises(CorruptRecordError, match=r"must be 4-D.*\(10, 10, 10\)"):
        read_nifti_rois(three_d, atlas, tr_s=2.0)
    with pytest.raises(CorruptRecordError, match=r"1 frame\(s\)"):
        read_nifti_rois(func_image(nib, frames=1), atlas, tr_s=2.0)
    with pytest.raises(CorruptRecordError, match="not found"):
        read_nifti_rois(tmp_path / "none_bold.nii.gz", atlas, tr_s=2.0)
    frac = nib.Nifti1Image(atlas_data().astype(np.float32) + 0.5, AFFINE)
    with pytest.raises(ConfigError, match="integer labels"):
        read_nifti_rois(func_image(nib), frac, tr_s=2.0)
    with pytest.raises(ConfigError, match="labels image .* not found"):
        read_nifti_rois(func_image(nib), tmp_path / "no_atlas.nii.gz", tr_s=2.0)
    broken = tmp_path / "broken_bold.nii.gz"
    nib.save(func_image(nib), broken)
    broken.write_bytes(broken.read_bytes()[:5000])
    with pytest.raises(CorruptRecordError, match="broken_bold"):
        read_nifti_rois(broken, atlas, tr_s=2.0)


def test_atlas_centroids_are_block_centres(nib, tmp_path: Path) -> None:
    path = tmp_path / "atlas.nii"
    nib.save(nib.Nifti1Image(atlas_data(), AFFINE), path)
    labels, xyz = atlas_centroids(path)
    assert labels == [3, 7, 12, 20] and xyz.shape == (4, 3) and xyz.dtype == np.float64
    ijk = {3: (7.0, 2.0, 2.0), 7: (2.0, 2.0, 2.0), 12: (2.0, 7.0, 4.5), 20: (7.0, 7.0, 7.0)}
    expected = np.array([AFFINE[:3, :3] @ np.array(ijk[v]) + AFFINE[:3, 3] for v in labels])
    np.testing.assert_allclose(xyz, expected, atol=1e-12)
    np.testing.assert_allclose(xyz[1], [-12.0, -22.0, -2.0])
    sub_labels, sub = atlas_centroids(nib.Nifti1Image(atlas_data(), AFFINE), labels=[20, 7])
    assert sub_labels == [20, 7]
    np.testing.assert_allclose(sub, expected[[3, 1]])
    with pytest.raises(ContractError, match=r"\[5\] are not in the labels image"):
        atlas_centroids(path, labels=[5])


def test_read_roi_file_dispatches(nib, tmp_path: Path) -> None:
    func, atlas = write_pair(nib, tmp_path)
    rec = read_roi_file(func, labels_img=atlas)
    assert rec.meta["format"] == "nifti" and rec.signal.shape == (4, N_FRAMES)
    with pytest.raises(ConfigError, match="labels_img="):
        read_roi_file(func, tr_s=2.0)
    with pytest.raises(ConfigError, match=r"does not take \['orientation'\]"):
        read_roi_file(func, labels_img=atlas, orientation="time_roi")
    f = tmp_path / "m.npy"
    np.save(f, series())
    rec = read_roi_file(f, tr_s=2.0, orientation="roi_time")
    assert rec.meta["format"] == "npy"
    with pytest.raises(ConfigError, match=r"does not take \['labels'\]"):
        read_roi_file(f, tr_s=2.0, labels=[1])
    with pytest.raises(ConfigError, match=r"suffix '\.edf'"):
        read_roi_file(tmp_path / "x.edf")


# --------------------------------------------------------------------------------------------------------
# real data


@pytest.mark.realdata
def test_real_abide_mat_files(shared_data: Path) -> None:
    root = shared_data / "fmri" / "abide_aal116"
    table = pd.read_csv(root / "participants.csv", dtype={"subject_id": str}).set_index("subject_id")
    for sid in ["50045", "50003", "50142"]:  # PITT with 11 zero-variance ROIs, PITT, OHSU
        row = table.loc[sid]
        rec = read_roi_matrix(root / "timeseries" / f"{sid}.mat", tr_s=float(row["tr_s"]), n_rois=116)
        assert rec.record_id == sid
        assert rec.signal.shape == (116, int(row["n_timepoints"]))
        assert np.isfinite(rec.signal).all()
        assert rec.meta["orientation"] == "time_roi" and rec.meta["variable"] == "ROISignals"
        assert rec.sfreq == pytest.approx(1.0 / float(row["tr_s"]))
        raw = scipy.io.loadmat(root / "timeseries" / f"{sid}.mat")["ROISignals"]  # (T, 116)
        np.testing.assert_array_equal(rec.signal, raw.T.astype(np.float32))
        zv = rec.meta["zero_variance_rois"]
        assert zv == sorted(zv)
        if sid == "50045":
            assert len(zv) >= 5 and all(100 <= i <= 115 for i in zv)
            assert np.all(rec.signal[zv].std(axis=1) == 0.0)
