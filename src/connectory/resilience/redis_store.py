"""Shared pieces of the Redis-backed stores: the client factory and the outage guard.

When Redis cannot be reached, the Redis stores do not fail the call and do not let traffic
through unchecked: they switch to a local in-memory store in each process (see
``docs/resilience.md``), log one warning per outage, and try Redis again after
``retry_interval`` seconds. The :class:`RedisGuard` below keeps that state.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ConstantBackoff
from redis.exceptions import RedisError

from connectory.resilience.clock import Clock

logger = logging.getLogger("connectory.resilience")

#: What counts as "Redis is unavailable": the client's own errors (connection, timeout,
#: loading, read-only replica, ...) and the OS errors a broken socket can surface as.
REDIS_UNAVAILABLE: tuple[type[Exception], ...] = (RedisError, OSError)


def create_redis(url: str, *, timeout: float = 0.5, client_name: str | None = None) -> Redis:
    """Return an asyncio Redis client tuned for the resilience stores.

    Short socket timeouts and a single quick retry keep a dead or hung Redis from stalling
    calls: the stores fall back to local state instead.

    Args:
        url: e.g. ``redis://127.0.0.1:6379/0``.
        timeout: Seconds for connecting and for each command.
        client_name: Shown by ``CLIENT LIST`` (operators find a process's connections by it).
    """
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(ConstantBackoff(0.05), 1),
        client_name=client_name,
    )


def redis_time_us(seconds: float) -> int:
    """Return *seconds* as whole microseconds, the unit the Lua scripts compute in.

    Scripts work in integer microseconds from Redis' ``TIME`` because Redis turns Lua numbers
    into strings with 14 significant digits, which would round epoch seconds to 0.1 ms.
    """
    return max(0, round(seconds * 1_000_000))


class RedisGuard:
    """Remembers a Redis outage so that calls skip Redis until it is worth trying again.

    Args:
        clock: Time source.
        what: Which store this guards, for the log lines.
        retry_interval: Seconds between attempts to reach Redis again during an outage.
    """

    def __init__(self, clock: Clock, what: str, *, retry_interval: float = 1.0) -> None:
        self.clock = clock
        self.what = what
        self.retry_interval = retry_interval
        self._down_since: float | None = None
        self._next_try = 0.0

    @property
    def down(self) -> bool:
        """True while an outage is in progress."""
        return self._down_since is not None

    def usable(self) -> bool:
        """Return True if Redis should be tried now."""
        return self._down_since is None or self.clock.monotonic() >= self._next_try

    def failed(self, exc: BaseException) -> None:
        """Record that a Redis command failed with *exc*."""
        now = self.clock.monotonic()
        if self._down_since is None:
            self._down_since = now
            logger.warning(
                "Redis is unavailable for the %s (%s); using this process's local state "
                "until it is back",
                self.what,
                type(exc).__name__,
            )
        self._next_try = now + self.retry_interval

    def recovered(self) -> None:
        """Record that a Redis command succeeded."""
        if self._down_since is not None:
            logger.warning(
                "Redis is back for the %s after %.1f s",
                self.what,
                self.clock.monotonic() - self._down_since,
            )
            self._down_since = None
