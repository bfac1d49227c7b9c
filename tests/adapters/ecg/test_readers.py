"""ECG readers on the shared real recordings and on tiny real-format files written by the tests.

Real files: PTB-XL (100 and 500 Hz), PTB s0010_re (15 signals, 1000 Hz), all 56 CinC-2020 samples (Georgia
headers included), the PTB-XL unlabelled pool's RECORDS. Written files: WFDB records (wfdb.wrsamp), CinC
``.hea`` + MATLAB v4 ``.mat`` pairs (scipy.io.savemat), CODE-15% HDF5 (h5py), MIMIC ``record_list.csv``.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from hypothesis import given, settings
from hypothesis import strategies as st

from biojepa.adapters.ecg.leads import STANDARD_LEADS
from biojepa.adapters.ecg.readers import (
    iter_code15,
    list_cinc_records,
    list_mimic_records,
    list_wfdb_records,
    read_cinc,
    read_wfdb,
)
from biojepa.adapters.ecg.transforms import fingerprint
from biojepa.data.record import Record
from biojepa.errors import ConfigError, CorruptRecordError, DataError

h5py = pytest.importorskip("h5py")
with warnings.catch_warnings():  # wfdb 4.3 uses an argument pandas 3.1 deprecates, at import time
    warnings.filterwarnings("ignore", message=".*inplace keyword.*", category=DeprecationWarning)
    wfdb = pytest.importorskip("wfdb")

MIMIC_ORDER = ("I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6")


def ecg(n_times: int = 400, seed: int = 0, sfreq: float = 500.0) -> np.ndarray:
    """A (12, T) mV signal that obeys Einthoven/Goldberger (III = II - I, aVR = -(I + II)/2, ...)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_times) / sfreq
    lead_i = 0.6 * np.sin(2 * np.pi * 1.2 * t) + 0.05 * rng.standard_normal(n_times)
    lead_ii = 1.1 * np.sin(2 * np.pi * 1.2 * t + 0.4) + 0.05 * rng.standard_normal(n_times)
    limb = [
        lead_i,
        lead_ii,
        lead_ii - lead_i,
        -(lead_i + lead_ii) / 2,
        lead_i - lead_ii / 2,
        lead_ii - lead_i / 2,
    ]
    chest = [(0.3 + 0.2 * k) * np.sin(2 * np.pi * 1.2 * t + 0.3 * k) for k in range(6)]
    return np.stack(limb + chest).astype(np.float64)  # (12, T)


def assert_limb_relations(x: np.ndarray, rel_tol: float = 0.02) -> None:
    """Einthoven / Goldberger hold, so rows 0-5 really are I, II, III, aVR, aVL, aVF (aVL/aVF not swapped)."""
    i, ii, iii, avr, avl, avf = np.asarray(x[:6], dtype=np.float64)
    tol = rel_tol * float(np.abs(x[:6]).max())
    assert np.abs(i + iii - ii).max() <= tol
    assert np.abs(avr + (i + ii) / 2).max() <= tol
    assert np.abs(avl - (i - iii) / 2).max() <= tol
    assert np.abs(avf - (ii + iii) / 2).max() <= tol


def write_wfdb(
    folder: Path,
    name: str,
    x_mv: np.ndarray,
    sig_name: Sequence[str],
    *,
    sfreq: float = 500.0,
    gain: float = 1000.0,
    units: str = "mV",
    digital: np.ndarray | None = None,
) -> Path:
    """Write a format-16 WFDB record from (C, T) mV samples (or explicit digital values); returns its path."""
    d = np.round(x_mv * gain).astype(np.int64) if digital is None else digital  # (C, T)
    with warnings.catch_warnings():  # wfdb 4.3's writer also calls a pandas-3.1-deprecated inplace method
        warnings.filterwarnings("ignore", message=".*inplace keyword.*", category=DeprecationWarning)
        _wrsamp(name, d, sig_name, sfreq, gain, units, folder)
    return folder / name


