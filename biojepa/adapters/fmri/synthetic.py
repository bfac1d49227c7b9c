"""A generated resting-state-like ROI corpus with planted network structure and a planted connectivity class.

For the CPU demo (``biojepa pretrain fmri`` with no options) and tests; nothing is downloaded. Physiology it
is not: ``n_networks`` latent slow signals (white noise low-passed below ``0.1 Hz``, the BOLD band) drive
contiguous blocks of ROIs with random loadings, plus white noise per ROI. The class is planted in the
connectivity: in class 1 network 1 follows network 0 (``coupling``), in class 0 it does not, so the class is
invisible in any single ROI's power and visible in the correlation between two blocks of ROIs. Each record
belongs to a site, which scales the noise (``site_noise``): a positive control that connectivity decodes.

Records are generated directly at the requested TR, each ROI demeaned (the fMRI cache contract).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.signal

__all__ = ["FmriSynthSpec", "simulate_fmri"]


@dataclass(frozen=True)
class FmriSynthSpec:
    """Parameters of :func:`simulate_fmri`.

    Attributes:
        n_records: records (one subject each).
        n_rois: ROIs R.
        n_networks: latent networks (contiguous ROI blocks), >= 2.
        duration_s: record length in seconds.
        tr_s: repetition time (s).
        n_classes: 2 (planted coupling of networks 0 and 1 in class 1).
        coupling: strength of the planted coupling in [0, 1].
        noise: white-noise standard deviation per ROI (the network signals have unit variance).
        n_sites: sites (record i belongs to site i % n_sites).
        site_noise: relative noise increase per site index.
        seed: random seed.
    """

    n_records: int = 128
    n_rois: int = 116
    n_networks: int = 8
    duration_s: float = 300.0
    tr_s: float = 2.2
    n_classes: int = 2
    coupling: float = 0.7
    noise: float = 0.6
    n_sites: int = 2
    site_noise: float = 0.3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_records < 1 or self.n_rois < 2 or not 2 <= self.n_networks <= self.n_rois:
            raise ValueError(
                f"need n_records >= 1, n_rois >= 2 and 2 <= n_networks <= n_rois (found {self.n_records}, "
                f"{self.n_rois}, {self.n_networks})"
            )
        if self.n_classes != 2:
            raise ValueError(f"n_classes must be 2, found {self.n_classes}")
        if not (math.isfinite(self.tr_s) and self.tr_s > 0 and self.duration_s >= 4 * self.tr_s):
            raise ValueError(f"need tr_s > 0 and duration_s >= 4 TRs (found tr_s={self.tr_s}, "
                             f"duration_s={self.duration_s})")
        if not 0.0 <= self.coupling <= 1.0 or self.noise < 0 or self.n_sites < 1:
            raise ValueError("coupling must be in [0, 1], noise >= 0, n_sites >= 1")

    @property
    def n_frames(self) -> int:
        """Frames per record."""
        return int(self.duration_s / self.tr_s)


def _slow(rng: np.random.Generator, n: int, t: int, tr_s: float) -> np.ndarray:
    """``n`` unit-variance signals of ``t`` frames, low-passed below 0.1 Hz (or 0.8 Nyquist)."""
    nyq = 0.5 / tr_s
    sos = scipy.signal.butter(4, min(0.1, 0.8 * nyq) / nyq, output="sos")
    pad = 64
    w = rng.standard_normal((n, t + 2 * pad))  # (n, T + pad)
    s = scipy.signal.sosfiltfilt(sos, w, axis=1)[:, pad : pad + t]  # (n, T)
    s -= s.mean(axis=1, keepdims=True)
    return s / np.maximum(s.std(axis=1, keepdims=True), 1e-12)


def simulate_fmri(spec: FmriSynthSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Generate the corpus.

    Returns:
        ``(x (N, R, T) float32 demeaned, labels (N,) int64, subjects (N,) int64, sites (N,) int64)``.
    """
    rng = np.random.default_rng(spec.seed)
    n, r, t = spec.n_records, spec.n_rois, spec.n_frames
    net_of = (np.arange(r) * spec.n_networks) // r  # (R,) contiguous blocks
    loadings = rng.uniform(0.6, 1.2, size=r)  # (R,) fixed across records: the "anatomy"
    labels = np.arange(n, dtype=np.int64) % 2
    rng.shuffle(labels)
    sites = np.arange(n, dtype=np.int64) % spec.n_sites
    x = np.empty((n, r, t), dtype=np.float32)
    for i in range(n):
        s = _slow(rng, spec.n_networks, t, spec.tr_s)  # (K, T)
        if labels[i] == 1:
            s[1] = math.sqrt(1 - spec.coupling**2) * s[1] + spec.coupling * s[0]
        noise = spec.noise * (1.0 + spec.site_noise * sites[i])
        sig = loadings[:, None] * s[net_of] + noise * rng.standard_normal((r, t))  # (R, T)
        x[i] = (sig - sig.mean(axis=1, keepdims=True)).astype(np.float32)
    return x, labels, np.arange(n, dtype=np.int64), sites
