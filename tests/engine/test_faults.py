"""BIOJEPA_FAULT parsing (test-only fault injection)."""

from __future__ import annotations

import pytest

from biojepa.engine.faults import FaultInjected, FaultPlan, faults_from_env, parse_faults
from biojepa.errors import ConfigError


def test_empty_means_no_fault() -> None:
    for value in (None, "", "  "):
        plan = parse_faults(value)
        assert plan == FaultPlan()
        assert not plan.active
        plan.after_update(1)  # no-op
        plan.before_commit(1)  # no-op


def test_grammar() -> None:
    plan = parse_faults("kill@step=6; nan_loss@step=3..5;nan_grad@step=9;exit:3@step=7;raise@save=8")
    assert plan.kill == {6}
    assert plan.nan_loss == {3, 4, 5}
    assert plan.nan_grad == {9}
    assert plan.exit == {7: 3}
    assert plan.raise_save_steps == {8} and not plan.raise_save
    assert plan.active
    plan.before_commit(4)  # not the faulty save
    with pytest.raises(FaultInjected, match="raise@save"):
        plan.before_commit(8)
    with pytest.raises(FaultInjected):
        parse_faults("raise@save").before_commit(1)


@pytest.mark.parametrize(
    "bad",
    [
        "kill",
        "kill@step=",
        "kill@step=0",
        "nan_loss@step=5..3",
        "explode@step=1",
        "raise@step=3",
        "kill@save",
        "exit:999@step=1",
        "kill@step=1,rank=1",
    ],
)
def test_unparsable_values_raise_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="BIOJEPA_FAULT"):
        parse_faults(bad)


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIOJEPA_FAULT", "kill@step=2")
    assert faults_from_env().kill == {2}
    monkeypatch.delenv("BIOJEPA_FAULT")
    assert not faults_from_env().active
