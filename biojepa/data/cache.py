"""The preprocessed, memory-mapped record cache and its in-memory twin.

Records are preprocessed once and written as float16 shards so that training never touches the
original files again (no per-step file I/O). A cache directory holds::

    shard_00000.f16     raw little-endian float16; records concatenated as (C, T) blocks, row-major
    shard_00001.f16     ... (a new shard starts when the current one would exceed ``shard_bytes``)
    index.csv           one row per input item: record_id, status ("ok" / "quarantined"), reason, shard,
                        offset (in elements), n_channels, n_times, sfreq, channels (";"-joined), units
    quarantine.csv      the quarantined items only: record_id, reason
    meta.json           format_version, dataset_id, n_ok, n_quarantined, created, dtype, clipping counts,
                        shard sizes and the sha256 of index.csv

The directory is written atomically: everything goes into a temporary sibling directory, each file is
fsync'ed, and the directory is renamed into place only when complete. Items whose construction or
loading raises :class:`~biojepa.errors.CorruptRecordError` are *quarantined* (listed with the reason),
never dropped silently; if too many are bad the build fails with a :class:`~biojepa.errors.DataError`.

float16 covers ``±65504`` with ~3 significant digits; values outside are clipped (and counted in
``meta.json``). Store signals in units where typical magnitudes are >= 1e-3 (mV for ECG, uV for EEG, or
normalised values), never in volts, or they lose precision to float16 subnormals.

:class:`Cache` reads a cache lazily through one ``np.memmap`` per shard; it can be pickled into
DataLoader workers (the maps are reopened there). :class:`ArrayStore` offers the same read interface over
an in-memory ``(N, C, T)`` array.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from biojepa._fs import fsync_dir as _fsync_dir
from biojepa._version import __version__
from biojepa.data.record import Record
from biojepa.errors import ConfigError, CorruptRecordError, DataError

log = logging.getLogger(__name__)

__all__ = [
    "FORMAT_VERSION",
    "ArrayStore",
    "Cache",
    "CacheReport",
    "RecordStore",
    "build_cache",
    "reuse_cache",
]

#: Version of the on-disk layout written by :func:`build_cache`.
FORMAT_VERSION = 1
#: Largest finite float16 magnitude; larger values are clipped to it.
F16_MAX = 65504.0
INDEX_COLUMNS = (
    "record_id",
    "status",
    "reason",
    "shard",
    "offset",
    "n_channels",
    "n_times",
    "sfreq",
    "channels",
    "units",
)
#: Quarantined records logged one by one by :func:`build_cache` (every one is in ``quarantine.csv``).
LOGGED_QUARANTINED = 100
_SHARD_NAME = "shard_{:05d}.f16"
_F16 = np.dtype("<f2")


@runtime_checkable
class RecordStore(Protocol):
    """Read interface shared by :class:`Cache` and :class:`ArrayStore` (what the sampler needs)."""

    @property
    def n_records(self) -> int: ...

    @property
    def index(self) -> pd.DataFrame: ...

    @property
    def lengths(self) -> np.ndarray: ...

    def get(self, i: int) -> np.ndarray: ...

    def crop(self, i: int, start: int, length: int) -> np.ndarray: ...

    def record_id(self, i: int) -> str: ...

    def n_times(self, i: int) -> int: ...


@dataclass(frozen=True)
class CacheReport:
    """What :func:`build_cache` did.

    Attributes:
        out_dir: the cache directory.
        dataset_id: the dataset id written into ``meta.json``.
        n_ok: records stored.
        n_quarantined: items quarantined (see ``quarantined`` and ``quarantine_path``).
        quarantined: ``(record_id, reason)`` for each quarantined item.
        quarantine_path: the ``quarantine.csv`` report.
        n_clipped_values: samples clipped to ``±65504``.
        n_shards: number of shard files.
        n_bytes: total size of the shards in bytes.
    """

    out_dir: Path
    dataset_id: str
    n_ok: int
    n_quarantined: int
    quarantined: tuple[tuple[str, str], ...]
    quarantine_path: Path
    n_clipped_values: int
    n_shards: int
    n_bytes: int

    @property
    def bad_fraction(self) -> float:
        """Quarantined items / all items."""
        total = self.n_ok + self.n_quarantined
        return self.n_quarantined / total if total else 0.0


# ---------------------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------------------
def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _csv_text(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    pd.DataFrame(rows, columns=list(columns)).to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


def _check_out_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"cache output {out} exists and is not a directory; choose another path")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError(
            f"cache directory {out} already exists and is not empty; open it with Cache.open, "
            "choose another directory or pass overwrite=True to rebuild it"
        )


class _ShardWriter:
    """Appends float16 blocks to numbered shard files, starting a new one when full."""

    def __init__(self, root: Path, shard_bytes: int) -> None:
        self.root = root
        self.shard_bytes = shard_bytes
        self.sizes: list[int] = []  # elements per shard
        self._fh: Any = None

    def _open_next(self) -> None:
        self.close()
        self._fh = open(self.root / _SHARD_NAME.format(len(self.sizes)), "wb")  # noqa: SIM115 - closed in close()
        self.sizes.append(0)

    def append(self, block: np.ndarray) -> tuple[int, int]:
        """Write a float16 block; returns (shard number, element offset)."""
        nbytes = block.size * _F16.itemsize
        if self._fh is None or (
            self.sizes[-1] > 0 and (self.sizes[-1] * _F16.itemsize + nbytes) > self.shard_bytes
        ):
            self._open_next()
        shard, offset = len(self.sizes) - 1, self.sizes[-1]
        self._fh.write(np.ascontiguousarray(block, dtype=_F16).tobytes())
        self.sizes[-1] += block.size
        return shard, offset

    def close(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None


def _to_f16(signal: np.ndarray) -> tuple[np.ndarray, int]:
    """Clip to the float16 range and convert; returns (block, number of clipped values)."""
    n_clip = int(np.count_nonzero(np.abs(signal) > F16_MAX))
    if n_clip:
        signal = np.clip(signal, -F16_MAX, F16_MAX)
    return signal.astype(_F16), n_clip


def build_cache(
    records: Iterable[Record | Callable[[], Record]],
    out_dir: str | Path,
    *,
    dataset_id: str,
    shard_bytes: int = 256 * 2**20,
    max_bad_fraction: float = 0.05,
    progress: Callable[[int], None] | None = None,
    overwrite: bool = False,
    extra_columns: tuple[str, ...] = (),
    extra_meta: dict[str, Any] | None = None,
) -> CacheReport:
    """Preprocess records into a memory-mapped float16 cache directory (atomically).

    Args:
        records: records, or zero-argument callables returning one (called here, so a reader's
            :class:`~biojepa.errors.CorruptRecordError` is caught and the item quarantined).
        out_dir: the cache directory to create. Its parent is created if needed.
        dataset_id: dataset id recorded in ``meta.json``.
        shard_bytes: target shard size; a record larger than this gets a shard of its own.
        max_bad_fraction: the build fails if more than this fraction of items is quarantined.
        progress: called with the number of items processed so far after each item.
        overwrite: replace an existing non-empty ``out_dir`` (the old one is removed only after the new
            one is complete).
        extra_columns: keys of ``Record.meta`` written as additional ``index.csv`` columns (as text; empty
            when a record lacks the key), e.g. a signal fingerprint or a fold. Read back by
            :attr:`Cache.index`.
        extra_meta: JSON-serialisable entries added to ``meta.json`` (e.g. the source parameters).

    Returns:
        A :class:`CacheReport`.

    Raises:
        ConfigError: invalid arguments, or ``out_dir`` exists, is not empty and ``overwrite`` is False.
        DataError: no items, or the quarantined fraction exceeds ``max_bad_fraction``. The quarantine
            report is then written beside ``out_dir`` as ``<out_dir>.quarantine.csv`` and nothing is
            left in ``out_dir``.
        TypeError: an item is neither a :class:`Record` nor returns one.
    """
    out = Path(out_dir).expanduser().absolute()
    if not isinstance(dataset_id, str) or not dataset_id:
        raise ConfigError(f"dataset_id must be a non-empty string, found {dataset_id!r}")
    if not isinstance(shard_bytes, int) or shard_bytes < _F16.itemsize:
        raise ConfigError(f"shard_bytes must be an integer >= 2, found {shard_bytes!r}")
    if not 0.0 <= float(max_bad_fraction) <= 1.0:
        raise ConfigError(f"max_bad_fraction must be in [0, 1], found {max_bad_fraction!r}")
    extra_columns = tuple(extra_columns)
    clash = sorted(set(extra_columns) & set(INDEX_COLUMNS))
    if clash:
        raise ConfigError(f"extra_columns {clash} clash with the built-in index columns {INDEX_COLUMNS}")
    _check_out_dir(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)

    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        rows, quarantined, n_clip, n_clip_rec, sizes = _write_shards(
            records, tmp, shard_bytes, progress, extra_columns
        )
        n_ok = sum(1 for r in rows if r["status"] == "ok")
        n_total = len(rows)
        _log_quarantined(dataset_id, quarantined, n_total)
        q_text = _csv_text(
            [{"record_id": q[0], "reason": q[1]} for q in quarantined], ("record_id", "reason")
        )
        if n_total == 0:
            raise DataError(f"no records were given for dataset {dataset_id!r}; nothing to cache in {out}")
        frac = len(quarantined) / n_total
        if frac > max_bad_fraction or n_ok == 0:
            report = out.parent / f"{out.name}.quarantine.csv"
            _write_text(report, q_text)
            raise DataError(
                f"dataset {dataset_id!r}: {len(quarantined)} of {n_total} records were quarantined "
                f"(fraction {frac:.3f} > max_bad_fraction {max_bad_fraction:g}); see the report {report} "
                "for the reasons, fix the data or raise max_bad_fraction"
            )
        index_text = _csv_text(rows, INDEX_COLUMNS + extra_columns)
        _write_text(tmp / "index.csv", index_text)
        _write_text(tmp / "quarantine.csv", q_text)
        meta = {
            "format_version": FORMAT_VERSION,
            "dataset_id": dataset_id,
            "n_ok": n_ok,
            "n_quarantined": len(quarantined),
            "n_clipped_values": n_clip,
            "n_clipped_records": n_clip_rec,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "dtype": "float16",
            "byteorder": "little",
            "shards": [{"file": _SHARD_NAME.format(k), "n_elements": n} for k, n in enumerate(sizes)],
            "index_sha256": hashlib.sha256(index_text.encode("utf-8")).hexdigest(),
            "biojepa_version": __version__,
            **({"extra": extra_meta} if extra_meta else {}),
        }
        _write_text(tmp / "meta.json", json.dumps(meta, indent=2) + "\n")
        _fsync_dir(tmp)
        _install(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return CacheReport(
        out_dir=out,
        dataset_id=dataset_id,
        n_ok=n_ok,
        n_quarantined=len(quarantined),
        quarantined=tuple(quarantined),
        quarantine_path=out / "quarantine.csv",
        n_clipped_values=n_clip,
        n_shards=len(sizes),
        n_bytes=sum(sizes) * _F16.itemsize,
    )


def _log_quarantined(dataset_id: str, quarantined: list[tuple[str, str]], n_total: int) -> None:
    """One warning per quarantined record (by id, with the reason), up to :data:`LOGGED_QUARANTINED`."""
    for rid, reason in quarantined[:LOGGED_QUARANTINED]:
        log.warning("%s: record %s quarantined: %s", dataset_id, rid, reason)
    if len(quarantined) > LOGGED_QUARANTINED:
        log.warning(
            "%s: ... and %d more of %d records quarantined (every one is listed in quarantine.csv)",
            dataset_id, len(quarantined) - LOGGED_QUARANTINED, n_total,
        )


def _write_shards(
    records: Iterable[Record | Callable[[], Record]],
    tmp: Path,
    shard_bytes: int,
    progress: Callable[[int], None] | None,
    extra_columns: tuple[str, ...] = (),
) -> tuple[list[dict[str, Any]], list[tuple[str, str]], int, int, list[int]]:
    writer = _ShardWriter(tmp, shard_bytes)
    rows: list[dict[str, Any]] = []
    quarantined: list[tuple[str, str]] = []
    seen: set[str] = set()
    n_clip = n_clip_rec = 0

    def quarantine(rid: str, reason: str) -> None:
        quarantined.append((rid, reason))
        rows.append(
            {
                "record_id": rid,
                "status": "quarantined",
                "reason": reason,
                "shard": -1,
                "offset": -1,
                "n_channels": 0,
                "n_times": 0,
                "sfreq": 0.0,
                "channels": "",
                "units": "",
                **{c: "" for c in extra_columns},
            }
        )

    try:
        for k, item in enumerate(records):
            try:
                rec = item() if callable(item) else item
            except CorruptRecordError as exc:
                quarantine(exc.record_id, exc.reason)
            else:
                if not isinstance(rec, Record):
                    raise TypeError(
                        f"item {k} is a {type(rec).__name__}, expected a biojepa.data.Record or a callable "
                        "returning one"
                    )
                if rec.record_id in seen:
                    quarantine(rec.record_id, "duplicate record_id: an earlier item has the same id")
                elif any(";" in c for c in rec.channels):
                    quarantine(
                        rec.record_id, "a channel name contains ';', which the cache index uses as separator"
                    )
                else:
                    seen.add(rec.record_id)
                    block, n = _to_f16(rec.signal)  # (C, T) float16
                    n_clip += n
                    n_clip_rec += bool(n)
                    shard, offset = writer.append(block)
                    rows.append(
                        {
                            "record_id": rec.record_id,
                            "status": "ok",
                            "reason": "",
                            "shard": shard,
                            "offset": offset,
                            "n_channels": rec.n_channels,
                            "n_times": rec.n_times,
                            "sfreq": rec.sfreq,
                            "channels": ";".join(rec.channels),
                            "units": rec.units,
                            **{c: _meta_text(rec.meta.get(c)) for c in extra_columns},
                        }
                    )
            if progress is not None:
                progress(k + 1)
    finally:
        writer.close()
    return rows, quarantined, n_clip, n_clip_rec, writer.sizes


def _meta_text(value: Any) -> str:
    """A metadata value as index text (lists joined with ';', None as empty)."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    return str(value)


