"""An embedded synthetic 12-lead ECG corpus with a planted, clinically flavoured label (no download).

Model
-----
The heart is a single current dipole ``d(t) = (x, y, z)`` in mV (``x`` towards the patient's left, ``y``
inferior, ``z`` anterior) — a vectorcardiogram. Every beat adds, on each axis, a sum of Gaussian waves
(P, Q, R, S and a two-part T) centred at fixed offsets from its R peak (the 3-D dipole idea of Sameni et
al. 2007, written as a direct sum in time rather than an ODE)::

    d(t) = sum_beats sum_waves  g_bw * a_w * exp(-(t - r_b - o_w)^2 / (2 s_w^2))     a_w in R^3

P and T offsets and widths scale with the preceding RR interval (``RR**0.2`` and ``RR**0.5``, a Bazett-like
QT adaptation); Q, R, S do not. Each record draws a heart rate (50-110 bpm), respiratory sinus arrhythmia
(a sinusoidal RR modulation at the breathing rate) plus beat-to-beat RR jitter, a body gain, per-wave
amplitude jitter and a random heart-axis rotation (about +-25 deg frontal, +-20 deg horizontal, +-10 deg
sagittal); breathing also modulates beat amplitudes.

Leads
-----
The dipole is seen by nine electrodes (RA, LA, LL, V1..V6) through fixed lead-field vectors; each electrode
adds its own baseline wander (< 0.5 Hz: breathing and slow drift) and white noise. The 12 leads are the
standard differences of electrode potentials, so Einthoven's and Goldberger's relations hold exactly::

    I = LA - RA     II = LL - RA     III = LL - LA = II - I
    aVR = RA - (LA + LL) / 2 = -(I + II) / 2     aVL = I - II / 2     aVF = II - I / 2
    Vi = Vi - (RA + LA + LL) / 3          (Wilson's central terminal)

Limb lead I looks along ``x`` and II at +60 deg in the frontal plane; V1..V6 look along horizontal vectors
sweeping from right-anterior (V1, 120 deg) to left-lateral (V6, 0 deg), with larger gains for V2-V4 (closer
to the heart). The noise level ``noise_mv`` is the standard deviation of the noise in leads I, II and III
(electrode noise ``noise_mv / sqrt(2)``); precordial leads get ``sqrt(2/3)`` of it.

Classes (balanced)
------------------
===== ================ =====================================================================================
label name             what changes
===== ================ =====================================================================================
0     ``normal``       nothing (sinus rhythm, QRS about 85 ms)
1     ``lbbb_like``    QRS twice as wide (Q, R, S offsets and widths x2, about 170 ms), no septal q, a
                       more posterior QRS (deep S in V1), discordant (inverted) T wave
2     ``st_elevation`` an injury current during the ST segment (a plateau from the J point into the T
                       wave, 0.1-0.25 mV x gain) towards an anterior, inferior or lateral territory: ST raised
                       in that subset of leads, reciprocal depression opposite
3     ``af_like``      no P wave, irregularly irregular RR (log-normal, CV about 0.15-0.25), small 4-8 Hz
                       fibrillatory waves
===== ================ =====================================================================================

Record ``i`` of :func:`simulate_ecg` depends only on ``(seed, i)``: it uses its own generator
``np.random.default_rng([seed, i, ECG_SYNTH_TAG])``, and labels are a seeded permutation of the classes
within consecutive blocks of ``n_classes`` records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np
from scipy.special import expit

from biojepa.adapters.ecg.leads import STANDARD_LEADS
from biojepa.errors import ConfigError

__all__ = [
    "CLASS_NAMES",
    "ECG_SYNTH_TAG",
    "LEAD_PROJECTION",
    "EcgSynthSpec",
    "simulate_ecg",
    "simulate_record",
]

#: Seed words that separate this generator's streams from other uses of the same seed.
ECG_SYNTH_TAG = 0x6563_6773  # "ecgs": per-record signal stream
_LABEL_TAG = 0x6563_676C  # "ecgl": per-block label permutation

#: Class names, in label order; ``EcgSynthSpec.n_classes = n`` uses the first ``n``.
CLASS_NAMES: tuple[str, ...] = ("normal", "lbbb_like", "st_elevation", "af_like")

# ---------------------------------------------------------------------------------------------------------
# Beat template (heart coordinates: x left, y inferior, z anterior; seconds relative to the R peak at RR = 1 s)
# ---------------------------------------------------------------------------------------------------------
_P, _Q, _R, _S, _T1, _T2 = range(6)
_OFFSET = np.array([-0.165, -0.022, 0.0, 0.024, 0.255, 0.305])  # (W,) s
_WIDTH = np.array([0.022, 0.008, 0.010, 0.009, 0.050, 0.030])  # (W,) s, Gaussian sigma
_RATE_EXP = np.array([0.2, 0.0, 0.0, 0.0, 0.5, 0.5])  # (W,) offsets/widths scale as RR**exp
_AMP = np.array(
    [
        [0.06, 0.10, 0.03],  # P: left, inferior, slightly anterior
        [-0.08, -0.03, 0.10],  # Q: septal, right-anterior
        [0.55, 0.75, -0.05],  # R: left, inferior, slightly posterior
        [-0.10, -0.20, -0.18],  # S: terminal, right-superior-posterior
        [0.10, 0.12, 0.08],  # T, first part
        [0.07, 0.09, 0.06],  # T, second part (asymmetric T)
    ]
)  # (W, 3) mV
_QRS = np.array([_Q, _R, _S])
_T = np.array([_T1, _T2])

# ST injury territories (unit vectors in heart coordinates): anterior, inferior, lateral.
_INJURY = np.array([[0.25, 0.0, 1.0], [0.0, 1.0, 0.2], [1.0, -0.3, 0.2]])  # (3, 3)
_INJURY = _INJURY / np.linalg.norm(_INJURY, axis=1, keepdims=True)
_AF_VECTOR = np.array([-0.3, 0.5, 0.8]) / math.sqrt(0.98)  # fibrillatory waves: right-anterior-inferior

# ---------------------------------------------------------------------------------------------------------
# Electrodes and leads
# ---------------------------------------------------------------------------------------------------------
_ELECTRODES = ("RA", "LA", "LL", "V1", "V2", "V3", "V4", "V5", "V6")


def _lead_fields() -> np.ndarray:
    """``(9, 3)`` lead-field vectors of the electrodes; RA + LA + LL = 0 (Wilson's terminal sees no dipole)."""
    u_i = np.array([1.0, 0.0, 0.0])  # lead I: 0 deg in the frontal plane
    u_ii = np.array([0.5, math.sqrt(3.0) / 2.0, 0.0])  # lead II: +60 deg
    ra = -(u_i + u_ii) / 3.0
    limb = np.stack([ra, ra + u_i, ra + u_ii])  # (3, 3): RA, LA, LL
    angle = np.deg2rad([120.0, 100.0, 80.0, 60.0, 30.0, 0.0])  # right-anterior -> left-lateral
    tilt = np.array([0.0, 0.0, 0.05, 0.1, 0.15, 0.15])  # slight inferior component of V3..V6
    vec = np.stack([np.cos(angle), tilt, np.sin(angle)], axis=1)  # (6, 3)
    vec = vec / np.linalg.norm(vec, axis=1, keepdims=True)
    gain = np.array([1.3, 2.0, 2.1, 1.9, 1.6, 1.3])  # proximity of V2-V4 to the heart
    return np.concatenate([limb, vec * gain[:, None]], axis=0)  # (9, 3)


def _leads_from_electrodes(e: np.ndarray) -> np.ndarray:
    """The 12 standard leads (STANDARD_LEADS order) from electrode rows RA, LA, LL, V1..V6.

    Written as explicit differences rather than a matrix product: exact identities, and no BLAS call (tiny
    BLAS products are slow when threads contend for cores).

    Args:
        e: ``(9, ...)`` electrode potentials (or lead-field vectors).

    Returns:
        ``(12, ...)`` leads.
    """
    ra, la, ll = e[0], e[1], e[2]
    wct = (ra + la + ll) / 3.0  # Wilson's central terminal
    limb = [la - ra, ll - ra, ll - la, ra - (la + ll) / 2.0, la - (ra + ll) / 2.0, ll - (ra + la) / 2.0]
    return np.concatenate([np.stack(limb), e[3:] - wct[None]], axis=0)  # (12, ...)


_FIELDS = _lead_fields()  # (9, 3)
#: The fixed ``(12, 3)`` projection of the heart dipole onto the 12 leads (STANDARD_LEADS order).
LEAD_PROJECTION: np.ndarray = _leads_from_electrodes(_FIELDS)
LEAD_PROJECTION.setflags(write=False)

# Physiological ranges.
_HR_RANGE = (50.0, 110.0)  # bpm
_RR_FLOOR = 0.3  # s, refractory floor of any RR interval
_RR_CEIL = 2.0  # s, longest RR interval (pause)
_MIN_SFREQ = 50.0  # Hz; below it the QRS complex is not representable


def _rotation(rng: np.random.Generator) -> np.ndarray:
    """A random heart-axis rotation ``(3, 3)``: frontal +-25 deg, horizontal +-20 deg, sagittal +-10 deg."""
    a, b, c = np.deg2rad(rng.uniform([-25.0, -20.0, -10.0], [25.0, 20.0, 10.0]))
    rz = np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[math.cos(b), 0.0, -math.sin(b)], [0.0, 1.0, 0.0], [math.sin(b), 0.0, math.cos(b)]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(c), -math.sin(c)], [0.0, math.sin(c), math.cos(c)]])
    return rz @ ry @ rx