def _wrsamp(
    name: str, d: np.ndarray, sig_name: Sequence[str], sfreq: float, gain: float, units: str, folder: Path
) -> None:
    wfdb.wrsamp(
        name,
        fs=sfreq,
        units=[units] * len(sig_name),
        sig_name=list(sig_name),
        d_signal=np.ascontiguousarray(d.T),  # (T, C)
        fmt=["16"] * len(sig_name),
        adc_gain=[gain] * len(sig_name),
        baseline=[0] * len(sig_name),
        write_dir=str(folder),
    )


def write_cinc(
    folder: Path,
    name: str,
    val: np.ndarray,
    *,
    sig_name: Sequence[str] = STANDARD_LEADS,
    gain: str = "1000/mV",
    sfreq: float = 500.0,
    n_samples: int | None = None,
    first_name: str | None = None,
    dx: str = "426783006",
) -> Path:
    """Write a CinC-2020 style pair ``name.hea`` + ``name.mat`` (MATLAB v4, variable ``val``)."""
    folder.mkdir(parents=True, exist_ok=True)
    n = val.shape[1] if n_samples is None else n_samples
    lines = [f"{first_name or name} {len(sig_name)} {sfreq:g} {n} 05-May-2020 14:50:55"]
    lines += [f"{name}.mat 16+24 {gain} 16 0 0 0 0 {lead}" for lead in sig_name]
    lines += ["#Age: 61", "#Sex: Female", f"#Dx: {dx}", "#Rx: Unknown", "#Hx: Unknown", "#Sx: Unknown"]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")
    scipy.io.savemat(str(folder / f"{name}.mat"), {"val": val}, format="4")
    return folder / name


# --------------------------------------------------------------------------------------------------------
# real files


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("rel", "sfreq", "n_times"),
    [("records100/00000/00001_lr", 100.0, 1000), ("records500/00000/00001_hr", 500.0, 5000)],
)
def test_ptbxl_records(shared_data: Path, rel: str, sfreq: float, n_times: int) -> None:
    path = shared_data / "ecg" / "ptbxl_subset" / rel
    rec = read_wfdb(path, record_id=rel, expected_sfreq=sfreq)
    assert rec.record_id == rel
    assert rec.signal.shape == (12, n_times) and rec.signal.dtype == np.float32
    assert rec.sfreq == sfreq and rec.units == "mV"
    assert rec.channels == STANDARD_LEADS
    assert rec.meta["native_leads"] == ["I", "II", "III", "AVR", "AVL", "AVF", *STANDARD_LEADS[6:]]
    assert rec.meta["gain"] == [1000.0] * 12 and rec.meta["units_native"] == ["mV"] * 12
    assert rec.meta["format"] == "wfdb" and rec.meta["n_nan_interpolated"] == 0
    # the fingerprint hashes the float64 physical values (standard order here), not the float32 signal
    assert rec.meta["fingerprint"] == fingerprint(wfdb.rdsamp(str(path))[0].T)
    peak = float(np.abs(rec.signal).max())
    assert 0.2 < peak < 20.0  # mV, not µV or ADC counts
    sig, _ = wfdb.rdsamp(str(path))
    np.testing.assert_allclose(rec.signal, sig.T, atol=1e-6)  # same order as the header: I..V6
    assert_limb_relations(rec.signal)


@pytest.mark.realdata
def test_ptbdb_frank_leads_dropped(shared_data: Path) -> None:
    path = shared_data / "ecg" / "ptbdb_s0010_re" / "s0010_re"
    rec = read_wfdb(path, expected_sfreq=1000)
    assert rec.signal.shape == (12, 38400) and rec.sfreq == 1000.0
    assert rec.channels == STANDARD_LEADS
    assert rec.meta["native_leads"] == [
        "i",
        "ii",
        "iii",
        "avr",
        "avl",
        "avf",
        "v1",
        "v2",
        "v3",
        "v4",
        "v5",
        "v6",
    ]
    assert rec.meta["dropped_leads"] == ["vx", "vy", "vz"]
    assert "age: 81" in rec.meta["comments"]
    sig, _ = wfdb.rdsamp(str(path))
    assert sig.shape == (38400, 15)
    np.testing.assert_allclose(rec.signal, sig[:, :12].T, atol=1e-6)
    assert_limb_relations(rec.signal)
    every = read_wfdb(path, leads=None)
    assert every.channels == STANDARD_LEADS
    np.testing.assert_array_equal(every.signal, rec.signal)


