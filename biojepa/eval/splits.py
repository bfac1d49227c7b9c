"""Train / validation / test splits of trials grouped by subject (within-subject k-fold and leave-one-out).

Modality-agnostic and pure: every function takes per-trial labels ``y`` ``(N,)`` and per-trial group ids
``groups`` ``(N,)`` (the subject) and returns :class:`Split` objects holding int64 indices into them.

Guarantees, for every split:

* ``train``, ``val`` and ``test`` are disjoint, sorted and cover only valid trial indices;
* the same ``seed`` gives the same splits;
* within-subject: each split holds the trials of one subject only, every trial of a subject is tested exactly
  once over that subject's folds, and class proportions are kept in the test folds (stratified k-fold) and
  in the validation part carved out of each fold's training part;
* leave-one-subject-out: the test subject's trials appear in no training or validation set, and with
  ``val_by_group`` (and >= 3 subjects) validation is made of whole other subjects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from biojepa.errors import ConfigError, DataError

__all__ = ["SPLIT_KINDS", "Split", "leave_one_subject_out", "make_splits", "within_subject_kfold"]

#: the split kinds :func:`make_splits` understands
SPLIT_KINDS = ("within", "loso")


def _frozen_idx(a: Any) -> np.ndarray:
    arr = np.array(a, dtype=np.int64).reshape(-1)  # (n,)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Split:
    """One train / validation / test partition of the trials.

    Attributes:
        name: readable id, e.g. ``"subject1/fold2"`` (within-subject) or ``"loso:subject4"``.
        train: int64 indices of the training trials (read-only).
        val: int64 indices of the validation trials (read-only; empty when ``val_fraction`` is 0).
        test: int64 indices of the test trials (read-only).
        test_group: the group (subject) id of the test trials as a string, ``None`` if not one group.

    Two splits compare equal when their names, groups and index arrays are equal.
    """

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    test_group: str | None = None

    def __post_init__(self) -> None:
        for part in ("train", "val", "test"):
            object.__setattr__(self, part, _frozen_idx(getattr(self, part)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Split):
            return NotImplemented
        return (
            self.name == other.name
            and self.test_group == other.test_group
            and all(np.array_equal(getattr(self, p), getattr(other, p)) for p in ("train", "val", "test"))
        )

    __hash__ = None  # type: ignore[assignment]  # holds arrays


# -- validation and helpers ---------------------------------------------------------------------------
def _check_inputs(y: Any, groups: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(class codes (N,), group array (N,))`` after shape checks."""
    ya = np.asarray(y)
    ga = np.asarray(groups)
    if ya.ndim != 1 or ga.ndim != 1:
        raise DataError(
            f"y and groups must be 1-D per-trial arrays, got shapes {ya.shape} and {ga.shape}; pass one "
            "label and one subject id per trial"
        )
    if ya.shape[0] != ga.shape[0]:
        raise DataError(
            f"y has {ya.shape[0]} trials but groups has {ga.shape[0]}; they must describe the same trials"
        )
    if ya.shape[0] == 0:
        raise DataError("splitting needs at least one trial, got empty y / groups")
    if ga.dtype.kind == "f" and not np.all(np.isfinite(ga)):
        raise DataError("groups holds NaN/inf; every trial needs a subject id")
    if ya.dtype.kind == "f" and not np.all(np.isfinite(ya)):
        raise DataError("y holds NaN/inf; every trial needs a class label")
    _, codes = np.unique(ya, return_inverse=True)
    return codes.reshape(-1).astype(np.int64), ga  # (N,)


def _check_fraction(val_fraction: float) -> float:
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ConfigError(
            f"val_fraction must be in [0, 1), got {val_fraction}; use e.g. 0.2 (or 0 for no validation set)"
        )
    return float(val_fraction)


