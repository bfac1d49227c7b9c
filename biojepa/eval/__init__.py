"""Modality-agnostic evaluation: feature caching, sliding windows, probes, metrics and result files.

Any ``nn.Module`` whose ``forward(x (B, C, T))`` returns ``(B, N, D)`` features can be probed::

    from biojepa.eval import ProbeConfig, extract_features, train_probe, predict, compute_metric

    tr = extract_features(encoder, X_train, window=1250, stride=625, pool="tokens")
    va = extract_features(encoder, X_val, window=1250, stride=625, pool="tokens")
    res = train_probe(tr, y_train, va, y_val, ProbeConfig(head="attentive", task="multilabel"))
    auc = compute_metric("auc_macro", y_test, predict(res.head, te))

Submodules load on first attribute access, so ``biojepa.eval.metrics`` / ``biojepa.eval.results`` do not
import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "METRICS",
    "AucReport",
    "BootstrapCI",
    "EvalResult",
    "FeatureSet",
    "FinetuneConfig",
    "FinetuneModel",
    "FinetuneResult",
    "ProbeConfig",
    "ProbeResult",
    "ResultRow",
    "UndefinedMetricError",
    "accuracy",
    "aggregate",
    "balanced_accuracy",
    "binomial_chance_bound",
    "bootstrap_ci",
    "compute_metric",
    "error_payload",
    "extract_features",
    "extract_windows",
    "f1_macro",
    "finetune",
    "pearson_r",
    "predict",
    "predict_windows",
    "r2",
    "roc_auc_macro",
    "roc_auc_per_class",
    "roc_auc_report",
    "summarise_seeds",
    "train_probe",
    "window_starts",
    "write_json",
]

_WHERE = {
    "biojepa.eval.metrics": (
        "METRICS", "AucReport", "BootstrapCI", "UndefinedMetricError", "accuracy", "balanced_accuracy",
        "binomial_chance_bound", "bootstrap_ci", "compute_metric", "f1_macro", "pearson_r", "r2",
        "roc_auc_macro", "roc_auc_per_class", "roc_auc_report",
    ),
    "biojepa.eval.windows": ("aggregate", "extract_windows", "window_starts"),
    "biojepa.eval.features": ("FeatureSet", "extract_features"),
    "biojepa.eval.probes": ("ProbeConfig", "ProbeResult", "predict", "train_probe"),
    "biojepa.eval.finetune": ("FinetuneConfig", "FinetuneModel", "FinetuneResult", "finetune", "predict_windows"),
    "biojepa.eval.results": ("EvalResult", "ResultRow", "error_payload", "summarise_seeds", "write_json"),
}  # fmt: skip
_LAZY = {name: mod for mod, names in _WHERE.items() for name in names}

if TYPE_CHECKING:  # pragma: no cover
    from biojepa.eval.features import FeatureSet, extract_features
    from biojepa.eval.finetune import FinetuneConfig, FinetuneModel, FinetuneResult, finetune, predict_windows
    from biojepa.eval.metrics import (
        METRICS,
        AucReport,
        BootstrapCI,
        UndefinedMetricError,
        accuracy,
        balanced_accuracy,
        binomial_chance_bound,
        bootstrap_ci,
        compute_metric,
        f1_macro,
        pearson_r,
        r2,
        roc_auc_macro,
        roc_auc_per_class,
        roc_auc_report,
    )
    from biojepa.eval.probes import ProbeConfig, ProbeResult, predict, train_probe
    from biojepa.eval.results import EvalResult, ResultRow, error_payload, summarise_seeds, write_json
    from biojepa.eval.windows import aggregate, extract_windows, window_starts


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'biojepa.eval' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
