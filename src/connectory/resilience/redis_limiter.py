"""A rate limiter whose windows and pauses live in Redis, shared by every process.

Each quota is a sorted set of grant times; a Lua script trims it, checks every quota and every
pause of the request, and takes all slots or none, in one atomic step. Time comes from Redis'
``TIME``, so the workers' clocks (which may drift apart) never decide a window; a worker only
sleeps for the duration the script returned and asks again.

If Redis is unavailable the limiter falls back to a :class:`MemoryRateLimiter` in each process,
with each limit divided by ``fallback_processes`` (see :class:`RedisRateLimiter`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis

from connectory.resilience.clock import Clock, SystemClock
from connectory.resilience.events import WaitCause
from connectory.resilience.limiter import (
    MemoryRateLimiter,
    Quota,
    WaitCallback,
    rate_limited_error,
)
from connectory.resilience.redis_store import REDIS_UNAVAILABLE, RedisGuard, redis_time_us

_MIN_SLEEP = 1e-4

# KEYS: window_1, pause_1, window_2, pause_2, ...; ARGV: window_us, member, limit_1, limit_2, ...
# (a limit of 0 means "no limit, only pauses"). Returns {wait_us, cause} or, on a grant,
# {0, cause, grant_time_us} (Redis time).
ACQUIRE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local wait = 0
local cause = 'rate limit'
local n = #KEYS / 2
for i = 1, n do
  local wkey = KEYS[2 * i - 1]
  local limit = tonumber(ARGV[2 + i])
  local paused = tonumber(redis.call('GET', KEYS[2 * i]))
  if paused and paused - now > wait then
    wait = paused - now
    cause = 'paused by upstream'
  end
  if limit > 0 then
    redis.call('ZREMRANGEBYSCORE', wkey, '-inf', string.format('%.0f', now - window))
    local count = redis.call('ZCARD', wkey)
    if count >= limit then
      local entry = redis.call('ZRANGE', wkey, count - limit, count - limit, 'WITHSCORES')
      local free_at = tonumber(entry[2]) + window
      if free_at - now > wait then
        wait = free_at - now
        cause = 'rate limit'
      end
    end
  end
end
if wait > 0 then
  return {string.format('%.0f', wait), cause}
end
for i = 1, n do
  if tonumber(ARGV[2 + i]) > 0 then
    redis.call('ZADD', KEYS[2 * i - 1], string.format('%.0f', now), ARGV[2])
    redis.call('PEXPIRE', KEYS[2 * i - 1], math.ceil(window / 1000) + 1000)
  end
end
return {'0', cause, string.format('%.0f', now)}
"""

