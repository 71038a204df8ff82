"""Prism as a third-party webhook sender: it fires an OpenAPI callback at the subscribed URL.

The connector for ``callbacks.json`` (npm ``@readme/oas-examples``) subscribes by calling
``POST /streams?callbackUrl=<intake URL>``; Prism answers it and, as the document's
``onData`` callback declares, POSTs a generated payload to ``{callbackUrl}/data``.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from events_support import Harness, publish

from testkit.skips import missing

ROOT = Path(__file__).resolve().parents[3]
MODULES = ROOT / "tests" / "peers" / "node_modules"
CALLBACKS = MODULES / "@readme" / "oas-examples" / "3.0" / "json" / "callbacks.json"


def _connector(base_url: str) -> dict[str, Any]:
    return {
        "name": "Streams (OpenAPI callbacks)",
        "slug": "prism-streams",
        "base_url": base_url,
        "operations": [
            {
                "name": "subscribe_stream",
                "method": "POST",
                "path": "/streams",
                "parameters": [{"name": "callbackUrl", "location": "query", "required": True}],
            }
        ],
        "events": [
            {
                "key": "on_data",
                "type": "webhook",
                "webhook": {
                    "subscribe": {
                        "operation": "subscribe_stream",
                        "input": {"callbackUrl": "{{ webhook_url }}"},
                        "state": {"subscription_id": "{{ response.subscriptionId }}"},
                    },
                    "handle": {"type": "stream.data"},
                },
            }
        ],
    }


def test_prism_fires_the_callback_and_the_event_arrives(harness: Harness, tmp_path: Path) -> None:
    sys_path = str(ROOT / "tests" / "integration" / "openapi")
    import sys

    if sys_path not in sys.path:
        sys.path.insert(0, sys_path)
    from openapi_support import prism

    if shutil.which("node") is None:
        missing("node is not on PATH, so Prism cannot run")
    if not CALLBACKS.is_file():
        missing(f"{CALLBACKS.relative_to(ROOT)} is missing; run `make peers`")
    with prism(CALLBACKS, tmp_path) as prism_url:
        connector_id = asyncio.run(publish(harness.settings.database_url, _connector(prism_url)))
        harness.connectors["prism"] = connector_id
        connection = harness.connect("prism")
        response = harness.client.post(
            "/subscriptions", json={"connection_id": connection, "event": "on_data"}
        )
        assert response.status_code == 201, response.text
        subscription = response.json()
        events = harness.wait_for(
            lambda: harness.client.get("/events").json()["items"], "Prism's callback"
        )
    assert events[0]["type"] == "stream.data"
    assert events[0]["subscription_id"] == subscription["id"]
    assert set(events[0]["data"]) <= {"timestamp", "userData"}
    status = harness.subscription(subscription["id"])
    assert status["status"] == "active"
    assert status["last_activity_at"] is not None


pytestmark = pytest.mark.peers
