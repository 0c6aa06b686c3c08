"""The suite's one waiting helper returns what it waited for and fails saying what it waited for."""

from __future__ import annotations

import itertools

import pytest

from tests.waiting import wait_until


def test_returns_the_conditions_first_truthy_value() -> None:
    calls = itertools.count()
    assert wait_until(lambda: [n] if (n := next(calls)) >= 2 else [], 5, "the third call") == [2]


def test_a_timeout_fails_showing_the_state_it_ends_in() -> None:
    checks: list[None] = []
    with pytest.raises(pytest.fail.Exception, match=r"waiting for ten checks \(1 so far\)"):
        wait_until(lambda: checks.append(None), 0, lambda: f"ten checks ({len(checks)} so far)")