def _cinc_headers(shared_data: Path) -> list[Path]:
    heads = sorted((shared_data / "ecg" / "cinc2020_samples").glob("*/*.hea"))
    assert len(heads) == 56, "expected the 56 CinC-2020 sample records"
    return heads


@pytest.mark.realdata
def test_all_cinc2020_records_read(shared_data: Path) -> None:
    heads = _cinc_headers(shared_data)
    georgia = 0
    for hea in heads:
        first = hea.read_text().splitlines()[0].split()
        rec = read_cinc(hea)
        assert rec.signal.shape == (int(first[1]), int(first[3])), hea.name
        assert rec.sfreq == float(first[2]) == (1000.0 if hea.stem == "S0001" else 500.0)
        assert rec.channels == STANDARD_LEADS and rec.meta["format"] == "cinc_mat"
        assert rec.meta["age"] is not None and rec.meta["sex"] in ("Male", "Female", "female")
        assert_limb_relations(rec.signal)
        georgia += first[0].endswith(".mat")
    assert georgia == 14  # E00001-E00010 and four with_dx records name themselves "E....mat"


@pytest.mark.realdata
def test_georgia_header_defeats_wfdb_but_not_read_cinc(shared_data: Path) -> None:
    path = shared_data / "ecg" / "cinc2020_samples" / "with_dx" / "E00009"
    with pytest.raises(CorruptRecordError, match=r"wfdb cannot read .* use read_cinc") as exc:
        read_wfdb(path, record_id="E00009")
    assert exc.value.record_id == "E00009"
    rec = read_cinc(path, expected_sfreq=500)
    assert rec.signal.shape == (12, 5000) and rec.meta["gain"] == [4880.0] * 12


@pytest.mark.realdata
def test_cinc_dx_codes(shared_data: Path) -> None:
    root = shared_data / "ecg" / "cinc2020_samples"
    for hea in sorted((root / "with_dx").glob("*.hea")):
        assert 1 <= len(read_cinc(hea).meta["dx"]) <= 5, hea.name
    for hea in sorted((root / "dx_blank").glob("*.hea")):
        assert read_cinc(hea).meta["dx"] == [], hea.name
    raw = (root / "with_dx" / "E00015.hea").read_text()
    assert "#Dx: 251146004,284470004,284470004" in raw
    e15 = read_cinc(root / "with_dx" / "E00015")
    assert e15.meta["dx"] == ["251146004", "284470004"]
    assert (e15.meta["age"], e15.meta["sex"]) == ("67", "Male")
    assert read_cinc(root / "dx_blank" / "E00001").meta["age"] == "NaN"  # raw string, as written


@pytest.mark.realdata
def test_hr_copies_of_ptbxl_share_the_fingerprint_and_are_five_times_larger(shared_data: Path) -> None:
    ptbxl = shared_data / "ecg" / "ptbxl_subset" / "records500" / "00000"
    cinc = shared_data / "ecg" / "cinc2020_samples" / "dx_blank"
    for k in range(1, 8):
        hr = read_cinc(cinc / f"HR{k:05d}")
        px = read_wfdb(ptbxl / f"{k:05d}_hr")
        assert hr.meta["fingerprint"] == px.meta["fingerprint"], k
        # the gain issue of the 2020 release: HR headers say 200/mV for PTB-XL's 1000/mV samples
        assert hr.meta["gain"] == [200.0] * 12 and px.meta["gain"] == [1000.0] * 12
        np.testing.assert_allclose(hr.signal, 5.0 * px.signal, rtol=1e-5, atol=1e-5)
    assert (
        read_cinc(cinc / "HR00002").meta["fingerprint"] != read_wfdb(ptbxl / "00001_hr").meta["fingerprint"]
    )
    # S0001's header gain (2000000/mV) leaves µV-scale amplitudes: trusted and recorded, not corrected
    s1 = read_cinc(cinc / "S0001")
    assert s1.meta["gain"] == [2e6] * 12 and float(np.abs(s1.signal).max()) < 0.05


