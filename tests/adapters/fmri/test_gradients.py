"""Tests of biojepa.adapters.fmri.gradients: the diffusion-map gradient builder (fmri.md §4.3)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from biojepa.adapters.fmri.gradients import (
    GradientTable,
    build_gradients,
    diffusion_map,
    normalized_angle_affinity,
    procrustes_align,
    sparsify_rows,
)
from biojepa.errors import CheckpointError, ConfigError, DataError


def block_fc(
    sizes: tuple[int, ...], seed: int, *, chain: float = 0.0, n_t: int = 300
) -> tuple[np.ndarray, np.ndarray]:
    """Pearson FC of synthetic ROI series: each ROI = its block's signal + unit noise.

    Block signals are independent for ``chain=0``; otherwise block ``b`` correlates ``chain`` with block
    ``b - 1`` (a 1-D ordering of the blocks). Returns the (N, N) FC and the (N,) block labels.
    """
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((len(sizes), n_t))  # (B, T)
    sig = base.copy()
    for b in range(1, len(sizes)):
        sig[b] = chain * sig[b - 1] + np.sqrt(1.0 - chain**2) * base[b]
    labels = np.repeat(np.arange(len(sizes)), sizes)  # (N,)
    series = sig[labels] + rng.standard_normal((labels.size, n_t))  # (N, T)
    return np.corrcoef(series), labels


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


# --- building blocks --------------------------------------------------------------------------------------


def test_sparsify_rows_keeps_top_fraction_and_clips_negatives() -> None:
    x = np.array([[1.0, 0.5, -0.2, 0.1, 0.3], [-1.0, -0.5, -0.3, -0.2, -0.9]])
    out = sparsify_rows(x, keep=0.4)  # ceil(0.4 * 5) = 2 entries per row
    np.testing.assert_array_equal(out[0], [1.0, 0.5, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(out[1], np.zeros(5))  # top-2 are negative -> 0
    fc, _ = block_fc((20, 40), seed=0)
    assert ((sparsify_rows(fc, keep=0.1) != 0).sum(axis=1) <= 6).all()  # ceil(0.1 * 60) = 6
    with pytest.raises(ConfigError, match="keep"):
        sparsify_rows(fc, keep=0.0)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(3, 12), st.integers(2, 8))
def test_normalized_angle_affinity_is_symmetric_in_unit_interval(seed: int, n: int, m: int) -> None:
    x = np.random.default_rng(seed).standard_normal((n, m))
    x[0] = 0.0  # a zero row must not produce NaN
    a = normalized_angle_affinity(x)
    assert a.shape == (n, n)
    assert np.isfinite(a).all()
    np.testing.assert_array_equal(a, a.T)
    assert a.min() >= 0.0 and a.max() <= 1.0
    np.testing.assert_allclose(np.diag(a), 1.0)
    np.testing.assert_allclose(a[0, 1:], 0.5)


def test_normalized_angle_affinity_known_values() -> None:
    a = normalized_angle_affinity(np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]))
    np.testing.assert_allclose(a[0, 1], 0.5)  # orthogonal
    np.testing.assert_allclose(a[0, 2], 0.0, atol=1e-12)  # opposite


def test_diffusion_map_scaling_and_eigenvalues() -> None:
    fc, _ = block_fc((15, 25, 35), seed=1)
    aff = normalized_angle_affinity(sparsify_rows(fc, 0.1))
    g0, lam = diffusion_map(aff, k=4)
    g1, lam1 = diffusion_map(aff, k=4, diffusion_time=1)
    np.testing.assert_array_equal(lam, lam1)
    assert (np.diff(lam) <= 0).all() and (lam < 1.0).all()
    # multiscale = (lambda / (1 - lambda)) / lambda times the t=1 scaling, up to each column's sign
    ratio = np.abs(g0).sum(axis=0) / np.abs(g1).sum(axis=0)
    np.testing.assert_allclose(ratio, 1.0 / (1.0 - lam), rtol=1e-10)
    # the columns are right eigenvectors of the Markov operator P built with alpha = 0.5
    d = aff.sum(axis=1)
    w = aff / np.sqrt(np.outer(d, d))
    p = w / w.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p @ g1, g1 * lam[None, :], atol=1e-10)


def test_dense_and_sparse_solvers_agree() -> None:
    fc, _ = block_fc((12, 24, 36), seed=2, chain=0.5)
    aff = normalized_angle_affinity(sparsify_rows(fc, 0.5))
    gd, ld = diffusion_map(aff, k=4, solver="dense")
    gs, ls = diffusion_map(aff, k=4, solver="sparse")
    np.testing.assert_allclose(ld, ls, atol=1e-10)
    np.testing.assert_allclose(gd[:, :2], gs[:, :2], atol=1e-8)


# --- known structure ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [(10, 20, 30), (20, 35, 55)])  # N = 60 and N = 110: nothing hard-codes N
def test_first_two_gradients_recover_three_blocks(sizes: tuple[int, ...]) -> None:
    fc, labels = block_fc(sizes, seed=3)
    table = build_gradients(fc, k=10)
    assert table.gradients.shape == (sum(sizes), 10)
    assert table.params["n_rois"] == sum(sizes)
    pred = KMeans(n_clusters=3, n_init=10, random_state=0).fit_predict(table.gradients[:, :2])
    assert adjusted_rand_score(labels, pred) > 0.9


@pytest.mark.parametrize("sizes", [(20, 50), (45, 30)])
def test_first_gradient_is_the_block_contrast(sizes: tuple[int, ...]) -> None:
    fc, labels = block_fc(sizes, seed=4)
    g1 = build_gradients(fc, k=5).gradients[:, 0]
    assert abs(_corr(g1, labels)) > 0.9


def test_first_gradient_orders_a_chain_of_blocks() -> None:
    fc, labels = block_fc((15, 20, 25, 30), seed=5, chain=0.6)
    g1 = build_gradients(fc, k=5, sparsity=0.0).gradients[:, 0]
    assert abs(_corr(g1, labels)) > 0.9


# --- determinism and signs ----------------------------------------------------------------------------------


def test_build_is_deterministic() -> None:
    fc, _ = block_fc((15, 25, 35), seed=6)
    a, b = build_gradients(fc, k=8), build_gradients(fc.copy(), k=8)
    np.testing.assert_array_equal(a.gradients, b.gradients)
    assert a.sha256() == b.sha256()
    assert build_gradients(fc, k=8, alpha=0.0).sha256() != a.sha256()  # params are part of the hash


def test_permuted_then_unpermuted_input_gives_the_same_gradients() -> None:
    fc, _ = block_fc((12, 24, 36), seed=7)
    ref = build_gradients(fc, k=6).gradients
    perm = np.random.default_rng(0).permutation(fc.shape[0])
    g = build_gradients(fc[np.ix_(perm, perm)], k=6).gradients
    back = np.empty_like(g)
    back[perm] = g  # undo the permutation of the rows
    np.testing.assert_allclose(back[:, :3], ref[:, :3], atol=1e-8)  # signs included


def test_signs_agree_across_noise_seeds() -> None:
    """Unequal blocks: the largest-magnitude entry is in the small block, so every build flips alike."""
    builds = [build_gradients(block_fc((20, 50), seed=s)[0], k=5).gradients[:, 0] for s in range(10, 16)]
    for g in builds[1:]:
        assert _corr(g, builds[0]) > 0.9


def test_reference_alignment_fixes_signs_of_symmetric_gradients() -> None:
    """A near-symmetric chain gradient has no stable intrinsic sign; aligning to a reference gives one."""
    reference = build_gradients(block_fc((15, 20, 25, 30), seed=20, chain=0.6)[0], k=5, sparsity=0.0)
    for seed in range(21, 27):
        fc, _ = block_fc((15, 20, 25, 30), seed=seed, chain=0.6)
        table = build_gradients(fc, k=5, sparsity=0.0, reference=reference)
        assert _corr(table.gradients[:, 0], reference.gradients[:, 0]) > 0.9
        assert table.params["reference_sha256"] is not None


# --- Procrustes ---------------------------------------------------------------------------------------------


def test_procrustes_recovers_a_rotated_and_flipped_copy() -> None:
    g = build_gradients(block_fc((15, 25, 35), seed=8)[0], k=6).gradients
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((6, 6)))  # (k, k) orthogonal
    moved = (g * np.array([-1, 1, -1, 1, 1, -1])) @ q  # (N, k) sign flips then rotation
    np.testing.assert_allclose(procrustes_align(moved, g), g, atol=1e-10)
    with pytest.raises(ConfigError, match="same shape"):
        procrustes_align(moved, g[:, :5])


# --- save / load --------------------------------------------------------------------------------------------


def test_save_load_round_trip_and_tamper_detection(tmp_path) -> None:
    table = build_gradients(block_fc((15, 25, 35), seed=9)[0], k=5)
    path = table.save(tmp_path / "grad.npy")
    side = json.loads((tmp_path / "grad.json").read_text())
    assert side["sha256"] == table.sha256() and side["shape"] == [75, 5]
    loaded = GradientTable.load(path, expected_sha256=table.sha256())
    np.testing.assert_array_equal(loaded.gradients, table.gradients)
    np.testing.assert_array_equal(loaded.eigenvalues, table.eigenvalues)
    assert loaded.params == table.params and loaded.sha256() == table.sha256()
    with pytest.raises(CheckpointError, match="expected hash"):
        GradientTable.load(path, expected_sha256="0" * 64)
    tampered = table.gradients.copy()
    tampered[0, 0] += 1e-9
    np.save(path, tampered)
    with pytest.raises(CheckpointError, match="sidecar hash"):
        GradientTable.load(path)
    with pytest.raises(CheckpointError, match="not found"):
        GradientTable.load(tmp_path / "missing.npy")
    with pytest.raises(ConfigError, match=".npy"):
        table.save(tmp_path / "grad.txt")


# --- input validation ---------------------------------------------------------------------------------------


def test_input_errors() -> None:
    fc, _ = block_fc((10, 20), seed=11)
    with pytest.raises(ConfigError, match="square"):
        build_gradients(fc[:, :-1], k=3)
    asym = fc.copy()
    asym[0, 1] += 0.1
    with pytest.raises(ConfigError, match="not symmetric"):
        build_gradients(asym, k=3)
    bad = fc.copy()
    bad[4, 7] = bad[7, 4] = np.nan
    with pytest.raises(DataError, match=r"rows \[4, 7\]"):
        build_gradients(bad, k=3)
    with pytest.raises(ConfigError, match="k <= 28"):
        build_gradients(fc, k=29)  # N = 30 needs k + 1 < 30
    with pytest.raises(ConfigError, match="sparsity"):
        build_gradients(fc, k=3, sparsity=1.0)
    with pytest.raises(ConfigError, match="reference"):
        build_gradients(fc, k=3, reference=np.zeros((30, 4)))


def test_disconnected_affinity_is_a_data_error() -> None:
    aff = np.zeros((8, 8))
    aff[:4, :4] = 1.0
    aff[4:, 4:] = 1.0
    with pytest.raises(DataError, match="disconnected"):
        diffusion_map(aff, k=2)
