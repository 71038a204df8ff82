"""Paced reads: with the seed's defaults a long read waits for the rate limit, never fails on it.

Everything runs on a virtual clock (``FakeClock``) against ``httpx.MockTransport``: the
upstream stamps each request with the virtual time, so the pacing is checked exactly and no
test really waits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from connectory.errors import RateLimited, UpstreamTimeout
from connectory.resilience import FakeClock, ResilienceEvent, Waiting
from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec
from testkit.paged import page_number_operation

BASE_URL = "https://api.example.com"
PER_PAGE = 50

Fault = Callable[[httpx.Request], Awaitable[httpx.Response | None]]


def paged_spec(
    pages: int, operation_resilience: dict[str, Any] | None = None, **resilience: Any
) -> ConnectorSpec:
    """A connector with one page-number operation over ``pages`` pages; seed resilience."""
    document: dict[str, Any] = {
        "name": "Paced",
        "base_url": BASE_URL,
        "operations": [page_number_operation(PER_PAGE)],
    }
    if resilience:
        document["resilience"] = resilience
    if operation_resilience:
        document["operations"][0]["resilience"] = operation_resilience
    return ConnectorSpec.model_validate(document)


class PagedUpstream:
    """Serves ``pages`` pages of ``PER_PAGE`` records; ``faults[n]`` may answer page n first."""

    def __init__(self, clock: FakeClock, pages: int) -> None:
        self.clock = clock
        self.pages = pages
        self.arrivals: list[tuple[int, float]] = []
        self.faults: dict[int, list[Fault]] = {}

    def page_times(self) -> list[float]:
        return [at for _, at in self.arrivals]

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        self.arrivals.append((page, self.clock.monotonic()))
        pending = self.faults.get(page)
        if pending:
            answer = await pending.pop(0)(request)
            if answer is not None:
                return answer
        first = (page - 1) * PER_PAGE + 1
        records = [{"id": n} for n in range(first, first + PER_PAGE)]
        return httpx.Response(200, json={"data": records, "meta": {"total": self.pages * PER_PAGE}})


def answer(status: int, **headers: str) -> Fault:
    async def fault(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, json={"error": status})

    return fault


def slow(clock: FakeClock, seconds: float) -> Fault:
    """Answer normally, after *seconds* of virtual time."""

    async def fault(request: httpx.Request) -> None:
        await clock.sleep(seconds)

    return fault


def client_for(spec: ConnectorSpec, upstream: PagedUpstream, clock: FakeClock) -> ConnectorClient:
    return ConnectorClient(spec, transport=httpx.MockTransport(upstream), clock=clock)


def waits(events: list[ResilienceEvent]) -> list[tuple[float, str]]:
    return [(event.seconds, event.cause) for event in events if isinstance(event, Waiting)]


async def test_200_pages_at_60_per_minute_are_read_whole_with_the_seed_defaults() -> None:
    spec = paged_spec(200)
    assert (spec.resilience.timeout, spec.resilience.rate_limit) == (30, 60)
    clock = FakeClock()
    upstream = PagedUpstream(clock, pages=200)
    events: list[ResilienceEvent] = []
    async with client_for(spec, upstream, clock) as client:
        ids = [r["id"] async for r in client.iter_records("list_items", observer=events.append)]
    assert ids == list(range(1, 200 * PER_PAGE + 1))
    # 60 pages a minute: the limiter paces the read, minute by minute.
    assert upstream.page_times() == [0.0] * 60 + [60.0] * 60 + [120.0] * 60 + [180.0] * 20
    assert waits(events) == [(60.0, "rate limit")] * 3


async def test_a_single_call_still_counts_the_rate_limit_wait_against_its_timeout() -> None:
    clock = FakeClock()
    upstream = PagedUpstream(clock, pages=1)
    async with client_for(paged_spec(1, rate_limit=1), upstream, clock) as client:
        await client.call("list_items")
        with pytest.raises(RateLimited) as caught:
            await client.call("list_items")
        # A read that must answer promptly can ask for the same behaviour.
        with pytest.raises(RateLimited):
            async for _ in client.iter_pages("list_items", pace=False):
                pass
    assert "raise the timeout" in str(caught.value)
    assert caught.value.retry_after == 60
    assert clock.monotonic() == 0


async def test_each_page_gets_the_whole_timeout_after_its_pause() -> None:
    clock = FakeClock()
    upstream = PagedUpstream(clock, pages=3)
    # Page 2 waits 60 s for a slot, then takes 25 s to answer: within its 30 s timeout.
    upstream.faults[2] = [slow(clock, 25)]
    # Page 3 waits for its slot too, then hangs on every attempt: cut 30 s after the pause.
    upstream.faults[3] = [slow(clock, 10_000)] * 4
    spec = paged_spec(3, rate_limit=1, retry_jitter=False)
    pages: list[int] = []
    async with client_for(spec, upstream, clock) as client:
        with pytest.raises(UpstreamTimeout):
            async for page in client.iter_pages("list_items"):
                pages.append(page.number)
    assert pages == [1, 2]
    assert upstream.arrivals[:3] == [(1, 0.0), (2, 60.0), (3, 120.0)]
    # The timeout bounds the page with its retries: the first attempt is cut at 30 s.
    assert clock.monotonic() == 150.0


async def test_a_rate_limit_pause_longer_than_max_read_wait_ends_the_read() -> None:
    clock = FakeClock()
    upstream = PagedUpstream(clock, pages=3)
    spec = paged_spec(3, rate_limit=1, max_read_wait=45)
    ids: list[int] = []
    async with client_for(spec, upstream, clock) as client:
        with pytest.raises(RateLimited) as caught:
            async for record in client.iter_records("list_items"):
                ids.append(record["id"])
    assert ids == list(range(1, PER_PAGE + 1))  # the first page was delivered
    assert caught.value.retry_after == 60
    message = str(caught.value)
    assert "the next request may go in 60.00 s" in message
    assert "more than max_read_wait (45 s) allows" in message
    assert "raise max_read_wait" in message
    assert clock.monotonic() == 0  # it failed at once, without waiting in vain


async def test_an_operation_may_set_its_own_max_read_wait() -> None:
    clock = FakeClock()
    upstream = PagedUpstream(clock, pages=2)
    spec = paged_spec(2, {"max_read_wait": 60}, rate_limit=1, max_read_wait=10)
    async with client_for(spec, upstream, clock) as client:
        assert len([r async for r in client.iter_records("list_items")]) == 2 * PER_PAGE
    assert upstream.page_times() == [0.0, 60.0]


async def test_retry_after_paces_the_read_beyond_the_timeout() -> None:
    clock = FakeClock()
    upstream = PagedUpstream(clock, pages=2)
    upstream.faults[2] = [answer(429, **{"Retry-After": "100"})]
    events: list[ResilienceEvent] = []
    async with client_for(paged_spec(2, timeout=30), upstream, clock) as client:
        records = [r async for r in client.iter_records("list_items", observer=events.append)]
    assert len(records) == 2 * PER_PAGE
    assert upstream.arrivals == [(1, 0.0), (2, 0.0), (2, 100.0)]
    assert (100.0, "Retry-After") in waits(events)


async def test_retry_after_longer_than_max_read_wait_is_rate_limited() -> None:
    clock = FakeClock()
    upstream = PagedUpstream(clock, pages=2)
    upstream.faults[2] = [answer(429, **{"Retry-After": "600"})]
    async with client_for(paged_spec(2), upstream, clock) as client:
        with pytest.raises(RateLimited) as caught:
            async for _ in client.iter_pages("list_items"):
                pass
    assert caught.value.retry_after == 600
    assert caught.value.attempts == 1
    assert "asked to wait 600.00 s" in str(caught.value)
    assert "max_read_wait (300 s)" in str(caught.value)
    assert len(upstream.arrivals) == 2
    assert clock.monotonic() == 0


async def test_a_token_renewal_inside_a_read_is_paced_like_its_page() -> None:
    """A 401 mid-read renews the OAuth2 token; that token request waits for a slot too."""
    clock = FakeClock()
    upstream = PagedUpstream(clock, pages=2)
    upstream.faults[2] = [answer(401)]
    token_times: list[float] = []

    async def provider(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            token_times.append(clock.monotonic())
            return httpx.Response(
                200, json={"access_token": f"at-{len(token_times)}", "expires_in": 3600}
            )
        return await upstream(request)

    spec = ConnectorSpec.model_validate(
        {
            **paged_spec(2, rate_limit=1).model_dump(exclude_unset=True),
            "auth": {
                "auth_type": "oauth2",
                "grant_type": "client_credentials",
                "token_url": "https://auth.example.com/oauth/token",
                "credential_schema": {
                    "client_id": {"required": True},
                    "client_secret": {"type": "password", "required": True},
                },
            },
        }
    )
    async with ConnectorClient(
        spec,
        credentials={"client_id": "c", "client_secret": "s"},
        transport=httpx.MockTransport(provider),
        clock=clock,
    ) as client:
        records = [r async for r in client.iter_records("list_items")]
    assert len(records) == 2 * PER_PAGE
    # One slot a minute for tokens and pages alike: token, page 1, page 2 (401), token, page 2.
    assert token_times == [0.0, 180.0]
    assert upstream.arrivals == [(1, 60.0), (2, 120.0), (2, 240.0)]
