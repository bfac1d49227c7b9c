"""A tiny, fast JEPA setup for the engine tests (also imported by the resume-test subprocesses).

The model is ``synthetic_vit_tiny`` shrunk to 4 channels × 128 samples (8 tokens of 16 samples), width 32,
one block; batches are generated in memory as a pure function of ``(seed, step, slot)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from biojepa.config import RunConfig, resolve_config
from biojepa.masks import build_mask, make_mask_rngs
from biojepa.masks.base import MaskSet

N_TIMES = 128
PATCH = 16
MODEL_OVERRIDES = [
    f"model.overrides.signal.n_times={N_TIMES}",
    "model.overrides.encoder.dim=32",
    "model.overrides.encoder.depth=1",
    "model.overrides.encoder.n_heads=2",
    "model.overrides.predictor.dim=16",
    "model.overrides.predictor.depth=1",
    "model.overrides.predictor.n_heads=2",
]
BASE_OVERRIDES = [
    *MODEL_OVERRIDES,
    f"data.crop_len={N_TIMES}",
    "data.batch_size=8",
    "data.sources=[{id: synthetic, params: {n_records: 16, n_channels: 4, n_times: 256, seed: 0}}]",
    "mask.params={keep_min: 0.3, keep_max: 0.5, min_block: 2}",
    "optim.warmup_steps=2",
    "optim.lr=0.002",
    "engine.steps=12",
    "engine.ckpt_every=4",
    "engine.log_every=1",
    "engine.keep_ckpts=3",
    "engine.device=cpu",
    "engine.threads=1",
]


def tiny_config(*overrides: str) -> RunConfig:
    """The tiny run config with extra ``a.b=c`` overrides."""
    return resolve_config("synthetic/tiny", [*BASE_OVERRIDES, *overrides])


def tiny_model(cfg: RunConfig) -> Any:
    """A freshly initialised tiny JEPA (seeded by ``cfg.engine.seed``)."""
    from biojepa.engine.seed import seed_everything
    from biojepa.models import build_jepa, get_spec

    seed_everything(cfg.engine.seed)
    return build_jepa(get_spec(cfg.model.name, **cfg.model.overrides), loss=cfg.model.loss)


def make_signal(seed: int, step: int, slot: int, n_channels: int = 4, n_times: int = N_TIMES) -> np.ndarray:
    """A (C, T) float32 signal: per-sample frequency and phase, shared across channels with gains, + noise."""
    rng = np.random.default_rng([seed, step, slot, 7])
    t = np.arange(n_times, dtype=np.float64) / n_times
    f = rng.uniform(2.0, 6.0)
    phase = rng.uniform(0, 2 * np.pi)
    gains = rng.uniform(0.5, 1.5, size=(n_channels, 1))
    x = gains * np.sin(2 * np.pi * f * t + phase)[None, :] + 0.05 * rng.standard_normal((n_channels, n_times))
    return x.astype(np.float32)  # (C, T)


def make_batch(cfg: RunConfig, data_step: int) -> tuple[torch.Tensor, MaskSet]:
    """The micro-batch of data step ``data_step``: signals and masks from ``(seed, step, slot)`` only."""
    b = cfg.data.batch_size
    seed = cfg.engine.seed
    ids = [data_step * b + s for s in range(b)]
    x = torch.from_numpy(np.stack([make_signal(seed, data_step, s) for s in range(b)]))  # (B, C, T)
    fn = build_mask(cfg.mask.name, cfg.mask.params)
    masks = fn((N_TIMES // PATCH,), make_mask_rngs(seed, data_step, ids))
    return x, masks


def batch_factory(cfg: RunConfig) -> Any:
    """``make_batches(step)`` for the Trainer: accum_steps micro-batches per optimizer step."""
    accum = cfg.optim.accum_steps

    def make_batches(step: int) -> Iterator[tuple[torch.Tensor, MaskSet]]:
        data_step = step * accum
        while True:
            yield make_batch(cfg, data_step)
            data_step += 1

    return make_batches


def run_trainer(run_dir: str, overrides: Sequence[str] = (), resume: bool = False) -> dict[str, Any]:
    """Build the tiny model and train it in ``run_dir`` (used in-process and by subprocesses)."""
    from biojepa.engine.trainer import Trainer

    torch.set_num_threads(1)
    cfg = tiny_config(*overrides)
    model = tiny_model(cfg)
    trainer = Trainer(cfg, model, batch_factory(cfg), run_dir, device="cpu")
    return trainer.fit(resume=resume).to_dict()
