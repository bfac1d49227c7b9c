"""Sliding-window grids over records and aggregation of per-window outputs.

A record of ``T`` samples is cut into windows of ``window`` samples every ``stride`` samples; the grid always
covers the whole record, so when the strides do not land on the end a last window is placed flush with it
(e.g. 10 s at 500 Hz, 2.5 s windows, 1.25 s stride -> 7 windows starting at 0, 625, ..., 3750).
Works on numpy arrays and torch tensors alike.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from biojepa.errors import ConfigError, ContractError

__all__ = ["aggregate", "extract_windows", "window_starts"]


def window_starts(n_times: int, window: int, stride: int) -> np.ndarray:
    """Start sample of every window of the grid over a record of ``n_times`` samples.

    Starts are ``0, stride, 2·stride, ...`` while the window fits, plus ``n_times - window`` when the last
    regular window does not end at ``n_times``.

    Returns:
        int64 array ``(W,)``, strictly increasing, the last window ending exactly at ``n_times``.

    Raises:
        ConfigError: ``window`` or ``stride`` is not a positive integer.
        ContractError: the record is shorter than one window.
    """
    if int(window) != window or window < 1 or int(stride) != stride or stride < 1:
        raise ConfigError(
            f"window and stride must be positive integers, got window={window}, stride={stride}"
        )
    if n_times < window:
        raise ContractError(
            f"a record of {n_times} samples is shorter than the window of {window} samples; "
            "use a shorter window or pad/drop such records"
        )
    starts = np.arange(0, n_times - window + 1, stride, dtype=np.int64)  # (W,)
    if starts[-1] + window < n_times:
        starts = np.append(starts, np.int64(n_times - window))  # (W + 1,)
    return starts


def extract_windows(x: Any, window: int, stride: int) -> Any:
    """Cut signals into the window grid.

    Args:
        x: ``(C, T)`` or ``(B, C, T)`` numpy array or torch tensor.
        window: window length in samples.
        stride: step between window starts in samples.

    Returns:
        ``(B, W, C, window)`` of the same type as ``x`` (``B = 1`` for a 2-D input); a copy.

    Raises:
        ContractError: ``x`` is not 2-D or 3-D, or shorter than one window.
    """
    if x.ndim == 2:
        x = x[None]  # (1, C, T)
    if x.ndim != 3:
        raise ContractError(f"extract_windows expects (C, T) or (B, C, T), got shape {tuple(x.shape)}")
    starts = window_starts(int(x.shape[-1]), window, stride)
    idx = starts[:, None] + np.arange(window, dtype=np.int64)[None, :]  # (W, window)
    if not isinstance(x, np.ndarray):  # torch tensor: index with a LongTensor on its device
        import torch

        idx = torch.as_tensor(idx, device=x.device)
    out = x[:, :, idx]  # (B, C, W, window)
    if isinstance(x, np.ndarray):
        return out.transpose(0, 2, 1, 3)  # (B, W, C, window)
    return out.transpose(1, 2)  # (B, W, C, window)


def aggregate(
    values: Any,
    how: Literal["mean", "max"] = "mean",
    n_windows: Any | None = None,
) -> Any:
    """Combine per-window outputs into one per record.

    Args:
        values: ``(B, W, ...)`` numpy array or torch tensor (e.g. per-window logits ``(B, W, L)``).
        how: ``"mean"`` (logit averaging) or ``"max"``.
        n_windows: optional ``(B,)`` number of valid windows per record; windows ``>= n_windows[b]`` are
            padding and ignored. Default: all W windows are valid.

    Returns:
        ``(B, ...)`` of the same type as ``values``.

    Raises:
        ConfigError: unknown ``how``.
        ContractError: ``values`` has fewer than 2 dimensions, or ``n_windows`` is out of ``[1, W]``.
    """
    if how not in ("mean", "max"):
        raise ConfigError(f"aggregate: how must be 'mean' or 'max', got {how!r}")
    if values.ndim < 2:
        raise ContractError(f"aggregate expects (B, W, ...) values, got shape {tuple(values.shape)}")
    is_np = isinstance(values, np.ndarray)
    if n_windows is None:
        if how == "mean":
            return values.mean(axis=1) if is_np else values.mean(dim=1)
        return values.max(axis=1) if is_np else values.amax(dim=1)
    B, W = int(values.shape[0]), int(values.shape[1])
    nw = np.asarray(n_windows.cpu() if hasattr(n_windows, "cpu") else n_windows).astype(np.int64)
    if nw.shape != (B,) or nw.min(initial=1) < 1 or nw.max(initial=1) > W:
        raise ContractError(
            f"n_windows must be ({B},) with values in [1, {W}], got shape {nw.shape} "
            f"and range [{nw.min(initial=0)}, {nw.max(initial=0)}]"
        )
    valid = np.arange(W)[None, :] < nw[:, None]  # (B, W)
    valid = valid.reshape(B, W, *([1] * (values.ndim - 2)))  # (B, W, 1, ...)
    if is_np:
        if how == "mean":
            return np.where(valid, values, 0).sum(axis=1) / nw.reshape(B, *([1] * (values.ndim - 2)))
        return np.where(valid, values, -np.inf).max(axis=1)
    import torch

    vm = torch.as_tensor(valid, device=values.device)
    if how == "mean":
        den = torch.as_tensor(nw, device=values.device, dtype=values.dtype)
        den = den.reshape(B, *([1] * (values.ndim - 2)))  # (B, 1, ...)
        return torch.where(vm, values, torch.zeros((), dtype=values.dtype, device=values.device)).sum(1) / den
    neg = torch.full((), float("-inf"), dtype=values.dtype, device=values.device)
    return torch.where(vm, values, neg).amax(dim=1)
