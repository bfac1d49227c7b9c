"""Tests of biojepa.data.sources: --data parsing, registry, synthetic source, resolution errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biojepa.data.cache import ArrayStore
from biojepa.data.sources import DatasetSource, SyntheticSource, parse_data_arg, resolve_source
from biojepa.data.synthetic import SyntheticSpec, make_synthetic
from biojepa.errors import ConfigError, NotAvailableError, UnknownNameError
from biojepa.registry import DATASETS


def test_parse_data_arg() -> None:
    assert parse_data_arg("ptbxl=/data/ptb xl") == ("ptbxl", Path("/data/ptb xl"))
    assert parse_data_arg("wfdb=a=b") == ("wfdb", Path("a=b"))
    assert parse_data_arg("x=~/d")[1] == Path("~/d").expanduser()
    for bad in ("ptbxl", "=dir", "ptbxl=", " = "):
        with pytest.raises(ConfigError, match="ID=DIR"):
            parse_data_arg(bad)


def test_synthetic_registered_and_resolved() -> None:
    assert "synthetic" in DATASETS.names(modality="synthetic")
    src = resolve_source("synthetic")
    assert isinstance(src, SyntheticSource) and isinstance(src, DatasetSource)
    assert src.id == "synthetic" and src.card.id == "synthetic"


def test_synthetic_open_matches_generator(tmp_path: Path) -> None:
    params = {"n_records": 6, "n_channels": 3, "n_times": 64, "sfreq": 50.0, "n_classes": 2, "seed": 3}
    store = resolve_source("synthetic").open(None, cache_dir=tmp_path, params=params)
    assert isinstance(store, ArrayStore)
    x, y = make_synthetic(SyntheticSpec(**params))
    np.testing.assert_array_equal(np.stack([store.get(i) for i in range(6)]), x)  # (N, C, T)
    assert store.labels is not None
    np.testing.assert_array_equal(store.labels, y)
    assert store.sfreq == 50.0 and store.units == "a.u." and store.channels(0) == ("S1", "S2", "S3")
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_synthetic_rejects_root_and_bad_params(tmp_path: Path) -> None:
    src = SyntheticSource()
    with pytest.raises(ConfigError, match="synthetic data is generated, do not pass a directory"):
        src.open(tmp_path, cache_dir=tmp_path, params={})
    with pytest.raises(ConfigError, match=r"unknown synthetic data parameter\(s\) \['colour'\]"):
        src.open(None, cache_dir=tmp_path, params={"colour": 1})
    with pytest.raises(ConfigError, match="n_classes"):
        src.open(None, cache_dir=tmp_path, params={"n_classes": 9})
    with pytest.raises(ConfigError, match="sfreq"):
        src.open(None, cache_dir=tmp_path, params={"sfreq": "fast"})


def test_unknown_dataset_lists_valid() -> None:
    with pytest.raises(
        UnknownNameError,
        match=r"unknown dataset 'synthetc'.*Did you mean 'synthetic'.*Registered datasets: .*synthetic",
    ):
        resolve_source("synthetc")


def test_card_without_reader_is_not_available(monkeypatch: pytest.MonkeyPatch) -> None:
    import biojepa.data.sources as sources
    from biojepa.data.cards import load_card

    card = load_card("synthetic").model_copy(update={"id": "future_eeg", "modality": "eeg"})
    monkeypatch.setattr(sources, "list_cards", lambda: ["future_eeg", "synthetic"])
    monkeypatch.setattr(sources, "load_card", lambda _id: card)
    with pytest.raises(
        NotAvailableError, match=r"'future_eeg' has a card .* no reader is registered.*EEG adapter"
    ):
        resolve_source("future_eeg")