def _install(tmp: Path, out: Path) -> None:
    """Rename the finished temporary directory to ``out`` (replacing an old one last)."""
    old: Path | None = None
    if out.is_dir():
        if any(out.iterdir()):
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        else:
            out.rmdir()
    try:
        os.replace(tmp, out)
    except OSError:
        if old is not None:  # put the previous cache back
            os.replace(old, out)
        raise
    _fsync_dir(out.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------------------
def _check_index(i: int, n: int) -> int:
    i = int(i)
    if not 0 <= i < n:
        raise IndexError(f"record index {i} is out of range for a store of {n} records")
    return i


def _check_crop(i: int, start: int, length: int, n_times: int) -> tuple[int, int]:
    start, length = int(start), int(length)
    if length < 1 or start < 0 or start + length > n_times:
        raise ValueError(
            f"crop [start={start}, length={length}] does not fit record {i} of {n_times} samples; "
            f"need 0 <= start and start + length <= {n_times}, length >= 1"
        )
    return start, length


class Cache:
    """Read-only view of a cache directory written by :func:`build_cache`.

    Only records with status ``"ok"`` are visible; they are numbered ``0 .. n_records - 1`` in index order.
    Shards are memory-mapped lazily, one map per shard, and reopened after pickling or in a forked
    process, so a :class:`Cache` can be handed to DataLoader workers.

    Use :meth:`Cache.open` to construct.
    """

    def __init__(self, root: Path, meta: dict[str, Any], index: pd.DataFrame) -> None:
        self.root = root
        self.meta = meta
        self._index = index
        self._shard = index["shard"].to_numpy(np.int64)
        self._offset = index["offset"].to_numpy(np.int64)
        self._n_channels = index["n_channels"].to_numpy(np.int64)
        self._n_times = index["n_times"].to_numpy(np.int64)
        self._record_ids = index["record_id"].tolist()
        self._shard_files = [str(root / s["file"]) for s in meta["shards"]]
        self._maps: dict[int, np.ndarray] = {}
        self._pid = os.getpid()

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> Cache:
        """Open and validate a cache directory.

        Raises:
            DataError: missing or unreadable ``meta.json`` / ``index.csv``, an unsupported format
                version, an index whose sha256 does not match ``meta.json``, or a missing or truncated
                shard. The message says to rebuild the cache.
        """
        root = Path(path).expanduser().absolute()
        fix = f"rebuild it with build_cache (delete {root} first)"
        meta_path = root / "meta.json"
        if not meta_path.is_file():
            raise DataError(f"{root} is not a biojepa cache: meta.json is missing; {fix}")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"cache {root}: meta.json is unreadable ({exc}); {fix}") from None
        if not isinstance(meta, dict):
            raise DataError(f"cache {root}: meta.json does not hold an object; {fix}")
        version = meta.get("format_version")
        if version != FORMAT_VERSION:
            raise DataError(
                f"cache {root} has format_version {version!r}, this biojepa reads {FORMAT_VERSION}; {fix}"
            )
        if meta.get("dtype") != "float16" or not isinstance(meta.get("shards"), list):
            raise DataError(f"cache {root}: meta.json lacks dtype 'float16' or the shard list; {fix}")
        index_path = root / "index.csv"
        if not index_path.is_file():
            raise DataError(f"cache {root}: index.csv is missing; {fix}")
        raw = index_path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if digest != meta.get("index_sha256"):
            raise DataError(
                f"cache {root}: index.csv sha256 {digest[:12]}... does not match meta.json "
                f"({str(meta.get('index_sha256'))[:12]}...); the index was modified or truncated; {fix}"
            )
        try:
            table = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, na_filter=False)
        except (ValueError, pd.errors.ParserError) as exc:
            raise DataError(f"cache {root}: index.csv cannot be parsed ({exc}); {fix}") from None
        missing = [c for c in INDEX_COLUMNS if c not in table.columns]
        if missing:
            raise DataError(f"cache {root}: index.csv lacks columns {missing}; {fix}")
        ok = table[table["status"] == "ok"].reset_index(drop=True)
        try:
            index = pd.DataFrame(
                {
                    "record_id": ok["record_id"].astype(str),
                    "shard": ok["shard"].astype(np.int64),
                    "offset": ok["offset"].astype(np.int64),
                    "n_channels": ok["n_channels"].astype(np.int64),
                    "n_times": ok["n_times"].astype(np.int64),
                    "sfreq": ok["sfreq"].astype(np.float64),
                    "channels": ok["channels"].astype(str),
                    "units": ok["units"].astype(str),
                    **{c: ok[c].astype(str) for c in table.columns if c not in INDEX_COLUMNS},
                }
            )
        except (ValueError, TypeError) as exc:
            raise DataError(f"cache {root}: index.csv has a non-numeric value ({exc}); {fix}") from None
        if len(index) != meta.get("n_ok"):
            raise DataError(
                f"cache {root}: index.csv lists {len(index)} ok records, "
                f"meta.json says {meta.get('n_ok')}; {fix}"
            )
        shards = meta["shards"]
        sizes = np.array([int(s["n_elements"]) for s in shards], dtype=np.int64)
        for s, n_el in zip(shards, sizes, strict=True):
            f = root / str(s["file"])
            if not f.is_file():
                raise DataError(f"cache {root}: shard {f.name} is missing; {fix}")
            size = f.stat().st_size
            if size != int(n_el) * _F16.itemsize:
                raise DataError(
                    f"cache {root}: shard {f.name} has {size} bytes, expected {int(n_el) * _F16.itemsize} "
                    f"(truncated or modified); {fix}"
                )
        if len(index):
            sh = index["shard"].to_numpy()
            if sh.min() < 0 or sh.max() >= len(sizes):
                raise DataError(
                    f"cache {root}: index.csv refers to a shard that meta.json does not list; {fix}"
                )
            end = index["offset"].to_numpy() + index["n_channels"].to_numpy() * index["n_times"].to_numpy()
            if (index["offset"].to_numpy() < 0).any() or (end > sizes[sh]).any():
                raise DataError(f"cache {root}: index.csv points past the end of a shard; {fix}")
        return cls(root, meta, index)

    # -- pickling / fork safety ---------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_maps"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pid = os.getpid()

    def _map(self, shard: int) -> np.ndarray:
        if self._pid != os.getpid():  # forked: do not share maps across processes
            self._maps = {}
            self._pid = os.getpid()
        m = self._maps.get(shard)
        if m is None:
            m = np.memmap(self._shard_files[shard], dtype=_F16, mode="r")
            self._maps[shard] = m
        return m

    # -- read interface -----------------------------------------------------------------------------
    @property
    def dataset_id(self) -> str:
        """The dataset id recorded at build time."""
        return str(self.meta.get("dataset_id", ""))

    @property
    def n_records(self) -> int:
        """Number of usable (``"ok"``) records."""
        return len(self._record_ids)

    def __len__(self) -> int:
        return self.n_records

    @property
    def index(self) -> pd.DataFrame:
        """The ok records: record_id, shard, offset, n_channels, n_times, sfreq, channels, units."""
        return self._index

    @property
    def lengths(self) -> np.ndarray:
        """``(N,)`` int64 record lengths in samples."""
        return self._n_times

    def get(self, i: int) -> np.ndarray:
        """Record ``i`` as a read-only float16 ``(C, T)`` view into its shard (no copy)."""
        i = _check_index(i, self.n_records)
        c, t, off = int(self._n_channels[i]), int(self._n_times[i]), int(self._offset[i])
        flat = self._map(int(self._shard[i]))[off : off + c * t]
        return np.asarray(flat).reshape(c, t)  # (C, T)

    def crop(self, i: int, start: int, length: int) -> np.ndarray:
        """Samples ``start .. start + length`` of record ``i`` as a new float32 ``(C, length)`` array."""
        i = _check_index(i, self.n_records)
        start, length = _check_crop(i, start, length, int(self._n_times[i]))
        return self.get(i)[:, start : start + length].astype(np.float32)  # (C, length)

    def record_id(self, i: int) -> str:
        """The record id of record ``i``."""
        return self._record_ids[_check_index(i, self.n_records)]

    def n_times(self, i: int) -> int:
        """The length of record ``i`` in samples."""
        return int(self._n_times[_check_index(i, self.n_records)])

    def channels(self, i: int) -> tuple[str, ...]:
        """The channel names of record ``i``."""
        return tuple(self._index.at[_check_index(i, self.n_records), "channels"].split(";"))

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r}, dataset_id={self.dataset_id!r}, n_records={self.n_records})"