@pytest.mark.realdata
def test_record_lists_on_real_folders(shared_data: Path) -> None:
    ecg_root = shared_data / "ecg"
    unlabelled = list_wfdb_records(ecg_root / "ptbxl_unlabelled")
    assert len(unlabelled) == 1000
    assert unlabelled[0] == "records100/01000/01000_lr" and unlabelled[-1] == "records100/01000/01999_lr"
    rec = read_wfdb(ecg_root / "ptbxl_unlabelled" / unlabelled[0], record_id=unlabelled[0])
    assert rec.signal.shape == (12, 1000) and rec.sfreq == 100.0
    subset = list_wfdb_records(ecg_root / "ptbxl_subset")
    assert len(subset) == 385 + 80 and "records500/00000/00001_hr" in subset
    assert list_wfdb_records(ecg_root / "cinc2020_samples") == []  # .hea + .mat pairs are CinC records
    cinc = list_cinc_records(ecg_root / "cinc2020_samples")
    assert len(cinc) == 56 and cinc[0] == "dx_blank/A0001" and "with_dx/E00015" in cinc
    assert list_wfdb_records(ecg_root / "ptbdb_s0010_re") == ["s0010_re"]


# --------------------------------------------------------------------------------------------------------
# WFDB fixtures written here


def test_mimic_lead_order_is_restored(tmp_path: Path) -> None:
    x = ecg(300)  # (12, T) standard order
    perm = [STANDARD_LEADS.index(n) for n in MIMIC_ORDER]
    write_wfdb(tmp_path, "40689238", x[perm], MIMIC_ORDER, gain=200.0)  # stored with aVF before aVL
    rec = read_wfdb(tmp_path / "40689238", expected_sfreq=500)
    assert rec.channels == STANDARD_LEADS
    assert rec.meta["native_leads"][4:6] == ["aVL", "aVF"]
    expected = np.round(x * 200) / 200
    np.testing.assert_allclose(rec.signal, expected, atol=1e-6)
    assert not np.allclose(rec.signal[4], expected[5], atol=1e-3)  # aVL really is aVL
    assert_limb_relations(rec.signal)


def test_mimic_record_list(tmp_path: Path) -> None:
    x = ecg(200)
    rels = ["files/p1000/p10000032/s40689238/40689238", "files/p1000/p10000032/s44458630/44458630"]
    for rel in rels:
        (tmp_path / rel).parent.mkdir(parents=True)
        write_wfdb((tmp_path / rel).parent, Path(rel).name, x, STANDARD_LEADS)
    assert list_mimic_records(tmp_path) == rels  # no record_list.csv: the headers are listed
    csv_text = "subject_id,study_id,file_name,ecg_time,path\n"
    csv_text += f"10000032,44458630,44458630,2180-07-23 08:44:00,{rels[1]}\n"
    csv_text += f"10000032,40689238,40689238,2180-07-23 09:54:00,{rels[0]}\n"
    csv_text += f"10000032,40689238,40689238,2180-07-23 09:54:00,{rels[0]}.hea\n"
    (tmp_path / "record_list.csv").write_text(csv_text)
    names = list_mimic_records(tmp_path)
    assert names == rels
    assert read_wfdb(tmp_path / names[0], record_id=names[0]).record_id == rels[0]
    (tmp_path / "record_list.csv").write_text("subject_id,file\n1,a\n")
    with pytest.raises(DataError, match="expected a 'path' column"):
        list_mimic_records(tmp_path)


