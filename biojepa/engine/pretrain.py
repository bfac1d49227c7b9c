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

__all__ = [
    "SCHEMA_VERSION",
    "default_cache_dir",
    "pooled_normalization",
    "record_list_hash",
    "resolve_weights",
    "run_pretrain",
]

log = logging.getLogger(__name__)

#: Version of the pretrain result dict (DESIGN.md §5).
SCHEMA_VERSION = 1


def resolve_weights(
    explicit: Mapping[str, float | None], card: Mapping[str, float | None], sizes: Mapping[str, int]
) -> dict[str, float]:
    """Sampling probability of each source: the recipe's ``weight``, else the card's published one, else size.

    Sources without a weight (neither in the recipe nor in their card, e.g. the generic ``wfdb`` folder)
    get their share of the corpus by size, ``n_k / N`` with ``N`` all records of all sources; the sources
    with a weight share the remaining probability in proportion to their weights. With no weight anywhere
    this is plain size weighting; with a weight everywhere, plain weight normalisation.

    Args:
        explicit: the recipe's weight per source id (None when not set).
        card: the dataset card's published weight per source id (None when not set).
        sizes: number of records per source id.

    Returns:
        Probabilities per source id (summing to 1).

    Raises:
        ConfigError: a negative weight, or every weighted source has weight 0 while some probability is
            left for them.

    Example:
        >>> resolve_weights({"a": None, "b": None}, {"a": 0.7, "b": None}, {"a": 100, "b": 300})
        {'a': 0.25, 'b': 0.75}
    """
    chosen = {k: explicit.get(k) if explicit.get(k) is not None else card.get(k) for k in sizes}
    for k, w in chosen.items():
        if w is not None and not (float(w) >= 0 and float(w) < float("inf")):
            raise ConfigError(f"sampling weight of {k!r} must be finite and >= 0, found {w!r}")
    total = float(sum(sizes.values()))
    if total <= 0:
        raise ConfigError(f"the data sources hold no records ({dict(sizes)})")
    unweighted = {k: sizes[k] / total for k, w in chosen.items() if w is None}
    weighted = {k: float(w) for k, w in chosen.items() if w is not None}
    left = 1.0 - sum(unweighted.values())
    wsum = sum(weighted.values())
    if weighted and left > 0 and wsum <= 0:
        raise ConfigError(
            f"data sources {sorted(weighted)} all have weight 0; give at least one a positive weight"
        )
    out = dict(unweighted)
    for k, w in weighted.items():
        out[k] = left * w / wsum if wsum > 0 else 0.0
    return {k: out[k] for k in sizes}


def default_cache_dir() -> Path:
    """``$BIOJEPA_CACHE_DIR``, else ``$BIOJEPA_HOME/cache``: where prepared datasets are kept and reused."""
    import os

    from biojepa.io import biojepa_home

    env = os.environ.get("BIOJEPA_CACHE_DIR")
    return Path(env).expanduser() if env else biojepa_home() / "cache"


@dataclass(frozen=True)
class _OpenSource:
    store: Any
    weight: float
    n_records: int
    n_quarantined: int
    license: str | None
    n_duplicates: int = 0
    provenance: Mapping[str, Any] | None = None


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
        store = source.open(root, cache_dir=cache_dir, params=s.params, signal=spec.signal)
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
    dups = _deduplicate(opened)
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
            n_duplicates=dups.get(k, 0),
            provenance=getattr(store, "provenance", None),
        )
        for k, (store, _, _, licence) in opened.items()
    }


def _deduplicate(opened: dict[str, tuple[Any, Any, Any, Any]]) -> dict[str, int]:
    """Drop records whose signal fingerprint was seen in an earlier source, or is excluded by any source.

    Sources are visited in the order given; a store without fingerprints is left as it is. Returns the
    number of records dropped per source id (``opened`` is updated in place with subset views).
    """
    import numpy as np

    from biojepa.data.views import SubsetStore, record_fingerprints

    excluded: set[str] = set()
    for store, *_ in opened.values():
        excluded |= set(getattr(store, "exclude_fingerprints", None) or ())
    seen: set[str] = set()
    dropped: dict[str, int] = {}
    for k, (store, *rest) in list(opened.items()):
        fps = record_fingerprints(store)
        if fps is None:
            continue
        keep = []
        for i, fp in enumerate(fps):
            if fp and (fp in seen or fp in excluded):
                continue
            if fp:
                seen.add(fp)
            keep.append(i)
        n_drop = len(fps) - len(keep)
        dropped[k] = n_drop
        if n_drop:
            log.warning(
                "%s: %d records dropped: the same signal as an earlier record (of this or an earlier source) "
                "or as a held-out record", k, n_drop,
            )
            sub = store.subset(keep) if hasattr(store, "subset") else SubsetStore(store, keep)
            for attr in ("provenance", "normalization", "exclude_fingerprints"):
                if hasattr(store, attr) and attr not in vars(sub):
                    setattr(sub, attr, getattr(store, attr))
            if getattr(store, "labels", None) is not None:
                sub.labels = np.asarray(store.labels)[np.asarray(keep, dtype=np.int64)]
            if not sub.n_records:
                raise ConfigError(f"data source {k!r}: every record duplicates an earlier source or a held-out one")
            opened[k] = (sub, *rest)
    return dropped


