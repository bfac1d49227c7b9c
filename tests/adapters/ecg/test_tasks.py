"""PTB-XL metadata, benchmark label sets, fold parsing and splits (biojepa.adapters.ecg.tasks)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biojepa.adapters.ecg.tasks import (
    EXPECTED_N_LABELS,
    TASKS,
    LabelSet,
    build_labels,
    load_ptbxl_metadata,
    load_scp_statements,
    parse_folds,
    split_by_folds,
    usable_label_columns,
)
from biojepa.errors import ConfigError, CorruptRecordError, DataError

META_COLUMNS = ["ecg_id", "patient_id", "scp_codes", "strat_fold", "filename_lr", "filename_hr"]


# ------------------------------------------------------------------------------------------------ helpers


def _statements() -> pd.DataFrame:
    """A tiny scp_statements table; NDT is diagnostic + form with subclass STTC (as in the real file)."""
    rows = {
        "NORM": (1.0, np.nan, np.nan, "NORM", "NORM"),
        "IMI": (1.0, np.nan, np.nan, "MI", "IMI"),
        "ASMI": (1.0, np.nan, np.nan, "MI", "AMI"),
        "NDT": (1.0, 1.0, np.nan, "STTC", "STTC"),
        "NST_": (1.0, 1.0, np.nan, "STTC", "NST_"),
        "LVOLT": (np.nan, 1.0, np.nan, np.nan, np.nan),
        "SR": (np.nan, np.nan, 1.0, np.nan, np.nan),
        "AFIB": (np.nan, np.nan, 1.0, np.nan, np.nan),
    }
    frame = pd.DataFrame.from_dict(
        rows,
        orient="index",
        columns=["diagnostic", "form", "rhythm", "diagnostic_class", "diagnostic_subclass"],
    )
    frame.index.name = "code"
    return frame


def _meta(codes: list[dict[str, float]], folds: list[int] | None = None) -> pd.DataFrame:
    n = len(codes)
    return pd.DataFrame(
        {
            "patient_id": [float(100 + i) for i in range(n)],
            "scp_codes": codes,
            "strat_fold": folds if folds is not None else [(i % 10) + 1 for i in range(n)],
        },
        index=pd.Index(np.arange(1, n + 1), name="ecg_id"),
    )


def _write_tree(root: Path, rows: list[dict[str, object]], files: list[str]) -> Path:
    pd.DataFrame(rows).to_csv(root / "ptbxl_database.csv", index=False)
    for name in files:
        for ext in (".hea", ".dat"):
            path = root / f"{name}{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
    return root


def _row(ecg_id: int, codes: str = "{'NORM': 100.0, 'SR': 0.0}", fold: int = 1) -> dict[str, object]:
    return {
        "ecg_id": ecg_id,
        "patient_id": 1000.0 + ecg_id,
        "scp_codes": codes,
        "strat_fold": fold,
        "filename_lr": f"records100/00000/{ecg_id:05d}_lr",
        "filename_hr": f"records500/00000/{ecg_id:05d}_hr",
    }


# -------------------------------------------------------------------------------------------------- folds


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1-8", (1, 2, 3, 4, 5, 6, 7, 8)),
        ("9", (9,)),
        ("1-6,8", (1, 2, 3, 4, 5, 6, 8)),
        (" 2 - 3 , 10 ", (2, 3, 10)),
        ("5,5,1-2", (1, 2, 5)),
        ([9], (9,)),
        ([10, 9, 9], (9, 10)),
        ((1, 2), (1, 2)),
        (np.array([3, 1]), (1, 3)),
        (10, (10,)),
        (np.int64(7), (7,)),
    ],
)
def test_parse_folds_accepts_the_documented_forms(spec: object, expected: tuple[int, ...]) -> None:
    assert parse_folds(spec) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "spec",
    [
        "",
        " ",
        "0",
        "11",
        "8-1",
        "a",
        "1-",
        "-3",
        "1,,2",
        "1-3-5",
        [],
        [True],
        True,
        [1.5],
        3.0,
        None,
        ["9"],
        "1-11",
    ],
)
def test_parse_folds_rejects_bad_specs_and_shows_the_accepted_forms(spec: object) -> None:
    with pytest.raises(ConfigError, match=r'"1-8"'):
        parse_folds(spec)  # type: ignore[arg-type]


@settings(max_examples=50, deadline=None)
@given(st.sets(st.integers(min_value=1, max_value=10), min_size=1))
def test_parse_folds_round_trips_comma_lists(folds: set[int]) -> None:
    spec = ",".join(str(f) for f in sorted(folds, reverse=True))
    assert parse_folds(spec) == tuple(sorted(folds))
    assert parse_folds(sorted(folds)) == tuple(sorted(folds))


# ------------------------------------------------------------------------------------------------ loading


def test_load_metadata_parses_codes_and_checks_files(tmp_path: Path) -> None:
    rows = [_row(1), _row(2, "{'IMI': 50.0}", fold=2), _row(3, fold=3)]
    root = _write_tree(
        tmp_path,
        rows,
        ["records100/00000/00001_lr", "records100/00000/00002_lr", "records500/00000/00002_hr"],
    )
    (root / "records100/00000/00003_lr.hea").write_bytes(b"")  # .dat missing -> not available
    meta = load_ptbxl_metadata(root)
    assert meta.index.name == "ecg_id"
    assert list(meta.index) == [1, 2, 3]
    assert meta.loc[1, "scp_codes"] == {"NORM": 100.0, "SR": 0.0}
    assert meta["strat_fold"].dtype == np.int64
    assert meta["has_lr"].tolist() == [True, True, False]
    assert meta["has_hr"].tolist() == [False, True, False]


def test_load_metadata_missing_columns_are_listed(tmp_path: Path) -> None:
    pd.DataFrame([{"ecg_id": 1, "scp_codes": "{}", "patient_id": 1.0}]).to_csv(
        tmp_path / "ptbxl_database.csv", index=False
    )
    with pytest.raises(DataError, match="strat_fold, filename_lr, filename_hr") as info:
        load_ptbxl_metadata(tmp_path)
    assert "records100" in str(info.value)


def test_load_metadata_missing_file_explains_the_layout(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="ptbxl_database.csv.*records100"):
        load_ptbxl_metadata(tmp_path)


def test_load_metadata_bad_scp_codes_names_the_record(tmp_path: Path) -> None:
    _write_tree(tmp_path, [_row(1), _row(7, "NORM=100")], [])
    with pytest.raises(CorruptRecordError, match="'7'.*dict"):
        load_ptbxl_metadata(tmp_path)


def test_load_metadata_non_integer_fold_is_a_data_error(tmp_path: Path) -> None:
    rows = [_row(1), _row(2)]
    rows[1]["strat_fold"] = None
    _write_tree(tmp_path, rows, [])
    with pytest.raises(DataError, match="strat_fold.*ecg_id.*2"):
        load_ptbxl_metadata(tmp_path)


def test_load_statements_missing_file_or_columns(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="scp_statements.csv"):
        load_scp_statements(tmp_path)
    pd.DataFrame({"description": ["x"]}, index=["NORM"]).to_csv(tmp_path / "scp_statements.csv")
    with pytest.raises(DataError, match="diagnostic, form, rhythm"):
        load_scp_statements(tmp_path)


# ------------------------------------------------------------------------------------- labels (synthetic)


def test_unknown_task_lists_the_tasks() -> None:
    with pytest.raises(ConfigError, match="superdiagnostic_single"):
        build_labels(_meta([{"NORM": 100.0}]), _statements(), "diagnostics")


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_min_samples_is_a_config_error(bad: object) -> None:
    with pytest.raises(ConfigError, match="min_samples"):
        build_labels(_meta([{"NORM": 100.0}]), _statements(), "all", min_samples=bad)  # type: ignore[arg-type]


def test_task_definitions_on_a_small_table() -> None:
    codes = [
        {"NORM": 100.0, "SR": 0.0},
        {"IMI": 50.0, "ASMI": 15.0, "NDT": 100.0, "SR": 0.0},
        {"LVOLT": 0.0, "AFIB": 0.0},
        {"NST_": 100.0, "NDT": 0.0},
    ]
    meta, stm = _meta(codes), _statements()
    sub = build_labels(meta, stm, "subdiagnostic")
    assert sub.classes == ("AMI", "IMI", "NORM", "NST_", "STTC")
    assert sub.ecg_ids.tolist() == [1, 2, 4]  # record 3 has no diagnostic statement
    assert sub.y.tolist() == [[0, 0, 1, 0, 0], [1, 1, 0, 0, 1], [0, 0, 0, 1, 1]]
    sup = build_labels(meta, stm, "superdiagnostic")
    assert sup.classes == ("MI", "NORM", "STTC")
    assert sup.y.tolist() == [[0, 1, 0], [1, 0, 1], [0, 0, 1]]
    # the sub- and superclass "STTC" live in different namespaces: each task only sees its own
    assert "STTC" in sub.classes and "STTC" in sup.classes and "NST_" not in sup.classes
    form = build_labels(meta, stm, "form")
    assert form.classes == ("LVOLT", "NDT", "NST_") and form.ecg_ids.tolist() == [2, 3, 4]
    rhythm = build_labels(meta, stm, "rhythm")
    assert rhythm.classes == ("AFIB", "SR") and rhythm.ecg_ids.tolist() == [1, 2, 3]
    every = build_labels(meta, stm, "all")
    assert every.classes == tuple(sorted({c for d in codes for c in d}))
    assert every.y.dtype == np.uint8 and every.y.shape == (4, 8)
    assert every.multilabel and every.folds.dtype == np.int64 and every.patient_ids.dtype == np.int64


def test_min_samples_filters_rare_labels_over_all_records_but_not_diagnostic() -> None:
    codes = [{"NORM": 100.0}, {"NORM": 100.0}, {"IMI": 100.0}, {"IMI": 100.0, "NORM": 0.0}, {"ASMI": 100.0}]
    meta, stm = _meta(codes), _statements()
    sub = build_labels(meta, stm, "subdiagnostic", min_samples=1)
    assert sub.classes == ("IMI", "NORM")  # AMI (ASMI) occurs once -> removed, its record dropped
    assert sub.ecg_ids.tolist() == [1, 2, 3, 4]
    diag = build_labels(meta, stm, "diagnostic", min_samples=1)
    assert diag.classes == ("ASMI", "IMI", "NORM")  # the benchmark never filters plain diagnostic
    with pytest.raises(DataError, match="no record"):
        build_labels(meta, stm, "rhythm")


def test_superdiagnostic_single_keeps_single_superclass_records() -> None:
    codes = [
        {"NORM": 100.0},
        {"IMI": 100.0, "ASMI": 50.0},
        {"IMI": 100.0, "NDT": 50.0},
        {"NST_": 100.0},
        {"SR": 0.0},
    ]
    labels = build_labels(_meta(codes), _statements(), "superdiagnostic_single")
    assert not labels.multilabel
    assert labels.ecg_ids.tolist() == [1, 2, 4]  # record 3 has MI + STTC, record 5 none
    assert labels.classes == ("MI", "NORM", "STTC")
    assert labels.y.dtype == np.int64 and labels.y.tolist() == [1, 0, 2]


def test_build_labels_accepts_unparsed_code_strings() -> None:
    meta = _meta([{"NORM": 100.0}])
    meta["scp_codes"] = ["{'NORM': 100.0, 'SR': 0.0}"]
    assert build_labels(meta, _statements(), "all").classes == ("NORM", "SR")


# --------------------------------------------------------------------------------------- splits / columns


def _labelset(folds: list[int]) -> LabelSet:
    n = len(folds)
    return LabelSet(
        "superdiagnostic",
        ("A",),
        np.arange(n),
        np.ones((n, 1), np.uint8),
        np.array(folds),
        np.arange(n),
        True,
    )


def test_split_by_folds_returns_disjoint_indices() -> None:
    labels = _labelset([1, 2, 9, 10, 1, 9, 3])
    parts = split_by_folds(labels, "1-3", [9], 10)
    assert parts["train"].tolist() == [0, 1, 4, 6]
    assert parts["val"].tolist() == [2, 5]
    assert parts["test"].tolist() == [3]


def test_split_by_folds_rejects_overlap() -> None:
    with pytest.raises(ConfigError, match=r"\[8\].*train and test"):
        split_by_folds(_labelset([1, 8, 9]), "1-8", [9], [8])


def test_split_by_folds_rejects_a_fold_without_records() -> None:
    with pytest.raises(ConfigError, match=r"test fold\(s\) \[10\].*present are \[1, 2, 9\]"):
        split_by_folds(_labelset([1, 2, 9]), "1-2", "9", "10")


def test_usable_label_columns_flags_constant_columns() -> None:
    y = np.array([[1, 0, 1, 0], [1, 0, 0, 1], [1, 0, 1, 1]], dtype=np.uint8)
    mask, dropped = usable_label_columns(y)
    assert mask.tolist() == [False, False, True, True]
    assert dropped == [0, 1]
    mask, dropped = usable_label_columns(np.array([[0, 1], [1, 0]]))
    assert mask.all() and dropped == []
    with pytest.raises(DataError, match="shape"):
        usable_label_columns(np.zeros(3))


# ------------------------------------------------------------------------------------------ real PTB-XL


@pytest.fixture(scope="module")
def ptbxl_root(shared_data: Path) -> Path:
    return shared_data / "ecg" / "ptbxl_subset"


@pytest.fixture(scope="module")
def real_meta(ptbxl_root: Path) -> pd.DataFrame:
    return load_ptbxl_metadata(ptbxl_root)


@pytest.fixture(scope="module")
def real_statements(ptbxl_root: Path) -> pd.DataFrame:
    return load_scp_statements(ptbxl_root)


@pytest.mark.realdata
def test_real_superdiagnostic_counts(real_meta: pd.DataFrame, real_statements: pd.DataFrame) -> None:
    labels = build_labels(real_meta, real_statements, "superdiagnostic")
    assert len(real_meta) == 385
    assert len(labels) == 384  # one record has no diagnostic superclass
    assert labels.classes == ("CD", "HYP", "MI", "NORM", "STTC")
    counts = dict(zip(labels.classes, labels.y.sum(axis=0).tolist(), strict=True))
    assert counts == {"NORM": 235, "MI": 60, "STTC": 70, "CD": 68, "HYP": 29}


@pytest.mark.realdata
def test_real_likelihood_zero_rhythm_labels_are_kept(
    real_meta: pd.DataFrame, real_statements: pd.DataFrame
) -> None:
    sr_likelihoods = [d["SR"] for d in real_meta["scp_codes"] if "SR" in d]
    assert sr_likelihoods and max(sr_likelihoods) == 0.0  # every SR has likelihood 0 here
    rhythm = build_labels(real_meta, real_statements, "rhythm")
    assert "SR" in rhythm.classes
    assert int(rhythm.y[:, rhythm.classes.index("SR")].sum()) == len(sr_likelihoods) == 317
    row = int(np.flatnonzero(rhythm.ecg_ids == 1)[0])  # ecg_id 1: {'NORM': 100, 'LVOLT': 0, 'SR': 0}
    assert rhythm.y[row, rhythm.classes.index("SR")] == 1
    every = build_labels(real_meta, real_statements, "all")
    row = int(np.flatnonzero(every.ecg_ids == 1)[0])
    assert {every.classes[j] for j in np.flatnonzero(every.y[row])} == {"NORM", "LVOLT", "SR"}


@pytest.mark.realdata
def test_real_scp_statement_counts(real_statements: pd.DataFrame) -> None:
    stm = real_statements
    assert stm.index.name == "code"
    assert ((stm["diagnostic"] == 1).sum(), (stm["form"] == 1).sum(), (stm["rhythm"] == 1).sum()) == (
        44,
        19,
        12,
    )
    assert stm.index.nunique() == len(stm) == 71
    diag = stm[stm["diagnostic"] == 1]
    assert diag["diagnostic_subclass"].nunique() == 23
    assert set(diag["diagnostic_class"]) == {"NORM", "MI", "STTC", "CD", "HYP"}


@pytest.mark.realdata
@pytest.mark.parametrize("task", sorted(EXPECTED_N_LABELS))
def test_full_release_label_universe(real_statements: pd.DataFrame, task: str) -> None:
    # every statement occurs exactly once, as some record does in the full release
    codes = [{code: 0.0} for code in real_statements.index]
    labels = build_labels(_meta(codes), real_statements, task)
    assert len(labels.classes) == EXPECTED_N_LABELS[task]
    assert list(labels.classes) == sorted(labels.classes)
    assert labels.y.shape[1] == EXPECTED_N_LABELS[task]


@pytest.mark.realdata
@pytest.mark.parametrize("task", TASKS)
def test_real_classes_sorted_and_rows_non_empty(
    real_meta: pd.DataFrame, real_statements: pd.DataFrame, task: str
) -> None:
    labels = build_labels(real_meta, real_statements, task)
    assert list(labels.classes) == sorted(labels.classes)
    assert len(labels.folds) == len(labels.patient_ids) == len(labels.ecg_ids) == labels.y.shape[0]
    if labels.multilabel:
        assert (labels.y.sum(axis=1) > 0).all()
        assert (labels.y.sum(axis=0) > 0).all()
    assert set(labels.folds.tolist()) <= set(range(1, 9))


@pytest.mark.realdata
def test_real_has_hr_only_for_shipped_500hz_files(real_meta: pd.DataFrame) -> None:
    assert int(real_meta["has_lr"].sum()) == 385
    assert int(real_meta["has_hr"].sum()) == 80
    assert real_meta.index[real_meta["has_hr"]].max() <= 500
    first80 = real_meta[real_meta.index <= 500].index[:80]
    assert sorted(real_meta.index[real_meta["has_hr"]]) == sorted(first80)


@pytest.mark.realdata
def test_real_superdiagnostic_single_subset(real_meta: pd.DataFrame, real_statements: pd.DataFrame) -> None:
    diag = real_statements[real_statements["diagnostic"] == 1]["diagnostic_class"]
    supers = [{diag[c] for c in d if c in diag.index} for d in real_meta["scp_codes"]]
    expected = Counter(next(iter(s)) for s in supers if len(s) == 1)
    labels = build_labels(real_meta, real_statements, "superdiagnostic_single")
    assert len(labels) == sum(expected.values()) == 321
    got = Counter(labels.classes[i] for i in labels.y.tolist())
    assert got == expected
    assert got["NORM"] == 230


@pytest.mark.realdata
def test_real_split_by_folds(real_meta: pd.DataFrame, real_statements: pd.DataFrame) -> None:
    labels = build_labels(real_meta, real_statements, "superdiagnostic")
    with pytest.raises(ConfigError, match=r"val fold\(s\) \[9\].*\[1, 2, 3, 4, 5, 6, 7, 8\]"):
        split_by_folds(labels, "1-8", "9", "10")
    parts = split_by_folds(labels, "1-6", "7", "8")
    sizes = {k: len(v) for k, v in parts.items()}
    assert sum(sizes.values()) == len(labels)
    assert sizes["val"] == int((labels.folds == 7).sum()) > 0
    patients = {k: set(labels.patient_ids[v].tolist()) for k, v in parts.items()}
    assert not (
        patients["train"] & patients["val"]
        or patients["train"] & patients["test"]
        or patients["val"] & patients["test"]
    )  # strat_fold is patient-wise
