"""Prometheus metrics: calls by connector id, bounded labels, resilience events, processes."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from connectory.observability import CallEntry
from connectory.observability.metrics import Metrics, outcome_of
from connectory.resilience.events import (
    AttemptFailed,
    AttemptStarted,
    BreakerTransition,
    FailedFast,
    Waiting,
)


def entry(**fields: object) -> CallEntry:
    values: dict[str, object] = {
        "id": "0" * 32,
        "connection_id": "conn-1",
        "kind": "operation",
        "operation": "get_item",
        "status": "ok",
        "started_at": datetime(2026, 12, 5, tzinfo=UTC),
        "duration": 0.02,
        "status_code": 200,
        "connector_id": "connector-a",
    }
    values.update(fields)
    return CallEntry(**values)  # type: ignore[arg-type]


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_calls_are_counted_by_connector_id_kind_operation_and_outcome() -> None:
    metrics = Metrics()
    metrics.observe_call(entry())
    metrics.observe_call(entry())
    metrics.observe_call(entry(status="error", status_code=503, error_class="UpstreamError"))
    metrics.observe_call(entry(kind="token_refresh", operation="oauth2"))
    metrics.observe_call(entry(status="error", status_code=None, error_class="RateLimited"))
    found = samples(metrics)
    key = (("connector", "connector-a"), ("kind", "operation"), ("operation", "get_item"))
    assert found[("connectory_calls_total", (*key, ("outcome", "ok")))] == 2
    assert found[("connectory_calls_total", (*key, ("outcome", "http_5xx")))] == 1
    assert found[("connectory_calls_total", (*key, ("outcome", "rate_limited")))] == 1
    assert found[("connectory_rate_limit_refusals_total", (("connector", "connector-a"),))] == 1
    assert (
        found[
            ("connectory_token_refreshes_total", (("connector", "connector-a"), ("outcome", "ok")))
        ]
        == 1
    )
    duration = (("connector", "connector-a"), ("kind", "operation"))
    assert found[("connectory_call_duration_seconds_count", duration)] == 4
    # No connection id anywhere unless asked for.
    assert "conn-1" not in metrics.render().decode()


def test_connection_labels_only_when_asked_for() -> None:
    metrics = Metrics(connection_labels=True)
    metrics.observe_call(entry())
    assert 'connection="conn-1"' in metrics.render().decode()


def test_operation_labels_are_bounded_per_connector() -> None:
    metrics = Metrics(max_operations=2)
    for name in ("a", "b", "c", "d", "a"):
        metrics.observe_call(entry(operation=name))
    metrics.observe_call(entry(operation="c", connector_id="connector-b"))
    operations = {
        dict(labels)["operation"]
        for (name, labels) in samples(metrics)
        if name == "connectory_calls_total" and dict(labels)["connector"] == "connector-a"
    }
    assert operations == {"a", "b", "_other"}
    assert (
        "connectory_calls_total",
        (
            ("connector", "connector-b"),
            ("kind", "operation"),
            ("operation", "c"),
            ("outcome", "ok"),
        ),
    ) in samples(metrics)


@pytest.mark.parametrize(
    ("fields", "outcome"),
    [
        ({}, "ok"),
        ({"status_code": 404, "status": "error"}, "http_4xx"),
        ({"error_class": "UpstreamTimeout", "status_code": None}, "timeout"),
        ({"error_class": "CircuitOpen", "status_code": None}, "circuit_open"),
        ({"error_class": "UpstreamError", "status_code": 429}, "http_4xx"),
        ({"error_class": "SomethingNew", "status_code": None}, "error"),
    ],
)
def test_outcomes_are_a_fixed_set(fields: dict[str, object], outcome: str) -> None:
    assert outcome_of(entry(**fields)) == outcome


def test_resilience_events_count_retries_waits_and_breaker_states() -> None:
    metrics = Metrics()
    observe = metrics.resilience_observer("connector-a")
    observe(AttemptStarted("conn", 1, 3))
    observe(AttemptFailed("conn", 1, "503", will_retry=True))
    observe(AttemptStarted("conn", 2, 3))
    observe(Waiting("conn", 1.5, "rate limit"))
    observe(BreakerTransition("conn", "closed", "open"))
    observe(FailedFast("conn", "open", 30.0))
    observe(BreakerTransition("conn", "open", "half_open"))
    found = samples(metrics)
    connector = (("connector", "connector-a"),)
    assert found[("connectory_upstream_attempts_total", connector)] == 2
    assert found[("connectory_retries_total", connector)] == 1
    waits = (("cause", "rate limit"), ("connector", "connector-a"))
    assert found[("connectory_rate_limit_waits_total", waits)] == 1
    assert found[("connectory_rate_limit_wait_seconds_total", waits)] == 1.5
    assert found[("connectory_breaker_rejections_total", connector)] == 1
    assert found[("connectory_breakers", (("state", "open"),))] == 0
    assert found[("connectory_breakers", (("state", "half_open"),))] == 1
    assert (
        found[
            (
                "connectory_breaker_transitions_total",
                (("connector", "connector-a"), ("to_state", "open")),
            )
        ]
        == 1
    )


def test_events_and_call_log_metrics() -> None:
    metrics = Metrics()
    metrics.set_queue_depth("deliveries", 12)
    metrics.observe_task_latency("delivery", 0.3)
    metrics.count_dead_letter("connector-a")
    metrics.count_dropped(4)
    metrics.set_pending(9)
    found = samples(metrics)
    assert found[("connectory_event_queue_depth", (("queue", "deliveries"),))] == 12
    assert found[("connectory_task_latency_seconds_count", (("task", "delivery"),))] == 1
    assert found[("connectory_dead_letters_total", (("connector", "connector-a"),))] == 1
    assert found[("connectory_call_log_dropped_total", ())] == 4
    assert found[("connectory_call_log_pending", ())] == 9


_CHILD = """
import sys
from datetime import UTC, datetime
from connectory.observability import CallEntry
from connectory.observability.metrics import Metrics
metrics = Metrics()
for _ in range(int(sys.argv[1])):
    metrics.observe_call(CallEntry(
        id="0" * 32, connection_id="c", kind="operation", operation="op", status="ok",
        started_at=datetime.now(UTC), duration=0.01, status_code=200, connector_id="k"))
"""


def test_several_processes_are_summed_in_multiprocess_mode(tmp_path: Path) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    for count in (2, 3):
        subprocess.run([sys.executable, "-c", _CHILD, str(count)], env=env, check=True)
    # A scraping process that made no call itself answers for both.
    exposition = Metrics(multiprocess_dir=str(directory)).render().decode()
    calls = [
        line
        for line in exposition.splitlines()
        if line.startswith("connectory_calls_total{") and 'connector="k"' in line
    ]
    assert len(calls) == 1 and calls[0].endswith(" 5.0")
