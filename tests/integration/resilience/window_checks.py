"""Checks on request timestamps shared by the sliding-window tests."""

from __future__ import annotations


def min_span(times: list[float], limit: int) -> float:
    """Return the shortest time covering ``limit + 1`` consecutive requests.

    The sliding-window invariant "at most *limit* requests in any window of W seconds" holds
    exactly when this is at least W. With no more than *limit* requests it is infinite.
    """
    ordered = sorted(times)
    spans = [ordered[i + limit] - ordered[i] for i in range(len(ordered) - limit)]
    return min(spans, default=float("inf"))
