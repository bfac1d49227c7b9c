"""Test-only fault injection, read from the ``BIOJEPA_FAULT`` environment variable.

This is how the kill-and-resume, crash-during-save, signal, non-finite-guard and elastic-restart tests reach
inside a training subprocess (or every ``torchrun`` worker) without monkeypatching it. It is a no-op when
the variable is unset or empty, and it is not a user feature. A value that does not parse is a
:class:`~biojepa.errors.ConfigError` at trainer start (the CLI exits 2): a typo must never silently disable
a test.

Grammar: one or more faults separated by ``;``, each ``ACTION@WHEN[,rank=R][,restart=N]``::

    kill@step=K          SIGKILL this process right after step K's update, before its checkpoint
    exit:CODE@step=K     os._exit(CODE) right after step K's update, before its checkpoint
    nan_loss@step=K      make step K's loss NaN (the step is skipped on every rank)
    nan_grad@step=K      make one gradient of step K NaN (the step is skipped on every rank)
    signal:TERM@step=K   send SIGTERM (or signal:USR1, SIGUSR1) to this process right after step K's update
    raise@save           raise FaultInjected in every checkpoint save, after the temporary directory is
                         written and before it is renamed
    raise@save=K         the same, only in the save of step K

``K`` is a completed-step number (1-based: the step labelled K in ``metrics.jsonl`` and ``step_0000000K``)
or an inclusive range ``A..B`` (e.g. ``nan_loss@step=3..9``). ``rank=R`` limits a fault to the process whose
``RANK`` is R; ``restart=N`` to the attempt whose ``TORCHELASTIC_RESTART_COUNT`` is N (0 for the first
launch). Without them a fault fires in every process and every attempt. Example for an elastic-restart
test: ``exit:1@step=7,rank=1,restart=0``.
"""

from __future__ import annotations

import os
import re
import signal
from dataclasses import dataclass

from biojepa.errors import ConfigError

__all__ = ["ENV_VAR", "Fault", "FaultInjected", "FaultPlan", "faults_from_env", "parse_faults"]

ENV_VAR = "BIOJEPA_FAULT"

_ITEM_RE = re.compile(
    r"^(?P<kind>kill|nan_loss|nan_grad|exit:(?P<code>\d{1,3})|signal:(?P<sig>TERM|USR1)|raise)"
    r"@(?:(?P<save>save)(?:=(?P<save_step>\d+))?|step=(?P<a>\d+)(?:\.\.(?P<b>\d+))?)"
    r"(?P<quals>(?:,(?:rank|restart)=\d+)*)$"
)
_QUAL_RE = re.compile(r",(rank|restart)=(\d+)")
_SIGNALS = {"TERM": signal.SIGTERM, "USR1": getattr(signal, "SIGUSR1", signal.SIGTERM)}


class FaultInjected(RuntimeError):
    """Raised by an injected ``raise@save`` fault."""


@dataclass(frozen=True)
class Fault:
    """One parsed fault.

    Attributes:
        action: ``kill`` | ``exit`` | ``nan_loss`` | ``nan_grad`` | ``signal`` | ``raise_save``.
        steps: the completed steps it fires at; None for ``raise@save`` without a step (every save).
        code: the exit code (``exit``) or signal number (``signal``); None otherwise.
        rank: only in the process of this ``RANK`` (None: every rank).
        restart: only in the attempt of this ``TORCHELASTIC_RESTART_COUNT`` (None: every attempt).
    """

    action: str
    steps: frozenset[int] | None
    code: int | None = None
    rank: int | None = None
    restart: int | None = None

    def applies(self, rank: int, restart: int) -> bool:
        """Whether the fault fires in process ``rank`` during elastic attempt ``restart``."""
        return (self.rank is None or self.rank == rank) and (self.restart is None or self.restart == restart)


