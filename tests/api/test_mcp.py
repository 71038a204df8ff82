"""A connection's MCP endpoint, driven by the MCP SDK's own client over real HTTP (and stdio).

The server runs under uvicorn on 127.0.0.1 against the test database (a second app on the same
database as the in-process one the fixtures use, as a second server process would be).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from starlette.applications import Starlette

from connectory.api import create_app
from connectory.settings import Settings
from connectory.testing import serve

from .crm_support import API_KEY, connection, contact_writes, upstream, upstream_app
from .support import World

__all__ = ["connection", "upstream", "upstream_app"]  # fixtures, used by name


@pytest.fixture
def http_server(settings: Settings, world: World) -> Iterator[str]:
    """The same server, under uvicorn: the SDK's HTTP client needs a real socket."""
    with serve(create_app(settings)) as url:
        yield url


@asynccontextmanager
async def agent(base: str, connection: str, token: str) -> AsyncIterator[Client]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
        transport = streamable_http_client(f"{base}/connections/{connection}/mcp", http_client=http)
        async with Client(transport, cache=None) as client:
            yield client


def data(result: Any) -> Any:
    return json.loads(result.content[0].text)


async def test_viewer_reads_through_tools_with_cursors(
    http_server: str, world: World, connection: str
) -> None:
    async with agent(http_server, connection, world.tokens["a_viewer"]) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert {"contacts_list", "contacts_find_by_id", "contacts_search", "get_item"} <= set(tools)
        assert not {"contacts_create", "create_contact", "delete_contact"} & set(tools)
        ids: list[str] = []
        cursor = None
        for _ in range(20):
            arguments: dict[str, Any] = {"page_size": 5}
            if cursor:
                arguments["cursor"] = cursor
            result = await client.call_tool("contacts_list", arguments)
            assert not result.is_error, result.content
            page = data(result)
            ids += [record["id"] for record in page["records"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(ids) == 24 and len(set(ids)) == 24
        found = data(await client.call_tool("contacts_find_by_id", {"id": "3"}))
        assert found["record"]["name"] == "Grace Hopper"
        echoed = await client.call_tool("echo_headers", {"X-Request-Id": "r1"})
        assert API_KEY not in echoed.content[0].text


async def test_a_write_is_refused_until_the_policy_names_it(
    http_server: str,
    api: httpx.AsyncClient,
    world: World,
    connection: str,
    upstream_app: Starlette,
) -> None:
    before = contact_writes(upstream_app)
    async with agent(http_server, connection, world.tokens["a_admin"]) as client:
        refused = await client.call_tool("contacts_create", {"fields": {"email": "x@example.test"}})
        assert refused.is_error
        assert "policy" in data(refused)["error"]["detail"]
    assert contact_writes(upstream_app) == before  # nothing was sent upstream

    policy = await api.put(
        f"/connections/{connection}/mcp-policy",
        json={"allow_writes": ["contacts_create"]},
        headers=world.auth("a_admin"),
    )
    assert policy.status_code == 200, policy.text
    offered = {tool["name"] for tool in policy.json()["tools"] if tool["offered"]}
    assert "contacts_create" in offered and "contacts_delete" not in offered

    async with agent(http_server, connection, world.tokens["a_admin"]) as client:
        created = await client.call_tool(
            "contacts_create", {"fields": {"email": "agent@example.test"}}
        )
        assert not created.is_error, created.content
        assert data(created)["record"]["fields"]["email"] == "agent@example.test"
        deleted = await client.call_tool("contacts_delete", {"id": "1"})
        assert deleted.is_error
    # A viewer never gets a write tool, whatever the policy.
    async with agent(http_server, connection, world.tokens["a_viewer"]) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert "contacts_create" not in names
        refused = await client.call_tool("contacts_create", {"fields": {"email": "v@x.test"}})
        assert refused.is_error and "enterprise admin" in data(refused)["error"]["detail"]


async def _logged_calls(
    api: httpx.AsyncClient, world: World, connection: str, count: int
) -> list[dict[str, Any]]:
    """The connection's newest ``mcp`` entries, once *count* are written (the uvicorn server's
    call log buffer writes them on its own schedule; the bound is generous, not a timing)."""
    for _ in range(300):
        page = await api.get(
            f"/connections/{connection}/calls",
            params={"kind": "mcp", "excerpts": "true"},
            headers=world.auth("a_viewer"),
        )
        assert page.status_code == 200, page.text
        items: list[dict[str, Any]] = page.json()["items"]
        if len(items) >= count:
            return items
        await asyncio.sleep(0.1)
    raise AssertionError(f"the call log did not get {count} mcp entries")


async def _health(api: httpx.AsyncClient, world: World, connection: str) -> str:
    shown = await api.get(f"/connections/{connection}", headers=world.auth("a_viewer"))
    health: str = shown.json()["health"]
    return health


async def test_tool_calls_are_in_the_call_log_and_move_the_health(
    http_server: str, api: httpx.AsyncClient, world: World, connection: str
) -> None:
    async with agent(http_server, connection, world.tokens["a_admin"]) as client:
        listed = await client.call_tool("contacts_list", {"page_size": 5})
        assert not listed.is_error, listed.content
        refused = await client.call_tool("contacts_create", {"fields": {"email": "x@x.test"}})
        assert refused.is_error
        rejected = await client.call_tool("get_status", {"code": 401})
        assert rejected.is_error and data(rejected)["status"] == 401
    # Like a REST call: the upstream refused the credentials.
    assert await _health(api, world, connection) == "auth_error"

    newest = await _logged_calls(api, world, connection, 3)
    assert [(e["operation"], e["status"]) for e in newest] == [
        ("get_status", "error"),
        ("contacts_create", "error"),
        ("contacts_list", "ok"),
    ]
    status_call, refusal, listing = newest
    assert status_call["status_code"] == 401 and status_call["attempts"] == 1
    assert "/status/401" in status_call["request_excerpt"]
    assert refusal["error_class"] == "PermissionDenied" and "policy" in refusal["error_message"]
    assert refusal["attempts"] == 0  # refused before anything was sent upstream
    assert listing["status_code"] == 200 and listing["attempts"] >= 1
    assert listing["request_excerpt"].startswith("GET ")
    for entry in newest:
        assert API_KEY not in json.dumps(entry)

    async with agent(http_server, connection, world.tokens["a_viewer"]) as client:
        assert not (await client.call_tool("get_item", {"id": 1})).is_error
    assert await _health(api, world, connection) == "healthy"
    history = await api.get(
        f"/connections/{connection}/health-history", headers=world.auth("a_viewer")
    )
    changes = [(item["previous"], item["health"]) for item in history.json()["items"]]
    assert changes[:2] == [("auth_error", "healthy"), ("healthy", "auth_error")]


async def test_policy_is_checked_and_only_admins_set_it(
    api: httpx.AsyncClient, world: World, connection: str
) -> None:
    url = f"/connections/{connection}/mcp-policy"
    shown = await api.get(url, headers=world.auth("a_viewer"))
    assert shown.status_code == 200
    assert shown.json()["policy"] == {
        "enabled": True,
        "allow_writes": [],
        "max_result_bytes": 32768,
    }
    assert shown.json()["endpoint"] == f"/connections/{connection}/mcp"
    denied = await api.put(url, json={"allow_writes": []}, headers=world.auth("a_viewer"))
    assert denied.status_code == 403
    typo = await api.put(
        url, json={"allow_writes": ["contact_create"]}, headers=world.auth("a_admin")
    )
    assert typo.status_code == 422 and "contacts_create" in typo.json()["detail"]
    read = await api.put(url, json={"allow_writes": ["get_item"]}, headers=world.auth("a_admin"))
    assert read.status_code == 422 and "only reads" in read.json()["detail"]
    unknown_key = await api.put(url, json={"allow": ["x"]}, headers=world.auth("a_admin"))
    assert unknown_key.status_code == 422
    tiny = await api.put(url, json={"max_result_bytes": 10}, headers=world.auth("a_admin"))
    assert tiny.status_code == 422
    other = await api.get(url, headers=world.auth("b_admin"))
    assert other.status_code == 404


async def test_the_endpoint_authenticates_and_scopes_before_the_protocol(
    http_server: str, api: httpx.AsyncClient, world: World, connection: str
) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    url = f"{http_server}/connections/{connection}/mcp"
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient() as http:
        anonymous = await http.post(url, json=body, headers=headers)
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
        wrong = await http.post(
            url, json=body, headers={**headers, "Authorization": "Bearer cty_x"}
        )
        assert wrong.status_code == 401
        foreign = await http.post(url, json=body, headers={**headers, **world.auth("b_admin")})
        assert foreign.status_code == 404
        await api.put(
            f"/connections/{connection}/mcp-policy",
            json={"enabled": False},
            headers=world.auth("a_admin"),
        )
        off = await http.post(url, json=body, headers={**headers, **world.auth("a_admin")})
        assert off.status_code == 403 and "switched off" in off.json()["detail"]


async def test_stdio_relay_to_the_server(
    http_server: str, world: World, connection: str, upstream_app: Starlette
) -> None:
    keep = ("PYTHONPATH", "CONNECTORY_TEST_NETGUARD")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env |= {"CONNECTORY_URL": http_server, "CONNECTORY_TOKEN": world.tokens["a_admin"]}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "connectory.cli", "mcp", "--connection", connection],
        env=env,
    )
    async with Client(params) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert "contacts_list" in names and "contacts_create" not in names
        listed = data(await client.call_tool("contacts_list", {"page_size": 3}))
        assert len(listed["records"]) == 3 and listed["next_cursor"]
        before = contact_writes(upstream_app)  # GET and POST /crm/contacts alike
        refused = await client.call_tool("contacts_create", {"fields": {"email": "r@x.test"}})
        assert refused.is_error
    assert contact_writes(upstream_app) == before
