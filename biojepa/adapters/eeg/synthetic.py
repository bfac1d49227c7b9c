"""Synthetic scalp EEG with a planted motor-imagery-like task (no download, deterministic given a seed).

Model
-----
A handful of cortical sources, each a direction ``u`` on the unit head, is seen by every electrode through a
smooth spatial footprint ``exp(-theta^2 / (2 sigma^2))``, where ``theta`` is the angle between ``u`` and the
electrode's unit-head position (:func:`~biojepa.adapters.eeg.datasets.channel_table`, ``standard_1005``)::

    x_c(t) = sum_s  footprint_cs * s_s(t)  +  e_c(t)          (µV)

=================  ===========================================================================================
source             time course (band-limited noise with random phases, built in the frequency domain)
=================  ===========================================================================================
mu, left (C3)      arch-shaped mu rhythm: a peak at the subject's ``f_mu`` (9-12.5 Hz, 1 Hz wide) and a
                   smaller beta harmonic at ``2 f_mu``; 10-16 µV RMS
mu, right (C4)     the same, independent phases
mu, midline (Cz)   the same, independent phases
alpha (Oz)         occipital alpha at the subject's ``f_alpha`` (9-11.5 Hz); 4-12 µV RMS, wide footprint
background x B     ``1/f^beta`` noise (``beta`` in 1-2) at random upper-hemisphere directions, 10-20 µV each
diffuse            ``1/f^beta`` noise near the vertex with a head-wide footprint (1.2 rad), 5-10 µV RMS
=================  ===========================================================================================

``e_c`` is white sensor noise (``noise_uv`` RMS). Every component is band-limited to 0.5-40 Hz, the S-JEPA
pass band (:data:`~biojepa.adapters.eeg.transforms.SJEPA_BAND_HZ`), so generated records look already
preprocessed. Typical channel standard deviations are 10-25 µV.

Planted task
------------
Class ``k`` desynchronises one mu source (event-related desynchronisation, ERD: its amplitude drops by a
fraction ``erd_depth`` x a subject factor x a per-record factor): class 0 (``mu_erd_left``) over the left
central area around C3, as contralateral right-hand imagery would; class 1 (``mu_erd_right``) around C4;
class 2 (``mu_erd_midline``, only with ``n_classes=3``) around Cz, as feet imagery would. The 8-13 Hz power
ratio of C3 over C4 therefore separates classes 0 and 1.

Subjects
--------
Record ``i`` belongs to subject ``i % n_subjects``. A subject fixes ``f_mu``, ``f_alpha``, a small jitter of
the mu source directions, an amplitude gain and an ERD strength (from ``default_rng([seed, tag, subject])``),
so a leave-one-subject-out split sees a shift between subjects. Labels are balanced within each subject (a
seeded permutation of the classes within consecutive blocks of ``n_classes`` of that subject's records).

Record ``i`` depends only on ``(spec without n_records, i)``: records are drawn in chunks of :data:`CHUNK`
with their own generators, so the first ``k`` records of a larger corpus equal a corpus of ``k``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import numpy as np

from biojepa.errors import ConfigError, ContractError

__all__ = [
    "CHUNK",
    "CLASS_NAMES",
    "DEFAULT_CHANNELS",
    "EEG_SYNTH_TAG",
    "EegSynthSpec",
    "simulate_eeg",
    "simulate_trials",
    "subject_ids",
]

#: Seed words that separate this generator's streams from other uses of the same seed.
EEG_SYNTH_TAG = 0x6565_6773  # "eegs": per-chunk signal stream
_SUBJECT_TAG = 0x6565_6775  # "eegu": per-subject parameters
_LABEL_TAG = 0x6565_676C  # "eegl": per-block label permutation

#: Records drawn per generator (record ``i`` uses the generator of chunk ``i // CHUNK``).
CHUNK = 32

#: Class names, in label order; ``n_classes = n`` uses the first ``n``.
CLASS_NAMES: tuple[str, ...] = ("mu_erd_left", "mu_erd_right", "mu_erd_midline")

#: The default montage: the 19 electrodes of the international 10-20 system (10-10 names T7/T8/P7/P8).
DEFAULT_CHANNELS: tuple[str, ...] = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz", "P4", "P8",
    "O1", "O2",
)  # fmt: skip

_BAND = (0.5, 40.0)  # Hz: every component is confined to the S-JEPA pass band
_FIXED = ("C3", "C4", "Cz", "Oz")  # centres of the mu (left, right, midline) and alpha sources
_MU_SIGMA = 0.35  # rad: footprint width of the mu sources (C3 -> Cz is about 0.7 rad)
_ALPHA_SIGMA = 0.55  # rad
_DIFFUSE_SIGMA = 1.2  # rad: a widespread component that reaches every electrode
_MIN_SFREQ = 2.0 * _BAND[1] + 1.0  # the band must fit below Nyquist


def _check_real(
    name: str, value: object, lo: float, hi: float | None = None, *, strict: bool = False
) -> float:
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value))
    ok = ok and (float(value) > lo if strict else float(value) >= lo) and (hi is None or float(value) <= hi)
    if not ok:
        bound = f"{'>' if strict else '>='} {lo:g}" + (f" and <= {hi:g}" if hi is not None else "")
        raise ConfigError(f"EegSynthSpec: {name} must be a finite number {bound}, found {value!r}")
    return float(value)


def _check_int(name: str, value: object, lo: int, hi: int | None = None) -> int:
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    ok = ok and int(value) >= lo and (hi is None or int(value) <= hi)
    if not ok:
        bound = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ConfigError(f"EegSynthSpec: {name} must be an integer {bound}, found {value!r}")
    return int(value)


@dataclass(frozen=True)
class EegSynthSpec:
    """What :func:`simulate_eeg` generates.

    Attributes:
        n_records: number of records ``N``.
        duration_s: record length in seconds (``T = round(duration_s * sfreq)`` samples).
        sfreq: sampling rate in Hz (> 81, so the 0.5-40 Hz band fits below Nyquist).
        channels: electrode names; every one must have a position in ``montage``.
        montage: built-in MNE montage for the positions.
        n_classes: 2 (ERD left / right) or 3 (plus midline).
        n_subjects: number of simulated subjects (record ``i`` belongs to subject ``i % n_subjects``).
        n_background: number of ``1/f`` background sources per record.
        erd_depth: mean fraction of the mu amplitude removed on the ERD side, in ``[0, 0.9]``.
        noise_uv: RMS of the white sensor noise in µV.
        seed: random seed.

    Raises:
        ConfigError: at construction, for an invalid value.
    """

    n_records: int = 256
    duration_s: float = 8.0
    sfreq: float = 128.0
    channels: tuple[str, ...] = field(default=DEFAULT_CHANNELS)
    montage: str = "standard_1005"
    n_classes: int = 2
    n_subjects: int = 1
    n_background: int = 8
    erd_depth: float = 0.5
    noise_uv: float = 1.5
    seed: int = 0

    def __post_init__(self) -> None:
        _check_int("n_records", self.n_records, 1)
        _check_real("sfreq", self.sfreq, _MIN_SFREQ)
        _check_real("duration_s", self.duration_s, 0.0, strict=True)
        if round(float(self.duration_s) * float(self.sfreq)) < 2:
            raise ConfigError(
                f"EegSynthSpec: duration_s={self.duration_s} at {self.sfreq} Hz gives fewer than 2 samples"
            )
        chans = self.channels
        if isinstance(chans, str) or not all(isinstance(c, str) and c for c in chans) or not chans:
            raise ConfigError(f"EegSynthSpec: channels must be a non-empty list of names, found {chans!r}")
        object.__setattr__(self, "channels", tuple(chans))
        if len(set(self.channels)) != len(self.channels):
            raise ConfigError(f"EegSynthSpec: channel names must be unique, found {list(self.channels)}")
        if not isinstance(self.montage, str) or not self.montage:
            raise ConfigError(f"EegSynthSpec: montage must be an MNE montage name, found {self.montage!r}")
        _check_int("n_classes", self.n_classes, 2, len(CLASS_NAMES))
        _check_int("n_subjects", self.n_subjects, 1)
        _check_int("n_background", self.n_background, 0)
        _check_real("erd_depth", self.erd_depth, 0.0, 0.9)
        _check_real("noise_uv", self.noise_uv, 0.0)
        _check_int("seed", self.seed, 0)

    @property
    def n_times(self) -> int:
        """Samples per record."""
        return round(float(self.duration_s) * float(self.sfreq))


# ---------------------------------------------------------------------------------------------------------
# geometry
# ---------------------------------------------------------------------------------------------------------
def _unit_rows(p: np.ndarray) -> np.ndarray:
    return p / np.linalg.norm(p, axis=-1, keepdims=True)


def _geometry(channels: tuple[str, ...], montage: str) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions of the electrodes ``(C, 3)`` and of the fixed source centres ``(4, 3)``."""
    from biojepa.adapters.eeg.datasets import channel_table

    _, pos = channel_table(list(channels), montage)  # (C, 3)
    unknown = [c for c, row in zip(channels, pos, strict=True) if not np.all(np.isfinite(row))]
    if unknown:
        raise ContractError(
            f"synthetic EEG needs a position for every channel, but {unknown} are not in montage "
            f"{montage!r}; "
            "use standard 10-05 names (Fp1, C3, Cz, ...) or another montage"
        )
    _, centres = channel_table(list(_FIXED), montage)  # (4, 3)
    return _unit_rows(pos), _unit_rows(centres)


