"""Content tests of the EEG dataset cards (datasets/<id>.yaml) against the facts they record."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from biojepa.data.cards import list_cards, load_card
from biojepa.resources import resource_dir

EEG_IDS = ["lee2019", "bnci2014_001", "eegmmidb", "eegnb_p300", "eegnb_ssvep"]
MUSE = {"eegnb_p300": "eegnb_muse_p300", "eegnb_ssvep": "eegnb_muse_ssvep"}
MUSE_CHANNELS = ["TP9", "AF7", "AF8", "TP10"]
# 10-10 spelling: upper-case site letters (Fp excepted), then a number or a lower-case midline "z".
TEN_TEN = re.compile(r"^(Fp|AF|F|FT|FC|T|TP|C|CP|P|PO|O|I)(z|\d+)$")
EEG_ROW = re.compile(
    r"^\| `([a-z0-9_]+)` \| ([^|]+) \| (\w+) \| ([^|]+) \| ([\d,]+) \| ([\d,]+) \| (\d+|—) \| ([\d.]+) Hz \|$",
    flags=re.MULTILINE,
)


def _canonical_bci2000(label: str) -> str:
    """BCI2000 EDF label ('Fc5.', 'Cz..') -> 10-10 spelling ('FC5', 'Cz'), independent of the reader."""
    name = label.strip().rstrip(".").upper()
    if name.startswith("FP"):
        name = "Fp" + name[2:]
    return name[:-1] + "z" if name.endswith("Z") else name


def _edf_labels(path: Path) -> tuple[list[str], float]:
    """Signal labels and the rate of the first signal, read from an EDF header."""
    with path.open("rb") as fh:
        head = fh.read(256)
        n_signals = int(head[252:256])
        ext = fh.read(n_signals * 256)
    labels = [ext[i * 16 : (i + 1) * 16].decode("ascii") for i in range(n_signals)]
    record_s = float(head[244:252])
    off = n_signals * (16 + 80 + 8 + 8 + 8 + 8 + 8 + 80)  # start of the samples-per-record field
    n_per_record = int(ext[off : off + 8])
    return labels, n_per_record / record_s


@pytest.mark.parametrize("dataset_id", EEG_IDS)
def test_eeg_card_loads_and_is_eeg(dataset_id: str) -> None:
    assert dataset_id in list_cards()
    card = load_card(dataset_id)
    assert card.id == dataset_id and card.modality == "eeg"
    assert card.units == "uV" and card.weight is None and card.access == "open"
    assert card.sfreq is not None and card.sfreq > 0
    assert card.n_subjects and card.n_records and card.n_records >= card.n_subjects
    assert card.known_issues and card.labels and card.format.strip()
    assert f"--data {dataset_id}=DIR" in card.notes
    assert all(TEN_TEN.match(ch) for ch in card.channels), card.channels


def test_eegmmidb_channels_runs_and_licence() -> None:
    card = load_card("eegmmidb")
    assert len(card.channels) == 64 and len(set(card.channels)) == 64
    assert card.channels[:3] == ["FC5", "FC3", "FC1"] and card.channels[-1] == "Iz"
    assert {"Cz", "C3", "C4", "FCz", "AFz", "Fpz", "T9", "T10"} <= set(card.channels)
    assert card.sfreq == 160.0 and card.license == "ODC-By-1.0" and card.n_subjects == 109
    assert card.n_records == 109 * 14
    runs = card.labels[0]["runs"]
    assert runs["4, 8, 12"] == "imagined movement: T1 = left fist, T2 = right fist"
    assert runs["6, 10, 14"] == "imagined movement: T1 = both fists, T2 = both feet"
    assert set(card.labels[0]["annotations"]) == {"T0", "T1", "T2"}
    assert any("trailing dots" in issue for issue in card.known_issues)
    for token in ("S001/", "S109/", "S<sss>R<rr>.edf", ".edf.event"):
        assert token in card.notes


def test_lee2019_split_is_sjepa_by_subject() -> None:
    card = load_card("lee2019")
    splits = card.splits
    parts = [splits["pretrain"], splits["val"], splits["test"]]
    assert [len(p) for p in parts] == [40, 7, 7] and sum(len(p) for p in parts) == card.n_subjects == 54
    assert sorted(s for p in parts for s in p) == list(range(1, 55))
    assert splits["pretrain"] == list(range(1, 41)) and splits["test"] == list(range(48, 55))
    assert card.sfreq == 1000.0 and card.channels == [] and card.n_records == 54 * 2 * 3
    assert any("[M]" in issue and "1000 Hz" in issue for issue in card.known_issues)
    labels = {entry["name"]: entry for entry in card.labels}
    assert labels["ssvep"]["frequencies_hz"] == [12.0, 8.57, 6.67, 5.45]
    assert labels["mi"]["classes"] == ["left_hand", "right_hand"] and labels["erp"]["metric"] == "roc_auc"
    names = re.search(r"not storage order\): (.+?) \(all in", card.notes)
    assert names is not None
    channels = names.group(1).split(", ")
    assert len(channels) == len(set(channels)) == 62


def test_bnci2014_001_content() -> None:
    card = load_card("bnci2014_001")
    assert card.n_subjects == 9 and card.sfreq == 250.0 and len(card.channels) == 22
    assert card.channels[0] == "Fz" and card.channels[-1] == "POz" and not any("EOG" in c for c in card.channels)
    assert card.labels[0]["classes"] == ["left_hand", "right_hand", "feet", "tongue"]
    assert card.splits["train"] == ["T"] and card.splits["test"] == ["E"]
    assert any("EOG1" in issue for issue in card.known_issues)
    assert "A01T.mat" in card.notes and "A09E.mat" in card.notes


@pytest.mark.parametrize("dataset_id", list(MUSE))
def test_muse_cards(dataset_id: str) -> None:
    card = load_card(dataset_id)
    assert card.channels == MUSE_CHANNELS and card.sfreq == 256.0
    assert card.license == "BSD-3-Clause" and card.version == "0.1"
    issues = " ".join(card.known_issues)
    for token in ("Right AUX", "Marker0", "rounded to 1 ms", "uV"):
        assert token in issues, f"{dataset_id} known_issues do not mention {token}"
    assert card.labels[0]["markers"]["1"] and card.labels[0]["markers"]["2"]
    assert "subject<N>/session<M>/data_<date-time>.csv" in card.notes


def test_readme_eeg_table_matches_the_cards() -> None:
    readme = resource_dir("datasets").joinpath("README.md").read_text(encoding="utf-8")
    table = {row[0]: row[1:] for row in EEG_ROW.findall(readme)}
    assert sorted(table) == sorted(EEG_IDS)
    for dataset_id, (title, access, licence, subjects, records, channels, sfreq) in table.items():
        card = load_card(dataset_id)
        assert (title, access, licence) == (card.title, card.access, card.license), dataset_id
        assert subjects == f"{card.n_subjects:,}" and records == f"{card.n_records:,}", dataset_id
        assert channels == (str(len(card.channels)) if card.channels else "—"), dataset_id
        assert sfreq == f"{card.sfreq:g}", dataset_id


@pytest.mark.realdata
def test_eegmmidb_channels_match_the_edf_header(shared_data: Path) -> None:
    card = load_card("eegmmidb")
    edfs = sorted((shared_data / "eeg" / "eegmmidb_S001" / "S001").glob("S001R*.edf"))
    assert [p.name for p in edfs] == [f"S001R{r:02d}.edf" for r in range(3, 15)]
    for path in (edfs[0], edfs[-1]):
        labels, sfreq = _edf_labels(path)
        eeg = [lab for lab in labels if not lab.startswith("EDF Annotations")]
        assert all(lab.strip().endswith(".") for lab in eeg)
        assert [_canonical_bci2000(lab) for lab in eeg] == card.channels
        assert sfreq == card.sfreq


@pytest.mark.realdata
@pytest.mark.parametrize("dataset_id", list(MUSE))
def test_muse_cards_match_the_shared_csvs(shared_data: Path, dataset_id: str) -> None:
    card = load_card(dataset_id)
    root = shared_data / "eeg" / MUSE[dataset_id]
    files = sorted(root.glob("subject*/session*/*.csv"))
    assert len(files) == card.n_records
    subjects = sorted({int(p.parts[-3].removeprefix("subject")) for p in files})
    assert subjects == card.splits["subjects"] and len(subjects) == card.n_subjects
    runs = {str(s): sum(p.parts[-3] == f"subject{s}" for p in files) for s in subjects}
    assert runs == card.splits["runs_per_subject"]
    for path in files:
        with path.open(encoding="utf-8") as fh:
            header = fh.readline().strip().split(",")
        assert header[0] == "timestamps" and header[1:5] == card.channels and header[5] == "Right AUX"
        assert header[6] in {"Marker", "Marker0"}
