"""Tests of the fMRI dataset sources (biojepa.adapters.fmri.datasets) and the synthetic corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io

from biojepa.adapters.fmri.connectivity import fc_matrix
from biojepa.adapters.fmri.datasets import (
    FmriFileSource,
    RecordScaledStore,
    load_fmri_records,
    preprocess_series,
)
from biojepa.adapters.fmri.rois import AAL116
from biojepa.adapters.fmri.synthetic import FmriSynthSpec, simulate_fmri
from biojepa.adapters.fmri.transforms import resample_tr
from biojepa.data.sources import resolve_source
from biojepa.errors import ConfigError, ContractError, DataError
from biojepa.models import get_spec

TINY = get_spec("fmri_vit_tiny").signal  # AAL-116, TR 2.2 s, 80 frames, robust


def write_abide(
    root: Path,
    *,
    sites: dict[str, tuple[int, float, int]] | None = None,
    names: list[str] | None = None,
    zero_var: dict[str, list[int]] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """An ABIDE-style folder: participants.csv, timeseries/<id>.mat (ROISignals, time x ROI), aal116_rois.csv.

    ``sites`` maps a site to (subjects, TR, frames).
    """
    rng = np.random.default_rng(seed)
    sites = sites or {"PITT": (4, 1.5, 140), "OLIN": (4, 1.5, 150), "OHSU": (2, 2.5, 90)}
    names = list(AAL116) if names is None else names
    (root / "timeseries").mkdir(parents=True)
    pd.DataFrame({"num": range(1, len(names) + 1), "name": names}).to_csv(root / "aal116_rois.csv", index=False)
    rows = []
    sid = 50000
    for site, (n, tr, t) in sites.items():
        for j in range(n):
            sid += 1
            x = rng.normal(size=(t, len(names))) + 3.0 * rng.normal(size=(1, len(names)))  # time x ROI, offsets
            for r in (zero_var or {}).get(str(sid), []):
                x[:, r] = 0.25
            scipy.io.savemat(root / "timeseries" / f"{sid}.mat", {"ROISignals": x})
            rows.append({"subject_id": sid, "site": site, "dx_asd": (j + (site == "OHSU")) % 2,
                         "age": 10.0 + j, "sex": "MF"[j % 2], "tr_s": tr, "func_mean_fd": 0.05 * (j + 1),
                         "n_timepoints": t})
    table = pd.DataFrame(rows)
    table.to_csv(root / "participants.csv", index=False)
    return table


@pytest.fixture()
def abide(tmp_path: Path) -> Path:
    root = tmp_path / "abide"
    write_abide(root, zero_var={"50002": [100, 101]})
    return root


def test_sources_and_cards_are_registered() -> None:
    for ds_id in ("abide_roi", "roi_dir", "fmri_synthetic"):
        src = resolve_source(ds_id)
        assert src.card.modality == "fmri" and src.id == ds_id


def test_preprocess_series_resamples_and_demeans() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 100)) + 50.0
    y = preprocess_series(x, 1.1, 2.2)
    assert y.dtype == np.float32 and y.shape == (3, 50)
    np.testing.assert_allclose(y.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(y, x[:, ::2] - x[:, ::2].mean(axis=1, keepdims=True), atol=1e-4)


def test_abide_open_builds_a_demeaned_robust_cache_and_reuses_it(abide: Path, tmp_path: Path) -> None:
    src = resolve_source("abide_roi")
    store = src.open(abide, cache_dir=tmp_path / "cache", params={}, signal=TINY)
    # OHSU: 90 frames at 2.5 s = 225 s -> 102 frames at 2.2 s; PITT 140 x 1.5 -> 95; every record >= 80 frames
    assert store.n_records == 10
    assert store.lengths.tolist()[:4] == [int((139 * 1.5) / 2.2) + 1] * 4
    norm = store.normalization
    assert norm["method"] == "robust" and len(norm["mean"]) == len(norm["std"]) == 116
    assert norm["n_records"] == 10
    x = store.get(1)  # subject 50002: two zero-variance ROIs
    assert np.isfinite(x).all() and x.shape[0] == 116
    raw = np.asarray(store.store.get(1))  # the cache: demeaned ROI series
    np.testing.assert_allclose(raw.mean(axis=1), 0.0, atol=2e-3)
    np.testing.assert_allclose(raw[100], 0.0, atol=1e-6)
    assert store.provenance["subjects_used"] == [str(s) for s in range(50001, 50011)]
    assert store.provenance["native_tr_s"] == [1.5, 2.5] and store.provenance["tr_s"] == 2.2
    again = src.prepare(abide, cache_dir=tmp_path / "cache", tr_s=2.2, channels=list(AAL116), params={})
    assert not again.built and again.n_ok == 10


def test_abide_selection_parameters(abide: Path, tmp_path: Path) -> None:
    src = resolve_source("abide_roi")
    kw = {"cache_dir": tmp_path / "c", "signal": TINY}
    assert src.open(abide, params={"sites": ["PITT", "ohsu"]}, **kw).n_records == 6
    assert src.open(abide, params={"subjects": "50001,50005"}, **kw).n_records == 2
    assert src.open(abide, params={"exclude_subjects": [50001]}, **kw).n_records == 9
    st = src.open(abide, params={"max_mean_fd": 0.12}, **kw)  # j = 0, 1 of each site pass
    assert st.n_records == 6
    assert len(st.provenance["excluded"]) == 4 and all("max_mean_fd" in v for v in st.provenance["excluded"].values())
    with pytest.raises(ConfigError, match="not in"):
        src.open(abide, params={"sites": ["NYU"]}, **kw)
    with pytest.raises(ConfigError, match="unknown parameter"):
        src.open(abide, params={"folds": 1}, **kw)
    with pytest.raises(ConfigError, match="not among"):
        src.open(abide, params={"subjects": ["1"]}, **kw)


def test_rois_are_matched_by_name(tmp_path: Path) -> None:
    root = tmp_path / "perm"
    perm = np.random.default_rng(1).permutation(116)
    write_abide(root, sites={"PITT": (2, 2.2, 90)}, names=[AAL116[i] for i in perm])
    src = resolve_source("abide_roi")
    rec = src.open(root, cache_dir=tmp_path / "c", params={}, signal=TINY.model_copy(
        update={"normalization": TINY.normalization.model_copy(update={"method": "none"})}))
    mat = scipy.io.loadmat(root / "timeseries" / "50001.mat")["ROISignals"].T  # (R, T) in the file's order
    expected = preprocess_series(mat, 2.2, 2.2)
    inv = np.argsort(perm)  # file row of each AAL ROI
    np.testing.assert_allclose(rec.get(0), expected[inv], atol=1e-2)


def test_other_atlas_is_refused_or_quarantined(tmp_path: Path) -> None:
    root = tmp_path / "other"
    write_abide(root, sites={"PITT": (2, 2.2, 90)}, names=[f"Parcel{i}" for i in range(116)])
    src = resolve_source("abide_roi")
    with pytest.raises(ContractError, match="missing"):
        src.open(root, cache_dir=tmp_path / "c", params={}, signal=TINY)
    with pytest.raises(DataError, match="quarantined"):
        src.open(root, cache_dir=tmp_path / "c", params={"missing": "skip"}, signal=TINY)


def test_corrupt_files_are_quarantined_with_the_reason(abide: Path, tmp_path: Path) -> None:
    (abide / "timeseries" / "50003.mat").write_bytes(b"MATLAB 5.0 MAT-file truncated")
    src = resolve_source("abide_roi")
    with pytest.raises(DataError, match="quarantined"):
        src.open(abide, cache_dir=tmp_path / "c", params={}, signal=TINY)
    store = src.open(abide, cache_dir=tmp_path / "c2", params={"max_bad_fraction": 0.2}, signal=TINY)
    assert store.n_records == 9 and store.provenance["n_quarantined"] == 1
    res = src.prepare(abide, cache_dir=tmp_path / "c2", tr_s=2.2, channels=list(AAL116),
                      params={"max_bad_fraction": 0.2})
    report = pd.read_csv(res.cache_path / "quarantine.csv")
    assert report["record_id"].astype(str).tolist() == ["50003"]


def test_short_records_are_left_out_of_pretraining_and_counted(tmp_path: Path) -> None:
    root = tmp_path / "short"
    write_abide(root, sites={"PITT": (2, 2.2, 100), "OHSU": (1, 2.2, 60)})
    store = resolve_source("abide_roi").open(root, cache_dir=tmp_path / "c", params={}, signal=TINY)
    assert store.n_records == 2 and store.provenance["n_too_short"] == 1
    window_too_long = TINY.model_copy(update={"n_times": 400})
    with pytest.raises(DataError, match="shorter window"):
        resolve_source("abide_roi").open(root, cache_dir=tmp_path / "c", params={}, signal=window_too_long)


def test_normalisation_methods(abide: Path, tmp_path: Path) -> None:
    src = resolve_source("abide_roi")
    per_rec = TINY.model_copy(update={"normalization": TINY.normalization.model_copy(
        update={"method": "zscore_per_record"})})
    st = src.open(abide, cache_dir=tmp_path / "c", params={}, signal=per_rec)
    assert isinstance(st, RecordScaledStore)
    x = st.get(0)
    np.testing.assert_allclose(x.std(axis=1), 1.0, atol=1e-3)
    with pytest.raises(ContractError, match="robust"):
        src.open(abide, cache_dir=tmp_path / "c", params={}, signal=TINY.model_copy(update={
            "normalization": TINY.normalization.model_copy(update={"method": "zscore"})}))


def test_non_fmri_models_are_refused(abide: Path, tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="a.u."):
        resolve_source("abide_roi").open(abide, cache_dir=tmp_path, params={}, signal=get_spec("ecg_vit_tiny").signal)


def test_roi_dir_reads_any_folder_with_stated_orientation_and_tr(tmp_path: Path) -> None:
    root = tmp_path / "dir"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        np.save(root / f"sub{i}.npy", rng.normal(size=(116, 90)))  # ROI x time
    (root / "sub0.json").write_text(json.dumps({"RepetitionTime": 2.0}), encoding="utf-8")
    src = FmriFileSource("roi_dir", "dir")
    names = {"atlas": "aal116"}
    with pytest.raises(ConfigError, match="no TR"):
        src.open(root, cache_dir=tmp_path / "c", params=names, signal=TINY)
    with pytest.raises(ConfigError, match="orientation"):
        src.open(root, cache_dir=tmp_path / "c", params={**names, "tr_s": 2.2, "orientation": "sideways"},
                 signal=TINY)
    store = src.open(root, cache_dir=tmp_path / "c", params={**names, "tr_s": 2.2, "orientation": "roi_time"},
                     signal=TINY)
    assert store.n_records == 3 and store.lengths.tolist() == [90, 90, 90]
    # without a name table the rows are ROI001.., which are not the model's AAL ROIs
    with pytest.raises(ContractError, match="missing"):
        src.open(root, cache_dir=tmp_path / "c3", params={"tr_s": 2.2, "orientation": "roi_time"}, signal=TINY)


def test_load_fmri_records_joins_the_participants_table(abide: Path, tmp_path: Path) -> None:
    records, table = load_fmri_records("abide_roi", abide, tr_s=2.2, rois=list(AAL116), params={},
                                       cache_dir=tmp_path / "c")
    assert len(records) == len(table) == 10
    assert {"dx_asd", "sex", "age", "site", "mean_fd", "n_times"} <= set(table.columns)
    assert table["site"].tolist()[:4] == ["PITT"] * 4
    assert records[8].shape == (116, int(89 * 2.5 / 2.2) + 1)


def test_synthetic_corpus_plants_connectivity_not_power() -> None:
    spec = FmriSynthSpec(n_records=40, n_rois=32, n_networks=4, duration_s=400.0, tr_s=2.0, seed=3)
    x, y, _, site = simulate_fmri(spec)
    assert x.shape == (40, 32, 200) and set(y.tolist()) == {0, 1} and site.tolist()[:3] == [0, 1, 0]
    np.testing.assert_allclose(x.mean(axis=2), 0.0, atol=1e-5)
    blk = np.arange(32) * 4 // 32
    coupling = np.array([fc_matrix(r)[np.ix_(blk == 0, blk == 1)].mean() for r in x])
    assert coupling[y == 1].min() > coupling[y == 0].max()  # planted in the connectivity
    power = x[:, blk == 1].std(axis=2).mean(axis=1)
    assert abs(power[y == 1].mean() - power[y == 0].mean()) < 0.1  # ... and not in the power
    again, *_ = simulate_fmri(spec)
    np.testing.assert_array_equal(x, again)
    with pytest.raises(ValueError, match="n_networks"):
        FmriSynthSpec(n_networks=1)


def test_synthetic_source_uses_the_model_contract() -> None:
    store = resolve_source("fmri_synthetic").open(None, params={"n_records": 8, "seed": 1}, signal=TINY)
    assert store.n_records == 8 and store.get(0).shape[0] == 116
    assert store.normalization["method"] == "robust"
    assert store.lengths.min() >= TINY.n_times
    with pytest.raises(ConfigError, match="do not pass a directory"):
        resolve_source("fmri_synthetic").open(Path("."), params={}, signal=TINY)
    with pytest.raises(ConfigError, match="unknown"):
        resolve_source("fmri_synthetic").open(None, params={"sfreq": 3}, signal=TINY)


def test_resample_grid_matches_the_cache(abide: Path, tmp_path: Path) -> None:
    records, table = load_fmri_records("abide_roi", abide, tr_s=2.2, rois=list(AAL116), params={"sites": "OLIN"},
                                       cache_dir=tmp_path / "c")
    mat = scipy.io.loadmat(abide / "timeseries" / f"{table['subject'].iloc[0]}.mat")["ROISignals"].T
    ref = resample_tr(mat, 1.5, 2.2)
    np.testing.assert_allclose(records[0], ref - ref.mean(axis=1, keepdims=True), atol=2e-2)


def test_roi_dir_takes_the_bids_subject_from_the_path(tmp_path: Path) -> None:
    root = tmp_path / "bids"
    for sub in ("01", "02"):
        d = root / f"sub-{sub}" / "func"
        d.mkdir(parents=True)
        np.save(d / f"sub-{sub}_task-rest_atlas-aal116_timeseries.npy", np.random.default_rng(0).normal(size=(116, 90)))
    store = resolve_source("roi_dir").open(root, cache_dir=tmp_path / "c", signal=TINY,
                                           params={"tr_s": 2.2, "orientation": "roi_time", "atlas": "aal116"})
    assert store.provenance["subjects_used"] == ["01", "02"]