def _group_label(g: Any) -> str:
    """``"subject4"`` for an integer id, the id itself otherwise."""
    if isinstance(g, (int, np.integer)) and not isinstance(g, bool):
        return f"subject{int(g)}"
    return str(g)


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), *keys]))


def _stratified_carve(
    idx: np.ndarray, codes: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``idx`` into ``(keep, carved)`` with ``round(fraction * n_c)`` trials of each class carved.

    Each class present keeps at least one trial, and gives at least one to the carved part when it has two
    or more trials and ``fraction > 0``.
    """
    if fraction <= 0.0 or idx.size == 0:
        return np.sort(idx), np.zeros(0, dtype=np.int64)
    carved: list[np.ndarray] = []
    for c in np.unique(codes[idx]):
        members = idx[codes[idx] == c]  # (n_c,)
        n_c = members.size
        n_val = min(n_c - 1, max(1, int(np.floor(fraction * n_c + 0.5))))
        if n_val > 0:
            carved.append(rng.permutation(members)[:n_val])
    val = np.sort(np.concatenate(carved)) if carved else np.zeros(0, dtype=np.int64)
    keep = np.setdiff1d(idx, val)  # sorted
    return keep, val


# -- within-subject k-fold ----------------------------------------------------------------------------
def within_subject_kfold(
    y: Any, groups: Any, k: int = 5, seed: int = 0, val_fraction: float = 0.2
) -> list[Split]:
    """Stratified k-fold cross-validation run separately on each subject's trials.

    For each subject (in sorted order of the group ids) the subject's trials are split into ``k`` stratified
    folds (shuffled, seeded); each fold is the test set once, and a stratified ``val_fraction`` of the
    remaining trials of that subject becomes the validation set, the rest the training set.

    Args:
        y: ``(N,)`` class labels (any sortable values).
        groups: ``(N,)`` subject ids.
        k: number of folds per subject (>= 2).
        seed: seed of the fold shuffling and the validation carve.
        val_fraction: fraction of each fold's training part used for validation, in ``[0, 1)``.

    Returns:
        ``n_subjects * k`` splits named ``"<subject>/fold<i>"`` (``i`` from 0), subject by subject.

    Raises:
        DataError: ``y`` / ``groups`` are not matching 1-D arrays.
        ConfigError: ``k < 2``, ``val_fraction`` outside ``[0, 1)``, or a subject has fewer than ``k`` trials
            of some class of ``y``.
    """
    from sklearn.model_selection import StratifiedKFold

    codes, ga = _check_inputs(y, groups)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ConfigError(
            f"within-subject k-fold needs an integer k >= 2 folds, got {k!r}; use e.g. --folds 5"
        )
    frac = _check_fraction(val_fraction)
    classes = np.unique(codes)
    labels = np.unique(np.asarray(y))
    splits: list[Split] = []
    for gi, g in enumerate(np.unique(ga)):
        idx = np.flatnonzero(ga == g)  # (n_g,)
        counts = np.array([np.sum(codes[idx] == c) for c in classes])  # (n_classes,)
        if counts.min() < k:
            worst = int(np.argmin(counts))
            least = int(counts[worst])
            fix = f"use a smaller --folds (at most {least})" if least >= 2 else "drop this subject"
            raise ConfigError(
                f"subject {g.item()!r} has only {least} trial(s) of class {labels[worst].item()!r}, fewer "
                f"than the {k} folds of within-subject cross-validation (each fold needs one trial of every "
                f"class); {fix}"
            )
        state = int(np.random.SeedSequence([int(seed), gi]).generate_state(1)[0])
        skf = StratifiedKFold(n_splits=int(k), shuffle=True, random_state=state)
        label = _group_label(g)
        for fold, (tr_local, te_local) in enumerate(skf.split(np.zeros(idx.size), codes[idx])):
            train, val = _stratified_carve(idx[tr_local], codes, frac, _rng(seed, gi, fold))
            splits.append(
                Split(
                    name=f"{label}/fold{fold}",
                    train=train,
                    val=val,
                    test=np.sort(idx[te_local]),
                    test_group=str(g),
                )
            )
    return splits


# -- leave one subject out ----------------------------------------------------------------------------
def leave_one_subject_out(
    y: Any, groups: Any, seed: int = 0, val_fraction: float = 0.2, val_by_group: bool = True
) -> list[Split]:
    """One split per subject: that subject's trials are the test set, the others train (and validate).

    Validation:

    * ``val_by_group`` and >= 3 subjects: ``max(1, round(val_fraction * (n_subjects - 1)))`` whole other
      subjects, drawn with the seed, and never all of them (at least one subject stays for training);
    * otherwise a stratified ``val_fraction`` of the training trials (so a training subject may then have
      trials in both train and val, never in test);
    * ``val_fraction == 0``: no validation set.

    Args:
        y: ``(N,)`` class labels.
        groups: ``(N,)`` subject ids.
        seed: seed of the validation choice.
        val_fraction: see above, in ``[0, 1)``.
        val_by_group: validate on whole held-out subjects when there are enough of them.

    Returns:
        ``n_subjects`` splits named ``"loso:<subject>"`` in sorted order of the group ids.

    Raises:
        DataError: ``y`` / ``groups`` are not matching 1-D arrays.
        ConfigError: fewer than 2 subjects, or ``val_fraction`` outside ``[0, 1)``.
    """
    codes, ga = _check_inputs(y, groups)
    frac = _check_fraction(val_fraction)
    uniq = np.unique(ga)
    if uniq.size < 2:
        raise ConfigError(
            f"leave-one-subject-out needs at least 2 subjects, found {uniq.size} ({uniq.tolist()!r}); use "
            "the within-subject split (--split within) or add subjects"
        )
    splits: list[Split] = []
    for gi, g in enumerate(uniq):
        rng = _rng(seed, gi)
        test = np.flatnonzero(ga == g)  # (n_g,)
        others = uniq[uniq != g]  # (n_subjects - 1,)
        if frac == 0.0:
            train, val = np.flatnonzero(ga != g), np.zeros(0, dtype=np.int64)
        elif val_by_group and uniq.size >= 3:
            n_val = min(others.size - 1, max(1, int(np.floor(frac * others.size + 0.5))))
            val_groups = rng.choice(others, size=n_val, replace=False)
            in_val = np.isin(ga, val_groups)  # (N,)
            val = np.flatnonzero(in_val)
            train = np.flatnonzero(~in_val & (ga != g))
        else:
            train, val = _stratified_carve(np.flatnonzero(ga != g), codes, frac, rng)
        splits.append(
            Split(name=f"loso:{_group_label(g)}", train=train, val=val, test=test, test_group=str(g))
        )
    return splits


# -- dispatch -----------------------------------------------------------------------------------------
def make_splits(
    kind: Literal["within", "loso"] | str,
    y: Any,
    groups: Any,
    *,
    k: int = 5,
    seed: int = 0,
    val_fraction: float = 0.2,
    val_by_group: bool = True,
) -> list[Split]:
    """Splits of the given ``kind``: ``"within"`` (:func:`within_subject_kfold`, uses ``k``) or ``"loso"``
    (:func:`leave_one_subject_out`, uses ``val_by_group``).

    Raises:
        ConfigError: unknown ``kind`` (the message lists the valid ones), or an error of the chosen splitter.
    """
    if kind == "within":
        return within_subject_kfold(y, groups, k=k, seed=seed, val_fraction=val_fraction)
    if kind == "loso":
        return leave_one_subject_out(
            y, groups, seed=seed, val_fraction=val_fraction, val_by_group=val_by_group
        )
    raise ConfigError(
        f"unknown split kind {kind!r}; expected one of {', '.join(SPLIT_KINDS)} "
        "(within = per-subject k-fold, loso = leave one subject out)"
    )
