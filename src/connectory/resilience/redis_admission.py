"""The breaker's admission and the rate limiter's slot in one Redis round trip.

Every attempt asks the circuit breaker for admission, then the rate limiter for a slot: with
both in Redis that was two round trips (scripts) before the request could leave, each costing
the server client-side CPU (encoding, the connection pool, parsing the reply) besides the wait.
:class:`RedisAdmission` runs both scripts as one: the breaker's admit script, and only when it
admits, the limiter's acquire script, unchanged, in one atomic step. What each decides is what
it decided alone (the same scripts run, in the same order, on the same keys); only their
round trips are merged.

If the limiter has to wait, the pipeline asks the limiter again as before (it sleeps first):
the merged step only saves the common case, a slot free at once. If Redis fails, both
components' outage guards learn it and the call goes on through their local fallbacks, as it
would have through either component alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from connectory.resilience.breaker import Admission
from connectory.resilience.events import WaitCause
from connectory.resilience.limiter import Quota
from connectory.resilience.redis_breaker import ADMIT_SCRIPT, RedisBreakerStore, admission_of
from connectory.resilience.redis_limiter import ACQUIRE_SCRIPT, RedisRateLimiter
from connectory.resilience.redis_store import REDIS_UNAVAILABLE

# Each script becomes a function whose parameters shadow KEYS and ARGV, so their text runs
# unchanged. KEYS: the breaker hash, then the limiter's keys; ARGV: the admit script's three
# arguments, then the acquire script's. Returns {admission} or {admission, acquire reply}.
_ADMIT_AND_ACQUIRE = (
    "local function breaker_admit(KEYS, ARGV)\n"
    + ADMIT_SCRIPT
    + "\nend\nlocal function limiter_acquire(KEYS, ARGV)\n"
    + ACQUIRE_SCRIPT
    + """
end
local admission = breaker_admit({KEYS[1]}, {ARGV[1], ARGV[2], ARGV[3]})
if admission[1] == 'reject' then
  return {admission}
end
local keys = {}
for i = 2, #KEYS do keys[i - 1] = KEYS[i] end
local args = {}
for i = 4, #ARGV do args[i - 3] = ARGV[i] end
return {admission, limiter_acquire(keys, args)}
"""
)


class RedisAdmission:
    """Breaker admission and rate-limit slot of one attempt, in one script.

    Args:
        store: The circuit breaker's Redis store.
        limiter: The Redis rate limiter (on the same Redis client as *store*).
    """

    def __init__(self, store: RedisBreakerStore, limiter: RedisRateLimiter) -> None:
        self.store = store
        self.limiter = limiter
        self._script = store.redis.register_script(_ADMIT_AND_ACQUIRE)

    def usable(self) -> bool:
        """False while either component holds Redis for unavailable (their fallbacks decide)."""
        return self.store.guard.usable() and self.limiter.guard.usable()

    async def admit_and_take(
        self, key: str, quotas: Sequence[Quota], *, probe_lease: float, probe_id: str
    ) -> tuple[Admission, tuple[float, WaitCause] | None]:
        """Admit the call on *key* and take a slot in every quota if it is admitted.

        Returns:
            The breaker's admission, and the limiter's ``(wait, cause)`` (a wait of 0: the
            slots are taken) or None when nothing was asked of the limiter: a rejection, or
            Redis unavailable (then the admission is the breaker's local fallback's).
        """
        limiter_keys, limiter_args = self.limiter.acquire_keys_args(quotas)
        keys = [self.store.hash_key(key), *limiter_keys]
        args = [*self.store.admit_args(probe_lease, probe_id), *limiter_args]
        try:
            reply = await self._script(keys=keys, args=args)
        except REDIS_UNAVAILABLE as exc:
            self.store.guard.failed(exc)
            self.limiter.guard.failed(exc)
            fallback = self.store.fallback
            return await fallback.admit(key, probe_lease=probe_lease, probe_id=probe_id), None
        self.store.guard.recovered()
        self.limiter.guard.recovered()
        admission = admission_of(reply[0])
        if len(reply) < 2:
            return admission, None
        return admission, self.limiter.taken(reply[1])


def redis_admission(store: object, limiter: object) -> RedisAdmission | None:
    """The merged admission for a Redis breaker store and limiter on one client, else None."""
    if (
        isinstance(store, RedisBreakerStore)
        and isinstance(limiter, RedisRateLimiter)
        and store.redis is limiter.redis
    ):
        return RedisAdmission(store, limiter)
    return None
