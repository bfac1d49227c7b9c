"""The result JSON of evaluation commands (DESIGN.md §5) and an atomic JSON writer.

An evaluation file looks like::

    {"schema_version": 1, "status": "ok", "task": "all", "mode": "linear",
     "folds": {"train": [1, ..., 8], "val": [9], "test": [10]}, "n_records": {"train": ..., ...},
     "rows": [{"variant": "pretrained", "metric": "auc_macro", "split": "test", "value": 0.93, "std": 0.002,
               "ci95": [0.92, 0.94], "seeds": [0, 1], "per_seed": [...], "val_value": ..., "per_class": {...},
               "n_labels": 71, "dropped_labels": [], "steps": 5000}]}

On failure the file is still written, with ``"status": "error"`` and a message (:func:`error_payload`).
Numbers must be finite: JSON has no NaN, so non-finite values are rejected rather than written.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from biojepa._fs import fsync_dir as _fsync_dir
from biojepa.errors import DataError

__all__ = ["SCHEMA_VERSION", "EvalResult", "ResultRow", "error_payload", "summarise_seeds", "write_json"]

#: Version of the result-file layout; bump when a field changes meaning or disappears.
SCHEMA_VERSION = 1


class ResultRow(BaseModel):
    """One number of a result table: a variant's metric on a split, summarised over seeds.

    Attributes:
        variant: ``"pretrained"``, ``"random_init"``, ``"scratch"`` or a classical baseline's name.
        metric: metric name (e.g. ``"auc_macro"``).
        split: evaluated split (e.g. ``"test"``).
        value: mean over seeds.
        std: standard deviation over seeds (0 for one seed).
        ci95: ``[lo, hi]`` bootstrap interval, if computed.
        seeds: the seeds run.
        per_seed: the value of each seed, aligned with ``seeds``.
        val_value: validation value of the selected model(s), mean over seeds.
        per_class: label -> value (e.g. per-label AUC), if computed.
        n_labels: number of labels / classes of the task.
        dropped_labels: labels excluded from the metric (e.g. single-valued in the split).
        steps: optimisation steps (of the selected model, mean over seeds rounded).
        n_test: number of test samples (trials) behind ``value``.
        chance_bound: the score above which a result beats chance at the 5 % level (binomial bound for
            ``n_test`` trials), when defined.
        p_value: label-permutation p-value of ``value``, if computed.
        per_fold: the value of each split (mean over seeds), for cross-validated evaluations.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    variant: str
    metric: str
    split: str
    value: float
    std: float | None = Field(None, ge=0)
    ci95: list[float] | None = None
    seeds: list[int] = Field(default_factory=list)
    per_seed: list[float] = Field(default_factory=list)
    val_value: float | None = None
    per_class: dict[str, float] | None = None
    n_labels: int | None = Field(None, ge=0)
    dropped_labels: list[str] = Field(default_factory=list)
    steps: int | None = Field(None, ge=0)
    n_test: int | None = Field(None, ge=0)
    chance_bound: float | None = None
    p_value: float | None = Field(None, ge=0, le=1)
    per_fold: list[float] = Field(default_factory=list)

    @model_serializer(mode="wrap")
    def _drop_unset_extras(self, handler: Any) -> dict[str, Any]:
        """The DESIGN.md §5 keys always; the optional extras only when set (BCI rows carry them)."""
        data = handler(self)
        for key in ("n_test", "chance_bound", "p_value"):
            if data.get(key) is None:
                data.pop(key, None)
        if not data.get("per_fold"):
            data.pop("per_fold", None)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> ResultRow:
        if self.ci95 is not None and (len(self.ci95) != 2 or self.ci95[0] > self.ci95[1]):
            raise ValueError(f"ci95 must be [lo, hi] with lo <= hi, got {self.ci95}")
        if self.per_seed and self.seeds and len(self.per_seed) != len(self.seeds):
            raise ValueError(f"per_seed has {len(self.per_seed)} values for {len(self.seeds)} seeds")
        return self


class EvalResult(BaseModel):
    """The whole result file of an evaluation / fine-tuning command.

    Exactly the keys of DESIGN.md §5; ``folds`` (cross-validation or fold-numbered splits such as PTB-XL)
    and ``split`` (named splits) are both optional and omitted from the JSON when unset.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    schema_version: Literal[1] = SCHEMA_VERSION
    status: Literal["ok", "error"] = "ok"
    task: str
    mode: str
    folds: dict[str, Any] | None = None
    split: dict[str, Any] | None = None
    n_records: dict[str, int] = Field(default_factory=dict)
    rows: list[ResultRow] = Field(default_factory=list)
    message: str | None = None
    kind: str | None = None

    @model_validator(mode="after")
    def _error_has_message(self) -> EvalResult:
        if self.status == "error" and not self.message:
            raise ValueError("a result with status 'error' needs a message")
        return self

    @model_serializer(mode="wrap")
    def _drop_unset_optional(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for key in ("folds", "split", "message", "kind"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


def summarise_seeds(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0.0 for a single value) of per-seed results.

    Raises:
        DataError: no values, or a non-finite value.
    """
    arr = np.asarray(list(values), dtype=np.float64)
    if arr.size == 0:
        raise DataError("summarise_seeds got no values; run at least one seed")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"summarise_seeds got non-finite values: {arr.tolist()}")
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return float(arr.mean()), std


_RESERVED = ("schema_version", "status", "kind", "message")


def error_payload(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    """The payload written when a command fails.

    Args:
        kind: what failed, conventionally the exception class name (``"ContractError"``).
        message: the human-readable message.
        **extra: further keys (e.g. ``task``, ``mode``), which must not shadow the fixed ones.

    Returns:
        ``{"schema_version": 1, "status": "error", "kind": kind, "message": message, **extra}``.

    Raises:
        TypeError: ``extra`` holds one of the fixed keys.
    """
    clash = sorted(set(extra) & set(_RESERVED))
    if clash:
        raise TypeError(f"error_payload: extra keys {clash} would overwrite fixed keys {list(_RESERVED)}")
    return {"schema_version": SCHEMA_VERSION, "status": "error", "kind": kind, "message": message, **extra}


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def _check_finite(obj: Any, where: str = "$") -> None:
    if isinstance(obj, float) and not math.isfinite(obj):
        raise DataError(f"result JSON value at {where} is {obj}; JSON cannot hold NaN/inf")
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            _check_finite(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _check_finite(v, f"{where}[{i}]")


def write_json(path: str | os.PathLike[str], payload: BaseModel | Mapping[str, Any]) -> Path:
    """Write ``payload`` as indented JSON, atomically: temporary file, fsync, ``os.replace``.

    Parent directories are created. A reader never sees a half-written file; on error the old file (if
    any) is left untouched and the temporary file removed.

    Args:
        path: destination file.
        payload: a pydantic model (dumped in JSON mode) or a mapping (numpy scalars/arrays and paths are
            converted).

    Returns:
        The path written.

    Raises:
        DataError: the payload holds NaN or inf.
        TypeError: the payload holds an object JSON cannot represent.
    """
    path = Path(path)
    data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else dict(payload)
    data = json.loads(json.dumps(data, default=_json_default))  # normalise numpy / tuples / paths
    _check_finite(data)
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path
