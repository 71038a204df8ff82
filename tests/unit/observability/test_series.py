"""Bound series updated directly: the same samples as prometheus-client's own methods."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

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


#: A process in prometheus-client's multiprocess mode (its values are chosen when the client
#: is imported, so a process of its own): it observes every amount and counts the finite
#: ones not negative, through the client's own methods (argv "public") or the direct
#: functions (argv "direct").
_MULTIPROCESS_CHILD = """
import math, sys
from prometheus_client import CollectorRegistry, Counter, Histogram
from connectory.observability.metrics import LATENCY_BUCKETS
from connectory.observability.series import counter_increment, histogram_observer

registry = CollectorRegistry()
counter = Counter("c", "c", ["k"], registry=registry).labels("a")
histogram = Histogram("h", "h", ["k"], buckets=LATENCY_BUCKETS, registry=registry).labels("a")
if sys.argv[1] == "direct":
    increment, observe = counter_increment(counter), histogram_observer(histogram)
    # The direct way, not the public methods it falls back to.
    assert increment != counter.inc and observe != histogram.observe
else:
    increment, observe = counter.inc, histogram.observe
for amount in [float(a) for a in sys.argv[2:]]:
    observe(amount)
    if math.isfinite(amount) and amount >= 0:
        increment(amount)
"""


def _count_in_a_child(directory: Path, way: str) -> CollectorRegistry:
    """A scraping registry of *directory*, after a child counted there *way*."""
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    amounts = [repr(amount) for amount in AMOUNTS]
    subprocess.run([sys.executable, "-c", _MULTIPROCESS_CHILD, way, *amounts], env=env, check=True)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return registry


def test_direct_updates_in_multiprocess_mode_land_in_the_files_a_scrape_collects(
    tmp_path: Path,
) -> None:
    """With ``PROMETHEUS_MULTIPROC_DIR`` set, the children's values are the client's
    multiprocess values (memory-mapped files): updated directly, a scraping process that
    made no update reads the same samples as after the public methods."""
    direct = _count_in_a_child(tmp_path / "direct", "direct")
    public = _count_in_a_child(tmp_path / "public", "public")
    files = {path.name.split("_")[0] for path in (tmp_path / "direct").iterdir()}
    assert files == {"counter", "histogram"}
    # The collector's order of metrics follows the files: compared as sets of lines.
    assert sorted(_exposition(direct)) == sorted(_exposition(public))
    counted = sum(a for a in AMOUNTS if math.isfinite(a) and a >= 0)
    assert direct.get_sample_value("c_total", {"k": "a"}) == counted
    # Every amount but NaN lands in a bucket (+Inf: the count).
    assert direct.get_sample_value("h_count", {"k": "a"}) == len(AMOUNTS) - 1