def _footprint(electrodes: np.ndarray, sources: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Spatial footprints ``(..., C, S)`` of sources ``(..., S, 3)`` with widths ``(..., S)`` (radians)."""
    cos = np.einsum("cd,...sd->...cs", electrodes, sources)  # (..., C, S)
    theta = np.arccos(np.clip(cos, -1.0, 1.0))
    return np.exp(-(theta**2) / (2.0 * sigma[..., None, :] ** 2))  # (..., C, S)


def _rotate_towards(u: np.ndarray, jitter: np.ndarray) -> np.ndarray:
    """Directions ``u`` ``(S, 3)`` moved by small tangent offsets ``jitter`` ``(S, 3)`` and renormalised."""
    tangent = jitter - np.sum(jitter * u, axis=1, keepdims=True) * u  # (S, 3)
    return _unit_rows(u + tangent)


# ---------------------------------------------------------------------------------------------------------
# generation
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Subject:
    f_mu: float
    f_alpha: float
    mu_dirs: np.ndarray  # (3, 3)
    gain: float
    erd_scale: float


def _subject(spec: EegSynthSpec, s: int, centres: np.ndarray) -> _Subject:
    rng = np.random.default_rng([spec.seed, _SUBJECT_TAG, s])
    return _Subject(
        f_mu=float(rng.uniform(9.0, 12.5)),
        f_alpha=float(rng.uniform(9.0, 11.5)),
        mu_dirs=_rotate_towards(centres[:3], rng.normal(0.0, 0.06, size=(3, 3))),
        gain=float(np.exp(rng.normal(0.0, 0.15))),
        erd_scale=float(rng.uniform(0.7, 1.3)),
    )


def subject_ids(spec: EegSynthSpec) -> np.ndarray:
    """``(N,)`` int64 subject index of every record (``i % n_subjects``)."""
    return np.arange(spec.n_records, dtype=np.int64) % spec.n_subjects


def _labels(spec: EegSynthSpec, ids: np.ndarray) -> np.ndarray:
    """Labels of records ``ids``: a seeded class permutation per block of ``n_classes`` subject records."""
    subj = ids % spec.n_subjects
    j = ids // spec.n_subjects  # index of the record within its subject
    out = np.empty(ids.size, dtype=np.int64)
    perms: dict[tuple[int, int], np.ndarray] = {}
    for k, (s, jj) in enumerate(zip(subj.tolist(), j.tolist(), strict=True)):
        key = (s, jj // spec.n_classes)
        if key not in perms:
            perms[key] = np.random.default_rng([spec.seed, _LABEL_TAG, *key]).permutation(spec.n_classes)
        out[k] = perms[key][jj % spec.n_classes]
    return out


def _coefficients(
    rng: np.random.Generator, shape: tuple[int, ...], amp: np.ndarray, rms: np.ndarray, n_fft: int
) -> tuple[np.ndarray, np.ndarray]:
    """Random-phase rfft coefficients ``shape + (F,)`` (real and imaginary parts, float32).

    The spectral shape ``amp`` broadcasts to ``shape + (F,)``; the coefficients are scaled to a time-domain
    RMS ``rms`` (broadcast to ``shape``).

    Parseval for a real signal of ``n_fft`` samples whose DC and Nyquist bins are zero:
    ``rms^2 = 2 sum_k |X_k|^2 / n_fft^2``.
    """
    size = (*shape, amp.shape[-1])
    re = rng.standard_normal(size, dtype=np.float32) * amp  # shape + (F,)
    im = rng.standard_normal(size, dtype=np.float32) * amp
    power = 2.0 * np.sum(re * re + im * im, axis=-1) / float(n_fft) ** 2  # shape
    scale = (np.asarray(rms) / np.sqrt(np.maximum(power, 1e-30))).astype(np.float32)[..., None]
    return re * scale, im * scale


def _gauss(freqs: np.ndarray, centre: np.ndarray, width: float) -> np.ndarray:
    """Gaussian spectral bumps ``(..., F)`` centred at ``centre`` ``(...,)``."""
    return np.exp(-((freqs - centre[..., None]) ** 2) / (2.0 * width**2)).astype(np.float32)


def _chunk(
    spec: EegSynthSpec, k: int, electrodes: np.ndarray, centres: np.ndarray, subjects: dict[int, _Subject]
) -> np.ndarray:
    """Records ``k * CHUNK .. (k + 1) * CHUNK - 1`` as float32 ``(CHUNK, C, T)`` µV.

    A whole chunk is always drawn, so a record does not depend on ``n_records``. Only the frequency bins of
    the 0.5-40 Hz band are drawn; the sources are mixed in the frequency domain (one inverse FFT per channel).
    """
    rng = np.random.default_rng([spec.seed, EEG_SYNTH_TAG, k])
    n_t = spec.n_times
    n_fft = n_t + (n_t % 2)  # an even length, cut to n_t
    all_f = np.fft.rfftfreq(n_fft, d=1.0 / spec.sfreq)  # (F_all,)
    in_band = np.flatnonzero((all_f >= _BAND[0]) & (all_f <= _BAND[1]))  # (F,)
    freqs = all_f[in_band]  # (F,)
    m, n_c, n_b = CHUNK, electrodes.shape[0], spec.n_background
    ids = np.arange(k * CHUNK, (k + 1) * CHUNK)  # (m,)
    subj = [subjects[int(i % spec.n_subjects)] for i in ids]
    labels = _labels(spec, ids)  # (m,)
    # -- per-record draws
    mu_rms = rng.uniform(10.0, 16.0, size=(m, 3))  # (m, 3) µV
    alpha_rms = rng.uniform(4.0, 12.0, size=m)  # (m,)
    erd_jitter = rng.uniform(0.6, 1.4, size=m)  # (m,)
    bg_dirs = rng.standard_normal((m, n_b, 3))  # (m, B, 3)
    bg_dirs[..., 2] = np.abs(bg_dirs[..., 2])  # upper hemisphere
    bg_dirs = _unit_rows(bg_dirs)
    bg_sigma = rng.uniform(0.4, 0.9, size=(m, n_b))  # (m, B) rad
    bg_beta = rng.uniform(1.0, 2.0, size=(m, n_b))  # (m, B)
    bg_rms = rng.uniform(10.0, 20.0, size=(m, n_b))  # (m, B) µV
    diffuse_dir = _unit_rows(rng.normal(0.0, 0.3, size=(m, 1, 3)) + np.array([0.0, 0.0, 1.0]))  # (m, 1, 3)
    diffuse_beta = rng.uniform(1.0, 2.0, size=(m, 1))  # (m, 1)
    diffuse_rms = rng.uniform(5.0, 10.0, size=(m, 1))  # (m, 1) µV
    gain = np.array([s.gain for s in subj])  # (m,)
    # -- amplitudes, with the planted ERD on the labelled mu source
    mu = mu_rms * gain[:, None]  # (m, 3)
    depth = np.clip(spec.erd_depth * np.array([s.erd_scale for s in subj]) * erd_jitter, 0.0, 0.95)  # (m,)
    mu[np.arange(m), labels] *= 1.0 - depth
    # -- spectra of the sources
    f_mu = np.array([s.f_mu for s in subj])  # (m,)
    mu_amp = _gauss(freqs, f_mu, 1.0) + 0.35 * _gauss(freqs, 2.0 * f_mu, 2.0)  # (m, F)
    alpha_amp = _gauss(freqs, np.array([s.f_alpha for s in subj]), 0.8)  # (m, F)
    bg_amp = (freqs[None, None, :] ** (-bg_beta[..., None] / 2.0)).astype(np.float32)  # (m, B, F)
    diffuse_amp = (freqs[None, None, :] ** (-diffuse_beta[..., None] / 2.0)).astype(np.float32)  # (m, 1, F)
    parts = [
        _coefficients(rng, (m, 3), mu_amp[:, None, :], mu, n_fft),  # (m, 3, F) x 2
        _coefficients(rng, (m, 1), alpha_amp[:, None, :], (alpha_rms * gain)[:, None], n_fft),  # (m, 1, F)
        _coefficients(rng, (m, n_b), bg_amp, bg_rms * gain[:, None], n_fft),  # (m, B, F)
        _coefficients(rng, (m, 1), diffuse_amp, diffuse_rms * gain[:, None], n_fft),  # (m, 1, F)
    ]
    noise_re, noise_im = _coefficients(
        rng, (m, n_c), np.ones((1, 1, freqs.size), np.float32), np.full((m, n_c), float(spec.noise_uv)), n_fft
    )  # (m, C, F)
    # -- footprints and mixing
    mu_dirs = np.stack([s.mu_dirs for s in subj])  # (m, 3, 3)
    fp_mu = _footprint(electrodes, mu_dirs, np.full((m, 3), _MU_SIGMA))  # (m, C, 3)
    fp_alpha = _footprint(electrodes, np.repeat(centres[None, 3:4], m, 0), np.full((m, 1), _ALPHA_SIGMA))
    fp_bg = _footprint(electrodes, bg_dirs, bg_sigma)  # (m, C, B)
    fp_diffuse = _footprint(electrodes, diffuse_dir, np.full((m, 1), _DIFFUSE_SIGMA))  # (m, C, 1)
    mix = np.concatenate([fp_mu, fp_alpha, fp_bg, fp_diffuse], axis=2).astype(np.float32)  # (m, C, S)
    src_re = np.concatenate([p[0] for p in parts], axis=1)  # (m, S, F)
    src_im = np.concatenate([p[1] for p in parts], axis=1)  # (m, S, F)
    full = np.zeros((m, n_c, all_f.size), dtype=np.complex64)  # (m, C, F_all)
    full[..., in_band] = (mix @ src_re + noise_re) + 1j * (mix @ src_im + noise_im)
    x = np.fft.irfft(full, n=n_fft, axis=-1)[..., :n_t]  # (m, C, T)
    return x.astype(np.float32)


def _simulate(spec: EegSynthSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    electrodes, centres = _geometry(spec.channels, spec.montage)
    subjects = {s: _subject(spec, s, centres) for s in range(spec.n_subjects)}
    n_chunks = math.ceil(spec.n_records / CHUNK)
    x = np.concatenate([_chunk(spec, k, electrodes, centres, subjects) for k in range(n_chunks)], axis=0)[
        : spec.n_records
    ]  # (N, C, T)
    ids = np.arange(spec.n_records, dtype=np.int64)
    return x, _labels(spec, ids), subject_ids(spec)


def simulate_eeg(spec: EegSynthSpec | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Generate the corpus described by ``spec`` (see the module docstring).

    Args:
        spec: what to generate (default :class:`EegSynthSpec()`).

    Returns:
        ``(x, y)``: float32 ``(N, C, T)`` in µV with the rows in ``spec.channels`` order, and int64 ``(N,)``
        labels in ``0 .. n_classes - 1`` (names: :data:`CLASS_NAMES`).

    Raises:
        ContractError: a channel has no position in ``spec.montage``.
        OptionalDependencyError: MNE (the ``eeg`` extra, for the montage) is not installed.

    Example:
        >>> x, y = simulate_eeg(EegSynthSpec(n_records=4, duration_s=2.0))
        >>> x.shape, x.dtype.name, y.tolist()
        ((4, 19, 256), 'float32', [0, 1, 1, 0])
    """
    x, y, _ = _simulate(spec if spec is not None else EegSynthSpec())
    return x, y


def simulate_trials(
    *,
    n_subjects: int = 4,
    trials_per_subject: int = 40,
    n_times: int = 536,
    sfreq: float = 128.0,
    channels: tuple[str, ...] | list[str] = DEFAULT_CHANNELS,
    n_classes: int = 2,
    seed: int = 0,
    **spec_kwargs: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Motor-imagery-like trials of several simulated subjects (for BCI fine-tuning and LOSO tests).

    Args:
        n_subjects: number of subjects.
        trials_per_subject: trials of each subject (classes balanced within a subject up to one block).
        n_times: samples per trial.
        sfreq: sampling rate in Hz.
        channels: electrode names.
        n_classes: 2 or 3.
        seed: random seed.
        **spec_kwargs: other :class:`EegSynthSpec` fields (``erd_depth``, ``noise_uv``, ...).

    Returns:
        ``(X, y, subjects)``: float32 ``(n, C, n_times)`` µV, int64 ``(n,)`` labels, int64 ``(n,)`` subject
        indices in ``0 .. n_subjects - 1``, sorted by subject.

    Raises:
        ConfigError: invalid sizes or spec fields.
    """
    n_subjects = _check_int("n_subjects", n_subjects, 1)
    per = _check_int("trials_per_subject", trials_per_subject, 1)
    n_times = _check_int("n_times", n_times, 2)
    spec = EegSynthSpec(
        n_records=n_subjects * per,
        duration_s=n_times / float(sfreq),
        sfreq=sfreq,
        channels=tuple(channels),
        n_classes=n_classes,
        n_subjects=n_subjects,
        seed=seed,
        **spec_kwargs,
    )
    x, y, subj = _simulate(spec)
    order = np.argsort(subj, kind="stable")  # group the trials of each subject
    return x[order], y[order], subj[order]
