"""Tests of biojepa.data.cards, including card/registry completeness."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from biojepa.data.cards import DatasetCard, card_path, list_cards, load_card, load_card_file
from biojepa.errors import ConfigError, UnknownNameError
from biojepa.registry import DATASETS
from biojepa.resources import iter_resource_files, resource_dir

MINIMAL = {
    "id": "toy",
    "title": "Toy",
    "modality": "ecg",
    "version": "1",
    "citation": "Someone (2020)",
    "license": "CC-BY-4.0",
    "access": "open",
    "format": "WFDB",
}


def _write(tmp_path: Path, data: object, name: str = "toy.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return p


@pytest.mark.parametrize("name", list_cards())
def test_every_card_file_validates(name: str) -> None:
    card = load_card(name)
    assert card.id == name


@pytest.mark.parametrize("name", DATASETS.names())
def test_every_registered_dataset_has_a_valid_card(name: str) -> None:
    assert name in list_cards(), f"dataset {name!r} is registered but datasets/{name}.yaml is missing"
    card = load_card(name)
    assert DATASETS.entry(name).meta.get("modality") == card.modality


def test_every_yaml_in_datasets_is_listed() -> None:
    assert sorted(n for n, _ in iter_resource_files("datasets")) == list_cards()
    assert "synthetic" in list_cards()


def test_synthetic_card_content() -> None:
    card = load_card("synthetic")
    assert card.access == "generated" and card.modality == "synthetic"
    assert card.channels == ["S1", "S2", "S3", "S4"] and card.sfreq == 128.0


def test_unknown_card_lists_available() -> None:
    with pytest.raises(UnknownNameError, match=r"no dataset card 'nope'.*Available cards:.*synthetic"):
        load_card("nope")
    with pytest.raises(UnknownNameError):
        card_path("../pyproject")


def test_minimal_card_and_defaults(tmp_path: Path) -> None:
    card = load_card_file(_write(tmp_path, MINIMAL), expected_id="toy")
    assert card.doi == [] and card.weight is None and card.splits == {}
    with pytest.raises(ValueError):  # frozen
        card.title = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"extra_key": 1}, "extra_key"),
        ({"modality": "mri"}, "modality"),
        ({"access": "free"}, "access"),
        ({"sfreq": -5}, "sfreq"),
        ({"weight": -0.1}, "weight"),
        ({"doi": ["https://doi.org/10.1/x"]}, "doi"),
        ({"checksums": {"a.dat": "abc"}}, "checksums"),
        ({"id": "Bad-Id"}, "id"),
        ({"title": " "}, "title"),
        ({"n_records": -1}, "n_records"),
        ({"channels": ["a", "a"]}, "channels"),
        ({"license": None}, "license"),
    ],
)
def test_invalid_card_names_file_and_field(tmp_path: Path, change: dict[str, object], field: str) -> None:
    p = _write(tmp_path, {**MINIMAL, **change})
    with pytest.raises(ConfigError, match=rf"toy\.yaml is invalid: .*field {field}") as info:
        load_card_file(p)
    assert "README" in str(info.value)


def test_missing_field_named(tmp_path: Path) -> None:
    data = dict(MINIMAL)
    del data["citation"]
    with pytest.raises(ConfigError, match="field citation: Field required"):
        load_card_file(_write(tmp_path, data))


def test_bad_yaml_and_non_mapping_and_id_mismatch(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read as YAML"):
        load_card_file(_write(tmp_path, "id: [unclosed"))
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_card_file(_write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match="has id 'toy' but is named 'other'"):
        load_card_file(_write(tmp_path, MINIMAL), expected_id="other")


def test_schema_lists_documented_fields() -> None:
    readme = resource_dir("datasets").joinpath("README.md").read_text(encoding="utf-8")
    for name in DatasetCard.model_fields:
        assert f"| `{name}` |" in readme, f"datasets/README.md does not document the card field {name!r}"
