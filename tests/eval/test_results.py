"""Tests of biojepa.eval.results: schema, validation, atomic writes, error payloads, seed summaries."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pydantic
import pytest

from biojepa.errors import DataError
from biojepa.eval.results import EvalResult, ResultRow, error_payload, summarise_seeds, write_json


def _row(**kw: object) -> ResultRow:
    base: dict[str, object] = {
        "variant": "pretrained", "metric": "auc_macro", "split": "test", "value": 0.93, "std": 0.01,
        "ci95": [0.9, 0.95], "seeds": [0, 1], "per_seed": [0.92, 0.94], "val_value": 0.94,
        "per_class": {"NORM": 0.95}, "n_labels": 5, "dropped_labels": ["X"], "steps": 500,
    }  # fmt: skip
    base.update(kw)
    return ResultRow(**base)  # type: ignore[arg-type]


def test_eval_result_json_has_the_design_keys(tmp_path: Path) -> None:
    res = EvalResult(
        task="superdiagnostic",
        mode="linear",
        folds={"train": [1, 2], "val": [9], "test": [10]},
        n_records={"train": 10, "val": 3, "test": 3},
        rows=[_row()],
    )
    path = write_json(tmp_path / "deep" / "dir" / "res.json", res)
    data = json.loads(path.read_text())
    assert list(data) == ["schema_version", "status", "task", "mode", "folds", "n_records", "rows"]
    assert data["schema_version"] == 1 and data["status"] == "ok"
    assert set(data["rows"][0]) == {
        "variant", "metric", "split", "value", "std", "ci95", "seeds", "per_seed",
        "val_value", "per_class", "n_labels", "dropped_labels", "steps",
    }  # fmt: skip
    assert EvalResult.model_validate(data) == res  # round trip
    extra = _row(n_test=40, chance_bound=0.625, p_value=0.01, per_fold=[0.7, 0.8]).model_dump(mode="json")
    assert {"n_test", "chance_bound", "p_value", "per_fold"} <= set(extra)
    split = EvalResult(task="t", mode="finetune", split={"train": "a", "test": "b"})
    assert "split" in split.model_dump() and "folds" not in split.model_dump()


def test_result_row_validation() -> None:
    with pytest.raises(pydantic.ValidationError, match="lo <= hi"):
        _row(ci95=[0.95, 0.9])
    with pytest.raises(pydantic.ValidationError, match="lo <= hi"):
        _row(ci95=[0.9])
    with pytest.raises(pydantic.ValidationError, match="per_seed has 1 values for 2 seeds"):
        _row(per_seed=[0.9])
    with pytest.raises(pydantic.ValidationError):
        _row(value=math.nan)
    with pytest.raises(pydantic.ValidationError, match="Extra inputs"):
        _row(auc=0.9)
    minimal = ResultRow(variant="scratch", metric="accuracy", split="test", value=0.5)
    assert minimal.ci95 is None and minimal.seeds == []


def test_error_status_needs_message() -> None:
    with pytest.raises(pydantic.ValidationError, match="needs a message"):
        EvalResult(task="t", mode="m", status="error")
    err = EvalResult(task="t", mode="m", status="error", message="boom", kind="ContractError")
    assert err.model_dump()["message"] == "boom"


def test_error_payload_is_written_and_validates(tmp_path: Path) -> None:
    payload = error_payload("ContractError", "sfreq 250 != 500", task="all", mode="linear")
    assert payload == {"schema_version": 1, "status": "error", "kind": "ContractError",
                       "message": "sfreq 250 != 500", "task": "all", "mode": "linear"}  # fmt: skip
    path = write_json(tmp_path / "err.json", payload)
    back = json.loads(path.read_text())
    assert back == payload
    assert EvalResult.model_validate(back).status == "error"
    with pytest.raises(TypeError, match="overwrite fixed keys"):
        error_payload("X", "y", status="ok")


def test_write_json_is_atomic_and_converts_numpy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "r.json"
    write_json(path, {"a": np.float32(0.5), "b": np.arange(3), "c": (1, 2), "p": tmp_path})
    assert json.loads(path.read_text()) == {"a": 0.5, "b": [0, 1, 2], "c": [1, 2], "p": str(tmp_path)}
    old = path.read_text()

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_json(path, {"a": 2})
    monkeypatch.undo()
    assert path.read_text() == old  # old file untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # temp file cleaned up


def test_write_json_rejects_non_finite(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"\$\.rows\[0\]\.value is nan"):
        write_json(tmp_path / "x.json", {"rows": [{"value": float("nan")}]})
    with pytest.raises(TypeError, match="not JSON serialisable"):
        write_json(tmp_path / "y.json", {"obj": object()})
    assert not (tmp_path / "x.json").exists()


def test_summarise_seeds() -> None:
    mean, std = summarise_seeds([0.9, 0.92, 0.94])
    assert mean == pytest.approx(0.92) and std == pytest.approx(0.02)
    assert summarise_seeds([0.7]) == (0.7, 0.0)
    with pytest.raises(DataError, match="no values"):
        summarise_seeds([])
    with pytest.raises(DataError, match="non-finite"):
        summarise_seeds([0.5, math.inf])
