"""``connectory mcp`` over stdio, driven by the MCP SDK's own client as a desktop agent would."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from starlette.applications import Starlette

from connectory.testing import create_test_api, serve

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONNECTOR = str(ROOT / "examples" / "testapi" / "connector.yaml")
API_KEY = "test-api-key"


@pytest.fixture(scope="module")
def upstream_app() -> Starlette:
    return create_test_api(records=40)


@pytest.fixture(scope="module")
def upstream(upstream_app: Starlette) -> Iterator[str]:
    with serve(upstream_app) as url:
        yield url


@pytest.fixture
def credentials(tmp_path: Path) -> str:
    path = tmp_path / "credentials.yaml"
    path.write_text(f"api_key: {API_KEY}\n", encoding="utf-8")
    return str(path)


def server(*args: str) -> StdioServerParameters:
    # The SDK starts the server with a minimal environment: hand on what the suite relies on
    # (the network guard and this worktree's sources on PYTHONPATH).
    keep = ("PYTHONPATH", "CONNECTORY_TEST_NETGUARD", "CONNECTORY_DEBUG")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    return StdioServerParameters(
        command=sys.executable, args=["-m", "connectory.cli", "mcp", *args], env=env
    )


def data(result: Any) -> Any:
    return json.loads(result.content[0].text)


def contact_writes(app: Starlette) -> int:
    by_path = app.state.test_api.stats.by_path
    return sum(count for path, count in by_path.items() if path.startswith("/crm/contacts/"))


async def test_local_tools_are_read_only_by_default_and_page_with_a_cursor(
    upstream: str, credentials: str, upstream_app: Starlette
) -> None:
    params = server(CONNECTOR, "--credentials", credentials, "--base-url", upstream,
                    "--max-result-bytes", "2048")  # fmt: skip
    async with Client(params) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert {"get_item", "list_cursor_items", "contacts_list", "contacts_find_by_id"} <= set(
            tools
        )
        # Writes are not offered: neither operations nor collection methods.
        assert not {"create_contact", "contacts_create", "contacts_delete"} & set(tools)
        assert tools["get_item"].input_schema["required"] == ["id"]
        assert tools["contacts_list"].annotations.read_only_hint is True

        one = await client.call_tool("get_item", {"id": 7})
        assert not one.is_error
        assert data(one)["body"]["id"] == 7
        assert API_KEY not in one.content[0].text

        # 40 records, results capped at 2 KiB: several calls, each handing on a cursor.
        seen: list[int] = []
        cursor = None
        calls = 0
        while True:
            arguments = {"cursor": cursor} if cursor else {}
            page = data(await client.call_tool("list_cursor_items", arguments))
            assert len(json.dumps(page)) <= 2048
            seen += [record["id"] for record in page["records"]]
            calls += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == list(range(1, 41)) and calls > 2

        writes_before = contact_writes(upstream_app)
        refused = await client.call_tool("contacts_delete", {"id": 3})
        assert refused.is_error
        assert "not" in data(refused)["error"]["detail"]
        assert contact_writes(upstream_app) == writes_before

        bad = await client.call_tool("get_item", {"id": "seven"})
        assert bad.is_error and data(bad)["error"]["code"] == "InputError"


async def test_a_named_write_tool_is_offered(
    upstream: str, credentials: str, upstream_app: Starlette
) -> None:
    params = server(CONNECTOR, "--credentials", credentials, "--base-url", upstream,
                    "--allow-write", "contacts_create")  # fmt: skip
    async with Client(params) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert "contacts_create" in names and "contacts_delete" not in names
        created = await client.call_tool(
            "contacts_create", {"fields": {"email": "mcp@example.test", "first_name": "Ada"}}
        )
        assert not created.is_error, created.content
        record = data(created)["record"]
        found = data(await client.call_tool("contacts_find_by_id", {"id": record["id"]}))
        assert found["record"]["fields"]["email"] == "mcp@example.test"
