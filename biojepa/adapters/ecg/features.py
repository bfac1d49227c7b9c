"""Handcrafted ECG features: the classical baseline a user tries first (research note ecg_small_scale.md).

Computed on **raw millivolt** signals (no z-scoring: voltage carries the hypertrophy and conduction signal):

* per lead: standard deviation, peak-to-peak, robust extremes (99th percentile minus median, median minus
  1st percentile), interquartile range, skewness, excess kurtosis, mean absolute slope (mean ``|diff|`` times
  ``sfreq``, in mV/s so it does not depend on the sampling rate), and Welch log10 band powers in
  0.5-1, 1-5, 5-10, 10-20 and 20-45 Hz (bands are clipped at the Nyquist frequency; a band starting at or
  above it is left out);
* global, from R-peaks on lead II (Pan-Tompkins-like slope envelope): heart rate, RR standard deviation,
  RMSSD, a QRS width estimate from the slope envelope, and the heart rate from the envelope's
  autocorrelation with its peak height (rhythm regularity). The autocorrelation rate is the fallback heart
  rate when too few R-peaks are found; ``global_rpeaks_ok`` says which one was used.

Unknown quantities (no heart beat in a flat record, a record too short for intervals) are 0, so the output is
always finite; non-finite input samples are interpolated per lead first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.ndimage
import scipy.signal

from biojepa.adapters.ecg.leads import STANDARD_LEADS, canonical_lead
from biojepa.errors import ConfigError, DataError

__all__ = ["BANDS_HZ", "feature_names", "handcrafted_features"]

#: Frequency bands (Hz) of the per-lead log band powers, before clipping at the Nyquist frequency.
BANDS_HZ: tuple[tuple[float, float], ...] = ((0.5, 1.0), (1.0, 5.0), (5.0, 10.0), (10.0, 20.0), (20.0, 45.0))

_AMPLITUDE = (
    "std",
    "ptp",
    "p99_minus_median",
    "median_minus_p1",
    "iqr",
    "skew",
    "kurtosis",
    "mean_abs_slope",
)
_GLOBAL = (
    "hr_bpm",
    "rr_std_s",
    "rmssd_s",
    "qrs_width_s",
    "hr_autocorr_bpm",
    "autocorr_peak",
    "rpeaks_ok",
)
_EPS_POWER = 1e-12  # mV^2, floor of a band power before the log
_EPS_VAR = 1e-12  # mV^2, below this a lead counts as flat (skew / kurtosis 0)
_RR_RANGE_S = (0.3, 2.0)  # plausible RR intervals: 30-200 bpm
_MIN_INTERVAL_S = 1.0  # shorter records get no interval features
_WELCH_SEGMENT_S = 4.0  # 0.25 Hz resolution


def _bands(sfreq: float) -> list[tuple[float, float]]:
    nyquist = sfreq / 2.0
    return [(lo, min(hi, nyquist)) for lo, hi in BANDS_HZ if lo < nyquist]


def _check_sfreq(sfreq: float) -> float:
    value = float(sfreq)
    if not np.isfinite(value) or value <= 0:
        raise ConfigError(f"sfreq must be a positive number of Hz, found {sfreq!r}")
    return value


def feature_names(sfreq: float, leads: Sequence[str] = STANDARD_LEADS) -> list[str]:
    """Names of the columns of :func:`handcrafted_features` for this sampling rate and these leads.

    Args:
        sfreq: sampling rate in Hz (it decides which bands exist).
        leads: lead names, in the row order of the input.

    Returns:
        ``<lead>_<feature>`` per lead (amplitude features, then ``<lead>_logpow_<lo>_<hi>hz``), then
        ``global_<feature>``.

    Example:
        >>> names = feature_names(100.0)
        >>> len(names), names[0], names[8], names[-1]
        (163, 'I_std', 'I_logpow_0.5_1hz', 'global_rpeaks_ok')
    """
    fs = _check_sfreq(sfreq)
    per_lead = [*_AMPLITUDE, *(f"logpow_{lo:g}_{hi:g}hz" for lo, hi in _bands(fs))]
    return [f"{lead}_{name}" for lead in leads for name in per_lead] + [f"global_{name}" for name in _GLOBAL]


# ----------------------------------------------------------------------------------------- per-lead parts


def _fill_nonfinite(x: np.ndarray) -> np.ndarray:
    """Linear interpolation of non-finite samples per row of ``(R, T)``; an all-bad row becomes 0."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return x
    x = x.copy()
    t = np.arange(x.shape[1])
    for r in np.flatnonzero(bad.any(axis=1)):
        ok = ~bad[r]
        x[r] = np.interp(t, t[ok], x[r, ok]) if ok.any() else 0.0
    return x


