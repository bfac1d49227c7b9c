"""Synthetic multichannel signals with a planted task that a random encoder cannot solve.

Design
------
Every record is one quasi-periodic wave seen on ``C`` channels, a quarter period apart. With ``t`` in
samples and ``P`` the record's period::

    x[c, t] = amplitude * (w_k(phase(t - d[c])) + noise * eps[c, t]) / sqrt(1 + noise**2)
    phase(t) = phase0 + t / P + m * sin(2 pi t / Q + psi)                 (cycles; increasing in t)
    d[c]     = c * P / 4 + jitter[c]                                     (jitter ~ U(0, 4) samples)
    w_k(u)   = sum_h  q**h * cos(2 pi h u + theta_k) / norm,    h = 1 .. K,  K < P / 2.2

*The label is the phase of the harmonics*, ``theta_k`` for class ``k`` (``n_classes`` in 2..4):

===== ========== ==================================================================
class theta      shape of one cycle
===== ========== ==================================================================
0     0          a sharp upward spike (all harmonics in cosine phase)
1     pi         the same spike pointing down (``w_1 = -w_0``)
2     pi / 2     a biphasic wave, peak then trough (``w_2`` = Hilbert transform of ``w_0``)
3     -pi / 2    trough then peak (``w_3 = -w_2``; also ``w_2`` reversed in time)
===== ========== ==================================================================

Rotating every harmonic by the same ``theta`` leaves every *second-order* statistic unchanged: the power
spectrum and autocovariance of each channel, and the cross-spectra between channels (the rotation cancels
in ``X_i X_j*``), are identical in every class. The class lives in how the harmonics are phase-coupled
(third and higher order: the skewness of ``x`` and of its derivative, the bispectrum), i.e. in the *shape*
of a cycle, which spans several 16-sample patches.

*Nuisance, drawn independently of the class:* the period ``P ~ U(24, 64)`` samples, the harmonic roll-off
``q = exp(-1 / rho)``, ``rho ~ U(1.5, 4)``, the global phase ``phase0 ~ U(0, 1)``, a slow phase modulation
(``m ~ U(0, 0.15)`` cycles, ``Q ~ U(300, 800)`` samples), the channel jitter and white noise. Every channel
has standard deviation ``amplitude`` (there are no gains or offsets to learn).

Why a random encoder cannot read it: a patch token of a random encoder is a random linear projection of
all ``C`` channels of a patch (then smooth nonlinearities). The channels show the same wave at phases a
quarter period apart, so a random mixture of them has scrambled harmonic phases: its skewness and other
odd-order statistics are nearly the same whatever the class, and what is left is second order, identical by
construction. A trained encoder can learn channel-selective, phase-aligned filters; JEPA pretraining has a
reason to, because continuing the wave into a masked block needs its shape. Measured on the tiny ViT
(docs/synthetic.md): random-init encoders ~0.25-0.30 accuracy (chance 0.25), JEPA-pretrained ~0.99.

``amplitude`` defaults to 2: with unit-variance input the tiny ViT's patch embedding (initial weights of
std 0.02) is small next to its positional embedding, and JEPA pretraining then lingers much longer in a
position-only solution before it learns the wave (measured; see docs/synthetic.md).

All structure is defined in samples (periods, delays), so ``sfreq`` only labels the time axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np

from biojepa.data.record import Record
from biojepa.errors import ConfigError

__all__ = ["CLASS_PHASES", "SyntheticSpec", "make_synthetic", "synthetic_records", "waveform"]

#: Seed word that separates the generator's stream from other uses of the same seed.
SYNTH_TAG = 0x7379_6E74  # "synt"
#: Harmonic phase ``theta`` of each class (radians).
CLASS_PHASES = (0.0, math.pi, math.pi / 2, -math.pi / 2)
_PERIOD_RANGE = (24.0, 64.0)  # samples per cycle
_ROLLOFF_RANGE = (1.5, 4.0)  # rho: harmonic amplitudes decay as exp(-h / rho)
_NYQUIST_MARGIN = 2.2  # harmonics h < P / 2.2 (below 0.45 cycles per sample)
_CHANNEL_STEP = 0.25  # cycles between neighbouring channels
_JITTER = 4.0  # samples, per channel and record
_MOD_DEPTH = 0.15  # cycles (maximum)
_MOD_PERIOD = (300.0, 800.0)  # samples
_CHUNK = 64  # records generated at once (bounds memory)


def _n_harmonics(period: np.ndarray | float) -> np.ndarray:
    """Number of harmonics ``K`` kept for a period: the largest ``h`` with ``h < P / 2.2`` (at least 1)."""
    limit = np.asarray(period, dtype=np.float64) / _NYQUIST_MARGIN
    return np.maximum(np.ceil(limit) - 1, 1).astype(np.int64)


def _harmonic_sum(phase: np.ndarray, theta: np.ndarray, q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``sum_{h=1..K} q^h cos(2 pi h phase + theta)``, normalised to unit variance over a cycle.

    Closed form of the geometric series: with ``u = q exp(2 pi i phase)``,
    ``sum_h u^h = u (1 - u^K) / (1 - u)``. All arguments broadcast against each other.
    """
    u = q * np.exp(2j * np.pi * phase)  # broadcast shape
    u_k = q**k * np.exp(2j * np.pi * k * phase)  # u**K
    series = u * (1.0 - u_k) / (1.0 - u)  # |u| = q < 1, so 1 - u != 0
    wave = np.real(np.exp(1j * theta) * series)
    var = 0.5 * q**2 * (1.0 - q ** (2 * k)) / (1.0 - q**2)  # sum_h q^(2h) / 2
    return wave / np.sqrt(var)


