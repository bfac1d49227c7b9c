"""Plain-text rendering of benchmark results (no torch import)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["format_table"]

#: (header, row key, format) of the engine table.
_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("name", "name", "{}"),
    ("batch", "batch", "{:d}"),
    ("samples/s", "samples_per_s", "{:.1f}"),
    ("step s (med)", "step_s", "{:.3f}"),
    ("step s (min)", "step_s_min", "{:.3f}"),
    ("peak MiB", "peak_mem_mb", "{:.0f}"),
    ("GFLOP/sample", "gflop_per_sample", "{:.3f}"),
    ("GFLOP/s", "achieved_gflops", "{:.1f}"),
    ("of peak", "mfu_or_peak_ratio", "{:.0%}"),
    ("cpu util", "cpu_utilization", "{:.0%}"),
    ("attention", "attention_backend", "{}"),
)

#: (header, row key, format) of the data-pipeline table (rows named ``data/<stage>``).
_DATA_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("data stage", "name", "{}"),
    ("batch", "batch", "{:d}"),
    ("records/s", "records_per_s", "{:.1f}"),
    ("samples/s", "samples_per_s", "{:.1f}"),
    ("batches/s", "batches_per_s", "{:.1f}"),
    ("s (med)", "step_s", "{:.4f}"),
    ("s (min)", "step_s_min", "{:.4f}"),
    ("peak MiB", "peak_mem_mb", "{:.0f}"),
    ("cpu util", "cpu_utilization", "{:.0%}"),
)


def _cell(fmt: str, value: Any) -> str:
    if value is None:
        return "-"
    try:
        return fmt.format(value)
    except (TypeError, ValueError):
        return str(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def format_table(result: Mapping[str, Any]) -> str:
    """Render a ``bench`` result (the DESIGN.md §5 schema) as a plain-text table.

    Args:
        result: the dict returned by :func:`biojepa.bench.run`.

    Returns:
        A header line describing the environment, the table of the training rows, a table of the data-pipeline
        rows (named ``data/<stage>``) when there are any, one ``check:`` line per entry of ``checks``, and
        any errors, newline-separated.
    """
    env = result.get("env", {})
    peak = env.get("matmul_peak_gflops")
    head = " | ".join(
        [
            f"torch {env.get('torch', '?')}",
            f"device {env.get('device', '?')}",
            f"threads {env.get('threads', '?')}",
            f"matmul peak {_cell('{:.0f}', peak)} GFLOP/s",
        ]
    )
    if env.get("cpu_linear_backend"):
        head += f" (linear kernel: {env['cpu_linear_backend']})"
    all_rows = result.get("rows", [])
    data = [r for r in all_rows if str(r.get("name", "")).startswith("data/")]
    train = [r for r in all_rows if not str(r.get("name", "")).startswith("data/")]
    lines = [head]
    for columns, rows in ((_COLUMNS, train), (_DATA_COLUMNS, data)):
        if rows or (columns is _COLUMNS and not data):
            lines += ([""] if len(lines) > 1 else []) + _table(
                [h for h, _, _ in columns], [[_cell(f, r.get(k)) for _, k, f in columns] for r in rows]
            )
    for key, value in result.get("checks", {}).items():
        lines.append(f"check: {key} = {_cell('{:.2f}', value) if isinstance(value, float) else value}")
    notes = {r.get("mask_note") for r in result.get("rows", []) if r.get("mask_note")}
    lines += [f"note: {n}" for n in sorted(notes)]
    for err in result.get("errors", []):
        lines.append(f"error: {err.get('name', '?')}: {err.get('error', '?')}")
    return "\n".join(lines)
