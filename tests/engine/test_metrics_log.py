"""metrics.jsonl: one strict-JSON line per logged step, exact truncation on resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from biojepa.engine.metrics_log import MetricsLog, read_metrics


def test_append_and_read(tmp_path: Path) -> None:
    p = tmp_path / "metrics.jsonl"
    with MetricsLog(p).open() as m:
        m.append({"step": 1, "loss": 0.5, "finite": True})
        m.append({"step": 2, "loss": math.nan, "grad_norm": math.inf, "finite": False})
    lines = p.read_text().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[1]) == {"step": 2, "loss": None, "grad_norm": None, "finite": False}
    assert [r["step"] for r in read_metrics(p)] == [1, 2]


def test_fresh_open_empties_the_file(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl"
    p.write_text('{"step": 1, "loss": 1.0}\n')
    MetricsLog(p).open().close()
    assert p.read_text() == ""


def test_resume_truncates_later_and_torn_lines(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl"
    with MetricsLog(p).open() as m:
        for s in range(1, 8):
            m.append({"step": s, "loss": 1.0 / s})
    with open(p, "a") as f:
        f.write('{"step": 8, "lo')  # killed mid-write
    m = MetricsLog(p).open(resume_step=4)
    m.append({"step": 5, "loss": 0.2})
    m.sync()
    m.close()
    recs = read_metrics(p)
    assert [r["step"] for r in recs] == [1, 2, 3, 4, 5]
    assert recs[-1]["loss"] == 0.2
    assert all(json.loads(line) for line in p.read_text().splitlines())  # every line is valid JSON now


def test_append_requires_open_and_int_step(tmp_path: Path) -> None:
    m = MetricsLog(tmp_path / "m.jsonl")
    with pytest.raises(ValueError, match="not open"):
        m.append({"step": 1})
    m.open()
    with pytest.raises(ValueError, match="integer 'step'"):
        m.append({"step": "1"})
    m.close()
    m.close()  # idempotent
