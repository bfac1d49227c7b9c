"""Dataset sources: how ``--data ID=DIR`` becomes a record store.

A *source* is registered in :data:`biojepa.registry.DATASETS` under its dataset id (this module is that
registry's loader; adapters add theirs with ``DATASETS.add_loader``). Every registered id has a card in
``datasets/<id>.yaml``. ``resolve_source(id).open(root, cache_dir=..., params=...)`` returns a
:class:`~biojepa.data.cache.Cache` (real data, preprocessed once) or an
:class:`~biojepa.data.cache.ArrayStore` (generated data).

This module registers the ``synthetic`` source.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from biojepa.data.cache import ArrayStore, Cache
from biojepa.data.cards import DatasetCard, list_cards, load_card
from biojepa.data.synthetic import SyntheticSpec, make_synthetic
from biojepa.errors import ConfigError, NotAvailableError, UnknownNameError
from biojepa.registry import DATASETS

__all__ = [
    "DatasetSource",
    "SyntheticSource",
    "check_generated_params",
    "check_source_params",
    "parse_data_arg",
    "resolve_source",
]


@runtime_checkable
class DatasetSource(Protocol):
    """What a registered dataset provides.

    Attributes:
        id: the dataset id (also the card name).
        card: the validated :class:`~biojepa.data.cards.DatasetCard`.
    """

    id: str

    @property
    def card(self) -> DatasetCard: ...

    def open(
        self, root: Path | None, *, cache_dir: Path, params: Mapping[str, Any], signal: Any = None
    ) -> Cache | ArrayStore:
        """The records of the dataset under ``root``, preprocessed into ``cache_dir`` where needed.

        ``signal`` is the model's :class:`~biojepa.models.spec.SignalContract` (sampling rate, window,
        normalisation): sources resample to its rate and may return a normalising view. A store may also
        carry ``normalization`` (the statistics it applied), ``provenance`` (facts for the model card),
        per-record ``fingerprints`` and ``exclude_fingerprints`` (signals that must never be trained on);
        :func:`biojepa.engine.pretrain.run_pretrain` uses them when present.
        """
        ...


def parse_data_arg(arg: str) -> tuple[str, Path]:
    """Split a ``--data`` argument of the form ``ID=DIR``.

    Args:
        arg: e.g. ``"ptbxl=/data/ptb-xl/1.0.3"``. ``~`` in ``DIR`` is expanded.

    Returns:
        ``(dataset id, directory path)``.

    Raises:
        ConfigError: no ``=``, or an empty id or directory.
    """
    if not isinstance(arg, str) or "=" not in arg:
        raise ConfigError(
            f"--data expects the form ID=DIR (e.g. ptbxl=/data/ptb-xl), found {arg!r}; "
            "list dataset ids with `biojepa datasets list`"
        )
    ds_id, _, directory = arg.partition("=")
    ds_id, directory = ds_id.strip(), directory.strip()
    if not ds_id or not directory:
        raise ConfigError(
            f"--data expects the form ID=DIR with a non-empty dataset id and directory, found {arg!r}"
        )
    return ds_id, Path(directory).expanduser()


def check_source_params(ds_id: str, params: Mapping[str, Any] | None, allowed: set[str]) -> dict[str, Any]:
    """A copy of a source's ``params`` after checking that every key is one the source knows.

    Raises:
        ConfigError: an unknown key (the message lists the valid ones).
    """
    params = dict(params or {})
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) {unknown} for dataset {ds_id!r}; valid: {', '.join(sorted(allowed))}"
        )
    return params


def check_generated_params(
    label: str, root: Path | None, params: Mapping[str, Any] | None, allowed: Sequence[str]
) -> dict[str, Any]:
    """A copy of a generated source's ``params``; no folder may be given and every key must be known.

    Args:
        label: how the source is named in messages (``"ecg_synthetic"``, ``"synthetic data"``).
        root: must be None.
        params: the source's parameters.
        allowed: the valid keys, in the order the message lists them.

    Raises:
        ConfigError: a folder was given, or an unknown key.
    """
    if root is not None:
        raise ConfigError(
            f"{label} is generated, do not pass a directory (got {str(root)!r}); "
            "drop the '=DIR' part of --data"
        )
    params = dict(params or {})
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown {label} parameter(s) {unknown}; valid: {', '.join(allowed)}")
    return params


_SYNTH_PARAMS = tuple(f.name for f in dataclasses.fields(SyntheticSpec))


@DATASETS.register("synthetic", modality="synthetic")
class SyntheticSource:
    """Generated signals with a planted task (see :mod:`biojepa.data.synthetic`); no files needed."""

    id = "synthetic"

    @property
    def card(self) -> DatasetCard:
        """The ``datasets/synthetic.yaml`` card."""
        return load_card(self.id)

    def open(
        self,
        root: Path | None = None,
        *,
        cache_dir: Path | None = None,
        params: Mapping[str, Any] | None = None,
        signal: Any = None,
    ) -> ArrayStore:
        """Generate the data in memory.

        Args:
            root: must be ``None`` (the data is generated).
            cache_dir: unused (nothing is written).
            signal: unused (the recipe sets the rate and length through ``params``).
            params: any of ``n_records, n_channels, n_times, sfreq, n_classes, noise, amplitude, seed``
                (see :class:`~biojepa.data.synthetic.SyntheticSpec`).

        Returns:
            An :class:`~biojepa.data.cache.ArrayStore` with ``labels`` set.

        Raises:
            ConfigError: a directory was given, or a parameter is unknown or invalid.
        """
        params = check_generated_params("synthetic data", root, params, _SYNTH_PARAMS)
        try:
            spec = SyntheticSpec(**params)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid synthetic data parameters {params}: {exc}") from None
        x, y = make_synthetic(spec)  # (N, C, T), (N,)
        return ArrayStore(
            x,
            sfreq=spec.sfreq,
            units="a.u.",
            record_ids=[f"synthetic-{spec.seed}-{i:05d}" for i in range(spec.n_records)],
            labels=y,
            dataset_id=self.id,
        )


def resolve_source(dataset_id: str) -> DatasetSource:
    """The registered source for ``dataset_id``.

    Raises:
        NotAvailableError: a card exists for the id but no reader is registered in this build (the
            message names the adapter that brings it).
        UnknownNameError: neither a registered source nor a card; the message lists the valid ids.
    """
    if dataset_id in DATASETS:
        return DATASETS.create(dataset_id)
    registered = DATASETS.names()
    cards = list_cards()
    if dataset_id in cards:
        modality = load_card(dataset_id).modality
        raise NotAvailableError(
            f"dataset {dataset_id!r} has a card (datasets/{dataset_id}.yaml, modality {modality}) but no "
            f"reader is registered in this build; it arrives with the {modality.upper()} adapter "
            f"(biojepa.adapters.{modality}, the {modality.upper()} issue). "
            f"Datasets available now: {', '.join(registered)}"
        )
    close = difflib.get_close_matches(dataset_id, sorted(set(registered) | set(cards)), n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise UnknownNameError(
        f"unknown dataset {dataset_id!r}.{hint} Registered datasets: {', '.join(registered) or '(none)'}; "
        f"dataset cards: {', '.join(cards) or '(none)'}"
    )
