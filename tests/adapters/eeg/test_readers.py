"""EEG readers on the shared real recordings and on tiny real-format files written by the tests.

Real files: eegmmidb S001R04.edf (EDF+, 64 BCI2000-named channels, 160 Hz), eeg-notebooks Muse CSVs (P300 in
the 2017 ``Marker`` and 2018 ``Marker0`` layouts, SSVEP). Written files: FIF (``RawArray.save``), EDF+ and
BrainVision written byte by byte by the helpers below (and through ``mne.export`` when its optional writers,
edfio / pybv, are installed), Muse CSVs.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from biojepa.adapters.eeg.positions import MissingPositionWarning, resolve_montage, standard_positions
from biojepa.adapters.eeg.readers import (
    MUSE_CHANNELS,
    from_array,
    read_eeg_file,
    read_epochs,
    read_muse_csv,
    read_raw,
)
from biojepa.data.record import Record
from biojepa.errors import ConfigError, ContractError, CorruptRecordError

mne = pytest.importorskip("mne")

NAMES = ["Fp1", "Cz", "O2"]


def eeg(n_ch: int = 3, n_times: int = 400, seed: int = 0) -> np.ndarray:
    """``(C, T)`` µV noise with a few per-channel sines, amplitude ~ ±60 µV."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_times)
    sines = np.stack([20.0 * np.sin(2 * np.pi * (c + 1) * t / 50.0) for c in range(n_ch)])  # (C, T)
    return sines + 10.0 * rng.standard_normal((n_ch, n_times))


def raw_array(x_uv: np.ndarray, names: list[str], sfreq: float = 100.0, montage: bool = False):
    info = mne.create_info(names, sfreq, "eeg")
    raw = mne.io.RawArray(x_uv * 1e-6, info, verbose="error")
    if montage:
        raw.set_montage(resolve_montage("standard_1005"))
    return raw


def write_edf(
    path: Path,
    x_uv: np.ndarray,
    names: list[str],
    sfreq: float,
    annotations: list[tuple[float, float, str]] = (),  # type: ignore[assignment]
) -> Path:
    """A minimal EDF+C file: 1-s data records, 0.1 µV resolution, an 'EDF Annotations' signal."""
    n_ch, _ = x_uv.shape
    spr = round(sfreq)
    n_rec = x_uv.shape[1] // spr
    dig = np.clip(np.round(x_uv[:, : n_rec * spr] / 0.1), -32768, 32767).astype("<i2")  # (C, n_rec * spr)
    labels = [*names, "EDF Annotations"]
    ann_samples = 60  # 120 bytes of TAL per record

    def field(value: object, width: int) -> bytes:
        return str(value).ljust(width)[:width].encode("ascii")

    head = b"".join(
        [
            field(0, 8), field("X X X X", 80), field("Startdate 01-JAN-2020 X X X", 80), field("01.01.20", 8),
            field("00.00.00", 8), field(256 * (len(labels) + 1), 8), field("EDF+C", 44), field(n_rec, 8),
            field(1, 8), field(len(labels), 4),
        ]
    )  # fmt: skip
    per_signal = [
        [field(lab, 16) for lab in labels],
        [field("AgAgCl electrode", 80) for _ in labels],
        [field("uV", 8) for _ in names] + [field("", 8)],
        [field("-3276.8", 8) for _ in names] + [field(-1, 8)],
        [field("3276.7", 8) for _ in names] + [field(1, 8)],
        [field(-32768, 8) for _ in labels],
        [field(32767, 8) for _ in labels],
        [field("", 80) for _ in labels],
        [field(spr, 8) for _ in names] + [field(ann_samples, 8)],
        [field("", 32) for _ in labels],
    ]
    head += b"".join(b"".join(col) for col in per_signal)
    body = bytearray()
    for r in range(n_rec):
        for c in range(n_ch):
            body += dig[c, r * spr : (r + 1) * spr].tobytes()
        tal = f"+{r}\x14\x14\x00".encode()
        for onset, duration, text in annotations:
            if r <= onset < r + 1:
                tal += f"+{onset:g}\x15{duration:g}\x14{text}\x14\x00".encode()
        body += tal.ljust(2 * ann_samples, b"\x00")
    path.write_bytes(head + bytes(body))
    return path


