"""Shared machinery of the reader fuzz tests: a per-example time limit and the outcome check.

Every example must end in a valid :class:`~biojepa.data.record.Record` or a
:class:`~biojepa.errors.CorruptRecordError` within :data:`EXAMPLE_SECONDS`; any other exception fails the test
(hypothesis then shrinks it to a minimal header), and so does any warning outside the documented ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import signal
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from biojepa.errors import CorruptRecordError

T = TypeVar("T")

#: Wall-clock limit of one example (reading a tiny file takes milliseconds; a hang or a huge allocation does not).
EXAMPLE_SECONDS = 5.0

#: Distinct examples each fuzz test must execute (its ``max_examples`` is set higher: hypothesis may repeat).
MIN_EXAMPLES = 150


class ExampleTimeout(BaseException):  # a BaseException, so no reader's `except Exception` swallows it
    """An example ran longer than its time limit (a hang)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`ExampleTimeout` in the main thread after ``seconds`` (SIGALRM).

    pytest-timeout's own alarm (if any) is suspended meanwhile and re-armed with its remaining time afterwards.
    """

    def on_alarm(signum: int, frame: object) -> None:
        raise ExampleTimeout(f"example still running after {seconds:g} s")

    start = time.monotonic()
    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay > 0:
            remaining = max(old_delay - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, remaining, old_interval)


def outcome(
    read: Callable[[], T], allowed_warnings: tuple[type[Warning], ...] = ()
) -> T | CorruptRecordError:
    """Run ``read`` under the time limit; return its result or the CorruptRecordError it raised.

    Any other exception propagates (the test fails). Warnings are recorded; one that is not an instance of
    ``allowed_warnings`` fails the test with its message.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with time_limit(EXAMPLE_SECONDS):
                result: T | CorruptRecordError = read()
        except CorruptRecordError as exc:
            result = exc
    unexpected = [
        f"{w.category.__name__}: {w.message}" for w in caught if not issubclass(w.category, allowed_warnings)
    ]
    assert not unexpected, f"undocumented warning(s) while reading: {unexpected}"
    if isinstance(result, CorruptRecordError):
        assert result.reason and result.record_id, "a CorruptRecordError must name the record and the reason"
    return result


class Tally:
    """Distinct inputs and outcomes of one fuzz run, with the coverage assertions every suite makes."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.outcomes = {"record": 0, "corrupt": 0}

    def input(self, data: bytes) -> None:
        """Count one mutated input (by its sha256: hypothesis may replay an example)."""
        self.seen.add(hashlib.sha256(data).hexdigest())

    def is_record(self, got: Any) -> bool:
        """Count an outcome of :func:`outcome`; True for a record (the caller checks its invariants)."""
        if isinstance(got, CorruptRecordError):
            assert got.record_id == "fuzz", got
            self.outcomes["corrupt"] += 1
            return False
        self.outcomes["record"] += 1
        return True

    def check(self, what: str) -> None:
        """At least :data:`MIN_EXAMPLES` distinct inputs ran, and both outcomes occurred."""
        assert len(self.seen) >= MIN_EXAMPLES, f"only {len(self.seen)} distinct {what} ran"
        assert self.outcomes["record"] > 0 and self.outcomes["corrupt"] > 0, self.outcomes
