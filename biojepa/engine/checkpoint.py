"""Atomic, hash-verified training checkpoints and resume discovery.

Layout of ``<run_dir>/checkpoints/``::

    step_00000004/
        model.safetensors   every JEPA tensor: context encoder, EMA target encoder, predictor
        trainer.pt          optimizer state + RNG states (tensors / numbers / strings / lists / dicts only;
                            read back with ``torch.load(weights_only=True)``)
        state.json          step, config hash, counters and any JSON-able extras
        manifest.json       sha256 and size of every other file
    step_00000008/
    latest                  text file naming the newest complete checkpoint

A save writes ``step_XXXXXXXX.tmp-<pid>/``, fsyncs every file and the directory, renames it to
``step_XXXXXXXX``, fsyncs the parent, then moves ``latest`` atomically (write a temporary file, fsync,
``os.replace``), and only then prunes old checkpoints. A crash at any point leaves ``latest`` on a complete
checkpoint. Loading verifies the manifest first and never unpickles arbitrary objects.

Two layouts share this protocol; ``layout`` in ``manifest.json`` and ``state.json`` says which (absent:
``"full"``, the checkpoints written before the field existed):

* ``"full"`` (a single process, ``engine.strategy=ddp``): the files above, written by rank 0.
* ``"sharded"`` (``engine.strategy=fsdp`` under torchrun, :func:`save_sharded_checkpoint`): model and
  optimizer as a ``torch.distributed.checkpoint`` (DCP) folder, ``__<rank>_0.distcp`` written by every rank
  into the same temporary folder (its name agreed by broadcast) plus DCP's ``.metadata`` (written last, by
  rank 0); rank 0 then adds ``trainer.pt`` (the RNG states of every rank, no optimizer), ``state.json`` and
  the manifest, which lists the sha256 and size of every file, shards and ``.metadata`` included.

A checkpoint of one layout is never loaded as the other: the loaders raise a
:class:`~biojepa.errors.CheckpointError` naming the strategy that wrote it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from biojepa._fs import fsync_dir as _fsync_dir
from biojepa._fs import fsync_file as _fsync_file
from biojepa._fs import sha256_file as _sha256
from biojepa.errors import CheckpointError

__all__ = [
    "CHECKPOINT_DIR",
    "LATEST",
    "LAYOUT_FULL",
    "LAYOUT_SHARDED",
    "checkpoint_layout",
    "checkpoint_name",
    "find_resume",
    "list_checkpoints",
    "load_checkpoint",
    "load_sharded_checkpoint",
    "read_state",
    "save_checkpoint",
    "save_sharded_checkpoint",
    "verify_checkpoint",
]

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
LATEST = "latest"
MODEL_FILE = "model.safetensors"
TRAINER_FILE = "trainer.pt"
STATE_FILE = "state.json"
MANIFEST_FILE = "manifest.json"
FORMAT = "biojepa-checkpoint"
FORMAT_VERSION = 1
LAYOUT_FULL = "full"
LAYOUT_SHARDED = "sharded"
DCP_METADATA = ".metadata"
#: The files every checkpoint of a layout must list in its manifest (a sharded one also needs a shard).
REQUIRED_FILES: dict[str, tuple[str, ...]] = {
    LAYOUT_FULL: (MODEL_FILE, TRAINER_FILE, STATE_FILE),
    LAYOUT_SHARDED: (DCP_METADATA, TRAINER_FILE, STATE_FILE),
}
SHARD_SUFFIX = ".distcp"
_NAME_RE = re.compile(r"^step_(\d{8,})$")


def checkpoint_name(step: int) -> str:
    """Directory name of the checkpoint after ``step`` completed steps (``step_00000012``)."""
    if step < 0:
        raise ValueError(f"checkpoint step must be >= 0, got {step}")
    return f"step_{step:08d}"


# -- small file helpers --------------------------------------------------------------------------------
def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _state_dict_for_safetensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """CPU, contiguous, unshared copies of the model's tensors (safetensors refuses shared storage)."""
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, t in model.state_dict().items():
        t = t.detach().to("cpu").contiguous()
        ptr = t.untyped_storage().data_ptr()
        if ptr in seen:
            t = t.clone()
        seen.add(t.untyped_storage().data_ptr())
        out[name] = t
    return out


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):  # numpy / torch scalars
        return obj.item()
    raise TypeError(f"checkpoint state value of type {type(obj).__name__} is not JSON-serialisable")