class ArrayStore:
    """In-memory record store over a float32 ``(N, C, T)`` array, with the read interface of :class:`Cache`.

    Args:
        data: ``(N, C, T)`` array (converted to float32).
        sfreq: sampling rate of every record in Hz.
        channels: ``C`` channel names (default ``"S1".."SC"``).
        units: physical unit of the samples.
        record_ids: ``N`` ids (default ``"0".."N-1"``).
        labels: optional ``(N,)`` integer labels, exposed as :attr:`labels` and an index column.
        dataset_id: a name for messages.

    Raises:
        ConfigError: wrong shapes, non-finite values or mismatching lengths.
    """

    def __init__(
        self,
        data: np.ndarray,
        *,
        sfreq: float = 1.0,
        channels: tuple[str, ...] | list[str] | None = None,
        units: str = "a.u.",
        record_ids: list[str] | tuple[str, ...] | None = None,
        labels: np.ndarray | None = None,
        dataset_id: str = "array",
    ) -> None:
        arr = np.ascontiguousarray(data, dtype=np.float32)
        if arr.ndim != 3 or 0 in arr.shape:
            raise ConfigError(f"ArrayStore needs a non-empty (N, C, T) array, found shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise ConfigError("ArrayStore data contains NaN or inf; clean the array first")
        n, c, t = arr.shape
        chans = tuple(channels) if channels is not None else tuple(f"S{k + 1}" for k in range(c))
        if len(chans) != c:
            raise ConfigError(f"ArrayStore got {len(chans)} channel names for {c} channels")
        ids = [str(r) for r in record_ids] if record_ids is not None else [str(k) for k in range(n)]
        if len(ids) != n:
            raise ConfigError(f"ArrayStore got {len(ids)} record ids for {n} records")
        if not (float(sfreq) > 0 and np.isfinite(sfreq)):
            raise ConfigError(f"ArrayStore sfreq must be finite and > 0, found {sfreq!r}")
        self._data = arr
        self.sfreq = float(sfreq)
        self.channel_names = chans
        self.units = units
        self.dataset_id = dataset_id
        self._record_ids = ids
        self._lengths = np.full(n, t, dtype=np.int64)
        table: dict[str, Any] = {
            "record_id": ids,
            "n_channels": np.full(n, c, dtype=np.int64),
            "n_times": self._lengths,
            "sfreq": np.full(n, self.sfreq),
            "channels": [";".join(chans)] * n,
            "units": [units] * n,
        }
        self.labels: np.ndarray | None = None
        if labels is not None:
            lab = np.asarray(labels)
            if lab.shape != (n,):
                raise ConfigError(f"ArrayStore labels must have shape ({n},), found {lab.shape}")
            self.labels = lab
            table["label"] = lab
        self._index = pd.DataFrame(table)

    @property
    def n_records(self) -> int:
        """Number of records ``N``."""
        return int(self._data.shape[0])

    def __len__(self) -> int:
        return self.n_records

    @property
    def index(self) -> pd.DataFrame:
        """record_id, n_channels, n_times, sfreq, channels, units (and label when given)."""
        return self._index

    @property
    def lengths(self) -> np.ndarray:
        """``(N,)`` int64 record lengths in samples."""
        return self._lengths

    def get(self, i: int) -> np.ndarray:
        """Record ``i`` as a read-only float32 ``(C, T)`` view."""
        view = self._data[_check_index(i, self.n_records)]  # (C, T)
        view.flags.writeable = False
        return view

    def crop(self, i: int, start: int, length: int) -> np.ndarray:
        """Samples ``start .. start + length`` of record ``i`` as a new float32 ``(C, length)`` array."""
        i = _check_index(i, self.n_records)
        start, length = _check_crop(i, start, length, int(self._lengths[i]))
        return self._data[i, :, start : start + length].copy()  # (C, length)

    def record_id(self, i: int) -> str:
        """The record id of record ``i``."""
        return self._record_ids[_check_index(i, self.n_records)]

    def n_times(self, i: int) -> int:
        """The length of record ``i`` in samples."""
        return int(self._lengths[_check_index(i, self.n_records)])

    def channels(self, i: int) -> tuple[str, ...]:
        """The channel names of record ``i`` (the same for every record)."""
        _check_index(i, self.n_records)
        return self.channel_names

    def __repr__(self) -> str:
        n, c, t = self._data.shape
        return f"ArrayStore(dataset_id={self.dataset_id!r}, shape=({n}, {c}, {t}), sfreq={self.sfreq:g})"


def reuse_cache(path: str | Path, dataset_id: str, max_bad_fraction: float) -> tuple[Cache, int, dict[str, Any]] | None:
    """An existing cache at ``path`` that may be reused: ``(cache, n_quarantined, provenance)``, or None.

    The ``prepare`` methods of the dataset sources call this before building: a cache of the same folder, rate
    and parameters is reused unless its quarantined fraction is above the current ``max_bad_fraction``.

    Raises:
        DataError: the existing cache quarantined more than ``max_bad_fraction`` of its records (the message names
            the report), or it is corrupt (see :meth:`Cache.open`).
    """
    path = Path(path)
    if not (path / "meta.json").is_file():
        return None
    cache = Cache.open(path)
    n_bad = int(cache.meta.get("n_quarantined", 0))
    if n_bad / max(n_bad + cache.n_records, 1) > max_bad_fraction:
        raise DataError(
            f"dataset {dataset_id!r}: the existing cache {path} has {n_bad} of {n_bad + cache.n_records} records "
            f"quarantined, above max_bad_fraction {max_bad_fraction:g}; see {path / 'quarantine.csv'}, fix the data "
            "and rebuild (--rebuild), or raise max_bad_fraction"
        )
    return cache, n_bad, dict(cache.meta.get("extra", {}).get("provenance", {}))
