"""Fuzzing the EDF reader: byte-mutated EDF+ headers give a valid Record or CorruptRecordError, never a hang.

A valid EDF+C file (3 EEG channels at 100 Hz, 4 one-second records, an annotation signal) is written by hand
at test time; every example applies 1-3 mutations to its 256-byte main header or its signal headers (number
of records -1 / 0 / huge, record duration 0 / NaN, number of signals, header size, dates, labels with
non-ASCII bytes, duplicates and NUL padding, samples per record, digital and physical ranges, random byte
flips) and optionally truncates or extends the file, then reads it with
:func:`~biojepa.adapters.eeg.readers.read_eeg_file` (the header check, then MNE). A channel whose label is
not in the montage yields the documented :class:`MissingPositionWarning`; no other warning may escape.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from biojepa.adapters.eeg.positions import MissingPositionWarning
from biojepa.adapters.eeg.readers import EdfHeader, read_edf_header, read_eeg_file
from biojepa.data.record import Record
from biojepa.errors import CorruptRecordError
from tests.fuzz._harness import Tally, outcome

pytest.importorskip("mne")

NAMES = ("Fp1", "Cz", "O2")
SFREQ = 100
N_RECORDS = 4
ANN_SAMPLES = 30
#: (offset, width) of the fields of the 256-byte main header.
MAIN_FIELDS = {
    "version": (0, 8), "patient": (8, 80), "recording": (88, 80), "startdate": (168, 8),
    "starttime": (176, 8), "header_bytes": (184, 8), "reserved": (192, 44), "n_records": (236, 8),
    "duration": (244, 8), "n_signals": (252, 4),
}  # fmt: skip
#: per-signal fields in file order: (name, width).
SIGNAL_FIELDS = (
    ("label", 16), ("transducer", 80), ("physical_dimension", 8), ("physical_min", 8), ("physical_max", 8),
    ("digital_min", 8), ("digital_max", 8), ("prefiltering", 80), ("samples_per_record", 8), ("reserved", 32),
)  # fmt: skip
N_SIGNALS = len(NAMES) + 1
MAIN_VALUES = {
    "n_records": [b"-1", b"0", b"1", b"3", b"5", b"99999999", b"abc", b"", b"1e3", b"\x00" * 8],
    "duration": [b"0", b"-1", b"nan", b"inf", b"1e-9", b"99999999", b"0.5", b"abc", b"2"],
    "n_signals": [b"0", b"1", b"2", b"3", b"5", b"9999", b"-1", b"ab", b"\x00" * 4],
    "header_bytes": [b"0", b"256", b"1024", b"1280", b"99999999", b"x"],
    "startdate": [b"31.02.20", b"99.99.99", b"aa.bb.cc", b"\x00" * 8, b"01.01.85", b"1.1.1"],
    "starttime": [b"25.61.61", b"xx.yy.zz", b"\x00" * 8],
    "version": [b"0", b"\xffBIOSEMI", b"", b"\x00" * 8],
    "recording": [b"Startdate 31-FEB-2020 X X X", b"Startdate X X X X", b"\xe9" * 80],
    "patient": [b"X F 99-XYZ-9999 X", b"\x00" * 80, b"a=b c=d e=f g=h i=j"],
    "reserved": [b"EDF+D", b"", b"\xff" * 44],
}
SIGNAL_VALUES = {
    "label": [b"", b"Cz", b"Fp1", b"\x00" * 16, b"Fp1\xe9", b"EDF Annotations", b"XX", b"EEG Cz", b"c z"],
    "samples_per_record": [b"0", b"-1", b"1", b"99", b"101", b"10000000", b"x", b"50", b"200"],
    "digital_min": [b"32767", b"-32768", b"nan", b"", b"abc", b"0"],
    "digital_max": [b"-32768", b"32767", b"inf", b"", b"0"],
    "physical_min": [b"3276.7", b"nan", b"", b"-1e308", b"0"],
    "physical_max": [b"-3276.8", b"inf", b"", b"0"],
    "physical_dimension": [b"mV", b"V", b"", b"\xb5V", b"nV", b"\x00" * 8],
    "prefiltering": [b"HP:100Hz LP:1Hz", b"\xff" * 80],
    "transducer": [b"\x00" * 80],
    "reserved": [b"\xff" * 32],
}


def _field(value: object, width: int) -> bytes:
    return str(value).ljust(width)[:width].encode("ascii")


def write_base(path: Path) -> bytes:
    """A minimal EDF+C file: 1-s records, 0.1 µV resolution, an 'EDF Annotations' signal."""
    t = np.arange(SFREQ * N_RECORDS) / SFREQ
    x = np.stack([20 * np.sin(2 * np.pi * (5 + 3 * k) * t) for k in range(len(NAMES))])  # (3, T) µV
    dig = np.round(x / 0.1).astype("<i2")
    labels = [*NAMES, "EDF Annotations"]
    head = b"".join([
        _field(0, 8), _field("X X X X", 80), _field("Startdate 01-JAN-2020 X X X", 80), _field("01.01.20", 8),
        _field("00.00.00", 8), _field(256 * (len(labels) + 1), 8), _field("EDF+C", 44), _field(N_RECORDS, 8),
        _field(1, 8), _field(len(labels), 4),
    ])  # fmt: skip
    cols = [
        [_field(lab, 16) for lab in labels],
        [_field("AgAgCl electrode", 80) for _ in labels],
        [_field("uV", 8) for _ in NAMES] + [_field("", 8)],
        [_field("-3276.8", 8) for _ in NAMES] + [_field(-1, 8)],
        [_field("3276.7", 8) for _ in NAMES] + [_field(1, 8)],
        [_field(-32768, 8) for _ in labels],
        [_field(32767, 8) for _ in labels],
        [_field("", 80) for _ in labels],
        [_field(SFREQ, 8) for _ in NAMES] + [_field(ANN_SAMPLES, 8)],
        [_field("", 32) for _ in labels],
    ]
    head += b"".join(b"".join(c) for c in cols)
    body = bytearray()
    for r in range(N_RECORDS):
        for c in range(len(NAMES)):
            body += dig[c, r * SFREQ : (r + 1) * SFREQ].tobytes()
        body += f"+{r}\x14\x14\x00".encode().ljust(2 * ANN_SAMPLES, b"\x00")
    data = head + bytes(body)
    path.write_bytes(data)
    return data


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_base(tmp_path_factory.mktemp("edf_base") / "base.edf")


def _signal_offset(field: str, k: int) -> tuple[int, int]:
    pos = 256
    for name, width in SIGNAL_FIELDS:
        if name == field:
            return pos + k * width, width
        pos += width * N_SIGNALS
    raise KeyError(field)


ops = st.one_of(
    st.sampled_from(sorted(MAIN_VALUES)).flatmap(
        lambda f: st.tuples(
            st.just("main"), st.just(f), st.sampled_from(MAIN_VALUES[f]) | st.binary(max_size=8)
        )
    ),
    st.sampled_from(sorted(SIGNAL_VALUES)).flatmap(
        lambda f: st.tuples(
            st.just("signal"),
            st.just(f),
            st.integers(0, N_SIGNALS - 1),
            st.sampled_from(SIGNAL_VALUES[f]) | st.binary(max_size=8),
        )
    ),
    st.tuples(st.just("nul"), st.integers(0, 256 * (N_SIGNALS + 1) - 1), st.integers(1, 16)),
    st.tuples(st.just("flip"), st.integers(0, 256 * (N_SIGNALS + 1) - 1), st.integers(0, 255)),
)
size_ops = st.one_of(
    st.none(),
    st.tuples(st.just("cut"), st.integers(0, 256 * (N_SIGNALS + 1) + 2 * SFREQ * 3 * N_RECORDS)),
    st.tuples(st.just("grow"), st.integers(1, 4000)),
)


def mutate(data: bytes, mutations: list[tuple], size_op: tuple | None) -> bytes:
    """Overwrite header fields (space-padded, as EDF writers do) or bytes; then cut or grow the file."""
    buf = bytearray(data)
    for m in mutations:
        if m[0] == "main":
            off, width = MAIN_FIELDS[m[1]]
            buf[off : off + width] = m[2].ljust(width)[:width]
        elif m[0] == "signal":
            off, width = _signal_offset(m[1], m[2])
            buf[off : off + width] = m[3].ljust(width)[:width]
        elif m[0] == "nul":
            buf[m[1] : m[1] + m[2]] = b"\x00" * len(buf[m[1] : m[1] + m[2]])
        else:
            buf[m[1]] = m[2]
    out = bytes(buf)
    if size_op is not None:
        out = out[: size_op[1]] if size_op[0] == "cut" else out + b"\x01" * size_op[1]
    return out


def check_record(rec: Record, hdr: EdfHeader) -> None:
    """The invariants of a record read_eeg_file returns, against the header check."""
    c, t = rec.signal.shape
    assert rec.signal.dtype == np.float32 and 1 <= c <= len(hdr.data_channels) and t >= 1
    assert np.isfinite(rec.signal).all() and rec.units == "uV"
    assert np.isfinite(rec.sfreq) and rec.sfreq > 0 and rec.sfreq == pytest.approx(hdr.sfreq)
    assert t == hdr.n_times, "MNE read another number of samples than the header check computed"
    assert len(set(rec.channels)) == c and rec.positions is not None and rec.positions.shape == (c, 3)


def test_mutated_edf_headers_give_a_record_or_corrupt_record_error(base: bytes, tmp_path: Path) -> None:
    (tmp_path / "base.edf").write_bytes(base)
    valid = read_eeg_file(tmp_path / "base.edf")  # imports MNE outside the per-example time limit
    check_record(valid, read_edf_header(tmp_path / "base.edf"))
    assert valid.channels == NAMES and valid.signal.shape == (3, SFREQ * N_RECORDS)
    tally = Tally()
    scratch = Path(tempfile.mkdtemp(prefix="edf_fuzz_"))

    @settings(max_examples=220, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(mutations=st.lists(ops, min_size=1, max_size=3), size_op=size_ops)
    def prop(mutations: list[tuple], size_op: tuple | None) -> None:
        data = mutate(base, mutations, size_op)
        tally.input(data)
        path = scratch / f"{len(tally.seen)}.edf"
        path.write_bytes(data)
        got = outcome(lambda: read_eeg_file(path, record_id="fuzz"), (MissingPositionWarning,))
        if tally.is_record(got):
            check_record(got, read_edf_header(path, record_id="fuzz"))
        path.unlink()

    try:
        prop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    tally.check("mutated files")


def test_mixed_sampling_rates_are_refused_before_mne(tmp_path: Path) -> None:
    data = bytearray(write_base(tmp_path / "ok.edf"))
    off, width = _signal_offset("samples_per_record", 1)
    data[off : off + width] = b"50".ljust(width)  # Cz at 50 Hz, the others at 100 Hz
    (tmp_path / "mixed.edf").write_bytes(bytes(data))
    with pytest.raises(CorruptRecordError, match=r"mixes sampling rates.*'Fp1': 100, 'Cz': 50"):
        read_eeg_file(tmp_path / "mixed.edf", record_id="m")
    assert read_edf_header(tmp_path / "ok.edf").sfreq == SFREQ
