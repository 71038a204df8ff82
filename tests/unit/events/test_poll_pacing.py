"""Polls are paced like reads: the connector's rate limit makes a poll wait, never fail.

Issue 11 section 6 ("the same for collection lists, polls and syncs"): every page a poll
reads goes through the limiter with the read's pacing (``max_read_wait``), whether the
poll is a list operation, a collection's ``list``, a JavaScript operation or a custom pull
method. Everything runs on a virtual clock (``FakeClock``) against ``httpx.MockTransport``:
the upstream stamps each request with the virtual time, so no test really waits.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectory.errors import RateLimited
from connectory.events.pulling import pull_collection, pull_poll
from connectory.resilience import FakeClock
from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec
from testkit.paged import page_number_operation

BASE_URL = "https://api.example.com"
PAGES = 3
PER_PAGE = 2
UPDATED = "2030-01-01T00:00:00Z"

PULL_METHOD = (
    "export async function pull(ctx) {\n"
    "  const events = [];\n"
    "  for (const page of [1, 2, 3]) {\n"
    "    const body = await ctx.apiClient.get('/items', { query: { page } });\n"
    "    for (const item of body.data) events.push({ type: 'changed', id: `${item.id}` });\n"
    "  }\n"
    "  return { events, state: { seen: events.length } };\n"
    "}\n"
)
LIST_METHOD = (
    "export default async (ctx) => {\n"
    "  const first = await ctx.apiClient.get('/items', { query: { page: 1 } });\n"
    "  const second = await ctx.apiClient.get('/items', { query: { page: 2 } });\n"
    "  return { data: [...first.data, ...second.data] };\n"
    "};\n"
)


def paced_spec(**resilience: Any) -> ConnectorSpec:
    """A paged list (operation, collection, JavaScript) and poll events over each of them."""
    document: dict[str, Any] = {
        "name": "Paced polls",
        "base_url": BASE_URL,
        # One request a minute: every page after the first waits for the limiter.
        "resilience": {"rate_limit": 1, **resilience},
        "operations": [
            page_number_operation(PER_PAGE),
            {
                "name": "list_items_js",
                "implementation": "javascript",
                "code": "methods/list.js",
                "record_selector": "data",
            },
        ],
        "collections": [
            {
                "key": "items",
                "name": "Items",
                "record": {
                    "id": "{{ item.id }}",
                    "updated_at": "{{ item.updated_at }}",
                    "fields": {"id": "{{ item.id }}"},
                },
                "methods": {"list": {"operation": "list_items"}},
            }
        ],
        "events": [
            {"key": "changed", "type": "poll", "poll": {"operation": "list_items"}},
            {"key": "changed_js", "type": "poll", "poll": {"operation": "list_items_js"}},
            {"key": "pulled", "type": "poll", "poll": {"method": "methods/pull.js#pull"}},
            {
                "key": "items_changed",
                "type": "collection",
                "collection": {"collection": "items", "changes": ["created", "updated"]},
            },
        ],
    }
    files = {"methods/pull.js": PULL_METHOD, "methods/list.js": LIST_METHOD}
    return ConnectorSpec.model_validate(document).with_code_files(files)


class Upstream:
    """Serves ``PAGES`` pages of ``PER_PAGE`` items; records each page's virtual arrival."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.arrivals: list[tuple[int, float]] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        self.arrivals.append((page, self.clock.monotonic()))
        first = (page - 1) * PER_PAGE + 1
        items = [{"id": n, "updated_at": UPDATED} for n in range(first, first + PER_PAGE)]
        return httpx.Response(200, json={"data": items, "meta": {"total": PAGES * PER_PAGE}})


def client_for(spec: ConnectorSpec, upstream: Upstream, clock: FakeClock) -> ConnectorClient:
    return ConnectorClient(spec, transport=httpx.MockTransport(upstream), clock=clock)


# A state with a cursor: the poll is not a first one, so what it finds is news.
STATE = {"cursor": "2029-12-31T00:00:00Z"}