def _beat_times(
    rng: np.random.Generator, rr0: float, label: int, duration_s: float, f_resp: float, resp_phase: float
) -> np.ndarray:
    """R-peak times ``(B,)`` in s covering ``[-1 s, duration + 1 s]`` (sinus with RSA, or AF-like)."""
    n = math.ceil((duration_s + 2.0 + rr0) / _RR_FLOOR) + 2
    if label == 3:  # irregularly irregular: i.i.d. log-normal intervals
        sigma = rng.uniform(0.15, 0.25)
        eps = np.clip(rng.standard_normal(n), -2.5, 2.5)  # (n,) truncated: no pauses beyond ~2 RR
        rr = rr0 * np.exp(sigma * eps - 0.5 * sigma**2)  # (n,)
    else:  # sinus: respiratory sinus arrhythmia + small beat-to-beat jitter
        rsa = rng.uniform(0.01, 0.05)
        jitter = rng.uniform(0.005, 0.02)
        t_approx = np.arange(n) * rr0  # (n,) beat times, to phase the breathing
        rr = rr0 * (
            1.0 + rsa * np.sin(2 * np.pi * f_resp * t_approx + resp_phase) + jitter * rng.standard_normal(n)
        )  # (n,)
    rr = np.clip(rr, _RR_FLOOR, _RR_CEIL)
    r = -1.0 - rng.uniform(0.0, rr0) + np.concatenate([[0.0], np.cumsum(rr)])  # (n + 1,)
    return r[: int(np.searchsorted(r, duration_s + 1.0)) + 1]


