"""The circuit breaker's state machine over the in-memory store."""

from __future__ import annotations

import itertools

import pytest

from connectory.errors import CircuitOpen
from connectory.resilience import (
    BreakerTransition,
    BreakerVerdict,
    CircuitBreaker,
    FakeClock,
    MemoryBreakerStore,
    Ticket,
)

OK, FAIL, NEUTRAL = BreakerVerdict.SUCCESS, BreakerVerdict.FAILURE, BreakerVerdict.NEUTRAL
THRESHOLD, RECOVERY = 3, 30.0


class Harness:
    def __init__(self) -> None:
        self.clock = FakeClock()
        ids = itertools.count(1)
        self.breaker = CircuitBreaker(
            MemoryBreakerStore(self.clock), new_probe_id=lambda: f"probe-{next(ids)}"
        )
        self.events: list[BreakerTransition] = []
        self.breaker.subscribe(self.events.append)

    async def call(self, verdict: BreakerVerdict, key: str = "a") -> Ticket:
        ticket = await self.breaker.before_call(key, probe_lease=10)
        await self.breaker.record(ticket, verdict, threshold=THRESHOLD, recovery=RECOVERY)
        return ticket

    async def open(self, key: str = "a") -> None:
        for _ in range(THRESHOLD):
            await self.call(FAIL, key)

    def transitions(self) -> list[tuple[str, str, str]]:
        return [(e.key, e.from_state, e.to_state) for e in self.events]


@pytest.fixture
def h() -> Harness:
    return Harness()


async def test_opens_after_threshold_consecutive_failures(h: Harness) -> None:
    await h.call(FAIL)
    await h.call(FAIL)
    assert await h.breaker.state("a") == "closed"
    await h.call(FAIL)
    assert await h.breaker.state("a") == "open"
    assert await h.breaker.health("a") == "degraded"
    assert h.transitions() == [("a", "closed", "open")]


async def test_a_success_resets_the_count(h: Harness) -> None:
    await h.call(FAIL)
    await h.call(FAIL)
    await h.call(OK)  # e.g. a 404: the upstream answered on purpose
    await h.call(FAIL)
    await h.call(FAIL)
    assert await h.breaker.state("a") == "closed"
    assert (await h.breaker.store.snapshot("a")).failures == 2


async def test_neutral_outcomes_neither_count_nor_reset(h: Harness) -> None:
    await h.call(FAIL)
    await h.call(FAIL)
    await h.call(NEUTRAL)  # e.g. a 429
    assert await h.breaker.state("a") == "closed"
    await h.call(FAIL)
    assert await h.breaker.state("a") == "open"


async def test_open_fails_fast_with_retry_after(h: Harness) -> None:
    await h.open()
    await h.clock.sleep(10)
    with pytest.raises(CircuitOpen) as caught:
        await h.breaker.before_call("a", probe_lease=10)
    assert caught.value.retry_after == 20
    assert "fail fast" in str(caught.value)


async def test_after_recovery_exactly_one_probe_goes_and_its_success_closes(h: Harness) -> None:
    await h.open()
    await h.clock.sleep(RECOVERY)
    probe = await h.breaker.before_call("a", probe_lease=10)
    assert probe.is_probe
    for _ in range(5):
        with pytest.raises(CircuitOpen, match="testing whether"):
            await h.breaker.before_call("a", probe_lease=10)
    await h.breaker.record(probe, OK, threshold=THRESHOLD, recovery=RECOVERY)
    assert await h.breaker.health("a") == "healthy"
    assert (await h.breaker.store.snapshot("a")).failures == 0
    assert h.transitions() == [
        ("a", "closed", "open"),
        ("a", "open", "half_open"),
        ("a", "half_open", "closed"),
    ]