def _amplitude_features(x: np.ndarray, sfreq: float) -> np.ndarray:
    """``(R, T)`` rows -> ``(R, 8)`` amplitude features."""
    mean = x.mean(axis=1, keepdims=True)  # (R, 1)
    centred = x - mean  # (R, T)
    m2 = np.mean(centred**2, axis=1)  # (R,)
    m3 = np.mean(centred**3, axis=1)  # (R,)
    m4 = np.mean(centred**4, axis=1)  # (R,)
    flat = m2 < _EPS_VAR
    safe = np.where(flat, 1.0, m2)
    skew = np.where(flat, 0.0, m3 / safe**1.5)
    kurt = np.where(flat, 0.0, m4 / safe**2 - 3.0)
    p1, p25, p50, p75, p99 = np.percentile(x, [1.0, 25.0, 50.0, 75.0, 99.0], axis=1)  # 5 x (R,)
    slope = (
        np.abs(np.diff(x, axis=1)).mean(axis=1) * sfreq if x.shape[1] > 1 else np.zeros(x.shape[0])
    )  # (R,)
    cols = [np.sqrt(m2), x.max(axis=1) - x.min(axis=1), p99 - p50, p50 - p1, p75 - p25, skew, kurt, slope]
    return np.stack(cols, axis=1)  # (R, 8)


def _band_powers(x: np.ndarray, sfreq: float) -> np.ndarray:
    """``(R, T)`` rows -> ``(R, n_bands)`` log10 band powers (mV^2) from Welch's periodogram."""
    bands = _bands(sfreq)
    n_rows, n_times = x.shape
    out = np.full((n_rows, len(bands)), np.log10(_EPS_POWER))  # (R, n_bands)
    if n_times < 2 or not bands:
        return out
    nperseg = int(min(n_times, max(2, round(_WELCH_SEGMENT_S * sfreq))))
    freqs, psd = scipy.signal.welch(x, fs=sfreq, nperseg=nperseg, axis=-1)  # (F,), (R, F)
    df = freqs[1] - freqs[0] if freqs.size > 1 else sfreq
    nyquist = sfreq / 2.0
    for j, (lo, hi) in enumerate(bands):
        sel = (freqs >= lo) & ((freqs < hi) | ((hi >= nyquist) & (freqs <= hi)))
        power = psd[:, sel].sum(axis=1) * df  # (R,)
        out[:, j] = np.log10(power + _EPS_POWER)
    return out


# ------------------------------------------------------------------------------------------ interval parts


def _slope_envelope(sig: np.ndarray, sfreq: float) -> tuple[np.ndarray, np.ndarray]:
    """QRS-enhanced envelopes of ``(N, T)`` lead-II signals.

    Returns:
        ``(integrated squared slope of the 5-15 Hz band (N, T), 40 ms smoothed |slope| of the raw signal (N, T))``.
    """
    n_times = sig.shape[1]
    detrended = sig - np.median(sig, axis=1, keepdims=True)  # (N, T)
    band = detrended
    high = min(15.0, 0.45 * sfreq)
    if high > 6.0:
        sos = scipy.signal.butter(2, [5.0, high], btype="bandpass", fs=sfreq, output="sos")
        padlen = min(3 * (2 * sos.shape[0] + 1), n_times - 1)
        band = scipy.signal.sosfiltfilt(sos, detrended, axis=1, padlen=padlen)  # (N, T)
    slope = np.gradient(band, axis=1) * sfreq  # (N, T)
    window = max(1, round(0.12 * sfreq))
    integrated = scipy.ndimage.uniform_filter1d(slope**2, size=window, axis=1, mode="nearest")  # (N, T)
    raw_slope = np.abs(np.gradient(detrended, axis=1)) * sfreq  # (N, T)
    smooth = scipy.ndimage.uniform_filter1d(
        raw_slope, size=max(1, round(0.04 * sfreq)), axis=1, mode="nearest"
    )
    return integrated, smooth