# -- save ------------------------------------------------------------------------------------------------
def save_checkpoint(
    run_dir: str | Path,
    step: int,
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    extra: Mapping[str, Any],
    keep: int,
    *,
    trainer_state: Mapping[str, Any] | None = None,
    before_commit: Callable[[int], None] | None = None,
) -> Path:
    """Write a checkpoint atomically and prune to the newest ``keep``.

    Args:
        run_dir: the run directory; checkpoints go to ``run_dir/checkpoints``.
        step: completed optimizer steps.
        model: the (unwrapped) model; all its state-dict tensors go to ``model.safetensors``.
        opt: the optimizer; its state dict goes to ``trainer.pt``.
        extra: JSON-able values stored in ``state.json`` (config hash, counters, ...).
        keep: how many checkpoints to keep (>= 1); the one ``latest`` names is never pruned.
        trainer_state: more tensors / numbers / lists / dicts for ``trainer.pt`` (e.g. RNG states).
        before_commit: called with ``step`` after the temporary directory is complete, before the rename
            (fault injection in tests).

    Returns:
        The final checkpoint directory.

    Raises:
        ValueError: ``keep < 1``.
        TypeError: ``extra`` is not JSON-serialisable.
    """
    if keep < 1:
        raise ValueError(f"keep must be >= 1 checkpoint, got {keep}")
    ckdir = Path(run_dir) / CHECKPOINT_DIR
    tmp = ckdir / _fresh_tmp(ckdir, step)
    try:
        state_text = _state_text(step, extra, LAYOUT_FULL)
        save_file(_state_dict_for_safetensors(model), str(tmp / MODEL_FILE), metadata={"format": "pt"})
        torch.save({"optimizer": opt.state_dict(), **dict(trainer_state or {})}, tmp / TRAINER_FILE)
        _write_text(tmp / STATE_FILE, state_text)
        _write_manifest(tmp, step, LAYOUT_FULL, (MODEL_FILE, TRAINER_FILE, STATE_FILE))
        final = _move_into_place(ckdir, tmp, step, before_commit)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _point_latest(ckdir, final.name)
    _prune(ckdir, keep)
    return final


def _state_text(step: int, extra: Mapping[str, Any], layout: str) -> str:
    """``state.json``'s text: format, version, layout, step and the extras (strict JSON)."""
    state = {"format": FORMAT, "version": FORMAT_VERSION, "layout": layout, "step": int(step), **dict(extra)}
    return json.dumps(state, indent=1, sort_keys=True, default=_json_default, allow_nan=False)


def _write_manifest(tmp: Path, step: int, layout: str, names: Sequence[str]) -> None:
    """fsync ``names`` in ``tmp``, then write the manifest of their sha256 and sizes and fsync the folder."""
    files = {}
    for fname in names:
        p = tmp / fname
        _fsync_file(p)
        files[fname] = {"sha256": _sha256(p), "size": p.stat().st_size}
    manifest = {"format": FORMAT, "version": FORMAT_VERSION, "layout": layout, "step": int(step), "files": files}
    _write_text(tmp / MANIFEST_FILE, json.dumps(manifest, indent=1, sort_keys=True))
    _fsync_dir(tmp)


