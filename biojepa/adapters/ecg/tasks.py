"""PTB-XL metadata and the benchmark label sets of Strodthoff et al. (2020) (research note ecg.md §3, §5).

The six benchmark tasks are built from each record's ``scp_codes`` dict ``{code: likelihood}``:

* ``all``: every key (the likelihood is ignored: rhythm codes such as ``SR`` carry likelihood 0);
* ``diagnostic``: keys whose ``scp_statements.csv`` row has ``diagnostic == 1``;
* ``subdiagnostic`` / ``superdiagnostic``: the ``diagnostic_subclass`` / ``diagnostic_class`` of those keys;
* ``form`` / ``rhythm``: keys with ``form == 1`` / ``rhythm == 1``.

Then (every task but ``diagnostic``, as in the benchmark) labels occurring at most ``min_samples`` times in the
whole given metadata are removed, records left without a label are dropped, and the multi-hot columns are the
sorted union of the remaining labels (sklearn's ``MultiLabelBinarizer`` fitted on *all* kept records). On the
full release this gives 71 / 44 / 23 / 5 / 19 / 12 columns (:data:`EXPECTED_N_LABELS`).

``superdiagnostic_single`` is the single-label variant used by ST-MEM: records with exactly one superclass,
encoded as class ids (softmax / cross-entropy). It is not comparable with the multi-label benchmark.

The official split is by ``strat_fold``: 1-8 train, 9 validation, 10 test (:func:`split_by_folds`).
"""

from __future__ import annotations

import ast
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from biojepa.errors import ConfigError, CorruptRecordError, DataError

__all__ = [
    "EXPECTED_N_LABELS",
    "TASKS",
    "LabelSet",
    "build_labels",
    "load_ptbxl_metadata",
    "load_scp_statements",
    "parse_folds",
    "split_by_folds",
    "usable_label_columns",
]

#: The task names accepted by :func:`build_labels`.
TASKS: tuple[str, ...] = (
    "all",
    "diagnostic",
    "subdiagnostic",
    "superdiagnostic",
    "form",
    "rhythm",
    "superdiagnostic_single",
)

#: Number of label columns of each multi-label task on the full PTB-XL release with ``min_samples=0``.
EXPECTED_N_LABELS: dict[str, int] = {
    "all": 71,
    "diagnostic": 44,
    "subdiagnostic": 23,
    "superdiagnostic": 5,
    "form": 19,
    "rhythm": 12,
}

#: Columns of ``ptbxl_database.csv`` this module needs (besides the index ``ecg_id``).
REQUIRED_METADATA_COLUMNS: tuple[str, ...] = (
    "strat_fold",
    "filename_lr",
    "filename_hr",
    "scp_codes",
    "patient_id",
)

#: Columns of ``scp_statements.csv`` this module needs (besides the code index).
REQUIRED_STATEMENT_COLUMNS: tuple[str, ...] = (
    "diagnostic",
    "form",
    "rhythm",
    "diagnostic_class",
    "diagnostic_subclass",
)

_N_FOLDS = 10
_FOLD_FORMS = 'a fold number (9), a range ("1-8"), a comma list ("1-6,8"), or a list of ints ([9, 10])'
_FOLD_PART = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")
_LAYOUT = (
    "a PTB-XL root holds ptbxl_database.csv (index ecg_id; columns incl. patient_id, scp_codes, strat_fold, "
    "filename_lr, filename_hr), scp_statements.csv and the WFDB records records100/00000/00001_lr.hea|.dat "
    "(and records500/.../_hr for 500 Hz), as in the PhysioNet release"
)


# --------------------------------------------------------------------------------------------------- folds


