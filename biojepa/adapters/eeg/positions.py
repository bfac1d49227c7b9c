"""EEG electrode positions: channel-name canonicalisation, standard-montage lookup, unit-head normalisation.

Positions come from two places that do not share a coordinate frame (research note eeg.md §3.3): MNE's raw
montage tables (e.g. Cz = (0.0004, -0.0092, 0.1002) m) and ``raw.info["chs"][i]["loc"][:3]`` after
``raw.set_montage``, which MNE moves to the fiducial-based head frame (Cz = (-0.0014, 0.0276, 0.1402) m).
Models must never see that difference, so every position a model uses goes through
:func:`normalize_positions`: centred on a fitted sphere and scaled to a **unit head radius**. A shift or a
uniform scaling of the input leaves the result unchanged.

:func:`standard_positions` returns the positions of the head frame (what ``raw.set_montage(montage)`` would
write into ``info["chs"]``), so a channel has the same coordinates whether the user set the montage or the
reader looked it up by name.

MNE (the ``eeg`` extra) is imported lazily, inside the functions that need it.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from types import ModuleType

import numpy as np

from biojepa._optional import require
from biojepa.errors import ConfigError, ContractError

__all__ = [
    "DEFAULT_MONTAGE",
    "MONTAGE_HINT",
    "MissingPositionWarning",
    "canonical_eeg_name",
    "montage_positions",
    "normalize_positions",
    "resolve_montage",
    "standard_positions",
    "unit_head_positions",
]

#: The montage used to look up positions (and the spelling of channel names) by default.
DEFAULT_MONTAGE: str = "standard_1005"

#: How to give a recording positions; appended to every "no position" error and warning.
MONTAGE_HINT: str = (
    "set a montage on the recording before reading it, e.g. raw.set_montage('standard_1005') "
    "(called 'colin27_1005' from MNE 1.13 on), name the channels with standard 10-05 labels (Fp1, Cz, ...) "
    "so they can be looked up in the montage, or pass the positions explicitly (positions=... or chs_info "
    "entries with a 'loc' of xyz in metres)"
)

#: MNE 1.13 renamed the template montages; an old name is translated when the installed MNE has the new one.
_RENAMED_MONTAGES: dict[str, str] = {
    "standard_1005": "colin27_1005",
    "standard_1020": "colin27_1020",
    "standard_alphabetic": "colin27_alphabetic",
    "standard_postfixed": "colin27_postfixed",
    "standard_prefixed": "colin27_prefixed",
    "standard_primed": "colin27_primed",
}

#: The sphere fit is rejected (centroid used instead) when its radius exceeds this many RMS spreads.
_MAX_RADIUS_OVER_SPREAD = 10.0


class MissingPositionWarning(UserWarning):
    """Some channels of a recording have no known position (their rows of ``positions`` are NaN)."""


def _mne() -> ModuleType:
    return require("mne", extra="eeg", purpose="EEG electrode positions and EEG file reading")


def resolve_montage(montage: str) -> str:
    """The name under which the installed MNE provides ``montage`` (``standard_1005`` -> ``colin27_1005``).

    Args:
        montage: a built-in MNE montage name (``mne.channels.get_builtin_montages()``), old or new spelling.

    Returns:
        The name to pass to ``mne.channels.make_standard_montage`` without a deprecation warning.

    Raises:
        ConfigError: ``montage`` is not a string or not a montage of the installed MNE.
        OptionalDependencyError: MNE is not installed.
    """
    if not isinstance(montage, str) or not montage:
        raise ConfigError(
            f"montage must be a built-in MNE montage name such as 'standard_1005', found {montage!r}"
        )
    builtin = set(_mne().channels.get_builtin_montages())
    if montage in builtin:
        return montage
    new = _RENAMED_MONTAGES.get(montage)
    if new is not None and new in builtin:
        return new
    old = {v: k for k, v in _RENAMED_MONTAGES.items()}.get(montage)
    if old is not None and old in builtin:
        return old
    raise ConfigError(
        f"unknown montage {montage!r}; choose one of MNE's built-in montages: {', '.join(sorted(builtin))}"
    )


@functools.lru_cache(maxsize=8)
def _montage_table(name: str) -> tuple[tuple[str, ...], np.ndarray]:
    """Channel names and head-frame xyz (metres) of a resolved built-in montage (cached, read-only)."""
    mne = _mne()
    mont = mne.channels.make_standard_montage(name)
    names = tuple(str(n) for n in mont.ch_names)
    # set_montage on a bare Info moves the montage to the head frame exactly as it would for a user's Raw
    info = mne.create_info(list(names), 100.0, "eeg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MNE chatter about fiducials is irrelevant for a template
        info.set_montage(mont, verbose="error")
    xyz = np.array([ch["loc"][:3] for ch in info["chs"]], dtype=np.float64)  # (M, 3)
    xyz.setflags(write=False)
    return names, xyz


@functools.lru_cache(maxsize=8)
def _lower_index(name: str) -> dict[str, int]:
    names, _ = _montage_table(name)
    out: dict[str, int] = {}
    for i, n in enumerate(names):
        out.setdefault(n.lower(), i)
    return out


def montage_positions(montage: str = DEFAULT_MONTAGE) -> tuple[tuple[str, ...], np.ndarray]:
    """All channels of a built-in montage and their xyz in MNE's head frame.

    Args:
        montage: a built-in MNE montage name (old or new spelling, see :func:`resolve_montage`).

    Returns:
        ``(names, xyz)``: the montage's channel names and a read-only ``(M, 3)`` float64 array in metres.

    Raises:
        ConfigError: unknown montage.
        OptionalDependencyError: MNE is not installed.
    """
    return _montage_table(resolve_montage(montage))


def _strip(name: str) -> str:
    if not isinstance(name, str):
        raise ConfigError(f"channel names must be strings, found {name!r} ({type(name).__name__})")
    return name.strip().rstrip(".").strip()


def canonical_eeg_name(name: str) -> str:
    """The standard spelling of an EEG channel name.

    Strips surrounding whitespace and BCI2000's trailing dots, then fixes the case to the spelling of the
    ``standard_1005`` montage. Names that are not in that montage are returned stripped but otherwise as given.

    Args:
        name: a channel name as stored in a file.

    Returns:
        The canonical name.

    Raises:
        ConfigError: ``name`` is not a string.
        OptionalDependencyError: MNE is not installed.

    Example:
        >>> canonical_eeg_name("Fc5."), canonical_eeg_name("Cz.."), canonical_eeg_name("fp1")
        ('FC5', 'Cz', 'Fp1')
    """
    stripped = _strip(name)
    resolved = resolve_montage(DEFAULT_MONTAGE)
    i = _lower_index(resolved).get(stripped.lower())
    if i is None:
        return stripped
    return _montage_table(resolved)[0][i]


def standard_positions(names: Sequence[str], montage: str = DEFAULT_MONTAGE) -> np.ndarray:
    """Head-frame xyz (metres) of channels looked up by name in a built-in montage.

    Names are matched case-insensitively after stripping whitespace and trailing dots. The coordinates are
    those ``raw.set_montage(montage)`` would store in ``raw.info["chs"][i]["loc"][:3]``.

    Args:
        names: channel names.
        montage: a built-in MNE montage name.

    Returns:
        ``(C, 3)`` float64 array; rows of unknown names are NaN (the caller decides whether to warn).

    Raises:
        ConfigError: ``names`` is a single string, a name is not a string, or the montage is unknown.
        OptionalDependencyError: MNE is not installed.
    """
    if isinstance(names, str):
        raise ConfigError(f"names must be a sequence of channel names, found the string {names!r}")
    resolved = resolve_montage(montage)
    _, xyz = _montage_table(resolved)
    index = _lower_index(resolved)
    out = np.full((len(names), 3), np.nan, dtype=np.float64)  # (C, 3)
    for row, name in enumerate(names):
        i = index.get(_strip(name).lower())
        if i is not None:
            out[row] = xyz[i]
    return out


def _as_positions(pos: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(pos)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise ContractError(
            f"{what} must be a numeric (C, 3) array of xyz positions, found dtype {arr.dtype}"
        )
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ContractError(f"{what} must have shape (C, 3) (one xyz row per channel), found {arr.shape}")
    return arr.astype(np.float64)


def _fit_centre(p: np.ndarray) -> np.ndarray:
    """Centre of the least-squares sphere through ``p`` ``(n, 3)`` (n >= 4), else the centroid.

    The algebraic fit solves ``|q|^2 = 2 c.q + d`` for ``(c, d)`` on the centroid-centred points; it is
    equivariant under shifts, rotations and uniform scaling. Coplanar or nearly coplanar points (rank
    deficiency, or a radius above ``_MAX_RADIUS_OVER_SPREAD`` RMS spreads) fall back to the centroid.
    """
    mu = p.mean(axis=0)  # (3,)
    if p.shape[0] < 4:
        return mu
    q = p - mu  # (n, 3)
    spread = math.sqrt(float(np.mean(np.sum(q * q, axis=1))))
    if spread == 0.0:
        return mu
    a = np.concatenate([2.0 * q, np.ones((q.shape[0], 1))], axis=1)  # (n, 4)
    b = np.sum(q * q, axis=1)  # (n,)
    sol, _, rank, _ = np.linalg.lstsq(a, b, rcond=None)
    if rank < 4:
        return mu
    c = sol[:3]
    r2 = float(sol[3] + c @ c)
    if not math.isfinite(r2) or r2 <= 0 or math.sqrt(r2) > _MAX_RADIUS_OVER_SPREAD * spread:
        return mu
    return mu + c


def _centre_and_scale(p: np.ndarray) -> tuple[np.ndarray, float]:
    centre = _fit_centre(p)
    dist = np.linalg.norm(p - centre, axis=1)  # (n,)
    scale = float(np.median(dist))
    if not math.isfinite(scale) or scale <= 1e-12 * max(1.0, float(np.abs(p).max())):
        scale = 1.0  # one point, or coincident points: nothing to scale
    return centre, scale


def normalize_positions(pos: np.ndarray, *, reference: np.ndarray | None = None) -> np.ndarray:
    """Centre positions on their head sphere and scale them to a unit head radius.

    The centre is the least-squares sphere fit when at least 4 rows are finite (the centroid otherwise, or
    when the rows are nearly coplanar); the scale makes the median distance to the centre 1. The result is
    unchanged by a shift or a uniform scaling of the input (the coordinate-frame trap of eeg.md §3.3).

    Args:
        pos: ``(C, 3)`` xyz positions (any unit, e.g. metres); rows with a non-finite value are "unknown".
        reference: optional ``(M, 3)`` positions in the same frame and unit (e.g. the whole standard montage)
            from which the centre and scale are fitted instead of from ``pos``: every subset of a montage
            then gets the same coordinates as the full montage.

    Returns:
        ``(C, 3)`` float64 normalised positions; unknown rows are all-NaN.

    Raises:
        ContractError: ``pos`` (or ``reference``) is not a numeric ``(C, 3)`` array, or has no finite row.
    """
    p = _as_positions(pos, "positions")
    ok = np.all(np.isfinite(p), axis=1)  # (C,)
    if not ok.any():
        raise ContractError(
            f"none of the {p.shape[0]} channel positions is known (all rows are NaN/inf, e.g. MNE's 'loc' is NaN "
            f"when no montage was set); {MONTAGE_HINT}"
        )
    if reference is None:
        centre, scale = _centre_and_scale(p[ok])
    else:
        ref = _as_positions(reference, "reference")
        ref_ok = np.all(np.isfinite(ref), axis=1)  # (M,)
        if not ref_ok.any():
            raise ContractError(f"reference positions have no finite row (shape {ref.shape}); {MONTAGE_HINT}")
        centre, scale = _centre_and_scale(ref[ref_ok])
    out = np.full(p.shape, np.nan, dtype=np.float64)  # (C, 3)
    out[ok] = (p[ok] - centre) / scale
    return out


def unit_head_positions(names: Sequence[str], montage: str = DEFAULT_MONTAGE) -> np.ndarray:
    """Unit-head positions of channels looked up by name: the model's channel table for a montage.

    The montage's own sphere defines the centre and radius (:func:`normalize_positions` with the whole
    montage as ``reference``), so every subset of a montage gets the coordinates it has in the full montage.

    Args:
        names: channel names (any spelling :func:`canonical_eeg_name` understands).
        montage: a built-in MNE montage name.

    Returns:
        ``(C, 3)`` float64; rows of names not in the montage are NaN.

    Raises:
        ContractError: no name is in the montage.
        OptionalDependencyError: MNE is not installed.

    Example:
        >>> p = unit_head_positions(["Cz", "C3", "C4"])
        >>> p.shape
        (3, 3)
    """
    _, ref = montage_positions(montage)
    return normalize_positions(standard_positions(names, montage), reference=ref)
