"""Circuit breaker state in Redis, shared by every process; transitions are atomic Lua scripts.

One hash per connection: ``state``, ``failures``, ``ready_at`` and ``probe_id`` /
``probe_until`` (times in Redis ``TIME`` microseconds). A connection that is closed with no
failures has no hash. Every script returns the transition it made, so exactly one process, the
one whose script made it, emits each transition.

If Redis is unavailable, each process falls back to its own :class:`MemoryBreakerStore`: the
breaker keeps protecting the upstream per process, and no call fails because Redis did.
"""

from __future__ import annotations

from typing import Any, cast

from redis.asyncio import Redis

from connectory.resilience.breaker import (
    Admission,
    BreakerSnapshot,
    MemoryBreakerStore,
    Transition,
)
from connectory.resilience.clock import Clock, SystemClock
from connectory.resilience.events import BreakerState
from connectory.resilience.redis_store import REDIS_UNAVAILABLE, RedisGuard, redis_time_us

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function fmt(x) return string.format('%.0f', x) end
"""

# ARGV: probe_lease_us, probe_id, ttl_ms. Returns {decision, state, retry_after_us, from_state}.
ADMIT_SCRIPT = (
    _NOW
    + """
local h = redis.call('HMGET', KEYS[1], 'state', 'ready_at', 'probe_id', 'probe_until')
local state = h[1]
if (not state) or state == 'closed' then
  return {'admit', 'closed', '', ''}
end
if state == 'open' then
  local ready = tonumber(h[2]) or 0
  if now < ready then
    return {'reject', 'open', fmt(ready - now), ''}
  end
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'probe_id', ARGV[2],
             'probe_until', fmt(now + tonumber(ARGV[1])))
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'probe', 'half_open', '', 'open'}
end
local probe_until = tonumber(h[4]) or 0
if h[3] and h[3] ~= '' and probe_until > now then
  return {'reject', 'half_open', fmt(probe_until - now), ''}
end
redis.call('HSET', KEYS[1], 'probe_id', ARGV[2], 'probe_until', fmt(now + tonumber(ARGV[1])))
return {'probe', 'half_open', '', ''}
"""
)

# ARGV: probe_id ('' when not a probe). Returns the previous state when a transition was made.
_SUCCESS = """
local h = redis.call('HMGET', KEYS[1], 'state', 'probe_id')
if not h[1] then
  return ''
end
if h[1] == 'closed' then
  redis.call('DEL', KEYS[1])
  return ''
end
if h[1] == 'half_open' and ARGV[1] ~= '' and h[2] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 'half_open'
end
return ''
"""

# ARGV: probe_id, threshold, recovery_us, ttl_ms. Returns the previous state on a transition.
_FAILURE = (
    _NOW
    + """
local h = redis.call('HMGET', KEYS[1], 'state', 'probe_id')
local state = h[1] or 'closed'
if state == 'closed' then
  local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  if failures >= tonumber(ARGV[2]) then
    redis.call('HSET', KEYS[1], 'state', 'open', 'ready_at', fmt(now + tonumber(ARGV[3])))
    return 'closed'
  end
  redis.call('HSET', KEYS[1], 'state', 'closed')
  return ''
end
if state == 'half_open' and ARGV[1] ~= '' and h[2] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'state', 'open', 'ready_at', fmt(now + tonumber(ARGV[3])),
             'probe_id', '', 'probe_until', '0')
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return 'half_open'
end
return ''
"""
)

_RELEASE = """
local h = redis.call('HMGET', KEYS[1], 'state', 'probe_id')
if h[1] == 'half_open' and h[2] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'probe_id', '', 'probe_until', '0')
end
return ''
"""

# Returns {state, failures, retry_after_us}.
_SNAPSHOT = (
    _NOW
    + """
local h = redis.call('HMGET', KEYS[1], 'state', 'failures', 'ready_at')
local state = h[1] or 'closed'
local retry_after = ''
if state == 'open' then
  retry_after = fmt(math.max(0, (tonumber(h[3]) or 0) - now))
end
return {state, h[2] or '0', retry_after}
"""
)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _state(value: Any) -> BreakerState:
    text = _text(value)
    if text not in ("closed", "open", "half_open"):
        raise ValueError(f"unexpected breaker state {text!r} in Redis")
    return cast(BreakerState, text)


def _seconds(value: Any) -> float | None:
    text = _text(value)
    return int(text) / 1_000_000 if text else None


def admission_of(reply: Any) -> Admission:
    """The :class:`Admission` in an admit script's reply."""
    decision = _text(reply[0])
    state = _state(reply[1])
    from_state = _text(reply[3])
    transition: Transition | None = (_state(from_state), state) if from_state else None
    if decision == "reject":
        return Admission("reject", state, retry_after=_seconds(reply[2]))
    if decision == "probe":
        return Admission("probe", state, transition=transition)
    return Admission("admit", state)


