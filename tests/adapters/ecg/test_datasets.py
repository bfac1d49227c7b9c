"""ECG dataset sources (biojepa.adapters.ecg.datasets): prepare / open on the shared real files and on tiny
real-format fixtures, corpus-level quarantine, per-dataset normalisation and pretraining de-duplication.

Real data (``realdata``): the shared PTB-XL subset (folds 1-8, 80 records at 500 Hz) and the CinC-2020
samples of ``dx_blank/`` (A = CPSC, E = Georgia with its 4880/mV gain, HR = the PTB-XL copies at 200/mV,
S0001 at 1000 Hz). Fixtures: WFDB folders (wfdb.wrsamp), a CODE-15% part (h5py), a MIMIC-IV-ECG layout.
Every cache goes to a temporary directory.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from biojepa.adapters.ecg.leads import STANDARD_LEADS
from biojepa.adapters.ecg.synthetic import EcgSynthSpec, simulate_ecg
from biojepa.data.cache import Cache
from biojepa.data.sources import resolve_source
from biojepa.data.views import NormalizedStore
from biojepa.errors import ConfigError, DataError
from biojepa.models import get_spec

with warnings.catch_warnings():  # wfdb 4.3 uses an argument pandas 3.1 deprecates, at import time
    warnings.filterwarnings("ignore", message=".*inplace keyword.*", category=DeprecationWarning)
    wfdb = pytest.importorskip("wfdb")
h5py = pytest.importorskip("h5py")

PTBXL = ("ecg", "ptbxl_subset")
DX_BLANK = ("ecg", "cinc2020_samples", "dx_blank")
TINY = get_spec("ecg_vit_tiny").signal  # 100 Hz, 500 samples
XS = get_spec("ecg_vit_xs").signal  # 500 Hz, 5000 samples


def _path(root: Path, parts: Sequence[str]) -> Path:
    return root.joinpath(*parts)


def _fingerprint_groups(store: Any) -> dict[str, list[str]]:
    """fingerprint -> record ids, from the store's index (the fingerprint column of the cache)."""
    idx = store.index
    groups: dict[str, list[str]] = defaultdict(list)
    for rid, fp in zip(idx["record_id"], idx["fingerprint"], strict=True):
        groups[str(fp)].append(str(rid))
    return groups


def write_wfdb(folder: Path, name: str, x_mv: np.ndarray, sig_name: Sequence[str], sfreq: float = 500.0) -> Path:
    """Write a format-16 WFDB record (gain 1000/mV, units mV) from ``(C, T)`` mV samples."""
    folder.mkdir(parents=True, exist_ok=True)
    d = np.round(np.asarray(x_mv, dtype=np.float64) * 1000.0).astype(np.int64)  # (C, T)
    with warnings.catch_warnings():  # wfdb 4.3's writer calls a pandas-3.1-deprecated inplace method
        warnings.filterwarnings("ignore", message=".*inplace keyword.*", category=DeprecationWarning)
        wfdb.wrsamp(
            name,
            fs=sfreq,
            units=["mV"] * len(sig_name),
            sig_name=list(sig_name),
            d_signal=np.ascontiguousarray(d.T),  # (T, C)
            fmt=["16"] * len(sig_name),
            adc_gain=[1000.0] * len(sig_name),
            baseline=[0] * len(sig_name),
            write_dir=str(folder),
        )
    return folder / name


def _quantised(x_mv: np.ndarray) -> np.ndarray:
    """What a gain-1000 format-16 file stores, back in mV."""
    return np.round(np.asarray(x_mv, dtype=np.float64) * 1000.0) / 1000.0


# ---------------------------------------------------------------------------------------------------------
# 1. PTB-XL on the shared subset
@pytest.fixture(scope="module")
def ptbxl_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ptbxl_cache")


