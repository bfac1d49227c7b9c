"""Fuzzing the NIfTI reader: damaged images give a valid ROI Record or CorruptRecordError, never a hang.

Every example writes a small image with nibabel (3-D, 4-D with 1-8 frames or 5-D; float32/float64/int16/uint8
voxels; TR 2 s, 0, NaN, negative, infinite or in ms; NaN voxels), an atlas with 3 labels on the same grid or a
shifted, distant, larger or smaller one, then damages the saved header (``dim`` fields set huge, zero or
negative, ``pixdim`` bytes, random byte flips) and may truncate or gzip the file, and reads it with
:func:`~biojepa.adapters.fmri.readers.read_nifti_rois` (TR from the header). The size guard must refuse a
header that declares more voxels than the file holds before nibabel allocates them.
"""

from __future__ import annotations

import gzip
import shutil
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from biojepa.adapters.fmri.readers import check_nifti_header, read_nifti_rois
from biojepa.data.record import Record
from biojepa.errors import CorruptRecordError
from tests.fuzz._harness import Tally, outcome

nib = pytest.importorskip("nibabel")
pytest.importorskip("nilearn")

AFFINE = np.diag([3.0, 3.0, 3.0, 1.0])
LABELS = (1, 2, 3)  # the labels of an atlas on the image grid
DIM_OFFSET, PIXDIM_OFFSET = 40, 76  # byte offsets of dim[0..7] (int16) and pixdim[0..7] (float32)

_OK = st.just(None)  # "no damage of this kind", drawn as often as all the damages of the kind together
image_params = st.fixed_dictionaries({
    "kind": st.sampled_from(["4d"] * 6 + ["3d", "5d"]),
    "xyz": st.tuples(st.integers(3, 5), st.integers(3, 5), st.integers(3, 5)),
    "frames": st.sampled_from([2, 3, 8, 8, 1]),
    "dtype": st.sampled_from(["float32", "float64", "int16", "uint8"]),
    "tr": st.sampled_from([2.0] * 5 + [1500.0, 0.0, float("nan"), -2.0, float("inf"), 1e-9]),
    "unit": st.sampled_from(["sec"] * 4 + ["msec", "unknown"]),
    "nan": st.sampled_from(["none"] * 4 + ["one", "all"]),
    "atlas": st.sampled_from(["same"] * 4 + ["shift", "far", "bigger", "smaller"]),
    "dim": _OK | st.tuples(st.integers(0, 7), st.sampled_from([0, -1, 1, 2, 5, 8, 300, 32767])),
    "pixdim": _OK | st.tuples(st.integers(1, 4), st.sampled_from([0.0, -1.0, float("nan"), 1e38])),
    "flips": st.just(()) | st.lists(st.tuples(st.integers(0, 347), st.integers(0, 255)), min_size=1, max_size=2),
    "truncate": _OK | st.floats(0.0, 0.99),
    "gzip": st.booleans(),
    "seed": st.integers(0, 2**16),
})  # fmt: skip


def _atlas(xyz: tuple[int, int, int], how: str) -> Any:
    """A 3-label atlas: on the image grid, or shifted / far away / larger / smaller."""
    shape = {"bigger": tuple(d + 3 for d in xyz), "smaller": tuple(max(d - 1, 2) for d in xyz)}.get(how, xyz)
    data = np.zeros(shape, dtype=np.int16)
    data[:2, :2, :] = 1
    data[-2:, :, :2] = 2
    data[1:-1, -2:, -2:] = 3
    affine = AFFINE.copy()
    if how == "shift":
        affine[:3, 3] += 4.0
    elif how == "far":
        affine[:3, 3] += 1000.0
    return nib.Nifti1Image(data, affine)


