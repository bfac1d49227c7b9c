"""Deterministic, resumable sampling of training crops from weighted record stores.

The sample at global position ``(step, slot)`` is a pure function of ``(seed, step, slot)``: a generator
seeded with ``[seed, step, slot, DATA_TAG]`` draws a source by weight, a record uniformly and a crop start
uniformly. Nothing depends on call order, on the number of DataLoader workers or on how a global batch is
split across ranks, so a run resumed at step ``s`` sees exactly the stream of an uninterrupted run.

Wiring (one process of ``world_size``)::

    sampler = WeightedCropSampler(sources, crop_len=2500, seed=0, global_batch=B * world_size)
    loader = DataLoader(KeyedDataset(sampler),
                        batch_sampler=StepBatchSampler(start_step, total_steps, B, rank, world_size),
                        collate_fn=collate, num_workers=4)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch.utils.data

from biojepa.data.cache import ArrayStore, Cache
from biojepa.errors import ConfigError

__all__ = [
    "DATA_TAG",
    "KeyedDataset",
    "Sample",
    "SourceSpec",
    "StepBatchSampler",
    "WeightedCropSampler",
    "normalise_weights",
    "size_weights",
]

#: Stream tag appended to the data seed words, distinct from the mask streams' tags.
DATA_TAG = 0x6461_7461  # "data"


@dataclass(frozen=True)
class SourceSpec:
    """One dataset in a pretraining mix.

    Attributes:
        id: dataset id (reported in :attr:`Sample.source`).
        store: the records (:class:`~biojepa.data.cache.Cache` or :class:`~biojepa.data.cache.ArrayStore`).
        weight: relative sampling weight (normalised over all sources; 0 disables the source).
    """

    id: str
    store: Cache | ArrayStore
    weight: float


@dataclass(frozen=True, eq=False)
class Sample:
    """One training crop.

    Attributes:
        x: ``(C, crop_len)`` float32 crop.
        sample_id: ``step * global_batch + slot``, unique over the run.
        step: the global training step.
        source: id of the source it was drawn from.
        record_index: index of the record inside that source's store.
        crop_start: first sample of the crop inside the record.
    """

    x: np.ndarray
    sample_id: int
    step: int
    source: str
    record_index: int
    crop_start: int


def normalise_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Scale non-negative weights to sum to one.

    Raises:
        ConfigError: a weight is negative or not finite, or all weights are zero.
    """
    out: dict[str, float] = {}
    for k, w in weights.items():
        try:
            wf = float(w)
        except (TypeError, ValueError):
            raise ConfigError(f"weight of {k!r} must be a number, found {w!r}") from None
        if not math.isfinite(wf) or wf < 0:
            raise ConfigError(f"weight of {k!r} must be finite and >= 0, found {w!r}")
        out[k] = wf
    total = sum(out.values())
    if total <= 0:
        raise ConfigError(
            f"all sampling weights are zero ({out}); give at least one dataset a positive weight"
        )
    return {k: w / total for k, w in out.items()}


def size_weights(sizes: Mapping[str, int]) -> dict[str, float]:
    """Weights proportional to dataset sizes (e.g. numbers of records or hours), summing to one.

    Raises:
        ConfigError: a size is negative or all sizes are zero.
    """
    return normalise_weights({k: float(v) for k, v in sizes.items()})


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, found {value!r}")
    return int(value)


