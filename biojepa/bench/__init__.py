"""Benchmarks behind ``biojepa bench``: throughput, latency and memory of the engine and the pipelines.

The import is cheap (no torch): each benchmark's module loads when it runs.

Example:
    >>> from biojepa import bench
    >>> sorted(bench.BENCHES)
    ['ecg', 'eeg', 'encode', 'engine', 'fmri']
    >>> # result = bench.run("engine", models=("synthetic_vit_xs",))
    >>> # print(bench.format_table(result))
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from biojepa.bench.report import format_table
from biojepa.errors import UnknownNameError

__all__ = ["BENCHES", "format_table", "run"]


def _lazy(module: str, attr: str) -> Callable[..., dict[str, Any]]:
    """A function that imports ``module`` on first call and forwards to ``module.attr``."""

    def call(**kwargs: Any) -> dict[str, Any]:
        fn = getattr(importlib.import_module(module), attr)
        return fn(**kwargs)  # type: ignore[no-any-return]

    call.__name__ = call.__qualname__ = attr
    call.__doc__ = f"Run :func:`{module}.{attr}` (imported on first use)."
    return call


#: Benchmark name -> function returning a result dict in the DESIGN.md §5 ``bench`` schema.
BENCHES: dict[str, Callable[..., dict[str, Any]]] = {
    "engine": _lazy("biojepa.bench.engine", "run_engine_bench"),
    "ecg": _lazy("biojepa.bench.ecg", "run_ecg_bench"),
    "encode": _lazy("biojepa.bench.encode", "run_encode_bench"),
    "eeg": _lazy("biojepa.bench.eeg", "run_eeg_bench"),
    "fmri": _lazy("biojepa.bench.fmri", "run_fmri_bench"),
}


def run(name: str, **kwargs: Any) -> dict[str, Any]:
    """Run the benchmark ``name`` (a key of :data:`BENCHES`) with keyword arguments ``kwargs``.

    Raises:
        UnknownNameError: ``name`` is not a known benchmark (the message lists them).
    """
    if name not in BENCHES:
        raise UnknownNameError(
            f"unknown benchmark {name!r}; valid benchmarks: {', '.join(sorted(BENCHES))}"
        )
    return BENCHES[name](**kwargs)
