"""Tests of biojepa.adapters.fmri.transforms: TR resampling, normalisation, robust stats, crops and padding."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biojepa.adapters.fmri.transforms import (
    RobustStats,
    apply_robust,
    crop_starts,
    demean,
    pad_to,
    random_crop_start,
    resample_tr,
    robust_stats,
    valid_patches,
    zero_variance_rois,
    zscore_rois,
)
from biojepa.errors import ConfigError, ContractError, DataError

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


def _peak_hz(y: np.ndarray, tr: float, pad: int = 16) -> float:
    """Frequency of the largest spectral peak (zero-padded FFT) of a 1-D series."""
    n = y.size * pad
    spec = np.abs(np.fft.rfft(y - y.mean(), n=n))
    return float(np.fft.rfftfreq(n, d=tr)[np.argmax(spec)])


# --- resample_tr -------------------------------------------------------------------------------------------


def test_resample_frame_count_by_hand() -> None:
    x = np.random.default_rng(0).standard_normal((3, 195))
    # (195 - 1) * 1.5 / 2.2 = 291 / 2.2 = 132.27 -> floor 132 -> frames k = 0..132, i.e. 133 frames
    assert resample_tr(x, 1.5, 2.2).shape == (3, 133)
    # UKB: (490 - 1) * 0.735 / 2.205 = 163 exactly (float64 gives 162.999...; the 1e-9 tolerance keeps it) -> 164
    ukb = np.random.default_rng(1).standard_normal((2, 490))
    out = resample_tr(ukb, 0.735, 2.205)
    assert out.shape == (2, 164)
    # an integer ratio is an exact stride-3 subsample (Brain-JEPA's UKB alignment)
    np.testing.assert_array_equal(out, ukb[:, ::3].astype(np.float32))
    # upsampling: (10 - 1) * 2 / 0.5 = 36 -> 37 frames
    assert resample_tr(x[:, :10], 2.0, 0.5).shape == (3, 37)


def test_resample_identity_is_float32_copy() -> None:
    x = np.random.default_rng(0).standard_normal((4, 50))
    out = resample_tr(x, 2.0, 2.0)
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_array_equal(out, x.astype(np.float32))
    x32 = x.astype(np.float32)
    out32 = resample_tr(x32, 2.0, 2.0)
    assert out32 is not x32 and not np.shares_memory(out32, x32)


@SETTINGS
@given(
    t=st.integers(2, 300),
    tr_in=st.floats(0.3, 3.0),
    tr_out=st.floats(0.3, 3.0),
    slope=st.floats(-5.0, 5.0),
    icpt=st.floats(-100.0, 100.0),
)
def test_resample_keeps_a_line_a_line(t: int, tr_in: float, tr_out: float, slope: float, icpt: float) -> None:
    n_out = math.floor((t - 1) * tr_in / tr_out + 1e-9) + 1
    if n_out < 2:
        with pytest.raises(DataError, match="at least 2 output frames"):
            resample_tr(np.zeros((1, t)), tr_in, tr_out)
        return
    time_in = np.arange(t) * tr_in
    x = np.stack([icpt + slope * time_in, -slope * time_in])  # (2, T)
    out = resample_tr(x, tr_in, tr_out)
    assert out.shape == (2, n_out) and out.dtype == np.float32
    time_out = np.arange(n_out) * tr_out
    assert time_out[-1] <= time_in[-1] + 1e-6  # nothing extrapolated
    np.testing.assert_allclose(out[0], icpt + slope * time_out, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(out[1], -slope * time_out, rtol=1e-5, atol=1e-3)
    assert out[0, 0] == np.float32(x[0, 0])  # the first frame is kept


@pytest.mark.parametrize(("tr_in", "tr_out"), [(0.8, 2.0), (0.735, 2.205), (2.0, 1.5), (1.5, 2.2)])
def test_resample_sine_keeps_its_frequency(tr_in: float, tr_out: float) -> None:
    f = 0.05  # Hz, below every Nyquist rate used here
    t = 600
    x = np.sin(2 * np.pi * f * np.arange(t) * tr_in)[None, :]  # (1, T)
    out = resample_tr(x, tr_in, tr_out)[0]
    time_out = np.arange(out.size) * tr_out
    # linear interpolation of a unit sine errs by at most (2 pi f tr_in)^2 / 8 (0.049 at tr_in = 2 s)
    bound = (2 * np.pi * f * tr_in) ** 2 / 8 + 1e-6
    np.testing.assert_allclose(out, np.sin(2 * np.pi * f * time_out), rtol=0, atol=bound)
    bin_hz = 1.0 / (out.size * tr_out * 16)
    assert abs(_peak_hz(out, tr_out) - f) <= bin_hz


def test_resample_antialias_removes_what_would_alias() -> None:
    tr_in, tr_out, t = 0.5, 2.0, 800
    time_in = np.arange(t) * tr_in
    slow = np.sin(2 * np.pi * 0.02 * time_in)
    fast = np.sin(2 * np.pi * 0.6 * time_in)  # above the 0.25 Hz target Nyquist: aliases to 0.1 Hz
    x = np.stack([slow, fast])  # (2, T)
    plain = resample_tr(x, tr_in, tr_out)
    filt = resample_tr(x, tr_in, tr_out, antialias=True)
    assert plain.shape == filt.shape == (2, 200)  # floor(799 * 0.5 / 2) + 1
    assert plain[1].std() > 0.5  # aliased at full amplitude
    assert abs(_peak_hz(plain[1], tr_out) - 0.1) < 0.005
    assert filt[1, 5:-5].std() < 0.01 and filt[1].std() < 0.05  # removed (small transients at the edges)
    time_out = np.arange(200) * tr_out
    np.testing.assert_allclose(filt[0], np.sin(2 * np.pi * 0.02 * time_out), atol=0.02)  # slow part kept
    # upsampling ignores the flag
    np.testing.assert_array_equal(resample_tr(x, 2.0, 1.0, antialias=True), resample_tr(x, 2.0, 1.0))


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, "x"])
def test_resample_rejects_bad_tr(bad: object) -> None:
    x = np.zeros((2, 10))
    with pytest.raises(ConfigError, match="tr_in"):
        resample_tr(x, bad, 2.0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="tr_out"):
        resample_tr(x, 2.0, bad)  # type: ignore[arg-type]


def test_resample_rejects_bad_data() -> None:
    with pytest.raises(DataError, match="1 frame"):
        resample_tr(np.zeros((2, 2)), 1.0, 5.0)  # floor(0.2) + 1 = 1 frame
    with pytest.raises(DataError, match="2-D"):
        resample_tr(np.zeros(10), 1.0, 2.0)
    x = np.zeros((3, 10))
    x[1, 4] = np.nan
    with pytest.raises(DataError, match=r"ROIs \[1\]"):
        resample_tr(x, 1.0, 2.0)


# --- per-record normalisation ------------------------------------------------------------------------------


def test_demean() -> None:
    x = np.array([[1.0, 2.0, 3.0], [10.0, 10.0, 10.0]])
    out = demean(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[-1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])


def test_zero_variance_rois() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 40))
    x[1] = 0.1  # the mean of 0.1 * 40 is not exactly 0.1: std ~1e-17, not 0
    x[3] = 1e6  # large offset: rounding in the mean is relative to 1e6
    x[4] *= 1e-6  # small but varying: not flagged even next to a 1e6 ROI
    flagged = zero_variance_rois(x)
    assert flagged.dtype == np.int64
    assert flagged.tolist() == [1, 3]
    assert zero_variance_rois(x[:, :1]).tolist() == [0, 1, 2, 3, 4]  # one frame: everything is constant
    with pytest.raises(ConfigError, match="rtol"):
        zero_variance_rois(x, rtol=-1.0)


def test_zscore_rois_flags_constant_rows() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 100)) * 3.0 + 7.0
    x[2] = 5.0
    x[0, :] = 1e9  # a constant at a huge offset: rounding noise exceeds eps but it is still constant
    z, flagged = zscore_rois(x)
    assert z.dtype == np.float32 and flagged.dtype == np.int64
    assert flagged.tolist() == [0, 2]
    assert np.isfinite(z).all()
    np.testing.assert_array_equal(z[[0, 2]], 0.0)
    np.testing.assert_allclose(z[[1, 3]].mean(axis=1), 0.0, atol=1e-6)
    np.testing.assert_allclose(z[[1, 3]].std(axis=1), 1.0, atol=1e-5)
    _, none = zscore_rois(rng.standard_normal((3, 10)))
    assert none.size == 0


@SETTINGS
@given(
    data=st.lists(st.floats(-1e4, 1e4), min_size=6, max_size=60),
    const=st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_zscore_is_always_finite(data: list[float], const: list[bool]) -> None:
    x = np.resize(np.asarray(data), (3, len(data)))
    for r, c in enumerate(const):
        if c:
            x[r] = x[r, 0]
    z, flagged = zscore_rois(x)
    assert np.isfinite(z).all()
    assert set(np.flatnonzero(const).tolist()) <= set(flagged.tolist())
    np.testing.assert_array_equal(z[flagged], 0.0)


# --- robust statistics -------------------------------------------------------------------------------------


def test_robust_stats_known_population_and_removed_offsets() -> None:
    # after demeaning: ROI 0 pools [-2, -1, 0, 1, 2] + [-4, 0, 4] = [-4, -2, -1, 0, 0, 1, 2, 4]
    #   linear percentiles over 8 values: q25 at index 1.75 -> -1.25, median 0, q75 at 5.25 -> 1.25, IQR 2.5
    # ROI 1 is twice ROI 0 plus a record-specific offset: median 0, IQR 5
    a0 = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    b0 = np.array([-4.0, 0.0, 4.0])
    rec_a = np.stack([a0 + 100.0, 2 * a0 - 3.0])  # large ROI offsets (UKB-like) are removed per record
    rec_b = np.stack([b0 - 7.0, 2 * b0 + 50.0])
    stats = robust_stats([rec_a, rec_b])
    np.testing.assert_allclose(stats.center, [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(stats.scale, [2.5, 5.0], rtol=1e-12)
    assert stats.clamped == () and stats.n_records == 2 and stats.n_frames == 8
    assert stats.center.dtype == np.float64 and stats.scale.dtype == np.float64
    out = apply_robust(demean(rec_a), stats)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.stack([a0 / 2.5, 2 * a0 / 5.0]), rtol=1e-6)


def test_robust_stats_median_is_not_zero_on_skewed_data() -> None:
    rec = np.array([[0.0, 0.0, 0.0, 0.0, 10.0]])  # demeaned: [-2, -2, -2, -2, 8]
    stats = robust_stats([rec])
    assert stats.center.tolist() == [-2.0]
    assert stats.clamped == (0,)  # IQR 0 -> floored (no other positive scale: floor_abs)
    assert stats.scale.tolist() == [1e-8]


def test_robust_stats_clamps_zero_variance_roi() -> None:
    rng = np.random.default_rng(0)
    recs = []
    for i in range(4):
        r = rng.standard_normal((3, 50))
        r[1] = 10.0 * i  # constant within each record, a different constant per record
        r[2] *= 1e-7  # tiny but varying: below floor_rel * median scale
        recs.append(r)
    stats = robust_stats(recs)
    pooled = np.concatenate([r - r.mean(axis=1, keepdims=True) for r in recs], axis=1)  # (3, 200)
    q25, q75 = np.percentile(pooled, [25, 75], axis=1)
    raw = q75 - q25  # ~[1.35, 0, 1.35e-7]
    floor = 1e-3 * float(np.median(raw[raw > 0]))  # median of the positive scales: (raw[0] + raw[2]) / 2
    assert stats.clamped == (1, 2)
    assert stats.scale[0] == pytest.approx(raw[0], rel=1e-12)
    np.testing.assert_allclose(stats.scale[1:], floor, rtol=1e-12)
    assert stats.scale[1] == stats.scale[2]
    for r in recs:
        out = apply_robust(demean(r), stats)
        assert np.isfinite(out).all()
        np.testing.assert_array_equal(out[1], 0.0)


def test_robust_stats_all_constant_population_is_finite() -> None:
    stats = robust_stats([np.ones((3, 20)), np.full((3, 5), 4.0)])
    assert stats.clamped == (0, 1, 2)
    np.testing.assert_array_equal(stats.scale, 1e-8)
    assert np.isfinite(apply_robust(demean(np.ones((3, 7))), stats)).all()


def _reference_subsample(records: list[np.ndarray], max_frames: int, seed: int) -> np.ndarray:
    """The documented subsample: one uniform key per frame in record order, keep the smallest keys."""
    rng = np.random.default_rng(seed)
    keys = np.concatenate([rng.random(r.shape[1]) for r in records])
    pooled = np.concatenate([r - r.mean(axis=1, keepdims=True) for r in records], axis=1)
    keep = np.argsort(keys)[: min(max_frames, keys.size)]
    return pooled[:, keep]


@SETTINGS
@given(
    lengths=st.lists(st.integers(1, 30), min_size=1, max_size=12),
    max_frames=st.integers(1, 120),
    seed=st.integers(0, 2**32 - 1),
)
def test_robust_stats_subsample_matches_reference(lengths: list[int], max_frames: int, seed: int) -> None:
    rng = np.random.default_rng(len(lengths) * 1000 + max_frames)
    recs = [rng.standard_normal((2, n)) * 3 + rng.standard_normal((2, 1)) for n in lengths]
    stats = robust_stats(iter(recs), max_frames=max_frames, seed=seed, floor_abs=1e-300, floor_rel=0.0)
    pooled = _reference_subsample(recs, max_frames, seed)
    q25, med, q75 = np.percentile(pooled, [25, 50, 75], axis=1)
    assert stats.n_frames == min(max_frames, sum(lengths))
    np.testing.assert_allclose(stats.center, med, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.scale, np.maximum(q75 - q25, 1e-300), rtol=1e-12, atol=1e-12)


def test_robust_stats_subsample_is_deterministic_and_uniform() -> None:
    rng = np.random.default_rng(0)
    recs = [rng.standard_normal((2, 200)) for _ in range(50)]  # 10,000 frames
    full = robust_stats(recs)
    a = robust_stats(recs, max_frames=2000, seed=3)
    b = robust_stats((r for r in recs), max_frames=2000, seed=3)  # a one-shot generator gives the same
    c = robust_stats(recs, max_frames=2000, seed=4)
    assert a.n_frames == 2000 and full.n_frames == 10_000 and a.n_records == 50
    np.testing.assert_array_equal(a.center, b.center)
    np.testing.assert_array_equal(a.scale, b.scale)
    assert not np.array_equal(a.center, c.center)
    np.testing.assert_allclose(a.center, full.center, atol=0.1)
    np.testing.assert_allclose(a.scale, full.scale, rtol=0.1)  # IQR of N(0, 1) ~ 1.349
    np.testing.assert_allclose(full.scale, 1.349, rtol=0.05)
    np.testing.assert_array_equal(robust_stats(recs, max_frames=10_000, seed=9).scale, full.scale)


def test_robust_stats_errors() -> None:
    with pytest.raises(DataError, match="no records"):
        robust_stats([])
    with pytest.raises(DataError, match="record 2 has 4 ROIs but record 0 has 3"):
        robust_stats([np.zeros((3, 5)), np.zeros((3, 6)), np.zeros((4, 5))])
    with pytest.raises(DataError, match="record 1"):
        robust_stats([np.zeros((3, 5)), np.full((3, 5), np.inf)])
    with pytest.raises(DataError, match="record 0: the record has 0 frames"):
        robust_stats([np.zeros((3, 0))])
    with pytest.raises(ConfigError, match="max_frames"):
        robust_stats([np.zeros((3, 5))], max_frames=0)
    with pytest.raises(ConfigError, match="floor_abs"):
        robust_stats([np.zeros((3, 5))], floor_abs=0.0)


def test_robust_stats_dict_round_trip() -> None:
    rng = np.random.default_rng(0)
    recs = [rng.standard_normal((4, 30)) for _ in range(3)]
    recs[0][2] = 1.0
    recs[1][2] = 2.0
    recs[2][2] = 3.0
    stats = robust_stats(recs)
    d = json.loads(json.dumps(stats.to_dict()))
    assert d["method"] == "robust_population" and d["clamped"] == [2]
    back = RobustStats.from_dict(d)
    np.testing.assert_array_equal(back.center, stats.center)
    np.testing.assert_array_equal(back.scale, stats.scale)
    assert (back.clamped, back.n_records, back.n_frames, back.n_rois) == ((2,), 3, 90, 4)
    with pytest.raises(ConfigError, match="keys"):
        RobustStats.from_dict({"center": [0.0]})
    with pytest.raises(ConfigError, match="keys"):
        RobustStats.from_dict({**d, "extra": 1})
    with pytest.raises(ConfigError, match="equal-length"):
        RobustStats.from_dict({**d, "scale": [1.0]})
    with pytest.raises(ConfigError, match="scale finite and > 0"):
        RobustStats.from_dict({**d, "scale": [1.0, 0.0, 1.0, 1.0]})


def test_apply_robust_contract() -> None:
    stats = RobustStats(center=np.zeros(3), scale=np.ones(3))
    with pytest.raises(ContractError, match=r"expected \(3, T\)"):
        apply_robust(np.zeros((4, 10)), stats)
    with pytest.raises(ContractError, match=r"expected \(3, T\)"):
        apply_robust(np.zeros(10), stats)
    bad = np.zeros((3, 10))
    bad[0, 0] = np.nan
    with pytest.raises(ContractError, match="non-finite"):
        apply_robust(bad, stats)


# --- crops and padding -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_times", "window", "mode", "stride", "expected"),
    [
        (10, 4, "center", None, [3]),
        (11, 4, "center", None, [3]),
        (10, 4, "start", None, [0]),
        (10, 4, "multi", None, [0, 4, 6]),
        (12, 4, "multi", None, [0, 4, 8]),
        (10, 4, "multi", 3, [0, 3, 6]),
        (10, 4, "multi", 4, [0, 4, 6]),
        (10, 4, "center", 2, [3]),  # stride only matters for "multi"
        (4, 4, "center", None, [0]),
        (4, 4, "multi", 1, [0]),
        (3, 4, "center", None, [0]),
        (3, 4, "multi", None, [0]),
        (3, 4, "start", None, [0]),
    ],
)
def test_crop_starts_cases(
    n_times: int, window: int, mode: str, stride: int | None, expected: list[int]
) -> None:
    assert crop_starts(n_times, window, mode, stride) == expected  # type: ignore[arg-type]


@SETTINGS
@given(n_times=st.integers(1, 300), window=st.integers(1, 100), stride=st.none() | st.integers(1, 50))
def test_crop_starts_multi_covers_the_record(n_times: int, window: int, stride: int | None) -> None:
    starts = crop_starts(n_times, window, "multi", stride)
    assert starts == sorted(set(starts)) and starts[0] == 0
    if n_times <= window:
        assert starts == [0]
        return
    assert starts[-1] == n_times - window
    step = window if stride is None else stride
    assert all(0 < b - a <= step for a, b in itertools.pairwise(starts))
    covered = np.zeros(n_times, dtype=bool)
    for s in starts:
        covered[s : s + window] = True
    if step <= window:  # gaps only when the stride exceeds the window
        assert covered.all()
    else:
        assert covered[:window].all() and covered[-window:].all()


def test_crop_starts_errors() -> None:
    with pytest.raises(ConfigError, match="mode"):
        crop_starts(10, 4, "middle")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="window"):
        crop_starts(10, 0)
    with pytest.raises(ConfigError, match="stride"):
        crop_starts(10, 4, "multi", 0)
    with pytest.raises(ConfigError, match="n_times"):
        crop_starts(0, 4)


def test_random_crop_start() -> None:
    draws = [random_crop_start(10, 7, np.random.default_rng(s)) for s in range(200)]
    assert set(draws) == {0, 1, 2, 3}
    assert random_crop_start(10, 7, np.random.default_rng(5)) == random_crop_start(
        10, 7, np.random.default_rng(5)
    )
    assert random_crop_start(5, 7, np.random.default_rng(0)) == 0
    assert random_crop_start(7, 7, np.random.default_rng(0)) == 0
    # one draw per call whatever the record length: the generator state afterwards is the same
    r1, r2 = np.random.default_rng(1), np.random.default_rng(1)
    random_crop_start(5, 7, r1)
    random_crop_start(100, 7, r2)
    assert r1.random() == r2.random()


def test_pad_to_and_valid_patches() -> None:
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    out, n_valid = pad_to(x, 5)
    assert out.shape == (2, 5) and out.dtype == np.float32 and n_valid == 3
    np.testing.assert_array_equal(out, [[0, 1, 2, 0, 0], [3, 4, 5, 0, 0]])
    same, n_same = pad_to(x, 3)
    np.testing.assert_array_equal(same, x)
    assert n_same == 3
    with pytest.raises(ConfigError, match="more than window=2"):
        pad_to(x, 2)
    assert valid_patches(160, 16) == 10
    assert valid_patches(77, 16) == 4  # OHSU: 77 frames -> 4 full patches, the rest is padding
    assert valid_patches(15, 16) == 0
    assert valid_patches(0, 16) == 0
    with pytest.raises(ConfigError, match="patch_len"):
        valid_patches(10, 0)
    with pytest.raises(ConfigError, match="n_valid"):
        valid_patches(-1, 16)
