"""Seeding: one call to seed everything, derived seeds, and RNG state capture / restore for checkpoints.

Per-sample and per-step randomness in biojepa does not use these global generators (it comes from
``numpy.random.default_rng`` seeded by ``(seed, step, sample)``), so resume is exact without them; their
state is still saved and restored so that any code that does draw from them behaves the same after a resume.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

__all__ = ["capture_rng_state", "derive_seed", "restore_rng_state", "seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every CUDA device).

    Args:
        seed: a non-negative integer; NumPy receives ``seed mod 2**32``.

    Raises:
        ValueError: a negative or non-integer seed.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def derive_seed(*ints: int) -> int:
    """A well-mixed seed in ``[0, 2**32)`` from a tuple of non-negative integers (``np.random.SeedSequence``).

    ``derive_seed(seed, step, slot)`` differs for every tuple with overwhelming probability and is stable
    across platforms and versions of NumPy.

    Raises:
        ValueError: no integers, or a negative one.
    """
    if not ints:
        raise ValueError("derive_seed needs at least one integer")
    words = [int(i) for i in ints]
    if any(w < 0 for w in words):
        raise ValueError(f"derive_seed needs non-negative integers, got {words}")
    return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint32)[0])


def capture_rng_state() -> dict[str, Any]:
    """State of Python's, NumPy's and torch's global generators.

    Returns:
        A structure of lists, ints, floats, strings and tensors only, so it round-trips through
        ``torch.save`` / ``torch.load(weights_only=True)``: ``python`` (list), ``numpy`` (dict),
        ``torch`` (uint8 tensor) and ``cuda`` (list of uint8 tensors, empty without CUDA).
    """
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # type: ignore[misc]
    cuda = [t.clone() for t in torch.cuda.get_rng_state_all()] if torch.cuda.is_initialized() else []
    return {
        "python": [int(version), [int(v) for v in internal], None if gauss is None else float(gauss)],
        "numpy": {
            "name": str(name),
            "keys": [int(k) for k in keys],
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state().clone(),
        "cuda": cuda,
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore the generators from :func:`capture_rng_state` output.

    CUDA states are restored only when CUDA is available and the device count matches.

    Raises:
        ValueError: the structure is not one written by :func:`capture_rng_state`.
    """
    try:
        version, internal, gauss = state["python"]
        random.setstate((int(version), tuple(int(v) for v in internal), gauss))
        np_state = state["numpy"]
        np.random.set_state(
            (
                np_state["name"],
                np.asarray(np_state["keys"], dtype=np.uint32),
                int(np_state["pos"]),
                int(np_state["has_gauss"]),
                float(np_state["cached_gaussian"]),
            )
        )
        torch.set_rng_state(state["torch"])
        cuda = state.get("cuda") or []
        if cuda and torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
            torch.cuda.set_rng_state_all(cuda)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"invalid RNG state (expected the output of capture_rng_state): {exc}") from exc
