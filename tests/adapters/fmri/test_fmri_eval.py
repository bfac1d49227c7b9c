"""`biojepa finetune fmri` (run_fmri_eval) on the generated corpus and on a small ABIDE-style folder.

The folder is written in the real format (participants.csv + timeseries/<id>.mat with DPABI's ``ROISignals``,
time x ROI, + aal116_rois.csv): site A (8 subjects, both classes, 100 frames), site B (8 subjects, both classes,
60 frames: shorter than fmri_vit_tiny's 80-frame window), site C (4 subjects, all ASD: the OHSU case).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io
import torch

from biojepa.adapters.fmri.fmri_eval import FmriEvalConfig, embed_records, fold_contract, run_fmri_eval
from biojepa.adapters.fmri.rois import AAL116
from biojepa.errors import ConfigError
from biojepa.eval.results import EvalResult, write_json

TINY = "random:fmri_vit_tiny"
DEPTH1 = {"encoder": {"depth": 1}}
FAST = {"crops": "center", "n_boot": 0, "probe_epochs": 10, "model_overrides": DEPTH1}
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
#: subjects above max_mean_fd=0.3 in the folder below
HIGH_FD = {"A02", "B05"}


def _core(res: dict) -> dict:
    return {k: v for k, v in res.items() if k not in EXTRAS}


def _rows(res: dict) -> dict[tuple[str, str], dict]:
    return {(r["variant"], r["metric"]): r for r in res["rows"]}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def abide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("abide")
    (root / "timeseries").mkdir()
    pd.DataFrame({"num": np.arange(1, 117), "name": list(AAL116)}).to_csv(
        root / "aal116_rois.csv", index=False
    )
    rng = np.random.default_rng(0)
    rows = []
    plan = [("A", 8, 100, [0, 1] * 4), ("B", 8, 60, [1, 0] * 4), ("C", 4, 100, [1] * 4)]
    for site, n, t, dx in plan:
        for k in range(n):
            sid = f"{site}{k + 1:02d}"
            x = rng.standard_normal((t, 116)) + 0.5 * rng.standard_normal(
                (t, 1)
            )  # (T, R) with a global signal
            if sid == "A03":
                x[:, 110:] = 0.0  # cerebellar ROIs outside the field of view, as in 13 ABIDE subjects
            scipy.io.savemat(root / "timeseries" / f"{sid}.mat", {"ROISignals": x})
            fd = 0.5 if sid in HIGH_FD else 0.1 + 0.01 * k
            rows.append(
                {
                    "subject_id": sid,
                    "site": site,
                    "dx_asd": dx[k],
                    "age": 10.0 + 2 * k + (site == "B"),
                    "sex": "M" if k % 3 else "F",
                    "tr_s": 2.2,
                    "func_mean_fd": fd,
                }
            )
    pd.DataFrame(rows).to_csv(root / "participants.csv", index=False)
    return root


# -- the generated corpus ----------------------------------------------------------------------------------
def test_synthetic_rows_schema_and_determinism(cache: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    cfg = FmriEvalConfig(
        task="label",
        data="fmri_synthetic",
        models=[TINY],
        split="kfold",
        folds=2,
        seeds=2,
        params={"n_records": 24},
        cache_dir=cache,
        **FAST,
    )
    res = run_fmri_eval(cfg, progress=lines.append)
    EvalResult.model_validate(_core(res))
    write_json(tmp_path / "r.json", res)  # every number is finite
    assert res["task"] == "fmri_synthetic/label" and res["mode"] == "linear"
    assert [r["variant"] for r in res["rows"][::3]] == ["random_init", "connectivity", "chance"]
    assert [r["metric"] for r in res["rows"][:3]] == ["accuracy", "f1_macro", "roc_auc"]
    for r in res["rows"]:
        assert math.isfinite(r["value"]) and r["n_test"] == 24 and r["seeds"] == [0, 1]
        assert ("chance_bound" in r) == (r["metric"] == "accuracy")
        if r["variant"] != "chance":
            assert len(r["per_seed"]) == 2 and len(r["per_fold"]) == 2
    assert _rows(res)["chance", "roc_auc"]["value"] == 0.5
    assert res["feature_dims"] == {"random_init": 128, "connectivity": 116 * 115 // 2}
    c = res["contract"]["random_init"]
    assert c["normalization"] == c["roi_table"] == "fitted_on_training_fold"
    shas = [f["table_sha256"] for f in c["per_fold"].values()]
    assert len(shas) == 2 and shas[0] != shas[1]  # each fold's table comes from its own training subjects
    assert any("random_init seed 1" in m for m in lines)
    again = run_fmri_eval(cfg)
    assert [r["per_seed"] for r in again["rows"]] == [r["per_seed"] for r in res["rows"]]


def test_connectivity_decodes_the_planted_class(cache: Path) -> None:
    cfg = FmriEvalConfig(
        task="label",
        data="fmri_synthetic",
        models=[TINY],
        split="kfold",
        folds=4,
        seeds=1,
        mode="sklearn",
        baselines="connectivity",
        params={"n_records": 64},
        cache_dir=cache,
        **FAST,
    )
    rows = _rows(run_fmri_eval(cfg))
    acc = rows["connectivity", "accuracy"]
    assert acc["value"] >= 0.8 and acc["value"] > acc["chance_bound"]  # measured 0.98 vs bound 0.61
    assert rows["chance", "accuracy"]["value"] == pytest.approx(0.5)
    # a random:<name> model is what is evaluated: its random_init row is there without being asked for
    assert {v for v, _ in rows} == {"random_init", "connectivity", "chance"}


# -- the ABIDE-style folder --------------------------------------------------------------------------------
def test_leave_site_out_skips_a_single_class_site_and_pads_short_records(abide: Path, cache: Path) -> None:
    cfg = FmriEvalConfig(
        task="dx", data=f"abide_roi={abide}", models=[TINY], seeds=1, cache_dir=cache, **FAST
    )
    res = run_fmri_eval(cfg)
    EvalResult.model_validate(_core(res))
    assert [f["name"] for f in res["split"]["folds"]] == ["site:A", "site:B"]
    (skip,) = res["split"]["skipped"]
    assert skip["name"] == "site:C" and "class 1" in skip["reason"]
    assert res["n_records"] == {
        "loaded": 20,
        "used": 20,
        "tested": 16,
        "excluded": 0,
        "class_0": 8,
        "class_1": 12,
    }
    assert res["label"]["positive_class"] == "1"
    for r in res["rows"]:  # site B's 60-frame records were padded, and encoded through their valid tokens
        assert math.isfinite(r["value"]) and r["n_test"] == 16
    assert res["protocol"]["n_times"] == 80 and res["protocol"]["tr_s"] == 2.2


def test_fd_exclusion_and_covariate(abide: Path, cache: Path) -> None:
    base = {
        "task": "dx",
        "data": f"abide_roi={abide}",
        "models": [TINY],
        "seeds": 1,
        "mode": "sklearn",
        "max_mean_fd": 0.3,
        "cache_dir": cache,
        **FAST,
    }
    plain = run_fmri_eval(FmriEvalConfig(**base))
    with_fd = run_fmri_eval(FmriEvalConfig(**base, fd_covariate=True))
    for res in (plain, with_fd):
        assert set(res["excluded"]) == HIGH_FD and all("max_mean_fd" in v for v in res["excluded"].values())
        assert res["n_records"]["used"] == 18 and res["n_records"]["excluded"] == 2
    assert plain["feature_dims"] == {"random_init": 128, "connectivity": 6670}
    assert with_fd["feature_dims"] == {"random_init": 129, "connectivity": 6671}
    with pytest.raises(ConfigError, match="framewise displacement"):
        run_fmri_eval(
            FmriEvalConfig(
                task="label",
                data="fmri_synthetic",
                models=[TINY],
                fd_covariate=True,
                split="kfold",
                folds=2,
                seeds=1,
                cache_dir=cache,
                params={"n_records": 8},
                **FAST,
            )
        )


def test_leakage_check(abide: Path, cache: Path, tmp_path: Path) -> None:
    import biojepa
    from biojepa.io import save_pretrained

    torch.manual_seed(0)
    enc = biojepa.create_model("fmri_vit_tiny", **DEPTH1)
    seen = ["A01", "A02", "C01"]  # C is never a test fold (single class), so C01 does not count
    model = save_pretrained(
        enc, tmp_path / "model", training={"datasets": {"abide_roi": {"provenance": {"subjects_used": seen}}}}
    )
    fast = {k: v for k, v in FAST.items() if k != "model_overrides"}
    cfg = {
        "task": "dx",
        "data": f"abide_roi={abide}",
        "models": [str(model)],
        "seeds": 1,
        "baselines": "",
        "cache_dir": cache,
        **fast,
    }
    with pytest.raises(ConfigError, match=r"pretrained on 2 of the 16 test subjects \(A01, A02"):
        run_fmri_eval(FmriEvalConfig(**cfg))
    res = run_fmri_eval(FmriEvalConfig(**cfg, allow_overlap=True))
    assert res["overlap"] == {"n_subjects": 2, "subjects": ["A01", "A02"], "datasets": ["abide_roi"]}
    assert [r["variant"] for r in res["rows"]] == ["pretrained"] * 3 + ["chance"] * 3
    # a model without stored statistics / table gets them fitted per training fold, like random:<name>
    assert res["contract"]["pretrained"]["normalization"] == "fitted_on_training_fold"
    clean = run_fmri_eval(FmriEvalConfig(**cfg, test_sites=["b"]))  # site names match case-insensitively
    assert "overlap" not in clean and clean["split"]["test_sites"] == ["B"]
    # the generated corpus: the same seed, size and duration regenerate the pretraining records themselves
    prov = {"generated": True, "seed": 0, "n_records": 8, "duration_s": 300.0}
    synth = save_pretrained(
        enc, tmp_path / "synth", training={"datasets": {"fmri_synthetic": {"provenance": prov}}}
    )
    scfg = {
        "task": "label",
        "data": "fmri_synthetic",
        "models": [str(synth)],
        "split": "kfold",
        "folds": 2,
        "seeds": 1,
        "baselines": "",
        "cache_dir": cache,
        **fast,
    }
    with pytest.raises(ConfigError, match="pretrained on 8 of the 8 test subjects"):
        run_fmri_eval(FmriEvalConfig(**scfg, params={"n_records": 8}))
    assert "overlap" not in run_fmri_eval(FmriEvalConfig(**scfg, params={"n_records": 8, "seed": 1}))


def test_random_init_contract_is_fitted_on_the_training_fold_only(abide: Path, cache: Path) -> None:
    import biojepa
    from biojepa.adapters.fmri.datasets import load_fmri_records
    from biojepa.adapters.fmri.tokenizer import fit_roi_table
    from biojepa.adapters.fmri.transforms import robust_stats

    torch.manual_seed(0)
    enc = biojepa.create_model("fmri_vit_tiny", **DEPTH1)
    assert enc.tokenizer.table_fitted is False
    recs, table = load_fmri_records("abide_roi", abide, tr_s=2.2, rois=list(AAL116), cache_dir=cache)
    site = table["site"].to_numpy()
    train_1 = [r for r, s in zip(recs, site, strict=True) if s != "A"]  # the fold testing site A
    train_2 = [r for r, s in zip(recs, site, strict=True) if s != "B"]
    c1, c2 = fold_contract(enc, train_1), fold_contract(enc, train_2)
    t1, t2 = np.asarray(c1.encoder.tokenizer.table), np.asarray(c2.encoder.tokenizer.table)
    assert not np.allclose(t1, t2) and c1.table_sha256 != c2.table_sha256
    np.testing.assert_allclose(t1, fit_roi_table(train_1, k=30).gradients)
    np.testing.assert_allclose(c1.center, robust_stats(train_1).center)
    np.testing.assert_allclose(c1.scale, robust_stats(train_1).scale)
    assert (
        c1.encoder.tokenizer.table_fitted and not enc.tokenizer.table_fitted
    )  # the given model is untouched
    for (n, a), (_, b) in zip(enc.state_dict().items(), c1.encoder.state_dict().items(), strict=True):
        assert torch.equal(a, b), n  # same random weights, only the position table differs
    assert c1.encoder.spec.tokenizer.args["roi_table_origin"]["n_records"] == len(train_1)


def test_short_records_are_padded_and_only_their_valid_tokens_encoded() -> None:
    import biojepa
    from biojepa.adapters.fmri.transforms import pad_to

    torch.manual_seed(0)
    enc = biojepa.create_model("fmri_vit_tiny", **DEPTH1).eval()
    rng = np.random.default_rng(1)
    short = rng.standard_normal((116, 50)).astype(np.float32)  # 3 of the 5 patches are real
    full = rng.standard_normal((116, 80)).astype(np.float32)
    feats = embed_records(enc, [short, full], crops="multi")
    assert feats.shape == (2, 128) and np.isfinite(feats).all()
    xp, nv = pad_to(short, 80)
    with torch.inference_mode():
        x = torch.from_numpy(xp)[None]
        padded_all = enc(x).mean(dim=1)[0].numpy()
        keep = enc.tokenizer.valid_tokens((116, 80), nv)[None]
        valid_only = enc(x, keep).mean(dim=1)[0].numpy()
        whole = enc(torch.from_numpy(full)[None]).mean(dim=1)[0].numpy()
    assert keep.shape == (1, 116 * 3)
    np.testing.assert_allclose(feats[0], valid_only, rtol=1e-5, atol=1e-6)
    assert np.abs(feats[0] - padded_all).max() > 1e-3  # the zero padding is not encoded
    np.testing.assert_allclose(feats[1], whole, rtol=1e-5, atol=1e-6)


def test_sklearn_regression_and_finetune_modes(abide: Path, cache: Path) -> None:
    reg = run_fmri_eval(
        FmriEvalConfig(
            task="age",
            data=f"abide_roi={abide}",
            models=[TINY],
            split="kfold",
            folds=2,
            seeds=1,
            mode="sklearn",
            cache_dir=cache,
            **FAST,
        )
    )
    EvalResult.model_validate(_core(reg))
    assert {m for _, m in _rows(reg)} == {"mse", "pearson_r"}
    assert reg["split"]["stratified_by"] == "site" and reg["n_records"]["tested"] == 20
    assert _rows(reg)["chance", "pearson_r"]["value"] == 0.0
    assert all(math.isfinite(r["value"]) and r["value"] >= 0 for r in reg["rows"] if r["metric"] == "mse")
    assert "alpha" in reg["selected"]["connectivity"][0]

    ft = run_fmri_eval(
        FmriEvalConfig(
            task="dx",
            data=f"abide_roi={abide}",
            models=[TINY],
            seeds=1,
            mode="finetune",
            baselines="random_init",
            ft_max_steps=2,
            ft_batch_size=6,
            cache_dir=cache,
            **FAST,
        )
    )
    EvalResult.model_validate(_core(ft))
    rows = _rows(ft)
    assert rows["random_init", "accuracy"]["steps"] == 2 and math.isfinite(
        rows["random_init", "roc_auc"]["value"]
    )
    assert ft["protocol"]["finetune"]["layer_decay"] == 0.75


def test_linear_probe_regression(abide: Path, cache: Path) -> None:
    res = run_fmri_eval(
        FmriEvalConfig(
            task="age",
            data=f"abide_roi={abide}",
            models=[TINY],
            seeds=1,
            baselines="random_init",
            cache_dir=cache,
            **FAST,
        )
    )
    rows = _rows(res)
    assert rows["random_init", "mse"]["steps"] == 10 and math.isfinite(
        rows["random_init", "pearson_r"]["value"]
    )
    assert [f["name"] for f in res["split"]["folds"]] == ["site:A", "site:B", "site:C"]  # no class to skip on


def test_config_errors(abide: Path, cache: Path) -> None:
    ok = {"data": "fmri_synthetic", "models": [TINY]}
    with pytest.raises(ConfigError, match="task_kind"):
        FmriEvalConfig(task="iq", **ok)
    FmriEvalConfig(task="iq", task_kind="regression", **ok)
    with pytest.raises(ConfigError, match="split"):
        FmriEvalConfig(task="dx", split="loso", **ok)
    with pytest.raises(ConfigError, match="kfold"):
        FmriEvalConfig(task="site", **ok)
    with pytest.raises(ConfigError, match="one per seed"):
        FmriEvalConfig(task="dx", data="fmri_synthetic", models=["a", "b"], seeds=3)
    with pytest.raises(ConfigError, match="baselines"):
        FmriEvalConfig(task="dx", baselines="svm", **ok)
    with pytest.raises(ConfigError, match="test_sites"):
        FmriEvalConfig(task="dx", split="kfold", test_sites=["A"], **ok)
    with pytest.raises(ConfigError, match="not a mix"):
        FmriEvalConfig(task="dx", data="fmri_synthetic", models=[TINY, "/some/dir"], seeds=2)
    with pytest.raises(ConfigError, match="column 'dx_asd'"):
        run_fmri_eval(
            FmriEvalConfig(
                task="dx",
                split="kfold",
                folds=2,
                seeds=1,
                params={"n_records": 8},
                cache_dir=cache,
                **ok,
                **FAST,
            )
        )
    with pytest.raises(ConfigError, match="not among the sites"):
        run_fmri_eval(
            FmriEvalConfig(
                task="dx",
                data=f"abide_roi={abide}",
                models=[TINY],
                test_sites=["Z"],
                seeds=1,
                cache_dir=cache,
                **FAST,
            )
        )


# -- the pieces in eval/finetune.py and nn/heads.py ---------------------------------------------------------
def test_layer_decay_param_groups() -> None:
    import biojepa
    from biojepa.eval.finetune import FinetuneConfig, finetune, layer_decay_param_groups, layer_ids
    from biojepa.nn.heads import LinearHead

    torch.manual_seed(0)
    enc = biojepa.create_model("fmri_vit_tiny", encoder={"depth": 2})
    model = torch.nn.ModuleDict({"encoder": enc, "head": LinearHead(128, 2, norm="layernorm")})
    ids, top = layer_ids(model)
    assert top == 3
    assert ids["encoder.tokenizer.proj.weight"] == ids["encoder.pos_embed.proj.weight"] == 0
    assert ids["encoder.transformer.blocks.1.attn.qkv.weight"] == 2
    assert ids["encoder.transformer.norm.weight"] == ids["head.linear.weight"] == ids["head.norm.weight"] == 3
    groups = layer_decay_param_groups(model, 0.05, 0.75)
    scale = {id(p): g["lr_scale"] for g in groups for p in g["params"]}
    wd = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert scale[id(named["encoder.tokenizer.proj.weight"])] == pytest.approx(0.75**3)
    assert scale[id(named["encoder.transformer.blocks.0.mlp.fc1.weight"])] == pytest.approx(0.75**2)
    assert scale[id(named["head.linear.weight"])] == 1.0
    assert wd[id(named["head.linear.weight"])] == 0.05 and wd[id(named["head.linear.bias"])] == 0.0
    assert sum(len(g["params"]) for g in groups) == len(named)
    with pytest.raises(ConfigError, match="layer_decay"):
        layer_decay_param_groups(model, 0.05, 1.5)
    # the generic fine-tuning loop takes it as an option (off by default)
    assert FinetuneConfig(crop_len=80).layer_decay is None
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 116, 80)).astype(np.float32)
    y = np.array([0, 1] * 3)
    cfg = FinetuneConfig(
        crop_len=80,
        task="multiclass",
        head="linear",
        steps=2,
        batch_size=2,
        warmup_steps=0,
        eval_every=2,
        layer_decay=0.75,
    )
    res = finetune(biojepa.create_model("fmri_vit_tiny", **DEPTH1), x, y, x, y, cfg)
    assert res.steps == 2


def test_linear_head_norms() -> None:
    from biojepa.nn.heads import LinearHead

    torch.manual_seed(0)
    x = torch.randn(16, 8) * 5 + 3
    bn = LinearHead(8, 2, pool="none", norm="batchnorm")
    assert not bn.norm.affine and bn.norm.momentum is None and bn.norm.eps == 1e-6
    bn.train()
    bn(x[:8])
    bn(x[8:])
    np.testing.assert_allclose(bn.norm.running_mean.numpy(), x.mean(0).numpy(), rtol=1e-5, atol=1e-5)
    bn.eval()
    assert bn(x).shape == (16, 2)
    ln = LinearHead(8, 3, norm="layernorm")
    assert ln(torch.randn(2, 5, 8)).shape == (2, 3)
    assert list(LinearHead(8, 2).state_dict()) == ["linear.weight", "linear.bias"]  # unchanged without a norm
    with pytest.raises(ConfigError, match="norm"):
        LinearHead(8, 2, norm="rms")  # type: ignore[arg-type]
