"""One pipeline for every upstream call: breaker, rate limit, send (cut at the deadline), retry.

For each attempt the pipeline asks the connection's circuit breaker for admission (fail fast
when open), takes a rate-limit slot (waiting up to the deadline), sends once with the time
that is left, classifies the outcome, records it with the breaker and decides whether to
retry, after the backoff delay or the wait the upstream asked for. The ``timeout`` is the
deadline of the whole logical call, retries and waits included.

A call made with ``max_pause`` (each page of a paginated read) is *paced* instead: waiting
for a rate-limit slot, for an upstream's pause, or for the ``Retry-After`` it asked for is not
waiting for a response, so those waits move the deadline with them; each may last up to
``max_pause`` seconds, and a longer one fails with :class:`RateLimited`. Backoff delays
between retries stay inside the deadline.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import httpx

from connectory.errors import (
    AttemptInfo,
    CircuitOpen,
    ConnectoryError,
    RateLimited,
    ResponseError,
    TransportError,
    UpstreamError,
    UpstreamTimeout,
)
from connectory.resilience.backoff import compute_delay
from connectory.resilience.breaker import (
    Admission,
    AdmitFunction,
    BreakerStore,
    CircuitBreaker,
    MemoryBreakerStore,
    Ticket,
)
from connectory.resilience.classify import (
    Outcome,
    classify_cut,
    classify_exception,
    classify_local_timeout,
    classify_status,
    may_retry_after_send,
)
from connectory.resilience.clock import Clock, SystemClock, run_with_timeout
from connectory.resilience.events import (
    AttemptFailed,
    AttemptStarted,
    Observer,
    WaitCause,
    Waiting,
    logger,
    notify,
)
from connectory.resilience.limiter import MemoryRateLimiter, Quota, RateLimiter
from connectory.resilience.retry_after import wait_hint
from connectory.spec.resilience import ResilienceSpec

if TYPE_CHECKING:
    from connectory.resilience.redis_admission import RedisAdmission


class UpstreamResponse(Protocol):
    """What the pipeline needs of a response: httpx's, or the runtime's already-read Reply."""

    @property
    def status_code(self) -> int:
        """The HTTP status."""

    @property
    def headers(self) -> httpx.Headers:
        """The response headers."""

    async def aclose(self) -> None:
        """Release the connection (a no-op for a response whose body was read)."""


R = TypeVar("R", bound=UpstreamResponse)
Send = Callable[[float], Awaitable[R]]
BodyDescriber = Callable[[Any], Awaitable[str]]
_E = TypeVar("_E", RateLimited, CircuitOpen)

#: The resilience setting a paced call's ``max_pause`` comes from, named in its errors.
MAX_PAUSE_SETTING = "max_read_wait"

#: Quota lists remembered per pipeline (one per connection and policy in use); past this many
#: the cache starts again, so a server with many connections keeps a bounded map.
_MAX_CACHED_QUOTAS = 4096


def connection_quota_key(key: str) -> str:
    """Return the limiter key of connection *key* (also the key its 429 pauses apply to)."""
    return f"connection:{key}"


def connector_quota_key(key: str) -> str:
    """Return the limiter key shared by every connection of connector *key*."""
    return f"connector:{key}"


class ResiliencePipeline:
    """Runs upstream calls under a :class:`~connectory.spec.ResilienceSpec`.

    The limiter and the breaker store must read the same clock as the pipeline (they do when
    left to their defaults); the Redis ones read Redis' clock for windows and only use durations.

    Args:
        clock: Time source for deadlines and waits.
        random: Returns floats in ``[0, 1)`` for jitter.
        limiter: Rate limiter; a :class:`MemoryRateLimiter` on *clock* by default.
        breaker: Circuit breaker; one over a :class:`MemoryBreakerStore` on *clock* by default.
        describe_body: Reads a failed response's body for :attr:`UpstreamError.body`; it must
            redact and truncate. By default the body is left out (it may hold secrets).
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        random: Callable[[], float] | None = None,
        limiter: RateLimiter | None = None,
        breaker: CircuitBreaker | None = None,
        describe_body: BodyDescriber | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.random: Callable[[], float] = random or _random.Random().random
        self.limiter: RateLimiter = limiter or MemoryRateLimiter(self.clock)
        self.breaker = breaker or CircuitBreaker(MemoryBreakerStore(self.clock))
        #: Breaker admission and rate-limit slot in one Redis round trip, when both are there.
        self.admission = _merged_admission(self.breaker.store, self.limiter)
        self.describe_body = describe_body
        # Every call needs its quotas; they only change with the key or the policy's limits.
        self._quotas: dict[tuple[str, str | None, int | None, int | None], tuple[Quota, ...]] = {}

    def quotas_for(
        self, key: str, connector_key: str | None, policy: ResilienceSpec
    ) -> tuple[Quota, ...]:
        """The rate-limit quotas a call on connection *key* must fit in (built once per key)."""
        connector_limit = policy.connector_rate_limit if connector_key is not None else None
        cache_key = (key, connector_key, policy.rate_limit, connector_limit)
        quotas = self._quotas.get(cache_key)
        if quotas is None:
            built = [Quota(connection_quota_key(key), policy.rate_limit)]
            if connector_key is not None and connector_limit is not None:
                built.append(Quota(connector_quota_key(connector_key), connector_limit))
            if len(self._quotas) >= _MAX_CACHED_QUOTAS:
                self._quotas.clear()
            quotas = self._quotas[cache_key] = tuple(built)
        return quotas

    async def execute(
        self,
        send: Send[R],
        *,
        key: str,
        policy: ResilienceSpec,
        method: str = "GET",
        connector_key: str | None = None,
        idempotent: bool = False,
        has_idempotency_key: bool = False,
        observer: Observer | None = None,
        stats: AttemptInfo | None = None,
        describe_body: BodyDescriber | None = None,
        return_final_status: bool = False,
        max_pause: float | None = None,
        max_pause_setting: str = MAX_PAUSE_SETTING,
    ) -> R:
        """Make one logical call: as many attempts as *policy* allows, within its deadline.

        Args:
            send: Performs one attempt; receives the seconds left and should pass them to httpx
                as the request timeout. The pipeline also cuts it at the deadline.
            key: The connection (breaker, rate limit and pauses are per connection).
            policy: The effective resilience settings (connector, operation and connection
                overrides already merged).
            method: The HTTP method, for the idempotency rule.
            connector_key: The connector's budget, for ``connector_rate_limit``: an id that
                cannot collide across owners (the runtime's ``connector_budget_key``).
            idempotent: The operation is declared idempotent (POST/PATCH may be resent).
            has_idempotency_key: The request carries an idempotency key.
            observer: Receives events (attempts, waits, breaker transitions) for this call.
            stats: Filled in with attempts, waits and the last failure reason.
            describe_body: Overrides the pipeline's *describe_body* for this call (a shared
                pipeline serves connections that each redact their own secrets).
            return_final_status: When retries end on a retryable status (503 after the last
                attempt), return that response instead of raising, so the caller can report
                it like any other status (the runtime does; ``stats`` has the attempts).
            max_pause: Pace the call (see the module docstring): rate-limit, upstream-pause
                and ``Retry-After`` waits are outside the deadline, each up to this many
                seconds (the policy's ``max_read_wait`` for a read). None: they count
                against the deadline.
            max_pause_setting: What *max_pause* comes from, named in errors (the runtime
                names a lower cap than ``max_read_wait`` when one applies).

        Returns:
            The response: a success, or a status that is not retried (e.g. 404, 501); raising
            for those is the caller's decision.

        Raises:
            UpstreamError: A retryable status (408, 429, 500, 502, 503, 504) was the last answer.
            UpstreamTimeout: The deadline passed, or the last attempt timed out.
            TransportError: The upstream could not be reached.
            ResponseError: The response could not be decoded, or redirected too often.
            RateLimited: No rate-limit slot before the deadline (paced: within *max_pause*),
                or, paced, the upstream asked for a longer wait than *max_pause*.
            CircuitOpen: The connection's circuit breaker is open.
        """
        call: _Call[R] = _Call(
            self,
            send,
            key,
            policy,
            observer,
            stats or AttemptInfo(attempts=0),
            describe_body or self.describe_body,
        )
        call.resend_ok = may_retry_after_send(
            method, idempotent=idempotent, has_idempotency_key=has_idempotency_key
        )
        call.method = method.upper()
        call.return_status = return_final_status
        call.max_pause = max_pause
        call.max_pause_setting = max_pause_setting
        call.quotas = self.quotas_for(key, connector_key, policy)
        return await call.run()


