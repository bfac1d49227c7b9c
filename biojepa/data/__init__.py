"""Shared data machinery used by every modality adapter.

- :mod:`~biojepa.data.record`: :class:`Record`, one validated multichannel recording.
- :mod:`~biojepa.data.cache`: :func:`build_cache` writes memory-mapped float16 shards + an index;
  :class:`Cache` reads them; :class:`ArrayStore` is the in-memory equivalent.
- :mod:`~biojepa.data.sampler`: deterministic weighted crop sampling keyed by ``(step, slot)``
  (imports torch, so it is not imported here).
- :mod:`~biojepa.data.cards`: dataset cards (``datasets/<id>.yaml``).
- :mod:`~biojepa.data.sources`: ``--data ID=DIR`` resolution and the ``synthetic`` source.
- :mod:`~biojepa.data.synthetic`: signals with planted, learnable structure.
"""

from __future__ import annotations

from biojepa.data.cache import ArrayStore, Cache, build_cache
from biojepa.data.record import Record

__all__ = ["ArrayStore", "Cache", "Record", "build_cache"]
