"""Tests of biojepa.adapters.eeg.synthetic: shapes, determinism, amplitudes, spectra, the planted ERD task."""

from __future__ import annotations

import dataclasses
import doctest

import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

import biojepa.adapters.eeg.synthetic as synth_mod
from biojepa.adapters.eeg.synthetic import (
    CHUNK,
    CLASS_NAMES,
    DEFAULT_CHANNELS,
    EegSynthSpec,
    simulate_eeg,
    simulate_trials,
    subject_ids,
)
from biojepa.errors import ConfigError, ContractError

pytest.importorskip("mne")

FS = 128.0
CH = {name: i for i, name in enumerate(DEFAULT_CHANNELS)}


@pytest.fixture(scope="module")
def corpus() -> tuple[np.ndarray, np.ndarray]:
    return simulate_eeg(EegSynthSpec(n_records=96, duration_s=4.0, seed=3))


def _band_log_power(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``(N, C)`` log mean Welch power in ``[lo, hi]`` Hz."""
    f, p = scipy.signal.welch(x, fs=FS, nperseg=256, axis=-1)  # (N, C, F)
    band = (f >= lo) & (f <= hi)
    return np.log(p[..., band].mean(axis=-1))


def test_default_spec_shapes_dtype_and_labels() -> None:
    spec = EegSynthSpec()
    assert spec.n_times == 1024 and spec.channels == DEFAULT_CHANNELS and len(DEFAULT_CHANNELS) == 19
    x, y = simulate_eeg(spec)
    assert x.shape == (256, 19, 1024) and x.dtype == np.float32
    assert y.dtype == np.int64 and np.bincount(y).tolist() == [128, 128]
    assert np.isfinite(x).all()


def test_deterministic_seeded_and_prefix_stable(corpus: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = corpus
    x2, y2 = simulate_eeg(EegSynthSpec(n_records=96, duration_s=4.0, seed=3))
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    # a shorter corpus is a prefix of a longer one (chunked generators), across a chunk boundary
    n = CHUNK + 5
    x3, y3 = simulate_eeg(EegSynthSpec(n_records=n, duration_s=4.0, seed=3))
    np.testing.assert_array_equal(x3, x[:n])
    np.testing.assert_array_equal(y3, y[:n])
    x4, _ = simulate_eeg(EegSynthSpec(n_records=n, duration_s=4.0, seed=4))
    assert not np.allclose(x4, x3)


def test_amplitudes_are_tens_of_microvolts(corpus: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = corpus
    sd = x.std(axis=2)  # (N, C)
    assert 8.0 < float(np.median(sd)) < 40.0
    assert float(sd.min()) > 2.0 and float(np.abs(x).max()) < 300.0
    # central channels carry the mu sources: larger than the frontal poles on average
    assert sd[:, CH["Cz"]].mean() > sd[:, CH["Fp1"]].mean()


def test_spectrum_band_limited_one_over_f_with_a_mu_peak(corpus: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = corpus
    f, p = scipy.signal.welch(x, fs=FS, nperseg=256, axis=-1)  # (N, C, F)
    mean = p.mean(axis=(0, 1))  # (F,)
    at = {q: float(mean[np.argmin(np.abs(f - q))]) for q in (2.0, 6.0, 10.5, 20.0, 30.0, 50.0)}
    assert at[2.0] > at[20.0] > at[30.0]  # 1/f background
    assert at[50.0] < 1e-3 * at[10.5]  # nothing above the 40 Hz band edge
    c3 = p[:, CH["C3"]].mean(axis=0)  # (F,)
    alpha = (f >= 9) & (f <= 12.5)
    flank = ((f >= 5) & (f <= 7)) | ((f >= 15) & (f <= 17))
    assert c3[alpha].mean() > 2.0 * c3[flank].mean()  # a mu peak over C3


def test_planted_erd_separates_classes(corpus: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = corpus
    lp = _band_log_power(x, 8.0, 13.0)  # (N, C)
    d = lp[:, CH["C3"]] - lp[:, CH["C4"]]  # (N,) lower when C3 desynchronises
    assert d[y == 0].mean() < -0.3 and d[y == 1].mean() > 0.3
    acc = float(np.mean((d < 0) == (y == 0)))
    assert acc > 0.85
    # an occipital channel does not carry the task
    occ = lp[:, CH["O1"]] - lp[:, CH["O2"]]
    assert abs(occ[y == 0].mean() - occ[y == 1].mean()) < 0.5 * abs(d[y == 0].mean() - d[y == 1].mean())


def test_erd_depth_zero_removes_the_task() -> None:
    x, y = simulate_eeg(EegSynthSpec(n_records=64, duration_s=4.0, erd_depth=0.0, seed=1))
    lp = _band_log_power(x, 8.0, 13.0)
    d = lp[:, CH["C3"]] - lp[:, CH["C4"]]
    assert abs(d[y == 0].mean() - d[y == 1].mean()) < 0.3


def test_three_classes_midline() -> None:
    x, y = simulate_eeg(EegSynthSpec(n_records=60, duration_s=4.0, n_classes=3, seed=2))
    assert np.bincount(y).tolist() == [20, 20, 20] and CLASS_NAMES[2] == "mu_erd_midline"
    lp = _band_log_power(x, 8.0, 13.0)
    lateral = (lp[:, CH["C3"]] + lp[:, CH["C4"]]) / 2 - lp[:, CH["Cz"]]  # high when Cz desynchronises
    assert lateral[y == 2].mean() > lateral[y != 2].mean() + 0.3


def test_subjects_and_balanced_labels_per_subject() -> None:
    spec = EegSynthSpec(n_records=24, duration_s=2.0, n_subjects=3, seed=5)
    subj = subject_ids(spec)
    assert subj.tolist() == [i % 3 for i in range(24)]
    _, y = simulate_eeg(spec)
    for s in range(3):
        assert np.bincount(y[subj == s], minlength=2).tolist() == [4, 4]


def test_simulate_trials_grouped_by_subject() -> None:
    x, y, subj = simulate_trials(n_subjects=3, trials_per_subject=10, n_times=200, seed=9)
    assert x.shape == (30, 19, 200) and y.shape == subj.shape == (30,)
    assert subj.tolist() == [0] * 10 + [1] * 10 + [2] * 10
    assert all(np.bincount(y[subj == s]).tolist() == [5, 5] for s in range(3))
    x2, _, _ = simulate_trials(n_subjects=3, trials_per_subject=10, n_times=200, seed=9)
    np.testing.assert_array_equal(x, x2)
    with pytest.raises(ConfigError, match="trials_per_subject"):
        simulate_trials(trials_per_subject=0)


def test_custom_channels_follow_the_montage() -> None:
    spec = EegSynthSpec(n_records=4, duration_s=2.0, channels=("C4", "Cz", "C3"), seed=0, noise_uv=0.0)
    x, _ = simulate_eeg(spec)
    assert x.shape == (4, 3, 256)
    full, _ = simulate_eeg(dataclasses.replace(spec, channels=DEFAULT_CHANNELS))
    # same sources and draws: a channel's brain signal does not depend on which other channels are simulated
    np.testing.assert_allclose(x[:, 2], full[:, CH["C3"]], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(x[:, 0], full[:, CH["C4"]], rtol=1e-4, atol=1e-3)
    # only the sensor noise differs (noise_uv RMS per channel)
    noisy, _ = simulate_eeg(dataclasses.replace(spec, noise_uv=1.5))
    assert 1.0 < float((noisy[:, 2] - x[:, 2]).std()) < 2.0
    with pytest.raises(ContractError, match=r"\['XYZ'\].*not in montage"):
        simulate_eeg(EegSynthSpec(n_records=2, duration_s=1.0, channels=("Cz", "XYZ")))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_records": 0}, "n_records"),
        ({"sfreq": 64.0}, "sfreq"),
        ({"duration_s": -1.0}, "duration_s"),
        ({"n_classes": 4}, "n_classes"),
        ({"n_classes": 1}, "n_classes"),
        ({"erd_depth": 0.95}, "erd_depth"),
        ({"channels": ("Cz", "Cz")}, "unique"),
        ({"channels": "Cz"}, "channels"),
        ({"seed": -1}, "seed"),
        ({"n_subjects": True}, "n_subjects"),
    ],
)
def test_spec_validation(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        EegSynthSpec(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=8, deadline=None)
@given(
    n=st.integers(1, 6),
    n_times=st.integers(130, 300),
    sfreq=st.sampled_from([100.0, 128.0, 250.0]),
    seed=st.integers(0, 2**16),
)
def test_any_small_spec_is_finite_and_shaped(n: int, n_times: int, sfreq: float, seed: int) -> None:
    spec = EegSynthSpec(
        n_records=n, duration_s=n_times / sfreq, sfreq=sfreq, seed=seed, channels=("C3", "Cz")
    )
    x, y = simulate_eeg(spec)
    assert x.shape == (n, 2, n_times) and np.isfinite(x).all()
    assert set(y.tolist()) <= {0, 1} and float(np.abs(x).max()) < 1e3


def test_docstring_example() -> None:
    result = doctest.testmod(synth_mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 1 and result.failed == 0