def test_list_wfdb_records_follows_records_files(tmp_path: Path) -> None:
    x = ecg(100)
    for sub, name in [("p00", "r1"), ("p00", "r2"), ("p01", "r3")]:
        (tmp_path / sub).mkdir(exist_ok=True)
        write_wfdb(tmp_path / sub, name, x, STANDARD_LEADS)
    (tmp_path / "p00" / "RECORDS").write_text("r2\nr1\n")
    (tmp_path / "RECORDS").write_text("p00/\np01/\n")  # p01 has no RECORDS: its headers are listed
    write_cinc(tmp_path / "p01", "A0001", np.round(x * 1000).astype(np.int16))
    assert list_wfdb_records(tmp_path) == ["p00/r1", "p00/r2", "p01/r3"]
    (tmp_path / "RECORDS").unlink()
    (tmp_path / "p00" / "r1.dat").unlink()  # still listed: the reader reports the missing file
    assert list_wfdb_records(tmp_path) == ["p00/r1", "p00/r2", "p01/r3"]
    assert list_cinc_records(tmp_path) == ["p01/A0001"]
    with pytest.raises(DataError, match="is not a directory"):
        list_wfdb_records(tmp_path / "nope")


def test_nan_samples_are_interpolated(tmp_path: Path) -> None:
    x = ecg(200)
    d = np.round(x * 1000).astype(np.int64)  # (C, T)
    d[7, 50:53] = -32768  # WFDB's invalid-sample value of format 16
    write_wfdb(tmp_path, "gap", x, STANDARD_LEADS, digital=d)
    rec = read_wfdb(tmp_path / "gap")
    assert rec.meta["n_nan_interpolated"] == 3
    assert np.isfinite(rec.signal).all()
    np.testing.assert_allclose(
        rec.signal[7, 50:53], np.linspace(d[7, 49], d[7, 53], 5)[1:4] / 1000, atol=1e-6
    )


@pytest.mark.parametrize(("units", "factor"), [("uV", 1e-3), ("V", 1e3), ("mV", 1.0)])
def test_units_are_converted_to_mv(tmp_path: Path, units: str, factor: float) -> None:
    x = ecg(100)
    write_wfdb(tmp_path, "u", x, STANDARD_LEADS, units=units)
    rec = read_wfdb(tmp_path / "u.hea")
    assert rec.units == "mV" and rec.meta["units_native"] == [units] * 12
    np.testing.assert_allclose(rec.signal, np.round(x * 1000) / 1000 * factor, rtol=1e-5, atol=1e-9)


def test_leads_subset_and_config_errors(tmp_path: Path) -> None:
    write_wfdb(tmp_path, "r", ecg(100), STANDARD_LEADS)
    rec = read_wfdb(tmp_path / "r", leads=["v6", "AVL", "I"])
    assert rec.channels == ("V6", "aVL", "I") and rec.signal.shape == (3, 100)
    with pytest.raises(ConfigError, match="unknown lead 'FOO'"):
        read_wfdb(tmp_path / "r", leads=["I", "FOO"])
    with pytest.raises(ConfigError, match="found the string"):
        read_wfdb(tmp_path / "r", leads="I")


def _hea_edit(path: Path, old: str, new: str, count: int = 1) -> None:
    hea = path.with_suffix(".hea")
    text = hea.read_text()
    assert old in text
    hea.write_text(text.replace(old, new, count))


def _missing_dat(p: Path) -> None:
    p.with_suffix(".dat").unlink()


def _truncated_dat(p: Path) -> None:
    dat = p.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:-240])


def _gain_zero(p: Path) -> None:
    _hea_edit(p, "1000.0(0)/mV", "0(0)/mV")


def _unknown_unit(p: Path) -> None:
    _hea_edit(p, "1000.0(0)/mV", "1000.0(0)/mmHg")


def _garbage_header(p: Path) -> None:
    p.with_suffix(".hea").write_text("this is not a header\n")


