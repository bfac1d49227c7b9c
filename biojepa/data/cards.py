"""Dataset cards: one validated YAML file per dataset in the shipped ``datasets/`` folder.

A card says what a dataset is (source, citation, licence, access), what its signals look like (rate,
channels, units, durations), how it is split and labelled, its known problems and, optionally, file
checksums and the weight used in published pretraining mixes. See ``datasets/README.md`` for the fields.

Cards are read with ``yaml.safe_load`` and validated by :class:`DatasetCard` (pydantic, unknown keys
forbidden).
"""

from __future__ import annotations

import math
import re
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from biojepa.errors import ConfigError, UnknownNameError
from biojepa.resources import iter_resource_files, resource_dir

__all__ = ["DatasetCard", "card_path", "list_cards", "load_card", "load_card_file"]

Modality = Literal["ecg", "eeg", "fmri", "image", "video", "synthetic"]
Access = Literal["open", "credentialed", "dua", "generated"]

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_DOI_RE = re.compile(r"^10\.\d{4,9}/\S+$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class DatasetCard(BaseModel):
    """The schema of a dataset card (``datasets/<id>.yaml``).

    Attributes:
        id: dataset id used by ``--data ID=DIR`` (lowercase letters, digits, ``_``); equals the file name.
        title: human-readable name.
        modality: ``ecg``, ``eeg``, ``fmri``, ``image``, ``video`` or ``synthetic``.
        version: dataset release (e.g. ``"1.0.3"``).
        homepage: landing page URL, if any.
        doi: DOIs of the dataset and its describing papers (``10.xxxx/...``).
        citation: how to cite the dataset (free text or BibTeX).
        license: licence name / SPDX identifier.
        access: ``open``, ``credentialed`` (e.g. PhysioNet credentialed), ``dua`` (signed data use
            agreement) or ``generated`` (synthesised by biojepa).
        format: file format(s), e.g. ``"WFDB"``, ``"EDF"``, ``"NIfTI"``.
        sfreq: sampling rate in Hz (signals), or ``None`` when it varies / does not apply.
        tr_s: fMRI repetition time in seconds.
        channels: channel / lead / ROI names in storage order (empty when they vary).
        units: physical unit of the samples, e.g. ``"mV"``.
        duration_s: record duration in seconds, or a description such as ``"10 s per record"``.
        n_records: number of records.
        n_subjects: number of subjects.
        splits: official splits (free-form mapping, e.g. ``{"scheme": "strat_fold", "test": [10]}``).
        labels: label sets (each a mapping, e.g. ``{"name": "superdiagnostic", "classes": [...]}``).
        known_issues: known problems with the data and how biojepa handles them.
        checksums: relative file path -> sha256 hex digest, verified by ``datasets verify``.
        weight: published sampling weight in pretraining mixes (>= 0), if any.
        notes: anything else.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    modality: Modality
    version: str
    homepage: str | None = None
    doi: list[str] = Field(default_factory=list)
    citation: str
    license: str
    access: Access
    format: str
    sfreq: float | None = None
    tr_s: float | None = None
    channels: list[str] = Field(default_factory=list)
    units: str = ""
    duration_s: float | str | None = None
    n_records: int | None = None
    n_subjects: int | None = None
    splits: dict[str, Any] = Field(default_factory=dict)
    labels: list[dict[str, Any]] = Field(default_factory=list)
    known_issues: list[str] = Field(default_factory=list)
    checksums: dict[str, str] = Field(default_factory=dict)
    weight: float | None = None
    notes: str = ""

    @field_validator("id")
    @classmethod
    def _id_ok(cls, v: str) -> str:
        if not _ID_RE.match(v):
            raise ValueError(
                f"id must be lowercase letters, digits and '_' (starting with a letter/digit), found {v!r}"
            )
        return v

    @field_validator("title", "version", "citation", "license", "format")
    @classmethod
    def _non_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v

    @field_validator("doi")
    @classmethod
    def _doi_ok(cls, v: list[str]) -> list[str]:
        bad = [d for d in v if not _DOI_RE.match(d)]
        if bad:
            raise ValueError(f"DOIs must look like '10.1234/abc' (no 'https://doi.org/' prefix), found {bad}")
        return v

    @field_validator("sfreq", "tr_s")
    @classmethod
    def _positive(cls, v: float | None) -> float | None:
        if v is not None and not (math.isfinite(v) and v > 0):
            raise ValueError(f"must be finite and > 0, found {v}")
        return v

    @field_validator("weight")
    @classmethod
    def _weight_ok(cls, v: float | None) -> float | None:
        if v is not None and not (math.isfinite(v) and v >= 0):
            raise ValueError(f"must be finite and >= 0, found {v}")
        return v

    @field_validator("n_records", "n_subjects")
    @classmethod
    def _count_ok(cls, v: int | None) -> int | None:
        if v is not None and v < 0:
            raise ValueError(f"must be >= 0, found {v}")
        return v

    @field_validator("channels")
    @classmethod
    def _channels_unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("channel names must be unique")
        return v

    @field_validator("checksums")
    @classmethod
    def _checksums_ok(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k, d in v.items() if not _SHA256_RE.match(d)]
        if bad:
            raise ValueError(f"checksums must be lowercase sha256 hex digests (64 chars); bad entries: {bad}")
        return v


def list_cards() -> list[str]:
    """Ids of all shipped dataset cards, sorted."""
    return sorted(name for name, _ in iter_resource_files("datasets", ".yaml"))


def card_path(dataset_id: str) -> Traversable:
    """The card file of ``dataset_id``.

    Raises:
        UnknownNameError: no card with that id; the message lists the available cards.
    """
    files = dict(iter_resource_files("datasets", ".yaml"))
    if dataset_id not in files:
        raise UnknownNameError(
            f"no dataset card {dataset_id!r} in {resource_dir('datasets')}. "
            f"Available cards: {', '.join(sorted(files)) or '(none)'}"
        )
    return files[dataset_id]


def load_card_file(path: str | Path | Traversable, *, expected_id: str | None = None) -> DatasetCard:
    """Read and validate one card file.

    Args:
        path: the YAML file.
        expected_id: if given, the card's ``id`` must equal it (cards are named ``<id>.yaml``).

    Raises:
        ConfigError: unreadable YAML, not a mapping, an invalid field (named with the pydantic
            location and message), or an id that does not match the file name.
    """
    p = Path(path) if isinstance(path, str) else path
    name = str(p)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"dataset card {name} cannot be read as YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"dataset card {name} must be a YAML mapping of fields, found {type(data).__name__}"
        )
    try:
        card = DatasetCard.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"field {'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(
            f"dataset card {name} is invalid: {problems}. See datasets/README.md for the card fields"
        ) from None
    if expected_id is not None and card.id != expected_id:
        raise ConfigError(
            f"dataset card {name} has id {card.id!r} but is named {expected_id!r}; "
            "the file must be called <id>.yaml"
        )
    return card


def load_card(dataset_id: str) -> DatasetCard:
    """Load and validate the shipped card ``datasets/<dataset_id>.yaml``.

    Raises:
        UnknownNameError: no such card (the message lists the available cards).
        ConfigError: the card is invalid (file and field named).
    """
    return load_card_file(card_path(dataset_id), expected_id=dataset_id)
