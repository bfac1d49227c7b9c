"""Save and load model directories (see :mod:`biojepa.io`)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from biojepa._fs import fsync_dir as _fsync_dir
from biojepa._fs import sha256_file
from biojepa._version import __version__
from biojepa.errors import CheckpointError

__all__ = [
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "README_NAME",
    "WEIGHTS_NAME",
    "biojepa_home",
    "load",
    "load_tagged",
    "read_config",
    "save_pretrained",
]

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
README_NAME = "README.md"
FORMAT_VERSION = 1


def save_pretrained(
    model: Any,
    directory: str | os.PathLike[str],
    *,
    training: Mapping[str, Any] | None = None,
    evaluation: list[Mapping[str, Any]] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` (a :class:`~biojepa.nn.encoder.SignalEncoder` with a ``spec``) as a model directory.

    The directory is written to a temporary sibling, fsynced and renamed, so a crash never leaves a
    half-written model behind.

    Args:
        model: the encoder to save (its ``spec`` holds the architecture and signal contract).
        directory: target directory; must not exist unless ``overwrite``.
        training: provenance for the model card (recipe, config hash, steps, datasets with licences, ...).
        evaluation: rows for the model card's evaluation table (``task``, ``metric``, ``value``, ...).
        overwrite: replace an existing directory.

    Returns:
        The absolute path of the directory.
    """
    from safetensors.torch import save_file

    from biojepa.io.model_card import render_model_card

    spec = getattr(model, "spec", None)
    if spec is None:
        raise ValueError("the model has no spec; build it with biojepa.create_model or biojepa.models.build_encoder")
    target = Path(directory).absolute()
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; pass overwrite=True or choose another directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS_NAME), metadata={"format": "pt", "biojepa_version": __version__})
        config = {
            "format": "biojepa-model",
            "format_version": FORMAT_VERSION,
            "biojepa_version": __version__,
            "architecture": type(model).__name__,
            "spec": spec.model_dump(mode="json"),
            "signal": spec.signal.model_dump(mode="json"),
            "training": dict(training or {}),
            "evaluation": [dict(r) for r in (evaluation or [])],
            "files": {WEIGHTS_NAME: {"sha256": sha256_file(tmp / WEIGHTS_NAME)}},
        }
        (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (tmp / README_NAME).write_text(render_model_card(config), encoding="utf-8")
        for name in (WEIGHTS_NAME, CONFIG_NAME, README_NAME):
            with open(tmp / name, "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_config(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``config.json`` of a model directory.

    Raises:
        CheckpointError: missing, unreadable or not a biojepa model directory.
    """
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(
            f"{Path(directory)} is not a biojepa model directory: {CONFIG_NAME} is missing "
            f"(expected {WEIGHTS_NAME} + {CONFIG_NAME} + {README_NAME}, as written by save_pretrained)"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict) or config.get("format") != "biojepa-model":
        raise CheckpointError(f"{path} is not a biojepa model config (no 'format': 'biojepa-model')")
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format_version {version!r}; this biojepa ({__version__}) reads up to "
            f"{FORMAT_VERSION}: upgrade biojepa"
        )
    return config


def load(directory: str | os.PathLike[str], *, device: str = "cpu", verify: bool = True) -> Any:
    """Load a model directory into a :class:`~biojepa.nn.encoder.SignalEncoder` in eval mode.

    Args:
        directory: a folder written by :func:`save_pretrained`.
        device: where to put the weights.
        verify: check the weights' sha256 against ``config.json``.

    Raises:
        CheckpointError: missing/corrupt files, hash mismatch, missing or unexpected tensors.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from biojepa.models import build_encoder
    from biojepa.models.spec import ModelSpec

    root = Path(directory)
    config = read_config(root)
    weights = root / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"{root}: {WEIGHTS_NAME} is missing")
    if verify:
        expected = config.get("files", {}).get(WEIGHTS_NAME, {}).get("sha256")
        if expected is None:
            raise CheckpointError(f"{root / CONFIG_NAME} records no sha256 for {WEIGHTS_NAME}; cannot verify")
        actual = sha256_file(weights)
        if actual != expected:
            raise CheckpointError(
                f"{weights}: sha256 {actual[:16]}… does not match {expected[:16]}… recorded in {CONFIG_NAME}; "
                "the file is corrupt or was replaced — re-copy the model directory"
            )
    try:
        spec = ModelSpec.model_validate(config["spec"])
    except (KeyError, ValidationError) as exc:
        raise CheckpointError(f"{root / CONFIG_NAME}: invalid model spec: {exc}") from exc
    model = build_encoder(spec)
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights} cannot be read as safetensors: {exc}") from exc
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise CheckpointError(
            f"{weights} does not match the architecture in {CONFIG_NAME}: missing tensors {missing[:8]}, "
            f"unexpected tensors {unexpected[:8]}"
        )
    bad = [k for k in own if own[k].shape != state[k].shape]
    if bad:
        k = bad[0]
        raise CheckpointError(
            f"{weights}: tensor {k!r} has shape {tuple(state[k].shape)}, the architecture expects "
            f"{tuple(own[k].shape)} ({len(bad)} mismatched tensors)"
        )
    model.load_state_dict(state, strict=True)
    model.eval()
    return model.to(device)


def biojepa_home() -> Path:
    """``$BIOJEPA_HOME`` or ``~/.cache/biojepa``: where tagged weights live (``weights/<name.tag>/``)."""
    env = os.environ.get("BIOJEPA_HOME")
    return Path(env) if env else Path.home() / ".cache" / "biojepa"


def load_tagged(name: str, *, device: str = "cpu") -> Any:
    """Load ``"<model>.<tag>"`` from ``$BIOJEPA_HOME/weights/<model>.<tag>/`` (never downloads).

    Raises:
        CheckpointError: the weights directory does not exist, or fails verification, or holds another model.
    """
    arch, _, tag = name.partition(".")
    if not arch or not tag:
        raise CheckpointError(f"{name!r} is not of the form '<model>.<tag>'")
    directory = biojepa_home() / "weights" / name
    if not directory.is_dir():
        raise CheckpointError(
            f"no local weights for {name!r}: {directory} does not exist. biojepa never downloads weights; "
            f"place the model directory (written by save_pretrained) there, or set BIOJEPA_HOME"
        )
    model = load(directory, device=device, verify=True)
    if model.spec.name != arch:
        raise CheckpointError(f"{directory} holds model {model.spec.name!r}, not {arch!r}")
    return model
