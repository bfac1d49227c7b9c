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
        A header line describing the environment, the table, and any errors, newline-separated.
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
    rows = [[_cell(fmt, r.get(key)) for _, key, fmt in _COLUMNS] for r in result.get("rows", [])]
    lines = [head, *_table([h for h, _, _ in _COLUMNS], rows)]
    notes = {r.get("mask_note") for r in result.get("rows", []) if r.get("mask_note")}
    lines += [f"note: {n}" for n in sorted(notes)]
    for err in result.get("errors", []):
        lines.append(f"error: {err.get('name', '?')}: {err.get('error', '?')}")
    return "\n".join(lines)