class RedisBreakerStore:
    """A :class:`~connectory.resilience.BreakerStore` in Redis, shared by many processes.

    Args:
        redis: An asyncio client, e.g. from :func:`~connectory.resilience.create_redis`.
        clock: Used for the outage guard and the local fallback store.
        prefix: Prepended to every Redis key.
        ttl: Seconds after the last change when a connection's breaker state is forgotten
            (keeps Redis clean of connections that are gone).
        retry_interval: Seconds between attempts to reach Redis during an outage.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        clock: Clock | None = None,
        prefix: str = "connectory:",
        ttl: float = 7 * 24 * 3600,
        retry_interval: float = 1.0,
    ) -> None:
        self.redis = redis
        self.clock: Clock = clock or SystemClock()
        self.prefix = prefix
        self.ttl_ms = max(1, round(ttl * 1000))
        self.fallback = MemoryBreakerStore(self.clock)
        self.guard = RedisGuard(self.clock, "circuit breaker", retry_interval=retry_interval)
        self._admit = redis.register_script(ADMIT_SCRIPT)
        self._success = redis.register_script(_SUCCESS)
        self._failure = redis.register_script(_FAILURE)
        self._release = redis.register_script(_RELEASE)
        self._snapshot = redis.register_script(_SNAPSHOT)

    def hash_key(self, key: str) -> str:
        """Return the Redis key of connection *key*'s breaker hash."""
        return f"{self.prefix}cb:{key}"

    async def _run(self, script: Any, key: str, args: list[str | int]) -> Any:
        """Run *script* for *key*; None means "Redis unavailable, use the fallback"."""
        if not self.guard.usable():
            return None
        try:
            reply = await script(keys=[self.hash_key(key)], args=args)
        except REDIS_UNAVAILABLE as exc:
            self.guard.failed(exc)
            return None
        self.guard.recovered()
        return reply if reply is not None else ""

    async def admit(self, key: str, *, probe_lease: float, probe_id: str) -> Admission:
        """See :meth:`~connectory.resilience.BreakerStore.admit`."""
        reply = await self._run(self._admit, key, self.admit_args(probe_lease, probe_id))
        if reply is None:
            return await self.fallback.admit(key, probe_lease=probe_lease, probe_id=probe_id)
        return admission_of(reply)

    def admit_args(self, probe_lease: float, probe_id: str) -> list[str | int]:
        """The admit script's ARGV (also the first three of the combined admission's)."""
        return [redis_time_us(probe_lease), probe_id, self.ttl_ms]

    async def record_success(self, key: str, probe_id: str | None) -> Transition | None:
        """See :meth:`~connectory.resilience.BreakerStore.record_success`."""
        reply = await self._run(self._success, key, [probe_id or ""])
        if reply is None:
            return await self.fallback.record_success(key, probe_id)
        previous = _text(reply)
        return (_state(previous), "closed") if previous else None

    async def record_failure(
        self, key: str, probe_id: str | None, *, threshold: int, recovery: float
    ) -> Transition | None:
        """See :meth:`~connectory.resilience.BreakerStore.record_failure`."""
        args: list[str | int] = [probe_id or "", threshold, redis_time_us(recovery), self.ttl_ms]
        reply = await self._run(self._failure, key, args)
        if reply is None:
            return await self.fallback.record_failure(
                key, probe_id, threshold=threshold, recovery=recovery
            )
        previous = _text(reply)
        return (_state(previous), "open") if previous else None

    async def release_probe(self, key: str, probe_id: str) -> None:
        """See :meth:`~connectory.resilience.BreakerStore.release_probe`."""
        if await self._run(self._release, key, [probe_id]) is None:
            await self.fallback.release_probe(key, probe_id)

    async def snapshot(self, key: str) -> BreakerSnapshot:
        """See :meth:`~connectory.resilience.BreakerStore.snapshot`."""
        reply = await self._run(self._snapshot, key, [])
        if reply is None:
            return await self.fallback.snapshot(key)
        return BreakerSnapshot(_state(reply[0]), int(_text(reply[1])), _seconds(reply[2]))
