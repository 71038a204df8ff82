"""The aiohttp wire's per-phase timeouts: the time left, rounded up to the millisecond, shared."""

from __future__ import annotations

import pytest

from connectory.http.aiohttp_wire import _phase_timeouts


@pytest.mark.parametrize(
    ("left", "expected"),
    [(30.0, 30.0), (29.99995, 30.0), (0.3, 0.3), (0.2991, 0.3), (0.0004, 0.001), (0.0, 0.0)],
)
def test_each_phase_gets_the_time_left_never_less(left: float, expected: float) -> None:
    timeouts = _phase_timeouts(left)
    assert timeouts.total is None
    assert timeouts.connect == timeouts.sock_connect == timeouts.sock_read == expected
    assert expected >= left
    assert expected - left < 0.001


def test_attempts_with_the_same_time_left_share_one_object() -> None:
    assert _phase_timeouts(29.99991) is _phase_timeouts(29.99999)
    assert _phase_timeouts(29.9989) is not _phase_timeouts(29.99999)
