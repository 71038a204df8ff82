"""Streamed reads through the API keep the connection alive while they wait; clients skip that.

The keep-alive interval is shortened to 0.05 s (``stream_keepalive_interval``) and the
upstream asks for a pause with ``Retry-After``, so keep-alive lines must appear between the
first page's records and the second's. Nothing is asserted about how long anything took.
"""

from __future__ import annotations

import asyncio
import re

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from connectory.api import create_app
from connectory.cli.app import app as cli
from connectory.remote import Server as RemoteServer
from connectory.settings import Settings
from connectory.testing import serve
from connectory.testing.faulty import FaultyUpstream, Reply, too_many_requests

from .streams_support import KEEPALIVE, paged_connection, settings, upstream
from .support import Server, World

__all__ = ["settings", "upstream"]  # fixtures, used by name

RECORDS = [{"id": 1}, {"id": 2}, {"id": 3}]


def pause_on_second_page(upstream: FaultyUpstream, retry_after: str) -> None:
    """Serve /p1 (two records) then /p2 (one), /p2 first answering 429 with Retry-After."""
    first = {"data": RECORDS[:2], "next": upstream.url("/p2")}
    upstream.script("/p1", then=Reply(200, body=orjson.dumps(first)))
    upstream.script(
        "/p2",
        too_many_requests(retry_after),
        then=Reply(200, body=orjson.dumps({"data": RECORDS[2:]})),
    )


@pytest.fixture
async def connection_id(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: FaultyUpstream
) -> str:
    return await paged_connection(api, world, settings, upstream, "Paced")


async def test_keepalive_lines_fill_the_pause_and_clients_skip_them(
    api: httpx.AsyncClient,
    server: Server,
    world: World,
    connection_id: str,
    upstream: FaultyUpstream,
) -> None:
    # A pause of 20 keep-alive intervals: one line at least even when a loaded machine stalls
    # the event loop for a good part of it.
    pause_on_second_page(upstream, "1")
    response = await api.post(
        f"/connections/{connection_id}/operations/list_items",
        params={"all_pages": "true"},
        headers=world.auth("a_viewer"),
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [orjson.loads(line) for line in response.text.splitlines()]
    kinds = ["keepalive" if KEEPALIVE in line else "record" for line in lines]
    # Records of page 1, keep-alive lines during the pause, then the record of page 2.
    first_keepalive = kinds.index("keepalive")
    assert kinds[:first_keepalive] == ["record", "record"]
    assert kinds[first_keepalive:] == ["keepalive"] * (len(kinds) - 3) + ["record"]
    assert [line for line in lines if KEEPALIVE not in line] == RECORDS
    keepalives = [line[KEEPALIVE] for line in lines if len(line) == 1 and KEEPALIVE in line]
    assert all(set(line) == {KEEPALIVE} for line in lines if KEEPALIVE in line)
    assert any(k.get("cause") == "Retry-After" for k in keepalives)
    assert all(0 < k["waiting"] <= 1 for k in keepalives if k)

    pause_on_second_page(upstream, "0.5")
    waits: list[tuple[float, str]] = []
    transport = httpx.ASGITransport(app=server.app)  # type: ignore[arg-type]
    async with RemoteServer(
        "http://server", world.tokens["a_viewer"], transport=transport
    ) as remote:
        records = [
            record
            async for record in remote.connection(connection_id).iter_records(
                "list_items", on_wait=lambda seconds, cause: waits.append((seconds, cause))
            )
        ]
    assert records == RECORDS
    assert waits and {cause for _, cause in waits} == {"Retry-After"}


async def test_the_remote_cli_skips_keepalives_and_shows_the_wait(
    settings: Settings, world: World, connection_id: str, upstream: FaultyUpstream
) -> None:
    # Long enough that keep-alive lines report over a second left: the CLI shows such waits.
    pause_on_second_page(upstream, "2.5")
    runner = CliRunner()
    with serve(create_app(settings)) as url:
        env = {"CONNECTORY_URL": url, "CONNECTORY_TOKEN": world.tokens["a_viewer"]}
        args = ["call", "list_items", "--connection", connection_id, "--all-pages"]
        result = await asyncio.to_thread(runner.invoke, cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert [orjson.loads(line) for line in result.stdout.splitlines()] == RECORDS
    assert re.search(r"2 record\(s\); waiting [12]\.\d s \(Retry-After\)", result.stderr)
