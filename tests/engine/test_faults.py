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
        "kill@step=1,rank=",
        "kill@step=1,rank=1,rank=2",
        "kill@step=1,node=1",
        "kill@step=1;rank=1",
        "signal:HUP@step=1",
        "raise@save,rank",
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


def test_rank_and_restart_qualifiers_select_the_process() -> None:
    value = "exit:1@step=7,rank=1,restart=0; nan_grad@step=4,rank=1; raise@save=6,restart=1; kill@step=9"
    r0 = parse_faults(value, rank=0, restart=0)
    r1 = parse_faults(value, rank=1, restart=0)
    r1_again = r1.for_process(1, 1)
    assert r0.exit == {} and r0.nan_grad == frozenset() and r0.kill == {9} and not r0.raise_save_steps
    assert r1.exit == {7: 1} and r1.nan_grad == {4} and r1.kill == {9}
    assert r1_again.exit == {} and r1_again.nan_grad == {4} and r1_again.raise_save_steps == {6}
    assert len(r0.faults) == len(r1.faults) == 4  # the plan keeps every fault; the queries filter
    assert parse_faults("kill@step=2,rank=1", rank=1).active is True
    assert parse_faults("kill@step=2,rank=1", rank=0).active is False


def test_signal_action(monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    plan = parse_faults("signal:TERM@step=3;signal:USR1@step=5")
    assert plan.signals == {3: signal.SIGTERM, 5: signal.SIGUSR1}
    sent: list[tuple[int, int]] = []
    monkeypatch.setattr("os.kill", lambda pid, sig: sent.append((pid, sig)))
    plan.after_update(2)
    plan.after_update(3)
    assert [s for _, s in sent] == [signal.SIGTERM]


def test_from_env_reads_rank_and_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIOJEPA_FAULT", "nan_loss@step=2,rank=1,restart=2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "2")
    assert faults_from_env().nan_loss == {2}
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    assert faults_from_env().nan_loss == frozenset()