def _missing_header(p: Path) -> None:
    p.with_suffix(".hea").unlink()


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (_missing_dat, r"data file bad\.dat is missing"),
        (
            _truncated_dat,
            r"header/data length mismatch: .* 200 samples x 12 signals \(4800 bytes\) .* 4560 bytes",
        ),
        (_gain_zero, r"gain 0 for signal 0 \('I'\)"),
        (_unknown_unit, r"unknown unit 'mmHg'"),
        (_garbage_header, r"unreadable header"),
        (_missing_header, r"header file .*bad\.hea not found"),
    ],
)
def test_damaged_wfdb_files(tmp_path: Path, damage: Callable[[Path], None], match: str) -> None:
    path = write_wfdb(tmp_path, "bad", ecg(200), STANDARD_LEADS)
    damage(path)
    with pytest.raises(CorruptRecordError, match=match) as exc:
        read_wfdb(path, record_id="ds/bad")
    assert exc.value.record_id == "ds/bad"
    assert str(exc.value).startswith("record 'ds/bad': ")


def _names(**swap: str) -> list[str]:
    return [swap.get(n, n) for n in STANDARD_LEADS]


@pytest.mark.parametrize(
    ("names", "edit", "match"),
    [
        (_names(V3="FOO"), None, r"unknown lead name 'FOO' \(signal 8\)"),
        (_names(aVF="AVL"), None, r"duplicate lead 'aVL'"),
        (_names(V6="vx"), None, r"missing lead\(s\) V6"),
        (STANDARD_LEADS, ("all_nan", 9), r"lead V4 has no finite sample"),
        (STANDARD_LEADS, ("flat", 8), r"flat lead V3: peak-to-peak 0 mV"),
    ],
)
def test_bad_leads(tmp_path: Path, names: Sequence[str], edit: tuple[str, int] | None, match: str) -> None:
    x = ecg(200)
    d = np.round(x * 1000).astype(np.int64)  # (C, T)
    if edit is not None:
        kind, row = edit
        d[row] = -32768 if kind == "all_nan" else 7
    write_wfdb(tmp_path, "leads", x, names, digital=d)
    with pytest.raises(CorruptRecordError, match=match) as exc:
        read_wfdb(tmp_path / "leads", record_id="leads-1")
    assert exc.value.record_id == "leads-1"


def test_wrong_sampling_rate(tmp_path: Path) -> None:
    write_wfdb(tmp_path, "lr", ecg(100, sfreq=100.0), STANDARD_LEADS, sfreq=100.0)
    assert read_wfdb(tmp_path / "lr", expected_sfreq=100).sfreq == 100.0
    with pytest.raises(CorruptRecordError, match=r"sampling rate is 100 Hz but 500 Hz was expected"):
        read_wfdb(tmp_path / "lr", expected_sfreq=500)


# --------------------------------------------------------------------------------------------------------
# CinC fixtures written here


