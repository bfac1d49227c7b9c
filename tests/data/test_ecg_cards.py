"""Content tests of the ECG dataset cards (datasets/<id>.yaml) against the ECG-JEPA facts they record."""

from __future__ import annotations

import math
import re

import pytest

from biojepa.adapters.ecg.leads import STANDARD_LEADS
from biojepa.data.cards import list_cards, load_card
from biojepa.resources import resource_dir

# ECG-JEPA's ten pretraining sources: (records used, published sampling weight), ecg.md section 1.1.
# For ptbxl the records used are folds 1-8 only; the card's n_records counts the whole release.
PUBLISHED: dict[str, tuple[int, float]] = {
    "mimic_iv_ecg": (800_035, 0.7),
    "code15": (128_033, 0.1),
    "ptbxl": (17_439, 0.05),
    "chapman_shaoxing": (10_247, 0.009375),
    "cpsc": (6_867, 0.025),
    "cpsc_extra": (3_441, 0.0125),
    "georgia": (10_292, 0.0375),
    "ningbo": (34_905, 0.028125),
    "ptb": (516, 0.01875),
    "st_petersburg": (74, 0.01875),
}
TOTAL_PRETRAIN_RECORDS = 1_011_849
CHALLENGE = {
    "chapman_shaoxing": ("chapman_shaoxing", "JS", 500.0),
    "cpsc": ("cpsc_2018", "A", 500.0),
    "cpsc_extra": ("cpsc_2018_extra", "Q", 500.0),
    "georgia": ("georgia", "E", 500.0),
    "ningbo": ("ningbo", "JS", 500.0),
    "ptb": ("ptb", "S", 1000.0),
    "st_petersburg": ("st_petersburg_incart", "I", 257.0),
}
ECG_IDS = [*PUBLISHED, "wfdb", "ecg_synthetic"]


def _pretrain_records(dataset_id: str) -> int:
    card = load_card(dataset_id)
    if dataset_id == "ptbxl":
        return int(card.splits["pretrain_records"])
    assert card.n_records is not None
    return card.n_records


@pytest.mark.parametrize("dataset_id", ECG_IDS)
def test_ecg_card_loads_and_is_ecg(dataset_id: str) -> None:
    assert dataset_id in list_cards()
    card = load_card(dataset_id)
    assert card.id == dataset_id and card.modality == "ecg"
    assert card.notes.strip() and card.known_issues
    if dataset_id == "wfdb":
        assert card.channels == [] and card.sfreq is None and card.weight is None
    else:
        assert tuple(card.channels) == STANDARD_LEADS


def test_published_weights_sum_to_one() -> None:
    weights = {i: load_card(i).weight for i in PUBLISHED}
    assert all(w is not None for w in weights.values())
    assert math.fsum(w for w in weights.values() if w is not None) == pytest.approx(1.0, abs=1e-9)
    for dataset_id, (_, weight) in PUBLISHED.items():
        assert weights[dataset_id] == weight, dataset_id


@pytest.mark.parametrize("dataset_id", list(PUBLISHED))
def test_records_match_the_ecg_jepa_table(dataset_id: str) -> None:
    assert _pretrain_records(dataset_id) == PUBLISHED[dataset_id][0]
    if dataset_id != "ptbxl":
        assert load_card(dataset_id).n_records == PUBLISHED[dataset_id][0]


def test_total_pretraining_records() -> None:
    assert sum(_pretrain_records(i) for i in PUBLISHED) == TOTAL_PRETRAIN_RECORDS
    assert load_card("ptbxl").n_records == 21_799 and load_card("ptbxl").n_subjects == 18_869


def test_ptbxl_splits_hold_out_folds_9_and_10() -> None:
    splits = load_card("ptbxl").splits
    assert splits["scheme"] == "strat_fold"
    assert splits["train"] == list(range(1, 9)) and splits["val"] == [9] and splits["test"] == [10]
    assert splits["held_out"] == [9, 10]
    assert not set(splits["pretrain_folds"]) & set(splits["held_out"])
    assert "never used for pretraining" in splits["note"]


def test_ptbxl_label_sets() -> None:
    labels = {entry["name"]: entry for entry in load_card("ptbxl").labels}
    counts = {name: entry["n_classes"] for name, entry in labels.items()}
    assert counts == {"all": 71, "diagnostic": 44, "subdiagnostic": 23, "superdiagnostic": 5, "form": 19,
                      "rhythm": 12}
    sup = labels["superdiagnostic"]
    assert sup["classes"] == ["NORM", "MI", "STTC", "CD", "HYP"]
    assert sup["record_counts_v1_0_3"] == {"NORM": 9514, "MI": 5486, "STTC": 5250, "CD": 4907, "HYP": 2655}
    assert len(labels["rhythm"]["classes"]) == 12


@pytest.mark.parametrize("dataset_id", list(CHALLENGE))
def test_challenge_cards(dataset_id: str) -> None:
    folder, prefix, sfreq = CHALLENGE[dataset_id]
    card = load_card(dataset_id)
    assert card.version == "1.0.3" and card.doi == ["10.13026/34va-7q14"] and card.license == "CC-BY-4.0"
    assert card.format == "WFDB header + MATLAB v4 .mat (CinC 2021)" and card.sfreq == sfreq
    assert f"training/{folder}/" in card.notes and f"start with '{prefix}'" in card.notes
    assert card.labels[0]["scheme"] == "SNOMED-CT"
    assert any("ptb-xl" in issue and "HR" in issue for issue in card.known_issues)


@pytest.mark.parametrize(
    ("dataset_id", "layout"),
    [
        ("ptbxl", ["ptbxl_database.csv", "scp_statements.csv", "records100/", "records500/"]),
        ("mimic_iv_ecg", ["record_list.csv", "files/"]),
        ("code15", ["exams.csv", "exams_part0.hdf5"]),
        ("wfdb", ["RECORDS", "*.hea", "recursively"]),
    ],
)
def test_notes_give_the_folder_layout(dataset_id: str, layout: list[str]) -> None:
    notes = load_card(dataset_id).notes
    assert f"--data {dataset_id}=DIR" in notes
    for token in layout:
        assert token in notes, f"{dataset_id} notes do not mention {token}"


def test_mimic_lead_order_and_synthetic_card() -> None:
    assert any("aVF comes before aVL" in issue for issue in load_card("mimic_iv_ecg").known_issues)
    syn = load_card("ecg_synthetic")
    assert syn.access == "generated" and syn.license == "Apache-2.0" and syn.weight is None
    assert syn.labels[0]["n_classes"] == len(syn.labels[0]["classes"]) == 4
    assert "simulate_ecg" in syn.format


def test_readme_table_matches_the_cards() -> None:
    readme = resource_dir("datasets").joinpath("README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| (.+?) \| (\w+) \| (.+?) \| ([\d,]+|—) \| ([\d.]+|—) \|$", readme,
                      flags=re.MULTILINE)
    table = {row[0]: row[1:] for row in rows}
    assert sorted(table) == sorted(ECG_IDS)
    for dataset_id, (title, access, licence, records, weight) in table.items():
        card = load_card(dataset_id)
        assert (title, access, licence) == (card.title, card.access, card.license), dataset_id
        assert records == (f"{card.n_records:,}" if card.n_records is not None else "—"), dataset_id
        assert weight == (f"{card.weight:g}" if card.weight is not None else "—"), dataset_id