class _Call(Generic[R]):
    """The state of one logical call."""

    __slots__ = (
        "deadline",
        "describe_body",
        "key",
        "max_attempts",
        "max_pause",
        "max_pause_setting",
        "method",
        "observer",
        "p",
        "policy",
        "quotas",
        "resend_ok",
        "return_status",
        "send",
        "stats",
    )

    def __init__(
        self,
        pipeline: ResiliencePipeline,
        send: Send[R],
        key: str,
        policy: ResilienceSpec,
        observer: Observer | None,
        stats: AttemptInfo,
        describe_body: BodyDescriber | None,
    ) -> None:
        self.describe_body = describe_body
        self.p = pipeline
        self.send = send
        self.key = key
        self.policy = policy
        self.observer = observer
        self.stats = stats
        self.deadline = pipeline.clock.monotonic() + policy.timeout
        self.max_attempts = policy.max_retries + 1
        self.resend_ok = False
        self.return_status = False
        self.method = "GET"
        self.quotas: tuple[Quota, ...] = ()
        self.max_pause: float | None = None
        self.max_pause_setting = MAX_PAUSE_SETTING

    def remaining(self) -> float:
        return self.deadline - self.p.clock.monotonic()

    def on_wait(self, seconds: float, cause: WaitCause) -> None:
        self.stats.waits.append(seconds)
        notify(self.observer, Waiting(self.key, seconds, cause))

    async def run(self) -> R:
        attempt = 0
        while True:
            attempt += 1
            self.stats.attempts = attempt
            ticket = await self.admit(attempt)
            if self.observer is not None or logger.isEnabledFor(logging.DEBUG):
                # The event only exists for someone who looks at it.
                notify(self.observer, AttemptStarted(self.key, attempt, self.max_attempts))
            outcome, response = await self.attempt(ticket)
            if outcome.ok and response is not None:
                return response
            self.stats.last_reason = outcome.reason
            hint = self.hint(response)
            if hint is not None and outcome.status_code == 429:
                # The whole connection waits, not just this caller.
                await self.p.limiter.pause(connection_quota_key(self.key), hint)
            delay, cause, why = self.plan_retry(attempt, outcome, hint)
            notify(self.observer, AttemptFailed(self.key, attempt, outcome.reason, why is None))
            paced = cause == "Retry-After" and self.max_pause is not None
            if why is not None:
                if paced and hint is not None:
                    if response is not None:
                        await response.aclose()
                    raise self.pause_too_long(attempt, outcome, hint)
                if outcome.kind == "status" and response is not None and self.return_status:
                    return response
                raise await self.final_error(attempt, outcome, response, hint, delay, why)
            if response is not None:
                await response.aclose()
            self.on_wait(delay, cause)
            await self.p.clock.sleep(delay)
            if paced:
                # Waiting as the upstream asked is not waiting for a response.
                self.deadline += delay

    async def admit(self, attempt: int) -> Ticket:
        """Pass the breaker and the rate limiter, or raise CircuitOpen / RateLimited."""
        # A probe's lease covers the rate-limit wait it may still have ahead of it.
        lease = max(0.0, self.remaining()) + (self.max_pause or 0.0)
        merged = self.p.admission
        if merged is None:
            return await self.admit_then_take(attempt, lease)
        taken: list[tuple[float, WaitCause] | None] = []
        admit: AdmitFunction | None = None
        if merged.usable():
            quotas = self.quotas

            async def admit_and_take(key: str, *, probe_lease: float, probe_id: str) -> Admission:
                admission, slot = await merged.admit_and_take(
                    key, quotas, probe_lease=probe_lease, probe_id=probe_id
                )
                taken.append(slot)
                return admission

            admit = admit_and_take
        try:
            ticket = await self.p.breaker.before_call(
                self.key, probe_lease=lease, observer=self.observer, admit=admit
            )
        except CircuitOpen as exc:
            raise self.later(exc, attempt) from None
        slot = taken[0] if taken else None
        if slot is not None and slot[0] <= 0:
            return ticket  # the merged step took the slots
        try:
            # Not taken yet (or a wait is due): the limiter decides, waits and asks again.
            await self.take_slot()
        except RateLimited as exc:
            await self.p.breaker.release(ticket)
            raise self.later(exc, attempt) from None
        except BaseException:
            await self.p.breaker.release(ticket)
            raise
        return ticket

    async def admit_then_take(self, attempt: int, lease: float) -> Ticket:
        """:meth:`admit` without a merged admission: the breaker, then the limiter."""
        breaker = self.p.breaker
        try:
            ticket = await breaker.before_call(self.key, probe_lease=lease, observer=self.observer)
        except CircuitOpen as exc:
            raise self.later(exc, attempt) from None
        limiter = self.p.limiter
        if (
            self.max_pause is None
            and type(limiter) is MemoryRateLimiter
            and limiter.try_take(self.quotas)[0] <= 0
        ):
            # A free slot, taken at once: what acquire() does first, without its coroutine.
            return ticket
        try:
            await self.take_slot()
        except RateLimited as exc:
            await breaker.release(ticket)
            raise self.later(exc, attempt) from None
        except BaseException:
            await breaker.release(ticket)
            raise
        return ticket

    async def take_slot(self) -> None:
        """Wait for a rate-limit slot: within the deadline, or paced, within ``max_pause``."""
        limiter = self.p.limiter
        if self.max_pause is None:
            await limiter.acquire(self.quotas, self.remaining(), on_wait=self.on_wait)
            return
        started = self.p.clock.monotonic()
        try:
            await limiter.acquire(
                self.quotas,
                self.max_pause,
                on_wait=self.on_wait,
                max_wait_setting=self.max_pause_setting,
            )
        finally:
            # The deadline is for the upstream's answer; the wait for a slot moves it along.
            self.deadline += self.p.clock.monotonic() - started

    def pause_too_long(self, attempt: int, outcome: Outcome, hint: float) -> RateLimited:
        """The error of a paced call whose upstream asked for a wait over ``max_pause``."""
        return RateLimited(
            f"the upstream answered {outcome.reason} and asked to wait {hint:.2f} s "
            f"(attempt {attempt} of {self.max_attempts}), more than {self.max_pause_setting} "
            f"({self.max_pause:g} s) allows. Retry later or raise {self.max_pause_setting}.",
            retry_after=hint,
            attempts=attempt,
        )

    def later(self, exc: _E, attempt: int) -> _E:
        """Add the story so far to a fail-fast error raised before attempt *attempt*."""
        if attempt == 1:
            return exc
        made = attempt - 1
        message = (
            f"{exc.message} ({made} attempt{'s' if made > 1 else ''} made; "
            f"the last failed: {self.stats.last_reason})"
        )
        return type(exc)(message, retry_after=exc.retry_after, attempts=made)

    async def attempt(self, ticket: Ticket) -> tuple[Outcome, R | None]:
        """Send once, cut at the deadline; classify and record the outcome with the breaker."""
        left = self.remaining()
        response: R | None = None
        try:
            if type(self.p.clock) is SystemClock:
                # send_within's real-clock path, inline: one coroutine less per attempt.
                loop = asyncio.get_running_loop()
                try:
                    async with asyncio.timeout_at(loop.time() + max(0.0, left)) as cut:
                        finished, response = True, await self.send(left)
                except TimeoutError:
                    if not cut.expired():
                        raise  # the send's own TimeoutError, not the deadline
                    finished, response = False, None
            else:
                finished, response = await self.send_within(left)
        except httpx.HTTPError as exc:
            outcome = classify_exception(exc)
        except TimeoutError as exc:
            outcome = classify_local_timeout(exc)
        except BaseException:
            # Not the upstream's doing (a hook, auth, cancellation): no verdict.
            await self.p.breaker.release(ticket)
            raise
        else:
            outcome = (
                classify_cut()
                if not finished or response is None
                else (classify_status(response.status_code))
            )
        breaker = self.p.breaker
        if breaker.recorded_at_once(ticket, outcome.verdict):
            return outcome, response
        await breaker.record(
            ticket,
            outcome.verdict,
            threshold=self.policy.circuit_breaker_threshold,
            recovery=self.policy.circuit_breaker_recovery,
            observer=self.observer,
        )
        return outcome, response

    async def send_within(self, left: float) -> tuple[bool, R | None]:
        """Send once, cut after *left* seconds; ``(False, None)`` when cut.

        On the real clock the event loop's own timer cuts the attempt (the loop's clock is
        :func:`time.monotonic` too), in this task: no second task and no timer task per
        attempt. Other clocks (the tests' virtual one) race the send against their sleep.
        """
        if type(self.p.clock) is not SystemClock:
            return await run_with_timeout(self.p.clock, lambda: self.send(left), max(0.0, left))
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(loop.time() + max(0.0, left)) as cut:
                return True, await self.send(left)
        except TimeoutError:
            if cut.expired():
                return False, None
            raise  # the send's own TimeoutError, not the deadline

    def hint(self, response: R | None) -> float | None:
        """Return the wait the upstream asked for, when the policy honours it."""
        if response is None or not self.policy.respect_retry_after:
            return None
        return wait_hint(response.status_code, response.headers, self.p.clock.time())

    def why_not_retry(self, attempt: int, outcome: Outcome) -> str | None:
        """Return why the call cannot retry after *outcome*, or None if it may."""
        if self.remaining() <= 0:
            return f"the call's {self.policy.timeout:g} s deadline has passed"
        if not outcome.retryable:
            return "this kind of failure is not retried"
        if outcome.sent and not self.resend_ok:
            return (
                f"not retried because {self.method} is not idempotent and the request may "
                "have reached the upstream; declare the operation idempotent or send an "
                "idempotency key"
            )
        if attempt >= self.max_attempts:
            plural = "s" if attempt > 1 else ""
            retries = self.policy.max_retries
            return f"gave up after {attempt} attempt{plural} (max_retries is {retries})"
        return None

    def plan_retry(
        self, attempt: int, outcome: Outcome, hint: float | None
    ) -> tuple[float, WaitCause, str | None]:
        """Return ``(delay, cause, why_not)``; *why_not* is None when the call retries."""
        why = self.why_not_retry(attempt, outcome)
        if why is not None:
            return 0.0, "backoff", why
        cause: WaitCause = "Retry-After" if hint is not None else "backoff"
        delay = hint if hint is not None else compute_delay(attempt, self.policy, self.p.random)
        if hint is not None and self.max_pause is not None:
            # Paced: the wait is outside the deadline, but no longer than max_pause.
            if hint > self.max_pause:
                why = f"the upstream asked for a wait over {self.max_pause_setting}"
            return delay, cause, why
        # ">=": an attempt that would start exactly at the deadline has no time to run.
        if delay >= self.remaining():
            why = (
                f"the next attempt would have to wait {delay:.2f} s, past the call's "
                f"{self.policy.timeout:g} s deadline"
            )
        return delay, cause, why

    async def read_body(self, response: R) -> str:
        """Return the caller's description of a failed response's body ("" if none or broken)."""
        try:
            if self.describe_body is not None:
                return await self.describe_body(response)
        except Exception:
            # The status already tells the story; a broken describer must not hide it.
            logger.exception("describing a failed response's body failed")
        finally:
            await response.aclose()
        return ""

    async def final_error(
        self,
        attempt: int,
        outcome: Outcome,
        response: R | None,
        hint: float | None,
        delay: float,
        why: str,
    ) -> ConnectoryError:
        """Build the error that ends the call."""
        where = f"attempt {attempt} of {self.max_attempts}"
        if outcome.kind == "status" and response is not None:
            body = await self.read_body(response)
            return UpstreamError(
                f"the upstream answered {outcome.reason} ({where}); {why}",
                outcome.status_code or response.status_code,
                body=body,
                retry_after=hint if hint is not None else (delay or None),
                attempts=attempt,
            )
        if outcome.kind == "timeout":
            return UpstreamTimeout(
                f"the upstream did not answer in time ({where}: {outcome.reason}); {why}",
                attempts=attempt,
            )
        if outcome.kind == "response":
            return ResponseError(f"the upstream's response is unusable ({where}: {outcome.reason})")
        return TransportError(
            f"the upstream could not be reached ({where}: {outcome.reason}); {why}",
            attempts=attempt,
        )


def _merged_admission(store: BreakerStore, limiter: RateLimiter) -> RedisAdmission | None:
    """The merged Redis admission for *store* and *limiter*, if both are in one Redis."""
    if "connectory.resilience.redis_limiter" not in sys.modules:
        return None  # no Redis limiter exists (and redis is not imported for nothing)
    from connectory.resilience.redis_admission import redis_admission

    return redis_admission(store, limiter)