@pytest.mark.realdata
def test_ptbxl_prepare_folds_provenance_and_reuse(shared_data: Path, ptbxl_cache: Path) -> None:
    root = _path(shared_data, PTBXL)
    meta = pd.read_csv(root / "ptbxl_database.csv")
    n_expected = int(meta["strat_fold"].isin(range(1, 7)).sum())
    src = resolve_source("ptbxl")
    res = src.prepare(root, cache_dir=ptbxl_cache, sfreq=100.0, params={"folds": "1-6"})
    assert res.built and res.n_ok == n_expected and res.n_quarantined == 0
    prov = res.provenance
    assert prov["n_files_500hz"] + prov["n_files_100hz"] == res.n_ok
    assert prov["n_files_500hz"] > 0 and prov["n_files_missing"] == 0
    assert prov["folds"] == [1, 2, 3, 4, 5, 6] and {9, 10} <= set(prov["excluded_folds"])
    assert res.cache_path.is_relative_to(ptbxl_cache)
    cache = Cache.open(res.cache_path)
    assert set(cache.index["sfreq"]) == {100.0} and set(cache.index["fold"]) == {str(f) for f in range(1, 7)}
    assert set(cache.index["sfreq_native"].astype(float)) == {100.0, 500.0}
    again = src.prepare(root, cache_dir=ptbxl_cache, sfreq=100.0, params={"folds": "1-6"})
    assert not again.built and again.n_ok == res.n_ok and again.cache_path == res.cache_path
    assert again.provenance["n_files_500hz"] == prov["n_files_500hz"]


@pytest.mark.realdata
@pytest.mark.parametrize("folds", ["1-10", "9", "8-10", [9, 10]])
def test_ptbxl_heldout_folds_refused(shared_data: Path, tmp_path: Path, folds: Any) -> None:
    with pytest.raises(ConfigError, match="pretraining"):
        resolve_source("ptbxl").prepare(
            _path(shared_data, PTBXL), cache_dir=tmp_path, sfreq=100.0, params={"folds": folds}
        )
    assert not any(tmp_path.rglob("meta.json"))


@pytest.mark.realdata
def test_ptbxl_allow_heldout_and_unknown_param(shared_data: Path, tmp_path: Path) -> None:
    root = _path(shared_data, PTBXL)
    meta = pd.read_csv(root / "ptbxl_database.csv")
    src = resolve_source("ptbxl")
    loaders, prov, extra = src.loaders(root, 100.0, {"folds": "1,9", "allow_heldout": True})
    assert len(loaders) == int((meta["strat_fold"] == 1).sum())
    assert prov["folds"] == [1, 9] and 9 not in prov["excluded_folds"]
    assert extra["heldout_fingerprints"] == []  # the subset has no fold 9-10 records
    with pytest.raises(ConfigError, match="unknown parameter.*'fold'.*folds"):
        src.prepare(root, cache_dir=tmp_path, sfreq=100.0, params={"fold": "1-6"})
    with pytest.raises(ConfigError, match="auto, 500 or 100"):
        src.prepare(root, cache_dir=tmp_path, sfreq=100.0, params={"files": "250"})


@pytest.mark.realdata
def test_ptbxl_open_normalised_store_and_duplicates(shared_data: Path, ptbxl_cache: Path) -> None:
    root = _path(shared_data, PTBXL)
    store = resolve_source("ptbxl").open(root, cache_dir=ptbxl_cache, params={"folds": "1-6"}, signal=TINY)
    assert isinstance(store, NormalizedStore)
    meta = pd.read_csv(root / "ptbxl_database.csv")
    assert store.n_records == int(meta["strat_fold"].isin(range(1, 7)).sum())
    norm = store.normalization
    assert norm["method"] == "zscore" and norm["clip"] == 5.0 and norm["n_records"] == store.n_records
    assert len(norm["mean"]) == len(norm["std"]) == 12 and all(s > 0 for s in norm["std"])
    assert store.provenance["folds"] == [1, 2, 3, 4, 5, 6] and store.provenance["n_too_short"] == 0
    assert store.exclude_fingerprints == set()
    crop = store.crop(0, 123, TINY.n_times)
    assert crop.dtype == np.float32 and crop.shape == (12, TINY.n_times)
    x = np.concatenate([store.get(i) for i in range(store.n_records)], axis=1)  # (12, N * T)
    assert x.dtype == np.float32 and np.isfinite(x).all()
    assert np.abs(x).max() <= 5.0
    np.testing.assert_allclose(x.mean(axis=1), 0.0, atol=0.05)
    std = x.std(axis=1)
    assert (std > 0.85).all() and (std < 1.02).all(), std  # clipping at +-5 shrinks it a little
    # the statistics are cached beside the cache and reused
    saved = json.loads((store.store.root / "stats.json").read_text())
    np.testing.assert_allclose(saved["mean"], norm["mean"])
    # the release's exact duplicates (same patient, same timestamp) share a fingerprint, nothing else does
    groups = _fingerprint_groups(store)
    fp = {rid: f for f, rids in groups.items() for rid in rids}
    assert fp["456"] == fp["457"] and fp["459"] == fp["460"] and fp["456"] != fp["459"]
    shared = sorted(sorted(rids) for rids in groups.values() if len(rids) > 1)
    assert shared == [["456", "457"], ["459", "460"]]


