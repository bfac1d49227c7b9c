"""Representation-collapse monitors: small pure functions on a batch of target tokens.

A JEPA can "solve" its latent loss by mapping every input to the same point: the loss falls to near 0
while the representation carries no information (silent collapse; Brain-JEPA users see it as a loss stuck
near 0). Two cheap statistics of the EMA targets catch it:

* ``target_std``: the standard deviation of each feature across the target tokens of a batch, averaged
  over the ``D`` features. Collapse drives it to 0.
* ``effective_rank``: ``exp(H(p))`` with ``p`` the singular values of the centred ``(n_tokens, D)`` target
  matrix normalised to sum 1 and ``H`` the Shannon entropy (Roy & Vetterli 2007, "The effective rank: a
  measure of effective dimensionality"). It is 1 for a rank-1 matrix and close to ``D`` for white features;
  dimensional collapse (a few directions left) drives it towards 1 even when ``target_std`` stays large.

Nothing here knows about a modality, draws random numbers or keeps state; the Trainer calls
:func:`collapse_stats` every ``engine.monitor_every`` steps and :func:`collapse_warnings` on the result.

Example:
    >>> import torch
    >>> s = collapse_stats(torch.ones(2, 5, 8))  # every token the same: fully collapsed
    >>> s["target_std"], s["effective_rank"], s["n_tokens"]
    (0.0, 1.0, 10.0)
    >>> collapse_warnings(s, std_min=0.01, rank_min=2.0)[0].startswith("target_std")
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

from biojepa.errors import ConfigError, DataError

__all__ = ["collapse_stats", "collapse_warnings", "effective_rank"]

#: A centred matrix whose singular values sum to at most this fraction of the (uncentred) matrix's
#: Frobenius norm has no spread left: it is treated as exactly collapsed (effective rank 1).
_REL_TOL = 1e-6


def effective_rank(x: Tensor) -> float:
    """Effective rank of a 2-D matrix (Roy & Vetterli 2007): ``exp`` of the entropy of its singular values.

    The matrix is used as given (centre it first for a covariance-style rank). The singular values come
    from the eigenvalues of the smaller Gram matrix in float64, which is fast for ``n >> D`` and accurate
    enough for an entropy.

    Args:
        x: a (n, D) matrix.

    Returns:
        A value in ``[1, min(n, D)]``; 1.0 for a rank-1 matrix and, by convention, for an all-zero (or empty)
        matrix, which has no direction at all.

    Raises:
        DataError: ``x`` is not 2-D.
    """
    if x.ndim != 2:
        raise DataError(f"effective_rank needs a (n, D) matrix, got shape {tuple(x.shape)}")
    if x.numel() == 0:
        return 1.0
    a = x.detach().double()
    gram = a.T @ a if a.shape[0] >= a.shape[1] else a @ a.T  # (k, k), k = min(n, D)
    eig = torch.linalg.eigvalsh(gram).clamp_min(0.0)  # (k,) squared singular values
    s = eig.sqrt()  # (k,)
    total = float(s.sum())
    if total <= 0.0 or not math.isfinite(total):
        return 1.0
    p = s / total  # (k,)
    p = p[p > 0]
    h = float(-(p * p.log()).sum())
    return float(min(max(math.exp(h), 1.0), min(a.shape)))


@torch.no_grad()
def collapse_stats(
    target: Tensor, valid: Tensor | None = None, *, max_tokens: int = 4096
) -> dict[str, float]:
    """Collapse statistics of a batch of target tokens.

    Args:
        target: target tokens (B, M, D), e.g. :attr:`biojepa.engine.jepa.JepaOutput.target`.
        valid: optional (B, M) bool; padded target slots (False) are left out.
        max_tokens: the effective rank uses at most this many valid tokens, taken evenly strided (the
            same ones for the same input; ``target_std`` always uses every valid token).

    Returns:
        ``{"target_std", "effective_rank", "n_tokens"}`` as floats: the feature-averaged standard deviation
        across the valid tokens (population, float32 or wider), the effective rank of the centred
        (n_tokens × D) matrix (:func:`effective_rank`), and the number of valid tokens. Degenerate inputs
        give finite values without warnings: no token or a single token gives ``target_std`` 0 and
        ``effective_rank`` 1, and so do identical tokens (no spread left, up to rounding). Non-finite targets
        give NaN for both statistics (logged as ``null``; :func:`collapse_warnings` ignores them).

    Raises:
        DataError: ``target`` is not 3-D or ``valid`` does not match its first two dimensions.
        ConfigError: ``max_tokens`` < 1.
    """
    if target.ndim != 3:
        raise DataError(f"collapse_stats needs targets of shape (B, M, D), got {tuple(target.shape)}")
    if max_tokens < 1:
        raise ConfigError(f"collapse_stats: max_tokens must be >= 1, got {max_tokens}")
    D = target.shape[-1]
    with torch.autocast(device_type=target.device.type, enabled=False):
        if valid is None:
            x = target.detach().reshape(-1, D).float()  # (B·M, D)
        else:
            if tuple(valid.shape) != tuple(target.shape[:2]):
                raise DataError(
                    f"collapse_stats: valid has shape {tuple(valid.shape)}, expected {tuple(target.shape[:2])}"
                )
            x = target.detach()[valid.to(device=target.device, dtype=torch.bool)].float()  # (n, D)
        n = int(x.shape[0])
        if n < 2 or D == 0:
            return {"target_std": 0.0, "effective_rank": 1.0, "n_tokens": float(n)}
        if not bool(torch.isfinite(x).all()):
            return {"target_std": math.nan, "effective_rank": math.nan, "n_tokens": float(n)}
        xd = x.double()  # (n, D)
        std = float(xd.std(dim=0, correction=0).mean())
        if n > max_tokens:
            idx = torch.arange(max_tokens, device=xd.device) * n // max_tokens  # (max_tokens,) evenly strided
            xd = xd[idx]  # (max_tokens, D)
        centred = xd - xd.mean(dim=0, keepdim=True)  # (n', D)
        scale = float(torch.linalg.vector_norm(xd))
        spread = float(torch.linalg.vector_norm(centred))
        if spread <= _REL_TOL * scale:
            rank = 1.0  # identical tokens up to rounding: fully collapsed
        else:
            rank = effective_rank(centred)
    return {"target_std": std, "effective_rank": rank, "n_tokens": float(n)}


def collapse_warnings(stats: Mapping[str, float], *, std_min: float, rank_min: float) -> list[str]:
    """Human-readable reasons why ``stats`` (from :func:`collapse_stats`) look collapsed.

    Args:
        stats: a dict with ``target_std``, ``effective_rank`` and ``n_tokens``.
        std_min: warn when ``target_std < std_min`` (``engine.collapse_std_min``; 0 disables).
        rank_min: warn when ``effective_rank < rank_min`` (``engine.collapse_rank_min``; 0 disables).

    Returns:
        One sentence per statistic below its threshold; empty when none is, when fewer than 2 tokens were
        measured (nothing to compare) or when a statistic is NaN (non-finite targets are reported elsewhere).

    Raises:
        ConfigError: a negative threshold.
    """
    if std_min < 0 or rank_min < 0:
        raise ConfigError(f"collapse thresholds must be >= 0, got std_min={std_min}, rank_min={rank_min}")
    if float(stats.get("n_tokens", 0.0)) < 2:
        return []
    out: list[str] = []
    std = float(stats.get("target_std", math.nan))
    rank = float(stats.get("effective_rank", math.nan))
    if math.isfinite(std) and std < std_min:
        out.append(
            f"target_std {std:.4g} < {std_min:g} (engine.collapse_std_min): the target features barely vary "
            "across the tokens of the batch"
        )
    if math.isfinite(rank) and rank < rank_min:
        out.append(
            f"effective_rank {rank:.4g} < {rank_min:g} (engine.collapse_rank_min): the targets span only a "
            "few directions of the feature space"
        )
    return out
