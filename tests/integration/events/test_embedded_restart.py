"""The embedded default (``connectory serve`` on SQLite, worker in process) killed mid-delivery.

The in-memory task queue dies with the process; the work does not: it is in the database, and
the reconciler asks for it again when the server starts. Every event must still arrive.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import standardwebhooks
from events_support import WEBHOOK_SECRET, Receiver, document, seed

from connectory.testing import create_test_api, serve
from connectory.testing.instances import free_port


def _start(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "connectory.cli", "serve", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )


def _wait(check, what: str, timeout: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_restart_of_the_embedded_server_mid_delivery_loses_nothing(tmp_path: Path) -> None:
    receiver = Receiver(delay=0.3)
    with serve(receiver.app()) as receiver_url, serve(create_test_api(records=5)) as test_api:
        receiver.url = f"{receiver_url}/hook"
        database = f"sqlite+aiosqlite:///{tmp_path / 'connectory.db'}"
        token, ids = asyncio.run(
            seed(database, {"webhooks": document("testapi-webhooks.yaml", test_api, None)})
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "CONNECTORY_DATABASE_URL": database,
            "CONNECTORY_DATA_DIR": str(tmp_path),
            "CONNECTORY_ENCRYPTION_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
            "CONNECTORY_EGRESS_ALLOW": "127.0.0.1",
            "CONNECTORY_WORK_LEASE_SECONDS": "2",
        }
        server = _start(port, env, tmp_path / "serve.log")
        try:
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=url, headers=headers, timeout=30) as api:
                _wait(lambda: api.get("/health").status_code == 200, "the server")
                assert api.post("/webhook-endpoints", json={"url": receiver.url}).status_code == 201
                connection = api.post(
                    "/connections",
                    json={
                        "connector_id": ids["webhooks"],
                        "name": "embedded",
                        "credentials": {
                            "api_key": "test-api-key",
                            "webhook_secret": WEBHOOK_SECRET,
                        },
                    },
                ).json()["id"]
                created = api.post(
                    "/subscriptions", json={"connection_id": connection, "event": "item_updated"}
                ).json()
                # The embedded default is its own public address.
                assert created["intake_url"].startswith(url)
                _wait(
                    lambda: api.get(f"/subscriptions/{created['id']}").json()["status"] == "active",
                    "the subscription",
                )
                for n in range(20):
                    body = orjson.dumps(
                        {"events": [{"id": f"e{n}", "type": "item.updated", "item": {"id": n}}]}
                    )
                    now = datetime.now(UTC)
                    signature = standardwebhooks.Webhook(WEBHOOK_SECRET).sign(f"m{n}", now, body)
                    answer = httpx.post(
                        created["intake_url"],
                        content=body,
                        headers={
                            "webhook-id": f"m{n}",
                            "webhook-timestamp": str(int(now.timestamp())),
                            "webhook-signature": signature,
                        },
                    )
                    assert answer.status_code == 200
                _wait(lambda: len(receiver.requests) >= 2, "deliveries in flight")
            os.kill(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
            delivered_before = len(receiver.event_ids())
            receiver.delay = 0.0
            server = _start(port, env, tmp_path / "serve.log")
            with httpx.Client(base_url=url, headers=headers, timeout=30) as api:
                _wait(lambda: api.get("/health").status_code == 200, "the restarted server")
                # Each 200 came after its raw request was committed: all 20 become events.
                events = _wait(
                    lambda: (
                        (items := api.get("/events", params={"limit": 100}).json()["items"])
                        and len(items) == 20
                        and items
                    ),
                    "every received webhook handled",
                )
                wanted = {event["id"] for event in events}
                _wait(lambda: wanted <= receiver.event_ids(), "every event delivered")
        finally:
            server.terminate()
            server.wait(timeout=15)
    assert delivered_before < 20, "the kill hit the server mid-delivery"
