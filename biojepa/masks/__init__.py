"""Token masking for JEPA pretraining: mask functions, their generators, and the batch collator.

Importing this package registers the mask functions in :data:`biojepa.registry.MASKS` (the registry
imports it on first lookup).

Example:
    >>> from biojepa.masks import build_mask, make_mask_rngs
    >>> fn = build_mask("block1d", {"min_block": 10})
    >>> m = fn((200,), make_mask_rngs(seed=0, step=0, sample_ids=[0, 1]))
    >>> m.n_ctx + m.n_tgt
    200
"""

from __future__ import annotations

from biojepa.masks import block1d as _block1d  # noqa: F401  (registers "block1d")
from biojepa.masks import random_tokens as _random_tokens  # noqa: F401  (registers "random_tokens")
from biojepa.masks import spatial as _spatial  # noqa: F401  (registers "spatial")
from biojepa.masks import spatiotemporal as _spatiotemporal  # noqa: F401  (registers "spatiotemporal")
from biojepa.masks.base import MaskFn, MaskRngs, MaskSet, build_mask, make_mask_rngs, stack_rows
from biojepa.masks.collator import Batch, MaskCollator

__all__ = [
    "Batch",
    "MaskCollator",
    "MaskFn",
    "MaskRngs",
    "MaskSet",
    "build_mask",
    "make_mask_rngs",
    "stack_rows",
]
