"""Feature caching for frozen encoders.

Every record is cut once into the fixed window grid of :func:`biojepa.eval.windows.window_starts`, each
window goes through the encoder (eval mode, ``torch.inference_mode``) and the result is kept as float32:
pooled features ``(N, W, D)`` (mean over tokens) or token features ``(N, W, Ntok, D)`` (for attentive
probes). Probes then train on the cache without touching the encoder again.

The encoder contract: ``encoder(x (B, C, T)) -> (B, Ntok, D)``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from biojepa.errors import ConfigError, ContractError, DataError
from biojepa.eval.windows import window_starts

__all__ = ["FeatureSet", "as_feature_set", "extract_features"]

_KINDS = ("pooled", "tokens")


@dataclass
class FeatureSet:
    """Cached per-window features of N records.

    Attributes:
        feats: float32 ``(N, W, D)`` (pooled) or ``(N, W, Ntok, D)`` (tokens). Records with fewer windows
            than W are zero-padded.
        n_windows: int64 ``(N,)``, the number of valid windows of each record (``1 <= n_windows <= W``).
        window: window length in samples (0 if unknown, e.g. wrapped arrays).
        stride: stride between windows in samples (0 if unknown).
    """

    feats: np.ndarray
    n_windows: np.ndarray
    window: int = 0
    stride: int = 0

    def __post_init__(self) -> None:
        self.feats = np.asarray(self.feats)
        if self.feats.dtype != np.float32:
            self.feats = self.feats.astype(np.float32)
        self.n_windows = np.asarray(self.n_windows).astype(np.int64)
        if self.feats.ndim not in (3, 4):
            raise ContractError(
                f"FeatureSet.feats must be (N, W, D) or (N, W, Ntok, D), got shape {self.feats.shape}"
            )
        n, w = self.feats.shape[:2]
        if self.n_windows.shape != (n,):
            raise ContractError(f"FeatureSet.n_windows must have shape ({n},), got {self.n_windows.shape}")
        if n and (self.n_windows.min() < 1 or self.n_windows.max() > w):
            raise ContractError(f"FeatureSet.n_windows must lie in [1, {w}]")

    @property
    def kind(self) -> str:
        """``"pooled"`` for ``(N, W, D)`` features, ``"tokens"`` for ``(N, W, Ntok, D)``."""
        return "pooled" if self.feats.ndim == 3 else "tokens"

    @property
    def n_records(self) -> int:
        """Number of records N."""
        return int(self.feats.shape[0])

    @property
    def dim(self) -> int:
        """Feature width D."""
        return int(self.feats.shape[-1])

    def __len__(self) -> int:
        return self.n_records

    def subset(self, index: Any) -> FeatureSet:
        """The records selected by ``index`` (integer indices or a boolean mask), as a new FeatureSet."""
        idx = np.asarray(index)
        return FeatureSet(self.feats[idx], self.n_windows[idx], self.window, self.stride)  # (n, W, ...)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write an ``.npz`` file atomically (temporary file + rename); returns the path written."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(
                    fh,
                    feats=self.feats,
                    n_windows=self.n_windows,
                    window=np.int64(self.window),
                    stride=np.int64(self.stride),
                )
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FeatureSet:
        """Read a file written by :meth:`save` (no pickles).

        Raises:
            DataError: the file is missing, unreadable or lacks the expected arrays.
        """
        try:
            with np.load(Path(path), allow_pickle=False) as z:
                missing = {"feats", "n_windows", "window", "stride"} - set(z.files)
                if missing:
                    raise DataError(f"feature file {str(path)!r} lacks arrays {sorted(missing)}")
                return cls(z["feats"], z["n_windows"], int(z["window"]), int(z["stride"]))
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read feature file {str(path)!r}: {exc}") from exc


def as_feature_set(x: FeatureSet | np.ndarray) -> FeatureSet:
    """Wrap features: a FeatureSet passes through; an array ``(N, D)`` is one pooled window per record,
    ``(N, W, D)`` pooled windows and ``(N, W, Ntok, D)`` token windows, all windows valid."""
    if isinstance(x, FeatureSet):
        return x
    arr = np.asarray(x)
    if arr.ndim == 2:
        arr = arr[:, None, :]  # (N, 1, D)
    if arr.ndim not in (3, 4):
        raise ContractError(
            f"features must be (N, D), (N, W, D) or (N, W, Ntok, D), got an array of shape {arr.shape}"
        )
    return FeatureSet(arr, np.full(arr.shape[0], arr.shape[1], dtype=np.int64))


def _records(X: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    if isinstance(X, np.ndarray):
        if X.ndim != 3:
            raise ContractError(
                f"extract_features expects records (N, C, T), got an array of shape {X.shape}"
            )
        return list(X)
    recs = [np.asarray(r) for r in X]
    for i, r in enumerate(recs):
        if r.ndim != 2:
            raise ContractError(f"record {i} must be (C, T), got shape {r.shape}")
        if r.shape[0] != recs[0].shape[0]:
            raise ContractError(f"record {i} has {r.shape[0]} channels, record 0 has {recs[0].shape[0]}")
    return recs


@torch.inference_mode()
def _encode_batch(encoder: nn.Module, xb: np.ndarray, device: torch.device, pool: str) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(xb, dtype=np.float32)).to(device)  # (b, C, window)
    out = encoder(x)
    if not isinstance(out, torch.Tensor) or out.ndim != 3 or out.shape[0] != x.shape[0]:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ContractError(
            f"the encoder must map (B, C, T) to tokens (B, Ntok, D); for input {tuple(x.shape)} it returned "
            f"{shape}. Wrap the model so that forward returns its token features"
        )
    if pool == "mean":
        out = out.mean(dim=1)  # (b, D)
    return out.float().cpu().numpy()


def extract_features(
    encoder: nn.Module,
    X: np.ndarray | Sequence[np.ndarray],
    *,
    window: int,
    stride: int,
    batch_size: int = 64,
    pool: Literal["mean", "tokens"] = "mean",
    device: str | torch.device = "cpu",
) -> FeatureSet:
    """Encode every window of every record once and cache the features.

    Args:
        encoder: module with ``forward(x (B, C, T)) -> (B, Ntok, D)``. It is moved to ``device`` and run in
            eval mode; its previous train/eval mode is restored afterwards.
        X: records ``(N, C, T)`` or a sequence of ``(C, T_i)`` arrays of different lengths (then records
            with fewer windows are zero-padded and :attr:`FeatureSet.n_windows` tells the valid count).
        window: window length in samples (the encoder's input length).
        stride: step between window starts in samples.
        batch_size: windows per encoder call.
        pool: ``"mean"`` stores ``(N, W, D)`` (mean over tokens), ``"tokens"`` stores ``(N, W, Ntok, D)``.
        device: where the encoder runs.

    Returns:
        A float32 :class:`FeatureSet`.

    Raises:
        ConfigError: bad ``pool`` / ``batch_size``.
        ContractError: records shorter than the window, wrong shapes, or an encoder breaking the contract.
        DataError: a record holds NaN or inf.
    """
    if pool not in ("mean", "tokens"):
        raise ConfigError(f"pool must be 'mean' or 'tokens', got {pool!r}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    recs = _records(X)
    if not recs:
        raise ContractError("extract_features got no records")
    for i, r in enumerate(recs):
        if not np.all(np.isfinite(r)):
            raise DataError(f"record {i} holds non-finite values (NaN/inf); clean or drop it before encoding")
    grids = [window_starts(r.shape[-1], window, stride) for r in recs]
    n_windows = np.array([len(g) for g in grids], dtype=np.int64)  # (N,)
    # (record, window index, start sample) of every window of every record
    triples = [(i, w, int(s)) for i, g in enumerate(grids) for w, s in enumerate(g)]
    dev = torch.device(device)
    was_training = encoder.training
    encoder.to(dev)
    encoder.eval()
    feats: np.ndarray | None = None
    try:
        for b0 in range(0, len(triples), batch_size):
            chunk = triples[b0 : b0 + batch_size]
            xb = np.stack([recs[i][:, s : s + window] for i, _, s in chunk])  # (b, C, window)
            out = _encode_batch(encoder, xb, dev, pool)  # (b, D) or (b, Ntok, D)
            if feats is None:
                feats = np.zeros((len(recs), int(n_windows.max()), *out.shape[1:]), dtype=np.float32)
            elif out.shape[1:] != feats.shape[2:]:
                raise ContractError(
                    "the encoder's output shape changed between batches: "
                    f"{out.shape[1:]} vs {feats.shape[2:]}"
                )
            rows = np.array([i for i, _, _ in chunk])
            cols = np.array([w for _, w, _ in chunk])
            feats[rows, cols] = out  # scatter (b, ...) into (N, W, ...)
    finally:
        encoder.train(was_training)
    if feats is None:  # unreachable: every record has at least one window
        raise ContractError("no windows were encoded")
    return FeatureSet(feats, n_windows, int(window), int(stride))
