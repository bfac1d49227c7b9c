"""Name registries for models, tokenizers, masks, datasets and benchmarks (timm-style).

A :class:`Registry` maps a name to an object (a factory function, a class, a card) plus free-form metadata.
Registries fill themselves lazily: the first lookup imports the modules listed as *loaders*, whose
``@REGISTRY.register(...)`` decorators add the entries. This keeps ``import biojepa`` cheap.

Example:
    >>> from biojepa.registry import MODELS
    >>> "synthetic_vit_tiny" in MODELS.names("synthetic_*")
    True
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from biojepa.errors import UnknownNameError

__all__ = ["DATASETS", "MASKS", "MODELS", "TOKENIZERS", "Entry", "Registry"]

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered object.

    Attributes:
        name: the registered name.
        obj: the object (usually a factory callable).
        meta: free-form metadata given at registration (e.g. ``modality="ecg"``).
    """

    name: str
    obj: T
    meta: Mapping[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """A named collection of objects of one kind.

    Args:
        kind: what is registered (``"model"``, ``"mask"``, ...), used in messages.
        loaders: modules imported on first lookup so their registrations run.
    """

    def __init__(self, kind: str, loaders: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self._loaders = list(loaders)
        self._entries: dict[str, Entry[T]] = {}
        self._loaded = False
        self._lock = threading.RLock()

    # -- registration -------------------------------------------------------------------------------
    def register(self, name: str | None = None, **meta: Any) -> Callable[[T], T]:
        """Decorator that registers an object under ``name`` (default: its ``__name__``).

        Raises:
            ValueError: the name is already taken by another object.
        """

        def deco(obj: T) -> T:
            self.add(name or obj.__name__, obj, **meta)
            return obj

        return deco

    def add(self, name: str, obj: T, **meta: Any) -> None:
        """Register ``obj`` under ``name`` (idempotent for the same object)."""
        with self._lock:
            old = self._entries.get(name)
            if old is not None and old.obj is not obj and _qualname(old.obj) != _qualname(obj):
                raise ValueError(f"{self.kind} {name!r} is already registered by {_qualname(old.obj)}")
            self._entries[name] = Entry(name, obj, dict(meta))

    def add_loader(self, module: str) -> None:
        """Add a module to import on first lookup (used by adapters)."""
        with self._lock:
            if module not in self._loaders:
                self._loaders.append(module)
                self._loaded = False

    # -- lookup -------------------------------------------------------------------------------------
    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            for mod in list(self._loaders):
                importlib.import_module(mod)
            self._loaded = True

    def names(self, pattern: str = "*", **meta_filter: Any) -> list[str]:
        """Sorted names matching an fnmatch ``pattern`` and, optionally, metadata values."""
        self._ensure_loaded()
        out = []
        for name, entry in self._entries.items():
            if not fnmatch.fnmatchcase(name, pattern):
                continue
            if any(entry.meta.get(k) != v for k, v in meta_filter.items()):
                continue
            out.append(name)
        return sorted(out)

    def entry(self, name: str) -> Entry[T]:
        """The :class:`Entry` registered under ``name``.

        Raises:
            UnknownNameError: with the valid names and the closest matches.
        """
        self._ensure_loaded()
        try:
            return self._entries[name]
        except KeyError:
            valid = sorted(self._entries)
            close = difflib.get_close_matches(name, valid, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}.{hint} Valid {self.kind}s: {', '.join(valid) or '(none)'}"
            ) from None

    def get(self, name: str) -> T:
        """The object registered under ``name`` (see :meth:`entry`)."""
        return self.entry(name).obj

    def create(self, name: str, /, **kwargs: Any) -> Any:
        """Call the factory registered under ``name`` with ``kwargs``."""
        factory = self.get(name)
        if not callable(factory):
            raise TypeError(f"{self.kind} {name!r} is not callable")
        return factory(**kwargs)

    def __contains__(self, name: object) -> bool:
        self._ensure_loaded()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, n={len(self._entries)})"


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


#: Model specs: name -> factory returning a :class:`biojepa.models.ModelSpec`.
MODELS: Registry[Any] = Registry(
    "model",
    loaders=(
        "biojepa.models",
        "biojepa.adapters.ecg.models",
        "biojepa.adapters.eeg.models",
        "biojepa.adapters.fmri.models",
    ),
)
#: Tokenizers: kind -> class implementing :class:`biojepa.nn.tokenizers.Tokenizer`.
TOKENIZERS: Registry[Any] = Registry(
    "tokenizer",
    loaders=("biojepa.nn.tokenizers", "biojepa.adapters.eeg.tokenizer", "biojepa.adapters.fmri.tokenizer"),
)
#: Mask generators: name -> function ``(grid, rngs, **params) -> MaskSet``.
MASKS: Registry[Any] = Registry("mask", loaders=("biojepa.masks",))
#: Dataset sources: id -> :class:`biojepa.data.sources.DatasetSource` factory.
DATASETS: Registry[Any] = Registry(
    "dataset",
    loaders=(
        "biojepa.data.sources",
        "biojepa.adapters.ecg.datasets",
        "biojepa.adapters.eeg.datasets",
        "biojepa.adapters.fmri.datasets",
    ),
)
