"""Pretrain the tiny demo JEPA from Python, then embed new recordings with the exported model.

Run:  python examples/pretrain_tiny.py --steps 50 --out runs/example
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import biojepa
from biojepa.config import resolve_config
from biojepa.data.synthetic import SyntheticSpec, make_synthetic
from biojepa.engine.pretrain import run_pretrain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps")
    parser.add_argument("--out", type=Path, default=Path("runs/example"), help="run directory (must be new)")
    args = parser.parse_args()

    cfg = resolve_config("synthetic/tiny", [f"engine.steps={args.steps}", "log.progress=plain"])
    result = run_pretrain(cfg, args.out)
    print(f"pretrained {result['steps']} steps in {result['wall_s']:.1f} s; final loss {result['final_loss']:.4f}")

    model = biojepa.load(result["model_dir"])
    sig = model.spec.signal
    X, y = make_synthetic(SyntheticSpec(n_records=16, n_channels=len(sig.channels), n_times=2 * sig.n_times,
                                        seed=123))
    emb = biojepa.encode(X, model, sfreq=sig.sfreq, channels=sig.channels)  # (16, D), windows mean-pooled
    print(f"embeddings: {emb.shape}, finite: {bool(np.isfinite(emb).all())}")


if __name__ == "__main__":
    main()