class WeightedCropSampler:
    """Draws crops from several record stores; ``sample(step, slot)`` is a pure function of its key.

    Args:
        sources: the datasets with their weights (normalised here).
        crop_len: crop length in samples.
        seed: run seed (>= 0).
        global_batch: samples per step over all ranks (``sample_id = step * global_batch + slot``).
        pad_short: zero-pad records shorter than ``crop_len`` at the end instead of refusing them.

    Raises:
        ConfigError: no sources, duplicate ids, invalid weights, an empty store with positive weight, or
            records shorter than ``crop_len`` without ``pad_short`` (the message gives how many and the
            shortest length).
    """

    def __init__(
        self,
        sources: Sequence[SourceSpec],
        crop_len: int,
        seed: int,
        global_batch: int,
        *,
        pad_short: bool = False,
    ) -> None:
        self.crop_len = _check_int("crop_len", crop_len, 1)
        self.seed = _check_int("seed", seed, 0)
        self.global_batch = _check_int("global_batch", global_batch, 1)
        self.pad_short = bool(pad_short)
        sources = list(sources)
        if not sources:
            raise ConfigError("the sampler needs at least one data source")
        ids = [s.id for s in sources]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"data source ids must be unique, found {ids}")
        probs = normalise_weights({s.id: s.weight for s in sources})
        self.sources = sources
        self.probabilities = probs
        self._lengths: list[np.ndarray] = []
        for s in sources:
            lengths = np.asarray(s.store.lengths, dtype=np.int64)  # (N,)
            self._lengths.append(lengths)
            if probs[s.id] == 0:
                continue
            if lengths.size == 0:
                raise ConfigError(
                    f"data source {s.id!r} has no records but weight {s.weight}; check its cache"
                )
            short = lengths < self.crop_len
            if short.any() and not self.pad_short:
                raise ConfigError(
                    f"data source {s.id!r}: {int(short.sum())} of {lengths.size} records are shorter than "
                    f"crop_len={self.crop_len} samples (shortest: {int(lengths.min())}); use a shorter crop, "
                    "drop short records when building the cache, or set pad_short=True"
                )
        cum = np.cumsum([probs[s.id] for s in sources])  # (S,)
        last = max(k for k, s in enumerate(sources) if probs[s.id] > 0)
        cum[last:] = 1.0
        self._cum = cum

    def sample(self, step: int, slot: int) -> Sample:
        """The crop at global position ``(step, slot)``.

        Raises:
            IndexError: ``step < 0`` or ``slot`` outside ``[0, global_batch)``.
        """
        step, slot = int(step), int(slot)
        if step < 0 or not 0 <= slot < self.global_batch:
            raise IndexError(
                f"sample key (step={step}, slot={slot}) is invalid: need step >= 0 and "
                f"0 <= slot < global_batch={self.global_batch}"
            )
        rng = np.random.default_rng([self.seed, step, slot, DATA_TAG])
        k = int(np.searchsorted(self._cum, rng.random(), side="right"))
        src = self.sources[k]
        lengths = self._lengths[k]
        i = int(rng.integers(lengths.size))
        n_t = int(lengths[i])
        if n_t >= self.crop_len:
            start = int(rng.integers(0, n_t - self.crop_len + 1))
            x = src.store.crop(i, start, self.crop_len)  # (C, crop_len)
        else:  # pad_short: the whole record, zero-padded at the end
            start = 0
            seg = src.store.crop(i, 0, n_t)  # (C, n_t)
            x = np.zeros((seg.shape[0], self.crop_len), dtype=np.float32)  # (C, crop_len)
            x[:, :n_t] = seg
        return Sample(
            x=np.asarray(x, dtype=np.float32),
            sample_id=step * self.global_batch + slot,
            step=step,
            source=src.id,
            record_index=i,
            crop_start=start,
        )

    def __repr__(self) -> str:
        mix = ", ".join(f"{k}={v:.3f}" for k, v in self.probabilities.items())
        return (
            f"WeightedCropSampler(crop_len={self.crop_len}, seed={self.seed}, "
            f"global_batch={self.global_batch}, {mix})"
        )


class StepBatchSampler(torch.utils.data.Sampler[list[tuple[int, int]]]):
    """Yields, per step in ``[start_step, total_steps)``, this rank's ``(step, slot)`` keys.

    A global batch has ``batch_size * world_size`` slots; rank ``r`` gets slots
    ``r * batch_size .. (r + 1) * batch_size - 1``. Use as a DataLoader ``batch_sampler``.

    Raises:
        ConfigError: negative steps, ``batch_size < 1`` or ``rank`` outside ``[0, world_size)``.
    """

    def __init__(
        self, start_step: int, total_steps: int, batch_size: int, rank: int = 0, world_size: int = 1
    ) -> None:
        super().__init__()
        self.start_step = _check_int("start_step", start_step, 0)
        self.total_steps = _check_int("total_steps", total_steps, 0)
        self.batch_size = _check_int("batch_size", batch_size, 1)
        self.world_size = _check_int("world_size", world_size, 1)
        self.rank = _check_int("rank", rank, 0)
        if self.rank >= self.world_size:
            raise ConfigError(f"rank must be in [0, world_size={self.world_size}), found {rank}")

    @property
    def global_batch(self) -> int:
        """Slots per step over all ranks."""
        return self.batch_size * self.world_size

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        lo = self.rank * self.batch_size
        for step in range(self.start_step, self.total_steps):
            yield [(step, slot) for slot in range(lo, lo + self.batch_size)]

    def __len__(self) -> int:
        return max(0, self.total_steps - self.start_step)


class KeyedDataset(torch.utils.data.Dataset[Sample]):
    """Map-style dataset whose keys are ``(step, slot)`` pairs, served by a :class:`WeightedCropSampler`."""

    def __init__(self, sampler: WeightedCropSampler) -> None:
        self.sampler = sampler

    def __getitem__(self, key: tuple[int, int]) -> Sample:
        step, slot = key
        return self.sampler.sample(step, slot)