def _check_real(name: str, value: object, lo: float, *, strict: bool, where: str) -> float:
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value))
    ok = ok and (float(value) > lo if strict else float(value) >= lo)
    if not ok:
        raise ConfigError(
            f"{where}: {name} must be a finite number {'>' if strict else '>='} {lo:g}, found {value!r}"
        )
    return float(value)


def _check_int(name: str, value: object, lo: int, hi: int | None, *, where: str) -> int:
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    ok = ok and int(value) >= lo and (hi is None or int(value) <= hi)
    if not ok:
        rng = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ConfigError(f"{where}: {name} must be an integer {rng}, found {value!r}")
    return int(value)


def _n_times(sfreq: float, duration_s: float, where: str) -> int:
    n = round(duration_s * sfreq)
    if n < 1:
        raise ConfigError(
            f"{where}: duration_s * sfreq = {duration_s:g} s * {sfreq:g} Hz leaves no sample; "
            "use a longer duration or a higher sampling rate"
        )
    return n


def simulate_record(
    rng: np.random.Generator, *, sfreq: float, duration_s: float, label: int, noise_mv: float
) -> np.ndarray:
    """One synthetic 12-lead ECG of class ``label`` (see the module docstring).

    Args:
        rng: the record's generator (all randomness is drawn from it).
        sfreq: sampling rate in Hz (>= 50).
        duration_s: length in seconds; the record has ``round(duration_s * sfreq)`` samples.
        label: class id, ``0 .. 3`` (:data:`CLASS_NAMES`).
        noise_mv: white-noise standard deviation in leads I, II, III (mV, >= 0).

    Returns:
        float32 ``(12, T)`` in mV, rows in :data:`~biojepa.adapters.ecg.leads.STANDARD_LEADS` order.

    Raises:
        ConfigError: an argument is out of range.
    """
    where = "simulate_record"
    if not isinstance(rng, np.random.Generator):
        raise ConfigError(
            f"{where}: rng must be a numpy Generator (np.random.default_rng(...)), found {rng!r}"
        )
    sfreq = _check_real("sfreq", sfreq, _MIN_SFREQ, strict=False, where=where)
    duration_s = _check_real("duration_s", duration_s, 0.0, strict=True, where=where)
    noise_mv = _check_real("noise_mv", noise_mv, 0.0, strict=False, where=where)
    label = _check_int("label", label, 0, len(CLASS_NAMES) - 1, where=where)
    n_t = _n_times(sfreq, duration_s, where)
    t = np.arange(n_t) / sfreq  # (T,) s

    # --- record-level draws -----------------------------------------------------------------------------
    rr0 = 60.0 / rng.uniform(*_HR_RANGE)
    f_resp = rng.uniform(0.15, 0.35)  # Hz, breathing
    resp_phase = rng.uniform(0.0, 2 * np.pi)
    rot = _rotation(rng)  # (3, 3)
    body_gain = rng.uniform(0.65, 1.45)
    amp = _AMP * rng.uniform(0.85, 1.15, (len(_AMP), 1)) * body_gain  # (W, 3) mV
    offset, width = _OFFSET.copy(), _WIDTH.copy()  # (W,)
    if label == 1:  # LBBB-like: QRS x2, no septal q, discordant T
        offset[_QRS] *= 2.0
        width[_QRS] *= 2.0
        amp[_Q] = 0.0
        amp[_R, 2] -= 0.25 * body_gain  # more posterior: deep S in V1, broad R in V6
        amp[_T] *= -0.8
    elif label == 3:  # AF-like: no P wave
        amp[_P] = 0.0
    amp = amp @ rot.T  # (W, 3) rotated heart

    # --- beats ------------------------------------------------------------------------------------------
    r = _beat_times(rng, rr0, label, duration_s, f_resp, resp_phase)  # (B,)
    n_b = r.shape[0]
    rr_prev = np.diff(r, prepend=r[0] - rr0)  # (B,)
    scale = rr_prev[:, None] ** _RATE_EXP[None, :]  # (B, W)
    centre = r[:, None] + offset[None, :] * scale  # (B, W) s
    sigma = width[None, :] * scale  # (B, W) s
    breath = 1.0 + 0.05 * np.sin(2 * np.pi * f_resp * r + resp_phase)  # (B,)
    gain = breath[:, None] * (1.0 + 0.02 * rng.standard_normal((n_b, len(_AMP))))  # (B, W)

    # each sample sees its latest beat, the two before it and the next one: waves reach at most ~0.5 s
    # from their R peak and every RR is >= 0.3 s, so farther beats contribute nothing measurable
    last = np.searchsorted(r, t, side="right") - 1  # (T,)
    near = last[None, :] + np.array([-2, -1, 0, 1])[:, None]  # (4, T) beat indices
    valid = (near >= 0) & (near < n_b)  # (4, T)
    near = np.clip(near, 0, n_b - 1)  # (4, T)
    z = (t[None, :, None] - centre[near]) / sigma[near]  # (4, T, W)
    z2 = np.minimum(z * z, 400.0)  # (4, T, W); exp(-200) is 0 to us and avoids slow subnormal arithmetic
    g = (np.exp(-0.5 * z2) * gain[near] * valid[..., None]).sum(axis=0)  # (T, W)
    dipole = np.einsum("tw,wk->kt", g, amp)  # (3, T) mV

    if label == 2:  # ST elevation: injury current from the J point into the T wave
        territory = _INJURY[rng.integers(len(_INJURY))] @ rot.T  # (3,)
        level = rng.uniform(0.1, 0.25) * body_gain
        tau = t[None, :] - r[near]  # (4, T) s since each neighbouring beat
        st_end = 0.24 * np.sqrt(rr_prev[near])  # (4, T)
        plateau = expit((tau - 0.045) / 0.006) * expit((st_end - tau) / 0.03) * valid  # (4, T)
        dipole = dipole + level * territory[:, None] * plateau.sum(axis=0)[None, :]  # (3, T)
    elif label == 3:  # fibrillatory waves, 4-8 Hz with a wandering rate
        f0 = rng.uniform(5.0, 7.0)
        inst = f0 + 1.0 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t + rng.uniform(0, 2 * np.pi))  # (T,)
        phase = 2 * np.pi * np.cumsum(inst) / sfreq + rng.uniform(0, 2 * np.pi)  # (T,)
        f_amp = rng.uniform(0.03, 0.07) * (
            1.0 + 0.3 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 2 * np.pi))
        )
        dipole = dipole + (_AF_VECTOR @ rot.T)[:, None] * (f_amp * np.sin(phase))[None, :]  # (3, T)

    # --- electrodes: dipole + baseline wander (< 0.5 Hz) + white noise ----------------------------------
    n_e = len(_ELECTRODES)
    electrodes = np.einsum("ek,kt->et", _FIELDS, dipole)  # (9, T)
    resp_amp = rng.uniform(0.0, 0.12, (n_e, 1))  # (9, 1) mV
    drift_amp = rng.uniform(0.0, 0.15, (n_e, 1))  # (9, 1) mV
    drift_f = rng.uniform(0.02, 0.1, (n_e, 1))  # (9, 1) Hz
    drift_phase = rng.uniform(0.0, 2 * np.pi, (n_e, 1))  # (9, 1)
    wander = resp_amp * np.sin(2 * np.pi * f_resp * t[None, :] + resp_phase + 0.3 * np.arange(n_e)[:, None])
    wander = wander + drift_amp * np.sin(2 * np.pi * drift_f * t[None, :] + drift_phase)  # (9, T)
    noise = (noise_mv / math.sqrt(2.0)) * rng.standard_normal((n_e, n_t))  # (9, T)
    leads = _leads_from_electrodes(electrodes + wander + noise)  # (12, T)
    return leads.astype(np.float32)