def waveform(
    phase: np.ndarray,
    label: np.ndarray | int = 0,
    *,
    rolloff: float = 2.5,
    n_harmonics: int = 8,
) -> np.ndarray:
    """The zero-mean, unit-variance periodic waveform of class ``label`` at ``phase`` (in cycles).

    Args:
        phase: phases in cycles (any shape).
        label: class id ``0..3`` (see the module docstring); broadcastable to ``phase``.
        rolloff: ``rho`` in ``q = exp(-1 / rho)`` (larger: sharper cycles, more harmonics).
        n_harmonics: number of harmonics ``K`` (>= 1).

    Returns:
        Float64 array of the broadcast shape of ``phase`` and ``label``.

    Raises:
        ConfigError: a label outside ``0..3``, ``rolloff <= 0`` or ``n_harmonics < 1``.
    """
    lab = np.asarray(label)
    if lab.size and (not np.issubdtype(lab.dtype, np.integer) or lab.min() < 0 or lab.max() > 3):
        raise ConfigError(f"waveform: label must be an integer class id in 0..3, found {label!r}")
    if not (math.isfinite(rolloff) and rolloff > 0):
        raise ConfigError(f"waveform: rolloff must be finite and > 0, found {rolloff!r}")
    if isinstance(n_harmonics, bool) or not isinstance(n_harmonics, int) or n_harmonics < 1:
        raise ConfigError(f"waveform: n_harmonics must be an integer >= 1, found {n_harmonics!r}")
    theta = np.asarray(CLASS_PHASES)[lab]  # shape of label
    return _harmonic_sum(np.asarray(phase, dtype=np.float64), theta, math.exp(-1.0 / rolloff), n_harmonics)


@dataclass(frozen=True)
class SyntheticSpec:
    """Parameters of :func:`make_synthetic`.

    Attributes:
        n_records: number of records ``N``.
        n_channels: channels ``C`` (neighbouring channels are a quarter period apart).
        n_times: samples per record ``T``.
        sfreq: nominal sampling rate in Hz (labels the time axis only).
        n_classes: 2, 3 or 4: the first ``n_classes`` harmonic phases of :data:`CLASS_PHASES`.
        noise: standard deviation of the white noise relative to the unit-variance wave.
        amplitude: standard deviation of every channel (a.u.).
        seed: seed (>= 0); the same spec always gives the same data.

    Raises:
        ConfigError: a parameter is out of range.
    """

    n_records: int = 256
    n_channels: int = 4
    n_times: int = 1024
    sfreq: float = 128.0
    n_classes: int = 4
    noise: float = 0.5
    amplitude: float = 2.0
    seed: int = 0

    def __post_init__(self) -> None:
        def need(ok: bool, what: str, value: object) -> None:
            if not ok:
                raise ConfigError(f"SyntheticSpec: {what}, found {value!r}")

        for name, lo in (("n_records", 1), ("n_channels", 1), ("n_times", 1), ("seed", 0)):
            v = getattr(self, name)
            need(
                isinstance(v, int) and not isinstance(v, bool) and v >= lo,
                f"{name} must be an integer >= {lo}",
                v,
            )
        need(
            isinstance(self.n_classes, int)
            and not isinstance(self.n_classes, bool)
            and 2 <= self.n_classes <= 4,
            "n_classes must be 2, 3 or 4 (harmonic phases 0, pi, pi/2, -pi/2)",
            self.n_classes,
        )
        for name, lo_ok in (("sfreq", False), ("noise", True), ("amplitude", False)):
            v = getattr(self, name)
            ok = isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v))
            ok = ok and (float(v) >= 0 if lo_ok else float(v) > 0)
            need(ok, f"{name} must be a finite number {'>= 0' if lo_ok else '> 0'}", v)


