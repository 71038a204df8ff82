"""``GET .../records?all=true`` keeps the connection alive while the read waits; clients skip that.

The server runs for real on loopback (uvicorn in a thread, ``serve``), with keep-alive lines
every 0.05 s. The upstream is slow on the second page (it answers after a delay) and paces
the third (429 with ``Retry-After``), so keep-alive lines must appear between the pages'
records. Nothing is asserted about how long anything took.
"""

from __future__ import annotations

import httpx
import orjson
import pytest

from connectory.api import create_app
from connectory.errors import UpstreamError
from connectory.remote import Server as RemoteServer
from connectory.settings import Settings
from connectory.testing import serve
from connectory.testing.faulty import FaultyUpstream, Reply, too_many_requests

from .streams_support import KEEPALIVE, paged_connection, settings, upstream
from .support import World

__all__ = ["settings", "upstream"]  # fixtures, used by name

ITEMS = [{"id": n, "name": f"item {n}"} for n in range(1, 6)]


def script_slow_pages(upstream: FaultyUpstream) -> None:
    """/p1 (two items) at once; /p2 (two) after a delay; /p3 (one) after a 429 Retry-After."""
    pages = [
        {"data": ITEMS[:2], "next": upstream.url("/p2")},
        {"data": ITEMS[2:4], "next": upstream.url("/p3")},
        {"data": ITEMS[4:]},
    ]
    upstream.script("/p1", then=Reply(200, body=orjson.dumps(pages[0])))
    upstream.script("/p2", then=Reply(200, body=orjson.dumps(pages[1]), delay=0.4))
    upstream.script("/p3", too_many_requests("0.4"), then=Reply(200, body=orjson.dumps(pages[2])))


@pytest.fixture
async def connection_id(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: FaultyUpstream
) -> str:
    items = {
        "key": "items",
        "fields_schema": {
            "type": "object",
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
        },
        "record": {"name": "{{ item.name }}"},
        "methods": {"list": {"operation": "list_items", "filters": ["name"]}},
    }
    return await paged_connection(api, world, settings, upstream, "Slow items", collections=[items])


async def test_keepalive_lines_fill_slow_and_paced_pages_on_a_real_server(
    settings: Settings, world: World, connection_id: str, upstream: FaultyUpstream
) -> None:
    script_slow_pages(upstream)
    path = f"/connections/{connection_id}/collections/items/records"
    headers = {"Authorization": f"Bearer {world.tokens['a_viewer']}"}
    with serve(create_app(settings)) as url:
        async with (
            httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http,
            http.stream("GET", path, params={"all": "true"}) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/x-ndjson"
            assert response.headers["X-Connectory-Call-Id"]
            lines = [orjson.loads(line) async for line in response.aiter_lines() if line]
    kinds = ["keepalive" if KEEPALIVE in line else "record" for line in lines]
    # Page 1's records, keep-alives while page 2 is slow, its records, keep-alives while
    # page 3 is paced, its record: keep-alives only between pages.
    collapsed = [kind for n, kind in enumerate(kinds) if n == 0 or kinds[n - 1] != kind]
    assert collapsed == ["record", "keepalive", "record", "keepalive", "record"]
    assert kinds.count("record") == 5
    records = [line for line in lines if KEEPALIVE not in line]
    assert [r["id"] for r in records] == ["1", "2", "3", "4", "5"]
    assert records[0]["name"] == "item 1"
    keepalives = [line[KEEPALIVE] for line in lines if KEEPALIVE in line]
    assert all(set(line) == {KEEPALIVE} for line in lines if KEEPALIVE in line)
    # While a slow page is on its way the line is empty; during the pause it says why.
    assert {} in keepalives
    assert any(k.get("cause") == "Retry-After" for k in keepalives)
    assert all(0 < k["waiting"] <= 0.4 for k in keepalives if k)


async def test_the_remote_collection_skips_keepalives_and_reports_the_wait(
    settings: Settings, world: World, connection_id: str, upstream: FaultyUpstream
) -> None:
    script_slow_pages(upstream)
    waits: list[tuple[float, str]] = []
    with serve(create_app(settings)) as url:
        async with RemoteServer(url, world.tokens["a_viewer"]) as remote:
            items = remote.connection(connection_id).collection("items")
            ids = [
                record.id
                async for record in items.list(
                    on_wait=lambda seconds, cause: waits.append((seconds, cause))
                )
            ]
    assert ids == ["1", "2", "3", "4", "5"]
    assert waits and {cause for _, cause in waits} == {"Retry-After"}


async def test_bad_input_is_an_error_status_before_the_stream(
    settings: Settings, world: World, connection_id: str, upstream: FaultyUpstream
) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['a_viewer']}"}
    path = f"/connections/{connection_id}/collections/items/records"
    with serve(create_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
            unsupported = await http.get(path, params={"all": "true", "filter.id": "3"})
            bad_cursor = await http.get(path, params={"all": "true", "cursor": "garbage"})
    assert unsupported.status_code == 400
    assert unsupported.json()["code"] == "not_supported"
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["code"] == "invalid_parameters"
    assert upstream.count() == 0  # nothing was read


async def test_a_failure_mid_stream_is_the_same_error_class_remotely(
    settings: Settings, world: World, connection_id: str, upstream: FaultyUpstream
) -> None:
    first = {"data": ITEMS[:2], "next": upstream.url("/p2")}
    upstream.script("/p1", then=Reply(200, body=orjson.dumps(first)))
    upstream.script("/p2", then=Reply(404, body=b'{"error": "gone"}'))
    seen: list[str] = []
    with serve(create_app(settings)) as url:
        async with RemoteServer(url, world.tokens["a_viewer"]) as remote:
            items = remote.connection(connection_id).collection("items")
            with pytest.raises(UpstreamError, match="404") as caught:
                async for record in items.list():
                    seen.append(record.id)
    assert seen == ["1", "2"]  # the first page's records arrived before the error
    assert caught.value.status_code == 404