@dataclass(frozen=True)
class EcgSynthSpec:
    """Parameters of :func:`simulate_ecg`.

    Attributes:
        n_records: number of records ``N`` (>= 1).
        sfreq: sampling rate in Hz (>= 50).
        duration_s: seconds per record (> 0); ``T = round(duration_s * sfreq)``.
        noise_mv: white-noise standard deviation in leads I-III, mV (>= 0).
        seed: seed (>= 0); the same spec always gives the same data, and record ``i`` does not depend on
            ``n_records``.
        n_classes: 1..4, the first ``n_classes`` of :data:`CLASS_NAMES`.

    Raises:
        ConfigError: a field is out of range (the message names the field).
    """

    n_records: int = 256
    sfreq: float = 100.0
    duration_s: float = 10.0
    noise_mv: float = 0.02
    seed: int = 0
    n_classes: int = 4

    def __post_init__(self) -> None:
        where = "EcgSynthSpec"
        _check_int("n_records", self.n_records, 1, None, where=where)
        _check_int("seed", self.seed, 0, None, where=where)
        _check_int("n_classes", self.n_classes, 1, len(CLASS_NAMES), where=where)
        sfreq = _check_real("sfreq", self.sfreq, _MIN_SFREQ, strict=False, where=where)
        duration = _check_real("duration_s", self.duration_s, 0.0, strict=True, where=where)
        _check_real("noise_mv", self.noise_mv, 0.0, strict=False, where=where)
        _n_times(sfreq, duration, where)

    @property
    def n_times(self) -> int:
        """Samples per record, ``round(duration_s * sfreq)``."""
        return round(self.duration_s * self.sfreq)