async def test_a_failed_probe_reopens_for_a_fresh_recovery_period(h: Harness) -> None:
    await h.open()
    await h.clock.sleep(RECOVERY)
    await h.call(FAIL)  # the probe
    assert await h.breaker.state("a") == "open"
    await h.clock.sleep(RECOVERY - 1)
    with pytest.raises(CircuitOpen) as caught:
        await h.breaker.before_call("a", probe_lease=10)
    assert caught.value.retry_after == 1
    await h.clock.sleep(1)
    assert (await h.breaker.before_call("a", probe_lease=10)).is_probe
    assert h.transitions()[-2:] == [("a", "half_open", "open"), ("a", "open", "half_open")]


async def test_a_neutral_probe_lets_the_next_call_probe(h: Harness) -> None:
    await h.open()
    await h.clock.sleep(RECOVERY)
    await h.call(NEUTRAL)
    assert await h.breaker.state("a") == "half_open"
    assert (await h.breaker.before_call("a", probe_lease=10)).is_probe


async def test_a_released_probe_lets_the_next_call_probe(h: Harness) -> None:
    await h.open()
    await h.clock.sleep(RECOVERY)
    probe = await h.breaker.before_call("a", probe_lease=10)
    await h.breaker.release(probe)
    assert (await h.breaker.before_call("a", probe_lease=10)).is_probe


async def test_a_lost_probe_expires_with_its_lease(h: Harness) -> None:
    await h.open()
    await h.clock.sleep(RECOVERY)
    lost = await h.breaker.before_call("a", probe_lease=10)  # its process "dies"
    await h.clock.sleep(10.5)
    with pytest.raises(CircuitOpen):
        await h.breaker.before_call("a", probe_lease=10)  # lease + grace not over yet
    await h.clock.sleep(0.5)
    second = await h.breaker.before_call("a", probe_lease=10)
    assert second.is_probe and second.probe_id != lost.probe_id
    # The old probe finishing late decides nothing.
    await h.breaker.record(lost, OK, threshold=THRESHOLD, recovery=RECOVERY)
    assert await h.breaker.state("a") == "half_open"


async def test_calls_admitted_before_opening_do_not_decide_later(h: Harness) -> None:
    early = [await h.breaker.before_call("a", probe_lease=10) for _ in range(5)]
    for ticket in early[:3]:
        await h.breaker.record(ticket, FAIL, threshold=THRESHOLD, recovery=RECOVERY)
    assert await h.breaker.state("a") == "open"
    await h.breaker.record(early[3], OK, threshold=THRESHOLD, recovery=RECOVERY)
    await h.breaker.record(early[4], FAIL, threshold=THRESHOLD, recovery=RECOVERY)
    assert await h.breaker.state("a") == "open"
    assert h.transitions() == [("a", "closed", "open")]


async def test_connections_are_independent(h: Harness) -> None:
    await h.open("a")
    await h.call(OK, "b")
    assert await h.breaker.health("b") == "healthy"
    with pytest.raises(CircuitOpen):
        await h.breaker.before_call("a", probe_lease=10)


async def test_listeners_can_unsubscribe_and_cannot_break_calls(h: Harness) -> None:
    seen: list[BreakerTransition] = []
    unsubscribe = h.breaker.subscribe(seen.append)

    def broken(event: BreakerTransition) -> None:
        raise RuntimeError("listener bug")

    h.breaker.subscribe(broken)
    await h.open()
    assert len(seen) == 1
    unsubscribe()
    unsubscribe()  # twice is harmless
    await h.clock.sleep(RECOVERY)
    await h.call(OK)
    assert len(seen) == 1
    assert len(h.events) == 3


def test_transition_event_text_and_health() -> None:
    opened = BreakerTransition("a", "closed", "open")
    assert str(opened) == "breaker open (was closed)"
    assert opened.health == "degraded" and opened.health_changed
    probing = BreakerTransition("a", "open", "half_open")
    assert probing.health == "degraded" and not probing.health_changed
    assert str(probing) == "breaker half-open (was open)"


async def test_closed_connections_cost_no_memory(h: Harness) -> None:
    await h.call(FAIL)
    await h.call(OK)
    store = h.breaker.store
    assert isinstance(store, MemoryBreakerStore)
    assert store._entries == {}
