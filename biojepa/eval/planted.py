"""The planted synthetic task: does pretraining make an encoder read what a random encoder cannot?

:func:`probe_planted` generates fresh labelled records with :func:`biojepa.data.synthetic.make_synthetic`
(seeds far from any recipe's pretraining seed), embeds them with a frozen encoder (mean-pooled tokens, eval
mode, no grad), fits a standardised logistic regression on a train set and reports accuracy on a separate
test set, with the chance rate and its one-sided binomial 95 % bound. :func:`compare_with_random` does the
same for a pretrained encoder and for random-init encoders of the same architecture::

    from biojepa.eval.planted import compare_with_random

    res = compare_with_random("runs/demo/model", n_random_seeds=3)
    res["pretrained"]["accuracy"], [r["accuracy"] for r in res["random_init"]], res["chance_bound"]

The task is designed so that a random encoder stays near chance (docs/synthetic.md).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from biojepa.errors import ConfigError

__all__ = ["PROBE_SEED_BASE", "compare_with_random", "embed_mean", "planted_data", "probe_planted"]

#: Probe data seeds are ``PROBE_SEED_BASE + 2 * seed`` (train) and ``+ 1`` (test), far from the small
#: seeds recipes pretrain on (``recipes/synthetic/tiny.yaml`` uses seed 0).
PROBE_SEED_BASE = 10_000
_RESERVED = ("n_records", "seed")


def _spec_fields() -> tuple[str, ...]:
    from biojepa.data.synthetic import SyntheticSpec

    return tuple(f.name for f in dataclasses.fields(SyntheticSpec))


def planted_data(
    encoder: Any = None,
    *,
    n_train: int = 600,
    n_test: int = 600,
    seed: int = 0,
    spec_overrides: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Train and test records of the planted task, shaped for ``encoder``.

    Args:
        encoder: a model with a ``spec`` (its signal contract gives the channel count, window and rate);
            None or a model without a spec uses the :class:`~biojepa.data.synthetic.SyntheticSpec` defaults.
        n_train: training records (>= 2).
        n_test: test records (>= 1).
        seed: probe seed (>= 0): data seeds ``PROBE_SEED_BASE + 2 * seed`` and ``+ 1``.
        spec_overrides: other :class:`~biojepa.data.synthetic.SyntheticSpec` fields (``noise``,
            ``amplitude``, ``n_classes``, ...); ``n_records`` and ``seed`` are set here.

    Returns:
        ``(x_train (N, C, T), y_train (N,), x_test (M, C, T), y_test (M,), info)`` with ``info`` holding
        ``train_seed``, ``test_seed`` and ``n_classes``.

    Raises:
        ConfigError: invalid sizes or seed, unknown or reserved overrides, or an invalid spec.
    """
    from biojepa.data.synthetic import SyntheticSpec, make_synthetic

    for name, value, lo in (("n_train", n_train, 2), ("n_test", n_test, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise ConfigError(f"planted task: {name} must be an integer >= {lo}, found {value!r}")
    overrides = dict(spec_overrides or {})
    reserved = sorted(set(overrides) & set(_RESERVED))
    if reserved:
        raise ConfigError(
            f"planted task: spec_overrides may not set {reserved}; use n_train / n_test / seed instead"
        )
    unknown = sorted(set(overrides) - set(_spec_fields()))
    if unknown:
        raise ConfigError(
            f"planted task: unknown SyntheticSpec field(s) {unknown}; valid: {', '.join(_spec_fields())}"
        )
    base: dict[str, Any] = {}
    signal = getattr(getattr(encoder, "spec", None), "signal", None)
    if signal is not None:
        base = {"n_channels": len(signal.channels), "n_times": int(signal.n_times)}
        if signal.sfreq is not None:
            base["sfreq"] = float(signal.sfreq)
    base.update(overrides)
    train_seed = PROBE_SEED_BASE + 2 * seed
    test_seed = train_seed + 1
    spec_tr = SyntheticSpec(n_records=n_train, seed=train_seed, **base)
    spec_te = SyntheticSpec(n_records=n_test, seed=test_seed, **base)
    x_tr, y_tr = make_synthetic(spec_tr)  # (N, C, T), (N,)
    x_te, y_te = make_synthetic(spec_te)  # (M, C, T), (M,)
    info = {"train_seed": train_seed, "test_seed": test_seed, "n_classes": spec_tr.n_classes}
    return x_tr, y_tr, x_te, y_te, info


def embed_mean(encoder: Any, x: np.ndarray, *, batch_size: int = 200) -> np.ndarray:
    """Mean-pooled token features of a frozen encoder: ``(N, C, T) -> (N, D)`` float64.

    Runs in eval mode under ``torch.inference_mode`` on the encoder's device and restores the encoder's
    train/eval mode afterwards.
    """
    import torch

    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, found {batch_size}")
    try:
        device = next(encoder.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    was_training = encoder.training
    encoder.eval()
    out = []
    try:
        with torch.inference_mode():
            for lo in range(0, len(x), batch_size):
                xb = torch.from_numpy(np.ascontiguousarray(x[lo : lo + batch_size], dtype=np.float32))
                tokens = encoder(xb.to(device))  # (B, N, D)
                out.append(tokens.float().mean(dim=1).cpu().numpy())  # (B, D)
    finally:
        encoder.train(was_training)
    return np.concatenate(out, axis=0).astype(np.float64)  # (N, D)


def _probe_accuracy(f_tr: np.ndarray, y_tr: np.ndarray, f_te: np.ndarray, y_te: np.ndarray) -> float:
    """Accuracy of a standardised multinomial logistic regression fitted on the train features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if not (np.isfinite(f_tr).all() and np.isfinite(f_te).all()):
        raise ConfigError("the encoder produced non-finite features; check its weights")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))
    clf.fit(f_tr, y_tr)
    return float((clf.predict(f_te) == y_te).mean())


def _chance(y_te: np.ndarray) -> tuple[float, float]:
    from biojepa.eval.metrics import binomial_chance_bound

    p = float(np.bincount(y_te).max() / len(y_te))  # majority-class rate (1 / K when balanced)
    return p, binomial_chance_bound(len(y_te), p)


def probe_planted(
    encoder: Any,
    *,
    n_train: int = 600,
    n_test: int = 600,
    seed: int = 0,
    spec_overrides: Mapping[str, Any] | None = None,
    batch_size: int = 200,
) -> dict[str, Any]:
    """Linear-probe accuracy of a frozen encoder on the planted synthetic task.

    Args:
        encoder: an ``nn.Module`` mapping ``(B, C, T)`` to tokens ``(B, N, D)``, ideally with a ``spec``
            (``biojepa.load`` / ``create_model``) whose signal contract shapes the data.
        n_train: training records of the probe.
        n_test: test records.
        seed: probe seed (the data seeds are ``PROBE_SEED_BASE + 2 * seed`` and ``+ 1``).
        spec_overrides: other :class:`~biojepa.data.synthetic.SyntheticSpec` fields.
        batch_size: records per forward pass.

    Returns:
        ``{accuracy, n_train, n_test, n_classes, chance, chance_bound, train_seed, test_seed}``; ``chance`` is
        the majority-class rate of the test set and ``chance_bound`` the accuracy a chance classifier exceeds
        with probability <= 5 % (:func:`~biojepa.eval.metrics.binomial_chance_bound`).

    Raises:
        ConfigError: see :func:`planted_data`.
    """
    x_tr, y_tr, x_te, y_te, info = planted_data(
        encoder, n_train=n_train, n_test=n_test, seed=seed, spec_overrides=spec_overrides
    )
    f_tr = embed_mean(encoder, x_tr, batch_size=batch_size)  # (N, D)
    f_te = embed_mean(encoder, x_te, batch_size=batch_size)  # (M, D)
    acc = _probe_accuracy(f_tr, y_tr, f_te, y_te)
    chance, bound = _chance(y_te)
    return {
        "accuracy": acc,
        "n_train": n_train,
        "n_test": n_test,
        "n_classes": info["n_classes"],
        "chance": chance,
        "chance_bound": bound,
        "train_seed": info["train_seed"],
        "test_seed": info["test_seed"],
    }


def compare_with_random(
    model_dir_or_encoder: str | os.PathLike[str] | Any,
    n_random_seeds: int = 3,
    *,
    init_seeds: Sequence[int] | None = None,
    n_train: int = 600,
    n_test: int = 600,
    seed: int = 0,
    spec_overrides: Mapping[str, Any] | None = None,
    batch_size: int = 200,
) -> dict[str, Any]:
    """Probe a pretrained encoder and random-init encoders of the same architecture on the same data.

    Args:
        model_dir_or_encoder: a model directory (loaded with :func:`biojepa.io.load`) or an encoder with a
            ``spec``.
        n_random_seeds: number of random-init encoders (init seeds ``0 .. n - 1``).
        init_seeds: explicit init seeds (overrides ``n_random_seeds``).
        n_train: training records of the probe.
        n_test: test records.
        seed: probe seed (see :func:`probe_planted`).
        spec_overrides: other :class:`~biojepa.data.synthetic.SyntheticSpec` fields.
        batch_size: records per forward pass.

    Returns:
        ``{model, pretrained: row, random_init: [row, ...], random_max, random_mean, margin, chance,
        chance_bound, n_train, n_test, train_seed, test_seed}`` where a row is ``{variant, init_seed,
        accuracy}`` and ``margin = pretrained accuracy - random_max``.

    Raises:
        ConfigError: no random seeds, an encoder without a ``spec``, or invalid probe settings.
        CheckpointError: the model directory cannot be loaded.
    """
    import torch

    from biojepa.models import build_encoder

    if isinstance(model_dir_or_encoder, (str, os.PathLike)):
        from biojepa.io import load

        encoder = load(model_dir_or_encoder)
    else:
        encoder = model_dir_or_encoder
    spec = getattr(encoder, "spec", None)
    if spec is None:
        raise ConfigError(
            "compare_with_random needs an encoder with a spec (from biojepa.load or biojepa.create_model) to "
            f"build random-init copies; got {type(encoder).__name__} without one"
        )
    seeds = list(init_seeds) if init_seeds is not None else list(range(n_random_seeds))
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ConfigError(f"compare_with_random needs at least one integer init seed >= 0, found {seeds!r}")

    x_tr, y_tr, x_te, y_te, info = planted_data(
        encoder, n_train=n_train, n_test=n_test, seed=seed, spec_overrides=spec_overrides
    )

    def accuracy(enc: Any) -> float:
        f_tr = embed_mean(enc, x_tr, batch_size=batch_size)  # (N, D)
        f_te = embed_mean(enc, x_te, batch_size=batch_size)  # (M, D)
        return _probe_accuracy(f_tr, y_tr, f_te, y_te)

    try:
        device = next(encoder.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    pretrained = {"variant": "pretrained", "init_seed": None, "accuracy": accuracy(encoder)}
    rows = []
    for s in seeds:
        with torch.random.fork_rng(devices=[]):  # leave the caller's RNG state untouched
            torch.manual_seed(s)
            rand = build_encoder(spec)
        rows.append({"variant": "random_init", "init_seed": s, "accuracy": accuracy(rand.to(device))})
    accs = [r["accuracy"] for r in rows]
    chance, bound = _chance(y_te)
    return {
        "model": spec.name,
        "pretrained": pretrained,
        "random_init": rows,
        "random_max": max(accs),
        "random_mean": float(np.mean(accs)),
        "margin": pretrained["accuracy"] - max(accs),
        "chance": chance,
        "chance_bound": bound,
        "n_train": n_train,
        "n_test": n_test,
        "train_seed": info["train_seed"],
        "test_seed": info["test_seed"],
    }
