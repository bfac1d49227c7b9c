"""ECG lead names: the standard 12-lead order and matching by name, case- and alias-insensitively.

Files name leads in many ways (``AVR`` in PTB-XL, ``avr`` in PTB, ``aVR`` in the Challenge headers, ``MLII``
on Holter records); MIMIC-IV-ECG stores aVF before aVL. Leads are therefore always matched **by name**,
never by position.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biojepa.errors import ContractError, CorruptRecordError

__all__ = [
    "EXTRA_LEADS",
    "STANDARD_LEADS",
    "canonical_lead",
    "lead_indices",
]

#: The standard 12-lead order every ECG model in biojepa uses.
STANDARD_LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")

#: Known non-standard leads that readers drop silently (PTB's Frank leads, …): name -> description.
EXTRA_LEADS: dict[str, str] = {"VX": "Frank X", "VY": "Frank Y", "VZ": "Frank Z"}

_ALIASES: dict[str, str] = {
    **{lead.upper(): lead for lead in STANDARD_LEADS},
    "MLII": "II",
    "ML2": "II",
    "MLI": "I",
    "MLIII": "III",
    "LEADI": "I",
    "LEADII": "II",
    "LEADIII": "III",
    "D1": "I",
    "D2": "II",
    "D3": "III",
}


def canonical_lead(name: str) -> str | None:
    """The standard name of a lead (``"AVL"`` -> ``"aVL"``, ``"MLII"`` -> ``"II"``), or None if unknown.

    Matching ignores case, surrounding whitespace, spaces, ``_`` and the prefix ``"lead"``.

    Example:
        >>> canonical_lead("AVF"), canonical_lead(" v1 "), canonical_lead("MLII"), canonical_lead("vx")
        ('aVF', 'V1', 'II', None)
    """
    key = str(name).strip().upper().replace(" ", "").replace("_", "")
    return _ALIASES.get(key)


def lead_indices(
    names: Sequence[str],
    record_id: str,
    *,
    target: Sequence[str] = STANDARD_LEADS,
    missing: str = "error",
) -> np.ndarray:
    """Row index in ``names`` of every lead of ``target`` (``-1`` for a missing one when allowed).

    Args:
        names: lead names as stored in a file, in storage order.
        record_id: the record, named in errors.
        target: the wanted standard leads, in the wanted order.
        missing: ``"error"`` (a target lead that is absent raises) or ``"allow"`` (its index is ``-1``).

    Returns:
        ``(len(target),)`` int64 array of row indices into ``names``.

    Raises:
        CorruptRecordError: a name is neither a known lead nor a known extra lead (e.g. Frank ``vx``), two
            names map to the same lead, or (with ``missing="error"``) a target lead is absent.
        ValueError: ``missing`` is not one of the two values.

    Example:
        >>> lead_indices(["I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"], "r")
        array([ 0,  1,  2,  3,  5,  4,  6,  7,  8,  9, 10, 11])
    """
    if missing not in ("error", "allow"):
        raise ValueError(f"missing must be 'error' or 'allow', found {missing!r}")
    where: dict[str, int] = {}
    for i, raw in enumerate(names):
        lead = canonical_lead(raw)
        if lead is None:
            if str(raw).strip().upper() in EXTRA_LEADS:
                continue
            raise CorruptRecordError(
                record_id,
                f"unknown lead name {raw!r} (signal {i}); expected names of the 12 standard leads "
                f"{', '.join(STANDARD_LEADS)} (case-insensitive; aliases such as AVL or MLII are accepted)",
            )
        if lead in where:
            raise CorruptRecordError(
                record_id,
                f"duplicate lead {lead!r}: signals {where[lead]} ({names[where[lead]]!r}) and {i} ({raw!r}) "
                "both name it; every lead must appear once",
            )
        where[lead] = i
    absent = [t for t in target if t not in where]
    if absent and missing == "error":
        raise CorruptRecordError(
            record_id,
            f"missing lead(s) {', '.join(absent)}; the record has {', '.join(map(str, names))} but "
            f"{', '.join(target)} are required",
        )
    return np.array([where.get(t, -1) for t in target], dtype=np.int64)


def conform_leads(
    signal: np.ndarray,
    names: Sequence[str],
    target: Sequence[str] = STANDARD_LEADS,
    *,
    missing: str = "error",
    fill: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Reorder the rows of ``signal`` to ``target`` by lead name (the reduced-lead-set path).

    A model trained on 12 leads fed fewer leads: with ``missing="error"`` (default) a
    :class:`~biojepa.errors.ContractError` names the missing leads; with ``missing="fill"`` the missing rows
    are set to ``fill`` — use this only on *normalised* input, where ``0`` is the training mean of that
    lead, and report it (the returned mask says which rows are real).

    Args:
        signal: ``(C, T)`` samples, rows named by ``names``.
        names: lead names of the rows.
        target: wanted lead order.
        missing: ``"error"`` or ``"fill"``.
        fill: value of a missing row when ``missing="fill"``.

    Returns:
        ``(x (len(target), T), present (len(target),) bool)``.

    Raises:
        ContractError: unknown or duplicate names, a row count that differs from ``names``, or missing leads
            with ``missing="error"``.
    """
    if missing not in ("error", "fill"):
        raise ValueError(f"missing must be 'error' or 'fill', found {missing!r}")
    x = np.asarray(signal)
    if x.ndim != 2 or x.shape[0] != len(names):
        raise ContractError(
            f"signal has shape {x.shape} but {len(names)} lead names were given; expected (C, T) with one "
            "name per row"
        )
    try:
        idx = lead_indices(names, "input", target=target, missing="allow")
    except CorruptRecordError as exc:
        raise ContractError(f"{exc.reason}") from None
    present = idx >= 0
    if not present.all() and missing == "error":
        absent = [t for t, p in zip(target, present, strict=True) if not p]
        raise ContractError(
            f"the model expects leads {', '.join(target)} but {', '.join(absent)} are missing from the input "
            f"(found {', '.join(map(str, names))}); pass all of them, or accept a documented approximation "
            "with missing='fill' (missing leads set to the training mean after normalisation)"
        )
    out = np.full((len(target), x.shape[1]), fill, dtype=np.float32)  # (C_target, T)
    out[present] = x[idx[present]]
    return out, present


__all__ += ["conform_leads"]
