"""Functional connectivity (FC) of parcellated BOLD signals ``(R, T)``: numpy only, never NaN.

- :func:`fc_matrix`: Pearson correlation between ROIs over time (optionally Fisher-z).
- :func:`fc_features`: the upper triangle of the Fisher-z FC, the classical features of the connectivity +
  logistic-regression baseline (research note fmri.md §6.7).
- :func:`group_fc`: the group-average FC from which :mod:`biojepa.adapters.fmri.gradients` builds the ROI
  positions (fmri.md §4.3): mean Fisher-z over records, back-transformed with ``tanh``.

A ROI with zero variance in a record (a constant row, e.g. a parcel outside the field of view) has an undefined
correlation. :func:`fc_matrix` reports it as 0 with every other ROI (1 on the diagonal); :func:`group_fc` treats
its pairs as missing for that record instead, so they do not pull the group mean towards 0.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from biojepa.adapters.fmri.transforms import _as_roi_time, _zero_var_mask
from biojepa.errors import DataError

__all__ = ["FISHER_CLIP", "fc_features", "fc_matrix", "group_fc"]

#: correlations are clipped to ``|r| <= 1 - FISHER_CLIP`` before ``arctanh`` (|z| <= ~8.4), keeping it finite
FISHER_CLIP = 1e-7


def _pearson(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of a validated float64 ``(R, T)`` array and its ``(R,)`` zero-variance mask.

    Zero-variance rows correlate 0 with everything; the diagonal is 1; the result is exactly symmetric.
    """
    zero = _zero_var_mask(data)  # (R,)
    centred = data - data.mean(axis=1, keepdims=True)  # (R, T)
    norms = np.sqrt(np.einsum("rt,rt->r", centred, centred))  # (R,)
    safe = np.where(zero, 1.0, norms)  # (R,) no division by zero
    unit = centred / safe[:, None]  # (R, T)
    unit[zero] = 0.0
    corr = unit @ unit.T  # (R, R)
    corr = 0.5 * (corr + corr.T)  # exactly symmetric (floating addition commutes)
    np.clip(corr, -1.0, 1.0, out=corr)
    np.fill_diagonal(corr, 1.0)
    return corr, zero


def _fisher(corr: np.ndarray) -> np.ndarray:
    """``arctanh`` of correlations clipped to ``|r| <= 1 - FISHER_CLIP`` (finite everywhere)."""
    return np.arctanh(np.clip(corr, -1.0 + FISHER_CLIP, 1.0 - FISHER_CLIP))


def fc_matrix(x: np.ndarray, *, fisher_z: bool = False) -> np.ndarray:
    """Pearson correlation between ROIs over time.

    Args:
        x: ``(R, T)`` finite signal, ``T >= 1`` (with ``T == 1`` every ROI has zero variance).
        fisher_z: return ``arctanh(r)`` with ``r`` clipped to ``|r| <= 1 - 1e-7`` and the diagonal set to 0.

    Returns:
        float64 ``(R, R)``, exactly symmetric. Zero-variance ROIs (see
        :func:`~biojepa.adapters.fmri.transforms.zero_variance_rois`) correlate 0 with every other ROI; the
        diagonal is 1 (0 with ``fisher_z``). Never NaN.

    Raises:
        DataError: ``x`` is not a finite 2-D array with at least one frame.
    """
    corr, _ = _pearson(_as_roi_time(x, "fc_matrix"))
    if not fisher_z:
        return corr
    z = _fisher(corr)  # (R, R)
    np.fill_diagonal(z, 0.0)
    return z


def fc_features(x: np.ndarray) -> np.ndarray:
    """Connectivity features: the strict upper triangle of the Fisher-z FC.

    Args:
        x: ``(R, T)`` finite signal.

    Returns:
        float64 ``(R * (R - 1) / 2,)`` in ``np.triu_indices(R, k=1)`` order (row-major: (0, 1), (0, 2), ...,
        (1, 2), ...).
    """
    z = fc_matrix(x, fisher_z=True)  # (R, R)
    rows, cols = np.triu_indices(z.shape[0], k=1)
    return z[rows, cols]  # (R * (R - 1) / 2,)


def group_fc(records: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Group-average FC: mean over records of the Fisher-z FC, back-transformed with ``tanh``.

    A pair involving a ROI with zero variance in a record is *missing* for that record (it is left out of the
    mean, not counted as 0). The diagonal is 1.

    Args:
        records: iterable of ``(R, T_i)`` finite records sharing ``R`` (one pass; a generator is fine).

    Returns:
        ``(fc, counts)``: float64 ``(R, R)`` exactly symmetric group FC in [-1, 1] with ones on the diagonal,
        and int64 ``(R, R)`` the number of records that contributed to each pair (diagonal: the records in
        which the ROI varies).

    Raises:
        DataError: no records, records with different ``R`` (the message names the record index), a record
            that is not a finite 2-D array, or pairs missing in every record (the message names the ROIs).
    """
    total: np.ndarray | None = None
    counts: np.ndarray | None = None
    for i, rec in enumerate(records):
        data = _as_roi_time(rec, f"group_fc: record {i}")
        corr, zero = _pearson(data)  # (R, R), (R,)
        if total is None or counts is None:
            total = np.zeros_like(corr)
            counts = np.zeros(corr.shape, dtype=np.int64)
        elif corr.shape != total.shape:
            raise DataError(
                f"group_fc: record {i} has {corr.shape[0]} ROIs but record 0 has {total.shape[0]}; expected "
                "every record on the same atlas; fix: parcellate all records with one atlas"
            )
        ok = ~zero  # (R,)
        valid = ok[:, None] & ok[None, :]  # (R, R)
        total += np.where(valid, _fisher(corr), 0.0)
        counts += valid
    if total is None or counts is None or total.shape[0] == 0:
        raise DataError("group_fc: no records (or records with 0 ROIs); expected at least one (R, T) record")

    missing = counts == 0  # (R, R)
    if missing.any():
        dead = np.flatnonzero(np.diag(missing))
        if dead.size:
            raise DataError(
                f"group_fc: ROIs {dead[:20].tolist()}{' ...' if dead.size > 20 else ''} have zero variance in "
                "every record, so their connectivity is undefined; expected each ROI to vary in at least one "
                "record; fix: drop those ROIs (check the atlas coverage / brain mask)"
            )
        pairs = np.argwhere(np.triu(missing, k=1))  # (n, 2)
        shown = ", ".join(f"({int(a)}, {int(b)})" for a, b in pairs[:10]) + (
            " ..." if len(pairs) > 10 else ""
        )
        raise DataError(
            f"group_fc: {len(pairs)} ROI pairs [{shown}] are never observed together (one of the two ROIs has "
            "zero variance in every record); expected each pair to be observed in at least one record; "
            "fix: add records or drop one ROI of each pair"
        )
    mean_z = total / counts  # (R, R); counts >= 1 everywhere
    fc = np.tanh(mean_z)
    fc = 0.5 * (fc + fc.T)
    np.fill_diagonal(fc, 1.0)
    return fc, counts