def _autocorr_rate(env: np.ndarray, sfreq: float) -> tuple[np.ndarray, np.ndarray]:
    """Heart rate (bpm) and normalised autocorrelation peak of ``(N, T)`` envelopes; 0 where undefined.

    The beat period is the highest autocorrelation maximum at lags of 0.3-2 s; when a maximum at about half
    that lag reaches half its height, the shorter period wins (the highest maximum is often two beats).
    """
    n_rec, n_times = env.shape
    rate = np.zeros(n_rec)
    peak = np.zeros(n_rec)
    lo = max(1, int(np.floor(_RR_RANGE_S[0] * sfreq)))
    hi = min(int(np.ceil(_RR_RANGE_S[1] * sfreq)), n_times - 2)
    if hi - lo < 2:
        return rate, peak
    centred = env - env.mean(axis=1, keepdims=True)  # (N, T)
    n_fft = 1 << int(np.ceil(np.log2(2 * n_times)))
    spec = np.fft.rfft(centred, n=n_fft, axis=1)  # (N, n_fft // 2 + 1)
    ac = np.fft.irfft(np.abs(spec) ** 2, n=n_fft, axis=1)[:, : hi + 2]  # (N, hi + 2)
    for i in range(n_rec):
        if ac[i, 0] <= 1e-20:
            continue
        r = ac[i] / ac[i, 0]  # (hi + 2,)
        maxima = lo + np.flatnonzero(
            (r[lo : hi + 1] > r[lo - 1 : hi]) & (r[lo : hi + 1] >= r[lo + 1 : hi + 2])
        )
        if not maxima.size:
            continue
        best = int(maxima[np.argmax(r[maxima])])
        while True:
            near = maxima[np.abs(maxima - best / 2.0) <= 0.15 * best / 2.0]
            if not near.size:
                break
            cand = int(near[np.argmax(r[near])])
            if r[cand] < 0.5 * r[best]:
                break
            best = cand
        if r[best] <= 0.05:
            continue
        left, mid, right = r[best - 1], r[best], r[best + 1]
        denom = left - 2.0 * mid + right
        shift = float(np.clip(0.5 * (left - right) / denom, -0.5, 0.5)) if denom < -1e-12 else 0.0
        rate[i] = 60.0 * sfreq / (best + shift)
        peak[i] = mid
    return rate, peak


def _interval_features(sig: np.ndarray, sfreq: float) -> np.ndarray:
    """``(N, T)`` lead-II signals in mV -> ``(N, 7)`` global features (see ``_GLOBAL``)."""
    n_rec, n_times = sig.shape
    out = np.zeros((n_rec, len(_GLOBAL)))  # (N, 7)
    if n_times < max(8, _MIN_INTERVAL_S * sfreq):
        return out
    integrated, smooth = _slope_envelope(sig, sfreq)
    ac_rate, ac_peak = _autocorr_rate(integrated, sfreq)
    distance = max(1, round(_RR_RANGE_S[0] * sfreq))
    search = max(1, round(0.08 * sfreq))
    for i in range(n_rec):
        env = integrated[i]
        top = _typical_beat_height(env, sfreq)
        hr = rr_std = rmssd = qrs = 0.0
        ok = 0.0
        if top > 1e-12:
            peaks, props = scipy.signal.find_peaks(env, height=0.3 * top, distance=distance)
            if peaks.size:  # drop secondary humps (S wave, tall T) far below the typical beat
                peaks = peaks[props["peak_heights"] >= 0.5 * np.median(props["peak_heights"])]
            rr = np.diff(peaks) / sfreq
            rr = rr[(rr >= _RR_RANGE_S[0]) & (rr <= _RR_RANGE_S[1])]
            if rr.size >= 2:
                hr = 60.0 / float(np.median(rr))
                rr_std = float(rr.std())
                rmssd = float(np.sqrt(np.mean(np.diff(rr) ** 2)))
                ok = 1.0
            if peaks.size:
                qrs = _qrs_width(smooth[i], peaks, search, sfreq)
        if not ok:
            hr = ac_rate[i]
        out[i] = (hr, rr_std, rmssd, qrs, ac_rate[i], ac_peak[i], ok)
    return out


def _typical_beat_height(env: np.ndarray, sfreq: float) -> float:
    """Median of the envelope's maxima over 2 s windows (each holds a beat above 30 bpm; robust to artefacts)."""
    width = max(1, round(2.0 * sfreq))
    n_win = env.shape[0] // width
    if n_win < 1:
        return float(env.max())
    return float(
        np.median(env[: n_win * width].reshape(n_win, width).max(axis=1))
    )  # (n_win, width) -> scalar


