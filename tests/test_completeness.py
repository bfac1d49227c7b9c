"""Registries, tests, cards, recipes and docs must not drift apart."""

from __future__ import annotations

from biojepa.registry import DATASETS, MASKS, MODELS, TOKENIZERS
from tests.conftest import REPO_ROOT


def test_every_mask_has_its_own_test_module() -> None:
    missing = [n for n in MASKS.names() if not (REPO_ROOT / "tests" / "masks" / f"test_{n}.py").is_file()]
    assert not missing, f"masks without tests/masks/test_<name>.py: {missing}"


def test_every_tokenizer_is_used_by_a_registered_model() -> None:
    from biojepa.models import get_spec

    used = {get_spec(name).tokenizer.kind for name in MODELS.names()}
    unused = sorted(set(TOKENIZERS.names()) - used)
    assert not unused, f"tokenizers no registered model uses (so the model tests never cover them): {unused}"


def test_every_registered_model_name_follows_the_convention() -> None:
    import re

    from biojepa.models import get_spec

    for name in MODELS.names():
        spec = get_spec(name)
        assert spec.name == name
        assert re.fullmatch(r"[a-z]+_[a-z0-9]+(_[a-z0-9]+)?", name), name
        assert name.startswith(spec.modality + "_"), name


def test_every_registered_dataset_has_a_card_and_every_recipe_source_is_registered() -> None:
    from biojepa.config import list_recipes, resolve_config
    from biojepa.data.cards import list_cards

    assert set(DATASETS.names()) <= set(list_cards())
    for recipe in list_recipes():
        for src in resolve_config(recipe).data.sources:
            assert src.id in DATASETS, f"recipe {recipe} uses unregistered dataset {src.id}"


def test_every_cli_command_is_documented() -> None:
    from biojepa.cli import app

    doc = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for group in app.registered_groups:
        sub = group.typer_instance
        for cmd in sub.registered_commands:
            name = cmd.name or cmd.callback.__name__
            assert name in doc, f"`biojepa {group.name} {name}` is not documented in docs/cli.md"
        assert f"biojepa {group.name}" in doc or f"`{group.name}" in doc
    for cmd in app.registered_commands:
        assert f"biojepa {cmd.name}" in doc