def _move_into_place(ckdir: Path, tmp: Path, step: int, before_commit: Callable[[int], None] | None) -> Path:
    """Run the fault hook, then rename the complete ``tmp`` to ``step_XXXXXXXX`` and fsync the parent."""
    if before_commit is not None:
        before_commit(step)
    name = checkpoint_name(step)
    final = ckdir / name
    if final.exists():  # a stale checkpoint of the same step (e.g. after falling back past it)
        trash = ckdir / f"{name}.old-{os.getpid()}"
        os.replace(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.replace(tmp, final)
    _fsync_dir(ckdir)
    return final


def save_sharded_checkpoint(
    run_dir: str | Path,
    step: int,
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    extra: Mapping[str, Any],
    keep: int,
    *,
    is_main: bool,
    trainer_state: Mapping[str, Any] | None = None,
    before_commit: Callable[[int], None] | None = None,
) -> Path:
    """Write a sharded (FSDP2 / DCP) checkpoint with the atomic protocol; a collective of every rank.

    Rank 0 clears leftovers and creates ``step_XXXXXXXX.tmp-<pid>/`` and broadcasts its name; every rank
    writes its DCP shard of the model and optimizer there; after a barrier rank 0 writes ``trainer.pt``,
    ``state.json`` and the manifest of every file, then renames, points ``latest`` and prunes like
    :func:`save_checkpoint`. Rank 0's outcome is broadcast, so a failed commit raises on every rank.

    Args:
        run_dir: the run directory (shared by every rank).
        step: completed optimizer steps.
        model: the FSDP2-sharded model.
        opt: its optimizer (built after sharding).
        extra: JSON-able values for ``state.json`` (rank 0's are used).
        keep: how many checkpoints to keep (>= 1).
        is_main: True on rank 0.
        trainer_state: tensors / numbers / lists / dicts for ``trainer.pt`` (the RNG states of every rank).
        before_commit: called on rank 0 with ``step`` before the rename (fault injection in tests).

    Returns:
        The final checkpoint directory.

    Raises:
        ValueError: ``keep < 1``.
        CheckpointError: rank 0 failed to finish the checkpoint (raised on the other ranks; rank 0 raises
            its own error).
    """
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    from biojepa.engine.distributed import barrier, broadcast_object

    if keep < 1:
        raise ValueError(f"keep must be >= 1 checkpoint, got {keep}")
    ckdir = Path(run_dir) / CHECKPOINT_DIR
    tmp = ckdir / broadcast_object(_fresh_tmp(ckdir, step) if is_main else None)
    msd, osd = get_state_dict(model, opt)
    dcp.save({"model": msd, "optim": osd}, checkpoint_id=str(tmp))  # collective; .metadata comes last
    barrier()
    final, error = ckdir / checkpoint_name(step), None
    if is_main:
        try:
            torch.save(dict(trainer_state or {}), tmp / TRAINER_FILE)
            _write_text(tmp / STATE_FILE, _state_text(step, extra, LAYOUT_SHARDED))
            names = sorted(p.name for p in tmp.iterdir() if p.is_file() and p.name != MANIFEST_FILE)
            _write_manifest(tmp, step, LAYOUT_SHARDED, names)
            final = _move_into_place(ckdir, tmp, step, before_commit)
            _point_latest(ckdir, final.name)
            _prune(ckdir, keep)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, once the other ranks know
            shutil.rmtree(tmp, ignore_errors=True)
            error = exc
    failed = broadcast_object(None if error is None else f"{type(error).__name__}: {error}")
    if error is not None:
        raise error
    if failed is not None:
        raise CheckpointError(f"rank 0 could not write the sharded checkpoint {final}: {failed}")
    return final


def _fresh_tmp(ckdir: Path, step: int) -> str:
    """Create an empty ``step_XXXXXXXX.tmp-<pid>`` in ``ckdir`` (after clearing leftovers); its name."""
    ckdir.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(ckdir)
    tmp = ckdir / f"{checkpoint_name(step)}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    return tmp.name


def _point_latest(ckdir: Path, name: str) -> None:
    tmp = ckdir / f"{LATEST}.tmp-{os.getpid()}"
    _write_text(tmp, name + "\n")
    os.replace(tmp, ckdir / LATEST)
    _fsync_dir(ckdir)


def _remove_leftovers(ckdir: Path) -> None:
    """Delete temporary directories / pointer files left by an interrupted save."""
    for p in ckdir.iterdir():
        if ".tmp-" in p.name or ".old-" in p.name:
            log.info("removing leftover %s from an interrupted checkpoint save", p)
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


def _prune(ckdir: Path, keep: int) -> None:
    latest = _read_latest(ckdir)
    ckpts = list_checkpoints(ckdir.parent)
    for p in ckpts[:-keep] if len(ckpts) > keep else []:
        if p.name == latest:
            continue
        shutil.rmtree(p, ignore_errors=True)
    _fsync_dir(ckdir)


# -- discovery --------------------------------------------------------------------------------------------
def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete-looking checkpoint directories of a run (``step_XXXXXXXX``), oldest first (not verified)."""
    ckdir = Path(run_dir) / CHECKPOINT_DIR
    if not ckdir.is_dir():
        return []
    found = []
    for p in ckdir.iterdir():
        m = _NAME_RE.match(p.name)
        if m and p.is_dir():
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def _read_latest(ckdir: Path) -> str | None:
    try:
        name = (ckdir / LATEST).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return name if _NAME_RE.match(name) else None


def find_resume(run_dir: str | Path) -> Path | None:
    """The checkpoint to resume from: ``latest`` if valid, else the newest valid one, else None.

    Invalid checkpoints (missing files, hash mismatch, truncation) are skipped with a warning in the log
    saying why.
    """
    ckdir = Path(run_dir) / CHECKPOINT_DIR
    latest = _read_latest(ckdir)
    if latest is not None:
        try:
            verify_checkpoint(ckdir / latest)
            return ckdir / latest
        except CheckpointError as exc:
            log.warning(
                "the latest checkpoint %s is unusable (%s); falling back to an older one", latest, exc
            )
    elif (ckdir / LATEST).exists():
        log.warning("%s does not name a checkpoint; searching the checkpoint folder", ckdir / LATEST)
    for p in reversed(list_checkpoints(run_dir)):
        if p.name == latest:
            continue
        try:
            verify_checkpoint(p)
            return p
        except CheckpointError as exc:
            log.warning("skipping checkpoint %s: %s", p, exc)
    return None


# -- load -------------------------------------------------------------------------------------------------
def verify_checkpoint(path: str | Path) -> dict[str, Any]:
    """Check a checkpoint of either layout against its manifest (presence, size and sha256 of every file).

    Returns:
        The manifest.

    Raises:
        CheckpointError: naming the missing, truncated or modified file.
    """
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {path} does not exist or is not a directory")
    mpath = path / MANIFEST_FILE
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(
            f"checkpoint {path} has no {MANIFEST_FILE}: the save did not finish; resume from an older one"
        ) from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path}: {MANIFEST_FILE} is unreadable or corrupt ({exc})") from exc
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if manifest.get("format") != FORMAT or not isinstance(files, dict):
        raise CheckpointError(f"checkpoint {path}: {MANIFEST_FILE} is not a biojepa checkpoint manifest")
    layout = checkpoint_layout(manifest, path)
    for fname in REQUIRED_FILES[layout]:
        if fname not in files:
            raise CheckpointError(f"checkpoint {path}: the manifest does not list {fname}")
    if layout == LAYOUT_SHARDED and not any(str(f).endswith(SHARD_SUFFIX) for f in files):
        raise CheckpointError(f"checkpoint {path}: the manifest of a sharded checkpoint lists no {SHARD_SUFFIX} shard")
    for fname, info in files.items():
        fp = path / fname
        if not fp.is_file():
            raise CheckpointError(f"checkpoint {path}: file {fname} is missing")
        size = fp.stat().st_size
        if size != info.get("size"):
            raise CheckpointError(
                f"checkpoint {path}: file {fname} has {size} bytes, the manifest says {info.get('size')} "
                "(truncated or overwritten)"
            )
        digest = _sha256(fp)
        if digest != info.get("sha256"):
            raise CheckpointError(
                f"checkpoint {path}: file {fname} has sha256 {digest[:16]}…, the manifest says "
                f"{str(info.get('sha256'))[:16]}… (corrupted or modified)"
            )
    return manifest


def checkpoint_layout(meta: Mapping[str, Any], path: str | Path) -> str:
    """The ``layout`` of a checkpoint's manifest or state (``"full"`` when absent: older checkpoints).

    Raises:
        CheckpointError: an unknown layout (written by a newer biojepa, or edited).
    """
    layout = meta.get("layout", LAYOUT_FULL)
    if layout not in REQUIRED_FILES:
        raise CheckpointError(
            f"checkpoint {path} has layout {layout!r}; this biojepa reads {sorted(REQUIRED_FILES)}. "
            "Resume it with the biojepa version that wrote it"
        )
    return str(layout)


def _expect_layout(path: Path, state: Mapping[str, Any], expected: str) -> None:
    """Refuse a checkpoint whose layout is not the one this loader reads, saying how to resume it."""
    found = checkpoint_layout(state, path)
    if found == expected:
        return
    if found == LAYOUT_SHARDED:
        raise CheckpointError(
            f"checkpoint {path} is sharded: it was written by engine.strategy=fsdp under torchrun "
            f"({state.get('world_size', '?')} processes), but this run reads whole-model checkpoints (one "
            "process, or engine.strategy=ddp). Resume it under torchrun with engine.strategy=fsdp, or start a "
            "new run with another --out"
        )
    raise CheckpointError(
        f"checkpoint {path} holds the whole model: it was written by one process or engine.strategy=ddp "
        f"({state.get('world_size', '?')} process(es)), but an engine.strategy=fsdp run under torchrun reads "
        "sharded checkpoints only. Resume it with the strategy that wrote it (engine.strategy=ddp), or start "
        "a new run with another --out"
    )


def read_state(path: str | Path) -> dict[str, Any]:
    """``state.json`` of a checkpoint (not verified; see :func:`verify_checkpoint`)."""
    try:
        return json.loads((Path(path) / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path}: cannot read {STATE_FILE} ({exc})") from exc


#: The entries ``trainer.pt`` may hold, and the value types allowed anywhere inside them. Anything else —
#: even a type ``torch.load(weights_only=True)`` accepts — means the file was not written by biojepa.
TRAINER_KEYS = frozenset({"optimizer", "rng", "rng_ranks"})
_ALLOWED_LEAVES = (str, int, float, bool, type(None), torch.Tensor)


def _check_allowed(blob: Mapping[str, Any], path: Path) -> None:
    """Refuse a ``trainer.pt`` with unknown entries or value types (the allow-list of resume files)."""
    extra = sorted(set(blob) - TRAINER_KEYS)
    if extra:
        raise CheckpointError(
            f"checkpoint {path}: {TRAINER_FILE} holds unexpected entries {extra}; biojepa writes only "
            f"{sorted(TRAINER_KEYS)}. The file was not written by biojepa or was tampered with"
        )
    stack: list[tuple[str, Any]] = [(k, v) for k, v in blob.items()]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            if not all(isinstance(k, (str, int)) for k in value):
                raise CheckpointError(f"checkpoint {path}: {TRAINER_FILE}: {where} has a non-string, non-int key")
            stack.extend((f"{where}.{k}", v) for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(value))
        elif not isinstance(value, _ALLOWED_LEAVES):
            raise CheckpointError(
                f"checkpoint {path}: {TRAINER_FILE}: {where} is a {type(value).__name__}; resume files hold only "
                "dicts, lists, tuples, numbers, strings and tensors"
            )


def load_checkpoint(
    path: str | Path, model: torch.nn.Module, opt: torch.optim.Optimizer | None
) -> dict[str, Any]:
    """Verify a checkpoint and load it into ``model`` (strict) and ``opt``.

    Only safe loaders are used: safetensors for the weights, ``torch.load(weights_only=True)`` for the
    optimizer file — a tampered resume file cannot run code.

    Args:
        path: a checkpoint directory.
        model: the (unwrapped) model, built with the same architecture.
        opt: its optimizer, or None to load the weights only.

    Returns:
        ``state.json`` merged with the non-optimizer entries of ``trainer.pt`` (e.g. ``"rng"``).

    Raises:
        CheckpointError: verification fails, the checkpoint is sharded (:func:`load_sharded_checkpoint`), a
            file cannot be parsed safely, or the tensors do not match the model (missing / unexpected keys,
            shape mismatch).
    """
    path = Path(path)
    verify_checkpoint(path)
    state = read_state(path)
    _expect_layout(path, state, LAYOUT_FULL)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    try:
        tensors = load_file(str(path / MODEL_FILE), device=str(device))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path}: {MODEL_FILE} cannot be read ({exc})") from exc
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"checkpoint {path}: {MODEL_FILE} does not match the model ({exc}); was it written with another "
            "architecture or config?"
        ) from exc
    blob = _load_trainer_file(path, "optimizer")
    if opt is not None:
        try:
            opt.load_state_dict(blob["optimizer"])
        except (ValueError, KeyError, RuntimeError) as exc:
            raise CheckpointError(
                f"checkpoint {path}: the optimizer state does not match the model's parameters ({exc})"
            ) from exc
    out = dict(state)
    out.update({k: v for k, v in blob.items() if k != "optimizer"})
    return out


def _load_trainer_file(path: Path, needed: str) -> dict[str, Any]:
    """``trainer.pt`` loaded with ``weights_only=True`` and checked against the allow-list.

    Raises:
        CheckpointError: the file cannot be loaded safely, lacks the ``needed`` entry, or holds anything
            outside :data:`TRAINER_KEYS` / the allowed value types.
    """
    try:
        blob = torch.load(path / TRAINER_FILE, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling failure means an untrusted or broken file
        raise CheckpointError(
            f"checkpoint {path}: {TRAINER_FILE} cannot be loaded safely with weights_only=True ({exc}); "
            "biojepa never falls back to unsafe unpickling"
        ) from exc
    if not isinstance(blob, dict) or needed not in blob:
        what = "optimizer state" if needed == "optimizer" else f"{needed!r} entry"
        raise CheckpointError(f"checkpoint {path}: {TRAINER_FILE} has no {what}")
    _check_allowed(blob, path)
    return blob


def load_sharded_checkpoint(
    path: str | Path, model: torch.nn.Module, opt: torch.optim.Optimizer | None, *, verify: bool = True
) -> dict[str, Any]:
    """Load a sharded checkpoint (:func:`save_sharded_checkpoint`) into an FSDP2 model; a collective.

    Every rank reads the shards it needs through DCP (which reshards to this run's world size) and
    ``set_state_dict`` puts them into the sharded model and optimizer.

    Args:
        path: a checkpoint directory.
        model: the FSDP2-sharded model of the same architecture.
        opt: its optimizer, or None to load the weights only.
        verify: check the manifest here; the trainer passes False because rank 0 verified it already
            (:func:`find_resume`) and broadcast the choice.

    Returns:
        ``state.json`` merged with the entries of ``trainer.pt`` (``"rng"``, ``"rng_ranks"``).

    Raises:
        CheckpointError: verification fails, the checkpoint holds the whole model (:func:`load_checkpoint`),
            ``trainer.pt`` is not a safe biojepa file, or DCP cannot read the shards into this model.
    """
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    path = Path(path)
    if verify:
        verify_checkpoint(path)
    state = read_state(path)
    _expect_layout(path, state, LAYOUT_SHARDED)
    blob = _load_trainer_file(path, "rng_ranks")
    versions = state.get("versions") or {}
    if versions.get("torch") not in (None, torch.__version__):
        log.warning(
            "checkpoint %s was written by torch %s, this is torch %s: DCP does not promise to read other "
            "versions' checkpoints", path, versions.get("torch"), torch.__version__,
        )  # fmt: skip
    msd, osd = get_state_dict(model, opt if opt is not None else [])
    target: dict[str, Any] = {"model": msd, **({"optim": osd} if opt is not None else {})}
    try:
        dcp.load(target, checkpoint_id=str(path))
        set_state_dict(
            model, opt if opt is not None else [], model_state_dict=target["model"],
            optim_state_dict=target.get("optim", {}),
        )  # fmt: skip
    except Exception as exc:  # DCP raises several types (CheckpointException, RuntimeError, ...)
        raise CheckpointError(
            f"checkpoint {path}: the sharded model / optimizer state cannot be loaded into this model ({exc}); "
            "was it written with another architecture or config?"
        ) from exc
    out = dict(state)
    out.update(blob)
    return out
