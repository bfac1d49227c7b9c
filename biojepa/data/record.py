"""The :class:`Record`: one validated multichannel recording, the unit every reader produces.

Readers (``biojepa/adapters/<m>/readers.py``) turn files into records; transforms map records to records;
:func:`biojepa.data.cache.build_cache` stores them. A record that cannot be valid never exists: construction
checks shapes, dtype, channel names, sampling rate and finiteness and raises
:class:`~biojepa.errors.CorruptRecordError` naming the record and what is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biojepa.errors import CorruptRecordError

__all__ = ["Record"]


@dataclass(frozen=True, eq=False)
class Record:
    """One multichannel recording with its metadata.

    Attributes:
        signal: ``(C, T)`` float32 samples in physical ``units``. Other float dtypes are converted to
            float32; integer, complex and object arrays are rejected (convert raw ADC counts to physical
            units first).
        sfreq: sampling rate in Hz (for fMRI: ``1 / TR``), finite and > 0.
        channels: ``C`` unique, non-empty channel names in the order of the rows of ``signal``.
        units: physical unit of the samples, e.g. ``"mV"``, ``"uV"``, ``"a.u."``.
        record_id: stable identifier (path relative to the dataset root, or dataset-specific id).
        positions: optional ``(C, 3)`` float32 channel coordinates (e.g. electrode xyz in metres);
            ``NaN`` rows are allowed for channels without a known position.
        meta: free-form metadata (subject, labels, ...). Not copied deeply; treat it as read-only.

    Raises:
        CorruptRecordError: at construction, when any of the above does not hold.

    Example:
        >>> import numpy as np
        >>> r = Record(np.zeros((2, 500), np.float32), 250.0, ("I", "II"), "mV", "rec1")
        >>> r.n_channels, r.n_times, r.duration_s
        (2, 500, 2.0)
    """

    signal: np.ndarray
    sfreq: float
    channels: tuple[str, ...]
    units: str
    record_id: str
    positions: np.ndarray | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rid = str(self.record_id)
        object.__setattr__(self, "record_id", rid)

        def bad(reason: str) -> CorruptRecordError:
            return CorruptRecordError(rid, reason)

        if not rid:
            raise bad(
                "record_id must be a non-empty string (e.g. the file path relative to the dataset root)"
            )
        sig = self.signal
        if not isinstance(sig, np.ndarray):
            raise bad(f"signal must be a numpy array (C, T), found {type(sig).__name__}")
        if sig.ndim != 2:
            raise bad(f"signal must be 2-D (channels, times), found shape {sig.shape}")
        if not np.issubdtype(sig.dtype, np.floating):
            raise bad(
                f"signal must have a float dtype, found {sig.dtype}; convert raw values to physical "
                "units (e.g. with the file's gain and baseline) before building a Record"
            )
        if sig.dtype != np.float32:
            sig = sig.astype(np.float32)
            object.__setattr__(self, "signal", sig)
        n_ch, n_t = sig.shape
        if n_ch < 1:
            raise bad(f"signal has no channels (shape {sig.shape}); expected at least one row")
        if n_t < 1:
            raise bad(f"signal has no samples (shape {sig.shape}); expected at least one column")
        n_bad = int(sig.size - np.count_nonzero(np.isfinite(sig)))
        if n_bad:
            raise bad(
                f"signal contains {n_bad} non-finite value(s) (NaN/inf) out of {sig.size}; "
                "interpolate or drop the affected segments in the reader"
            )

        chans = self.channels
        if isinstance(chans, str) or not all(isinstance(c, str) for c in chans):
            raise bad(f"channels must be a sequence of strings, found {chans!r}")
        chans = tuple(chans)
        object.__setattr__(self, "channels", chans)
        if len(chans) != n_ch:
            raise bad(f"signal has {n_ch} rows but {len(chans)} channel names were given; they must match")
        if any(not c for c in chans):
            raise bad("channel names must be non-empty strings")
        if len(set(chans)) != len(chans):
            dup = sorted({c for c in chans if chans.count(c) > 1})
            raise bad(f"channel names must be unique, found duplicates {dup}")

        try:
            sfreq = float(self.sfreq)
        except (TypeError, ValueError):
            raise bad(f"sfreq must be a number in Hz, found {self.sfreq!r}") from None
        if not math.isfinite(sfreq) or sfreq <= 0:
            raise bad(f"sfreq must be finite and > 0 Hz, found {self.sfreq!r}")
        object.__setattr__(self, "sfreq", sfreq)

        if not isinstance(self.units, str) or not self.units:
            raise bad(f"units must be a non-empty string such as 'mV', 'uV' or 'a.u.', found {self.units!r}")

        pos = self.positions
        if pos is not None:
            if not isinstance(pos, np.ndarray):
                raise bad(f"positions must be a numpy array (C, 3) or None, found {type(pos).__name__}")
            if pos.shape != (n_ch, 3):
                raise bad(
                    f"positions must have shape ({n_ch}, 3) (one xyz row per channel), found {pos.shape}"
                )
            if not (np.issubdtype(pos.dtype, np.floating) or np.issubdtype(pos.dtype, np.integer)):
                raise bad(f"positions must be numeric, found dtype {pos.dtype}")
            if pos.dtype != np.float32:
                object.__setattr__(self, "positions", pos.astype(np.float32))

        if not isinstance(self.meta, Mapping):
            raise bad(f"meta must be a mapping, found {type(self.meta).__name__}")

    @property
    def n_channels(self) -> int:
        """Number of channels ``C``."""
        return int(self.signal.shape[0])

    @property
    def n_times(self) -> int:
        """Number of samples ``T``."""
        return int(self.signal.shape[1])

    @property
    def duration_s(self) -> float:
        """Duration in seconds (``T / sfreq``)."""
        return self.n_times / self.sfreq

    def __repr__(self) -> str:
        return (
            f"Record(record_id={self.record_id!r}, shape={self.signal.shape}, sfreq={self.sfreq:g}, "
            f"units={self.units!r}, channels={list(self.channels)!r})"
        )