def write_brainvision(
    base: Path, x_uv: np.ndarray, names: list[str], sfreq: float, markers: list[tuple[int, str]]
):
    """``base.vhdr`` + ``.vmrk`` + ``.eeg`` (float32, multiplexed, µV)."""
    stem = base.name
    vhdr = [
        "Brain Vision Data Exchange Header File Version 1.0", "", "[Common Infos]", "Codepage=UTF-8",
        f"DataFile={stem}.eeg", f"MarkerFile={stem}.vmrk", "DataFormat=BINARY", "DataOrientation=MULTIPLEXED",
        f"NumberOfChannels={len(names)}", f"SamplingInterval={1e6 / sfreq:g}", "", "[Binary Infos]",
        "BinaryFormat=IEEE_FLOAT_32", "", "[Channel Infos]",
        *[f"Ch{i + 1}={n},,1,µV" for i, n in enumerate(names)],
    ]  # fmt: skip
    vmrk = [
        "Brain Vision Data Exchange Marker File, Version 1.0", "", "[Common Infos]", "Codepage=UTF-8",
        f"DataFile={stem}.eeg", "", "[Marker Infos]", "Mk1=New Segment,,1,1,0",
        *[f"Mk{i + 2}=Stimulus,{d},{s + 1},1,0" for i, (s, d) in enumerate(markers)],
    ]  # fmt: skip
    base.with_suffix(".vhdr").write_text("\n".join(vhdr) + "\n", encoding="utf-8")
    base.with_suffix(".vmrk").write_text("\n".join(vmrk) + "\n", encoding="utf-8")
    base.with_suffix(".eeg").write_bytes(np.ascontiguousarray(x_uv.T, dtype="<f4").tobytes())  # (T, C)
    return base.with_suffix(".vhdr")