def _qrs_width(slope: np.ndarray, peaks: np.ndarray, search: int, sfreq: float) -> float:
    """Median width (s) of the slope-envelope hump around each R-peak, where it exceeds 20 % of its height.

    The height is measured above the lowest envelope value within ±0.2 s; the crossings are interpolated.
    """
    n = slope.shape[0]
    half = max(2, round(0.2 * sfreq))
    widths = []
    for p in peaks:
        a, b = max(0, p - search), min(n, p + search + 1)
        loc = a + int(np.argmax(slope[a:b]))
        lo, hi = max(0, loc - half), min(n, loc + half + 1)
        base = float(slope[lo:hi].min())
        height = float(slope[loc]) - base
        if height <= 1e-12:
            continue
        level = base + 0.2 * height
        below_left = np.flatnonzero(slope[lo:loc] < level)
        below_right = np.flatnonzero(slope[loc + 1 : hi] < level)
        if not below_left.size or not below_right.size:
            continue
        i0 = lo + int(below_left[-1])  # slope[i0] < level <= slope[i0 + 1]
        i1 = loc + 1 + int(below_right[0])  # slope[i1 - 1] >= level > slope[i1]
        left = i0 + (level - slope[i0]) / (slope[i0 + 1] - slope[i0])
        right = i1 - 1 + (slope[i1 - 1] - level) / (slope[i1 - 1] - slope[i1])
        widths.append(right - left)
    return float(np.median(widths)) / sfreq if widths else 0.0


# ------------------------------------------------------------------------------------------------ public


def handcrafted_features(
    x: np.ndarray,
    sfreq: float,
    leads: Sequence[str] = STANDARD_LEADS,
) -> np.ndarray:
    """Handcrafted features of raw ECG records (see the module docstring and :func:`feature_names`).

    Args:
        x: ``(N, C, T)`` or ``(C, T)`` samples in **mV** (not normalised), rows named by ``leads``.
        sfreq: sampling rate in Hz.
        leads: lead names of the rows; R-peaks are found on lead II (on the first row when no lead is II).

    Returns:
        float32 ``(N, F)`` (or ``(F,)`` for a single ``(C, T)`` record) with ``F = len(feature_names(sfreq,
        leads))``; always finite and deterministic.

    Raises:
        DataError: ``x`` is not 2-D/3-D, has no samples, or its row count differs from ``len(leads)``.
        ConfigError: ``sfreq`` is not a positive number.
    """
    fs = _check_sfreq(sfreq)
    arr = np.asarray(x, dtype=np.float64)
    single = arr.ndim == 2
    if single:
        arr = arr[None]  # (1, C, T)
    if arr.ndim != 3:
        raise DataError(f"expected ECG samples of shape (N, C, T) or (C, T), found shape {np.shape(x)}")
    n_rec, n_ch, n_times = arr.shape
    if n_ch != len(leads):
        raise DataError(
            f"x has {n_ch} leads (rows) but {len(leads)} lead names were given ({', '.join(leads)})"
        )
    if n_times == 0:
        raise DataError("x has no samples (T = 0); pass records with at least one sample per lead")
    canon = [canonical_lead(name) for name in leads]
    lead_ii = canon.index("II") if "II" in canon else 0
    with np.errstate(all="ignore"):  # absurd magnitudes may overflow; the output is sanitised below
        rows = _fill_nonfinite(arr.reshape(n_rec * n_ch, n_times))  # (N*C, T)
        amp = _amplitude_features(rows, fs)  # (N*C, 8)
        bands = _band_powers(rows, fs)  # (N*C, n_bands)
        per_lead = np.concatenate([amp, bands], axis=1).reshape(n_rec, -1)  # (N, C * (8 + n_bands))
        signals = rows.reshape(n_rec, n_ch, n_times)[:, lead_ii]  # (N, T)
        glob = _interval_features(signals, fs)  # (N, 7)
    out = np.concatenate([per_lead, glob], axis=1)  # (N, F)
    fmax = float(np.finfo(np.float32).max)
    out = np.nan_to_num(out, nan=0.0, posinf=fmax, neginf=-fmax)
    out = np.clip(out, -fmax, fmax).astype(np.float32)
    return out[0] if single else out
