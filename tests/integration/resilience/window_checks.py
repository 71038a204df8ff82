"""Checks on request timestamps shared by the sliding-window tests."""

from __future__ import annotations

#: How far apart a grant and the upstream's arrival stamp may drift: loopback latency plus
#: scheduling delay on a loaded two-core machine (50 callers and the server share the GIL).
#: The grant times themselves are checked exactly; this only covers the wire.
LATENCY_SLACK = 0.2


def min_span(times: list[float], limit: int) -> float:
    """Return the shortest time covering ``limit + 1`` consecutive requests.

    The sliding-window invariant "at most *limit* requests in any window of W seconds" holds
    exactly when this is at least W. With no more than *limit* requests it is infinite.
    """
    ordered = sorted(times)
    spans = [ordered[i + limit] - ordered[i] for i in range(len(ordered) - limit)]
    return min(spans, default=float("inf"))
