"""Locate the recipes and dataset cards shipped with biojepa.

In a wheel they live inside the package (``biojepa/_resources/{recipes,datasets}``, put there by hatch's
force-include); in a source checkout or an editable install they are the top-level ``recipes/`` and
``datasets/`` folders. Both are found through :mod:`importlib.resources`, so no path is hard-coded.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

__all__ = ["resource_dir", "iter_resource_files"]

Kind = Literal["recipes", "datasets"]


def resource_dir(kind: Kind) -> Traversable:
    """The folder holding the shipped ``recipes`` or ``datasets`` (cards).

    Raises:
        FileNotFoundError: neither the packaged nor the checkout folder exists.
    """
    packaged = resources.files("biojepa").joinpath("_resources", kind)
    if packaged.is_dir():
        return packaged
    checkout = Path(str(resources.files("biojepa"))).parent / kind
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"biojepa's {kind}/ folder was not found inside the package ({packaged}) nor beside it "
        f"({checkout}); the installation is incomplete: reinstall biojepa."
    )


def iter_resource_files(kind: Kind, suffix: str = ".yaml") -> list[tuple[str, Traversable]]:
    """All files with ``suffix`` under a resource folder, as (relative name without suffix, file).

    Names use ``/`` separators, e.g. ``("ecg/vit_s", <file>)`` for ``recipes/ecg/vit_s.yaml``.
    """
    root = resource_dir(kind)
    out: list[tuple[str, Traversable]] = []

    def walk(node: Traversable, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(suffix):
                out.append((prefix + child.name[: -len(suffix)], child))

    walk(root, "")
    return out
