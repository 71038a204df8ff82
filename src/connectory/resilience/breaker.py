"""The per-connection circuit breaker: closed -> open -> half-open (one probe) -> closed or open.

- **closed**: calls go through. ``threshold`` consecutive counted failures open the circuit;
  a success resets the count.
- **open**: calls fail fast with :class:`~connectory.errors.CircuitOpen` and never reach the
  upstream, until ``recovery`` seconds have passed.
- **half-open**: the first call after the recovery period is the single *probe*; calls that
  arrive while it is in flight fail fast. The probe's success closes the circuit (count reset),
  its failure re-opens it for a fresh recovery period, a neutral outcome (429, a local problem)
  lets the next call probe again. A probe holds a lease of its own deadline plus a grace period,
  so a probe whose process died does not block the connection forever.

The decisions live in a :class:`BreakerStore` so that several processes can share them (see
:mod:`connectory.resilience.redis_breaker`). Each store operation is atomic and returns the
transition it made, if any; the :class:`CircuitBreaker` that made it emits it, so every
transition is reported exactly once, by the process that performed it.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from connectory.errors import CircuitOpen
from connectory.resilience.classify import BreakerVerdict
from connectory.resilience.clock import Clock, SystemClock
from connectory.resilience.events import (
    BreakerState,
    BreakerTransition,
    FailedFast,
    Health,
    Observer,
    health_of,
    logger,
    notify,
)

Transition = tuple[BreakerState, BreakerState]
TransitionListener = Callable[[BreakerTransition], None]

#: Extra seconds a probe's lease outlives its deadline, so a probe cut exactly at its deadline
#: still records its failure before anyone else may probe.
PROBE_GRACE = 1.0


@dataclass(frozen=True)
class Admission:
    """A store's answer to "may this call go?".

    Attributes:
        decision: ``admit`` (closed), ``probe`` (the half-open test call) or ``reject``.
        state: The state after the decision.
        retry_after: For rejections, seconds until a call may be admitted.
        transition: The transition the decision made (open -> half-open), if any.
    """

    decision: Literal["admit", "probe", "reject"]
    state: BreakerState
    retry_after: float | None = None
    transition: Transition | None = None


@dataclass(frozen=True)
class BreakerSnapshot:
    """A connection's breaker state as stored.

    Attributes:
        state: closed, open or half_open.
        failures: Consecutive counted failures.
        retry_after: While open, seconds until a probe may go; otherwise None.
    """

    state: BreakerState
    failures: int = 0
    retry_after: float | None = None


class BreakerStore(Protocol):
    """Atomic breaker state transitions for many keys (one key per connection)."""

    async def admit(self, key: str, *, probe_lease: float, probe_id: str) -> Admission:
        """Decide whether a call may go; an admitted probe holds the lease *probe_lease*."""
        ...

    async def record_success(self, key: str, probe_id: str | None) -> Transition | None:
        """Record a success; returns the transition made (half-open -> closed), if any."""
        ...

    async def record_failure(
        self, key: str, probe_id: str | None, *, threshold: int, recovery: float
    ) -> Transition | None:
        """Record a counted failure; returns the transition made (-> open), if any."""
        ...

    async def release_probe(self, key: str, probe_id: str) -> None:
        """End a probe without a verdict, so that the next call probes again."""
        ...

    async def snapshot(self, key: str) -> BreakerSnapshot:
        """Return the current state of *key*."""
        ...


#: The answer for a closed circuit (immutable, so one object serves every call).
_ADMIT_CLOSED = Admission("admit", "closed")

#: Tickets of ordinary (non-probe) calls remembered per key; past this many, start again.
_MAX_CACHED_TICKETS = 4096


@dataclass
class _Entry:
    state: BreakerState = "closed"
    failures: int = 0
    ready_at: float = 0.0
    probe_id: str | None = None
    probe_until: float = 0.0


class MemoryBreakerStore:
    """Breaker state for one process. Methods never ``await`` inside, so each is atomic.

    A key in the closed state with no failures has no entry, so idle connections cost nothing.

    Args:
        clock: Time source for recovery periods and probe leases.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self._entries: dict[str, _Entry] = {}

    async def admit(self, key: str, *, probe_lease: float, probe_id: str) -> Admission:
        """See :meth:`BreakerStore.admit`."""
        entry = self._entries.get(key)
        if entry is None or entry.state == "closed":
            return _ADMIT_CLOSED
        now = self.clock.monotonic()
        if entry.state == "open":
            if now < entry.ready_at:
                return Admission("reject", "open", retry_after=entry.ready_at - now)
            entry.state = "half_open"
            entry.probe_id, entry.probe_until = probe_id, now + probe_lease
            return Admission("probe", "half_open", transition=("open", "half_open"))
        if entry.probe_id is not None and entry.probe_until > now:
            return Admission("reject", "half_open", retry_after=entry.probe_until - now)
        entry.probe_id, entry.probe_until = probe_id, now + probe_lease
        return Admission("probe", "half_open")

    def is_settled(self, key: str) -> bool:
        """True when *key* is closed with no failures (a success there changes nothing)."""
        return key not in self._entries

    async def record_success(self, key: str, probe_id: str | None) -> Transition | None:
        """See :meth:`BreakerStore.record_success`."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.state == "closed":
            del self._entries[key]
            return None
        if entry.state == "half_open" and probe_id is not None and entry.probe_id == probe_id:
            del self._entries[key]
            return ("half_open", "closed")
        # A call admitted before the circuit opened does not decide anything now.
        return None

    async def record_failure(
        self, key: str, probe_id: str | None, *, threshold: int, recovery: float
    ) -> Transition | None:
        """See :meth:`BreakerStore.record_failure`."""
        entry = self._entries.setdefault(key, _Entry())
        now = self.clock.monotonic()
        if entry.state == "closed":
            entry.failures += 1
            if entry.failures < threshold:
                return None
            entry.state, entry.ready_at = "open", now + recovery
            return ("closed", "open")
        if entry.state == "half_open" and probe_id is not None and entry.probe_id == probe_id:
            entry.state, entry.ready_at = "open", now + recovery
            entry.probe_id, entry.probe_until = None, 0.0
            return ("half_open", "open")
        return None

    async def release_probe(self, key: str, probe_id: str) -> None:
        """See :meth:`BreakerStore.release_probe`."""
        entry = self._entries.get(key)
        if entry is not None and entry.state == "half_open" and entry.probe_id == probe_id:
            entry.probe_id, entry.probe_until = None, 0.0

    async def snapshot(self, key: str) -> BreakerSnapshot:
        """See :meth:`BreakerStore.snapshot`."""
        entry = self._entries.get(key)
        if entry is None:
            return BreakerSnapshot("closed")
        retry_after = None
        if entry.state == "open":
            retry_after = max(0.0, entry.ready_at - self.clock.monotonic())
        return BreakerSnapshot(entry.state, entry.failures, retry_after)


@dataclass(frozen=True)
class Ticket:
    """An admitted call. ``probe_id`` is set when the call is the half-open probe."""

    key: str
    probe_id: str | None = None

    @property
    def is_probe(self) -> bool:
        """True for the half-open probe."""
        return self.probe_id is not None


def _open_message(admission: Admission) -> str:
    wait = f"{admission.retry_after:.1f} s" if admission.retry_after is not None else "a while"
    if admission.state == "half_open":
        return (
            "the circuit breaker for this connection is testing whether the upstream has "
            f"recovered; other calls fail fast until the test ends (at most {wait})"
        )
    return (
        "the circuit breaker for this connection is open after repeated failures (server "
        f"errors, timeouts or connection errors); calls fail fast for {wait}, then one test "
        "call goes through"
    )


def _probe_ids() -> Callable[[], str]:
    """Unique probe ids: a random prefix per breaker (unique across processes) and a counter.

    Every call asks for one, so it must be cheap: a counter costs a fraction of ``uuid4()``.
    """
    prefix = uuid.uuid4().hex
    counter = itertools.count()
    return lambda: f"{prefix}-{next(counter)}"


class AdmitFunction(Protocol):
    """:meth:`BreakerStore.admit`'s signature: what :meth:`CircuitBreaker.before_call` asks."""

    async def __call__(self, key: str, *, probe_lease: float, probe_id: str) -> Admission:
        """Admit, probe or reject a call on *key*."""
        ...


