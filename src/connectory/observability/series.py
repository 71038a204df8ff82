"""Bound prometheus-client series, updated without the client's per-update wrapper.

A labelled child's ``inc()`` checks that it is observable, that the amount is not negative
and whether an exemplar came with it before it updates its value (under the value's lock);
a histogram's ``observe()`` does the same and then walks its buckets one by one. Counting
every call of a busy server, that wrapper is most of what the metrics cost. Once a child is
bound (labels known, so observable), :func:`counter_increment` and
:func:`histogram_observer` give functions that update the child's values directly: the same
values, the same locks, the same multiprocess files, so ``/metrics`` renders the same
samples. Should prometheus-client's children change shape (these read private attributes,
checked when a series is bound), the public methods are returned instead: slower, never
wrong.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import Any


def counter_increment(child: Any) -> Callable[[float], None]:
    """A function adding an amount (not negative) to a bound counter *child*'s value."""
    value = getattr(child, "_value", None)
    increment = getattr(value, "inc", None)
    if not callable(increment):
        return child.inc  # type: ignore[no-any-return]
    return increment  # type: ignore[no-any-return]


def histogram_observer(child: Any) -> Callable[[float], None]:
    """A function observing an amount in a bound histogram *child*.

    The bucket is found by bisection: the first upper bound at or above the amount (the
    last bound is +Inf), as prometheus-client's linear search finds it.
    """
    bounds = getattr(child, "_upper_bounds", None)
    buckets = getattr(child, "_buckets", None)
    total = getattr(getattr(child, "_sum", None), "inc", None)
    if (
        not isinstance(bounds, list)
        or not isinstance(buckets, list)
        or len(bounds) != len(buckets)
        or not bounds
        or bounds[-1] != float("inf")
        or not callable(total)
        or not all(callable(getattr(bucket, "inc", None)) for bucket in buckets)
    ):
        return child.observe  # type: ignore[no-any-return]
    increments = tuple(bucket.inc for bucket in buckets)
    bounds = list(bounds)

    def observe(amount: float) -> None:
        total(amount)
        index = bisect_left(bounds, amount)
        # NaN is below no bound: prometheus-client counts it in no bucket, nor does this.
        if index < len(increments) and amount <= bounds[index]:
            increments[index](1)

    return observe