def parse_folds(spec: str | int | Sequence[int]) -> tuple[int, ...]:
    """Parse a fold selection into sorted, unique fold numbers in 1..10.

    Args:
        spec: ``"1-8"``, ``"9"``, ``"1-6,8"``, an int (``10``) or a sequence of ints (``[9, 10]``).

    Returns:
        The sorted unique folds, e.g. ``(1, 2, 3, 4, 5, 6, 8)``.

    Raises:
        ConfigError: the spec is empty, malformed, or names a fold outside 1..10.

    Example:
        >>> parse_folds("1-6,8"), parse_folds(9), parse_folds([10, 9])
        ((1, 2, 3, 4, 5, 6, 8), (9,), (9, 10))
    """
    folds: list[int] = []
    if isinstance(spec, (bool, np.bool_)):
        raise ConfigError(f"invalid fold selection {spec!r}; expected {_FOLD_FORMS}")
    if isinstance(spec, (int, np.integer)):
        folds.append(int(spec))
    elif isinstance(spec, str):
        for part in spec.split(","):
            match = _FOLD_PART.match(part)
            if match is None:
                raise ConfigError(f"invalid fold selection {spec!r} (part {part!r}); expected {_FOLD_FORMS}")
            lo = int(match.group(1))
            hi = int(match.group(2)) if match.group(2) is not None else lo
            if hi < lo:
                raise ConfigError(
                    f"invalid fold range {part.strip()!r} in {spec!r}: the start exceeds the end; "
                    f"expected {_FOLD_FORMS}"
                )
            folds.extend(range(lo, hi + 1))
    elif isinstance(spec, (Sequence, np.ndarray)):
        for item in spec:
            if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)):
                raise ConfigError(f"invalid fold {item!r} in {list(spec)!r}; expected {_FOLD_FORMS}")
            folds.append(int(item))
    else:
        raise ConfigError(
            f"invalid fold selection {spec!r} of type {type(spec).__name__}; expected {_FOLD_FORMS}"
        )
    if not folds:
        raise ConfigError(f"empty fold selection {spec!r}; expected {_FOLD_FORMS}")
    bad = sorted({f for f in folds if not 1 <= f <= _N_FOLDS})
    if bad:
        raise ConfigError(
            f"fold(s) {bad} in {spec!r} are outside 1..{_N_FOLDS} (PTB-XL strat_fold); expected {_FOLD_FORMS}"
        )
    return tuple(sorted(set(folds)))


# ------------------------------------------------------------------------------------------------ metadata


def _parse_scp_codes(value: object, ecg_id: object) -> dict[str, float]:
    """One ``scp_codes`` cell (the string repr of a dict, or already a dict) -> ``{code: likelihood}``."""
    if isinstance(value, dict):
        parsed: object = value
    elif isinstance(value, str):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise CorruptRecordError(
                str(ecg_id),
                f"scp_codes {value[:80]!r} is not a Python dict literal such as \"{{'NORM': 100.0}}\"",
            ) from None
    else:
        raise CorruptRecordError(
            str(ecg_id),
            f"scp_codes is {value!r}; expected the string of a dict such as \"{{'NORM': 100.0}}\"",
        )
    if not isinstance(parsed, dict) or not all(isinstance(k, str) for k in parsed):
        raise CorruptRecordError(
            str(ecg_id),
            f"scp_codes {str(value)[:80]!r} is not a dict of code -> likelihood such as {{'NORM': 100.0}}",
        )
    return {str(k): float(v) if isinstance(v, (int, float)) else v for k, v in parsed.items()}


def _integer_column(frame: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """``frame[column]`` as int64, or a DataError naming the offending ecg_ids."""
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)  # (N,)
    bad = ~np.isfinite(values) | (values != np.round(values))
    if bad.any():
        ids = [str(i) for i in frame.index[bad][:5]]
        raise DataError(
            f"{what}: column {column!r} must hold integers, found non-integer or missing values for ecg_id(s) "
            f"{', '.join(ids)}{' ...' if bad.sum() > 5 else ''}; {_LAYOUT}"
        )
    return values.astype(np.int64)


def _files_exist(root: Path, filenames: Sequence[object]) -> np.ndarray:
    """Whether ``<root>/<name>.hea`` and ``<root>/<name>.dat`` both exist, per name (one listdir per folder)."""
    listing: dict[Path, set[str]] = {}
    out = np.zeros(len(filenames), dtype=bool)  # (N,)
    for i, name in enumerate(filenames):
        if not isinstance(name, str) or not name.strip():
            continue
        path = root / name.strip()
        folder = path.parent
        if folder not in listing:
            try:
                listing[folder] = set(os.listdir(folder))
            except OSError:
                listing[folder] = set()
        present = listing[folder]
        out[i] = f"{path.name}.hea" in present and f"{path.name}.dat" in present
    return out