def test_cinc_baseline_units_and_georgia_first_line(tmp_path: Path) -> None:
    x = ecg(300)
    val = (np.round(x * 1000) + 5).astype(np.int16)  # (C, T) with baseline 5
    path = write_cinc(tmp_path, "E00001", val, gain="1000.0(5)/mV", first_name="E00001.mat", dx=" 1,2 ,1,")
    rec = read_cinc(path.with_suffix(".mat"), expected_sfreq=500)
    assert rec.record_id == path.as_posix()
    np.testing.assert_allclose(rec.signal, np.round(x * 1000) / 1000, atol=1e-6)
    assert rec.meta["dx"] == ["1", "2"] and rec.meta["gain"] == [1000.0] * 12
    assert (rec.meta["age"], rec.meta["sex"]) == ("61", "Female")
    uv = write_cinc(tmp_path, "U1", np.round(x * 1000).astype(np.int16), gain="1/uV")
    np.testing.assert_allclose(read_cinc(uv).signal, np.round(x * 1000) / 1000, atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(perm=st.permutations(STANDARD_LEADS), upper=st.booleans(), seed=st.integers(0, 10))
def test_cinc_any_lead_order_comes_back_standard(perm: list[str], upper: bool, seed: int) -> None:
    x = ecg(60, seed=seed)
    rows = [STANDARD_LEADS.index(n) for n in perm]
    names = [n.upper() if upper else n for n in perm]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_cinc(Path(tmp), "P1", np.round(x[rows] * 1000).astype(np.int16), sig_name=names)
        rec = read_cinc(path)
    assert rec.channels == STANDARD_LEADS
    np.testing.assert_allclose(rec.signal, np.round(x * 1000) / 1000, atol=1e-6)


def test_cinc_float_nan_and_int_sentinel(tmp_path: Path) -> None:
    x = ecg(120)
    val = np.round(x * 1000)  # float (C, T)
    val[2, 10:12] = np.nan
    rec = read_cinc(write_cinc(tmp_path, "F1", val))
    assert rec.meta["n_nan_interpolated"] == 2 and np.isfinite(rec.signal).all()
    ival = np.round(x * 1000).astype(np.int16)
    ival[0, :4] = -32768  # edge samples: nearest finite value
    rec = read_cinc(write_cinc(tmp_path, "I1", ival))
    assert rec.meta["n_nan_interpolated"] == 4
    assert np.allclose(rec.signal[0, :4], ival[0, 4] / 1000)
    val[5] = np.nan
    with pytest.raises(CorruptRecordError, match=r"lead aVF has no finite sample"):
        read_cinc(write_cinc(tmp_path, "F2", val))


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("short_val", r"header/data length mismatch: the header declares 200 samples but 'val' .* has 150"),
        ("rows", r"header/data mismatch: the header declares 12 signals but 'val' .* shape \(11, 200\)"),
        ("no_mat", r"data file C1\.mat is missing"),
        ("garbage_mat", r"unreadable C1\.mat"),
        ("no_val", r"has no 'val' variable"),
        ("gain0", r"gain 0 for signal 0"),
        ("sfreq", r"sampling rate is 500 Hz but 257 Hz was expected"),
        ("flat", r"flat lead II"),
    ],
)
def test_damaged_cinc_files(tmp_path: Path, case: str, match: str) -> None:
    val = np.round(ecg(200) * 1000).astype(np.int16)  # (C, T)
    kwargs: dict[str, object] = {}
    if case == "short_val":
        kwargs["n_samples"] = 200
        val = val[:, :150]
    elif case == "rows":
        kwargs["n_samples"] = 200
    if case == "gain0":
        kwargs["gain"] = "0/mV"
    if case == "flat":
        val[1] = 3
    path = write_cinc(tmp_path, "C1", val, **kwargs)  # type: ignore[arg-type]
    mat = path.with_suffix(".mat")
    if case == "rows":
        scipy.io.savemat(str(mat), {"val": val[:11]}, format="4")
    elif case == "no_mat":
        mat.unlink()
    elif case == "garbage_mat":
        mat.write_bytes(b"\x00\x01garbage" * 3)
    elif case == "no_val":
        scipy.io.savemat(str(mat), {"other": val}, format="4")
    with pytest.raises(CorruptRecordError, match=match) as exc:
        read_cinc(path, record_id="cinc/C1", expected_sfreq=257 if case == "sfreq" else None)
    assert exc.value.record_id == "cinc/C1"


# --------------------------------------------------------------------------------------------------------
# CODE-15%


