"""Resilience for every upstream call: deadline, retries, rate limits and a circuit breaker.

Typical use by the runtime::

    pipeline = ResiliencePipeline()          # in-memory limiter and breaker, real clock
    response = await pipeline.execute(
        lambda remaining: client.send(request, timeout=remaining),
        key=connection_id,
        connector_key=connector_id,     # ids, never slugs (see docs/resilience.md)
        method=request.method,
        policy=connector.resilience.with_overrides(operation.resilience),
    )

Across processes, share state through Redis::

    redis = create_redis("redis://127.0.0.1:6379/0")
    pipeline = ResiliencePipeline(
        limiter=RedisRateLimiter(redis, prefix="connectory:"),
        breaker=CircuitBreaker(RedisBreakerStore(redis, prefix="connectory:")),
    )

Time, sleeping and randomness are injected (``clock=FakeClock()``, ``random=Random(1).random``)
so tests never really wait. Semantics are described in ``docs/resilience.md``.
"""

from typing import TYPE_CHECKING

from connectory.resilience.backoff import (
    BackoffParams,
    BackoffShape,
    compute_base_delay,
    compute_delay,
)
from connectory.resilience.breaker import (
    Admission,
    BreakerSnapshot,
    BreakerStore,
    CircuitBreaker,
    MemoryBreakerStore,
    Ticket,
    Transition,
)
from connectory.resilience.classify import (
    IDEMPOTENT_METHODS,
    RETRYABLE_STATUSES,
    BreakerVerdict,
    Outcome,
    classify_exception,
    classify_status,
    may_retry_after_send,
)
from connectory.resilience.clock import Clock, FakeClock, SystemClock, run_with_timeout
from connectory.resilience.events import (
    AttemptFailed,
    AttemptStarted,
    BreakerState,
    BreakerTransition,
    FailedFast,
    Health,
    Observer,
    ResilienceEvent,
    Waiting,
    health_of,
)
from connectory.resilience.limiter import MemoryRateLimiter, Quota, RateLimiter
from connectory.resilience.pipeline import (
    ResiliencePipeline,
    Send,
    connection_quota_key,
    connector_quota_key,
)
from connectory.resilience.retry_after import parse_reset, parse_retry_after, wait_hint

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRYABLE_STATUSES",
    "Admission",
    "AttemptFailed",
    "AttemptStarted",
    "BackoffParams",
    "BackoffShape",
    "BreakerSnapshot",
    "BreakerState",
    "BreakerStore",
    "BreakerTransition",
    "BreakerVerdict",
    "CircuitBreaker",
    "Clock",
    "FailedFast",
    "FakeClock",
    "Health",
    "MemoryBreakerStore",
    "MemoryRateLimiter",
    "Observer",
    "Outcome",
    "Quota",
    "RateLimiter",
    "RedisBreakerStore",
    "RedisRateLimiter",
    "ResilienceEvent",
    "ResiliencePipeline",
    "Send",
    "SystemClock",
    "Ticket",
    "Transition",
    "Waiting",
    "classify_exception",
    "classify_status",
    "compute_base_delay",
    "compute_delay",
    "connection_quota_key",
    "connector_quota_key",
    "create_redis",
    "health_of",
    "may_retry_after_send",
    "parse_reset",
    "parse_retry_after",
    "run_with_timeout",
    "wait_hint",
]

if TYPE_CHECKING:
    from connectory.resilience.redis_breaker import RedisBreakerStore
    from connectory.resilience.redis_limiter import RedisRateLimiter
    from connectory.resilience.redis_store import create_redis

#: Redis-backed stores load on first use: a process that keeps state in memory (the CLI, a
#: single server) never pays for importing the redis client.
_LAZY = {
    "RedisBreakerStore": "connectory.resilience.redis_breaker",
    "RedisRateLimiter": "connectory.resilience.redis_limiter",
    "create_redis": "connectory.resilience.redis_store",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'connectory.resilience' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
