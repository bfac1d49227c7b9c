"""Per-fold features of ``biojepa finetune fmri``: the fold's input contract and the pooled encoder features.

Used by :mod:`biojepa.adapters.fmri.fmri_eval` (the features of the ``pretrained`` and ``random_init`` rows) and
:mod:`biojepa.adapters.fmri.probes` (fine-tuning cuts its crops with :func:`_keep_idx` and predicts its test
records through :func:`_apply_windows`).

* **One normalisation contract** (Brain-JEPA issue #14; :func:`fold_contract`): a pretrained model's stored
  robust statistics (per-ROI median / IQR of its pretraining data) are applied as they are; a model without
  statistics (``random:<name>``) gets :func:`~biojepa.adapters.fmri.transforms.robust_stats` of the *training
  fold's* records. Likewise a model whose ROI gradient table was never fitted (``roi_table: "auto"``) gets the
  table of the training fold's group FC (:func:`~biojepa.adapters.fmri.tokenizer.fit_roi_table`), written into
  its spec as :meth:`~biojepa.adapters.fmri.tokenizer.RoiPatchTokenizer.fit_spec` does. Nothing is ever fitted
  on a test subject.
* **Features** (:func:`embed_records`): deterministic crops of the model window (``crops="center"``: one
  centred window; ``"multi"``: every window at stride ``window // 2``
  (:func:`~biojepa.adapters.fmri.transforms.crop_starts`)); a record shorter than the window is zero-padded and
  only its valid tokens are encoded (``keep_idx`` from
  :meth:`~biojepa.adapters.fmri.tokenizer.RoiPatchTokenizer.valid_tokens`); tokens are mean-pooled, then
  windows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from biojepa.errors import ConfigError, ContractError

__all__ = ["CROPS", "FoldContract", "embed_records", "fold_contract"]

#: deterministic crops of the model window: one centred window, or every window at stride ``window // 2``
CROPS = ("center", "multi")


# ---------------------------------------------------------------------------------------------------------
# the per-fold contract
# ---------------------------------------------------------------------------------------------------------
@dataclass
class FoldContract:
    """The encoder and input normalisation used for one training fold (:func:`fold_contract`).

    Attributes:
        encoder: the encoder (the given one, or a copy whose ROI gradient table was fitted on the fold), eval mode.
        method: the contract's normalisation method (``robust``, ``zscore``, ``zscore_per_record``, ``none``).
        center: per-ROI centre subtracted from the (demeaned) records, or None.
        scale: per-ROI scale the records are divided by, or None.
        normalization: ``"stored"`` (the model's statistics), ``"fitted_on_training_fold"``, ``"per_record"`` or
            ``"none"``.
        roi_table: ``"stored"``, ``"fitted_on_training_fold"`` or ``"n/a"`` (no gradient table).
        table_sha256: hash of the ROI table in use (None without one).
        key: identifies the features this contract produces (equal keys give equal features).
    """

    encoder: Any
    method: str
    center: np.ndarray | None
    scale: np.ndarray | None
    normalization: str
    roi_table: str
    table_sha256: str | None
    key: str

    def normalise(self, x: np.ndarray) -> np.ndarray:
        """One demeaned record ``(R, T)`` as the contract says, float32."""
        if self.method == "zscore_per_record":
            s = x.astype(np.float64).std(axis=1)
            return (x / np.where(s < 1e-6, 1.0, s)[:, None]).astype(np.float32)
        if self.center is None or self.scale is None:
            return np.asarray(x, dtype=np.float32)
        return ((x - self.center[:, None]) / self.scale[:, None]).astype(np.float32)


def _train_key(train_records: Sequence[np.ndarray]) -> str:
    """A digest of the training records (what statistics and tables fitted on them depend on)."""
    h = hashlib.sha256()
    for r in train_records:
        h.update(str(r.shape).encode())
        h.update(np.ascontiguousarray(r, dtype=np.float32).tobytes())
    return h.hexdigest()[:16]


def fold_contract(
    encoder: Any,
    train_records: Sequence[np.ndarray],
    *,
    cache: dict[str, Any] | None = None,
    fold: str = "",
) -> FoldContract:
    """Resolve the model's contract for one training fold, fitting only what the model does not carry.

    * Normalisation ``robust`` / ``zscore`` with stored statistics (``mean``/``std`` of the contract): applied as
      stored. Without statistics: ``robust`` -> :func:`~biojepa.adapters.fmri.transforms.robust_stats` of
      ``train_records``; ``zscore`` -> per-ROI mean / std of the pooled training frames.
    * A tokenizer whose table is not fitted (``table_fitted`` False, ``roi_table: "auto"``): the gradient table of
      the training records' group FC (:func:`~biojepa.adapters.fmri.tokenizer.fit_roi_table`) is written into a
      copy of the spec (values, hash and origin inline) and a copy of the encoder with the same weights is
      built on it.

    Args:
        encoder: an fMRI :class:`~biojepa.nn.encoder.SignalEncoder` with a ``spec``.
        train_records: the training fold's demeaned ``(R, T_i)`` records (never test records).
        cache: optional dict reused across calls (statistics and tables of the same training fold are fitted
            once).
        fold: name of the fold (recorded in the table's origin).

    Raises:
        ContractError: an unsupported normalisation method, or stored statistics of the wrong length.
    """
    from biojepa.adapters.fmri.transforms import robust_stats

    cache = {} if cache is None else cache
    spec = encoder.spec
    norm = spec.signal.normalization
    method = norm.method
    stats = dict(norm.stats or {})
    tkey = None

    def train_key() -> str:
        nonlocal tkey
        if tkey is None:
            tkey = _train_key(train_records)
        return tkey

    center = scale = None
    if method in ("robust", "zscore") and stats.get("mean") is not None and stats.get("std") is not None:
        center = np.asarray(stats["mean"], dtype=np.float64)
        scale = np.asarray(stats["std"], dtype=np.float64)
        if center.shape != (len(spec.signal.channels),) or scale.shape != center.shape:
            raise ContractError(
                f"the model's normalisation statistics have {center.size} values for {len(spec.signal.channels)} ROIs"
            )
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
        how = "stored"
    elif method == "robust":
        k = "robust:" + train_key()
        if k not in cache:
            st = robust_stats(train_records)
            cache[k] = (st.center, st.scale)
        center, scale = cache[k]
        how = "fitted_on_training_fold"
    elif method == "zscore":
        k = "zscore:" + train_key()
        if k not in cache:
            pooled = np.concatenate(
                [np.asarray(r, dtype=np.float64) for r in train_records], axis=1
            )  # (R, ΣT)
            sd = pooled.std(axis=1)
            cache[k] = (pooled.mean(axis=1), np.where(sd < 1e-6, 1.0, sd))
        center, scale = cache[k]
        how = "fitted_on_training_fold"
    elif method == "zscore_per_record":
        how = "per_record"
    elif method == "none":
        how = "none"
    else:
        raise ContractError(
            f"fMRI evaluation supports robust, zscore, zscore_per_record and none; the model asks "
            f"for {method!r}"
        )

    enc = encoder
    tok = encoder.tokenizer
    table_how = "n/a" if getattr(tok, "table", None) is None else "stored"
    if getattr(tok, "table_fitted", True) is False:
        enc = _with_fitted_table(encoder, train_records, cache, train_key(), fold)
        table_how = "fitted_on_training_fold"
    table = getattr(enc.tokenizer, "table", None)
    table_sha = None
    if table is not None:
        from biojepa.adapters.fmri.tokenizer import table_sha256

        table_sha = table_sha256(np.asarray(table))
    parts = [how, table_how]
    if how == "fitted_on_training_fold" or table_how == "fitted_on_training_fold":
        parts.append(train_key())
    enc.eval()
    return FoldContract(enc, method, center, scale, how, table_how, table_sha, "/".join(parts))


def _with_fitted_table(
    encoder: Any, train_records: Sequence[np.ndarray], cache: dict[str, Any], key: str, fold: str
) -> Any:
    """A copy of ``encoder`` whose ROI gradient table is fitted on ``train_records`` (same weights)."""
    from biojepa.adapters.fmri.tokenizer import fit_roi_table
    from biojepa.models import build_encoder

    spec = encoder.spec
    args = dict(spec.tokenizer.args)
    k = int(args.get("roi_dim", 30))
    ck = f"table{k}:{key}"
    if ck not in cache:
        cache[ck] = fit_roi_table(list(train_records), k=k)
    gt = cache[ck]
    args.update(
        roi_table=np.asarray(gt.gradients).tolist(),
        roi_table_sha256=gt.sha256(),
        roi_table_origin={
            "kind": "fitted",
            "n_records": len(train_records),
            "fold": fold,
            "params": gt.params,
        },
    )
    spec2 = spec.model_copy(update={"tokenizer": spec.tokenizer.model_copy(update={"args": args})})
    enc2 = build_encoder(spec2)
    enc2.load_state_dict(encoder.state_dict())
    return enc2


# ---------------------------------------------------------------------------------------------------------
# windows, features, predictions
# ---------------------------------------------------------------------------------------------------------
def _windows(records: Sequence[np.ndarray], window: int, crops: str) -> list[tuple[int, np.ndarray, int]]:
    """``(record index, (R, window) float32, n_valid frames)`` of every deterministic crop."""
    from biojepa.adapters.fmri.transforms import crop_starts, pad_to

    out: list[tuple[int, np.ndarray, int]] = []
    for i, x in enumerate(records):
        t = int(x.shape[1])
        if t >= window:
            for s in crop_starts(t, window, mode=crops, stride=max(1, window // 2)):  # type: ignore[arg-type]
                out.append((i, np.ascontiguousarray(x[:, s : s + window], dtype=np.float32), window))
        else:
            xp, nv = pad_to(x, window)
            out.append((i, xp, nv))
    return out


def _keep_idx(encoder: Any, n_rois: int, window: int, n_valid: int, batch: int) -> Any:
    """``(B, K)`` valid-token indices of a window with ``n_valid`` real frames (None: all tokens are valid)."""
    if n_valid >= window:
        return None
    idx = encoder.tokenizer.valid_tokens((n_rois, window), n_valid)
    if idx is None:  # the tokenizer cannot tell: the padded tokens are encoded too
        return None
    return idx.unsqueeze(0).expand(batch, -1)  # (B, K)


def _apply_windows(
    fn: Callable[[Any, Any], Any],
    encoder: Any,
    records: Sequence[np.ndarray],
    *,
    window: int,
    crops: str,
    batch_size: int,
    device: str,
) -> np.ndarray:
    """``fn(x (B, R, window), keep_idx | None) -> (B, F)`` on every crop, averaged per record -> ``(N, F)``."""
    import torch

    items = _windows(records, window, crops)
    sums: np.ndarray | None = None
    counts = np.zeros(len(records), dtype=np.int64)
    dev = torch.device(device)
    by_valid: dict[int, list[int]] = {}
    for j, (_, _, nv) in enumerate(items):
        by_valid.setdefault(nv, []).append(j)
    with torch.inference_mode():
        for nv in sorted(by_valid):
            js = by_valid[nv]
            for b0 in range(0, len(js), batch_size):
                chunk = js[b0 : b0 + batch_size]
                x = torch.from_numpy(np.stack([items[j][1] for j in chunk])).to(dev)  # (B, R, W)
                keep = _keep_idx(encoder, x.shape[1], window, nv, len(chunk))
                out = fn(x, None if keep is None else keep.to(dev)).float().cpu().numpy()  # (B, F)
                if sums is None:
                    sums = np.zeros((len(records), out.shape[1]), dtype=np.float64)
                for j, row in zip(chunk, out, strict=True):
                    sums[items[j][0]] += row
                    counts[items[j][0]] += 1
    assert sums is not None
    return (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)


def embed_records(
    encoder: Any,
    records: Sequence[np.ndarray],
    *,
    crops: str = "multi",
    batch_size: int = 64,
    device: str = "cpu",
) -> np.ndarray:
    """Pooled features ``(N, D)`` of already normalised ``(R, T_i)`` records.

    Each record is cut into the deterministic crops of the model window (``"center"`` or ``"multi"`` at stride
    ``window // 2``); a record shorter than the window is zero-padded at the end and only the tokens lying in
    its real frames are encoded (``keep_idx`` from the tokenizer's ``valid_tokens``). Tokens are mean-pooled,
    then windows averaged.

    Raises:
        ConfigError: an unknown crop mode.
        ContractError: a record has fewer frames than one token.
    """
    import torch

    if crops not in CROPS:
        raise ConfigError(f"unknown crops {crops!r}; expected one of {', '.join(CROPS)}")
    window = int(encoder.spec.signal.n_times)
    dev = torch.device(device)
    was_training = encoder.training
    encoder.to(dev).eval()
    try:
        return _apply_windows(
            lambda x, keep: encoder(x, keep).mean(dim=1),
            encoder,
            records,
            window=window,
            crops=crops,
            batch_size=batch_size,
            device=device,
        )
    finally:
        encoder.train(was_training)