@dataclass(frozen=True)
class FaultPlan:
    """The faults of one process; every query answers False / empty when nothing applies here.

    Attributes:
        faults: every parsed fault (including those meant for other ranks / attempts).
        rank: this process's rank.
        restart: this process's elastic attempt (``TORCHELASTIC_RESTART_COUNT``).
    """

    faults: tuple[Fault, ...] = ()
    rank: int = 0
    restart: int = 0

    def _steps(self, action: str) -> frozenset[int]:
        out: set[int] = set()
        for f in self.faults:
            if f.action == action and f.steps is not None and f.applies(self.rank, self.restart):
                out |= f.steps
        return frozenset(out)

    @property
    def active(self) -> bool:
        """Whether any fault applies to this process."""
        return any(f.applies(self.rank, self.restart) for f in self.faults)

    @property
    def kill(self) -> frozenset[int]:
        """Steps after which this process SIGKILLs itself."""
        return self._steps("kill")

    @property
    def nan_loss(self) -> frozenset[int]:
        """Steps whose loss is made NaN here."""
        return self._steps("nan_loss")

    @property
    def nan_grad(self) -> frozenset[int]:
        """Steps with one NaN gradient here."""
        return self._steps("nan_grad")

    @property
    def exit(self) -> dict[int, int]:
        """Step -> exit code of the ``exit:CODE`` faults that apply here."""
        return self._coded("exit")

    @property
    def signals(self) -> dict[int, int]:
        """Step -> signal number of the ``signal:NAME`` faults that apply here."""
        return self._coded("signal")

    def _coded(self, action: str) -> dict[int, int]:
        out: dict[int, int] = {}
        for f in self.faults:
            if f.action == action and f.steps is not None and f.applies(self.rank, self.restart):
                out.update({s: int(f.code or 0) for s in f.steps})
        return out

    @property
    def raise_save(self) -> bool:
        """Whether every save raises here."""
        return any(
            f.action == "raise_save" and f.steps is None and f.applies(self.rank, self.restart)
            for f in self.faults
        )

    @property
    def raise_save_steps(self) -> frozenset[int]:
        """Steps whose save raises here."""
        return self._steps("raise_save")

    def for_process(self, rank: int, restart: int) -> FaultPlan:
        """The same faults, evaluated for process ``rank`` in elastic attempt ``restart``."""
        return FaultPlan(self.faults, rank=int(rank), restart=int(restart))

    def after_update(self, step: int) -> None:
        """Called right after step ``step``'s update (before its log line and checkpoint)."""
        if step in self.kill:
            os.kill(os.getpid(), signal.SIGKILL)
        exits = self.exit
        if step in exits:
            os._exit(exits[step])
        sigs = self.signals
        if step in sigs:
            os.kill(os.getpid(), sigs[step])

    def before_commit(self, step: int) -> None:
        """Called by a checkpoint save after its temporary directory is written, before the rename.

        Raises:
            FaultInjected: a ``raise@save`` fault applies to this save.
        """
        if self.raise_save or step in self.raise_save_steps:
            raise FaultInjected(f"injected fault {ENV_VAR}=raise@save at step {step} (rank {self.rank})")


def _step_range(a: str, b: str | None, item: str) -> frozenset[int]:
    lo, hi = int(a), int(b) if b is not None else int(a)
    if lo < 1 or hi < lo:
        raise ConfigError(
            f"{ENV_VAR}: bad step range in {item!r}; steps are >= 1 and written K or A..B with A <= B"
        )
    return frozenset(range(lo, hi + 1))


def _parse_item(item: str, value: str) -> Fault:
    m = _ITEM_RE.match(item)
    if m is None:
        raise ConfigError(
            f"{ENV_VAR}={value!r}: cannot parse {item!r}; expected ACTION@step=K[,rank=R][,restart=N] with "
            "ACTION one of kill, exit:CODE, nan_loss, nan_grad, signal:TERM, signal:USR1 (K or A..B), or "
            "raise@save / raise@save=K, separated by ';'"
        )
    quals: dict[str, int] = {}
    for name, num in _QUAL_RE.findall(m["quals"]):
        if name in quals:
            raise ConfigError(f"{ENV_VAR}: {item!r} gives {name}= twice")
        quals[name] = int(num)
    kind = m["kind"]
    if kind == "raise":
        if m["save"] is None:
            raise ConfigError(f"{ENV_VAR}: {item!r}: raise is only supported at save (raise@save)")
        steps = None if m["save_step"] is None else _step_range(m["save_step"], None, item)
        return Fault("raise_save", steps, rank=quals.get("rank"), restart=quals.get("restart"))
    if m["save"] is not None:
        raise ConfigError(f"{ENV_VAR}: {item!r}: only raise@save targets a save; use {kind}@step=K")
    steps = _step_range(m["a"], m["b"], item)
    code: int | None = None
    action = kind
    if kind.startswith("exit:"):
        action, code = "exit", int(m["code"])
        if not 0 <= code <= 255:
            raise ConfigError(f"{ENV_VAR}: {item!r}: exit code must be in 0..255")
    elif kind.startswith("signal:"):
        action, code = "signal", int(_SIGNALS[m["sig"]])
    return Fault(action, steps, code=code, rank=quals.get("rank"), restart=quals.get("restart"))


def parse_faults(value: str | None, *, rank: int = 0, restart: int = 0) -> FaultPlan:
    """Parse a ``BIOJEPA_FAULT`` value (see the module docstring) for process ``rank``, attempt ``restart``.

    Args:
        value: the variable's value; None or blank means no fault.
        rank: the process's rank (faults with another ``rank=`` do not apply here).
        restart: the elastic attempt (faults with another ``restart=`` do not apply here).

    Raises:
        ConfigError: the value does not follow the grammar.
    """
    if value is None or not value.strip():
        return FaultPlan(rank=rank, restart=restart)
    faults = tuple(_parse_item(raw.strip(), value) for raw in value.split(";") if raw.strip())
    return FaultPlan(faults, rank=rank, restart=restart)


def _env_int(name: str) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw.isdigit() else 0


def faults_from_env() -> FaultPlan:
    """The plan in ``$BIOJEPA_FAULT`` for this process (``$RANK``, ``$TORCHELASTIC_RESTART_COUNT``).

    Raises:
        ConfigError: the value does not parse.
    """
    return parse_faults(
        os.environ.get(ENV_VAR), rank=_env_int("RANK"), restart=_env_int("TORCHELASTIC_RESTART_COUNT")
    )
