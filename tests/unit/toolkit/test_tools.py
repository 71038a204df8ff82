"""The tool catalogue, the policy, and capped results with cursors (MockTransport upstream)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from connectory.errors import InputError, InvalidRequest
from connectory.runtime import ConnectorClient
from connectory.spec import load_connector, load_connector_text
from connectory.toolkit import ToolPolicy, ToolRunner, build_tools, check_policy, tool_index
from connectory.toolkit.catalogue import safe_name
from connectory.toolkit.results import cap_records, decode_tool_cursor, encode_tool_cursor

ROOT = Path(__file__).resolve().parents[3]
TESTAPI = ROOT / "examples" / "testapi" / "connector.yaml"


def test_every_operation_and_collection_method_is_a_tool() -> None:
    spec = load_connector(TESTAPI)
    tools = tool_index(build_tools(spec))
    assert len(tools) == len(spec.operations) + 7
    assert tools["get_item"].read_only and not tools["create_contact"].read_only
    assert tools["contacts_list"].read_only and not tools["contacts_delete"].read_only
    assert tools["contacts_delete"].annotations["destructive"] is True
    schema = tools["contacts_list"].input_schema
    assert schema["additionalProperties"] is False
    assert schema["properties"]["filters"]["properties"]["status"]["enum"] == ["active", "inactive"]
    assert "page_size" in schema["properties"] and "cursor" in schema["properties"]
    create = tools["contacts_create"].input_schema["properties"]["fields"]
    assert create["required"] == ["email"] and "first_name" in create["properties"]
    assert "required" not in tools["contacts_update"].input_schema["properties"]["fields"]
    assert tools["get_item"].input_schema["required"] == ["id"]


def test_names_are_safe_and_collisions_are_resolved() -> None:
    assert safe_name("list items/all") == "list_items_all"
    assert len(safe_name("x" * 300)) == 64
    spec = load_connector_text(
        """
name: Clash
slug: clash
base_url: https://api.example.test
operations:
  - {operation: notes_list, path: /notes, record_selector: data}
  - {operation: get_note, path: "/notes/{id}", parameters: [{name: id, location: path}]}
collections:
  - key: notes
    methods:
      list: {operation: notes_list}
      find_by_id: {operation: get_note}
"""
    )
    names = [tool.name for tool in build_tools(spec)]
    assert names == ["notes_list", "get_note", "notes_records_list", "notes_find_by_id"]


def test_policy_offers_reads_and_named_writes_only() -> None:
    tools = build_tools(load_connector(TESTAPI))
    default = ToolPolicy()
    assert all(tool.read_only for tool in default.offered(tools))
    policy = ToolPolicy(allow_writes=["contacts_create"])
    check_policy(policy, tools)
    assert {t.name for t in policy.offered(tools) if not t.read_only} == {"contacts_create"}
    with pytest.raises(InvalidRequest, match="contacts_create"):
        check_policy(ToolPolicy(allow_writes=["contact_create"]), tools)
    with pytest.raises(InvalidRequest, match="only reads"):
        check_policy(ToolPolicy(allow_writes=["get_item"]), tools)
    with pytest.raises(ValueError):
        ToolPolicy(max_result_bytes=10)


def test_capping_keeps_whole_records_and_cuts_a_huge_one() -> None:
    records = [{"id": i, "text": "x" * 100} for i in range(50)]
    capped = cap_records(records, 1000)
    assert not capped.complete and 0 < len(capped.records) < 10
    huge = cap_records([{"id": 1, "text": "y" * 5000}], 1000)
    assert huge.records[0]["truncated"] is True and len(huge.records[0]["beginning"]) < 1000


def test_tool_cursors_are_bound_to_their_call() -> None:
    from connectory.toolkit.results import ToolCursor

    text = encode_tool_cursor(ToolCursor("inner", 3), "abc")
    assert decode_tool_cursor(text, "abc", "cursor") == ToolCursor("inner", 3)
    with pytest.raises(InputError, match="other arguments"):
        decode_tool_cursor(text, "abd", "cursor")
    for bad in ("", "!!!", "e30", 7, "x" * 20000):
        with pytest.raises(InputError):
            decode_tool_cursor(bad, "abc", "cursor")


def _items_api(request: httpx.Request) -> httpx.Response:
    start = int(request.url.params.get("offset", 0))
    data = [{"id": i, "pad": "p" * 50} for i in range(start, min(start + 10, 25))]
    return httpx.Response(200, json={"data": data, "total": 25})


async def test_runner_pages_a_paged_operation_to_the_end_within_the_budget() -> None:
    spec = load_connector_text(
        """
name: Items
slug: items
base_url: https://api.example.test
operations:
  - operation: list_items
    path: /items
    record_selector: data
    pagination: {type: offset, limit_param: limit, offset_param: offset, page_size: 10}
"""
    )
    tools = tool_index(build_tools(spec))
    async with ConnectorClient(spec, transport=httpx.MockTransport(_items_api)) as client:
        runner = ToolRunner(client, max_result_bytes=1024)
        seen: list[Any] = []
        arguments: dict[str, Any] = {}
        for _ in range(50):
            outcome = await runner.run(tools["list_items"], arguments)
            seen += [record["id"] for record in outcome.data["records"]]
            if outcome.data["next_cursor"] is None:
                break
            arguments = {"cursor": outcome.data["next_cursor"]}
        assert seen == list(range(25))
        with pytest.raises(InputError, match="no argument 'limit'"):
            await runner.run(tools["list_items"], {"limit": 5})
