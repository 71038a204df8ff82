"""Collection methods implemented in JavaScript: ctx, return shapes, cursors and validation.

The full method matrix runs for the JavaScript kind in ``test_collection_methods.py`` (over
``examples/testapi-javascript-collections``); these are the parts only that kind has.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from connectory.errors import (
    NotSupported,
    PaginationError,
    RecordNotFound,
    ScriptError,
    SpecError,
    UpstreamError,
)
from connectory.js import check_code
from connectory.spec import ConnectorSpec, check_connector_text, load_connector_text
from connectory.testing import create_test_api

from .support import connect

YAML = """\
name: JS collections
base_url: http://127.0.0.1:8765
auth:
  auth_type: api_key
  credential_schema:
    api_key: {type: password, required: true, sensitive: true}
  location: header
  header_name: X-API-Key
  key_prefix: "Token "
collections:
  - key: things
    parameters:
      project: {type: string, default: p1}
    fields_schema:
      type: object
      properties:
        id: {type: [integer, string]}
        name: {type: string}
    record: {name: "{{ item.name }}"}
    methods:
{methods}
"""


def spec(methods: str, code: str) -> ConnectorSpec:
    text = YAML.replace("{methods}", methods)
    return load_connector_text(text, files={"methods/things.js": code})


async def test_ctx_holds_the_calls_values_and_checked_parameters() -> None:
    code = """
