"""Process isolation: V8 aborting in one tenant's worker costs that worker, nothing else."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectory.errors import ScriptLimitError
from connectory.js import JsEngine
from connectory.js.worker import ProcessHost

from .support import run, spec_with

FILES = {
    "methods/count.js": "let calls = 0;\nexport default () => ++calls;\n",
    # One builtin call that V8 cannot stop: it aborts the process ("invalid size error"),
    # whatever the heap limit.
    "methods/abort.js": "export default () => 'x'.repeat(2 ** 28).split('').length;\n",
}


@pytest.fixture(name="engine")
async def _engine() -> AsyncIterator[JsEngine]:
    engine = JsEngine(isolation="process", max_workers=4)
    yield engine
    await engine.aclose()


async def test_v8_aborting_costs_one_worker_and_is_reported(engine: JsEngine) -> None:
    spec = spec_with(FILES, {"time_limit": 10, "memory_limit": 16})
    assert (await run(engine, spec, "methods/count.js", tenant="globex")).value == 1
    with pytest.raises(ScriptLimitError) as caught:
        await run(engine, spec, "methods/abort.js", tenant="acme")
    assert caught.value.limit == "memory"
    assert caught.value.file == "methods/abort.js"
    # globex's worker, instance and state are untouched; acme gets a new worker.
    assert (await run(engine, spec, "methods/count.js", tenant="globex")).value == 2
    assert (await run(engine, spec, "methods/count.js", tenant="acme")).value == 1


async def test_limits_work_in_workers_too(engine: JsEngine) -> None:
    spec = spec_with(
        {"methods/spin.js": "export default () => { for (;;) {} };\n"}, {"time_limit": 0.5}
    )
    with pytest.raises(ScriptLimitError) as caught:
        await run(engine, spec, "methods/spin.js")
    assert caught.value.limit == "time"


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
async def test_workers_inherit_no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTORY_ENCRYPTION_KEYS", "1:c2VjcmV0LWtleS1tYXRlcmlhbA==")
    host = ProcessHost(max_workers=1)
    try:
        isolate = await host.create_isolate("acme", 16 * 1024 * 1024)
        assert isolate.alive
        [worker] = host._workers.values()
        environ = Path(f"/proc/{worker.process.pid}/environ").read_bytes()
        assert b"CONNECTORY_ENCRYPTION_KEYS" not in environ
        assert os.environ["CONNECTORY_ENCRYPTION_KEYS"].encode() not in environ
    finally:
        await host.aclose()
