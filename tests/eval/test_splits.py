"""Within-subject k-fold and leave-one-subject-out splits: disjointness, coverage, stratification, seeds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biojepa.errors import ConfigError, DataError
from biojepa.eval.splits import Split, leave_one_subject_out, make_splits, within_subject_kfold


def _design(per_class: list[list[int]], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled trials: ``per_class[s][c]`` trials of class ``c`` for subject ``s`` (groups are ``s + 1``)."""
    y, g = [], []
    for s, counts in enumerate(per_class):
        for c, n in enumerate(counts):
            y += [c] * n
            g += [s + 1] * n
    perm = np.random.default_rng(seed).permutation(len(y))
    return np.asarray(y)[perm], np.asarray(g)[perm]


def _assert_disjoint(sp: Split, n: int) -> None:
    parts = [sp.train, sp.val, sp.test]
    for p in parts:
        assert (
            p.dtype == np.int64 and np.all(np.diff(p) > 0) and (p.size == 0 or (p.min() >= 0 and p.max() < n))
        )
    assert np.intersect1d(sp.train, sp.val).size == 0
    assert np.intersect1d(sp.train, sp.test).size == 0
    assert np.intersect1d(sp.val, sp.test).size == 0


def test_within_subject_kfold_covers_each_subject_once_per_trial() -> None:
    y, g = _design([[10, 15], [12, 8]])
    splits = within_subject_kfold(y, g, k=4, seed=3, val_fraction=0.25)
    assert [s.name for s in splits] == [f"subject{s}/fold{f}" for s in (1, 2) for f in range(4)]
    assert [s.test_group for s in splits] == ["1"] * 4 + ["2"] * 4
    for subject in (1, 2):
        mine = [s for s in splits if s.test_group == str(subject)]
        tested = np.concatenate([s.test for s in mine])
        assert np.array_equal(np.sort(tested), np.flatnonzero(g == subject))  # each trial tested exactly once
        for s in mine:
            _assert_disjoint(s, y.size)
            everything = np.concatenate([s.train, s.val, s.test])
            assert np.all(g[everything] == subject)  # one subject per split
            assert np.array_equal(np.sort(everything), np.flatnonzero(g == subject))


def test_within_subject_kfold_is_stratified() -> None:
    y, g = _design([[10, 20]])
    for s in within_subject_kfold(y, g, k=5, seed=1, val_fraction=0.2):
        assert np.sum(y[s.test] == 0) == 2 and np.sum(y[s.test] == 1) == 4  # 10/5 and 20/5 per fold
        # 8 and 16 training trials of each class -> round(0.2 * n) of each in validation
        assert np.sum(y[s.val] == 0) == 2 and np.sum(y[s.val] == 1) == 3
        assert s.train.size == 24 - 5


def test_within_subject_kfold_is_deterministic_per_seed() -> None:
    y, g = _design([[10, 10], [10, 10]])
    a = within_subject_kfold(y, g, k=5, seed=7)
    assert a == within_subject_kfold(y, g, k=5, seed=7)
    assert a != within_subject_kfold(y, g, k=5, seed=8)


def test_within_subject_kfold_without_validation() -> None:
    y, g = _design([[6, 6]])
    for s in within_subject_kfold(y, g, k=3, val_fraction=0.0):
        assert s.val.size == 0 and s.train.size + s.test.size == 12


def test_within_subject_kfold_rejects_too_few_trials_per_class() -> None:
    y, g = _design([[10, 10], [10, 3]])
    with pytest.raises(ConfigError, match=r"subject 2.* 3 trial\(s\) of class 1.*--folds \(at most 3\)"):
        within_subject_kfold(y, g, k=5)
    y, g = _design([[10, 10], [10, 0]])  # subject 2 lacks class 1 entirely
    with pytest.raises(ConfigError, match="drop this subject"):
        within_subject_kfold(y, g, k=2)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"k": 1}, ConfigError, "k >= 2"),
        ({"k": 2.5}, ConfigError, "k >= 2"),
        ({"val_fraction": 1.0}, ConfigError, "val_fraction"),
        ({"val_fraction": -0.1}, ConfigError, "val_fraction"),
    ],
)
def test_within_subject_kfold_rejects_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    y, g = _design([[6, 6]])
    with pytest.raises(error, match=match):
        within_subject_kfold(y, g, **kwargs)


def test_splitters_reject_bad_arrays() -> None:
    with pytest.raises(DataError, match="same trials"):
        within_subject_kfold(np.zeros(10), np.zeros(9))
    with pytest.raises(DataError, match="1-D"):
        leave_one_subject_out(np.zeros((10, 2)), np.zeros(10))
    with pytest.raises(DataError, match="empty"):
        leave_one_subject_out(np.zeros(0), np.zeros(0))
    with pytest.raises(DataError, match="groups holds NaN"):
        leave_one_subject_out(np.zeros(3), np.array([1.0, np.nan, 2.0]))


def test_loso_validates_on_whole_other_subjects() -> None:
    y, g = _design([[5, 5]] * 6)
    splits = leave_one_subject_out(y, g, seed=0, val_fraction=0.2)
    assert [s.name for s in splits] == [f"loso:subject{i}" for i in range(1, 7)]
    for s in splits:
        _assert_disjoint(s, y.size)
        test_group = int(s.test_group)
        assert np.array_equal(s.test, np.flatnonzero(g == test_group))
        assert set(g[s.val]) == {set(g[s.val]).pop()} and test_group not in g[s.val]  # one whole subject
        val_subject = g[s.val][0]
        assert np.array_equal(s.val, np.flatnonzero(g == val_subject))
        assert set(g[s.train]).isdisjoint({test_group, val_subject})
        assert s.train.size + s.val.size + s.test.size == y.size


