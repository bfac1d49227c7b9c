"""Embed real PTB-XL ECGs with biojepa.encode() and fit a logistic regression on the embeddings.

The script pretrains the ECG demo model briefly on the unlabelled PTB-XL pool shipped with the project's
shared data (or uses --model DIR), embeds the labelled records straight from their WFDB files (leads are
matched by name, the model's stored normalisation is applied, each 10-s record is cut into the model's 5-s
windows and the window embeddings are averaged), and fits scikit-learn's LogisticRegression to tell normal
ECGs (superdiagnostic NORM only) from abnormal ones: folds 1-7 train, fold 8 test.

Run:  python examples/encode_ptbxl.py --data ../shared/data --steps 300 --out runs/encode_example
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

import biojepa
from biojepa.adapters.ecg.tasks import build_labels, load_ptbxl_metadata, load_scp_statements
from biojepa.config import resolve_config
from biojepa.engine.pretrain import run_pretrain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default_data = os.environ.get("BIOJEPA_SHARED_DATA", "../shared/data")
    parser.add_argument("--data", type=Path, default=Path(default_data), help="the shared data folder")
    parser.add_argument("--model", type=Path, default=None, help="a model directory (skips pretraining)")
    parser.add_argument("--steps", type=int, default=300, help="pretraining steps when no --model is given")
    parser.add_argument("--out", type=Path, default=Path("runs/encode_example"), help="run directory (new)")
    args = parser.parse_args()
    ecg = args.data / "ecg"

    model_dir = args.model
    if model_dir is None:
        cfg = resolve_config("ecg/demo", [
            f"data.sources=[{{id: wfdb, root: '{ecg / 'ptbxl_unlabelled'}'}}]",
            f"data.cache_dir={args.out / 'cache'}", f"engine.steps={args.steps}", "log.progress=none",
        ])
        result = run_pretrain(cfg, args.out / "pretrain")
        model_dir = Path(result["model_dir"])
        print(f"pretrained {result['steps']} steps on {result['datasets']['wfdb']['n_records']} unlabelled records")
    model = biojepa.load(model_dir)

    root = ecg / "ptbxl_subset"
    labels = build_labels(load_ptbxl_metadata(root), load_scp_statements(root), "superdiagnostic")
    meta = load_ptbxl_metadata(root).loc[labels.ecg_ids]
    paths = [str(root / f) for f in meta["filename_lr"]]  # 100 Hz WFDB records
    emb = biojepa.encode(paths, model)  # (N, D): one embedding per record
    print(f"embedded {len(paths)} records: {emb.shape}, finite: {bool(np.isfinite(emb).all())}")

    normal = (labels.y[:, labels.classes.index("NORM")] == 1) & (labels.y.sum(axis=1) == 1)
    train, test = labels.folds <= 7, labels.folds == 8
    scaler = StandardScaler().fit(emb[train])
    clf = LogisticRegression(C=0.1, max_iter=1000).fit(scaler.transform(emb[train]), normal[train])
    auc = roc_auc_score(normal[test], clf.decision_function(scaler.transform(emb[test])))
    print(f"normal vs abnormal, test fold 8 ({int(test.sum())} records): ROC-AUC {auc:.3f}")


if __name__ == "__main__":
    main()
