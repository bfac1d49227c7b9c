"""Functional-connectivity gradients by diffusion-map embedding (research note fmri.md §4.3).

Brain-JEPA positions ROIs by the top ``k`` gradients of a group functional-connectivity (FC) matrix. This
module computes them with numpy/scipy only (no BrainSpace, no vtk), for any number of ROIs:

1. :func:`sparsify_rows` keeps the strongest ``1 - sparsity`` fraction of each FC row (negatives -> 0).
2. :func:`normalized_angle_affinity` turns rows into a symmetric affinity ``1 - arccos(cos)/pi``.
3. :func:`diffusion_map` applies the alpha-anisotropic normalisation, builds the Markov operator, takes its
   top eigenpairs, drops the trivial one, scales them (multiscale ``lambda/(1-lambda)`` or ``lambda**t``)
   and fixes each component's sign so that its largest-magnitude entry is positive.
4. :func:`procrustes_align` optionally rotates the result onto a reference (other atlas, subject or run).

:func:`build_gradients` runs the whole chain with input validation and returns a :class:`GradientTable`, which
a recipe refers to by path and sha256 (``save`` writes ``TABLE.npy`` plus a ``TABLE.json`` sidecar and
``load`` checks the hash).

Sign rule: the largest-magnitude entry of every component is made positive (on an exact tie in magnitude the
lowest ROI index wins). This is intrinsic to the data, so independent builds agree whenever that extreme is
clear; for a component that is symmetric about zero no intrinsic rule can be stable -- align to a reference.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.linalg
import scipy.sparse.linalg

from biojepa.errors import CheckpointError, ConfigError, DataError

__all__ = [
    "DENSE_SOLVER_MAX_N",
    "GradientTable",
    "build_gradients",
    "diffusion_map",
    "fix_signs",
    "normalized_angle_affinity",
    "procrustes_align",
    "sparsify_rows",
]

#: Above this many ROIs ``solver="auto"`` uses Lanczos (``eigsh``) instead of a dense ``eigh``.
DENSE_SOLVER_MAX_N = 2000
_FORMAT_VERSION = 1
_SYMMETRY_ATOL = 1e-6


def sparsify_rows(fc: np.ndarray, keep: float = 0.1) -> np.ndarray:
    """Keep the strongest ``keep`` fraction of every row, zero the rest and clip negatives to 0.

    Each row keeps its ``ceil(keep * N)`` largest entries (at least one); ties are broken by the lower column
    index, so the result is deterministic. This is BrainSpace's 90th-percentile thresholding for ``keep=0.1``.

    Args:
        fc: (N, M) matrix, usually a square FC matrix.
        keep: fraction of each row to keep, in (0, 1].

    Returns:
        (N, M) float64 matrix with at most ``ceil(keep * M)`` non-zero, non-negative entries per row.

    Raises:
        ConfigError: ``keep`` is outside (0, 1] or ``fc`` is not 2-D.
    """
    if not 0.0 < keep <= 1.0:
        raise ConfigError(f"sparsify_rows: keep={keep!r}; expected a fraction in (0, 1]; fix: use e.g. 0.1")
    x = np.asarray(fc, dtype=np.float64)
    if x.ndim != 2:
        raise ConfigError(f"sparsify_rows: got an array of shape {x.shape}; expected a 2-D (N, M) matrix")
    n_cols = x.shape[1]
    n_keep = max(1, min(n_cols, math.ceil(keep * n_cols - 1e-9)))
    order = np.argsort(-x, axis=1, kind="stable")[:, :n_keep]  # (N, n_keep) column indices
    out = np.zeros_like(x)
    rows = np.arange(x.shape[0])[:, None]  # (N, 1)
    out[rows, order] = x[rows, order]
    np.maximum(out, 0.0, out=out)
    return out


def normalized_angle_affinity(x: np.ndarray) -> np.ndarray:
    """Normalised-angle affinity between the rows of ``x``: ``1 - arccos(cosine similarity) / pi``.

    A row of zeros has cosine similarity 0 with every row (affinity 0.5) except itself (affinity 1).

    Args:
        x: (N, M) matrix whose rows are compared.

    Returns:
        (N, N) symmetric float64 matrix in [0, 1] with ones on the diagonal.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ConfigError(f"normalized_angle_affinity: got shape {x.shape}; expected a 2-D (N, M) matrix")
    norms = np.linalg.norm(x, axis=1)
    safe = np.where(norms > 0.0, norms, 1.0)
    unit = x / safe[:, None]  # (N, M)
    cos = unit @ unit.T  # (N, N)
    cos = 0.5 * (cos + cos.T)
    np.clip(cos, -1.0, 1.0, out=cos)
    np.fill_diagonal(cos, 1.0)
    return 1.0 - np.arccos(cos) / np.pi


