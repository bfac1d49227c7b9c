"""Read-only views over a record store: a subset of records, and per-channel normalisation at read time.

Both implement the store interface the sampler uses (``n_records``, ``index``, ``lengths``, ``get``,
``crop``, ``record_id``, ``n_times``, ``channels``) and forward every other attribute (``meta``,
``fingerprints``, ``normalization``…) to the wrapped store where that makes sense. They pickle into
DataLoader workers with the store they wrap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from biojepa.data.signal import RunningStats
from biojepa.errors import ConfigError

__all__ = ["NormalizedStore", "SubsetStore", "channel_stats", "record_fingerprints"]


def record_fingerprints(store: Any) -> list[str] | None:
    """Per-record signal fingerprints of a store: its ``fingerprints``, else its index's ``fingerprint`` column."""
    fp = getattr(store, "fingerprints", None)
    if fp is None:
        idx = getattr(store, "index", None)
        if idx is None or "fingerprint" not in getattr(idx, "columns", ()):
            return None
        fp = [str(v) for v in idx["fingerprint"]]
    return list(fp)


class SubsetStore:
    """The records ``keep`` of ``store``, renumbered ``0 .. len(keep) - 1``.

    Args:
        store: any record store.
        keep: indices into ``store`` (unique, in the order wanted).
    """

    def __init__(self, store: Any, keep: Sequence[int] | np.ndarray) -> None:
        keep = np.asarray(keep, dtype=np.int64)  # (N_keep,)
        if keep.ndim != 1 or (keep.size and (keep.min() < 0 or keep.max() >= store.n_records)):
            raise ConfigError(f"subset indices must be a 1-D array within [0, {store.n_records}), found {keep!r}")
        if np.unique(keep).size != keep.size:
            raise ConfigError("subset indices must be unique")
        self.store = store
        self.keep = keep

    @property
    def n_records(self) -> int:
        """Number of records in the view."""
        return int(self.keep.size)

    def __len__(self) -> int:
        return self.n_records

    @property
    def index(self) -> pd.DataFrame:
        """The wrapped store's index rows of the kept records."""
        return self.store.index.iloc[self.keep].reset_index(drop=True)

    @property
    def lengths(self) -> np.ndarray:
        """``(N,)`` record lengths in samples."""
        return np.asarray(self.store.lengths, dtype=np.int64)[self.keep]

    def get(self, i: int) -> np.ndarray:
        """Record ``i`` as float32 ``(C, T)``."""
        return self.store.get(int(self.keep[i]))

    def crop(self, i: int, start: int, length: int) -> np.ndarray:
        """``(C, length)`` float32 samples of record ``i`` from ``start``."""
        return self.store.crop(int(self.keep[i]), start, length)

    def record_id(self, i: int) -> str:
        """Identifier of record ``i``."""
        return self.store.record_id(int(self.keep[i]))

    def n_times(self, i: int) -> int:
        """Length of record ``i``."""
        return self.store.n_times(int(self.keep[i]))

    def channels(self, i: int) -> tuple[str, ...]:
        """Channel names of record ``i``."""
        return self.store.channels(int(self.keep[i]))

    @property
    def fingerprints(self) -> list[str] | None:
        """Per-record signal fingerprints of the kept records (the store's, or its index column), if any."""
        fp = record_fingerprints(self.store)
        return None if fp is None else [fp[int(k)] for k in self.keep]

    def subset(self, keep: Sequence[int] | np.ndarray) -> SubsetStore:
        """The records ``keep`` of this view (indices in this view's numbering)."""
        return SubsetStore(self.store, self.keep[np.asarray(keep, dtype=np.int64)])

    def __getattr__(self, name: str) -> Any:
        if name in ("store", "keep"):
            raise AttributeError(name)
        return getattr(self.store, name)

    def __repr__(self) -> str:
        return f"SubsetStore({self.n_records} of {self.store!r})"


class NormalizedStore(SubsetStore):
    """``(x - mean) / std`` per channel, clipped to ``±clip``, applied to every read (float32 out).

    Args:
        store: any record store.
        mean: ``(C,)`` channel means.
        std: ``(C,)`` channel standard deviations (> 0).
        clip: clip bound, or None.
        keep: optional subset of records (default: all).
    """

    def __init__(
        self,
        store: Any,
        mean: Sequence[float] | np.ndarray,
        std: Sequence[float] | np.ndarray,
        clip: float | None = 5.0,
        keep: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        super().__init__(store, np.arange(store.n_records) if keep is None else keep)
        self.mean = np.asarray(mean, dtype=np.float32)[:, None]  # (C, 1)
        self.std = np.asarray(std, dtype=np.float32)[:, None]  # (C, 1)
        if self.mean.shape != self.std.shape or not (np.isfinite(self.std).all() and (self.std > 0).all()):
            raise ConfigError(
                f"normalisation needs finite std > 0 and mean/std of equal length, found mean {self.mean.ravel()} "
                f"std {self.std.ravel()}"
            )
        self.clip = None if clip is None else float(clip)

    def _norm(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] != self.mean.shape[0]:
            raise ConfigError(
                f"normalisation statistics have {self.mean.shape[0]} channels but the record has {x.shape[0]}"
            )
        out = (np.asarray(x, dtype=np.float32) - self.mean) / self.std
        if self.clip is not None:
            np.clip(out, -self.clip, self.clip, out=out)
        return out

    def get(self, i: int) -> np.ndarray:
        """Record ``i``, normalised, float32 ``(C, T)``."""
        return self._norm(super().get(i))

    def crop(self, i: int, start: int, length: int) -> np.ndarray:
        """Normalised ``(C, length)`` crop of record ``i``."""
        return self._norm(super().crop(i, start, length))

    def subset(self, keep: Sequence[int] | np.ndarray) -> NormalizedStore:
        """The same normalisation over records ``keep`` (indices into this view)."""
        keep = np.asarray(keep, dtype=np.int64)
        return NormalizedStore(self.store, self.mean.ravel(), self.std.ravel(), self.clip, self.keep[keep])

    def __repr__(self) -> str:
        return f"NormalizedStore({self.n_records} records, clip={self.clip}, of {self.store!r})"


def channel_stats(store: Any, indices: Sequence[int] | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-channel mean and population std over every sample of the chosen records (float64, streaming).

    Args:
        store: a record store with records of equal channel count.
        indices: records to use (default: all).

    Returns:
        ``(mean (C,), std (C,) floored at 1e-6, number of samples per channel)``.

    Raises:
        ConfigError: no records, or records with different channel counts.
    """
    idx = np.arange(store.n_records) if indices is None else np.asarray(indices, dtype=np.int64)
    if idx.size == 0:
        raise ConfigError("cannot compute normalisation statistics from zero records")
    first = np.asarray(store.get(int(idx[0])), dtype=np.float64)  # (C, T)
    stats = RunningStats(first.shape[0])
    stats.update(first)
    for i in idx[1:]:
        x = np.asarray(store.get(int(i)), dtype=np.float64)  # (C, T)
        if x.shape[0] != stats.n_channels:
            raise ConfigError(
                f"record {store.record_id(int(i))!r} has {x.shape[0]} channels, others {stats.n_channels}"
            )
        stats.update(x)
    return stats.mean, stats.std, stats.n
