"""Running connector JavaScript in process: results, errors mapped to file:line, ctx, utils."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectory.errors import ScriptError
from connectory.http.redaction import REDACTED, Redactor
from connectory.js import JsEngine

from .support import run, spec_with


@pytest.fixture(name="engine")
async def _engine() -> AsyncIterator[JsEngine]:
    engine = JsEngine()
    yield engine
    await engine.aclose()


async def test_a_sync_method_returns_its_value(engine: JsEngine) -> None:
    spec = spec_with({"methods/a.js": "export default (ctx) => ({sum: ctx.input.a + 1});\n"})
    outcome = await run(engine, spec, "methods/a.js", ctx={"input": {"a": 41}})
    assert outcome.value == {"sum": 42}


async def test_named_exports_and_async_functions(engine: JsEngine) -> None:
    text = (
        "export async function later(ctx) {\n"
        "  await new Promise((resolve) => setTimeout(resolve, 1));\n"
        "  return helper(ctx.input);\n"
        "}\n"
        "function helper(x) { return x * 2; }\n"
    )
    spec = spec_with({"methods/b.js": text})
    outcome = await run(engine, spec, "methods/b.js", export="later", ctx={"input": 21})
    assert outcome.value == 42


async def test_a_thrown_error_names_file_line_and_column(engine: JsEngine) -> None:
    text = "export default function (ctx) {\n  const x = null;\n  return x.field;\n}\n"
    spec = spec_with({"methods/c.js": text})
    with pytest.raises(ScriptError) as caught:
        await run(engine, spec, "methods/c.js")
    error = caught.value
    assert (error.file, error.line, error.column) == ("methods/c.js", 3, 12)
    assert str(error).startswith("methods/c.js:3:12: TypeError: Cannot read properties of null")
    assert error.stack == ["default (methods/c.js:3:12)"]


async def test_an_error_after_an_await_is_mapped_too(engine: JsEngine) -> None:
    text = (
        "export default async function (ctx) {\n"
        "  await null;\n"
        "  ctx.log('about to fail');\n"
        "  throw new RangeError('out of range');\n"
        "}\n"
    )
    spec = spec_with({"methods/d.js": text})
    with pytest.raises(ScriptError) as caught:
        await run(engine, spec, "methods/d.js")
    assert str(caught.value).startswith("methods/d.js:4:9: RangeError: out of range")
    assert [(line.message, line.location) for line in caught.value.logs] == [
        ("about to fail", "methods/d.js:3:7")
    ]


@pytest.mark.parametrize(
    ("body", "shown"),
    [("throw 42;", "42"), ("throw {code: 7};", '{"code":7}'), ("throw null;", "null")],
)
async def test_throwing_a_non_error_names_the_throw(
    engine: JsEngine, body: str, shown: str
) -> None:
    spec = spec_with({"methods/e.js": f"export default function (ctx) {{\n  {body}\n}}\n"})
    with pytest.raises(ScriptError) as caught:
        await run(engine, spec, "methods/e.js")
    assert caught.value.file == "methods/e.js"
    assert caught.value.line == 2
    assert "not an Error" in str(caught.value)


async def test_rejecting_with_a_non_error_names_the_function(engine: JsEngine) -> None:
    text = "// a method\nexport default async function (ctx) {\n  await null;\n  throw 'nope';\n}\n"
    spec = spec_with({"methods/f.js": text})
    with pytest.raises(ScriptError) as caught:
        await run(engine, spec, "methods/f.js")
    assert str(caught.value).startswith("methods/f.js:2:1 (methods/f.js): methods/f.js rejected")
    assert "nope, not an Error" in str(caught.value)


async def test_a_promise_that_never_settles_fails_at_once(engine: JsEngine) -> None:
    spec = spec_with({"methods/g.js": "export default () => new Promise(() => {});\n"})
    with pytest.raises(ScriptError) as caught:
        await run(engine, spec, "methods/g.js")
    assert "never settles" in str(caught.value)
    assert caught.value.file == "methods/g.js"


async def test_deep_recursion_is_a_range_error_at_its_line(engine: JsEngine) -> None:
    text = "const f = (n) => f(n + 1) + 1;\nexport default () => f(0);\n"
    spec = spec_with({"methods/h.js": text})
    with pytest.raises(ScriptError) as caught:
        await run(engine, spec, "methods/h.js")
    assert "Maximum call stack size exceeded" in str(caught.value)
    assert (caught.value.file, caught.value.line) == ("methods/h.js", 1)


async def test_only_declared_credentials_are_present(engine: JsEngine) -> None:
    text = "export default (ctx) => [ctx.credentials.secret, Object.keys(ctx.credentials)];\n"
    spec = spec_with(
        {"methods/i.js": text, "methods/j.js": "export default (ctx) => ctx.credentials.other;\n"}
    )
    outcome = await run(engine, spec, "methods/i.js")
    assert outcome.value == ["s3cr3t-value", ["secret", "region"]]
    with pytest.raises(ScriptError) as caught:
        await run(engine, spec, "methods/j.js")
    assert "credential 'other' is not declared for methods/j.js" in str(caught.value)
    assert caught.value.line == 1


async def test_utils_match_python(engine: JsEngine) -> None:
    text = (
        "export default (ctx) => {\n"
        "  const u = ctx.utils;\n"
        "  const m = 'héllo, wörld ✓';\n"
        "  return {\n"
        "    sha256: u.sha256(m), sha1: u.sha1(m, 'base64'),\n"
        "    hmac256: u.hmacSha256('k€y', m), hmac1: u.hmacSha1('k', m, 'base64url'),\n"
        "    longKey: u.hmacSha256('k'.repeat(100), m, 'base64'),\n"
        "    big: u.sha256('x'.repeat(100000)),\n"
        "    b64: u.base64Encode(m), b64url: u.base64UrlEncode('\\xff\\xfe?'),\n"
        "    back: u.base64Decode(u.base64Encode(m)), hex: u.hexEncode('ab'),\n"
        "    unhex: u.hexDecode('6162'), uuid: u.uuid(), uuid2: u.uuid(),\n"
        "    url: u.urlEncode(\"a b&c/d!'\"), query: u.buildQuery({b: 2, a: [1, 'x y']}),\n"
        "    parsed: u.parseUrl('https://h.example:8443/p/q?x=1&x=2#f'),\n"
        "    iso: u.formatDate(0), http: u.formatDate(0, 'http'),\n"
        "    unix: u.formatDate(1500, 'unix'),\n"
        "    pattern: u.formatDate(Date.UTC(2024, 1, 3, 4, 5, 6, 7), 'YYYY-MM-DDTHH:mm:ss.SSS'),\n"
        "  };\n"
        "};\n"
    )
    spec = spec_with({"methods/u.js": text})
    value: dict[str, Any] = (await run(engine, spec, "methods/u.js")).value
    message = "héllo, wörld ✓".encode()

    def b64(data: bytes, url: bool = False) -> str:
        return (
            base64.urlsafe_b64encode(data).decode().rstrip("=")
            if url
            else base64.b64encode(data).decode()
        )

    assert value["sha256"] == hashlib.sha256(message).hexdigest()
    assert value["sha1"] == b64(hashlib.sha1(message).digest())
    assert value["hmac256"] == hmac.new("k€y".encode(), message, hashlib.sha256).hexdigest()
    assert value["hmac1"] == b64(hmac.new(b"k", message, hashlib.sha1).digest(), url=True)
    assert value["longKey"] == b64(hmac.new(b"k" * 100, message, hashlib.sha256).digest())
    assert value["big"] == hashlib.sha256(b"x" * 100000).hexdigest()
    assert value["b64"] == b64(message)
    assert value["b64url"] == b64("\xff\xfe?".encode(), url=True)
    assert value["back"] == "héllo, wörld ✓"
    assert (value["hex"], value["unhex"]) == ("6162", "ab")
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", value["uuid"]
    )
    assert value["uuid"] != value["uuid2"]
    assert value["url"] == "a%20b%26c%2Fd%21%27"
    assert value["query"] == "a=1&a=x%20y&b=2"
    assert value["parsed"]["origin"] == "https://h.example:8443"
    assert (value["parsed"]["pathname"], value["parsed"]["query"]) == ("/p/q", {"x": ["1", "2"]})
    assert value["iso"] == "1970-01-01T00:00:00.000Z"
    assert value["http"] == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert value["unix"] == 1
    assert value["pattern"] == "2024-02-03T04:05:06.007"


async def test_values_derived_from_secrets_are_registered(engine: JsEngine) -> None:
    text = (
        "export default (ctx) => {\n"
        "  const sig = ctx.utils.hmacSha256(ctx.credentials.secret, 'payload');\n"
        "  const pub = ctx.markPublic(ctx.utils.sha256(ctx.credentials.secret + 'x'));\n"
        "  const plain = ctx.utils.sha256('nothing secret');\n"
        "  ctx.log('signed with', ctx.credentials.secret, sig);\n"
        "  return {sig, pub, plain};\n"
        "};\n"
    )
    redactor = Redactor(["s3cr3t-value"])
    spec = spec_with({"methods/s.js": text})
    outcome = await run(engine, spec, "methods/s.js", redactor=redactor)
    value = outcome.value
    assert redactor.redact(value["sig"]) == REDACTED
    assert redactor.redact(value["pub"]) == value["pub"]
    assert redactor.redact(value["plain"]) == value["plain"]
    assert outcome.logs[0].message == f"signed with {REDACTED} {REDACTED}"


async def test_output_and_log_limits(engine: JsEngine) -> None:
    files = {
        "methods/big.js": "export default () => 'x'.repeat(17 * 1024 * 1024);\n",
        "methods/chatty.js": (
            "export default (ctx) => { for (let i = 0; i < 1000; i++) ctx.log(i); return 1; };\n"
        ),
    }
    spec = spec_with(files)
    with pytest.raises(ScriptError) as caught:
        await run(engine, spec, "methods/big.js")
    assert "returned more than" in str(caught.value)
    outcome = await run(engine, spec, "methods/chatty.js")
    assert len(outcome.logs) == 201
    assert outcome.logs[-1].message == "log limit reached: later lines were dropped"


async def test_console_logs_to_the_run(engine: JsEngine) -> None:
    spec = spec_with(
        {"methods/c.js": "export default () => { console.warn('careful', {a: 1}); };\n"}
    )
    outcome = await run(engine, spec, "methods/c.js")
    assert [(line.level, line.message) for line in outcome.logs] == [("warn", 'careful {"a":1}')]
    assert outcome.value is None


async def test_a_missing_export_or_file_is_reported_before_running(engine: JsEngine) -> None:
    spec = spec_with({"methods/n.js": "export function other() {}\n"})
    with pytest.raises(ScriptError, match="has no export 'default'"):
        await run(engine, spec, "methods/n.js")


async def test_top_level_errors_are_reported_with_the_file(engine: JsEngine) -> None:
    spec = spec_with({"methods/top.js": "const x = JSON.parse('{');\nexport default () => x;\n"})
    with pytest.raises(ScriptError) as caught:
        await run(engine, spec, "methods/top.js")
    assert "(while loading the file)" in str(caught.value)
    assert (caught.value.file, caught.value.line) == ("methods/top.js", 1)


async def test_code_is_compiled_once_per_instance(engine: JsEngine) -> None:
    text = "let calls = 0;\nexport default () => ++calls;\n"
    spec = spec_with({"methods/count.js": text})
    values = [(await run(engine, spec, "methods/count.js")).value for _ in range(3)]
    assert values == [1, 2, 3]
    assert engine.instances == 1