def load_ptbxl_metadata(root: str | Path) -> pd.DataFrame:
    """Read ``<root>/ptbxl_database.csv`` with parsed ``scp_codes`` and file-availability flags.

    Args:
        root: the PTB-XL root folder (the one holding ``ptbxl_database.csv`` and ``records100/``).

    Returns:
        The metadata indexed by ``ecg_id`` with every original column; ``scp_codes`` holds dicts
        ``{code: likelihood}``, ``strat_fold`` is int64, and the added bool columns ``has_lr`` / ``has_hr`` say
        whether ``<root>/<filename_lr|hr>.hea`` and ``.dat`` exist (subsets often ship only some 500 Hz files).

    Raises:
        DataError: the file is missing or unreadable, required columns are missing, ``ecg_id`` repeats or
            ``strat_fold`` is not an integer.
        CorruptRecordError: a ``scp_codes`` cell is not a dict literal.
    """
    root = Path(root)
    csv = root / "ptbxl_database.csv"
    if not csv.is_file():
        raise DataError(f"{csv} not found; {_LAYOUT}")
    try:
        frame = pd.read_csv(csv)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{csv} cannot be read as CSV ({exc}); {_LAYOUT}") from None
    missing = [c for c in ("ecg_id", *REQUIRED_METADATA_COLUMNS) if c not in frame.columns]
    if missing:
        raise DataError(
            f"{csv} lacks the column(s) {', '.join(missing)} (found {', '.join(map(str, frame.columns[:30]))}); "
            f"{_LAYOUT}"
        )
    frame = frame.set_index("ecg_id")
    dup = frame.index[frame.index.duplicated()]
    if len(dup):
        raise DataError(f"{csv}: ecg_id {dup[0]} appears more than once; each record must have one row")
    frame["scp_codes"] = pd.Series(
        [_parse_scp_codes(v, i) for i, v in zip(frame.index, frame["scp_codes"], strict=True)],
        index=frame.index,
        dtype=object,
    )
    frame["strat_fold"] = _integer_column(frame, "strat_fold", str(csv))
    frame["has_lr"] = _files_exist(root, list(frame["filename_lr"]))
    frame["has_hr"] = _files_exist(root, list(frame["filename_hr"]))
    return frame