def write_case(folder: Path, p: dict[str, Any]) -> tuple[Path, Path, bytes]:
    """Write the (damaged) functional image and the atlas; returns their paths and the image bytes."""
    rng = np.random.default_rng(p["seed"])
    shape = {"3d": p["xyz"], "4d": (*p["xyz"], p["frames"]), "5d": (*p["xyz"], p["frames"], 2)}[p["kind"]]
    x = 100.0 + 10.0 * rng.standard_normal(shape)
    if p["dtype"] in ("float32", "float64"):
        if p["nan"] == "one":
            x.flat[int(rng.integers(x.size))] = np.nan
        elif p["nan"] == "all":
            x[:] = np.nan
    img = nib.Nifti1Image(x.astype(p["dtype"]), AFFINE)
    img.header.set_xyzt_units("mm", p["unit"])
    raw = bytearray(img.to_bytes())
    if len(shape) >= 4:  # the TR is pixdim[4], written as bytes (nibabel refuses to set a negative zoom)
        raw[PIXDIM_OFFSET + 16 : PIXDIM_OFFSET + 20] = struct.pack("<f", p["tr"])
    if p["dim"] is not None:
        k, v = p["dim"]
        raw[DIM_OFFSET + 2 * k : DIM_OFFSET + 2 * k + 2] = struct.pack("<h", v)
    if p["pixdim"] is not None:
        k, v = p["pixdim"]
        raw[PIXDIM_OFFSET + 4 * k : PIXDIM_OFFSET + 4 * k + 4] = struct.pack("<f", v)
    for off, byte in p["flips"]:
        raw[off] = byte
    data = bytes(raw)
    if p["truncate"] is not None:
        data = data[: int(len(data) * p["truncate"])]
    func = folder / ("bold.nii.gz" if p["gzip"] else "bold.nii")
    func.write_bytes(gzip.compress(data, mtime=0) if p["gzip"] else data)
    atlas = folder / "atlas.nii"
    nib.save(_atlas(p["xyz"], p["atlas"]), atlas)
    return func, atlas, data


def atlas_labels(atlas: Path) -> list[int]:
    """The non-zero labels an atlas file holds (a small atlas may lose some to overlapping blocks)."""
    return sorted(int(v) for v in np.unique(np.asanyarray(nib.load(atlas).dataobj)) if v != 0)


def check_record(rec: Record, n_frames: int, labels: list[int]) -> None:
    """The invariants of a record read_nifti_rois returns: one finite row per atlas label, every frame."""
    assert rec.signal.dtype == np.float32 and rec.signal.shape == (len(labels), n_frames)
    assert np.isfinite(rec.signal).all() and rec.channels == tuple(str(v) for v in labels)
    assert rec.meta["labels"] == labels and all(n > 0 for n in rec.meta["n_voxels"])
    assert np.isfinite(rec.sfreq) and rec.sfreq > 0 and rec.meta["tr_source"] == "nifti_header"


def test_damaged_nifti_images_give_a_record_or_corrupt_record_error(tmp_path: Path) -> None:
    valid = {
        "kind": "4d",
        "xyz": (4, 4, 4),
        "frames": 3,
        "dtype": "float32",
        "tr": 2.0,
        "unit": "sec",
        "nan": "none",
        "atlas": "same",
        "dim": None,
        "pixdim": None,
        "flips": [],
        "truncate": None,
        "gzip": False,
        "seed": 0,
    }
    func, atlas, _ = write_case(tmp_path, valid)
    check_record(read_nifti_rois(func, atlas), 3, list(LABELS))  # imports nilearn outside the time limit
    tally = Tally()
    scratch = Path(tempfile.mkdtemp(prefix="nifti_fuzz_"))

    @settings(max_examples=240, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(p=image_params)
    def prop(p: dict[str, Any]) -> None:
        folder = Path(tempfile.mkdtemp(dir=scratch))
        func, atlas, data = write_case(folder, p)
        tally.input(data + repr(p["atlas"]).encode() + bytes([p["gzip"]]))
        got = outcome(lambda: read_nifti_rois(func, atlas, record_id="fuzz"))
        if tally.is_record(got):
            header = check_nifti_header(func, record_id="fuzz")
            check_record(got, header["n_frames"], atlas_labels(atlas))
        shutil.rmtree(folder, ignore_errors=True)

    try:
        prop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    tally.check("images")


def test_a_header_declaring_huge_dimensions_is_refused_before_reading(tmp_path: Path) -> None:
    img = nib.Nifti1Image(np.zeros((4, 4, 4, 5), dtype=np.float32), AFFINE)
    raw = bytearray(img.to_bytes())
    raw[DIM_OFFSET + 2 * 4 : DIM_OFFSET + 2 * 4 + 2] = struct.pack("<h", 32767)  # 32767 frames in a 1-kB file
    for name, data in (("big.nii", bytes(raw)), ("big.nii.gz", gzip.compress(bytes(raw), mtime=0))):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CorruptRecordError, match=r"shape \(4, 4, 4, 32767\).*(truncated|cannot expand)"):
            check_nifti_header(tmp_path / name, record_id="big")
    with pytest.raises(CorruptRecordError, match=r"max_bytes=100"):
        nib.save(img, tmp_path / "ok.nii")
        check_nifti_header(tmp_path / "ok.nii", max_bytes=100)
    assert check_nifti_header(tmp_path / "ok.nii")["n_frames"] == 5