# ---------------------------------------------------------------------------------------------------------
# 2. CinC 2020: the gain problem, per-dataset normalisation, HR copies, the 1000 Hz record
@pytest.mark.realdata
def test_cinc_gain_error_is_absorbed_by_per_dataset_normalisation(shared_data: Path, tmp_path: Path) -> None:
    root = _path(shared_data, DX_BLANK)
    raw_std: dict[str, float] = {}
    for ds_id, prefix in (("cpsc", "A"), ("georgia", "E")):
        src = resolve_source(ds_id)
        res = src.prepare(root, cache_dir=tmp_path, sfreq=500.0, params={"prefixes": prefix})
        assert res.n_ok == 10 and res.n_quarantined == 0
        cache = Cache.open(res.cache_path)
        assert all(r.startswith(prefix) for r in cache.index["record_id"])
        raw_std[ds_id] = float(np.median([np.asarray(cache.get(i), np.float64).std() for i in range(10)]))
        store = src.open(root, cache_dir=tmp_path, params={"prefixes": prefix}, signal=XS)
        assert store.n_records == 10
        x = np.concatenate([store.get(i) for i in range(store.n_records)], axis=1)  # (12, N * T)
        std = x.std(axis=1)
        assert (std > 0.7).all() and (std < 1.3).all(), (ds_id, std)
        np.testing.assert_allclose(x.mean(axis=1), 0.0, atol=0.1)
    # 4880/mV instead of 1000/mV: Georgia's millivolts are several times too small
    assert raw_std["cpsc"] > 3.0 * raw_std["georgia"], raw_std


@pytest.mark.realdata
def test_cinc_ptbxl_copies_and_wrong_rate_quarantined(shared_data: Path, tmp_path: Path) -> None:
    root = _path(shared_data, DX_BLANK)
    names = sorted(p.stem for p in root.glob("*.hea"))
    n_hr = sum(n.startswith("HR") for n in names)
    assert n_hr == 7
    src = resolve_source("cpsc")
    res = src.prepare(root, cache_dir=tmp_path, sfreq=500.0, params={"max_bad_fraction": 0.5})
    assert res.provenance["n_excluded_ptbxl_copies"] == n_hr
    assert res.n_quarantined == 1
    q = pd.read_csv(res.cache_path / "quarantine.csv")
    assert q["record_id"].tolist() == ["S0001"]
    assert "1000 Hz" in q["reason"][0] and "500 Hz" in q["reason"][0] and "sampling rate" in q["reason"][0]
    ids = set(Cache.open(res.cache_path).index["record_id"])
    assert ids == {n for n in names if not n.startswith(("HR", "S"))}
    assert res.n_ok == len(names) - n_hr - 1
    with_copies = src.prepare(
        root, cache_dir=tmp_path, sfreq=500.0, params={"max_bad_fraction": 0.5, "include_ptbxl_copies": True}
    )
    assert with_copies.cache_path != res.cache_path
    ids = set(Cache.open(with_copies.cache_path).index["record_id"])
    assert ids == set(names) - {"S0001"}


