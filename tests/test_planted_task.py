"""The planted synthetic task: JEPA pretraining makes the encoder read what a random encoder cannot.

The slow test pretrains the demo recipe (``recipes/synthetic/tiny.yaml``) through the library and compares
linear-probe accuracy of the exported encoder with random-init encoders of the same architecture
(:func:`biojepa.eval.planted.compare_with_random`). The task is designed so a random encoder stays near
chance (docs/synthetic.md). Measured over pretraining seeds 0-6 (2 CPU cores, torch 2.13 CPU): pretrained
0.978-1.000, random init (seeds 0-2) 0.258-0.277 on this probe set, chance bound 0.280. The asserted margin
(0.40) leaves ~0.3 of slack below the worst pretrained seed and still fails a run that did not learn.

The fast tests check the probe helpers on random-init encoders only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import biojepa
from biojepa.errors import ConfigError
from biojepa.eval.planted import PROBE_SEED_BASE, compare_with_random, embed_mean, planted_data, probe_planted

MARGIN = 0.40  # pretrained accuracy must beat the best random-init encoder by this much (absolute)
NEAR_CHANCE = 0.10  # random-init accuracy stays within this of the chance rate


def _tiny_random(seed: int = 0) -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return biojepa.create_model("synthetic_vit_tiny", encoder={"depth": 1})


def test_planted_data_shapes_seeds_and_overrides() -> None:
    enc = _tiny_random()
    x_tr, y_tr, x_te, y_te, info = planted_data(
        enc, n_train=8, n_test=6, seed=2, spec_overrides={"n_classes": 2, "noise": 0.1}
    )
    assert x_tr.shape == (8, 4, 1024) and x_te.shape == (6, 4, 1024)  # the model's window and channels
    assert set(np.unique(y_tr)) == {0, 1} and y_te.shape == (6,)
    assert info == {"train_seed": PROBE_SEED_BASE + 4, "test_seed": PROBE_SEED_BASE + 5, "n_classes": 2}
    assert not np.array_equal(x_tr[:6], x_te)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"spec_overrides": {"seed": 3}}, r"may not set \['seed'\]"),
        ({"spec_overrides": {"n_records": 3}}, r"may not set \['n_records'\]"),
        ({"spec_overrides": {"colour": 1}}, r"unknown SyntheticSpec field\(s\) \['colour'\]"),
        ({"spec_overrides": {"noise": -1.0}}, "noise"),
        ({"n_train": 1}, "n_train"),
        ({"seed": -1}, "seed"),
    ],
)
def test_planted_data_rejects_bad_settings(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        planted_data(None, n_train=kw.pop("n_train", 4), n_test=2, **kw)  # type: ignore[arg-type]


def test_embed_mean_is_deterministic_and_restores_the_mode() -> None:
    enc = _tiny_random().train()
    x = np.random.default_rng(0).standard_normal((5, 4, 1024)).astype(np.float32)
    f1 = embed_mean(enc, x, batch_size=2)
    f2 = embed_mean(enc, x, batch_size=5)
    assert f1.shape == (5, 64) and f1.dtype == np.float64 and np.isfinite(f1).all()
    np.testing.assert_allclose(f1, f2, rtol=1e-5, atol=1e-6)  # batching does not change the features
    assert enc.training  # the caller's mode is restored


def test_probe_and_compare_report_chance_and_rows() -> None:
    enc = _tiny_random(5)
    res = probe_planted(enc, n_train=40, n_test=40, spec_overrides={"n_times": 256})
    assert set(res) == {"accuracy", "n_train", "n_test", "n_classes", "chance", "chance_bound", "train_seed",
                        "test_seed"}
    assert res["chance"] == 0.25 and 0.25 < res["chance_bound"] < 0.5 and 0.0 <= res["accuracy"] <= 1.0
    state = torch.random.get_rng_state()
    cmp = compare_with_random(enc, init_seeds=[3, 4], n_train=40, n_test=40, spec_overrides={"n_times": 256})
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's RNG is untouched
    assert cmp["pretrained"]["accuracy"] == res["accuracy"]  # same data, same encoder
    assert [r["init_seed"] for r in cmp["random_init"]] == [3, 4]
    assert cmp["random_max"] == max(r["accuracy"] for r in cmp["random_init"])
    assert cmp["margin"] == pytest.approx(cmp["pretrained"]["accuracy"] - cmp["random_max"])
    with pytest.raises(ConfigError, match="at least one integer init seed"):
        compare_with_random(enc, n_random_seeds=0)
    with pytest.raises(ConfigError, match="needs an encoder with a spec"):
        compare_with_random(torch.nn.Identity())


@pytest.mark.slow
def test_jepa_pretraining_beats_random_init_on_the_planted_task(tmp_path: Path) -> None:
    from biojepa.config import resolve_config
    from biojepa.engine.pretrain import run_pretrain

    cfg = resolve_config("synthetic/tiny", ["log.progress=none", "engine.ckpt_every=1000"])
    result = run_pretrain(cfg, tmp_path / "run")
    assert result["status"] == "ok" and result["steps"] == cfg.engine.steps
    seeds = {s.params.get("seed", 0) for s in cfg.data.sources}
    res = compare_with_random(result["model_dir"], n_random_seeds=3)
    assert not seeds & {res["train_seed"], res["test_seed"]}  # probe data is not the pretraining data

    pre = res["pretrained"]["accuracy"]
    rand = [r["accuracy"] for r in res["random_init"]]
    report = (
        f"pretrained {pre:.3f}, random init {[round(a, 3) for a in rand]}, "
        f"chance bound {res['chance_bound']:.3f}"
    )
    assert pre > res["chance_bound"], report
    assert pre > max(rand) + MARGIN, report
    assert all(a < res["chance"] + NEAR_CHANCE for a in rand), report