def load_scp_statements(root: str | Path) -> pd.DataFrame:
    """Read ``<root>/scp_statements.csv`` indexed by SCP code (index name ``code``).

    Args:
        root: the PTB-XL root folder.

    Returns:
        One row per statement; ``diagnostic`` / ``form`` / ``rhythm`` are 1.0 or NaN.

    Raises:
        DataError: the file is missing, unreadable or lacks a required column.
    """
    csv = Path(root) / "scp_statements.csv"
    if not csv.is_file():
        raise DataError(f"{csv} not found; {_LAYOUT}")
    try:
        frame = pd.read_csv(csv, index_col=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{csv} cannot be read as CSV ({exc}); {_LAYOUT}") from None
    _check_statements(frame, str(csv))
    frame.index = frame.index.astype(str)
    frame.index.name = "code"
    return frame


def _check_statements(statements: pd.DataFrame, where: str) -> None:
    missing = [c for c in REQUIRED_STATEMENT_COLUMNS if c not in statements.columns]
    if missing:
        raise DataError(
            f"{where} lacks the column(s) {', '.join(missing)} (found {', '.join(map(str, statements.columns))}); "
            "expected PTB-XL's scp_statements.csv indexed by SCP code"
        )


# -------------------------------------------------------------------------------------------------- labels


@dataclass(frozen=True, eq=False)
class LabelSet:
    """The labels of one task, one row per kept record (records without a label of the task are dropped).

    Attributes:
        task: the task name (one of :data:`TASKS`).
        classes: column names, sorted (like sklearn's ``MultiLabelBinarizer``).
        ecg_ids: ``(N,)`` ecg_id of each kept record, in metadata order.
        y: ``(N, L)`` uint8 multi-hot; for ``superdiagnostic_single`` ``(N,)`` int64 indices into ``classes``.
        folds: ``(N,)`` int64 ``strat_fold``.
        patient_ids: ``(N,)`` patient ids (int64 when all are integral, else as stored).
        multilabel: False only for ``superdiagnostic_single``.
    """

    task: str
    classes: tuple[str, ...]
    ecg_ids: np.ndarray
    y: np.ndarray
    folds: np.ndarray
    patient_ids: np.ndarray
    multilabel: bool

    def __len__(self) -> int:
        return int(self.ecg_ids.shape[0])


def _record_labels(codes: dict[str, float], task: str, maps: dict[str, object]) -> list[str]:
    """The (deduplicated, unfiltered) labels of one record for a base task."""
    if task == "all":
        return sorted(codes)
    if task in ("diagnostic", "form", "rhythm"):
        members: set[str] = maps[task]  # type: ignore[assignment]
        return sorted(k for k in codes if k in members)
    mapping: dict[str, str] = maps["subclass" if task == "subdiagnostic" else "superclass"]  # type: ignore[assignment]
    return sorted({mapping[k] for k in codes if k in mapping})


def _statement_maps(statements: pd.DataFrame) -> dict[str, object]:
    """Code sets per flag and code -> sub/superclass maps (diagnostic codes only, NaN classes skipped)."""
    codes = statements.index.astype(str)
    flag = {
        c: pd.to_numeric(statements[c], errors="coerce").to_numpy() == 1
        for c in ("diagnostic", "form", "rhythm")
    }
    diag = codes[flag["diagnostic"]]
    diag_rows = statements.loc[flag["diagnostic"]]

    def _class_map(column: str) -> dict[str, str]:
        return {
            str(code): str(value)
            for code, value in zip(diag, diag_rows[column], strict=True)
            if isinstance(value, str) and value.strip() and value.lower() != "nan"
        }

    return {
        "diagnostic": set(diag),
        "form": set(codes[flag["form"]]),
        "rhythm": set(codes[flag["rhythm"]]),
        "subclass": _class_map("diagnostic_subclass"),
        "superclass": _class_map("diagnostic_class"),
    }


def _patient_ids(values: pd.Series) -> np.ndarray:
    numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)  # (N,)
    if np.isfinite(numeric).all() and (numeric == np.round(numeric)).all():
        return numeric.astype(np.int64)
    return values.to_numpy()


def build_labels(
    meta: pd.DataFrame,
    statements: pd.DataFrame,
    task: str,
    *,
    min_samples: int = 0,
) -> LabelSet:
    """Build the label set of one PTB-XL task exactly as the Strodthoff et al. benchmark does.

    The likelihood is ignored (every key of ``scp_codes`` counts). Labels are counted over the **whole** given
    metadata; labels with count ``<= min_samples`` are removed (every task except ``diagnostic``, which the
    benchmark never filters); records left without a label are dropped; the columns are fitted on all kept
    records, so pass the full metadata (all folds), not a training subset, to get the benchmark's universe.
    Task namespaces are separate: subclass ``"STTC"`` and superclass ``"STTC"`` never meet.

    Args:
        meta: metadata from :func:`load_ptbxl_metadata` (index ecg_id; ``scp_codes`` dicts or dict strings,
            ``strat_fold``, ``patient_id``).
        statements: :func:`load_scp_statements`.
        task: one of :data:`TASKS`.
        min_samples: keep labels occurring more than this many times (benchmark default 0 = keep all).

    Returns:
        The :class:`LabelSet`.

    Raises:
        ConfigError: unknown task or negative ``min_samples``.
        DataError: required columns are missing, or no record carries a label of the task.
    """
    if task not in TASKS:
        raise ConfigError(f"unknown PTB-XL task {task!r}; expected one of {', '.join(TASKS)}")
    if isinstance(min_samples, bool) or not isinstance(min_samples, (int, np.integer)) or min_samples < 0:
        raise ConfigError(f"min_samples must be an integer >= 0 (benchmark default 0), found {min_samples!r}")
    missing = [c for c in ("scp_codes", "strat_fold", "patient_id") if c not in meta.columns]
    if missing:
        raise DataError(
            f"metadata lacks the column(s) {', '.join(missing)}; load it with load_ptbxl_metadata()"
        )
    _check_statements(statements, "scp statements")

    base = "superdiagnostic" if task == "superdiagnostic_single" else task
    maps = _statement_maps(statements)
    codes = [_parse_scp_codes(v, i) for i, v in zip(meta.index, meta["scp_codes"], strict=True)]
    per_record = [_record_labels(c, base, maps) for c in codes]
    if base != "diagnostic":
        counts = Counter(label for labels in per_record for label in labels)
        kept_labels = {label for label, n in counts.items() if n > min_samples}
        per_record = [[label for label in labels if label in kept_labels] for labels in per_record]
    if task == "superdiagnostic_single":
        keep = np.array([len(labels) == 1 for labels in per_record], dtype=bool)  # (N_meta,)
    else:
        keep = np.array([len(labels) > 0 for labels in per_record], dtype=bool)  # (N_meta,)
    if not keep.any():
        raise DataError(
            f"no record of the {len(meta)} given carries a label of task {task!r} "
            f"(min_samples={min_samples}); check the metadata and scp_statements.csv"
        )
    rows = [labels for labels, k in zip(per_record, keep, strict=True) if k]
    classes = tuple(sorted({label for labels in rows for label in labels}))
    column = {label: j for j, label in enumerate(classes)}
    if task == "superdiagnostic_single":
        y = np.array([column[labels[0]] for labels in rows], dtype=np.int64)  # (N,)
    else:
        y = np.zeros((len(rows), len(classes)), dtype=np.uint8)  # (N, L)
        for i, labels in enumerate(rows):
            y[i, [column[label] for label in labels]] = 1
    kept_meta = meta.loc[keep]
    return LabelSet(
        task=task,
        classes=classes,
        ecg_ids=kept_meta.index.to_numpy(),
        y=y,
        folds=_integer_column(kept_meta, "strat_fold", "metadata"),
        patient_ids=_patient_ids(kept_meta["patient_id"]),
        multilabel=task != "superdiagnostic_single",
    )