def pooled_normalization(stats: Mapping[str, Mapping[str, Any]], weights: Mapping[str, float]) -> dict[str, Any]:
    """Per-channel statistics of the training mixture (each source's statistics weighted by its probability).

    z-score statistics (``mean``/``std``) are pooled as the mixture's mean and standard deviation. Robust
    statistics (``method: robust``, fMRI: ``mean`` holds the per-ROI median and ``std`` the inter-quartile range)
    have no exact mixture formula; they are pooled as the probability-weighted average of the sources' medians and
    IQRs (exact for one source). ``encode()`` uses the pooled statistics for input of unknown origin; the
    per-dataset statistics are kept beside them (ECG-JEPA z-scores every dataset with its own).
    """
    import numpy as np

    w = np.array([weights[k] for k in stats], dtype=np.float64)
    w = w / w.sum()
    means = np.array([stats[k]["mean"] for k in stats], dtype=np.float64)  # (S, C)
    stds = np.array([stats[k]["std"] for k in stats], dtype=np.float64)  # (S, C)
    mean = (w[:, None] * means).sum(axis=0)
    if all(s.get("method") == "robust" for s in stats.values()):
        scale = (w[:, None] * stds).sum(axis=0)  # (C,) weighted IQR
    else:
        var = (w[:, None] * (stds**2 + means**2)).sum(axis=0) - mean**2
        scale = np.sqrt(np.maximum(var, 1e-12))
    return {
        "mean": mean.tolist(),
        "std": scale.tolist(),
        "pooled_over": {k: float(v) for k, v in zip(stats, w, strict=True)},
        "per_dataset": {k: {kk: v[kk] for kk in ("mean", "std", "n_records") if kk in v} for k, v in stats.items()},
    }


def record_list_hash(sources: Mapping[str, Any]) -> tuple[str, int]:
    """sha256 over the sorted ``"<source>/<record_id>"`` lines of every training record, and their count."""
    import hashlib

    lines = sorted(f"{k}/{v.store.record_id(i)}" for k, v in sources.items() for i in range(v.store.n_records))
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest(), len(lines)


def _with_data_normalization(spec: Any, sources: Mapping[str, _OpenSource]) -> Any:
    """The spec with the data's normalisation statistics in its signal contract (when the sources have them)."""
    stats = {k: getattr(v.store, "normalization", None) for k, v in sources.items()}
    if not stats or any(s is None for s in stats.values()):
        return spec
    pooled = pooled_normalization(stats, {k: v.weight for k, v in sources.items()})  # type: ignore[arg-type]
    methods = {s["method"] for s in stats.values()}  # type: ignore[index]
    norm = spec.signal.normalization.model_copy(
        update={"method": methods.pop() if len(methods) == 1 else spec.signal.normalization.method,
                "stats": pooled}
    )
    return spec.model_copy(update={"signal": spec.signal.model_copy(update={"normalization": norm})})