async def test_a_list_operation_poll_waits_for_the_rate_limit_page_by_page() -> None:
    clock = FakeClock()
    upstream = Upstream(clock)
    spec = paced_spec()
    assert spec.resilience.timeout == 30  # each pause (60 s) is longer than the timeout
    event = spec.event("changed")
    assert event is not None
    async with client_for(spec, upstream, clock) as client:
        pulled = await pull_poll(client, event, STATE, {})
    assert upstream.arrivals == [(1, 0.0), (2, 60.0), (3, 120.0)]
    assert len(pulled.events) == PAGES * PER_PAGE
    assert pulled.state["cursor"] == UPDATED


async def test_a_collection_poll_waits_for_the_rate_limit_page_by_page() -> None:
    clock = FakeClock()
    upstream = Upstream(clock)
    spec = paced_spec()
    event = spec.event("items_changed")
    assert event is not None
    async with client_for(spec, upstream, clock) as client:
        pulled = await pull_collection(client, event, {"snapshot": {}}, {})
    assert upstream.arrivals == [(1, 0.0), (2, 60.0), (3, 120.0)]
    assert [item.type for item in pulled.events] == ["items.created"] * PAGES * PER_PAGE


async def test_a_javascript_operation_poll_is_paced_like_a_read() -> None:
    clock = FakeClock()
    upstream = Upstream(clock)
    spec = paced_spec()
    event = spec.event("changed_js")
    assert event is not None
    async with client_for(spec, upstream, clock) as client:
        pulled = await pull_poll(client, event, STATE, {})
    # The method's two requests are the read's: the second waits for the limiter.
    assert upstream.arrivals == [(1, 0.0), (2, 60.0)]
    assert len(pulled.events) == 2 * PER_PAGE


async def test_a_custom_pull_method_is_paced_like_a_read() -> None:
    clock = FakeClock()
    upstream = Upstream(clock)
    spec = paced_spec()
    event = spec.event("pulled")
    assert event is not None
    async with client_for(spec, upstream, clock) as client:
        pulled = await pull_poll(client, event, {}, {})
    assert upstream.arrivals == [(1, 0.0), (2, 60.0), (3, 120.0)]
    assert len(pulled.events) == PAGES * PER_PAGE
    assert pulled.state["values"] == {"seen": PAGES * PER_PAGE}


async def test_a_pause_longer_than_max_read_wait_ends_the_poll_at_once() -> None:
    clock = FakeClock()
    upstream = Upstream(clock)
    spec = paced_spec(max_read_wait=45)
    event = spec.event("changed")
    assert event is not None
    async with client_for(spec, upstream, clock) as client:
        with pytest.raises(RateLimited) as caught:
            await pull_poll(client, event, STATE, {})
    assert "max_read_wait (45 s)" in str(caught.value)
    assert upstream.arrivals == [(1, 0.0)]
    assert clock.monotonic() == 0  # it failed without waiting in vain


async def test_a_poll_holding_a_lease_never_pauses_past_the_cap() -> None:
    """A worker's poll caps its pauses below its claim's lease (``capped_pauses``): a longer
    rate-limit wait fails the poll at once, naming the cap, instead of outliving the lease."""
    from connectory.runtime.pacing import capped_pauses

    clock = FakeClock()
    upstream = Upstream(clock)
    spec = paced_spec()  # max_read_wait 300 s by default: the 60 s pauses fit it
    event = spec.event("changed")
    assert event is not None
    async with client_for(spec, upstream, clock) as client:
        with (
            capped_pauses(30, "half of CONNECTORY_WORK_LEASE_SECONDS"),
            pytest.raises(RateLimited) as caught,
        ):
            await pull_poll(client, event, STATE, {})
        assert "half of CONNECTORY_WORK_LEASE_SECONDS (30 s)" in str(caught.value)
        assert upstream.arrivals == [(1, 0.0)]
        assert clock.monotonic() == 0
        # A cap above the pauses changes nothing.
        with capped_pauses(90, "half of CONNECTORY_WORK_LEASE_SECONDS"):
            pulled = await pull_poll(client, event, STATE, {})
    assert len(pulled.events) == PAGES * PER_PAGE
