"""Fuzzing the WFDB reader: mutated ``.hea`` headers (and data files) give a valid Record or CorruptRecordError.

A valid 12-lead record is written once with ``wfdb.wrsamp``; every example applies 1-3 textual mutations to
its header (token swaps and deletions, ``fs`` in {0, -1, 'abc', 1e9, nan, ...}, ``n_sig`` +-k, ``sig_len`` +-k
and huge, gain 0, unknown format codes, truncated or duplicated lines, data file names with a directory,
random bytes) and optionally truncates or extends the ``.dat`` file, then reads it with
:func:`~biojepa.adapters.ecg.readers.read_wfdb` (and checks it with ``check_wfdb_header``). Derandomized by
the ``deterministic`` hypothesis profile of ``tests/conftest.py``.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from biojepa.adapters.ecg.leads import STANDARD_LEADS
from biojepa.adapters.ecg.readers import MAX_WFDB_SAMPLES, check_wfdb_header, read_wfdb
from biojepa.data.record import Record
from tests.fuzz._harness import Tally, outcome

with warnings.catch_warnings():  # wfdb 4.3 uses an argument pandas 3.1 deprecates, at import time
    warnings.filterwarnings("ignore", message=".*inplace keyword.*", category=DeprecationWarning)
    wfdb = pytest.importorskip("wfdb")

N_TIMES = 200
SFREQ = 500.0

FS_VALUES = ["0", "-1", "abc", "1e9", "nan", "inf", "", "500/0", "-0", "1e-300", "250", "1000", "500(0)"]
INT_VALUES = ["0", "-1", "1", "11", "13", "99999999999999", "abc", "", "1.5", "1e3"]
GAIN_VALUES = [
    "0",
    "0/mV",
    "nan/mV",
    "-1000/mV",
    "1e400/mV",
    "1e-300/mV",
    "abc",
    "1000(5)/uV",
    "1000/furlong",
    "1000(x)/mV",
    "",
]
FMT_VALUES = ["999", "16x0", "16x1000000", "212", "8", "24", "16+99999999", "16:5", "310", "0", "16x2", "x16"]
NAME_VALUES = ["../base.dat", "/etc/hostname", "other.dat", "~", "base.dat", "..", "sub/base.dat"]
LEAD_VALUES = ["aVR", "I", "V7", "", "avf", "MLII", "lead\x00"]


def _base_record(folder: Path) -> tuple[bytes, bytes]:
    rng = np.random.default_rng(0)
    t = np.arange(N_TIMES) / SFREQ
    x = np.stack([np.sin(2 * np.pi * (1 + k) * t) + 0.1 * rng.standard_normal(N_TIMES) for k in range(12)])
    d = np.round(x * 1000).astype(np.int64)  # (12, T) digital values, gain 1000/mV
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*inplace keyword.*", category=DeprecationWarning)
        wfdb.wrsamp(
            "base",
            fs=SFREQ,
            units=["mV"] * 12,
            sig_name=list(STANDARD_LEADS),
            d_signal=np.ascontiguousarray(d.T),
            fmt=["16"] * 12,
            adc_gain=[1000.0] * 12,
            baseline=[0] * 12,
            write_dir=str(folder),
        )
    return (folder / "base.hea").read_bytes(), (folder / "base.dat").read_bytes()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    return _base_record(tmp_path_factory.mktemp("wfdb_base"))


line_idx = st.integers(0, 12)
header_ops = st.one_of(
    st.tuples(st.just("fs"), st.sampled_from(FS_VALUES)),
    st.tuples(st.just("n_sig"), st.sampled_from(INT_VALUES)),
    st.tuples(st.just("sig_len"), st.one_of(st.sampled_from(INT_VALUES), st.integers(-5, 10**13).map(str))),
    st.tuples(st.just("sig_len_delta"), st.integers(-3, 3)),
    st.tuples(st.just("gain"), line_idx.filter(bool), st.sampled_from(GAIN_VALUES)),
    st.tuples(st.just("fmt"), line_idx.filter(bool), st.sampled_from(FMT_VALUES)),
    st.tuples(st.just("file"), line_idx.filter(bool), st.sampled_from(NAME_VALUES)),
    st.tuples(st.just("lead"), line_idx.filter(bool), st.sampled_from(LEAD_VALUES)),
    st.tuples(st.just("token"), line_idx, st.integers(0, 9), st.text(max_size=6)),
    st.tuples(st.just("swap"), line_idx, st.integers(0, 9), st.integers(0, 9)),
    st.tuples(st.just("drop_token"), line_idx, st.integers(0, 9)),
    st.tuples(st.just("truncate_line"), line_idx, st.integers(0, 40)),
    st.tuples(st.just("drop_line"), line_idx),
    st.tuples(st.just("dup_line"), line_idx),
    st.tuples(st.just("bytes"), st.integers(0, 900), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("cut_header"), st.integers(0, 900)),
)
dat_ops = st.one_of(
    st.none(),
    st.tuples(st.just("cut_dat"), st.integers(0, 12 * N_TIMES * 2)),
    st.tuples(st.just("grow_dat"), st.integers(1, 64)),
)


def _set_token(lines: list[list[str]], li: int, ti: int, value: str) -> None:
    if li < len(lines) and lines[li]:
        toks = lines[li]
        toks[min(ti, len(toks) - 1)] = value


def mutate(hea: bytes, dat: bytes, ops: list[tuple], dat_op: tuple | None) -> tuple[bytes, bytes]:
    """Apply header mutations (token level, then byte level) and an optional data-file mutation."""
    lines = [ln.split(" ") for ln in hea.decode("latin-1").splitlines()]
    raw_ops = []
    for op in ops:
        kind = op[0]
        if kind == "fs":
            _set_token(lines, 0, 2, op[1])
        elif kind == "n_sig":
            _set_token(lines, 0, 1, op[1])
        elif kind == "sig_len":
            _set_token(lines, 0, 3, op[1])
        elif kind == "sig_len_delta":
            _set_token(lines, 0, 3, str(N_TIMES + op[1]))
        elif kind in ("gain", "fmt", "file", "lead"):
            _set_token(lines, op[1], {"gain": 2, "fmt": 1, "file": 0, "lead": 8}[kind], op[2])
        elif kind == "token":
            _set_token(lines, op[1], op[2], op[3])
        elif kind == "swap" and op[1] < len(lines):
            toks = lines[op[1]]
            i, j = op[2] % len(toks), op[3] % len(toks)
            toks[i], toks[j] = toks[j], toks[i]
        elif kind == "drop_token" and op[1] < len(lines) and lines[op[1]]:
            del lines[op[1]][op[2] % len(lines[op[1]])]
        elif kind == "truncate_line" and op[1] < len(lines):
            lines[op[1]] = " ".join(lines[op[1]])[: op[2]].split(" ")
        elif kind == "drop_line" and op[1] < len(lines):
            del lines[op[1]]
        elif kind == "dup_line" and op[1] < len(lines):
            lines.insert(op[1], list(lines[op[1]]))
        else:
            raw_ops.append(op)
    out = ("\n".join(" ".join(t) for t in lines) + "\n").encode("latin-1", errors="replace")
    for op in raw_ops:
        if op[0] == "bytes":
            pos = op[1] % max(len(out), 1)
            out = out[:pos] + op[2] + out[pos + len(op[2]) :]
        elif op[0] == "cut_header":
            out = out[: op[1]]
    if dat_op is not None:
        dat = dat[: dat_op[1]] if dat_op[0] == "cut_dat" else dat + b"\x7f" * dat_op[1]
    return out, dat


def check_record(rec: Record) -> None:
    """The invariants of a record read_wfdb returns."""
    assert rec.signal.dtype == np.float32 and rec.signal.ndim == 2
    assert rec.channels == STANDARD_LEADS and rec.signal.shape[0] == 12
    assert 1 <= rec.signal.shape[1] <= MAX_WFDB_SAMPLES
    assert np.isfinite(rec.signal).all()
    assert np.isfinite(rec.sfreq) and rec.sfreq > 0 and rec.units == "mV"


def test_mutated_wfdb_headers_give_a_record_or_corrupt_record_error(
    base: tuple[bytes, bytes], tmp_path: Path
) -> None:
    hea, dat = base
    (tmp_path / "base.hea").write_bytes(hea)
    (tmp_path / "base.dat").write_bytes(dat)
    check_record(read_wfdb(tmp_path / "base"))  # the unmutated record is valid (and wfdb is imported)
    tally = Tally()
    scratch = Path(tempfile.mkdtemp(prefix="wfdb_fuzz_"))

    @settings(max_examples=220, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(ops=st.lists(header_ops, min_size=1, max_size=3), dat_op=dat_ops)
    def prop(ops: list[tuple], dat_op: tuple | None) -> None:
        new_hea, new_dat = mutate(hea, dat, ops, dat_op)
        tally.input(new_hea + b"|" + new_dat)
        folder = Path(tempfile.mkdtemp(dir=scratch))
        (folder / "base.hea").write_bytes(new_hea)
        (folder / "base.dat").write_bytes(new_dat)
        got = outcome(lambda: read_wfdb(folder / "base", record_id="fuzz"))
        header_ok = outcome(lambda: check_wfdb_header(folder / "base", record_id="fuzz"))
        if tally.is_record(got):
            check_record(got)
            assert isinstance(header_ok, dict), "read_wfdb read a record whose header check failed"
        shutil.rmtree(folder, ignore_errors=True)

    try:
        prop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    tally.check("mutated records")