def _code15(root: Path) -> np.ndarray:
    """Part 0: exams 11 (padded), 12 (full length), 13 (all zero), then a padding row with exam_id 0."""
    tr = np.zeros((4, 4096, 12), np.float32)  # (N, T, C) as in CODE-15%
    full = ecg(4096, sfreq=400.0).T.astype(np.float32)  # (T, C)
    tr[0, 100:4000] = full[100:4000]
    tr[0, 100:300, 0] = 0.0  # lead I alone is zero here: not padding, other leads are non-zero
    tr[1] = full
    with h5py.File(root / "exams_part0.hdf5", "w") as f:
        f.create_dataset("tracings", data=tr)
        f.create_dataset("exam_id", data=np.array([11, 12, 13, 0], np.int64))
    (root / "exams.csv").write_text(
        "exam_id,age,is_male,nn_predicted_age,1dAVb,RBBB,LBBB,SB,ST,AF,patient_id,death,timey,normal_ecg,"
        "trace_file\n"
        "11,60,True,58.2,False,False,False,False,False,False,501,,,True,exams_part0.hdf5\n"
        "13,71,False,70.0,False,False,False,False,False,False,502,,,False,exams_part0.hdf5\n"
        "99,40,False,41.0,False,False,False,False,False,False,503,,,True,exams_part1.hdf5\n"
    )
    return tr


def test_code15_trimming_metadata_and_failures(tmp_path: Path) -> None:
    tr = _code15(tmp_path)
    loaders = list(iter_code15(tmp_path))
    assert len(loaders) == 4  # 11, 12, 13, 99; the exam_id-0 padding row is skipped
    r11 = loaders[0]()
    assert isinstance(r11, Record) and r11.record_id == "11"
    assert r11.sfreq == 400.0 and r11.channels == STANDARD_LEADS and r11.units == "mV"
    assert r11.signal.shape == (12, 3900)
    assert (r11.meta["n_trimmed_start"], r11.meta["n_trimmed_end"]) == (100, 96)
    np.testing.assert_array_equal(r11.signal, tr[0, 100:4000].T)
    assert r11.meta["exam_id"] == 11 and r11.meta["patient_id"] == 501
    assert r11.meta["age"] == 60 and r11.meta["is_male"] is True
    assert r11.meta["trace_file"] == "exams_part0.hdf5"
    assert r11.meta["fingerprint"] == fingerprint(r11.signal)
    r12 = loaders[1]()  # no exams.csv row: read anyway, metadata None
    assert r12.signal.shape == (12, 4096) and r12.meta["n_trimmed_start"] == r12.meta["n_trimmed_end"] == 0
    assert (r12.meta["age"], r12.meta["is_male"], r12.meta["patient_id"]) == (None, None, None)
    assert_limb_relations(r12.signal)
    with pytest.raises(CorruptRecordError, match=r"all zero") as exc:
        loaders[2]()
    assert exc.value.record_id == "13"
    with pytest.raises(
        CorruptRecordError, match=r"trace_file exams_part1\.hdf5 named in exams.csv is missing"
    ):
        loaders[3]()


def test_code15_min_nonzero_and_leads(tmp_path: Path) -> None:
    tr = _code15(tmp_path)
    loaders = list(iter_code15(tmp_path, min_nonzero=4096, leads=["V6", "aVL"]))
    with pytest.raises(
        CorruptRecordError, match=r"non-zero span of 3900 samples is shorter than min_nonzero=4096"
    ):
        loaders[0]()
    r12 = loaders[1]()
    assert r12.channels == ("V6", "aVL")
    np.testing.assert_array_equal(r12.signal, tr[1][:, [11, 4]].T)
    assert next(iter_code15(tmp_path, min_nonzero=3900))().signal.shape == (12, 3900)
    with pytest.raises(ConfigError, match="min_nonzero"):
        iter_code15(tmp_path, min_nonzero=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no CODE-15% data"):
        iter_code15(tmp_path / "empty")


def test_code15_damaged_part_yields_one_failing_loader(tmp_path: Path) -> None:
    _code15(tmp_path)
    (tmp_path / "exams_part1.hdf5").write_bytes(b"not an hdf5 file")
    loaders = list(iter_code15(tmp_path))
    assert len(loaders) == 5  # 11, 12, 13, the damaged part, then 99 (its file is unreadable)
    with pytest.raises(CorruptRecordError, match=r"cannot read exam_id/tracings") as exc:
        loaders[3]()
    assert exc.value.record_id == "exams_part1.hdf5"
    with pytest.raises(CorruptRecordError, match=r"exam_id 99 is not in exams_part1\.hdf5"):
        loaders[4]()
