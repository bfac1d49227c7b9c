"""``run_pretrain``: the library function behind ``biojepa pretrain synthetic|ecg|eeg|fmri``.

Pipeline::

    recipe (RunConfig) -> model spec + JEPA
                       -> sources: resolve_source(id).open(root, cache_dir, params) -> record stores
                       -> WeightedCropSampler (weights: explicit > card > size) -> KeyedDataset
                       -> DataLoader(batch_sampler=StepBatchSampler, collate_fn=MaskCollator)
                       -> Trainer.fit -> the EMA target encoder -> io.save_pretrained(out_dir / "model")

The output directory is also the run directory: ``config.yaml``, ``config.sha256``, ``env.json``,
``metrics.jsonl``, ``checkpoints/``, ``cache/`` (preprocessed data) and ``model/`` (the exported encoder).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from biojepa.config import RunConfig, config_hash
from biojepa.errors import BioJepaError, ConfigError

if TYPE_CHECKING:
    from biojepa.engine.trainer import ProgressFn

__all__ = ["SCHEMA_VERSION", "resolve_weights", "run_pretrain"]

log = logging.getLogger(__name__)

#: Version of the pretrain result dict (DESIGN.md §5).
SCHEMA_VERSION = 1


def resolve_weights(
    explicit: Mapping[str, float | None], card: Mapping[str, float | None], sizes: Mapping[str, int]
) -> dict[str, float]:
    """Sampling weight of each source: the recipe's ``weight``, else the card's, else proportional to size.

    Either every source ends up with an explicit or card weight, or none does (then all are size-based);
    mixing the two would compare unrelated scales.

    Args:
        explicit: the recipe's weight per source id (None when not set).
        card: the dataset card's published weight per source id (None when not set).
        sizes: number of records per source id.

    Returns:
        Unnormalised weights per source id (the sampler normalises them).

    Raises:
        ConfigError: some sources have a weight and others do not.
    """
    chosen = {k: explicit.get(k) if explicit.get(k) is not None else card.get(k) for k in sizes}
    missing = sorted(k for k, w in chosen.items() if w is None)
    if len(missing) == len(chosen):
        return {k: float(n) for k, n in sizes.items()}
    if missing:
        given = sorted(k for k in chosen if k not in missing)
        raise ConfigError(
            f"data sources {missing} have no sampling weight (neither in the recipe nor in their card) while "
            f"{given} have one; set data.sources[].weight for every source, or for none (then weights are "
            "proportional to dataset size)"
        )
    return {k: float(w) for k, w in chosen.items()}  # type: ignore[arg-type]


@dataclass(frozen=True)
class _OpenSource:
    store: Any
    weight: float
    n_records: int
    n_quarantined: int
    license: str | None


def _open_sources(cfg: RunConfig, cache_dir: Path, spec: Any) -> dict[str, _OpenSource]:
    """Open every data source, check it against the model, and resolve the sampling weights."""
    from biojepa.data.sources import resolve_source

    n_channels = len(spec.signal.channels)
    opened: dict[str, tuple[Any, float | None, float | None, str | None]] = {}
    for s in cfg.data.sources:
        if s.id in opened:
            raise ConfigError(f"data source {s.id!r} is listed twice; give each dataset once")
        source = resolve_source(s.id)
        root = Path(s.root).expanduser() if s.root else None
        store = source.open(root, cache_dir=cache_dir, params=s.params)
        if store.n_records == 0:
            raise ConfigError(
                f"data source {s.id!r} has no usable records (root {root}); check the data folder"
            )
        c = int(store.get(0).shape[0])
        if c != n_channels:
            raise ConfigError(
                f"data source {s.id!r} has {c} channels but model {spec.name!r} expects {n_channels} "
                f"({', '.join(spec.signal.channels)}); choose a model that matches the data"
            )
        try:
            card = source.card
            card_weight, licence = card.weight, card.license
        except (BioJepaError, OSError, ValueError) as exc:  # a missing card loses provenance, not training
            log.warning("no dataset card for %r (%s); its weight falls back to its size", s.id, exc)
            card_weight, licence = None, None
        opened[s.id] = (store, s.weight, card_weight, licence)
    sizes = {k: int(v[0].n_records) for k, v in opened.items()}
    weights = resolve_weights(
        {k: v[1] for k, v in opened.items()}, {k: v[2] for k, v in opened.items()}, sizes
    )
    return {
        k: _OpenSource(
            store=store,
            weight=weights[k],
            n_records=sizes[k],
            n_quarantined=int((getattr(store, "meta", None) or {}).get("n_quarantined", 0) or 0),
            license=licence,
        )
        for k, (store, _, _, licence) in opened.items()
    }


def _check_out_dir(out_dir: Path, resume: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir} exists and is not a directory; use another --out")
    if not resume and out_dir.is_dir() and any(out_dir.iterdir()):
        raise ConfigError(
            f"output directory {out_dir} is not empty; to continue the run in it use --resume auto, "
            "or use another --out"
        )


def run_pretrain(
    cfg: RunConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    progress: ProgressFn | None = None,
    recipe: str | None = None,
) -> dict[str, Any]:
    """Pretrain a JEPA as described by ``cfg`` and export its target encoder to ``out_dir/model``.

    Args:
        cfg: the resolved run configuration.
        out_dir: run directory (created); must be empty unless ``resume``.
        resume: continue from the newest valid checkpoint in ``out_dir`` (a fresh start if there is none).
        progress: ``progress(step, total, info)`` after every step (see the Trainer).
        recipe: the recipe as the user named it (``"synthetic/tiny"`` or a path), reported as ``recipe``;
            default: ``cfg.name``.

    Returns:
        The pretrain result (DESIGN.md §5): ``schema_version, status, model_dir, run_dir, model_name, recipe,
        config_hash, steps, samples_seen, wall_s, final_loss, losses, datasets, device``.

    Raises:
        ConfigError: a non-empty ``out_dir`` without ``resume``, a crop length that differs from the model
            window, a channel count that differs from the model's, or any invalid setting.
        UnknownNameError / NotAvailableError: an unknown or not-yet-supported model, mask or dataset id.
        NonFiniteLossError, CheckpointError, DataError: see :meth:`Trainer.fit`.
    """
    import torch.utils.data

    from biojepa.data.sampler import KeyedDataset, SourceSpec, StepBatchSampler, WeightedCropSampler
    from biojepa.engine.runinfo import git_sha
    from biojepa.engine.seed import seed_everything
    from biojepa.engine.trainer import Trainer, resolve_device
    from biojepa.io import save_pretrained
    from biojepa.masks import MaskCollator
    from biojepa.models import build_jepa, get_spec

    out_dir = Path(out_dir).expanduser().absolute()
    _check_out_dir(out_dir, resume)

    spec = get_spec(cfg.model.name, **cfg.model.overrides)
    n_times = spec.signal.n_times
    if cfg.data.crop_len != n_times:
        raise ConfigError(
            f"data.crop_len={cfg.data.crop_len} differs from the window of model {spec.name!r} "
            f"(signal.n_times={n_times}); set data.crop_len={n_times}, or change the model window with "
            f"model.overrides.signal.n_times={cfg.data.crop_len}"
        )

    # -- data ---------------------------------------------------------------------------------------
    out_dir.mkdir(parents=True, exist_ok=True)
    cache_dir = Path(cfg.data.cache_dir).expanduser() if cfg.data.cache_dir else out_dir / "cache"
    sources = _open_sources(cfg, cache_dir, spec)
    datasets = {k: {"n_records": v.n_records, "n_quarantined": v.n_quarantined} for k, v in sources.items()}

    # -- model and data loader ----------------------------------------------------------------------------
    device = resolve_device(cfg.engine.device)
    seed_everything(cfg.engine.seed)
    model = build_jepa(spec, loss=cfg.model.loss)
    batch = cfg.data.batch_size
    accum = cfg.optim.accum_steps
    sampler = WeightedCropSampler(
        [SourceSpec(k, v.store, v.weight) for k, v in sources.items()],
        crop_len=cfg.data.crop_len,
        seed=cfg.engine.seed,
        global_batch=batch,
        pad_short=cfg.data.pad_short,
    )
    grid = tuple(model.context_encoder.tokenizer.grid((len(spec.signal.channels), cfg.data.crop_len)))
    collate = MaskCollator(cfg.mask.name, cfg.mask.params, grid=grid, seed=cfg.engine.seed)
    dataset = KeyedDataset(sampler)
    total_data_steps = cfg.engine.steps * accum

    def make_batches(step: int) -> Iterator[Any]:
        # optimizer step `step` consumes data steps step*accum .. step*accum + accum - 1
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_sampler=StepBatchSampler(step * accum, total_data_steps, batch),
            collate_fn=collate,
            num_workers=cfg.data.num_workers,
            persistent_workers=False,
            pin_memory=device.type == "cuda",
        )
        return iter(loader)

    trainer = Trainer(cfg, model, make_batches, out_dir, device=device, progress=progress)
    result = trainer.fit(resume=resume)

    # -- export --------------------------------------------------------------------------------------------
    digest = config_hash(cfg)
    recipe_name = str(recipe) if recipe is not None else cfg.name
    training = {
        "recipe": recipe_name,
        "config_hash": digest,
        "steps": result.steps,
        "samples_seen": result.samples_seen,
        "final_loss": result.final_loss,
        "datasets": {k: {**v, "license": sources[k].license} for k, v in datasets.items()},
        "git_sha": git_sha(),
    }
    model_dir = save_pretrained(model.export_encoder(), out_dir / "model", training=training, overwrite=True)
    return {
        "schema_version": SCHEMA_VERSION,
        "status": "ok",
        "model_dir": str(Path(model_dir).absolute()),
        "run_dir": str(out_dir),
        "model_name": spec.name,
        "recipe": recipe_name,
        "config_hash": digest,
        "steps": result.steps,
        "samples_seen": result.samples_seen,
        "wall_s": result.wall_s,
        "final_loss": result.final_loss,
        "losses": result.losses[-cfg.log.keep_losses :],
        "datasets": datasets,
        "device": str(trainer.device),
    }
