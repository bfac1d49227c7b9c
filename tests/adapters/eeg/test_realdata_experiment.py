"""The EEG real-data experiments at test scale (docs/results.md has the full runs).

Only what is robust on this small data is asserted: the classical baselines decode SSVEP (CCA) and executed
movements (CSP+LDA) above the binomial chance bound, every S-JEPA row is finite, and pretraining on the
executed-movement runs never reads the imagined-movement runs used for fine-tuning.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from biojepa.adapters.eeg.bci_eval import BciEvalConfig, run_bci

FAST = {"max_epochs": 2, "patience": 2, "n_permutations": 100, "seeds": 1}


def _rows(res: dict) -> dict:
    rows = {r["variant"]: r for r in res["rows"]}
    for r in rows.values():
        assert math.isfinite(r["value"]) and 0.0 <= r["value"] <= 1.0
    return rows


@pytest.mark.realdata
def test_ssvep_cca_decodes_above_chance(shared_data: Path) -> None:
    root = shared_data / "eeg" / "eegnb_muse_ssvep"
    res = run_bci(BciEvalConfig(paradigm="ssvep", data=f"eegnb_ssvep={root}", models=["random:eeg_sjepa"],
                                split="within", folds=5, **FAST))
    rows = _rows(res)
    assert res["n_records"]["trials"] == 290
    assert rows["cca"]["value"] > rows["cca"]["chance_bound"]  # measured 0.634 vs bound 0.559
    assert rows["cca"]["p_value"] < 0.05
    assert set(rows) == {"random_init", "cca", "chance"}


@pytest.mark.realdata
def test_executed_movement_csp_decodes_above_chance(shared_data: Path) -> None:
    root = shared_data / "eeg" / "eegmmidb_S001"
    res = run_bci(BciEvalConfig(paradigm="mi_executed", data=f"eegmmidb={root}", models=["random:eeg_sjepa"],
                                split="within", folds=5, **FAST))
    rows = _rows(res)
    assert res["n_records"]["trials"] == 45 and res["protocol"]["channels"][:2] == ["FC5", "FC3"]
    assert rows["csp_lda"]["value"] > rows["csp_lda"]["chance_bound"]  # measured 0.711 vs bound 0.622


@pytest.mark.realdata
def test_pretraining_source_reads_only_the_requested_runs(shared_data: Path, tmp_path: Path) -> None:
    from biojepa.data.sources import resolve_source
    from biojepa.models import get_spec

    spec = get_spec("eeg_sjepa", signal={"n_times": 512, "channels": _eegmmidb_channels()})
    store = resolve_source("eegmmidb").open(shared_data / "eeg" / "eegmmidb_S001", cache_dir=tmp_path,
                                            params={"runs": [3, 5, 7, 9, 11, 13]}, signal=spec.signal)
    ids = sorted(store.record_id(i) for i in range(store.n_records))
    assert ids == ["S001R03", "S001R05", "S001R07", "S001R09", "S001R11", "S001R13"]
    x = store.crop(0, 0, 512)
    assert x.shape == (64, 512) and np.isfinite(x).all()


def _eegmmidb_channels() -> list[str]:
    from biojepa.data.cards import load_card

    return list(load_card("eegmmidb").channels)
