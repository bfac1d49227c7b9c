"""Tests of biojepa.adapters.fmri.connectivity: FC matrices, connectivity features and group FC."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biojepa.adapters.fmri.connectivity import FISHER_CLIP, fc_features, fc_matrix, group_fc
from biojepa.errors import DataError

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)


def _records(seed: int, n: int = 3, r: int = 5, t: int = 40) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal((n, 1, t))
    return [rng.standard_normal((r, t)) + 0.7 * shared[i] for i in range(n)]  # correlated ROIs


# --- fc_matrix ---------------------------------------------------------------------------------------------


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), r=st.integers(1, 12), t=st.integers(3, 60))
def test_fc_matrix_equals_corrcoef(seed: int, r: int, t: int) -> None:
    x = np.random.default_rng(seed).standard_normal((r, t)) * 5 + 3
    fc = fc_matrix(x)
    assert fc.shape == (r, r) and fc.dtype == np.float64
    np.testing.assert_allclose(fc, np.atleast_2d(np.corrcoef(x)), rtol=0, atol=1e-12)
    assert np.array_equal(fc, fc.T)
    assert np.all(np.diag(fc) == 1.0) and np.all(np.abs(fc) <= 1.0)


def test_fc_matrix_zero_variance_rows_are_zero_not_nan() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 30))
    x[1] = 0.1  # constant (rounding leaves std ~1e-17)
    x[3] = -2.0
    fc = fc_matrix(x)
    assert np.isfinite(fc).all()
    np.testing.assert_array_equal(np.diag(fc), 1.0)
    for zero in (1, 3):
        others = [j for j in range(4) if j != zero]
        np.testing.assert_array_equal(fc[zero, others], 0.0)
        np.testing.assert_array_equal(fc[others, zero], 0.0)
    np.testing.assert_allclose(fc[0, 2], np.corrcoef(x[0], x[2])[0, 1], atol=1e-12)
    z = fc_matrix(x, fisher_z=True)
    assert np.isfinite(z).all() and z[1, 0] == 0.0 and z[1, 1] == 0.0
    np.testing.assert_array_equal(fc_matrix(x[:, :1]), np.eye(4))  # one frame: nothing varies


def test_fc_matrix_fisher_z() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 50))
    x[3] = 2 * x[0] + 1  # perfectly correlated: r = 1 would give arctanh = inf
    x[2] = -x[1]  # perfectly anti-correlated
    z = fc_matrix(x, fisher_z=True)
    assert np.isfinite(z).all() and np.array_equal(z, z.T)
    np.testing.assert_array_equal(np.diag(z), 0.0)
    cap = np.arctanh(1.0 - FISHER_CLIP)
    assert z[0, 3] == pytest.approx(cap) and z[1, 2] == pytest.approx(-cap)
    r = np.corrcoef(x)
    np.testing.assert_allclose(z[0, 1], np.arctanh(r[0, 1]), atol=1e-10)
    np.testing.assert_allclose(np.tanh(z[0, 2]), r[0, 2], atol=1e-10)


def test_fc_matrix_rejects_bad_input() -> None:
    with pytest.raises(DataError, match="2-D"):
        fc_matrix(np.zeros(5))
    x = np.zeros((3, 5))
    x[2, 1] = np.inf
    with pytest.raises(DataError, match=r"ROIs \[2\]"):
        fc_matrix(x)
    with pytest.raises(DataError, match="0 frames"):
        fc_matrix(np.zeros((3, 0)))


# --- fc_features -------------------------------------------------------------------------------------------


def test_fc_features_length_and_order() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 40))
    feats = fc_features(x)
    r = np.corrcoef(x)
    # row-major strict upper triangle: (0, 1), (0, 2), (1, 2)
    expected = np.arctanh([r[0, 1], r[0, 2], r[1, 2]])
    assert feats.shape == (3,) and feats.dtype == np.float64
    np.testing.assert_allclose(feats, expected, atol=1e-12)
    big = rng.standard_normal((116, 30))  # AAL-116: 116 * 115 / 2 = 6670 features
    f116 = fc_features(big)
    assert f116.shape == (6670,)
    iu = np.triu_indices(116, k=1)
    np.testing.assert_allclose(f116, np.arctanh(np.corrcoef(big)[iu]), atol=1e-10)
    assert fc_features(rng.standard_normal((1, 10))).shape == (0,)


# --- group_fc ----------------------------------------------------------------------------------------------


def test_group_fc_is_the_tanh_of_the_mean_fisher_z() -> None:
    recs = _records(0)
    fc, counts = group_fc(recs)
    mean_z = np.mean(
        [np.arctanh(np.clip(np.corrcoef(r), -1 + FISHER_CLIP, 1 - FISHER_CLIP)) for r in recs], axis=0
    )
    expected = np.tanh(mean_z)
    np.fill_diagonal(expected, 1.0)
    np.testing.assert_allclose(fc, expected, atol=1e-12)
    assert fc.dtype == np.float64 and counts.dtype == np.int64
    np.testing.assert_array_equal(counts, np.full((5, 5), 3))
    assert np.array_equal(fc, fc.T)
    # the mean of z is not the mean of r: the two differ visibly here
    assert not np.allclose(fc, np.mean([np.corrcoef(r) for r in recs], axis=0), atol=1e-6)
    # a one-shot generator gives the same
    fc_gen, counts_gen = group_fc(r for r in recs)
    np.testing.assert_array_equal(fc_gen, fc)
    np.testing.assert_array_equal(counts_gen, counts)


def test_group_fc_missing_pairs_are_left_out() -> None:
    recs = _records(1)
    recs[0][2] = 4.0  # ROI 2 is constant in record 0: its pairs count for records 1 and 2 only
    fc, counts = group_fc(recs)
    assert np.isfinite(fc).all() and np.array_equal(fc, fc.T)
    expected_counts = np.full((5, 5), 3)
    expected_counts[2, :] = 2
    expected_counts[:, 2] = 2
    np.testing.assert_array_equal(counts, expected_counts)
    z = [np.arctanh(np.corrcoef(r[2], r[4])[0, 1]) for r in recs[1:]]
    assert fc[2, 4] == pytest.approx(np.tanh(np.mean(z)), abs=1e-12)  # not pulled towards 0 by record 0
    z_all = [np.arctanh(np.corrcoef(r[0], r[1])[0, 1]) for r in recs]
    assert fc[0, 1] == pytest.approx(np.tanh(np.mean(z_all)), abs=1e-12)  # other pairs use all records
    assert fc[2, 2] == 1.0


def test_group_fc_errors_name_the_rois() -> None:
    recs = _records(2)
    for r in recs:
        r[3] = 1.0  # ROI 3 never varies
    with pytest.raises(DataError, match=r"ROIs \[3\] have zero variance in every record"):
        group_fc(recs)
    recs = _records(3, n=2)
    recs[0][1] = 0.0  # ROI 1 only varies in record 1, ROI 4 only in record 0: pair (1, 4) is never seen
    recs[1][4] = 0.0
    with pytest.raises(DataError, match=r"1 ROI pairs \[\(1, 4\)\] are never observed together"):
        group_fc(recs)
    with pytest.raises(DataError, match="no records"):
        group_fc([])
    with pytest.raises(DataError, match="record 1 has 4 ROIs but record 0 has 5"):
        group_fc([np.zeros((5, 10)), np.zeros((4, 10))])
    bad = _records(4)
    bad[2][0, 0] = np.nan
    with pytest.raises(DataError, match="record 2"):
        group_fc(bad)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 5), r=st.integers(2, 8))
def test_group_fc_is_exactly_symmetric_and_bounded(seed: int, n: int, r: int) -> None:
    rng = np.random.default_rng(seed)
    recs = [rng.standard_normal((r, int(rng.integers(5, 40)))) for _ in range(n)]
    fc, counts = group_fc(recs)
    assert np.array_equal(fc, fc.T) and np.array_equal(counts, counts.T)
    assert np.all(np.abs(fc) <= 1.0) and np.all(np.diag(fc) == 1.0)
    np.testing.assert_array_equal(counts, n)