def fix_signs(gradients: np.ndarray) -> np.ndarray:
    """Flip each column so that its largest-magnitude entry is positive (lowest index on an exact tie).

    Args:
        gradients: (N, k) matrix.

    Returns:
        (N, k) copy with deterministic signs.
    """
    g = np.array(gradients, dtype=np.float64)
    idx = np.argmax(np.abs(g), axis=0)  # (k,) first index of the maximum
    signs = np.where(g[idx, np.arange(g.shape[1])] < 0.0, -1.0, 1.0)  # (k,)
    return g * signs[None, :]


def diffusion_map(
    affinity: np.ndarray,
    k: int = 10,
    alpha: float = 0.5,
    diffusion_time: float = 0,
    *,
    solver: Literal["auto", "dense", "sparse"] = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Diffusion-map embedding of a symmetric non-negative affinity matrix.

    ``W_a = D^-alpha W D^-alpha`` (``D`` = row sums of ``W``), ``P = D_a^-1 W_a``. The eigenpairs of ``P`` come
    from the symmetric conjugate ``S = D_a^-1/2 W_a D_a^-1/2`` (same eigenvalues), sorted by decreasing
    eigenvalue; eigenvectors are divided by the first (Perron) one so that it is constant, and it is dropped.
    Component ``i`` is scaled by ``lambda_i / (1 - lambda_i)`` when ``diffusion_time == 0`` (multiscale), else
    by ``lambda_i ** diffusion_time``; then :func:`fix_signs` makes its largest-magnitude entry positive.

    Args:
        affinity: (N, N) symmetric, finite, non-negative affinity with positive row sums.
        k: number of non-trivial components; ``N > k + 1``.
        alpha: anisotropic normalisation exponent in [0, 1] (0.5 = Fokker-Planck, BrainSpace's default).
        diffusion_time: 0 for multiscale scaling, else the diffusion time ``t > 0``.
        solver: ``"dense"`` (``scipy.linalg.eigh``), ``"sparse"`` (``scipy.sparse.linalg.eigsh``) or
            ``"auto"`` (dense up to :data:`DENSE_SOLVER_MAX_N` ROIs).

    Returns:
        ``(gradients, eigenvalues)``: (N, k) float64 components and their (k,) eigenvalues of ``P``.

    Raises:
        ConfigError: bad ``k``, ``alpha``, ``diffusion_time``, ``solver`` or a non-square/asymmetric input.
        DataError: non-finite or negative affinities, an isolated ROI, or a disconnected affinity graph.
    """
    w = np.asarray(affinity, dtype=np.float64)
    n = _check_square(w, "diffusion_map: affinity")
    _check_k(k, n, "diffusion_map")
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"diffusion_map: alpha={alpha!r}; expected a value in [0, 1]; fix: use 0.5")
    if not (math.isfinite(diffusion_time) and diffusion_time >= 0):
        raise ConfigError(
            f"diffusion_map: diffusion_time={diffusion_time!r}; expected 0 (multiscale) or a positive number"
        )
    if solver not in ("auto", "dense", "sparse"):
        raise ConfigError(f"diffusion_map: solver={solver!r}; expected 'auto', 'dense' or 'sparse'")
    _check_finite(w, "diffusion_map: affinity")
    if not np.allclose(w, w.T, rtol=0.0, atol=_SYMMETRY_ATOL):
        raise ConfigError("diffusion_map: the affinity is not symmetric; fix: pass (W + W.T) / 2")
    if np.any(w < 0.0):
        raise DataError(
            f"diffusion_map: the affinity has {int(np.sum(w < 0.0))} negative entries; expected non-negative "
            "values; fix: use normalized_angle_affinity or clip at 0"
        )
    w = 0.5 * (w + w.T)

    d = w.sum(axis=1)
    _check_positive_degree(d)
    if alpha > 0.0:
        d_alpha = d**-alpha
        w = w * d_alpha[:, None] * d_alpha[None, :]  # (N, N)
        d = w.sum(axis=1)
    inv_sqrt_d = 1.0 / np.sqrt(d)
    s = w * inv_sqrt_d[:, None] * inv_sqrt_d[None, :]  # (N, N) symmetric conjugate of P
    s = 0.5 * (s + s.T)

    use_dense = solver == "dense" or (solver == "auto" and n <= DENSE_SOLVER_MAX_N)
    if use_dense:
        vals, vecs = scipy.linalg.eigh(s, subset_by_index=[n - k - 1, n - 1])
    else:
        v0 = np.random.default_rng(0).standard_normal(n)  # fixed start vector: deterministic Lanczos
        vals, vecs = scipy.sparse.linalg.eigsh(s, k=k + 1, which="LA", v0=v0)
    order = np.argsort(-vals, kind="stable")
    vals, vecs = vals[order], vecs[:, order]  # (k+1,), (N, k+1)

    # the Perron vector (first column) is strictly positive on a connected graph, up to the solver's sign
    perron = vecs[:, 0] * np.sign(vecs[np.argmax(np.abs(vecs[:, 0])), 0])  # (N,)
    if np.any(perron <= 0.0) or vals[1] >= 1.0 - 1e-10:
        raise DataError(
            "diffusion_map: the affinity graph is disconnected (second eigenvalue "
            f"{vals[1]:.12g}, expected < 1); fix: lower the sparsity or drop isolated ROIs"
        )
    psi = vecs[:, 1:] / perron[:, None]  # (N, k) right eigenvectors of P, trivial one made constant
    lambdas = vals[1:]
    scale = lambdas / (1.0 - lambdas) if diffusion_time == 0 else lambdas**diffusion_time
    return fix_signs(psi * scale[None, :]), lambdas.copy()


def procrustes_align(gradients: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Rotate/reflect ``gradients`` onto ``reference`` by orthogonal Procrustes.

    Args:
        gradients: (N, k) gradients to align.
        reference: (N, k) target with the same ROIs in the same order.

    Returns:
        (N, k) ``gradients @ R`` with ``R`` the orthogonal matrix minimising ``||gradients @ R - reference||``.

    Raises:
        ConfigError: the shapes differ or are not 2-D.
        DataError: either input has non-finite values.
    """
    g = np.asarray(gradients, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if g.ndim != 2 or g.shape != ref.shape:
        raise ConfigError(
            f"procrustes_align: gradients {g.shape} vs reference {ref.shape}; expected two (N, k) arrays of the "
            "same shape; fix: build the reference with the same ROIs and k"
        )
    _check_finite(g, "procrustes_align: gradients")
    _check_finite(ref, "procrustes_align: reference")
    rotation, _ = scipy.linalg.orthogonal_procrustes(g, ref)  # (k, k)
    return g @ rotation


@dataclass(frozen=True, eq=False)
class GradientTable:
    """Gradients of a group FC matrix: what a recipe refers to by path and sha256.

    Attributes:
        gradients: (N, k) float64, one row per ROI, columns by decreasing eigenvalue.
        eigenvalues: (k,) float64 eigenvalues of the diffusion operator.
        params: JSON-serialisable build parameters (part of the hash).
    """

    gradients: np.ndarray
    eigenvalues: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        g = np.ascontiguousarray(self.gradients, dtype=np.float64)
        ev = np.ascontiguousarray(self.eigenvalues, dtype=np.float64).reshape(-1)  # (k,)
        if g.ndim != 2 or ev.shape != (g.shape[1],):
            raise ConfigError(
                f"GradientTable: gradients {g.shape} and eigenvalues {ev.shape}; expected (N, k) and (k,)"
            )
        object.__setattr__(self, "gradients", g)
        object.__setattr__(self, "eigenvalues", ev)
        object.__setattr__(self, "params", dict(self.params))

    @property
    def n_rois(self) -> int:
        """Number of ROIs (rows)."""
        return int(self.gradients.shape[0])

    @property
    def k(self) -> int:
        """Number of gradients (columns)."""
        return int(self.gradients.shape[1])

    def sha256(self) -> str:
        """sha256 of the shape, the float64 bytes of gradients and eigenvalues, and the canonical params."""
        h = hashlib.sha256()
        h.update(f"biojepa-gradients-v{_FORMAT_VERSION}:{self.n_rois}x{self.k}\n".encode())
        h.update(self.gradients.astype("<f8").tobytes())
        h.update(self.eigenvalues.astype("<f8").tobytes())
        h.update(json.dumps(self.params, sort_keys=True, separators=(",", ":")).encode())
        return h.hexdigest()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``TABLE.npy`` (the gradients) and the ``TABLE.json`` sidecar (hash, params, shape, eigenvalues).

        Args:
            path: destination ending in ``.npy``; the sidecar goes next to it with a ``.json`` suffix.

        Returns:
            The path of the ``.npy`` file.
        """
        npy = Path(path)
        if npy.suffix != ".npy":
            raise ConfigError(
                f"GradientTable.save: path {str(npy)!r} must end in '.npy'; fix: add the suffix"
            )
        npy.parent.mkdir(parents=True, exist_ok=True)
        sidecar = {
            "format": f"biojepa-gradients-v{_FORMAT_VERSION}",
            "sha256": self.sha256(),
            "shape": [self.n_rois, self.k],
            "eigenvalues": [float(v) for v in self.eigenvalues],
            "params": self.params,
        }
        tmp_npy = npy.with_name(npy.name + ".tmp")
        with open(tmp_npy, "wb") as fh:
            np.save(fh, self.gradients.astype("<f8"), allow_pickle=False)
        tmp_json = npy.with_name(npy.stem + ".json.tmp")
        tmp_json.write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp_npy, npy)
        os.replace(tmp_json, npy.with_suffix(".json"))
        return npy

    @classmethod
    def load(cls, path: str | os.PathLike[str], expected_sha256: str | None = None) -> GradientTable:
        """Read a table written by :meth:`save` and verify its hash.

        Args:
            path: the ``.npy`` file.
            expected_sha256: optional hash a recipe pinned; it must match too.

        Raises:
            CheckpointError: a file is missing or unreadable, the shape or the hash does not match.
        """
        npy = Path(path)
        side = npy.with_suffix(".json")
        for p in (npy, side):
            if not p.is_file():
                raise CheckpointError(
                    f"gradient table: {str(p)!r} not found; expected TABLE.npy with a TABLE.json sidecar; "
                    "fix: rebuild it with build_gradients(...).save(path)"
                )
        try:
            meta = json.loads(side.read_text(encoding="utf-8"))
            grads = np.load(npy, allow_pickle=False)
            table = cls(grads, np.asarray(meta["eigenvalues"], dtype=np.float64), meta["params"])
            stored, shape = str(meta["sha256"]), list(meta["shape"])
        except (OSError, ValueError, KeyError, TypeError, ConfigError) as exc:
            raise CheckpointError(
                f"gradient table {str(npy)!r} is unreadable or truncated ({exc}); fix: rebuild and save it again"
            ) from exc
        if shape != [table.n_rois, table.k]:
            raise CheckpointError(
                f"gradient table {str(npy)!r}: array shape {[table.n_rois, table.k]} but sidecar says {shape}"
            )
        actual = table.sha256()
        for label, want in (("sidecar", stored), ("expected", expected_sha256)):
            if want is not None and want != actual:
                raise CheckpointError(
                    f"gradient table {str(npy)!r}: sha256 {actual} does not match the {label} hash {want}; "
                    "the file was modified or belongs to another build; fix: rebuild it or update the hash"
                )
        return table


def build_gradients(
    fc: np.ndarray,
    k: int = 30,
    *,
    sparsity: float = 0.9,
    alpha: float = 0.5,
    diffusion_time: float = 0,
    reference: np.ndarray | GradientTable | None = None,
) -> GradientTable:
    """Diffusion-map gradients of a (group) FC matrix, any number of ROIs.

    Args:
        fc: (N, N) symmetric, finite connectivity matrix (e.g. mean Pearson or Fisher-z FC with a finite
            diagonal).
        k: number of gradients (Brain-JEPA uses 30); needs ``N > k + 1``.
        sparsity: fraction of each row zeroed before the affinity (0.9 keeps the top 10%).
        alpha: anisotropic normalisation exponent (0.5).
        diffusion_time: 0 for multiscale scaling, else ``lambda ** t``.
        reference: optional (N, k) array or table to Procrustes-align onto (signs then follow the reference).

    Returns:
        The :class:`GradientTable`; ``params`` records the settings and the reference's hash.

    Raises:
        ConfigError: not square, not symmetric, bad ``k``/``sparsity``, or a reference of the wrong shape.
        DataError: NaN/inf entries (the message names the rows) or a disconnected affinity graph.
    """
    x = np.asarray(fc, dtype=np.float64)
    n = _check_square(x, "build_gradients: fc")
    _check_finite(x, "build_gradients: fc")
    if not np.allclose(x, x.T, rtol=0.0, atol=_SYMMETRY_ATOL * max(1.0, float(np.max(np.abs(x))))):
        worst = float(np.max(np.abs(x - x.T)))
        raise ConfigError(
            f"build_gradients: fc is not symmetric (max |fc - fc.T| = {worst:.3g}); expected a symmetric "
            "connectivity matrix; fix: pass (fc + fc.T) / 2 or check the ROI order"
        )
    _check_k(k, n, "build_gradients")
    if not 0.0 <= sparsity < 1.0:
        raise ConfigError(f"build_gradients: sparsity={sparsity!r}; expected a value in [0, 1); fix: use 0.9")
    x = 0.5 * (x + x.T)
    affinity = normalized_angle_affinity(sparsify_rows(x, keep=1.0 - sparsity))
    grads, lambdas = diffusion_map(affinity, k=k, alpha=alpha, diffusion_time=diffusion_time)
    ref_hash = None
    if reference is not None:
        ref = (
            reference.gradients if isinstance(reference, GradientTable) else np.asarray(reference, np.float64)
        )
        grads = procrustes_align(grads, ref)
        ref_hash = hashlib.sha256(np.ascontiguousarray(ref, dtype="<f8").tobytes()).hexdigest()
    params: dict[str, Any] = {
        "method": "diffusion_map",
        "affinity": "normalized_angle",
        "n_rois": n,
        "k": int(k),
        "sparsity": float(sparsity),
        "alpha": float(alpha),
        "diffusion_time": float(diffusion_time),
        "sign_rule": "largest_abs_positive",
        "reference_sha256": ref_hash,
    }
    return GradientTable(grads, lambdas, params)


def _check_square(x: np.ndarray, what: str) -> int:
    if x.ndim != 2 or x.shape[0] != x.shape[1]:
        raise ConfigError(f"{what} has shape {x.shape}; expected a square (N, N) matrix over N ROIs")
    return int(x.shape[0])


def _check_k(k: int, n: int, what: str) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ConfigError(f"{what}: k={k!r}; expected a positive integer number of gradients")
    if n <= k + 1:
        raise ConfigError(
            f"{what}: k={k} gradients need more than k + 1 = {k + 1} ROIs but the matrix has {n}; "
            f"fix: use k <= {max(n - 2, 0)}"
        )


def _check_finite(x: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        shown = ", ".join(str(int(r)) for r in rows[:10]) + (" ..." if rows.size > 10 else "")
        raise DataError(
            f"{what} has {int(bad.sum())} non-finite (NaN/inf) entries in rows [{shown}]; expected finite "
            "values; fix: drop or repair those ROIs (a Fisher-z diagonal is inf: set it to 0 or 1)"
        )


def _check_positive_degree(d: np.ndarray) -> None:
    if np.any(d <= 0.0):
        rows = np.flatnonzero(d <= 0.0)
        raise DataError(
            f"diffusion_map: rows {rows[:10].tolist()} of the affinity sum to zero (isolated ROIs); expected "
            "every ROI connected; fix: drop those ROIs or use a denser affinity"
        )
