"""The memory-mapped cache on real PTB-XL WFDB recordings (shared data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biojepa.data import Cache, Record, build_cache
from biojepa.errors import CorruptRecordError


@pytest.mark.realdata
def test_cache_round_trip_on_real_ptbxl_records(shared_data: Path, tmp_path: Path) -> None:
    wfdb = pytest.importorskip("wfdb")
    root = shared_data / "ecg" / "ptbxl_subset" / "records500" / "00000"
    heads = sorted(root.glob("*_hr.hea"))[:6]
    assert len(heads) == 6, f"expected real PTB-XL records under {root}"
    raw: dict[str, np.ndarray] = {}

    def reader(path: Path):  # -> Callable[[], Record]
        def read() -> Record:
            sig, fields = wfdb.rdsamp(str(path.with_suffix("")))
            x = np.ascontiguousarray(sig.T, dtype=np.float32)  # (T, C) -> (C, T)
            raw[path.stem] = x
            return Record(signal=x, sfreq=float(fields["fs"]), channels=tuple(fields["sig_name"]),
                          units=fields["units"][0], record_id=path.stem)
        return read

    def broken() -> Record:
        raise CorruptRecordError("00000_broken", "header truncated")

    report = build_cache([*(reader(h) for h in heads), broken], tmp_path / "cache", dataset_id="ptbxl",
                         max_bad_fraction=0.5)
    assert report.n_ok == 6 and report.n_quarantined == 1
    cache = Cache.open(tmp_path / "cache")
    assert cache.n_records == 6
    for i in range(cache.n_records):
        rid = cache.record_id(i)
        x = raw[rid]
        assert cache.get(i).shape == (12, 5000)
        assert cache.channels(i)[:3] == ("I", "II", "III")
        # float16 storage: relative error below 2^-10 of the value plus a tiny absolute floor (mV)
        np.testing.assert_allclose(cache.crop(i, 1000, 2500), x[:, 1000:3500], rtol=1e-3, atol=1e-3)
    quarantine = (tmp_path / "cache" / "quarantine.csv").read_text()
    assert "header truncated" in quarantine