# ------------------------------------------------------------------------------------------------- splits


def split_by_folds(
    labels: LabelSet,
    train: Sequence[int],
    val: Sequence[int],
    test: Sequence[int],
) -> dict[str, np.ndarray]:
    """Row indices into ``labels`` of the train / validation / test folds (official: 1-8 / 9 / 10).

    Args:
        labels: the task's :class:`LabelSet`.
        train: training folds (anything :func:`parse_folds` accepts).
        val: validation folds.
        test: test folds.

    Returns:
        ``{"train", "val", "test"}`` -> sorted int64 row indices.

    Raises:
        ConfigError: a fold spec is invalid, two parts share a fold, or a requested fold has no record in
            ``labels`` (the message names the folds present).
    """
    parts = {"train": parse_folds(train), "val": parse_folds(val), "test": parse_folds(test)}  # type: ignore[arg-type]
    names = list(parts)
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            shared = sorted(set(parts[names[a]]) & set(parts[names[b]]))
            if shared:
                raise ConfigError(
                    f"fold(s) {shared} are in both {names[a]} and {names[b]}; the parts must not overlap "
                    "(official PTB-XL split: train 1-8, val 9, test 10)"
                )
    present = sorted(int(f) for f in np.unique(labels.folds))
    for name, folds in parts.items():
        absent = [f for f in folds if f not in present]
        if absent:
            raise ConfigError(
                f"{name} fold(s) {absent} have no record for task {labels.task!r}; the folds present are "
                f"{present} (a subset may not ship every fold: choose {name} folds among these)"
            )
    return {
        name: np.flatnonzero(np.isin(labels.folds, folds)).astype(np.int64) for name, folds in parts.items()
    }


def usable_label_columns(y: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Columns of a multi-hot matrix on which a per-class AUC is defined (>= 1 positive and >= 1 negative).

    Callers must report the dropped columns by name (``[classes[j] for j in dropped]``), never drop silently.

    Args:
        y: ``(N, L)`` 0/1 targets.

    Returns:
        ``(mask (L,) bool, dropped column indices)``.

    Raises:
        DataError: ``y`` is not two-dimensional.
    """
    arr = np.asarray(y)
    if arr.ndim != 2:
        raise DataError(f"expected a (N, L) multi-hot matrix, found shape {arr.shape}")
    positives = (arr > 0).sum(axis=0)  # (L,)
    mask = (positives > 0) & (positives < arr.shape[0])
    return mask, [int(j) for j in np.flatnonzero(~mask)]
