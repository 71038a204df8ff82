"""Prometheus metrics (prometheus-client), labelled by ids with a bounded number of series.

Every recorded call counts (``connectory_calls_total`` by connector id, kind, operation and
outcome; ``connectory_call_duration_seconds``); the resilience layer's events count retries,
breaker transitions and rate-limit waits; the events layer reports its queue depth, task
latency and dead letters through :meth:`Metrics.set_queue_depth`,
:meth:`Metrics.observe_task_latency` and :meth:`Metrics.count_dead_letter`.

Label values are bounded: connector ids (never names), the kinds of
:data:`~connectory.observability.calls.CALL_KINDS`, a fixed set of outcomes, and at most
``max_operations`` operation names per connector (later ones count as ``_other``). Connection
ids are labels only when asked for (``connection_labels``): a deployment with thousands of
connections would otherwise make thousands of series.

Several processes (uvicorn or gunicorn workers) are supported as prometheus-client documents:
set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before the processes start, and each
process's ``/metrics`` answers for all of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess

from connectory.observability.calls import CALL_KINDS, CallEntry
from connectory.observability.series import counter_increment, histogram_observer
from connectory.resilience.events import (
    AttemptFailed,
    AttemptStarted,
    BreakerTransition,
    FailedFast,
    ResilienceEvent,
    Waiting,
)

#: The content type of the text exposition format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Operation label of operations beyond a connector's ``max_operations``.
OTHER = "_other"

#: Buckets of call latency, seconds: proxy-fast calls up to slow paged reads.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

_KINDS = frozenset(CALL_KINDS)

#: A call series: the functions counting a call and observing its duration.
_CallSeries = tuple[Callable[[float], None], Callable[[float], None]]

#: Distinct (connector, kind, operation, outcome) values remembered with their bound series.
_MAX_RAW_KEYS = 10_000

#: Error classes and the outcome label they count under (anything else is ``error``).
_OUTCOMES = {
    "UpstreamTimeout": "timeout",
    "TransportError": "unreachable",
    "EgressDenied": "unreachable",
    "CircuitOpen": "circuit_open",
    "RateLimited": "rate_limited",
    "AuthError": "auth_error",
    "CredentialsError": "auth_error",
    "InputError": "invalid",
    "InvalidRequest": "invalid",
    "OperationNotFound": "invalid",
    "NotSupported": "invalid",
    "RecordInvalid": "invalid",
    "RecordNotFound": "not_found",
    "ResponseError": "bad_response",
    "ResponseTooLarge": "bad_response",
    "ResponseSchemaError": "bad_response",
    "PaginationError": "bad_response",
    "ScriptError": "script_error",
    "ScriptLimitError": "script_error",
}


def outcome_of(entry: CallEntry) -> str:
    """The bounded outcome label of a call: ok, http_4xx, http_5xx, timeout, ..."""
    if entry.error_class is None:
        if entry.status_code is not None and entry.status_code >= 500:
            return "http_5xx"
        if entry.status_code is not None and entry.status_code >= 400:
            return "http_4xx"
        return "ok" if entry.status == "ok" else "error"
    if entry.error_class == "UpstreamError":
        return "http_5xx" if (entry.status_code or 500) >= 500 else "http_4xx"
    return _OUTCOMES.get(entry.error_class, "error")


class Metrics:
    """The server's metrics; one instance per app (its own registry, no global state).

    Args:
        connection_labels: Add a ``connection`` label (the id) to calls and durations.
        max_operations: Distinct operation labels kept per connector.
        multiprocess_dir: prometheus-client's multiprocess directory; by default
            ``PROMETHEUS_MULTIPROC_DIR``. When set, :meth:`render` aggregates every process.
    """

    def __init__(
        self,
        *,
        connection_labels: bool = False,
        max_operations: int = 100,
        multiprocess_dir: str | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._multiprocess_dir = multiprocess_dir or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self._connection_labels = connection_labels
        self._max_operations = max(1, max_operations)
        self._operations: dict[str, set[str]] = {}
        # Bound series by label values: labels() validates and locks on every call, a dict
        # look-up does not (a busy server counts thousands of calls a second). Each is the
        # pair of functions updating the call counter and the duration histogram.
        self._call_series: dict[tuple[str, ...], _CallSeries] = {}
        self._raw_series: dict[tuple[str | None, ...], _CallSeries] = {}
        registry = self.registry
        extra = ["connection"] if connection_labels else []
        self.calls = Counter(
            "connectory_calls",
            "Calls made by connections: operations, tests, collection methods, hooks, token "
            "refreshes, polls, webhook intakes and deliveries.",
            ["connector", "kind", "operation", "outcome", *extra],
            registry=registry,
        )
        self.call_duration = Histogram(
            "connectory_call_duration_seconds",
            "Duration of calls, retries and waits included.",
            ["connector", "kind", *extra],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.attempts = Counter(
            "connectory_upstream_attempts",
            "Requests sent upstream (each retry is one more).",
            ["connector"],
            registry=registry,
        )
        self.retries = Counter(
            "connectory_retries",
            "Attempts that failed and were retried.",
            ["connector"],
            registry=registry,
        )
        self.breaker_transitions = Counter(
            "connectory_breaker_transitions",
            "Circuit breaker state changes.",
            ["connector", "to_state"],
            registry=registry,
        )
        self.breakers = Gauge(
            "connectory_breakers",
            "Connections whose breaker this process saw leave closed, by state.",
            ["state"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.breaker_rejections = Counter(
            "connectory_breaker_rejections",
            "Calls refused at once by an open breaker.",
            ["connector"],
            registry=registry,
        )
        self.rate_limit_waits = Counter(
            "connectory_rate_limit_waits",
            "Waits for a rate-limit slot (or Retry-After, backoff), by cause.",
            ["connector", "cause"],
            registry=registry,
        )
        self.rate_limit_wait_seconds = Counter(
            "connectory_rate_limit_wait_seconds",
            "Seconds spent waiting, by cause.",
            ["connector", "cause"],
            registry=registry,
        )
        self.rate_limit_refusals = Counter(
            "connectory_rate_limit_refusals",
            "Calls refused because no rate-limit slot was free in time.",
            ["connector"],
            registry=registry,
        )
        self.token_refreshes = Counter(
            "connectory_token_refreshes",
            "Token requests (OAuth2, custom login), by outcome.",
            ["connector", "outcome"],
            registry=registry,
        )
        self.event_queue_depth = Gauge(
            "connectory_event_queue_depth",
            "Events or deliveries waiting, by queue (counted up to a cap, 10000: at it, at least).",
            ["queue"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.task_latency = Histogram(
            "connectory_task_latency_seconds",
            "Seconds from a background task being due to it starting.",
            ["task"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.dead_letters = Counter(
            "connectory_dead_letters",
            "Deliveries given up on after their last attempt.",
            ["connector"],
            registry=registry,
        )
        self.call_log_dropped = Counter(
            "connectory_call_log_dropped",
            "Call log entries dropped (buffer full, or the store refused a batch).",
            registry=registry,
        )
        self.call_log_pending = Gauge(
            "connectory_call_log_pending",
            "Call log entries waiting to be written.",
            registry=registry,
            multiprocess_mode="livesum",
        )

    # ------------------------------------------------------------------ calls

    def observe_call(self, entry: CallEntry) -> None:
        """Count a recorded call (the recorder interface calls this for every entry)."""
        outcome = outcome_of(entry)
        connection = entry.connection_id if self._connection_labels else None
        # The entry's own values find the bound series in one look-up: the kind check and the
        # operation cap run once per distinct key, not per call.
        raw = (entry.connector_id, entry.kind, entry.operation, outcome, connection)
        series = self._raw_series.get(raw)
        if series is None:
            series = self._series(raw)
        count, observe = series
        count(1)
        observe(entry.duration)
        if entry.error_class == "RateLimited":
            self.rate_limit_refusals.labels(entry.connector_id or "").inc()
        if entry.kind == "token_refresh":
            self.token_refreshes.labels(entry.connector_id or "", outcome).inc()

    def _series(self, raw: tuple[str | None, str, str | None, str, str | None]) -> _CallSeries:
        """The call counter and duration histogram for an entry's values (bound once)."""
        connector_id, kind, operation, outcome, connection = raw
        connector = connector_id or ""
        label_kind = kind if kind in _KINDS else "other"
        extra = (connection or "",) if self._connection_labels else ()
        label_operation = self._operation_label(connector, operation or "")
        key = (connector, label_kind, label_operation, outcome, *extra)
        series = self._call_series.get(key)
        if series is None:
            series = self._call_series[key] = (
                counter_increment(
                    self.calls.labels(connector, label_kind, label_operation, outcome, *extra)
                ),
                histogram_observer(self.call_duration.labels(connector, label_kind, *extra)),
            )
        # Bounded like the series: raw values past the cap (operations counted as _other,
        # say) are looked up the long way.
        if len(self._raw_series) < _MAX_RAW_KEYS:
            self._raw_series[raw] = series
        return series

    def _operation_label(self, connector: str, operation: str) -> str:
        seen = self._operations.get(connector)
        if seen is None:
            seen = self._operations[connector] = set()
        if operation in seen:
            return operation
        if len(seen) >= self._max_operations:
            return OTHER
        seen.add(operation)
        return operation

    # ------------------------------------------------------------------ resilience

    def resilience_observer(self, connector_id: str) -> Callable[[ResilienceEvent], None]:
        """An observer of one connector's resilience events (a client per connection)."""
        connector = connector_id
        # Every call sends at least one attempt: its series is bound on first use (not before,
        # so a connector that never sent one shows no zero series) and then kept.
        bound: dict[str, Callable[[float], None]] = {}

        def count(counter: Counter, name: str) -> None:
            increment = bound.get(name)
            if increment is None:
                increment = bound[name] = counter_increment(counter.labels(connector))
            increment(1)

        def observe(event: ResilienceEvent) -> None:
            if isinstance(event, AttemptStarted):
                count(self.attempts, "attempts")
            elif isinstance(event, AttemptFailed):
                if event.will_retry:
                    count(self.retries, "retries")
            elif isinstance(event, Waiting):
                self.rate_limit_waits.labels(connector, event.cause).inc()
                self.rate_limit_wait_seconds.labels(connector, event.cause).inc(event.seconds)
            elif isinstance(event, BreakerTransition):
                self.breaker_transitions.labels(connector, event.to_state).inc()
                if event.from_state != "closed":
                    self.breakers.labels(event.from_state).dec()
                if event.to_state != "closed":
                    self.breakers.labels(event.to_state).inc()
            elif isinstance(event, FailedFast):
                count(self.breaker_rejections, "breaker_rejections")

        return observe

    # ------------------------------------------------------------------ events (issue 14)

    def set_queue_depth(self, queue: str, depth: int) -> None:
        """Report how many events or deliveries wait in *queue* (a fixed name, not an id)."""
        self.event_queue_depth.labels(queue).set(depth)

    def observe_task_latency(self, task: str, seconds: float) -> None:
        """Report how late a background task of kind *task* started."""
        self.task_latency.labels(task).observe(max(0.0, seconds))

    def count_dead_letter(self, connector_id: str) -> None:
        """Count a delivery given up on."""
        self.dead_letters.labels(connector_id).inc()

    # ------------------------------------------------------------------ the call log

    def count_dropped(self, count: int) -> None:
        """Count call log entries dropped."""
        self.call_log_dropped.inc(count)

    def set_pending(self, count: int) -> None:
        """Report the call log entries waiting to be written."""
        self.call_log_pending.set(count)

    # ------------------------------------------------------------------ exposition

    def render(self) -> bytes:
        """The text exposition of every metric (of every process in multiprocess mode)."""
        if self._multiprocess_dir:
            registry = CollectorRegistry()
            # prometheus-client leaves this constructor unannotated.
            prometheus_multiprocess.MultiProcessCollector(  # type: ignore[no-untyped-call]
                registry, path=self._multiprocess_dir
            )
            return generate_latest(registry)
        return generate_latest(self.registry)
