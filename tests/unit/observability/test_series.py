"""Bound series updated directly: the same samples as prometheus-client's own methods."""

from __future__ import annotations

import math
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from connectory.observability.metrics import LATENCY_BUCKETS
from connectory.observability.series import counter_increment, histogram_observer

# Below, at and above bounds, the smallest and largest, zero, negatives, infinity, NaN.
AMOUNTS = [
    0.0,
    -1.0,
    0.001,
    0.005,
    0.0050001,
    0.01,
    0.3,
    1,
    2.5,
    59.9,
    60,
    60.0001,
    1e9,
    math.inf,
    math.nan,
]


def _exposition(registry: CollectorRegistry) -> list[str]:
    """The text exposition's sample lines, but for the creation times (they differ)."""
    return [
        line for line in generate_latest(registry).decode().splitlines() if "_created" not in line
    ]


def _histograms() -> tuple[CollectorRegistry, Any, CollectorRegistry, Any]:
    reference, direct = CollectorRegistry(), CollectorRegistry()
    made = [
        Histogram("h", "h", ["k"], buckets=LATENCY_BUCKETS, registry=registry).labels("a")
        for registry in (reference, direct)
    ]
    return reference, made[0], direct, made[1]


def test_a_histogram_observer_fills_the_buckets_prometheus_client_fills() -> None:
    reference, public, direct, bound = _histograms()
    observe = histogram_observer(bound)
    assert observe != bound.observe  # the direct way, with this prometheus-client
    for amount in AMOUNTS:
        public.observe(amount)
        observe(amount)
    assert _exposition(direct) == _exposition(reference)


@pytest.mark.parametrize("amount", AMOUNTS)
def test_each_amount_lands_in_the_same_bucket(amount: float) -> None:
    reference, public, direct, bound = _histograms()
    public.observe(amount)
    histogram_observer(bound)(amount)
    assert _exposition(direct) == _exposition(reference)


def test_a_counter_increment_counts_as_inc_does() -> None:
    registry = CollectorRegistry()
    child = Counter("c", "c", ["k"], registry=registry).labels("a")
    increment = counter_increment(child)
    increment(1)
    increment(2.5)
    child.inc()
    assert registry.get_sample_value("c_total", {"k": "a"}) == 4.5


class _Unfamiliar:
    """A child of another shape: no private values to update."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def inc(self, amount: float = 1) -> None:
        self.seen.append(amount)

    def observe(self, amount: float) -> None:
        self.seen.append(amount)


def test_children_of_another_shape_get_their_public_methods() -> None:
    child = _Unfamiliar()
    counter_increment(child)(3)
    histogram_observer(child)(0.5)
    assert child.seen == [3, 0.5]
