"""The fMRI real-data experiments at test scale, on shared/data/fmri/abide_aal116 (80 ABIDE-I subjects, AAL-116).

Only what is robust on this small data is asserted: acquisition site (PITT vs OLIN) is decodable from
functional connectivity above the binomial 95 % bound (the positive control of the pipeline: reading, TR
resampling, ROI order, FC features, folds), and a model pretrained for a few steps on PITT + OHSU is probed on
diagnosis at the unseen site OLIN with finite outputs, a valid result file and the leakage check refusing the
sites it was pretrained on. Diagnosis accuracies themselves are reported in docs, not asserted.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from biojepa.adapters.fmri.fmri_eval import FmriEvalConfig, run_fmri_eval
from biojepa.errors import ConfigError
from biojepa.eval.results import EvalResult, write_json

EXTRAS = (
    "models",
    "wall_s",
    "protocol",
    "label",
    "excluded",
    "feature_dims",
    "contract",
    "selected",
    "undefined",
    "overlap",
)


def _root(shared_data: Path) -> Path:
    return shared_data / "fmri" / "abide_aal116"


@pytest.mark.realdata
def test_site_is_decodable_from_connectivity(shared_data: Path, tmp_path: Path) -> None:
    res = run_fmri_eval(
        FmriEvalConfig(
            task="site",
            data=f"abide_roi={_root(shared_data)}",
            models=["random:fmri_vit_tiny"],
            split="kfold",
            folds=5,
            seeds=1,
            mode="sklearn",
            baselines="connectivity",
            params={"sites": ["PITT", "OLIN"]},
            cache_dir=tmp_path,
            n_boot=200,
        )
    )
    rows = {(r["variant"], r["metric"]): r for r in res["rows"]}
    assert res["n_records"]["used"] == 72 and res["label"]["classes"] == ["OLIN", "PITT"]
    acc = rows["connectivity", "accuracy"]
    assert acc["n_test"] == 72
    assert acc["value"] > acc["chance_bound"]  # measured 0.93 vs bound 0.72 (majority rate 0.625)
    assert rows["chance", "accuracy"]["value"] == pytest.approx(45 / 72)


@pytest.mark.realdata
def test_pretrain_then_probe_diagnosis_at_an_unseen_site(shared_data: Path, tmp_path: Path) -> None:
    from biojepa.config import resolve_config
    from biojepa.engine.pretrain import run_pretrain

    root = _root(shared_data)
    cache = tmp_path / "cache"
    cfg = resolve_config(
        "fmri/demo",
        [
            f"data.sources=[{{id: abide_roi, root: '{root}', params: {{sites: [PITT, OHSU]}}}}]",
            f"data.cache_dir={cache}",
            "engine.steps=10",
            "engine.ckpt_every=10",
            "engine.log_every=5",
            "optim.warmup_steps=2",
        ],
    )
    model_dir = run_pretrain(cfg, tmp_path / "run")["model_dir"]
    config = json.loads((Path(model_dir) / "config.json").read_text())
    assert (
        len(config["training"]["datasets"]["abide_roi"]["provenance"]["subjects_used"]) == 53
    )  # PITT + OHSU

    base = {
        "task": "dx",
        "data": f"abide_roi={root}",
        "models": [model_dir],
        "seeds": 1,
        "crops": "center",
        "cache_dir": cache,
        "n_boot": 100,
    }
    res = run_fmri_eval(FmriEvalConfig(**base, test_sites=["OLIN"]))
    EvalResult.model_validate({k: v for k, v in res.items() if k not in EXTRAS})
    write_json(tmp_path / "dx.json", res)
    variants = [r["variant"] for r in res["rows"]]
    assert variants == ["pretrained"] * 3 + ["random_init"] * 3 + ["connectivity"] * 3 + ["chance"] * 3
    for r in res["rows"]:
        assert math.isfinite(r["value"]) and r["n_test"] == 27  # OLIN: 15 ASD / 12 TC
    # the pretrained model's own contract is used: its stored robust statistics and gradient table
    contract = res["contract"]["pretrained"]
    assert contract["normalization"] == "stored" and contract["roi_table"] == "stored"
    with pytest.raises(ConfigError, match="pretrained on 45 of the 72 test subjects"):
        run_fmri_eval(FmriEvalConfig(**base))  # PITT is a test fold of the full leave-site-out
