"""EEG positions: canonical names, standard-montage lookup, unit-head normalisation (eeg.md §3.3)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biojepa.adapters.eeg.positions import (
    canonical_eeg_name,
    montage_positions,
    normalize_positions,
    resolve_montage,
    standard_positions,
)
from biojepa.errors import ConfigError, ContractError

mne = pytest.importorskip("mne")

#: The shift between MNE's raw montage table and its head frame at Cz (eeg.md §3.3), in metres.
FRAME_SHIFT = np.array([-0.002, 0.037, 0.040])


def cap(
    n: int = 40, radius: float = 0.09, centre: tuple[float, float, float] = (0.0, 0.01, 0.04), seed: int = 0
):
    """``n`` points on the upper 2/3 of a sphere (an EEG cap), ``(n, 3)``."""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, 3))  # (n, 3)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    v[:, 2] = np.abs(v[:, 2]) * 0.8 + 0.2 * v[:, 2]  # bias towards the top of the head
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return radius * v + np.asarray(centre)


# ------------------------------------------------------------------------------------------------ names


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Fc5.", "FC5"),
        ("Cz..", "Cz"),
        ("fp1", "Fp1"),
        ("Fpz.", "Fpz"),
        ("T10.", "T10"),
        (" afz ", "AFz"),
        ("POZ", "POz"),
        ("TP9", "TP9"),
        ("Xyz..", "Xyz"),
        ("EEG Fp1-REF", "EEG Fp1-REF"),
    ],
)
def test_canonical_eeg_name(raw: str, canonical: str) -> None:
    assert canonical_eeg_name(raw) == canonical


def test_canonical_eeg_name_rejects_non_strings() -> None:
    with pytest.raises(ConfigError, match="strings"):
        canonical_eeg_name(3)  # type: ignore[arg-type]


@pytest.mark.realdata
def test_canonical_names_of_the_64_bci2000_channels(shared_data) -> None:
    edf = shared_data / "eeg" / "eegmmidb_S001" / "S001" / "S001R04.edf"
    raw = mne.io.read_raw_edf(edf, preload=False, verbose="error")
    names = list(raw.ch_names)
    assert len(names) == 64 and all(n.endswith(".") for n in names)
    ours = [canonical_eeg_name(n) for n in names]
    # independent oracle: MNE's own renaming of the eegbci names
    mne.datasets.eegbci.standardize(raw)
    assert ours == list(raw.ch_names)
    montage_names, _ = montage_positions("standard_1005")
    assert set(ours) <= set(montage_names)
    assert len(set(ours)) == 64


# ------------------------------------------------------------------------------------------------ montage lookup


def test_resolve_montage_and_unknown_montage() -> None:
    builtin = set(mne.channels.get_builtin_montages())
    assert resolve_montage("standard_1005") in builtin
    assert resolve_montage("biosemi64") == "biosemi64"
    with pytest.raises(ConfigError, match="unknown montage 'nope'"):
        resolve_montage("nope")
    with pytest.raises(ConfigError, match="montage"):
        standard_positions(["Cz"], montage="")


def test_standard_positions_match_set_montage_head_frame() -> None:
    names = ["Fp1", "Cz", "O2", "TP9", "AF8"]
    info = mne.create_info(names, 100.0, "eeg")
    info.set_montage(resolve_montage("standard_1005"))
    expected = np.array([ch["loc"][:3] for ch in info["chs"]])  # (5, 3) head frame
    got = standard_positions(["fp1.", "CZ..", "o2", " TP9 ", "Af8."])
    np.testing.assert_allclose(got, expected, atol=1e-9)
    assert got[1, 2] > 0.1  # Cz is on top of the head, in metres


def test_standard_positions_unknown_names_are_nan_rows() -> None:
    got = standard_positions(["Cz", "Xyz", "Oz"])
    assert got.shape == (3, 3)
    assert np.isnan(got[1]).all()
    assert np.isfinite(got[[0, 2]]).all()
    with pytest.raises(ConfigError, match="sequence of channel names"):
        standard_positions("Cz")


# ------------------------------------------------------------------------------------------------ normalisation


def test_points_on_a_sphere_get_unit_radius() -> None:
    out = normalize_positions(cap())
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-9)


def test_montage_gets_median_radius_one() -> None:
    _, xyz = montage_positions("standard_1005")
    out = normalize_positions(xyz)
    assert np.median(np.linalg.norm(out, axis=1)) == pytest.approx(1.0, abs=1e-12)
    assert np.abs(out.mean(axis=0)).max() < 0.5  # centred on the head, not on a far-away point


def test_coordinate_frame_shift_and_unit_change_are_removed() -> None:
    names = ["Fp1", "Fp2", "C3", "Cz", "C4", "O1", "O2", "T7", "T8", "Pz"]
    head = standard_positions(names)  # (C, 3) metres, head frame
    shifted_mm = (head - FRAME_SHIFT) * 1000.0  # another origin, millimetres
    np.testing.assert_allclose(normalize_positions(shifted_mm), normalize_positions(head), atol=1e-9)
    _, ref = montage_positions()
    np.testing.assert_allclose(
        normalize_positions(shifted_mm, reference=(ref - FRAME_SHIFT) * 1000.0),
        normalize_positions(head, reference=ref),
        atol=1e-9,
    )


@settings(max_examples=30, deadline=None)
@given(
    shift=st.tuples(*[st.floats(-0.2, 0.2)] * 3),
    scale=st.floats(0.01, 1000.0),
    angle=st.floats(-np.pi, np.pi),
)
def test_similarity_transforms_property(
    shift: tuple[float, float, float], scale: float, angle: float
) -> None:
    p = cap(n=12, seed=3)
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    moved = scale * p @ rot.T + np.asarray(shift)  # (C, 3)
    # shift and scale leave the result unchanged; a rotation rotates it
    np.testing.assert_allclose(normalize_positions(moved), normalize_positions(p) @ rot.T, atol=1e-7)


def test_nan_rows_stay_nan_and_do_not_move_the_others() -> None:
    p = cap(n=20)
    q = p.copy()
    q[3] = np.nan
    q[7, 1] = np.inf  # a partially unknown row is unknown
    out = normalize_positions(q)
    assert np.isnan(out[[3, 7]]).all()
    keep = np.setdiff1d(np.arange(20), [3, 7])
    np.testing.assert_allclose(out[keep], normalize_positions(p[keep]), atol=1e-12)


def test_reference_gives_subsets_the_coordinates_of_the_full_montage() -> None:
    names, ref = montage_positions("standard_1005")
    full = normalize_positions(ref)
    rows = [names.index(n) for n in ("TP9", "AF7", "AF8", "TP10")]
    np.testing.assert_allclose(normalize_positions(ref[rows], reference=ref), full[rows], atol=1e-12)
    # on their own, four electrodes cannot define the head: a different (self-fitted) frame
    assert not np.allclose(normalize_positions(ref[rows]), full[rows], atol=0.05)


def test_few_or_coplanar_rows_fall_back_to_the_centroid() -> None:
    one = normalize_positions(np.array([[0.01, 0.02, 0.09]]))
    np.testing.assert_array_equal(one, np.zeros((1, 3)))
    three = normalize_positions(np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]))
    np.testing.assert_allclose(three.mean(axis=0), 0.0, atol=1e-12)
    assert np.median(np.linalg.norm(three, axis=1)) == pytest.approx(1.0)
    g = np.stack(np.meshgrid(np.arange(4.0), np.arange(4.0)), -1).reshape(-1, 2)  # (16, 2) flat grid
    flat = normalize_positions(np.c_[g, np.zeros(16)])
    assert np.isfinite(flat).all()
    np.testing.assert_allclose(flat.mean(axis=0), 0.0, atol=1e-12)


def test_all_nan_raises_with_the_montage_hint() -> None:
    with pytest.raises(ContractError, match=r"set_montage\('standard_1005'\).*positions="):
        normalize_positions(np.full((4, 3), np.nan))
    with pytest.raises(ContractError, match="reference positions have no finite row"):
        normalize_positions(cap(n=5), reference=np.full((2, 3), np.nan))


@pytest.mark.parametrize("bad", [np.zeros((4, 2)), np.zeros(3), np.array([["a", "b", "c"]])])
def test_malformed_positions_raise(bad: np.ndarray) -> None:
    with pytest.raises(ContractError, match=r"\(C, 3\)"):
        normalize_positions(bad)


def test_docstring_examples() -> None:
    import doctest

    import biojepa.adapters.eeg.positions as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
