"""What the resilience layer reports while it works, for ``-v`` output, logs and health.

Every event is a small frozen dataclass whose ``str()`` is a short human line such as
``attempt 2 of 4`` or ``waiting 1.8 s (Retry-After)``. None carries header values, URLs or bodies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

BreakerState = Literal["closed", "open", "half_open"]
Health = Literal["healthy", "degraded"]
WaitCause = Literal["backoff", "Retry-After", "rate limit", "paused by upstream"]

logger = logging.getLogger("connectory.resilience")


def health_of(state: BreakerState) -> Health:
    """Return the connection health for a breaker state: only ``closed`` is healthy."""
    return "healthy" if state == "closed" else "degraded"


@dataclass(frozen=True)
class AttemptStarted:
    """An attempt is about to be sent."""

    key: str
    attempt: int
    max_attempts: int

    def __str__(self) -> str:
        return f"attempt {self.attempt} of {self.max_attempts}"


@dataclass(frozen=True)
class AttemptFailed:
    """An attempt failed; ``will_retry`` says whether another one follows."""

    key: str
    attempt: int
    reason: str
    will_retry: bool

    def __str__(self) -> str:
        then = "will retry" if self.will_retry else "giving up"
        return f"attempt {self.attempt} failed: {self.reason}; {then}"


@dataclass(frozen=True)
class Waiting:
    """The call is about to wait before it goes on."""

    key: str
    seconds: float
    cause: WaitCause

    def __str__(self) -> str:
        return f"waiting {self.seconds:.1f} s ({self.cause})"


@dataclass(frozen=True)
class BreakerTransition:
    """A connection's circuit breaker changed state. Emitted exactly once per transition."""

    key: str
    from_state: BreakerState
    to_state: BreakerState

    @property
    def health(self) -> Health:
        """The connection's health after the transition."""
        return health_of(self.to_state)

    @property
    def health_changed(self) -> bool:
        """True when the transition changes the connection's health."""
        return health_of(self.from_state) != self.health

    def __str__(self) -> str:
        return (
            f"breaker {self.to_state.replace('_', '-')} (was {self.from_state.replace('_', '-')})"
        )


@dataclass(frozen=True)
class FailedFast:
    """The breaker rejected the call without reaching the upstream."""

    key: str
    state: BreakerState
    retry_after: float | None

    def __str__(self) -> str:
        when = f"; next try in {self.retry_after:.1f} s" if self.retry_after is not None else ""
        return f"breaker {self.state.replace('_', '-')}: failing fast{when}"


ResilienceEvent = AttemptStarted | AttemptFailed | Waiting | BreakerTransition | FailedFast
Observer = Callable[[ResilienceEvent], None]


def notify(observer: Observer | None, event: ResilienceEvent) -> None:
    """Log *event* at DEBUG and pass it to *observer* (whose own errors are logged, not raised).

    Args:
        observer: The caller's callback, if any.
        event: What happened.
    """
    logger.debug("%s: %s", event.key, event)
    if observer is None:
        return
    try:
        observer(event)
    except Exception:
        # A broken progress printer must not break the call it reports on.
        logger.exception("a resilience observer failed on %r", event)
