"""Brain-JEPA tokenizer: one token = one ROI x ``patch_len`` frames; ROI position from a per-atlas table.

Input ``x`` is ``(B, R, T)``: R ROI time series (the model's ROIs in contract order) of T frames at the
contract's TR. Tokens are **ROI-major**: token ``r * P + p`` is time patch ``p`` of ROI ``r`` (``P = T //
patch_len``), the layout :mod:`biojepa.masks.spatiotemporal` masks. Each token is ``Linear(patch_len -> D)``
of its frames (Brain-JEPA's ``Conv2d(1, D, kernel=(1, 16), stride=(1, 16))``); nothing is hard-coded to 450
ROIs or 10 patches.

Positions (research note fmri.md §1.3): ``[sin-cos of the time-patch index (D/2) | ROI part (D/2)]`` added to
the token. The ROI part comes from a *position provider*:

* ``gradients``: a fixed ``(R, k)`` table of functional-connectivity gradients
  (:mod:`biojepa.adapters.fmri.gradients`), mapped by a learnable ``Linear(k -> D/2)`` (separate weights in the
  encoder and the predictor, as Brain-JEPA) and min-max scaled to [-1, 1] over the whole ``(R, D/2)`` output
  (``roi_norm="minmax"``; ``"layernorm"`` or ``"none"`` are the alternatives the research note suggests);
* ``xyz``: a fixed ``(R, 3)`` table of ROI centroids (mm), the same Linear + scaling;
* ``learned``: a learnable ``(R, D/2)`` embedding, the same scaling;
* ``none``: zeros (an ablation: ROIs are told apart by content only).

The table is part of the model spec (tokenizer ``args``), so a model directory is self-contained:
``roi_table`` is ``"auto"`` (fitted on the pretraining data when ``biojepa pretrain fmri`` starts: the group
FC of the training records -> :func:`~biojepa.adapters.fmri.gradients.build_gradients`; until then -- e.g. a
fresh ``create_model("fmri_vit_s")`` -- the table holds :func:`placeholder_table`, a sin-cos code of the ROI
index, Brain-JEPA's ablation position, so an unfitted model still tells ROIs apart), a path to a table
(a gradient table ``.npy`` with its JSON sidecar, verified against ``roi_table_sha256``; for ``xyz`` an
``(R, 3)`` ``.npy`` or a CSV with ``x,y,z`` columns) or the values themselves. :meth:`RoiPatchTokenizer.fit_spec`
resolves ``"auto"`` and paths into values before the model is built and records where they came from
(``roi_table_origin``) and their hash (``roi_table_sha256``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from biojepa.errors import ConfigError, ContractError
from biojepa.nn.pos_embed import sincos_1d
from biojepa.nn.tokenizers import Tokenizer, gather_tokens
from biojepa.nn.vit import linear
from biojepa.registry import TOKENIZERS

__all__ = [
    "ROI_NORMS",
    "ROI_POSITIONS",
    "RoiPatchTokenizer",
    "RoiTimeEmbed",
    "fit_roi_table",
    "placeholder_table",
    "table_sha256",
]

log = logging.getLogger(__name__)

#: ROI position providers.
ROI_POSITIONS = ("gradients", "xyz", "learned", "none")
#: How the ROI half of the position is scaled.
ROI_NORMS = ("minmax", "layernorm", "none")
#: File name of a gradient table fitted by ``biojepa pretrain fmri`` (in the run directory).
FITTED_TABLE_NAME = "roi_gradients.npy"


def table_sha256(values: np.ndarray) -> str:
    """sha256 of an ``(R, k)`` table: its shape and float64 little-endian bytes (for xyz tables and inline values)."""
    v = np.ascontiguousarray(values, dtype="<f8")
    h = hashlib.sha256(f"biojepa-roi-table:{v.shape[0]}x{v.shape[1]}\n".encode())
    h.update(v.tobytes())
    return h.hexdigest()


def placeholder_table(n_rois: int, k: int) -> np.ndarray:
    """``(R, k)`` sin-cos code of the ROI index: the stand-in for a gradient table that is not fitted yet."""
    width = k + (k % 2)
    code = sincos_1d(torch.arange(n_rois, dtype=torch.float64), width).numpy()  # (R, width)
    return np.ascontiguousarray(code[:, :k])


def _check_dims(dim: int) -> tuple[int, int]:
    """(time width, ROI width) of a position of width ``dim``; both even halves."""
    if dim % 4:
        raise ConfigError(
            f"the fMRI position splits the width into a sin-cos time half and a ROI half, both even: the width "
            f"must be a multiple of 4, found {dim}"
        )
    return dim // 2, dim // 2


def _as_table(values: Any, n_rois: int, roi_dim: int, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n_rois, roi_dim):
        raise ConfigError(
            f"{what}: the ROI table has shape {arr.shape}, the model expects ({n_rois}, {roi_dim}) (one row per ROI "
            "in contract order, roi_dim columns); rebuild it for this atlas or set tokenizer.args.roi_dim"
        )
    if not np.isfinite(arr).all():
        raise ConfigError(f"{what}: the ROI table holds non-finite values; rebuild it")
    return arr


def _load_table_file(path: str | Path, roi_pos: str, expected_sha256: str | None) -> tuple[np.ndarray, str]:
    """Values and hash of a table file (gradient table with sidecar, or an xyz .npy/.csv)."""
    from biojepa.errors import CheckpointError

    p = Path(path).expanduser()
    if roi_pos == "gradients":
        from biojepa.adapters.fmri.gradients import GradientTable

        try:
            table = GradientTable.load(p, expected_sha256=expected_sha256)
        except CheckpointError as exc:
            raise ConfigError(f"tokenizer.args.roi_table: {exc}") from None
        return table.gradients, table.sha256()
    if not p.is_file():
        raise ConfigError(f"tokenizer.args.roi_table: {str(p)!r} not found; give the (R, 3) ROI centroid table")
    if p.suffix.lower() == ".npy":
        arr = np.load(p, allow_pickle=False)
    else:
        import pandas as pd

        df = pd.read_csv(p)
        cols = [c for c in ("x", "y", "z") if c in df.columns]
        if len(cols) != 3:
            raise ConfigError(f"{p}: an xyz table needs columns x, y, z (found {list(df.columns)})")
        arr = df[cols].to_numpy(dtype=np.float64)  # (R, 3)
    digest = table_sha256(arr)
    if expected_sha256 is not None and expected_sha256 != digest:
        raise ConfigError(
            f"{p}: sha256 {digest} does not match tokenizer.args.roi_table_sha256 {expected_sha256}; the file changed"
        )
    return np.asarray(arr, dtype=np.float64), digest


class RoiTimeEmbed(nn.Module):
    """``(roi index, time-patch index)`` coordinates -> ``[sin-cos time (D/2) | ROI position (D/2)]``.

    Args:
        dim: output width (a multiple of 4).
        n_rois: number of ROIs R.
        roi_pos: ``"gradients"`` | ``"xyz"`` | ``"learned"`` | ``"none"``.
        table: ``(R, k)`` fixed table for ``gradients`` / ``xyz`` (None for the others).
        roi_norm: ``"minmax"`` (Brain-JEPA: the whole ``(R, D/2)`` ROI part scaled to [-1, 1]), ``"layernorm"``
            (per ROI, no affine) or ``"none"``.
    """

    def __init__(self, dim: int, n_rois: int, roi_pos: str, table: np.ndarray | None, roi_norm: str = "minmax"):
        super().__init__()
        self.dim = dim
        self.time_dim, self.roi_dim_out = _check_dims(dim)
        self.n_rois = n_rois
        self.roi_pos = roi_pos
        self.roi_norm = roi_norm
        self.proj: nn.Linear | None = None
        self.embedding: nn.Parameter | None = None
        if roi_pos in ("gradients", "xyz"):
            assert table is not None
            # a fixed table: part of the spec (config.json), not of the weights
            self.register_buffer("table", torch.as_tensor(table, dtype=torch.float32), persistent=False)
            self.proj = nn.Linear(table.shape[1], self.roi_dim_out)
            nn.init.trunc_normal_(self.proj.weight, std=0.02, a=-0.04, b=0.04)
            nn.init.zeros_(self.proj.bias)
        elif roi_pos == "learned":
            self.embedding = nn.Parameter(torch.zeros(n_rois, self.roi_dim_out))
            nn.init.trunc_normal_(self.embedding, std=0.02, a=-0.04, b=0.04)

    def roi_part(self) -> Tensor | None:
        """The ``(R, D/2)`` ROI half for every ROI (None for ``roi_pos="none"``)."""
        if self.proj is not None:
            e = self.proj(self.table)  # (R, D/2)
        elif self.embedding is not None:
            e = self.embedding  # (R, D/2)
        else:
            return None
        if self.roi_norm == "minmax":
            lo, hi = e.min(), e.max()
            e = 2.0 * (e - lo) / (hi - lo).clamp_min(1e-6) - 1.0
        elif self.roi_norm == "layernorm":
            e = torch.nn.functional.layer_norm(e, (e.shape[-1],))
        return e

    def forward(self, coords: Tensor) -> Tensor:
        """``(1 | B, N, 2)`` -> ``(1 | B, N, dim)``."""
        time = sincos_1d(coords[..., 1].float(), self.time_dim)  # (1|B, N, D/2)
        roi = self.roi_part()
        if roi is None:
            part = time.new_zeros(*time.shape[:-1], self.roi_dim_out)  # (1|B, N, D/2)
        else:
            part = roi[coords[..., 0].long()].to(time.dtype)  # (1|B, N, D/2)
        return torch.cat([time, part], dim=-1)  # (1|B, N, D)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, n_rois={self.n_rois}, roi_pos={self.roi_pos}, roi_norm={self.roi_norm}"


@TOKENIZERS.register("fmri_roi", summary="Brain-JEPA: ROI x patch tokens + gradient/xyz/learned ROI positions")
class RoiPatchTokenizer(Tokenizer):
    """ROI x patch tokens (ROI-major) with a ROI-table position provider (see the module docstring).

    Args:
        dim: token width D (a multiple of 4).
        channels: the model's ROI names in order (given by :func:`biojepa.models.build_encoder`).
        n_rois: ROI count when ``channels`` is not given.
        patch_len: frames per token (Brain-JEPA: 16).
        roi_pos: position provider (:data:`ROI_POSITIONS`).
        roi_dim: columns of the table (``k`` gradients, 3 for ``xyz``).
        roi_table: ``"auto"`` (gradients fitted at pretraining; zeros until then), a table file path, or the
            ``(R, roi_dim)`` values. Ignored for ``learned`` / ``none``.
        roi_table_sha256: the table's hash: checked when a file is read; provenance once values are inline.
        roi_table_origin: where the values came from (set by :meth:`fit_spec`).
        roi_norm: scaling of the ROI half (:data:`ROI_NORMS`).
        bias: bias in the patch projection.

    Raises:
        ConfigError: bad sizes, an unknown provider / norm, a table of the wrong shape, a missing or altered table
            file.
    """

    coord_dim = 2
    takes_channels = True

    def __init__(
        self,
        dim: int,
        channels: Sequence[str] | None = None,
        *,
        n_rois: int | None = None,
        patch_len: int = 16,
        roi_pos: str = "gradients",
        roi_dim: int = 30,
        roi_table: Any = "auto",
        roi_table_sha256: str | None = None,
        roi_table_origin: Any = None,
        roi_norm: str = "minmax",
        bias: bool = True,
    ) -> None:
        super().__init__()
        if channels is not None:
            n_rois = len(channels)
        if n_rois is None or n_rois < 1:
            raise ConfigError("the fmri_roi tokenizer needs the ROI names (channels) or n_rois >= 1")
        if isinstance(patch_len, bool) or not isinstance(patch_len, int) or patch_len < 1:
            raise ConfigError(f"patch_len must be a positive number of frames, found {patch_len!r}")
        if roi_pos not in ROI_POSITIONS:
            raise ConfigError(f"unknown roi_pos {roi_pos!r}; expected one of {', '.join(ROI_POSITIONS)}")
        if roi_norm not in ROI_NORMS:
            raise ConfigError(f"unknown roi_norm {roi_norm!r}; expected one of {', '.join(ROI_NORMS)}")
        if roi_pos == "xyz" and roi_dim != 3:
            raise ConfigError(f"roi_pos='xyz' takes 3 coordinates per ROI; set roi_dim=3 (found {roi_dim})")
        if isinstance(roi_dim, bool) or not isinstance(roi_dim, int) or roi_dim < 1:
            raise ConfigError(f"roi_dim must be a positive integer, found {roi_dim!r}")
        _check_dims(dim)
        self.embed_dim = dim
        self.n_rois = int(n_rois)
        self.patch_len = patch_len
        self.roi_pos = roi_pos
        self.roi_dim = roi_dim
        self.roi_norm = roi_norm
        self.roi_table_sha256 = roi_table_sha256
        self.table: np.ndarray | None = None
        #: False while a gradient table is still to be fitted (``roi_table="auto"`` before pretraining).
        self.table_fitted = True
        if roi_pos in ("gradients", "xyz"):
            if isinstance(roi_table, str) and roi_table == "auto":
                if roi_pos != "gradients":
                    raise ConfigError("roi_table='auto' fits gradients; an xyz table must be given (path or values)")
                self.table = placeholder_table(self.n_rois, roi_dim)
                self.table_fitted = False
            elif isinstance(roi_table, (str, Path)):
                values, digest = _load_table_file(roi_table, roi_pos, roi_table_sha256)
                self.table = _as_table(values, self.n_rois, roi_dim, str(roi_table))
                self.roi_table_sha256 = digest
            elif roi_table is None:
                raise ConfigError(
                    f"roi_pos={roi_pos!r} needs roi_table: 'auto' (gradients fitted on the pretraining data), a "
                    "table file, or the values"
                )
            else:
                self.table = _as_table(roi_table, self.n_rois, roi_dim, "tokenizer.args.roi_table")
        self.proj = nn.Linear(patch_len, dim, bias=bias)  # Brain-JEPA's Conv2d(1, D, (1, p)), same weights

    # -- the Tokenizer contract ------------------------------------------------------------------------
    def grid(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        R, T = int(input_shape[-2]), int(input_shape[-1])
        if R != self.n_rois:
            raise ContractError(
                f"the model has {self.n_rois} ROIs, the input has {R} rows; give the ROI x time matrix of the "
                "model's atlas, ROIs in the model's order (biojepa.encode() matches them by name)"
            )
        if T < self.patch_len or T % self.patch_len:
            raise ContractError(
                f"{T} frames is not a positive multiple of the patch length {self.patch_len}; crop or pad the series "
                f"to a multiple of {self.patch_len} frames"
            )
        return (R, T // self.patch_len)

    def coords(self, x: Tensor) -> Tensor:
        R, P = self.grid(tuple(x.shape))
        roi = torch.arange(R, device=x.device, dtype=torch.float32).repeat_interleave(P)  # (R·P,)
        tm = torch.arange(P, device=x.device, dtype=torch.float32).repeat(R)  # (R·P,)
        return torch.stack([roi, tm], dim=-1).unsqueeze(0)  # (1, R·P, 2)

    def embed(self, x: Tensor, keep_idx: Tensor | None = None) -> Tensor:
        B, R, T = x.shape
        _, P = self.grid((R, T))
        patches = x.reshape(B, R * P, self.patch_len)  # (B, R·P, p) ROI-major
        if keep_idx is not None:
            patches = gather_tokens(patches, keep_idx)  # (B, K, p)
        return linear(patches, self.proj.weight, self.proj.bias)  # (B, N | K, D)

    def make_pos_embed(self, dim: int) -> nn.Module:
        return RoiTimeEmbed(dim, self.n_rois, self.roi_pos, self.table, self.roi_norm)

    def valid_tokens(self, input_shape: tuple[int, ...], n_valid: int) -> Tensor:
        """Indices (ROI-major) of the tokens whose frames all lie within the first ``n_valid`` frames.

        Raises:
            ContractError: fewer valid frames than one patch.
        """
        R, P = self.grid(input_shape)
        p_ok = min(P, int(n_valid) // self.patch_len)
        if p_ok < 1:
            raise ContractError(
                f"a series of {n_valid} frames is shorter than one patch ({self.patch_len} frames); it holds no token"
            )
        idx = torch.arange(R).unsqueeze(1) * P + torch.arange(p_ok).unsqueeze(0)  # (R, p_ok)
        return idx.reshape(-1)  # (R·p_ok,)

    # -- data-dependent arguments ------------------------------------------------------------------------
    @classmethod
    def fit_spec(cls, spec: Any, stores: Mapping[str, Any], out_dir: Path | None) -> Any:
        """Resolve ``roi_table`` ("auto" or a path) into values before the model is built.

        ``"auto"``: the group FC of every record of the pretraining ``stores`` (the training subjects) ->
        gradients (``k = roi_dim``), saved as ``out_dir/roi_gradients.npy`` (+ sidecar) and reused from there when
        a run resumes. A path: read and verified. Returns the spec with the values inline, their hash and origin
        (or None when there is nothing to resolve).
        """
        args = dict(spec.tokenizer.args)
        roi_pos = args.get("roi_pos", "gradients")
        table = args.get("roi_table", "auto")
        if roi_pos not in ("gradients", "xyz") or not isinstance(table, (str, Path)):
            return None
        if table == "auto":
            if roi_pos != "gradients":
                return None
            from biojepa.adapters.fmri.gradients import GradientTable

            saved = Path(out_dir) / FITTED_TABLE_NAME if out_dir is not None else None
            if saved is not None and saved.is_file():
                gt = GradientTable.load(saved)
                log.info("reusing the ROI gradient table of this run: %s", saved)
            else:
                records = [st.get(i) for st in stores.values() for i in range(st.n_records)]
                gt = fit_roi_table(records, k=int(args.get("roi_dim", 30)))
                if saved is not None:
                    gt.save(saved)
            n_rec = sum(int(st.n_records) for st in stores.values())
            origin = {"kind": "fitted", "n_records": n_rec, "datasets": sorted(stores),
                      "path": str(saved) if saved is not None else None, "params": gt.params}
            values, digest = gt.gradients, gt.sha256()
        else:
            values, digest = _load_table_file(table, roi_pos, args.get("roi_table_sha256"))
            origin = {"kind": "file", "path": str(Path(table).expanduser().absolute())}
        n_rois = len(spec.signal.channels)
        values = _as_table(values, n_rois, int(args.get("roi_dim", 30)), "roi table")
        args.update(roi_table=values.tolist(), roi_table_sha256=digest, roi_table_origin=origin)
        tok = spec.tokenizer.model_copy(update={"args": args})
        return spec.model_copy(update={"tokenizer": tok})

    def extra_repr(self) -> str:
        return (
            f"n_rois={self.n_rois}, dim={self.embed_dim}, patch_len={self.patch_len}, roi_pos={self.roi_pos}, "
            f"roi_dim={self.roi_dim}, table_fitted={self.table_fitted}"
        )


def fit_roi_table(records: Sequence[np.ndarray], k: int = 30, **kwargs: Any) -> Any:
    """Gradient table of the group FC of ``records`` (each ``(R, T)``): what ``roi_table="auto"`` fits.

    Args:
        records: ROI x time series of the training subjects (normalised or not: correlations do not change).
        k: number of gradients.
        **kwargs: passed to :func:`~biojepa.adapters.fmri.gradients.build_gradients` (sparsity, alpha, ...).

    Returns:
        A :class:`~biojepa.adapters.fmri.gradients.GradientTable` whose params record ``n_records``.
    """
    from biojepa.adapters.fmri.connectivity import group_fc
    from biojepa.adapters.fmri.gradients import GradientTable, build_gradients

    if not records:
        raise ConfigError("cannot fit ROI gradients from zero records")
    fc, _ = group_fc(np.asarray(r, dtype=np.float64) for r in records)  # (R, R)
    gt = build_gradients(fc, k=k, **kwargs)
    return GradientTable(gt.gradients, gt.eigenvalues, {**gt.params, "fc": "group_mean_fisher_z",
                                                         "n_records": len(records)})
