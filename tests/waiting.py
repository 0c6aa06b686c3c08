"""The one way a test waits for something asynchronous: ``wait_until(condition, timeout_s, what)``.

A test never sleeps to let something happen: it names the observable condition that proves it
happened (a state, a counter, a metric, a log line) and waits for that. The timeout only bounds
a hang; it is generous because the shared test machine is slow, and no test asserts on how long
the wait took.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

import pytest

T = TypeVar("T")

POLL_S = 0.1


def wait_until(condition: Callable[[], T], timeout_s: float, what: str | Callable[[], str]) -> T:
    """The first truthy value of ``condition()``; fails the test after ``timeout_s`` naming ``what``.

    ``what`` may be a callable so the failure shows the state at the time of the failure (a log
    tail, the values seen). The condition is checked once more after the deadline, so a slow check
    that turns true while the clock runs out still counts.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting for {what() if callable(what) else what}")
        time.sleep(POLL_S)