export function echo(ctx) {
  return [{ id: 1, name: JSON.stringify({ input: ctx.input, parameters: ctx.parameters }) }];
}
export function find(ctx) {
  return { id: ctx.input.id, name: JSON.stringify(ctx.input) };
}
"""
    methods = """\
      search: {code: methods/things.js#echo, filters: [name]}
      find_by_id: {code: methods/things.js#find}
"""
    async with connect(spec(methods, code)) as client:
        things = client.collection("things")
        [found] = await things.search("abc", filters={"name": "x"})
        seen = json.loads(found.name or "")
        record = await things.find_by_id(7)
    assert seen == {
        "input": {
            "collection": "things",
            "method": "search",
            "query": "abc",
            "filters": {"name": "x"},
        },
        "parameters": {"project": "p1"},
    }
    assert json.loads(record.name or "") == {
        "collection": "things",
        "method": "find_by_id",
        "id": "7",
    }


async def test_list_pages_with_the_methods_own_cursor_inside_an_opaque_one() -> None:
    # Three pages of two; the method's cursor is an object, which Connectory keeps as is.
    code = """
export function list(ctx) {
  const at = ctx.input.cursor === null ? 0 : ctx.input.cursor.at;
  const size = ctx.input.page_size ?? 2;
  const records = [];
  for (let i = at; i < Math.min(at + size, 6); i++) records.push({ id: i + 1, name: 'n' + i });
  return { records, cursor: at + size < 6 ? { at: at + size } : null };
}
"""
    async with connect(spec("      list: {code: methods/things.js#list}\n", code)) as client:
        things = client.collection("things")
        first = await things.list_page()
        assert [r.id for r in first.records] == ["1", "2"]
        assert first.cursor is not None and "at" not in first.cursor  # opaque
        second = await things.list_page(cursor=first.cursor)
        assert [r.id for r in second.records] == ["3", "4"]
        assert [r.id async for r in things.list(page_size=4)] == ["1", "2", "3", "4", "5", "6"]
        pages = [page async for page in things.pages(cursor=second.cursor)]
        assert [[r.id for r in p.records] for p in pages] == [["5", "6"]]
        assert pages[-1].cursor is None


async def test_a_list_returned_by_list_is_the_only_page_and_page_size_needs_reading() -> None:
    code = "export const list = (ctx) => [{ id: 'a', name: 'A' }, { id: 'b', name: 'B' }];\n"
    async with connect(spec("      list: {code: methods/things.js#list}\n", code)) as client:
        things = client.collection("things")
        page = await things.list_page()
        assert [r.id for r in page.records] == ["a", "b"] and page.cursor is None
        with pytest.raises(NotSupported, match="does not take a page size"):
            await things.list_page(page_size=5)


async def test_a_cursor_handed_back_unchanged_is_a_pagination_error() -> None:
    code = "export const list = (ctx) => ({ records: [{ id: 1 }], cursor: 'same' });\n"
    async with connect(spec("      list: {code: methods/things.js#list}\n", code)) as client:
        with pytest.raises(PaginationError, match="returned the cursor it was given"):
            [r async for r in client.collection("things").list()]


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ("'text'", "returned text for things.list; return a page {records: [...], cursor}"),
        ("({ items: [] })", "returned an object for things.list"),
        ("null", "returned null for things.list"),
    ],
)
async def test_a_list_that_returns_something_else_names_the_file(
    returned: str, message: str
) -> None:
    code = f"export const list = (ctx) => {returned};\n"
    async with connect(spec("      list: {code: methods/things.js#list}\n", code)) as client:
        with pytest.raises(ScriptError, match=re.escape(message)) as caught:
            await client.collection("things").list_page()
    assert caught.value.file == "methods/things.js"


async def test_missing_records_and_upstream_errors_through_the_api_client() -> None:
    code = """
export async function find(ctx) {
  return await ctx.apiClient.get(`/crm/contacts/${ctx.input.id}`);
}
export async function update(ctx) {
  return null;
}
export async function broken(ctx) {
  await ctx.apiClient.post('/crm/contacts', { nope: 1 });
}
"""
    methods = """\
      find_by_id: {code: methods/things.js#find}
      update: {code: methods/things.js#update}
      create: {code: methods/things.js#broken}
"""
    async with connect(spec(methods, code)) as client:
        things = client.collection("things")
        assert (await things.find_by_id(3)).id == "3"
        with pytest.raises(RecordNotFound, match=r"no record with id '999'.*404"):
            await things.find_by_id(999)
        # update returning null: the record is read again, and it is not there.
        with pytest.raises(RecordNotFound, match="'999'"):
            await things.update(999, {"name": "x"})
        # Any other uncaught ApiError is the code's failure, at the line of the call.
        with pytest.raises(ScriptError, match=r"methods/things\.js:9:\d+: ApiError") as caught:
            await things.create({"name": "x"})
    assert caught.value.upstream_status == 422


async def test_an_error_object_in_what_the_method_returns() -> None:
    code = "export const make = (ctx) => ({ ok: false, error: 'quota exceeded' });\n"
    methods = """\
      create: {code: methods/things.js#make}
"""
    error = '    error: "{{ response.error if response.ok == false }}"\n'
    text = YAML.replace("{methods}", methods).replace("    methods:\n", error + "    methods:\n")
    async with connect(load_connector_text(text, files={"methods/things.js": code})) as client:
        with pytest.raises(UpstreamError, match=r"things\.create: the API reported an error"):
            await client.collection("things").create({"name": "x"})


async def test_the_methods_calls_go_through_the_connections_runtime() -> None:
    # Auth (the API key) and the connector's headers apply to ctx.apiClient requests.
    app = create_test_api(records=1)
    code = """
export async function list(ctx) {
  const page = await ctx.apiClient.get('/crm/contacts', { query: { limit: 3 } });
  return page.data;
}
"""
    async with connect(spec("      list: {code: methods/things.js#list}\n", code), app) as client:
        records = [r async for r in client.collection("things").list()]
    assert [r.id for r in records] == ["1", "2", "3"]
    assert app.state.test_api.stats.by_path["/crm/contacts"] == 1


def problems(methods: str, files: dict[str, str]) -> list[str]:
    report = check_connector_text(YAML.replace("{methods}", methods), files=files)
    found = [f"{p.location()}: {p.message}" for p in report.problems]
    if report.spec is not None:
        found += [f"{p.location()}: {p.message}" for p in check_code(report.spec)]
    return found


def test_validation_names_the_file_line_and_field() -> None:
    files = {"methods/things.js": "export function list(ctx) {\n  return [];\n}\n"}
    found = problems(
        """\
      list: {code: methods/things.js#list}
      find_by_id: {code: methods/missing.js}
      search:
        code: methods/things.js#list
        input: {q: "{{ query }}"}
""",
        files,
    )
    assert found == [
        "connector.yaml:22:26: the file methods/missing.js does not exist (did you mean "
        "'methods/things.js'?); create it (export default function (ctx) { ... }) or fix the "
        "path. The code files are: methods/things.js.",
        "connector.yaml:25:16: input maps an operation's parameters; a JavaScript method gets "
        "the call's values in ctx.input (filters, cursor, id, fields...): remove input",
    ]


def test_an_export_the_file_lacks_is_reported_at_the_file() -> None:
    files = {"methods/things.js": "export function list(ctx) {\n  return [];\n}\n"}
    assert problems("      list: {code: methods/things.js#lst}\n", files) == [
        "methods/things.js:1:1: collections[0].methods.list.code calls export 'lst', which the "
        "file does not have (its exports: list); write export function lst(ctx) { ... }"
    ]


def test_two_kinds_in_one_method_is_an_error() -> None:
    with pytest.raises(SpecError, match="exactly one implementation") as caught:
        spec(
            "      list: {code: methods/things.js, request: {path: /x}}\n",
            "export default () => [];\n",
        )
    assert "code: methods/<file>.js#<export>" in str(caught.value)


def test_credentials_the_method_reads_must_be_declared() -> None:
    files = {"methods/things.js": "export const list = (ctx) => [ctx.credentials.api_key];\n"}
    found = problems("      list: {code: methods/things.js#list}\n", files)
    assert any("api_key" in line and "methods/things.js:1" in line for line in found), found
    declared = problems(
        "      list: {code: {file: methods/things.js, export: list, credentials: [api_key]}}\n",
        files,
    )
    assert declared == []


def test_describe_names_the_kind() -> None:
    loaded = spec("      list: {code: methods/things.js#list}\n", "export const list = () => [];")
    method = loaded.collections[0].methods.list
    assert method is not None and method.kind == "javascript" and method.kind_key == "code"
    refs: list[Any] = loaded.code_refs()
    assert [path for path, _ in refs] == [("collections", 0, "methods", "list", "code")]