def _fit_tokenizer(spec: Any, sources: Mapping[str, _OpenSource], out_dir: Path) -> Any:
    """The spec after its tokenizer resolved data-dependent arguments on the training data (e.g. ROI gradients)."""
    from biojepa.registry import TOKENIZERS

    fit = getattr(TOKENIZERS.get(spec.tokenizer.kind), "fit_spec", None)
    fitted = fit(spec, {k: v.store for k, v in sources.items()}, out_dir) if fit is not None else None
    return spec if fitted is None else fitted


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
        config_hash, steps, samples_seen, wall_s, final_loss, losses, datasets, device``, plus ``resumed_from``
        (the completed step a resumed run started from, else None), ``world_size`` (processes), the collapse
        monitors' last values (``monitor``: ``target_std``, ``effective_rank``, ``n_tokens``) and the number of
        collapse warnings (``n_collapse_warnings``).

    Raises:
        ConfigError: a non-empty ``out_dir`` without ``resume``, a crop length that differs from the model
            window, a channel count that differs from the model's, or any invalid setting.
        UnknownNameError / NotAvailableError: an unknown or not-yet-supported model, mask or dataset id.
        NonFiniteLossError, CheckpointError, DataError, TrainingInterrupted: see :meth:`Trainer.fit`.
    """
    import torch.distributed

    from biojepa.engine import distributed
    from biojepa.engine.trainer import resolve_device

    out_dir = Path(out_dir).expanduser().absolute()
    info = distributed.detect()
    device = distributed.device_for(info, resolve_device(cfg.engine.device))
    owns_group = info.is_distributed and not torch.distributed.is_initialized()
    distributed.init_process_group(info, device)
    try:
        return _run(cfg, out_dir, info, device, resume=resume, progress=progress, recipe=recipe)
    finally:
        if owns_group:
            distributed.shutdown()


def _run(
    cfg: RunConfig,
    out_dir: Path,
    info: Any,
    device: Any,
    *,
    resume: bool,
    progress: ProgressFn | None,
    recipe: str | None,
) -> dict[str, Any]:
    """:func:`run_pretrain` once the process group (if any) is up."""
    import torch.utils.data

    from biojepa.data.sampler import KeyedDataset, SourceSpec, StepBatchSampler, WeightedCropSampler
    from biojepa.engine import distributed
    from biojepa.engine.runinfo import git_sha
    from biojepa.engine.seed import seed_everything
    from biojepa.engine.trainer import Trainer
    from biojepa.io import save_pretrained
    from biojepa.masks import MaskCollator
    from biojepa.masks.base import mask_params_with_defaults
    from biojepa.models import build_jepa, get_spec

    _check_out_dir(out_dir, resume)
    distributed.barrier()  # every rank has checked the folder before rank 0 writes into it

    spec = get_spec(cfg.model.name, **cfg.model.overrides)
    n_times = spec.signal.n_times
    if cfg.data.crop_len != n_times:
        raise ConfigError(
            f"data.crop_len={cfg.data.crop_len} differs from the window of model {spec.name!r} "
            f"(signal.n_times={n_times}); set data.crop_len={n_times}, or change the model window with "
            f"model.overrides.signal.n_times={cfg.data.crop_len}"
        )

    # -- data (rank 0 first: it builds the caches and fitted tables the other ranks then reuse) --------------
    with distributed.main_first(info):
        out_dir.mkdir(parents=True, exist_ok=True)
        cache_dir = Path(cfg.data.cache_dir).expanduser() if cfg.data.cache_dir else default_cache_dir()
        sources = _open_sources(cfg, cache_dir, spec)
        spec = _with_data_normalization(spec, sources)
        spec = _fit_tokenizer(spec, sources, out_dir)
    datasets = {
        k: {"n_records": v.n_records, "n_quarantined": v.n_quarantined, "n_duplicates_dropped": v.n_duplicates}
        for k, v in sources.items()
    }
    rl_hash, rl_count = record_list_hash(sources)

    # -- model and data loader ----------------------------------------------------------------------------
    seed_everything(cfg.engine.seed)  # the same initial weights on every rank
    model = build_jepa(spec, loss=cfg.model.loss, target_norm=cfg.model.target_norm)
    batch = distributed.per_rank_batch(cfg.data.batch_size, info.world_size)  # this rank's share
    accum = cfg.optim.accum_steps
    sampler = WeightedCropSampler(
        [SourceSpec(k, v.store, v.weight) for k, v in sources.items()],
        crop_len=cfg.data.crop_len,
        seed=cfg.engine.seed,
        global_batch=cfg.data.batch_size,
        pad_short=cfg.data.pad_short,
    )
    grid = tuple(model.context_encoder.tokenizer.grid((len(spec.signal.channels), cfg.data.crop_len)))
    mask_params = mask_params_with_defaults(
        cfg.mask.name, cfg.mask.params, model.context_encoder.tokenizer.mask_defaults()
    )
    collate = MaskCollator(cfg.mask.name, mask_params, grid=grid, seed=cfg.engine.seed)
    dataset = KeyedDataset(sampler)
    total_data_steps = cfg.engine.steps * accum

    def make_batches(step: int) -> Iterator[Any]:
        # optimizer step `step` consumes data steps step*accum .. step*accum + accum - 1
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_sampler=StepBatchSampler(step * accum, total_data_steps, batch, info.rank, info.world_size),
            collate_fn=collate,
            num_workers=cfg.data.num_workers,
            persistent_workers=False,
            pin_memory=device.type == "cuda",
        )
        return iter(loader)

    trainer = Trainer(cfg, model, make_batches, out_dir, device=device, dist_info=info, progress=progress)
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
        "datasets": {
            k: {**v, "license": sources[k].license, "weight": sources[k].weight,
                **({"provenance": dict(sources[k].provenance)} if sources[k].provenance else {})}
            for k, v in datasets.items()
        },
        "record_list_sha256": rl_hash,
        "n_training_records": rl_count,
        "git_sha": git_sha(),
    }
    model_dir = out_dir / "model"
    encoder = trainer.export_encoder()  # a collective under FSDP: the full weights land on rank 0
    if info.is_main:
        model_dir = save_pretrained(encoder, model_dir, training=training, overwrite=True)
    distributed.barrier()  # the exported model exists before any rank returns
    return {
        "schema_version": SCHEMA_VERSION,
        "status": "ok",
        "model_dir": str(Path(model_dir).absolute()),
        "run_dir": str(out_dir),
        "model_name": spec.name,
        "recipe": recipe_name,
        "config_hash": digest,
        "steps": result.steps,
        "resumed_from": result.resumed_from,
        "world_size": info.world_size,
        "samples_seen": result.samples_seen,
        "wall_s": result.wall_s,
        "final_loss": result.final_loss,
        "losses": result.losses[-cfg.log.keep_losses :],
        "datasets": datasets,
        "device": str(trainer.device),
        "monitor": result.monitor,
        "n_collapse_warnings": result.n_collapse_warnings,
    }