class CircuitBreaker:
    """Circuit breakers for many connections over one :class:`BreakerStore`.

    Args:
        store: Where state lives; a :class:`MemoryBreakerStore` on the real clock by default.
        new_probe_id: Makes probe identifiers (unique across processes).
    """

    def __init__(
        self,
        store: BreakerStore | None = None,
        *,
        new_probe_id: Callable[[], str] | None = None,
    ) -> None:
        self.store: BreakerStore = store or MemoryBreakerStore()
        self._new_probe_id = new_probe_id or _probe_ids()
        self._listeners: list[TransitionListener] = []
        # A ticket is immutable: an ordinary call's is the same for every call on its key.
        self._tickets: dict[str, Ticket] = {}

    def subscribe(self, listener: TransitionListener) -> Callable[[], None]:
        """Call *listener* on every transition this breaker performs.

        Args:
            listener: Receives each :class:`~connectory.resilience.events.BreakerTransition`;
                its exceptions are logged and swallowed.

        Returns:
            A function that unsubscribes the listener.
        """
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    async def before_call(
        self,
        key: str,
        *,
        probe_lease: float,
        observer: Observer | None = None,
        admit: AdmitFunction | None = None,
    ) -> Ticket:
        """Admit a call on connection *key* or fail fast.

        Args:
            key: The connection.
            probe_lease: Seconds the call may take (its remaining deadline), should it be the probe.
            observer: Per-call event callback.
            admit: Asks for the admission instead of the store's ``admit`` (same arguments and
                answer): the pipeline's merged Redis admission, which also takes the rate-limit
                slot in the same round trip.

        Returns:
            The ticket to pass to :meth:`record`.

        Raises:
            CircuitOpen: The circuit is open, or half-open with a probe in flight.
        """
        probe_id = self._new_probe_id()
        admission = await (admit or self.store.admit)(
            key, probe_lease=probe_lease + PROBE_GRACE, probe_id=probe_id
        )
        if admission.transition is not None:
            self._emit(key, admission.transition, observer)
        if admission.decision == "reject":
            notify(observer, FailedFast(key, admission.state, admission.retry_after))
            raise CircuitOpen(_open_message(admission), retry_after=admission.retry_after)
        if admission.decision == "probe":
            return Ticket(key, probe_id)
        ticket = self._tickets.get(key)
        if ticket is None:
            if len(self._tickets) >= _MAX_CACHED_TICKETS:
                self._tickets.clear()
            ticket = self._tickets[key] = Ticket(key)
        return ticket

    async def record(
        self,
        ticket: Ticket,
        verdict: BreakerVerdict,
        *,
        threshold: int,
        recovery: float,
        observer: Observer | None = None,
    ) -> None:
        """Record how an admitted call went.

        Args:
            ticket: From :meth:`before_call`.
            verdict: Success, failure or neutral.
            threshold: Consecutive failures that open the circuit.
            recovery: Seconds the circuit stays open.
            observer: Per-call event callback.
        """
        transition: Transition | None = None
        if verdict is BreakerVerdict.SUCCESS:
            transition = await self.store.record_success(ticket.key, ticket.probe_id)
        elif verdict is BreakerVerdict.FAILURE:
            transition = await self.store.record_failure(
                ticket.key, ticket.probe_id, threshold=threshold, recovery=recovery
            )
        elif ticket.probe_id is not None:
            await self.store.release_probe(ticket.key, ticket.probe_id)
        if transition is not None:
            self._emit(ticket.key, transition, observer)

    def recorded_at_once(self, ticket: Ticket, verdict: BreakerVerdict) -> bool:
        """True when *verdict* needs no :meth:`record`: a success on a settled in-memory key.

        That is the common case of every call (:meth:`MemoryBreakerStore.record_success` would
        find no entry and make no transition); callers skip :meth:`record`'s coroutines then.
        """
        store = self.store
        return (
            verdict is BreakerVerdict.SUCCESS
            and type(store) is MemoryBreakerStore
            and store.is_settled(ticket.key)
        )

    async def release(self, ticket: Ticket) -> None:
        """Give an admitted call back without a verdict (it never reached the upstream)."""
        if ticket.probe_id is not None:
            await self.store.release_probe(ticket.key, ticket.probe_id)

    async def state(self, key: str) -> BreakerState:
        """Return the breaker state of connection *key*."""
        return (await self.store.snapshot(key)).state

    async def health(self, key: str) -> Health:
        """Return ``healthy`` (closed) or ``degraded`` (open or half-open) for connection *key*."""
        return health_of(await self.state(key))

    def _emit(self, key: str, transition: Transition, observer: Observer | None) -> None:
        event = BreakerTransition(key, *transition)
        level = logging.WARNING if event.to_state == "open" else logging.INFO
        logger.log(level, "connection %s: %s", key, event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("a circuit breaker listener failed on %s", event)
        notify(observer, event)
