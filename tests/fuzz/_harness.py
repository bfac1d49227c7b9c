"""Shared machinery of the reader fuzz tests: a per-example time limit and the outcome check.

Every example must end in a valid :class:`~biojepa.data.record.Record` or a
:class:`~biojepa.errors.CorruptRecordError` within :data:`EXAMPLE_SECONDS`; any other exception fails the test
(hypothesis then shrinks it to a minimal header), and so does any warning outside the documented ones.
"""

from __future__ import annotations

import contextlib
import signal
import time
import warnings
from collections.abc import Callable, Iterator
from typing import TypeVar

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
