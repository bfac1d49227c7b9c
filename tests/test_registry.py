"""The generic registry: registration, fnmatch listing, helpful unknown-name errors."""

from __future__ import annotations

import pytest

from biojepa.errors import UnknownNameError
from biojepa.registry import DATASETS, MASKS, MODELS, TOKENIZERS, Registry


def test_register_list_create() -> None:
    reg: Registry[object] = Registry("widget")

    @reg.register("ecg_small", modality="ecg")
    def ecg_small(width: int = 3) -> tuple[str, int]:
        return ("ecg", width)

    reg.add("eeg_small", lambda: ("eeg", 1), modality="eeg")
    assert reg.names() == ["ecg_small", "eeg_small"]
    assert reg.names("ecg_*") == ["ecg_small"]
    assert reg.names(modality="eeg") == ["eeg_small"]
    assert reg.create("ecg_small", width=5) == ("ecg", 5)
    assert reg.entry("ecg_small").meta["modality"] == "ecg"
    assert "ecg_small" in reg and len(reg) == 2


def test_unknown_name_lists_valid_names_and_close_matches() -> None:
    reg: Registry[object] = Registry("widget")
    reg.add("ecg_vit_s", object())
    reg.add("eeg_sjepa", object())
    with pytest.raises(UnknownNameError, match=r"unknown widget 'ecg_vit_x'.*Did you mean 'ecg_vit_s'.*eeg_sjepa"):
        reg.get("ecg_vit_x")
    with pytest.raises(KeyError):  # also a KeyError, for dict-like callers
        reg.get("nothing")


def test_conflicting_registration_is_refused() -> None:
    reg: Registry[object] = Registry("widget")
    reg.add("a", object())
    with pytest.raises(ValueError, match="already registered"):
        reg.add("a", 42)


@pytest.mark.parametrize("registry", [MODELS, TOKENIZERS, MASKS, DATASETS], ids=lambda r: r.kind)
def test_global_registries_load_lazily_and_are_non_empty(registry: Registry[object]) -> None:
    assert len(registry.names()) >= 1
