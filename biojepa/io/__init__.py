"""Model directories: ``model.safetensors`` + ``config.json`` + ``README.md`` (model card).

Weights never go through pickle. Loading is strict: missing, unexpected or mis-shaped tensors raise
:class:`~biojepa.errors.CheckpointError`, and the sha256 of the weights file recorded in ``config.json`` is
verified.

Example:
    >>> import biojepa, tempfile
    >>> from biojepa.io import save_pretrained
    >>> enc = biojepa.create_model("synthetic_vit_tiny")
    >>> d = save_pretrained(enc, tempfile.mkdtemp() + "/m")
    >>> biojepa.load(d).num_features
    64
"""

from biojepa.io.model_dir import (
    CONFIG_NAME,
    FORMAT_VERSION,
    README_NAME,
    WEIGHTS_NAME,
    biojepa_home,
    load,
    load_tagged,
    read_config,
    save_pretrained,
)
from biojepa.io.model_card import render_model_card

__all__ = [
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "README_NAME",
    "WEIGHTS_NAME",
    "biojepa_home",
    "load",
    "load_tagged",
    "read_config",
    "render_model_card",
    "save_pretrained",
]
