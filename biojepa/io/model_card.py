"""Model cards (``README.md`` of a model directory), rendered from ``config.json``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["render_model_card"]

NOT_FOR_DIAGNOSIS = (
    "**Not for clinical diagnosis.** This model is a research artefact. It has not been validated as a "
    "medical device and must not be used to diagnose, treat or triage patients."
)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v) if len(v) <= 16 else f"{len(v)} values"
    if isinstance(v, Mapping):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items()) or "—"
    return "—" if v is None or v == "" else str(v)


_LABELS = {
    "config_hash": "recipe hash (sha256 of the resolved run configuration)",
    "record_list_sha256": "training record list sha256 (sorted source/record ids)",
    "n_training_records": "training records",
}


def _norm_text(norm: Mapping[str, Any]) -> str:
    """One table cell describing the input normalisation (the statistics themselves stay in config.json)."""
    text = str(norm.get("method", "none"))
    if norm.get("clip") is not None:
        text += f", clipped to ±{_fmt(norm['clip'])}"
    stats = norm.get("stats") or {}
    if "per_dataset" in stats:
        text += f"; statistics of the training data ({', '.join(map(str, stats['per_dataset']))}) in config.json"
    elif stats:
        text += f" {_fmt(stats)}"
    return text


def render_model_card(config: Mapping[str, Any]) -> str:
    """Markdown model card with the signal contract, training data and licences, evaluation and intended use."""
    spec = config["spec"]
    sig = config["signal"]
    train = config.get("training") or {}
    evals = config.get("evaluation") or []
    enc, pred = spec["encoder"], spec["predictor"]
    lines = [
        f"# {spec['name']}",
        "",
        spec.get("description") or "A biojepa JEPA encoder.",
        "",
        f"biojepa {config.get('biojepa_version', '?')} · modality `{spec['modality']}` · "
        f"architecture `{config.get('architecture', 'SignalEncoder')}`",
        "",
        "## Signal contract",
        "",
        "`biojepa.encode()` checks every input against this contract.",
        "",
        "| field | value |",
        "|---|---|",
        f"| sampling rate | {_fmt(sig.get('sfreq')) + ' Hz' if sig.get('sfreq') else _fmt(sig.get('tr_s')) + ' s (TR)'} |",
        f"| channels ({len(sig['channels'])}) | {', '.join(sig['channels'])} |",
        f"| units | {sig['units']} |",
        f"| window | {sig['n_times']} samples |",
        f"| normalisation | {_norm_text(sig['normalization'])} |",
        *([f"| atlas | {sig['atlas']} |"] if sig.get("atlas") else []),
        *([f"| ROI order sha256 | {sig['roi_order_sha256']} |"] if sig.get("roi_order_sha256") else []),
        "",
        "## Architecture",
        "",
        f"- tokenizer: `{spec['tokenizer']['kind']}` {_fmt(spec['tokenizer'].get('args', {}))}",
        f"- encoder: width {enc['dim']}, depth {enc['depth']}, heads {enc['n_heads']}, "
        f"{'with' if enc['bias'] else 'no'} biases, {enc['n_registers']} register token(s)",
        f"- predictor (pretraining only): width {pred['dim']}, depth {pred['depth']}, heads {pred['n_heads']}",
        "- exported weights: the EMA **target** encoder",
        "",
        "## Training",
        "",
    ]
    if train:
        for key in ("recipe", "config_hash", "steps", "samples_seen", "final_loss", "n_training_records",
                    "record_list_sha256", "excluded", "git_sha"):
            if key in train:
                label = _LABELS.get(key, key.replace("_", " "))
                lines.append(f"- {label}: {_fmt(train[key])}")
        datasets = train.get("datasets") or {}
        if datasets:
            lines += ["", "| dataset | records | weight | duplicates dropped | excluded folds | licence |",
                      "|---|---|---|---|---|---|"]
            for ds_id, info in datasets.items():
                info = info or {}
                prov = info.get("provenance") or {}
                excluded = prov.get("excluded_folds")
                lines.append(
                    f"| {ds_id} | {_fmt(info.get('n_records'))} | {_fmt(info.get('weight'))} | "
                    f"{_fmt(info.get('n_duplicates_dropped'))} | {_fmt(excluded) if excluded else '—'} | "
                    f"{_fmt(info.get('license'))} |"
                )
            lines += ["", "Check each dataset's licence before any use; some are non-commercial."]
    else:
        lines.append("Randomly initialised (no training provenance recorded).")
    lines += ["", "## Evaluation", ""]
    if evals:
        lines += ["| task | metric | value | notes |", "|---|---|---|---|"]
        for r in evals:
            lines.append(f"| {_fmt(r.get('task'))} | {_fmt(r.get('metric'))} | {_fmt(r.get('value'))} | "
                         f"{_fmt(r.get('notes'))} |")
    else:
        lines.append("No evaluation recorded.")
    lines += [
        "",
        "## Intended use",
        "",
        "Research on self-supervised representations of biomedical signals: embeddings for probes, "
        "fine-tuning and retrieval.",
        "",
        NOT_FOR_DIAGNOSIS,
        "",
        "## How to use",
        "",
        "```python",
        "import biojepa",
        "model = biojepa.load('path/to/this/directory')",
        "```",
        "",
    ]
    return "\n".join(lines)
