"""Load the encoder an evaluation command names: a model directory, a tagged name or ``random:<name>``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from biojepa.errors import ConfigError

__all__ = ["load_encoder", "random_like"]


def load_encoder(model: str, *, seed: int = 0) -> Any:
    """The encoder named by ``model``: a model directory, a tagged name, or ``random:<name>`` (seeded)."""
    import torch

    from biojepa.models import create_model

    if model.startswith("random:"):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return create_model(model.split(":", 1)[1])
    path = Path(model).expanduser()
    if path.is_dir():
        from biojepa.io import load

        return load(path)
    if "." in model:
        return create_model(model)
    raise ConfigError(
        f"--model {model!r} is neither a model directory nor random:<name> (e.g. random:ecg_vit_xs, random:eeg_sjepa); "
        "pretrained models are written by `biojepa pretrain <modality>` to RUN_DIR/model"
    )


def random_like(encoder: Any, seed: int) -> Any:
    """An untrained encoder of the same architecture (and contract) as ``encoder``, initialised by ``seed``."""
    import torch

    from biojepa.models import build_encoder

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_encoder(encoder.spec)