# KEYS[1]: pause key; ARGV[1]: pause length in microseconds. A longer pause already set is kept.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_us = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]))
if (not current) or current < until_us then
  redis.call('SET', KEYS[1], string.format('%.0f', until_us),
             'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1)
end
return 1
"""

# KEYS[1]: pause key. Returns the microseconds the pause still lasts.
_PAUSED_FOR = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local current = tonumber(redis.call('GET', KEYS[1]))
if (not current) or current <= now then
  return '0'
end
return string.format('%.0f', current - now)
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisRateLimiter:
    """Sliding-window rate limiter shared by many processes through Redis.

    Args:
        redis: An asyncio client, e.g. from :func:`~connectory.resilience.create_redis`.
        clock: The workers' clock, used only for the caller's deadline and for sleeping.
        prefix: Prepended to every Redis key (one prefix per deployment or test).
        window: Window length in seconds (60 for "per minute").
        fallback_processes: During a Redis outage each process enforces ``limit //
            fallback_processes`` (at least 1) locally. Set it to the number of worker processes
            to keep the total at the limit; the default 1 lets each process use the whole limit,
            so the upstream may see up to processes x limit per window during an outage.
        retry_interval: Seconds between attempts to reach Redis during an outage.
        on_grant: Called with the Redis time (seconds) of each slot granted through Redis:
            the limiter's own decision time, for audits and for tests that check the window
            exactly (a caller's clock would add its scheduling delay).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        clock: Clock | None = None,
        prefix: str = "connectory:",
        window: float = 60.0,
        fallback_processes: int = 1,
        retry_interval: float = 1.0,
        on_grant: Callable[[float], None] | None = None,
    ) -> None:
        if window <= 0:
            raise ValueError("the window must be positive")
        if fallback_processes < 1:
            raise ValueError("fallback_processes must be at least 1")
        self.redis = redis
        self.clock: Clock = clock or SystemClock()
        self.prefix = prefix
        self.window = window
        self.fallback_processes = fallback_processes
        self.on_grant = on_grant
        self.fallback = MemoryRateLimiter(self.clock, window=window)
        self.guard = RedisGuard(self.clock, "rate limiter", retry_interval=retry_interval)
        self._acquire = redis.register_script(ACQUIRE_SCRIPT)
        self._pause = redis.register_script(_PAUSE)
        self._paused_for = redis.register_script(_PAUSED_FOR)

    def window_key(self, key: str) -> str:
        """Return the Redis key of the sorted set holding *key*'s grant times."""
        return f"{self.prefix}rl:{key}"

    def pause_key(self, key: str) -> str:
        """Return the Redis key holding the end of *key*'s pause (Redis time, microseconds)."""
        return f"{self.prefix}pause:{key}"

    async def acquire(
        self,
        quotas: Sequence[Quota],
        max_wait: float,
        on_wait: WaitCallback | None = None,
        *,
        max_wait_setting: str | None = None,
    ) -> None:
        """Take a slot in every quota at once; see :meth:`RateLimiter.acquire`."""
        deadline = self.clock.monotonic() + max_wait
        while True:
            wait, cause = await self.try_take(quotas)
            if wait <= 0:
                return
            left = deadline - self.clock.monotonic()
            if wait > left:
                raise rate_limited_error(
                    wait, cause, max_wait if max_wait_setting else left, max_wait_setting
                )
            if on_wait is not None:
                on_wait(wait, cause)
            await self.clock.sleep(max(wait, _MIN_SLEEP))

    async def try_take(self, quotas: Sequence[Quota]) -> tuple[float, WaitCause]:
        """Take the slots now if all quotas have one, else return how long to wait and why."""
        if self.guard.usable():
            keys, args = self.acquire_keys_args(quotas)
            try:
                reply = await self._acquire(keys=keys, args=args)
            except REDIS_UNAVAILABLE as exc:
                self.guard.failed(exc)
            else:
                self.guard.recovered()
                return self.taken(reply)
        return self.fallback.try_take(quotas, limit_scale=self.fallback_processes)

    def acquire_keys_args(self, quotas: Sequence[Quota]) -> tuple[list[str], list[str | int]]:
        """KEYS and ARGV of the acquire script for *quotas*."""
        keys: list[str] = []
        for quota in quotas:
            keys += [self.window_key(quota.key), self.pause_key(quota.key)]
        args: list[str | int] = [redis_time_us(self.window), uuid.uuid4().hex]
        args += [quota.limit or 0 for quota in quotas]
        return keys, args

    def taken(self, reply: Any) -> tuple[float, WaitCause]:
        """The wait (0: the slots are taken) and its cause in an acquire script's reply."""
        cause: WaitCause = (
            "paused by upstream" if _text(reply[1]) == "paused by upstream" else "rate limit"
        )
        wait = int(_text(reply[0])) / 1_000_000
        if wait <= 0 and self.on_grant is not None and len(reply) > 2:
            self.on_grant(int(_text(reply[2])) / 1_000_000)
        return wait, cause

    async def pause(self, key: str, seconds: float) -> None:
        """Hold every request on *key*, in every process, for *seconds*."""
        if seconds <= 0:
            return
        # Kept locally too, so that a Redis outage right after a 429 still honours it.
        await self.fallback.pause(key, seconds)
        if not self.guard.usable():
            return
        try:
            await self._pause(keys=[self.pause_key(key)], args=[redis_time_us(seconds)])
        except REDIS_UNAVAILABLE as exc:
            self.guard.failed(exc)
        else:
            self.guard.recovered()

    async def paused_for(self, key: str) -> float:
        """Return the seconds the pause on *key* still lasts (0 when not paused)."""
        if self.guard.usable():
            try:
                reply = await self._paused_for(keys=[self.pause_key(key)])
            except REDIS_UNAVAILABLE as exc:
                self.guard.failed(exc)
            else:
                self.guard.recovered()
                return int(_text(reply)) / 1_000_000
        return await self.fallback.paused_for(key)
