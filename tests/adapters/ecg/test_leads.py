"""Lead names: canonical_lead, lead_indices, conform_leads (matching by name, never by position)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biojepa.adapters.ecg.leads import (
    EXTRA_LEADS,
    STANDARD_LEADS,
    canonical_lead,
    conform_leads,
    lead_indices,
)
from biojepa.errors import ContractError, CorruptRecordError

MIMIC_ORDER = ("I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6")
PTB_ORDER = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6", "vx", "vy", "vz")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("AVF", "aVF"),
        ("avr", "aVR"),
        ("aVL", "aVL"),
        (" v1 ", "V1"),
        ("V6", "V6"),
        ("MLII", "II"),
        ("ML2", "II"),
        ("Lead I", "I"),
        ("lead_iii", "III"),
        ("D2", "II"),
        ("vx", None),
        ("V7", None),
        ("", None),
        ("ECG", None),
    ],
)
def test_canonical_lead_examples(raw: str, expected: str | None) -> None:
    assert canonical_lead(raw) == expected


@settings(max_examples=60, deadline=None)
@given(
    lead=st.sampled_from(STANDARD_LEADS),
    flips=st.lists(st.booleans(), min_size=3, max_size=3),
    pad=st.sampled_from(["", " ", "  ", "\t"]),
)
def test_canonical_lead_ignores_case_and_whitespace(lead: str, flips: list[bool], pad: str) -> None:
    mixed = "".join(c.upper() if f else c.lower() for c, f in zip(lead, flips, strict=False)) + lead[3:]
    assert canonical_lead(f"{pad}{mixed}{pad}") == lead


def test_canonical_lead_never_maps_frank_leads_to_a_standard_lead() -> None:
    for name in EXTRA_LEADS:
        assert canonical_lead(name) is None
        assert canonical_lead(name.lower()) is None


def test_lead_indices_puts_mimic_avf_avl_back_in_order() -> None:
    idx = lead_indices(MIMIC_ORDER, "mimic")
    assert idx.dtype == np.int64
    assert idx.tolist() == [0, 1, 2, 3, 5, 4, 6, 7, 8, 9, 10, 11]
    assert [MIMIC_ORDER[i] for i in idx] == list(STANDARD_LEADS)


def test_lead_indices_drops_frank_leads_and_ignores_case() -> None:
    assert lead_indices(PTB_ORDER, "ptb").tolist() == list(range(12))


@settings(max_examples=40, deadline=None)
@given(perm=st.permutations(STANDARD_LEADS), upper=st.booleans())
def test_lead_indices_inverts_any_permutation(perm: list[str], upper: bool) -> None:
    names = [n.upper() if upper else n for n in perm]
    idx = lead_indices(names, "r")
    assert [canonical_lead(names[i]) for i in idx] == list(STANDARD_LEADS)


def test_lead_indices_target_subset_in_requested_order() -> None:
    assert lead_indices(MIMIC_ORDER, "r", target=("V6", "aVL", "I")).tolist() == [11, 5, 0]


def test_lead_indices_unknown_name_names_record_and_signal() -> None:
    names = ["I", "FOO", *STANDARD_LEADS[2:]]
    with pytest.raises(CorruptRecordError, match=r"unknown lead name 'FOO' \(signal 1\)") as exc:
        lead_indices(names, "rec-7")
    assert exc.value.record_id == "rec-7"


def test_lead_indices_duplicate_after_canonicalisation() -> None:
    names = [*STANDARD_LEADS, "AVL"]
    with pytest.raises(CorruptRecordError, match=r"duplicate lead 'aVL': signals 4 .* and 12"):
        lead_indices(names, "rec")


def test_lead_indices_missing_error_and_allow() -> None:
    names = list(STANDARD_LEADS[:10])
    with pytest.raises(CorruptRecordError, match=r"missing lead\(s\) V5, V6"):
        lead_indices(names, "rec")
    idx = lead_indices(names, "rec", missing="allow")
    assert idx.tolist() == [*range(10), -1, -1]


def test_lead_indices_rejects_bad_missing_mode() -> None:
    with pytest.raises(ValueError, match="missing must be"):
        lead_indices(STANDARD_LEADS, "rec", missing="fill")


def test_conform_leads_reorders_rows_by_name() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 30)).astype(np.float32)  # (C, T) in MIMIC order
    out, present = conform_leads(x, MIMIC_ORDER)
    assert out.dtype == np.float32 and out.shape == (12, 30)
    assert present.all()
    np.testing.assert_array_equal(out[4], x[5])  # aVL
    np.testing.assert_array_equal(out[5], x[4])  # aVF
    np.testing.assert_array_equal(out[[0, 1, 2, 3]], x[[0, 1, 2, 3]])


def test_conform_leads_fill_marks_missing_rows() -> None:
    x = np.ones((2, 5), np.float64)  # (C, T)
    out, present = conform_leads(x, ["ii", "V2"], missing="fill", fill=-3.0)
    assert present.tolist() == [name in ("II", "V2") for name in STANDARD_LEADS]
    np.testing.assert_array_equal(out[present], np.ones((2, 5)))
    assert (out[~present] == -3.0).all()


def test_conform_leads_missing_is_a_contract_error() -> None:
    x = np.zeros((10, 4))
    with pytest.raises(ContractError, match=r"V5, V6 are missing"):
        conform_leads(x, STANDARD_LEADS[:10])


def test_conform_leads_shape_and_name_errors() -> None:
    with pytest.raises(ContractError, match=r"shape \(3, 4\) but 12 lead names"):
        conform_leads(np.zeros((3, 4)), STANDARD_LEADS)
    with pytest.raises(ContractError, match=r"unknown lead name 'X9'"):
        conform_leads(np.zeros((2, 4)), ["I", "X9"])
    with pytest.raises(ContractError, match=r"duplicate lead 'II'"):
        conform_leads(np.zeros((2, 4)), ["II", "MLII"])
    with pytest.raises(ValueError, match="missing must be"):
        conform_leads(np.zeros((2, 4)), ["I", "II"], missing="allow")
