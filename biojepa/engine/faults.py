"""Test-only fault injection, read from the ``BIOJEPA_FAULT`` environment variable.

This is how the kill-and-resume, crash-during-save and non-finite-guard tests reach inside a training
subprocess without monkeypatching it. It is a no-op when the variable is unset or empty, and it is not a
user feature.

Grammar: one or more faults separated by ``;``::

    kill@step=K        SIGKILL this process right after step K's update, before its checkpoint
    exit:CODE@step=K   os._exit(CODE) right after step K's update, before its checkpoint
    nan_loss@step=K    make step K's loss NaN (the step is skipped)
    nan_grad@step=K    make one gradient of step K NaN (the step is skipped)
    raise@save         raise FaultInjected in every checkpoint save, after the temporary directory is
                       written and before it is renamed
    raise@save=K       the same, only in the save of step K

``K`` is a completed-step number (1-based: the step labelled K in ``metrics.jsonl`` and ``step_0000000K``)
or an inclusive range ``A..B`` (e.g. ``nan_loss@step=3..9``).
"""

from __future__ import annotations

import os
import re
import signal
from dataclasses import dataclass, field

from biojepa.errors import ConfigError

__all__ = ["ENV_VAR", "FaultInjected", "FaultPlan", "faults_from_env", "parse_faults"]

ENV_VAR = "BIOJEPA_FAULT"

_RE = re.compile(
    r"^(?P<kind>kill|nan_loss|nan_grad|exit:(?P<code>\d{1,3})|raise)"
    r"@(?:(?P<save>save)(?:=(?P<save_step>\d+))?|step=(?P<a>\d+)(?:\.\.(?P<b>\d+))?)$"
)


class FaultInjected(RuntimeError):
    """Raised by an injected ``raise@save`` fault."""


@dataclass(frozen=True)
class FaultPlan:
    """Parsed faults; every query answers False / None when nothing was injected.

    Attributes:
        kill: steps after which the process kills itself with SIGKILL.
        exit: step -> exit code for ``exit:CODE@step=K``.
        nan_loss: steps whose loss is made NaN.
        nan_grad: steps with one NaN gradient.
        raise_save: True to raise in every save.
        raise_save_steps: steps whose save raises.
    """

    kill: frozenset[int] = frozenset()
    exit: dict[int, int] = field(default_factory=dict)
    nan_loss: frozenset[int] = frozenset()
    nan_grad: frozenset[int] = frozenset()
    raise_save: bool = False
    raise_save_steps: frozenset[int] = frozenset()

    @property
    def active(self) -> bool:
        """Whether any fault is planned."""
        return bool(
            self.kill
            or self.exit
            or self.nan_loss
            or self.nan_grad
            or self.raise_save
            or self.raise_save_steps
        )

    def after_update(self, step: int) -> None:
        """Called right after step ``step``'s update (before its log line and checkpoint)."""
        if step in self.kill:
            os.kill(os.getpid(), signal.SIGKILL)
        if step in self.exit:
            os._exit(self.exit[step])

    def before_commit(self, step: int) -> None:
        """Called by a checkpoint save after its temporary directory is written, before the rename.

        Raises:
            FaultInjected: a ``raise@save`` fault applies to this save.
        """
        if self.raise_save or step in self.raise_save_steps:
            raise FaultInjected(f"injected fault {ENV_VAR}=raise@save at step {step}")


def _steps(a: str, b: str | None, item: str) -> frozenset[int]:
    lo, hi = int(a), int(b) if b is not None else int(a)
    if lo < 1 or hi < lo:
        raise ConfigError(
            f"{ENV_VAR}: bad step range in {item!r}; steps are >= 1 and written K or A..B with A <= B"
        )
    return frozenset(range(lo, hi + 1))


def parse_faults(value: str | None) -> FaultPlan:
    """Parse a ``BIOJEPA_FAULT`` value (see the module docstring).

    Args:
        value: the variable's value; None or blank means no fault.

    Raises:
        ConfigError: the value does not follow the grammar.
    """
    if value is None or not value.strip():
        return FaultPlan()
    kill: set[int] = set()
    exits: dict[int, int] = {}
    nan_loss: set[int] = set()
    nan_grad: set[int] = set()
    raise_save = False
    raise_steps: set[int] = set()
    for raw in value.split(";"):
        item = raw.strip()
        if not item:
            continue
        m = _RE.match(item)
        if m is None:
            raise ConfigError(
                f"{ENV_VAR}={value!r}: cannot parse {item!r}; expected kill@step=K, exit:CODE@step=K, "
                "nan_loss@step=K, nan_grad@step=K (K or A..B), raise@save or raise@save=K, separated by ';'"
            )
        kind = m["kind"]
        if kind == "raise":
            if m["save"] is None:
                raise ConfigError(f"{ENV_VAR}: {item!r}: raise is only supported at save (raise@save)")
            if m["save_step"] is None:
                raise_save = True
            else:
                raise_steps |= _steps(m["save_step"], None, item)
            continue
        if m["save"] is not None:
            raise ConfigError(f"{ENV_VAR}: {item!r}: only raise@save targets a save; use {kind}@step=K")
        steps = _steps(m["a"], m["b"], item)
        if kind.startswith("exit:"):
            code = int(m["code"])
            if not 0 <= code <= 255:
                raise ConfigError(f"{ENV_VAR}: {item!r}: exit code must be in 0..255")
            exits.update({s: code for s in steps})
        elif kind == "kill":
            kill |= steps
        elif kind == "nan_loss":
            nan_loss |= steps
        else:
            nan_grad |= steps
    return FaultPlan(
        kill=frozenset(kill),
        exit=exits,
        nan_loss=frozenset(nan_loss),
        nan_grad=frozenset(nan_grad),
        raise_save=raise_save,
        raise_save_steps=frozenset(raise_steps),
    )


def faults_from_env() -> FaultPlan:
    """The plan in ``$BIOJEPA_FAULT`` (empty when unset).

    Raises:
        ConfigError: the value does not parse.
    """
    return parse_faults(os.environ.get(ENV_VAR))