# ---------------------------------------------------------------------------------------------------------
# 3. De-duplication end to end (run_pretrain)
def _pretrain(cache: Path, out: Path, sources: list[dict[str, Any]]) -> dict[str, Any]:
    from biojepa.config import resolve_config
    from biojepa.engine.pretrain import run_pretrain

    cfg = resolve_config(
        "ecg/demo",
        [
            "engine.steps=2",
            "data.batch_size=4",
            f"data.cache_dir={cache}",
            "log.progress=none",
            "model.overrides.encoder.depth=1",
            "model.overrides.predictor.depth=1",
            "data.sources=" + json.dumps(sources),
        ],
    )
    return run_pretrain(cfg, out)


@pytest.mark.realdata
def test_pretrain_drops_hr_copies_of_ptbxl(shared_data: Path, tmp_path: Path) -> None:
    ptbxl_root = _path(shared_data, PTBXL)
    dx_root = _path(shared_data, DX_BLANK)
    hr_ids = sorted(int(p.stem[2:]) for p in dx_root.glob("HR*.hea"))
    n_expected = sum((ptbxl_root / "records500" / "00000" / f"{i:05d}_hr.dat").is_file() for i in hr_ids)
    assert n_expected > 0
    sources = [
        {"id": "ptbxl", "root": str(ptbxl_root), "params": {"folds": "1-8"}},
        {"id": "cpsc", "root": str(dx_root), "params": {"include_ptbxl_copies": True, "prefixes": ["A", "HR"]}},
    ]
    res = _pretrain(tmp_path / "cache", tmp_path / "run", sources)
    assert res["status"] == "ok" and res["steps"] == 2
    cpsc = res["datasets"]["cpsc"]
    assert cpsc["n_duplicates_dropped"] == n_expected
    assert cpsc["n_records"] == 10 + len(hr_ids) - n_expected
    # PTB-XL itself holds two exact duplicate pairs (456 = 457, 459 = 460): the second of each is dropped
    assert res["datasets"]["ptbxl"]["n_duplicates_dropped"] >= 2


@pytest.mark.realdata
def test_pretrain_source_made_only_of_copies_is_refused(shared_data: Path, tmp_path: Path) -> None:
    sources = [
        {"id": "ptbxl", "root": str(_path(shared_data, PTBXL)), "params": {"folds": "1-8"}},
        {"id": "cpsc", "root": str(_path(shared_data, DX_BLANK)),
         "params": {"include_ptbxl_copies": True, "prefixes": "HR"}},
    ]
    with pytest.raises(ConfigError, match="'cpsc'.*every record duplicates"):
        _pretrain(tmp_path / "cache", tmp_path / "run", sources)


@pytest.mark.realdata
def test_pretrain_drops_copies_of_heldout_records(shared_data: Path, tmp_path: Path) -> None:
    src_root = _path(shared_data, PTBXL)
    root = tmp_path / "ptbxl"
    root.mkdir()
    for name in ("records100", "records500", "scp_statements.csv"):
        (root / name).symlink_to(src_root / name)
    meta = pd.read_csv(src_root / "ptbxl_database.csv")
    meta.loc[meta["ecg_id"].isin([1, 2, 3]), "strat_fold"] = 10
    meta.to_csv(root / "ptbxl_database.csv", index=False)
    dx_root = _path(shared_data, DX_BLANK)
    cache = tmp_path / "cache"
    params = {"folds": "1-8"}
    sources = [
        {"id": "ptbxl", "root": str(root), "params": params},
        {"id": "cpsc", "root": str(dx_root), "params": {"include_ptbxl_copies": True, "prefixes": ["A", "HR"]}},
    ]
    res = _pretrain(cache, tmp_path / "run", sources)
    # HR00001-3 are copies of held-out records, HR00004-7 of training records: all seven are dropped
    assert res["datasets"]["cpsc"]["n_duplicates_dropped"] == 7
    assert res["datasets"]["cpsc"]["n_records"] == 10

    # the expected training list: PTB-XL folds 1-8 minus its own later duplicates, plus A0001-A0010
    pcache = Cache.open(resolve_source("ptbxl").cache_path(root, cache, 100.0, params))
    ptbxl_ids = set(pcache.index["record_id"])
    assert ptbxl_ids == {str(i) for i in meta.loc[meta["strat_fold"] <= 8, "ecg_id"]}
    assert not {"1", "2", "3"} & ptbxl_ids
    dup_later = {
        rid for rids in _fingerprint_groups(pcache).values() for rid in sorted(rids, key=int)[1:]
    }
    assert {"457", "460"} <= dup_later
    lines = sorted(
        [f"ptbxl/{r}" for r in ptbxl_ids - dup_later] + [f"cpsc/A{i:04d}" for i in range(1, 11)]
    )
    card = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    training = card["training"]
    assert training["n_training_records"] == len(lines)
    assert training["record_list_sha256"] == hashlib.sha256("\n".join(lines).encode()).hexdigest()
    prov = training["datasets"]["ptbxl"]["provenance"]
    assert {9, 10} <= set(prov["excluded_folds"])
    assert prov["n_heldout_fingerprints"] == 6  # ecg_id 1-3, each at 100 and 500 Hz
    stats = card["signal"]["normalization"]["stats"]
    assert len(stats["mean"]) == len(stats["std"]) == 12 and all(s > 0 for s in stats["std"])
    assert set(stats["per_dataset"]) == {"ptbxl", "cpsc"}
    assert all(len(v["mean"]) == 12 for v in stats["per_dataset"].values())