def make_synthetic(spec: SyntheticSpec | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Generate records and labels (deterministic given ``spec``).

    Args:
        spec: the parameters (default :class:`SyntheticSpec`).

    Returns:
        ``(x, y)``: ``x`` float32 ``(N, C, T)``, ``y`` int64 ``(N,)`` with balanced classes
        ``0 .. n_classes - 1``.
    """
    spec = spec or SyntheticSpec()
    n, c, t_len = spec.n_records, spec.n_channels, spec.n_times
    rng = np.random.default_rng([spec.seed, SYNTH_TAG])
    y = rng.permutation(np.arange(n) % spec.n_classes).astype(np.int64)  # (N,)
    theta = np.asarray(CLASS_PHASES)[y]  # (N,)

    # per-record latent parameters (class independent)
    period = rng.uniform(*_PERIOD_RANGE, n)  # (N,) samples per cycle
    q = np.exp(-1.0 / rng.uniform(*_ROLLOFF_RANGE, n))  # (N,) harmonic decay per order
    k = _n_harmonics(period)  # (N,)
    phase0 = rng.uniform(0.0, 1.0, n)  # (N,) cycles
    mod_depth = rng.uniform(0.0, _MOD_DEPTH, n)  # (N,) cycles
    mod_period = rng.uniform(*_MOD_PERIOD, n)  # (N,) samples
    mod_phase = rng.uniform(0.0, 2 * np.pi, n)  # (N,)
    delays = _CHANNEL_STEP * period[:, None] * np.arange(c)[None, :]  # (N, C) samples
    delays = delays + rng.uniform(0.0, _JITTER, (n, c))  # (N, C)

    t = np.arange(t_len, dtype=np.float64)  # (T,)
    scale = spec.amplitude / math.sqrt(1.0 + spec.noise**2)
    x = np.empty((n, c, t_len), dtype=np.float32)  # (N, C, T)
    for lo in range(0, n, _CHUNK):
        s = slice(lo, min(lo + _CHUNK, n))
        tt = t[None, None, :] - delays[s, :, None]  # (n, C, T) delayed time
        ph = (
            phase0[s, None, None]
            + tt / period[s, None, None]
            + mod_depth[s, None, None]
            * np.sin(2 * np.pi * tt / mod_period[s, None, None] + mod_phase[s, None, None])
        )  # (n, C, T) cycles
        wave = _harmonic_sum(ph, theta[s, None, None], q[s, None, None], k[s, None, None])  # (n, C, T)
        eps = rng.standard_normal((s.stop - s.start, c, t_len))  # (n, C, T)
        x[s] = scale * (wave + spec.noise * eps)
    return x, y


def synthetic_records(spec: SyntheticSpec | None = None) -> list[Record]:
    """The output of :func:`make_synthetic` as :class:`~biojepa.data.record.Record` objects.

    Channels are ``"S1".."SC"``, units ``"a.u."``, ids ``"synthetic-<seed>-<i>"`` and ``meta["label"]``
    holds the class.
    """
    spec = spec or SyntheticSpec()
    x, y = make_synthetic(spec)
    chans = tuple(f"S{k + 1}" for k in range(spec.n_channels))
    return [
        Record(
            signal=x[i],
            sfreq=float(spec.sfreq),
            channels=chans,
            units="a.u.",
            record_id=f"synthetic-{spec.seed}-{i:05d}",
            meta={"label": int(y[i])},
        )
        for i in range(spec.n_records)
    ]
