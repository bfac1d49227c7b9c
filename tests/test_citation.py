"""CITATION.cff is valid CFF 1.2.0 and cites the method papers."""

from __future__ import annotations

import yaml

from tests.conftest import REPO_ROOT

METHOD_PAPERS = {
    "arXiv:2301.08243": "I-JEPA",
    "arXiv:2404.08471": "V-JEPA",
    "arXiv:2410.13867": "ECG-JEPA",
    "arXiv:2403.11772": "S-JEPA",
    "arXiv:2409.19407": "Brain-JEPA",
    "arXiv:2408.07514": "CNN-JEPA",
    "arXiv:2410.03755": "D-JEPA",
}


def test_citation_cff_structure() -> None:
    cff = yaml.safe_load((REPO_ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    for key in ("message", "title", "authors", "version", "type"):
        assert cff.get(key), f"CITATION.cff lacks {key}"
    import biojepa

    assert cff["version"] == biojepa.__version__
    for author in cff["authors"]:
        assert "name" in author or "family-names" in author
    ids = {i["value"] for ref in cff["references"] for i in ref.get("identifiers", [])}
    missing = [f"{name} ({i})" for i, name in METHOD_PAPERS.items() if i not in ids]
    assert not missing, f"CITATION.cff does not cite {missing}"
    for ref in cff["references"]:
        assert ref["type"] and ref["title"] and ref["authors"] and ref["year"]
