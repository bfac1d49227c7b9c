"""biojepa: Joint-Embedding Predictive Architectures for biomedical signals.

The import is cheap: torch and the model code load on first use of ``encode``, ``load``,
``create_model`` or ``list_models``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from biojepa._version import __version__

__all__ = ["__version__", "create_model", "encode", "list_models", "load"]

_LAZY = {
    "create_model": "biojepa.models",
    "list_models": "biojepa.models",
    "load": "biojepa.io",
    "encode": "biojepa.api",
}

if TYPE_CHECKING:  # pragma: no cover
    from biojepa.api import encode
    from biojepa.io import load
    from biojepa.models import create_model, list_models


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'biojepa' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
