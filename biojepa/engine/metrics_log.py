"""Append-only JSON-lines metrics log (``metrics.jsonl``), exact across resumes.

One line per logged step: ``{"step", "loss", "lr", "wd", "ema", "grad_norm", "finite", "samples_seen",
"step_s", "wall_s"}``, plus ``target_std`` and ``effective_rank`` on monitored steps (the collapse monitors of
:mod:`biojepa.engine.monitors`); a non-finite value is written as ``null`` (strict JSON). On resume
the lines after the resumed step are dropped, so the file equals that of an uninterrupted run.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

__all__ = ["MetricsLog", "read_metrics"]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The records of a metrics file; a torn last line (killed mid-write) is ignored."""
    out = []
    p = Path(path)
    if not p.is_file():
        return out
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("step"), int):
            out.append(rec)
    return out


class MetricsLog:
    """A JSON-lines metrics file.

    Args:
        path: the file (``<run_dir>/metrics.jsonl``).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.jsonl"
        >>> with MetricsLog(p).open() as m:
        ...     m.append({"step": 1, "loss": 0.5})
        >>> read_metrics(p)[0]["loss"]
        0.5
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._f: IO[str] | None = None

    def open(self, resume_step: int | None = None) -> MetricsLog:
        """Open for appending.

        Args:
            resume_step: None starts a new file (an existing one is emptied); an int keeps exactly the
                records with ``step <= resume_step`` (and drops torn lines) before appending.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            self.path.write_text("", encoding="utf-8")
        else:
            keep = [r for r in read_metrics(self.path) if r["step"] <= resume_step]
            tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
            tmp.write_text("".join(json.dumps(r, allow_nan=False) + "\n" for r in keep), encoding="utf-8")
            os.replace(tmp, self.path)
        self._f = open(self.path, "a", encoding="utf-8")
        return self

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as a line and flush it to the OS (survives a killed process).

        Raises:
            ValueError: the record has no integer ``step`` or the log is not open.
        """
        if self._f is None:
            raise ValueError(f"MetricsLog({self.path}) is not open; call .open() first")
        if not isinstance(record.get("step"), int):
            raise ValueError(f"a metrics record needs an integer 'step', got {record.get('step')!r}")
        self._f.write(json.dumps({k: _clean(v) for k, v in record.items()}, allow_nan=False) + "\n")
        self._f.flush()

    def sync(self) -> None:
        """fsync the file (called before a checkpoint so its lines survive a power loss)."""
        if self._f is not None:
            self._f.flush()
            os.fsync(self._f.fileno())

    def close(self) -> None:
        """Flush and close (idempotent)."""
        if self._f is not None:
            self._f.close()
            self._f = None

    def __enter__(self) -> MetricsLog:
        if self._f is None:
            self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