def _labels(seed: int, n_records: int, n_classes: int) -> np.ndarray:
    """Balanced labels ``(N,)``: a seeded permutation of the classes in each block of ``n_classes`` records."""
    n_blocks = -(-n_records // n_classes)
    blocks = [np.random.default_rng([seed, b, _LABEL_TAG]).permutation(n_classes) for b in range(n_blocks)]
    return np.concatenate(blocks)[:n_records].astype(np.int64)  # (N,)


def simulate_ecg(spec: EcgSynthSpec | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Generate the corpus (deterministic given ``spec``).

    Args:
        spec: the parameters (default :class:`EcgSynthSpec`).

    Returns:
        ``(x, y)``: ``x`` float32 ``(N, 12, T)`` in mV, leads in
        :data:`~biojepa.adapters.ecg.leads.STANDARD_LEADS` order; ``y`` int64 ``(N,)``, balanced classes
        ``0 .. n_classes - 1`` (names in :data:`CLASS_NAMES`).

    Example:
        >>> x, y = simulate_ecg(EcgSynthSpec(n_records=8, duration_s=2.0))
        >>> x.shape, x.dtype, sorted(np.bincount(y).tolist())
        ((8, 12, 200), dtype('float32'), [2, 2, 2, 2])
    """
    spec = spec or EcgSynthSpec()
    y = _labels(spec.seed, spec.n_records, spec.n_classes)  # (N,)
    x = np.empty((spec.n_records, len(STANDARD_LEADS), spec.n_times), dtype=np.float32)  # (N, 12, T)
    for i in range(spec.n_records):
        rng = np.random.default_rng([spec.seed, i, ECG_SYNTH_TAG])
        x[i] = simulate_record(
            rng, sfreq=spec.sfreq, duration_s=spec.duration_s, label=int(y[i]), noise_mv=spec.noise_mv
        )
    return x, y