# ---------------------------------------------------------------------------------------------------------
# 4. Bad input at corpus level
BAD_IDS = ("bad_nodat", "bad_truncated", "bad_flat", "bad_duplead", "bad_gain0")


def _wfdb_corpus(root: Path) -> dict[str, np.ndarray]:
    """6 good synthetic records + 5 broken ones; returns the good signals (mV, (12, T)) by record id."""
    x, _ = simulate_ecg(EcgSynthSpec(n_records=11, sfreq=500.0, duration_s=2.0, seed=3))  # (11, 12, 1000)
    good = {f"good{i}": x[i] for i in range(6)}
    for rid, sig in good.items():
        write_wfdb(root, rid, sig, STANDARD_LEADS)
    write_wfdb(root, "bad_nodat", x[6], STANDARD_LEADS)
    (root / "bad_nodat.dat").unlink()
    write_wfdb(root, "bad_truncated", x[7], STANDARD_LEADS)
    dat = root / "bad_truncated.dat"
    dat.write_bytes(dat.read_bytes()[: dat.stat().st_size // 2])
    flat = x[8].copy()
    flat[4] = 0.0  # aVL disconnected
    write_wfdb(root, "bad_flat", flat, STANDARD_LEADS)
    write_wfdb(root, "bad_duplead", x[9], STANDARD_LEADS)  # wfdb refuses to write a repeated name
    hea = root / "bad_duplead.hea"
    lines = hea.read_text().splitlines()
    assert lines[12].endswith(" V6")
    lines[12] = lines[12][: -len("V6")] + "V5"
    hea.write_text("\n".join(lines) + "\n")
    write_wfdb(root, "bad_gain0", x[10], STANDARD_LEADS)
    hea = root / "bad_gain0.hea"
    text = hea.read_text()
    assert "1000.0(0)/mV" in text
    hea.write_text(text.replace("1000.0(0)/mV", "0(0)/mV", 1))  # gain 0 on lead I
    return good


def test_wfdb_folder_quarantines_bad_records(tmp_path: Path) -> None:
    root = tmp_path / "wfdb"
    good = _wfdb_corpus(root)
    src = resolve_source("wfdb")
    strict = tmp_path / "strict"
    with pytest.raises(DataError, match=r"5 of 11 .*quarantine\.csv") as exc:
        src.prepare(root, cache_dir=strict, sfreq=500.0, params={"max_bad_fraction": 0.1})
    reports = list(strict.rglob("*.quarantine.csv"))
    assert len(reports) == 1 and str(reports[0]) in str(exc.value)
    assert set(pd.read_csv(reports[0])["record_id"]) == set(BAD_IDS)
    assert not list(strict.rglob("meta.json"))

    res = src.prepare(root, cache_dir=tmp_path / "cache", sfreq=500.0, params={"max_bad_fraction": 0.5})
    assert res.built and res.n_ok == 6 and res.n_quarantined == 5
    q = pd.read_csv(res.cache_path / "quarantine.csv")
    reasons = dict(zip(q["record_id"], q["reason"], strict=True))
    assert set(reasons) == set(BAD_IDS) and len(q) == 5
    assert "missing" in reasons["bad_nodat"] and "bad_nodat.dat" in reasons["bad_nodat"]
    assert "truncated" in reasons["bad_truncated"]
    assert "flat lead aVL" in reasons["bad_flat"]
    assert "duplicate lead 'V5'" in reasons["bad_duplead"]
    assert "gain 0" in reasons["bad_gain0"]
    cache = Cache.open(res.cache_path)
    assert sorted(cache.index["record_id"]) == sorted(good)
    for i in range(cache.n_records):
        rid = cache.record_id(i)
        assert cache.channels(i) == STANDARD_LEADS and cache.index["sfreq"][i] == 500.0
        np.testing.assert_allclose(
            np.asarray(cache.get(i), np.float64), _quantised(good[rid]), rtol=1e-3, atol=1e-3, err_msg=rid
        )


def test_reused_cache_respects_a_stricter_max_bad_fraction(tmp_path: Path) -> None:
    """A cache built with max_bad_fraction=0.5 holds 5/11 quarantined records; asking again with 0.1 must
    not silently reuse it (DESIGN §6: fail above the configured fraction; nothing is lost silently)."""
    root = tmp_path / "wfdb"
    _wfdb_corpus(root)
    src = resolve_source("wfdb")
    src.prepare(root, cache_dir=tmp_path / "cache", sfreq=500.0, params={"max_bad_fraction": 0.5})
    with pytest.raises(DataError, match="quarantine"):
        src.prepare(root, cache_dir=tmp_path / "cache", sfreq=500.0, params={"max_bad_fraction": 0.1})


# ---------------------------------------------------------------------------------------------------------
# 5. CODE-15%: trimming, 400 -> 500 Hz, 0.5 Hz high-pass, exam_id 0
def _low_freq_power(x: np.ndarray, sfreq: float, f_max: float = 0.3) -> float:
    """Mean square (mV^2) of the part of ``x`` (C, T) below ``f_max`` Hz (DC included)."""
    spec = np.fft.rfft(np.asarray(x, np.float64), axis=-1)  # (C, F)
    freqs = np.fft.rfftfreq(x.shape[-1], d=1.0 / sfreq)
    spec[:, freqs > f_max] = 0.0
    low = np.fft.irfft(spec, n=x.shape[-1], axis=-1)  # (C, T)
    return float((low**2).mean())


def test_code15_trim_resample_highpass_and_padding_rows(tmp_path: Path) -> None:
    sig, _ = simulate_ecg(EcgSynthSpec(n_records=3, sfreq=400.0, duration_s=4096 / 400.0, seed=5))  # (3, 12, 4096)
    t = np.arange(4096) / 400.0
    drift = 1.0 * np.sin(2 * np.pi * 0.1 * t + 0.3)  # (T,) 0.1 Hz baseline drift, 1 mV
    spans = {21: (100, 4000), 22: (0, 4096)}
    tr = np.zeros((3, 4096, 12), np.float32)  # (N, T, C) as in CODE-15%
    inputs: dict[str, np.ndarray] = {}
    for row, (eid, (a, b)) in enumerate(spans.items()):
        x = sig[row] + drift[None, :]  # (12, T)
        tr[row, a:b] = x[:, a:b].T
        inputs[str(eid)] = x[:, a:b]
    tr[2] = (sig[2] + drift[None, :]).T  # a padding row (exam_id 0) with data in it: still skipped
    with h5py.File(tmp_path / "exams_part0.hdf5", "w") as f:
        f.create_dataset("tracings", data=tr)
        f.create_dataset("exam_id", data=np.array([21, 22, 0], np.int64))
    (tmp_path / "exams.csv").write_text(
        "exam_id,age,is_male,patient_id,trace_file\n21,60,True,1,exams_part0.hdf5\n22,70,False,2,exams_part0.hdf5\n"
    )
    res = resolve_source("code15").prepare(tmp_path, cache_dir=tmp_path / "cache", sfreq=500.0)
    assert res.n_ok == 2 and res.n_quarantined == 0
    cache = Cache.open(res.cache_path)
    assert sorted(cache.index["record_id"]) == ["21", "22"]
    for i in range(cache.n_records):
        rid = cache.record_id(i)
        a, b = spans[int(rid)]
        assert cache.n_times(i) == round((b - a) * 500 / 400)
        assert cache.index["sfreq"][i] == 500.0 and float(cache.index["sfreq_native"][i]) == 400.0
        out = np.asarray(cache.get(i), np.float64)  # (12, T')
        before = _low_freq_power(inputs[rid], 400.0)
        after = _low_freq_power(out, 500.0)
        assert after < 0.05 * before, (rid, before, after)
        # the ECG itself survives the filter
        assert out.std() > 0.5 * np.asarray(sig[0], np.float64).std()


# ---------------------------------------------------------------------------------------------------------
# 6. MIMIC-IV-ECG: aVF stored before aVL
def test_mimic_lead_order_restored(tmp_path: Path) -> None:
    x, _ = simulate_ecg(EcgSynthSpec(n_records=1, sfreq=500.0, duration_s=2.0, seed=7))
    std = x[0]  # (12, T) in standard order
    file_order = ["I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"]
    perm = [STANDARD_LEADS.index(n) for n in file_order]
    rel = "files/p1000/p10000001/s1/s1"
    write_wfdb(tmp_path / "files" / "p1000" / "p10000001" / "s1", "s1", std[perm], file_order)
    (tmp_path / "record_list.csv").write_text(f"subject_id,study_id,file_name,ecg_time,path\n10000001,1,s1,,{rel}\n")
    res = resolve_source("mimic_iv_ecg").prepare(tmp_path, cache_dir=tmp_path / "cache", sfreq=500.0)
    assert res.n_ok == 1 and res.n_quarantined == 0
    cache = Cache.open(res.cache_path)
    assert cache.record_id(0) == rel and cache.channels(0) == STANDARD_LEADS
    got = np.asarray(cache.get(0), np.float64)
    np.testing.assert_allclose(got, _quantised(std), rtol=1e-3, atol=1e-3)
    # rows 4 and 5 really are aVL and aVF (not just equal up to a swap): aVL = I - II / 2
    assert not np.allclose(got[4], got[5], atol=1e-2)
    np.testing.assert_allclose(got[4], got[0] - got[1] / 2, atol=5e-3)


# ---------------------------------------------------------------------------------------------------------
# 7. The embedded synthetic corpus
def test_ecg_synthetic_open(tmp_path: Path) -> None:
    src = resolve_source("ecg_synthetic")
    store = src.open(None, cache_dir=tmp_path, params={"n_records": 8}, signal=TINY)
    assert isinstance(store, NormalizedStore) and store.n_records == 8
    assert store.store.sfreq == 100.0 and store.n_times(0) == 1000  # 10 s at 100 Hz
    assert store.channels(0) == STANDARD_LEADS
    assert store.labels is not None and store.labels.shape == (8,)
    norm = store.normalization
    assert norm["method"] == "zscore" and len(norm["mean"]) == len(norm["std"]) == 12 and norm["n_records"] == 8
    x = np.concatenate([store.get(i) for i in range(8)], axis=1)  # (12, 8 * T)
    assert x.dtype == np.float32 and np.abs(x).max() <= 5.0
    np.testing.assert_allclose(x.mean(axis=1), 0.0, atol=0.05)
    assert not any(tmp_path.iterdir())  # nothing is written for generated data
    with pytest.raises(ConfigError, match="do not pass a directory"):
        src.open(tmp_path, cache_dir=tmp_path, params={"n_records": 8}, signal=TINY)
    with pytest.raises(ConfigError, match="unknown ecg_synthetic parameter"):
        src.open(None, cache_dir=tmp_path, params={"n_recs": 8}, signal=TINY)
