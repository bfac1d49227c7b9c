"""Soft imports of optional dependencies with an install hint (MNE's ``_soft_import`` idea)."""

from __future__ import annotations

import importlib
from types import ModuleType

from biojepa.errors import OptionalDependencyError

__all__ = ["require"]


def require(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise an error that names the pip extra providing it.

    Args:
        module: importable module name, e.g. ``"wfdb"``.
        extra: the biojepa extra that installs it, e.g. ``"ecg"``.
        purpose: what it is needed for, shown in the message.

    Returns:
        The imported module.

    Raises:
        OptionalDependencyError: the module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise OptionalDependencyError(
            f"{purpose} needs the optional package {module!r}, which is not installed "
            f"({exc}). Install it with: pip install 'biojepa[{extra}]'"
        ) from exc