def test_loso_with_two_subjects_carves_a_stratified_fraction() -> None:
    y, g = _design([[10, 10], [10, 10]])
    splits = leave_one_subject_out(y, g, val_fraction=0.2)
    for s in splits:
        _assert_disjoint(s, y.size)
        assert np.sum(y[s.val] == 0) == 2 and np.sum(y[s.val] == 1) == 2
        assert set(g[s.val]) | set(g[s.train]) == {3 - int(s.test_group)}
    y4, g4 = _design([[5, 5]] * 4)
    for s in leave_one_subject_out(y4, g4, val_fraction=0.5, val_by_group=False):
        assert np.sum(y4[s.val] == 0) == 8 and np.sum(y4[s.val] == 1) == 8  # round(0.5 * 15) of each class
        assert int(s.test_group) not in set(g4[s.val]) | set(g4[s.train])


def test_loso_needs_two_subjects_and_is_deterministic() -> None:
    y, g = _design([[5, 5]])
    with pytest.raises(ConfigError, match="at least 2 subjects"):
        leave_one_subject_out(y, g)
    y, g = _design([[5, 5]] * 8)
    a = leave_one_subject_out(y, g, seed=1)
    assert a == leave_one_subject_out(y, g, seed=1)
    assert a != leave_one_subject_out(y, g, seed=2)
    assert all(s.val.size == 0 for s in leave_one_subject_out(y, g, val_fraction=0.0))


def test_make_splits_dispatches_and_rejects_unknown_kinds() -> None:
    y, g = _design([[6, 6], [6, 6], [6, 6]])
    assert make_splits("within", y, g, k=3, seed=0, val_fraction=0.2) == within_subject_kfold(y, g, k=3)
    assert make_splits("loso", y, g, k=3, seed=0, val_fraction=0.2) == leave_one_subject_out(y, g)
    with pytest.raises(ConfigError, match="unknown split kind 'kfold'.*within, loso"):
        make_splits("kfold", y, g, k=3, seed=0, val_fraction=0.2)


def test_split_is_read_only_and_string_ids_work() -> None:
    y = np.array(["left", "right"] * 6)
    g = np.array(["S01"] * 6 + ["S02"] * 6)
    splits = within_subject_kfold(y, g, k=3)
    assert splits[0].name == "S01/fold0" and splits[0].test_group == "S01"
    with pytest.raises(ValueError, match="read-only"):
        splits[0].train[0] = 5
    assert leave_one_subject_out(y, g)[1].name == "loso:S02"


@st.composite
def _designs(draw: st.DrawFn, min_subjects: int) -> tuple[list[list[int]], int]:
    n_sub = draw(st.integers(min_subjects, min_subjects + 3))
    n_cls = draw(st.integers(2, 3))
    k = draw(st.integers(2, 4))
    counts = [[draw(st.integers(k, k + 6)) for _ in range(n_cls)] for _ in range(n_sub)]
    return counts, k


@settings(max_examples=40, deadline=None)
@given(design=_designs(1), seed=st.integers(0, 1000), frac=st.sampled_from([0.0, 0.1, 0.25, 0.5]))
def test_within_properties(design: tuple[list[list[int]], int], seed: int, frac: float) -> None:
    counts, k = design
    y, g = _design(counts, seed)
    splits = within_subject_kfold(y, g, k=k, seed=seed, val_fraction=frac)
    assert len(splits) == len(counts) * k
    tested = np.sort(np.concatenate([s.test for s in splits]))
    assert np.array_equal(tested, np.arange(y.size))  # every trial tested exactly once
    for s in splits:
        _assert_disjoint(s, y.size)
        assert len(set(g[np.concatenate([s.train, s.val, s.test])])) == 1
        subject = int(s.test_group)
        for c, n_c in enumerate(counts[subject - 1]):
            assert np.sum(y[s.test] == c) in (n_c // k, -(-n_c // k))  # stratified folds
            n_val = np.sum(y[s.val] == c)
            n_fit = n_val + np.sum(y[s.train] == c)
            assert np.sum(y[s.train] == c) >= 1
            if frac > 0:
                assert n_val == min(n_fit - 1, max(1, int(np.floor(frac * n_fit + 0.5))))
            else:
                assert n_val == 0


@settings(max_examples=40, deadline=None)
@given(
    design=_designs(2), seed=st.integers(0, 1000), by_group=st.booleans(), frac=st.sampled_from([0.1, 0.3])
)
def test_loso_properties(design: tuple[list[list[int]], int], seed: int, by_group: bool, frac: float) -> None:
    counts, _ = design
    y, g = _design(counts, seed)
    splits = leave_one_subject_out(y, g, seed=seed, val_fraction=frac, val_by_group=by_group)
    assert len(splits) == len(counts)
    for s in splits:
        _assert_disjoint(s, y.size)
        test_groups = set(g[s.test].tolist())
        assert test_groups == {int(s.test_group)}
        assert test_groups.isdisjoint(g[np.concatenate([s.train, s.val])].tolist())  # no subject leaks
        assert s.train.size + s.val.size + s.test.size == y.size and s.train.size > 0 and s.val.size > 0
        if by_group and len(counts) >= 3:
            assert set(g[s.val].tolist()).isdisjoint(g[s.train].tolist())  # whole subjects in validation
