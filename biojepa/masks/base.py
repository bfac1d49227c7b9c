"""Mask sets, per-step random generators and the glue between mask names and mask functions.

A *mask function* turns a token grid and a :class:`MaskRngs` into a :class:`MaskSet`::

    fn(grid: tuple[int, ...], rngs: MaskRngs, **params) -> MaskSet

It draws batch-level choices (e.g. how many tokens the whole batch keeps) from ``rngs.batch`` and
per-sample choices from ``rngs.samples[i]``. Because both are pure functions of ``(seed, step)`` and
``(seed, step, sample_id)``, the masks of a batch do not depend on how the batch is split across
processes or DataLoader workers, and a resumed run reproduces them exactly.

Mask functions work in numpy (they run in DataLoader workers) and convert to torch only at the end,
usually through :func:`stack_rows`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from biojepa.errors import ConfigError

__all__ = [
    "MASK_BATCH_TAG",
    "MASK_SAMPLE_TAG",
    "MaskFn",
    "MaskRngs",
    "MaskSet",
    "build_mask",
    "make_mask_rngs",
    "mask_params_with_defaults",
    "stack_rows",
]

#: Stream tag appended to the batch-level seed words. Non-zero (numpy's ``SeedSequence`` treats missing
#: trailing words as zeros) and large, so the mask streams never coincide with the data stream's
#: ``(seed, step, slot[, tag])`` seeds.
MASK_BATCH_TAG = 0x6D61_736B  # "mask"
#: Stream tag appended to the per-sample seed words (distinct from :data:`MASK_BATCH_TAG`).
MASK_SAMPLE_TAG = 0x6D73_6D70  # "msmp"


def _describe(t: object) -> str:
    if isinstance(t, torch.Tensor):
        return f"Tensor {tuple(t.shape)} {t.dtype}"
    return type(t).__name__


@dataclass(frozen=True, eq=False)  # tensors: compare fields explicitly, not with ==
class MaskSet:
    """Context and target token indices of one batch.

    Indices point into the flattened token sequence of the tokenizer (register tokens excluded).

    Attributes:
        ctx_idx: ``(B, K)`` int64, context (kept) tokens, each row sorted ascending.
        tgt_idx: ``(B, M)`` int64, target tokens, each row sorted ascending.
        tgt_valid: ``(B, M)`` bool or ``None`` (all valid). When target rows are ragged they are padded to
            ``M`` by repeating each row's last index; the padding is marked ``False`` here.

    Raises:
        ValueError: (at construction) the tensors are not 2-D int64 / bool with matching shapes.
    """

    ctx_idx: torch.Tensor
    tgt_idx: torch.Tensor
    tgt_valid: torch.Tensor | None = None

    def __post_init__(self) -> None:
        for name in ("ctx_idx", "tgt_idx"):
            t = getattr(self, name)
            if not isinstance(t, torch.Tensor) or t.ndim != 2 or t.dtype != torch.int64:
                found = _describe(t)
                raise ValueError(
                    f"MaskSet.{name} must be a 2-D int64 tensor (B, n), found {found}; "
                    "build masks with biojepa.masks.stack_rows"
                )
        if self.ctx_idx.shape[0] != self.tgt_idx.shape[0]:
            raise ValueError(
                f"MaskSet batch sizes differ: ctx_idx has {self.ctx_idx.shape[0]} rows, "
                f"tgt_idx has {self.tgt_idx.shape[0]}; both must have one row per sample"
            )
        v = self.tgt_valid
        if v is not None and (
            not isinstance(v, torch.Tensor) or v.dtype != torch.bool or v.shape != self.tgt_idx.shape
        ):
            found = _describe(v)
            raise ValueError(
                f"MaskSet.tgt_valid must be None or a bool tensor shaped like tgt_idx "
                f"{tuple(self.tgt_idx.shape)}, found {found}"
            )

    @property
    def batch_size(self) -> int:
        """Number of rows ``B``."""
        return int(self.ctx_idx.shape[0])

    @property
    def n_ctx(self) -> int:
        """Context tokens per row ``K``."""
        return int(self.ctx_idx.shape[1])

    @property
    def n_tgt(self) -> int:
        """Target slots per row ``M`` (including padding, see ``tgt_valid``)."""
        return int(self.tgt_idx.shape[1])

    def validate(self, n_tokens: int) -> None:
        """Check the indices against a sequence of ``n_tokens`` tokens.

        Checks, per row: indices in ``[0, n_tokens)``, rows sorted ascending, no duplicate within a row,
        no token both in the context and in the (valid) targets. Target padding (``tgt_valid == False``)
        is only range-checked.

        Raises:
            ValueError: naming the first offending row and indices.
        """
        ctx = self.ctx_idx.detach().cpu().numpy()
        tgt = self.tgt_idx.detach().cpu().numpy()
        valid = None if self.tgt_valid is None else self.tgt_valid.detach().cpu().numpy()
        for name, arr in (("ctx_idx", ctx), ("tgt_idx", tgt)):
            if arr.size and (arr.min() < 0 or arr.max() >= n_tokens):
                bad = arr[(arr < 0) | (arr >= n_tokens)]
                row = int(np.nonzero(((arr < 0) | (arr >= n_tokens)).any(axis=1))[0][0])
                raise ValueError(
                    f"MaskSet.{name} row {row} has indices out of range (e.g. {bad[:5].tolist()}); "
                    f"expected 0 <= index < n_tokens={n_tokens}. Does the mask grid match the tokenizer grid?"
                )
        for b in range(ctx.shape[0]):
            t_row = tgt[b] if valid is None else tgt[b][valid[b]]
            for name, row in (("ctx_idx", ctx[b]), ("tgt_idx", t_row)):
                d = np.diff(row)
                if (d < 0).any():
                    i = int(np.nonzero(d < 0)[0][0])
                    raise ValueError(
                        f"MaskSet.{name} row {b} is not sorted ascending: {int(row[i])} before "
                        f"{int(row[i + 1])}; mask functions must return sorted rows"
                    )
                if (d == 0).any():
                    i = int(np.nonzero(d == 0)[0][0])
                    raise ValueError(
                        f"MaskSet.{name} row {b} repeats index {int(row[i])}; each token may appear once per "
                        "row (mark target padding with tgt_valid=False)"
                    )
            both = np.intersect1d(ctx[b], t_row, assume_unique=True)
            if both.size:
                raise ValueError(
                    f"MaskSet row {b}: tokens {both[:5].tolist()} are both context and target; "
                    "context and target indices of one row must be disjoint"
                )

    def to(self, device: torch.device | str, non_blocking: bool = False) -> MaskSet:
        """A copy with every tensor on ``device``."""
        valid = None if self.tgt_valid is None else self.tgt_valid.to(device, non_blocking=non_blocking)
        return MaskSet(
            self.ctx_idx.to(device, non_blocking=non_blocking),
            self.tgt_idx.to(device, non_blocking=non_blocking),
            valid,
        )

    def pin_memory(self) -> MaskSet:
        """A copy in page-locked memory (called by ``DataLoader(pin_memory=True)``)."""
        valid = None if self.tgt_valid is None else self.tgt_valid.pin_memory()
        return MaskSet(self.ctx_idx.pin_memory(), self.tgt_idx.pin_memory(), valid)


@dataclass(frozen=True)
class MaskRngs:
    """Random generators for one batch.

    Attributes:
        batch: generator for choices shared by the whole batch (e.g. the keep count), f(seed, step).
        samples: one generator per sample, f(seed, step, sample_id), in batch order.
    """

    batch: np.random.Generator
    samples: tuple[np.random.Generator, ...]

    def __len__(self) -> int:
        return len(self.samples)


def _non_negative_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 0:
        raise ValueError(f"{name} must be a non-negative integer, found {value!r}")
    return int(value)


def make_mask_rngs(seed: int, step: int, sample_ids: Sequence[int]) -> MaskRngs:
    """Generators for the masks of one batch.

    ``batch`` is seeded from ``[seed, step, MASK_BATCH_TAG]`` and ``samples[i]`` from
    ``[seed, step, sample_ids[i], MASK_SAMPLE_TAG]`` (numpy ``SeedSequence`` entropy lists), so the
    generators of a sample are the same whichever process, worker or sub-batch builds them.

    Args:
        seed: run seed (>= 0).
        step: global step (>= 0).
        sample_ids: global sample ids of the batch, in batch order (each >= 0).

    Raises:
        ValueError: a negative or non-integer seed, step or sample id.
    """
    seed = _non_negative_int("seed", seed)
    step = _non_negative_int("step", step)
    ids = [_non_negative_int("sample_id", s) for s in sample_ids]
    batch = np.random.default_rng([seed, step, MASK_BATCH_TAG])
    samples = tuple(np.random.default_rng([seed, step, sid, MASK_SAMPLE_TAG]) for sid in ids)
    return MaskRngs(batch=batch, samples=samples)


#: A mask function: ``fn(grid: tuple[int, ...], rngs: MaskRngs, **params) -> MaskSet``.
MaskFn = Callable[..., MaskSet]


def stack_rows(ctx_rows: list[np.ndarray], tgt_rows: list[np.ndarray]) -> MaskSet:
    """Stack per-sample index rows into a :class:`MaskSet`.

    Context rows must all have the same length. Target rows may be ragged: each is then padded to the
    longest by repeating its own last index, and ``tgt_valid`` marks the padding ``False``.

    Args:
        ctx_rows: one 1-D integer array per sample (context indices, sorted).
        tgt_rows: one 1-D integer array per sample (target indices, sorted, non-empty when ragged).

    Raises:
        ValueError: empty input, row counts differ, ragged context rows, or an empty row among ragged
            target rows.
    """
    if not ctx_rows or len(ctx_rows) != len(tgt_rows):
        raise ValueError(
            f"stack_rows needs one context and one target row per sample (>= 1), found "
            f"{len(ctx_rows)} context and {len(tgt_rows)} target rows"
        )
    ctx_lens = {len(r) for r in ctx_rows}
    if len(ctx_lens) != 1:
        raise ValueError(
            f"context rows must all have the same length (the keep count is shared by the batch), "
            f"found lengths {sorted(ctx_lens)}"
        )
    ctx = np.stack([np.asarray(r, dtype=np.int64) for r in ctx_rows])  # (B, K)
    tgt_lens = [len(r) for r in tgt_rows]
    m = max(tgt_lens)
    valid_t: torch.Tensor | None = None
    if min(tgt_lens) == m:
        tgt = np.stack([np.asarray(r, dtype=np.int64) for r in tgt_rows])  # (B, M)
    else:
        if min(tgt_lens) == 0:
            b = tgt_lens.index(0)
            raise ValueError(
                f"target row {b} is empty while others are not; ragged target rows are padded by repeating "
                "their last index, so every row needs at least one target"
            )
        tgt = np.empty((len(tgt_rows), m), dtype=np.int64)  # (B, M)
        valid = np.zeros((len(tgt_rows), m), dtype=bool)  # (B, M)
        for b, row in enumerate(tgt_rows):
            r = np.asarray(row, dtype=np.int64)
            tgt[b, : len(r)] = r
            tgt[b, len(r) :] = r[-1]
            valid[b, : len(r)] = True
        valid_t = torch.from_numpy(valid)
    return MaskSet(torch.from_numpy(ctx), torch.from_numpy(tgt), valid_t)


def mask_params_with_defaults(
    name: str, params: Mapping[str, Any], model_defaults: Mapping[str, Any]
) -> dict[str, Any]:
    """``params`` completed by the model's mask defaults (e.g. the tokenizer's electrode ``positions``).

    Only defaults that mask ``name`` accepts are added, and the recipe's own ``params`` always win.

    Example:
        >>> mask_params_with_defaults("block1d", {"min_block": 5}, {"positions": [[0, 0, 1]]})
        {'min_block': 5}
    """
    from biojepa.registry import MASKS

    sig = inspect.signature(MASKS.get(name))
    accepted = set(list(sig.parameters)[2:])
    out = {k: v for k, v in model_defaults.items() if k in accepted}
    out.update(params)
    return out


def build_mask(name: str, params: Mapping[str, Any]) -> Callable[[tuple[int, ...], MaskRngs], MaskSet]:
    """The registered mask function ``name`` with ``params`` bound (a picklable ``functools.partial``).

    Args:
        name: a name in :data:`biojepa.registry.MASKS` (e.g. ``"block1d"``).
        params: keyword parameters of that function (e.g. ``{"min_block": 10}``).

    Returns:
        ``fn(grid, rngs) -> MaskSet``.

    Raises:
        UnknownNameError: ``name`` is not registered (the message lists the valid names).
        ConfigError: a parameter is not accepted by the function (the message lists the valid ones).
    """
    from biojepa.registry import MASKS  # late: the registry imports this package on first lookup

    fn = MASKS.get(name)
    sig = inspect.signature(fn)
    plist = list(sig.parameters.values())
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in plist)
    valid = [
        p.name
        for p in plist[2:]
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    unknown = sorted(k for k in params if k not in valid)
    if unknown and not accepts_any:
        raise ConfigError(
            f"mask {name!r} does not accept parameter(s) {', '.join(map(repr, unknown))}; "
            f"valid parameters: {', '.join(valid) or '(none)'}"
        )
    return functools.partial(fn, **dict(params))