def write_muse(
    path: Path, n: int = 2560, fs: float = 256.0, marker: str = "Marker", events=((100, 1), (900, 2))
):
    """An eeg-notebooks Muse CSV with 1-ms rounded LSL timestamps."""
    rng = np.random.default_rng(1)
    ts = np.round(1486664799.048 + np.arange(n) / fs, 3)
    x = np.round(30 * rng.standard_normal((n, 5)), 3)  # TP9, AF7, AF8, TP10, Right AUX
    codes = np.zeros(n, dtype=int)
    for row, code in events:
        codes[row] = code
    lines = [f"timestamps,TP9,AF7,AF8,TP10,Right AUX,{marker}"]
    lines += [f"{t:.3f}," + ",".join(f"{v:.3f}" for v in row) + f",{c}" for t, row, c in zip(ts, x, codes)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, x[:, :4].T  # (4, T)


# ------------------------------------------------------------------------------------------------ cheap import


def test_importing_the_readers_does_not_import_mne() -> None:
    code = "import sys, biojepa.adapters.eeg.readers, biojepa.adapters.eeg.positions; print('mne' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------------------------ read_raw


def test_read_raw_round_trip_in_microvolts_with_loc_positions() -> None:
    x = eeg()
    rec = read_raw(raw_array(x, NAMES, montage=True), record_id="r1")
    assert isinstance(rec, Record)
    assert rec.signal.dtype == np.float32 and rec.signal.shape == (3, 400)
    np.testing.assert_allclose(rec.signal, x, atol=1e-4)
    assert rec.units == "uV" and rec.sfreq == 100.0 and rec.channels == ("Fp1", "Cz", "O2")
    assert rec.meta["position_source"] == ("loc", "loc", "loc")
    assert rec.meta["format"] == "mne_raw" and rec.meta["path"] is None
    assert (
        0.7 < np.linalg.norm(rec.positions, axis=1).min() <= np.linalg.norm(rec.positions, axis=1).max() < 1.3
    )
    assert rec.positions[1, 2] > 0.9  # Cz on top of the unit head


def test_positions_from_loc_and_from_the_montage_lookup_agree() -> None:
    x = eeg()
    with_montage = read_raw(raw_array(x, NAMES, montage=True), record_id="a")
    looked_up = read_raw(raw_array(x, ["FP1.", "cz..", "o2"]), record_id="b")
    assert looked_up.meta["position_source"] == ("montage",) * 3
    assert looked_up.channels == with_montage.channels
    np.testing.assert_allclose(looked_up.positions, with_montage.positions, atol=1e-5)


def test_picks_eeg_drops_other_channel_types_and_non_voltages_raise() -> None:
    info = mne.create_info(["Cz", "Pz", "STI 014"], 100.0, ["eeg", "eeg", "stim"])
    raw = mne.io.RawArray(np.r_[eeg(2) * 1e-6, np.zeros((1, 400))], info, verbose="error")
    assert read_raw(raw, record_id="p").channels == ("Cz", "Pz")
    with pytest.raises(ContractError, match=r"STI 014 \(stim\).*not electrode voltages"):
        read_raw(raw, record_id="p", picks="all")
    with pytest.raises(CorruptRecordError, match="matches no channel"):
        read_raw(raw, record_id="p", picks="meg")
    with pytest.raises(ConfigError, match="mne.io.Raw"):
        read_raw(np.zeros((2, 3)), record_id="p")  # type: ignore[arg-type]


def test_events_are_relative_to_the_first_returned_sample() -> None:
    raw = raw_array(eeg(n_times=1000), NAMES)
    raw.set_annotations(mne.Annotations([1.0, 5.0, 7.5], [0.5, 0.25, 0.0], ["a", "b", "c"]))
    raw.crop(tmin=2.0)
    rec = read_raw(raw, record_id="c")
    assert rec.n_times == 800
    assert [(round(o, 6), round(d, 6), s) for o, d, s in rec.meta["events"]] == [
        (3.0, 0.25, "b"),
        (5.5, 0.0, "c"),
    ]


def test_missing_positions_warn_and_none_at_all_raise() -> None:
    x = eeg()
    with pytest.warns(MissingPositionWarning, match=r"record 'm'.*\['X1'\]"):
        rec = read_raw(raw_array(x, ["Cz", "X1", "Oz"]), record_id="m")
    assert np.isnan(rec.positions[1]).all() and np.isfinite(rec.positions[[0, 2]]).all()
    assert rec.meta["position_source"] == ("montage", "missing", "montage")
    with pytest.raises(ContractError, match=r"record 'n'.*none of the 3 channels.*set_montage"):
        read_raw(raw_array(x, ["X1", "X2", "X3"]), record_id="n")
    with pytest.raises(ContractError, match=r"montage=None.*set_montage"):
        read_raw(raw_array(x, NAMES), record_id="n", montage=None)
    assert (
        read_raw(raw_array(x, NAMES, montage=True), record_id="n", montage=None).meta[
            "positions_normalization"
        ]
        == "self"
    )


def test_positions_in_another_frame_are_normalised_on_their_own_sphere() -> None:
    chs = [{"ch_name": n, "loc": 1000.0 * p} for n, p in zip(NAMES, standard_positions(NAMES))]  # millimetres
    rec = from_array(eeg(), chs, 100.0)
    assert rec.meta["positions_normalization"] == "self"
    assert np.median(np.linalg.norm(rec.positions, axis=1)) == pytest.approx(1.0, abs=1e-5)


# ------------------------------------------------------------------------------------------------ files


def test_fif_round_trip(tmp_path: Path) -> None:
    x = eeg(n_times=500)
    raw = raw_array(x, NAMES, sfreq=250.0, montage=True)
    raw.set_annotations(mne.Annotations([0.4], [0.2], ["go"]))
    path = tmp_path / "rec_raw.fif"
    raw.save(path, verbose="error")
    rec = read_eeg_file(path, record_id="sub-01/rec", expected_sfreq=250.0)
    assert (
        rec.record_id == "sub-01/rec" and rec.meta["format"] == "fif" and rec.meta["path"] == path.as_posix()
    )
    np.testing.assert_allclose(rec.signal, x, atol=1e-3)
    assert rec.meta["position_source"] == ("loc",) * 3
    ((onset, duration, text),) = rec.meta["events"]
    assert (onset, text) == (pytest.approx(0.4), "go") and duration == pytest.approx(0.2)


def test_edf_plus_round_trip_with_bci2000_names(tmp_path: Path) -> None:
    x = eeg(n_times=400)
    path = write_edf(
        tmp_path / "rec.edf", x, ["Fp1.", "Cz..", "O2.."], 100.0, [(0.5, 1.0, "T1"), (2.25, 0.5, "T2")]
    )
    rec = read_eeg_file(path)
    assert rec.record_id == path.as_posix() and rec.meta["format"] == "edf"
    assert rec.channels == ("Fp1", "Cz", "O2") and rec.meta["original_channels"] == ("Fp1.", "Cz..", "O2..")
    assert rec.sfreq == 100.0 and rec.signal.shape == (3, 400)
    np.testing.assert_allclose(rec.signal, x, atol=0.051)  # 0.1 µV resolution
    assert rec.meta["events"] == [(0.5, 1.0, "T1"), (2.25, 0.5, "T2")]
    assert rec.meta["position_source"] == ("montage",) * 3


def test_edf_export_round_trip_via_mne(tmp_path: Path) -> None:
    pytest.importorskip("edfio", reason="mne.export EDF needs the optional 'edfio' package (not installed)")
    x = eeg(n_times=400)
    raw = raw_array(x, NAMES)
    raw.set_annotations(mne.Annotations([1.0], [0.5], ["T1"]))
    path = tmp_path / "exported.edf"
    mne.export.export_raw(path, raw, fmt="edf", verbose="error")
    rec = read_eeg_file(path)
    np.testing.assert_allclose(rec.signal, x, atol=0.05)
    assert [e[2] for e in rec.meta["events"]] == ["T1"]


def test_brainvision_round_trip(tmp_path: Path) -> None:
    x = eeg(n_times=500)
    path = write_brainvision(tmp_path / "rec", x, NAMES, 250.0, [(100, "S  1"), (300, "S  2")])
    rec = read_eeg_file(path)
    assert rec.meta["format"] == "brainvision" and rec.sfreq == 250.0
    np.testing.assert_allclose(rec.signal, x, atol=1e-3)
    assert [(round(o, 6), s) for o, _, s in rec.meta["events"]] == [
        (0.4, "Stimulus/S  1"),
        (1.2, "Stimulus/S  2"),
    ]


def test_brainvision_export_round_trip_via_mne(tmp_path: Path) -> None:
    pytest.importorskip(
        "pybv", reason="mne.export BrainVision needs the optional 'pybv' package (not installed)"
    )
    x = eeg(n_times=500)
    path = tmp_path / "exported.vhdr"
    mne.export.export_raw(path, raw_array(x, NAMES, sfreq=250.0), fmt="brainvision", verbose="error")
    np.testing.assert_allclose(read_eeg_file(path).signal, x, atol=1e-2)


def _corrupt(good: bytes, kind: str) -> bytes:
    if kind == "truncated_header":
        return good[:100]
    if kind == "n_signals_not_a_number":
        return good[:252] + b"abcd" + good[256:]
    if kind == "n_records_not_a_number":
        return good[:236] + b"xx      " + good[244:]
    if kind == "empty":
        return b""
    return b"this is not an EDF file " * 40


@pytest.mark.parametrize(
    "kind", ["truncated_header", "n_signals_not_a_number", "n_records_not_a_number", "empty", "garbage"]
)
def test_corrupt_edf_header_raises_corrupt_record_error(tmp_path: Path, kind: str) -> None:
    good = write_edf(tmp_path / "good.edf", eeg(), NAMES, 100.0).read_bytes()
    bad = tmp_path / "bad.edf"
    bad.write_bytes(_corrupt(good, kind))
    with pytest.raises(CorruptRecordError, match=r"record 'sub-9/bad'.*cannot read bad\.edf") as info:
        read_eeg_file(bad, record_id="sub-9/bad")
    assert info.value.record_id == "sub-9/bad"


def test_truncated_edf_data_keeps_the_complete_records_and_says_so(tmp_path: Path) -> None:
    x = eeg(n_times=1000)
    good = write_edf(tmp_path / "good.edf", x, NAMES, 100.0).read_bytes()
    bad = tmp_path / "cut.edf"
    bad.write_bytes(good[: len(good) - 1500])  # the last 2.5 of 10 data records are missing
    rec = read_eeg_file(bad)
    assert rec.n_times == 700
    np.testing.assert_allclose(rec.signal, x[:, :700], atol=0.051)
    assert any("does not match the file size" in w for w in rec.meta["read_warnings"])


def test_missing_file_and_unexpected_sfreq(tmp_path: Path) -> None:
    with pytest.raises(CorruptRecordError, match="not found"):
        read_eeg_file(tmp_path / "nope.edf")
    path = write_edf(tmp_path / "rec.edf", eeg(), NAMES, 100.0)
    with pytest.raises(CorruptRecordError, match=r"100 Hz but 160 Hz was expected"):
        read_eeg_file(path, expected_sfreq=160.0)
    assert read_eeg_file(path, expected_sfreq=100.0).sfreq == 100.0


def test_duplicate_channel_names_raise(tmp_path: Path) -> None:
    same = write_edf(tmp_path / "same.edf", eeg(), ["Cz", "Cz", "O2"], 100.0)
    with pytest.raises(CorruptRecordError, match=r"duplicate channel names.*Cz"):
        read_eeg_file(same)
    case = write_edf(tmp_path / "case.edf", eeg(), ["Cz", "CZ..", "O2"], 100.0)
    with pytest.raises(CorruptRecordError, match=r"duplicate channel names \{'Cz': \['Cz', 'CZ\.\.'\]\}"):
        read_eeg_file(case)
    with pytest.raises(CorruptRecordError, match="duplicate channel names"):
        from_array(eeg(), ["Fp1", "fp1", "O2"], 100.0)


# ------------------------------------------------------------------------------------------------ from_array


def test_from_array_units_and_braindecode_chs_info() -> None:
    x = eeg()
    raw = raw_array(x, NAMES, montage=True)
    rec = from_array(x * 1e-6, raw.info["chs"], 100.0, units="V", record_id="bd")
    np.testing.assert_allclose(rec.signal, x, rtol=1e-6, atol=1e-4)
    assert rec.meta["position_source"] == ("loc",) * 3 and rec.record_id == "bd"
    np.testing.assert_allclose(rec.positions, read_raw(raw, record_id="r").positions, atol=1e-6)
    np.testing.assert_allclose(from_array(x * 1e-3, NAMES, 100.0, units="mV").signal, x, rtol=1e-6, atol=1e-4)
    with pytest.raises(ConfigError, match="unknown units"):
        from_array(x, NAMES, 100.0, units="furlongs")
    with pytest.raises(ConfigError, match=r"chs_info\[1\]"):
        from_array(x, ["Fp1", {"name": "Cz"}, "O2"], 100.0)  # type: ignore[list-item]


def test_nan_samples_are_interpolated_and_counted_and_all_nan_channels_raise() -> None:
    x = eeg()
    x[1, 10:13] = np.nan
    x[2, 0] = np.nan
    rec = from_array(x, NAMES, 100.0, record_id="nan")
    assert rec.meta["n_nan_interpolated"] == 4 and rec.meta["n_nan_channels"] == 2
    assert np.isfinite(rec.signal).all()
    np.testing.assert_allclose(rec.signal[1, 11], (x[1, 9] + x[1, 13]) / 2, rtol=1e-5)
    assert rec.signal[2, 0] == pytest.approx(x[2, 1], rel=1e-6)
    x[0] = np.nan
    with pytest.raises(CorruptRecordError, match=r"record 'nan'.*channel Fp1 has no finite sample"):
        from_array(x, NAMES, 100.0, record_id="nan")


@pytest.mark.parametrize("sfreq", [0.0, -250.0, float("nan"), float("inf")])
def test_non_positive_or_non_finite_sfreq_raises(sfreq: float) -> None:
    with pytest.raises(CorruptRecordError, match="sampling rate"):
        from_array(eeg(), NAMES, sfreq)


def test_empty_or_mismatched_data_raises() -> None:
    with pytest.raises(CorruptRecordError, match="empty"):
        from_array(np.zeros((3, 0)), NAMES, 100.0)
    with pytest.raises(CorruptRecordError, match="2-D"):
        from_array(np.zeros(30), NAMES, 100.0)
    with pytest.raises(CorruptRecordError, match="3 channels but 2 channel names"):
        from_array(eeg(), NAMES[:2], 100.0)


# ------------------------------------------------------------------------------------------------ read_epochs


def test_read_epochs_arrays_in_microvolts() -> None:
    x = eeg(n_times=1000)
    raw = raw_array(x, ["FP1", "cz", "O2"])
    events = np.array([[100, 0, 1], [400, 0, 2], [700, 0, 1]])
    epochs = mne.Epochs(
        raw, events, {"a": 1, "b": 2}, tmin=0.0, tmax=0.99, baseline=None, preload=True, verbose="error"
    )
    X, y, names, pos, sfreq = read_epochs(epochs)
    assert X.dtype == np.float32 and X.shape == (3, 3, 100)
    np.testing.assert_allclose(X[1], x[:, 400:500], atol=1e-4)
    np.testing.assert_array_equal(y, [1, 2, 1])
    assert names == ["Fp1", "Cz", "O2"] and sfreq == 100.0
    assert pos.shape == (3, 3) and pos.dtype == np.float32 and np.isfinite(pos).all()
    with pytest.raises(ConfigError, match="mne.Epochs"):
        read_epochs(raw)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ Muse CSV


@pytest.mark.parametrize("marker", ["Marker", "Marker0"])
def test_muse_csv(tmp_path: Path, marker: str) -> None:
    path, x = write_muse(tmp_path / "data.csv", marker=marker)
    rec = read_muse_csv(path)
    assert rec.channels == MUSE_CHANNELS and rec.sfreq == 256.0 and rec.units == "uV"
    np.testing.assert_allclose(rec.signal, x, atol=1e-3)
    assert rec.meta["events"] == [(100 / 256.0, 0.0, "1"), (900 / 256.0, 0.0, "2")]
    assert rec.meta["marker_column"] == marker and rec.meta["dropped_channels"] == ["Right AUX"]
    assert np.isfinite(rec.positions).all()


def test_muse_csv_keeps_an_off_nominal_rate_and_checks_expected(tmp_path: Path) -> None:
    path, _ = write_muse(tmp_path / "data.csv", n=2200, fs=220.0)
    rec = read_muse_csv(path)
    assert rec.sfreq == pytest.approx(220.0, rel=1e-3)
    with pytest.raises(CorruptRecordError, match="256 Hz was expected"):
        read_muse_csv(path, expected_sfreq=256.0)


def test_damaged_muse_csv_raises(tmp_path: Path) -> None:
    path, _ = write_muse(tmp_path / "data.csv")
    lines = path.read_text().splitlines()
    no_col = tmp_path / "no_col.csv"
    no_col.write_text("\n".join([lines[0].replace("AF8", "AFX"), *lines[1:]]))
    with pytest.raises(CorruptRecordError, match=r"columns \['AF8'\] missing"):
        read_muse_csv(no_col)
    back = tmp_path / "back.csv"
    head, body = lines[0], lines[1:]
    back.write_text("\n".join([head, *body[:1000], *body[:1000]]))  # two runs concatenated
    with pytest.raises(CorruptRecordError, match="jump back"):
        read_muse_csv(back)
    text = tmp_path / "text.csv"
    text.write_text("\n".join([head, *body[:5], "1.0,a,b,c,d,e,0"]))
    with pytest.raises(CorruptRecordError, match="cannot parse"):
        read_muse_csv(text, record_id="t")
    short = tmp_path / "short.csv"
    short.write_text("\n".join([head, body[0]]))
    with pytest.raises(CorruptRecordError, match="1 data row"):
        read_muse_csv(short)


# ------------------------------------------------------------------------------------------------ real data


@pytest.fixture(scope="module")
def eegmmidb_r04(shared_data: Path) -> Record:
    """S001R04 read once per module (tests using it carry ``realdata``)."""
    return read_eeg_file(shared_data / "eeg" / "eegmmidb_S001" / "S001" / "S001R04.edf", record_id="S001R04")


@pytest.mark.realdata
def test_real_eegmmidb_edf(eegmmidb_r04: Record) -> None:
    rec = eegmmidb_r04
    assert rec.signal.shape == (64, 20000) and rec.sfreq == 160.0 and rec.units == "uV"
    lo, hi = np.percentile(rec.signal, [1, 99])
    assert -300 < lo < -50 and 50 < hi < 300  # ~±150 µV: volts were scaled by 1e6
    assert len(rec.meta["events"]) == 30
    counts = Counter(e[2] for e in rec.meta["events"])
    assert counts["T0"] == 15 and counts["T1"] + counts["T2"] == 15
    assert all(4.0 <= d <= 4.3 for _, d, _ in rec.meta["events"])
    assert rec.meta["position_source"] == ("montage",) * 64
    assert np.isfinite(rec.positions).all()
    r = np.linalg.norm(rec.positions, axis=1)
    assert 0.7 < r.min() and r.max() < 1.3
    assert rec.meta["n_nan_interpolated"] == 0


@pytest.mark.realdata
def test_real_eegmmidb_read_raw_matches_read_eeg_file(shared_data: Path, eegmmidb_r04: Record) -> None:
    raw = mne.io.read_raw_edf(shared_data / "eeg" / "eegmmidb_S001" / "S001" / "S001R04.edf", verbose="error")
    mne.datasets.eegbci.standardize(raw)
    raw.set_montage(resolve_montage("standard_1005"))
    rec = read_raw(raw, record_id="S001R04")
    assert rec.channels == eegmmidb_r04.channels
    np.testing.assert_array_equal(rec.signal, eegmmidb_r04.signal)
    assert rec.meta["position_source"] == ("loc",) * 64
    np.testing.assert_allclose(rec.positions, eegmmidb_r04.positions, atol=1e-5)


@pytest.mark.realdata
def test_real_edf_with_a_damaged_header(shared_data: Path, tmp_path: Path) -> None:
    good = (shared_data / "eeg" / "eegmmidb_S001" / "S001" / "S001R04.edf").read_bytes()
    bad = tmp_path / "S001R04.edf"
    bad.write_bytes(good[:252] + b"6?4 " + good[256:])  # number of signals
    with pytest.raises(CorruptRecordError, match=r"record 'S001R04'.*cannot read"):
        read_eeg_file(bad, record_id="S001R04")


MUSE_CASES = [
    # (file, marker column, duration s, (min, max) events)
    ("eegnb_muse_p300/subject2/session1/data_2017-02-09-18.26.36.csv", "Marker", 120, (177, 209)),
    ("eegnb_muse_p300/subject4/session1/data_2018-04-22-21.41.19.csv", "Marker0", 60, (80, 110)),
    ("eegnb_muse_ssvep/subject1/session1/data_2017-09-14-21.20.04.csv", "Marker0", 120, (28, 38)),
    ("eegnb_muse_ssvep/subject4/session1/data_2018-04-22-15.00.15.csv", "Marker0", 60, (14, 20)),
]


@pytest.mark.realdata
@pytest.mark.parametrize(("rel", "marker", "seconds", "n_events"), MUSE_CASES)
def test_real_muse_csv(
    shared_data: Path, rel: str, marker: str, seconds: int, n_events: tuple[int, int]
) -> None:
    rec = read_muse_csv(shared_data / "eeg" / rel)
    assert rec.channels == ("TP9", "AF7", "AF8", "TP10") and rec.sfreq == 256.0
    assert rec.duration_s == pytest.approx(seconds, abs=0.5)
    assert rec.meta["marker_column"] == marker and rec.meta["dropped_channels"] == ["Right AUX"]
    assert n_events[0] <= len(rec.meta["events"]) <= n_events[1]
    assert {e[2] for e in rec.meta["events"]} == {"1", "2"}
    assert all(0 <= o < rec.duration_s for o, _, _ in rec.meta["events"])
    lo, med, hi = np.percentile(rec.signal, [1, 50, 99], axis=1)  # (3, 4)
    assert np.all(-400 < lo) and np.all(hi < 400) and np.all(hi - lo > 20)  # already µV
    assert np.all((lo < med) & (med < hi))


@pytest.mark.realdata
def test_real_muse_and_cap_positions_share_one_head(shared_data: Path, eegmmidb_r04: Record) -> None:
    muse = read_muse_csv(shared_data / "eeg" / MUSE_CASES[0][0])
    for name in ("AF7", "AF8"):
        np.testing.assert_allclose(
            muse.positions[muse.channels.index(name)],
            eegmmidb_r04.positions[eegmmidb_r04.channels.index(name)],
            atol=1e-6,
        )


def test_warnings_filter_is_active() -> None:
    # the suite's pyproject turns warnings into errors; the warning tests above rely on it
    with pytest.raises(MissingPositionWarning), warnings.catch_warnings():
        warnings.simplefilter("error")
        from_array(eeg(), ["Cz", "X1", "Oz"], 100.0)


def test_docstring_examples() -> None:
    import doctest

    import biojepa.adapters.eeg.readers as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
