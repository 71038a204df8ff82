"""Hook and method runs are entries of the call log, inside the call that ran them."""

from __future__ import annotations

import httpx

from connectory.observability import MemoryRecorder, Telemetry
from connectory.runtime import ConnectorClient

from .support import Recorder
from .test_client_hooks import SECRET, api, method_spec


async def test_hooks_and_methods_are_entries_of_the_call_that_ran_them() -> None:
    recorder = MemoryRecorder()
    client = ConnectorClient(
        method_spec(),
        credentials={"api_key": "the-api-key", "signing_secret": SECRET},
        transport=httpx.MockTransport(Recorder(api)),
        connection_key="conn-js",
        telemetry=Telemetry(recorder=recorder),
    )
    async with client:
        with client.calls.track("operation", "item_with_owner") as call:
            await client.call("item_with_owner", {"id": "7"})
    by_kind: dict[str, list] = {}
    for entry in recorder.entries:
        by_kind.setdefault(entry.kind, []).append(entry)
    (method,) = by_kind["method"]
    (operation,) = by_kind["operation"]
    hooks = by_kind["hook"]
    assert method.operation == "method:methods/item.js"
    assert method.parent_id == call.id == operation.id
    assert method.attempts == 2  # its two apiClient requests
    assert [hook.operation for hook in hooks] == ["pre:hooks/sign.js"] * 2
    assert all(hook.parent_id == method.id and hook.status == "ok" for hook in hooks)
    assert all(SECRET not in (entry.request_excerpt or "") for entry in recorder.entries)
