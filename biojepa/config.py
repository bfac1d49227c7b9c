"""Run configuration: pydantic schemas, recipe YAML loading and ``a.b=c`` overrides.

A run is one validated :class:`RunConfig` with the sections ``data``, ``mask``, ``model``, ``optim``,
``engine`` and ``log``. It is loaded from a recipe (a YAML file under ``recipes/<modality>/<name>.yaml``,
read with ``yaml.safe_load``), overridden by ``key.sub=value`` arguments (values parsed as YAML scalars),
and validated *after* merging, so an invalid override is reported with its field path.

Example:
    >>> from biojepa.config import resolve_config
    >>> cfg = resolve_config("synthetic/tiny", ["engine.steps=5"])
    >>> cfg.engine.steps
    5
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from biojepa.errors import ConfigError, UnknownNameError
from biojepa.resources import iter_resource_files

__all__ = [
    "DataConfig",
    "EngineConfig",
    "LogConfig",
    "MaskConfig",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "SourceConfig",
    "apply_overrides",
    "config_hash",
    "list_recipes",
    "load_recipe",
    "resolve_config",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Section):
    """One pretraining data source.

    Attributes:
        id: a dataset id (``biojepa datasets list``).
        root: folder of the raw data (None for generated data).
        weight: sampling weight; None = the card's published weight, else proportional to size.
        params: source-specific options (e.g. the synthetic generator's settings).
    """

    id: str
    root: str | None = None
    weight: float | None = Field(None, ge=0)
    params: dict[str, Any] = Field(default_factory=dict)


class DataConfig(_Section):
    """Data pipeline: sources, crop length, batch size, workers."""

    sources: list[SourceConfig] = Field(min_length=1)
    crop_len: int = Field(gt=0, description="samples per training crop (the model window)")
    batch_size: int = Field(
        gt=0, description="global batch of one micro-step, split evenly over the torchrun processes"
    )
    num_workers: int = Field(0, ge=0)
    pad_short: bool = False
    cache_dir: str | None = None


class MaskConfig(_Section):
    """Which registered mask function to use and its parameters."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class ModelConfig(_Section):
    """Which registered model to pretrain, spec overrides and the latent loss.

    Attributes:
        name: a registered model name (``biojepa models list``).
        overrides: spec overrides (``model.overrides.encoder.depth=2``).
        loss: the latent loss (``l1``, ``smooth_l1`` or ``l2``).
        target_norm: layer-normalise the target encoder's output tokens (no affine parameters) before the
            loss, as I-JEPA and Brain-JEPA do; guards against collapse towards small targets. False keeps
            the targets as the encoder returns them.
    """

    name: str
    overrides: dict[str, Any] = Field(default_factory=dict)
    loss: Literal["l1", "smooth_l1", "l2"] = "l1"
    target_norm: bool = Field(
        False, description="layer-norm the EMA targets (no affine) before the loss (I-JEPA / Brain-JEPA)"
    )


class OptimConfig(_Section):
    """AdamW and the step-indexed schedules (ECG-JEPA defaults, research note ecg.md §1.6)."""

    lr: float = Field(1e-3, gt=0, description="peak learning rate after warm-up")
    lr_start: float = Field(1e-6, ge=0)
    lr_end: float = Field(1e-6, ge=0)
    warmup_steps: int = Field(0, ge=0)
    weight_decay_start: float = Field(0.01, ge=0)
    weight_decay_end: float = Field(0.1, ge=0)
    betas: tuple[float, float] = (0.9, 0.99)
    eps: float = Field(1e-6, gt=0)
    ema_start: float = Field(0.998, ge=0, le=1)
    ema_end: float = Field(0.9995, ge=0, le=1)
    grad_clip: float | None = Field(None, gt=0)
    accum_steps: int = Field(1, ge=1)


class EngineConfig(_Section):
    """Training engine: steps, seed, device, precision, checkpoints, guards and collapse monitors.

    Attributes:
        monitor_every: measure the collapse statistics of the targets (``target_std``, ``effective_rank``,
            see :mod:`biojepa.engine.monitors`) every this many steps and at the last step; None = every
            ``log_every`` steps. Monitored steps are always written to ``metrics.jsonl``.
        collapse_std_min: warn when ``target_std`` (feature-averaged std of the targets across tokens)
            falls below this (0 disables).
        collapse_rank_min: warn when the targets' ``effective_rank`` falls below this (0 disables).
        strategy: ``"ddp"`` or ``"fsdp"`` (see the field description and :mod:`biojepa.engine.fsdp`).
    """

    steps: int = Field(gt=0, description="optimizer steps in total")
    seed: int = 0
    device: str = "auto"
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    compile: bool = False
    strategy: Literal["ddp", "fsdp"] = Field(
        "ddp",
        description=(
            "multi-process strategy under torchrun: ddp (every rank holds the whole model; gradients "
            "all-reduced; checkpoints written whole by rank 0) or fsdp (FSDP2: every transformer block and the "
            "JEPA root sharded over the ranks; sharded DCP checkpoints, one file per rank). With one process "
            "both train the same unsharded model; a run must be resumed with the strategy that started it"
        ),
    )
    threads: int | None = Field(None, gt=0)
    ckpt_every: int = Field(100, gt=0)
    keep_ckpts: int = Field(3, ge=1)
    log_every: int = Field(10, gt=0)
    max_nonfinite: int = Field(5, ge=1, description="abort after this many consecutive non-finite steps")
    monitor_every: int | None = Field(
        None, gt=0, description="collapse-monitor period in steps (None = every log_every steps)"
    )
    collapse_std_min: float = Field(0.01, ge=0, description="warn when target_std falls below this (0 = off)")
    collapse_rank_min: float = Field(
        2.0, ge=0, description="warn when effective_rank falls below this (0 = off)"
    )


class LogConfig(_Section):
    """Logging and progress output."""

    progress: Literal["auto", "rich", "plain", "none"] = "auto"
    keep_losses: int = Field(100, ge=1, description="last losses kept in the result JSON")


class RunConfig(_Section):
    """A complete, validated run."""

    name: str
    modality: str
    description: str = ""
    data: DataConfig
    mask: MaskConfig
    model: ModelConfig
    optim: OptimConfig = Field(default_factory=OptimConfig)
    engine: EngineConfig
    log: LogConfig = Field(default_factory=LogConfig)


# ------------------------------------------------------------------------------------------------------
def list_recipes(pattern: str = "*") -> list[str]:
    """Names of the shipped recipes (``"<modality>/<name>"``) matching an fnmatch pattern."""
    import fnmatch

    return [n for n, _ in iter_resource_files("recipes") if fnmatch.fnmatchcase(n, pattern)]


def load_recipe(recipe: str | Path) -> dict[str, Any]:
    """Load a recipe by shipped name (``"synthetic/tiny"``) or by path to a YAML file.

    Raises:
        UnknownNameError: no shipped recipe of that name and no such file.
        ConfigError: the file is not a YAML mapping.
    """
    path = Path(recipe)
    if str(recipe).endswith((".yaml", ".yml")) and path.is_file():
        text = path.read_text(encoding="utf-8")
        where = str(path)
    else:
        files = dict(iter_resource_files("recipes"))
        if str(recipe) not in files:
            import difflib

            close = difflib.get_close_matches(str(recipe), list(files), n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise UnknownNameError(
                f"unknown recipe {str(recipe)!r}.{hint} Shipped recipes: {', '.join(sorted(files))}; "
                "or pass a path to a .yaml file"
            )
        text = files[str(recipe)].read_text(encoding="utf-8")
        where = f"recipe {recipe}"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must hold a mapping with sections data/mask/model/optim/engine/log")
    return data


def apply_overrides(config: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides to a nested mapping (values are parsed as YAML scalars).

    ``data.<source id>.<param>=value`` sets ``params[param]`` of the data source with that id (e.g.
    ``data.ptbxl.folds=1-6``).

    Raises:
        ConfigError: an override is not of the form ``key.path=value``, or walks into a non-mapping.
    """
    out = json.loads(json.dumps(config))  # deep copy of plain data
    data_fields = set(DataConfig.model_fields)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value (e.g. engine.steps=100)")
        key, raw = item.split("=", 1)
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise ConfigError(f"override {item!r} has an empty key")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: cannot parse value {raw!r}: {exc}") from exc
        if len(parts) >= 3 and parts[0] == "data" and parts[1] not in data_fields:
            # data.<source id>.<param>=value sets a parameter of that source (e.g. data.ptbxl.folds=1-6)
            sources = (out.get("data") or {}).get("sources") or []
            hits = [s for s in sources if isinstance(s, dict) and s.get("id") == parts[1]]
            if not hits:
                ids = [s.get("id") for s in sources if isinstance(s, dict)]
                raise ConfigError(
                    f"override {item!r}: {parts[1]!r} is neither a data setting ({', '.join(sorted(data_fields))}) "
                    f"nor a configured data source ({', '.join(map(str, ids)) or 'none'})"
                )
            node = hits[0].setdefault("params", {})
            for p in parts[2:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = value
            continue
        node: Any = out
        for i, p in enumerate(parts):
            last = i == len(parts) - 1
            where = ".".join(parts[: i + 1])
            if isinstance(node, list):  # list items are addressed by index: data.sources.0.root=...
                if not p.isdigit() or int(p) >= len(node):
                    raise ConfigError(f"override {item!r}: {where} is not an index of a {len(node)}-item list")
                if last:
                    node[int(p)] = value
                else:
                    node = node[int(p)]
            elif isinstance(node, dict):
                if last:
                    node[p] = value
                else:
                    if node.get(p) is None:
                        node[p] = {}
                    node = node[p]
            else:
                raise ConfigError(f"override {item!r}: {'.'.join(parts[:i])} is not a section")
    return out


def _format_validation(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        got = err.get("input")
        got_s = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"  {loc}: {err['msg']}{got_s}")
    return "\n".join(lines)


def resolve_config(recipe: str | Path | Mapping[str, Any], overrides: Sequence[str] = ()) -> RunConfig:
    """Load a recipe, apply overrides, validate.

    Raises:
        ConfigError: the merged configuration is invalid; the message names every bad field.
    """
    data = dict(recipe) if isinstance(recipe, Mapping) else load_recipe(recipe)
    merged = apply_overrides(data, overrides)
    try:
        return RunConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration:\n{_format_validation(exc)}") from exc


def config_hash(config: RunConfig) -> str:
    """sha256 of the canonical JSON of a resolved configuration."""
    blob = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()
