"""Events through the Python API (connectory.remote.Server) and the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from events_support import WEBHOOK_SECRET, Harness

from connectory.remote import Server


def test_python_api_subscribes_and_reads_the_feed(harness: Harness) -> None:
    token = harness.client.headers["Authorization"].removeprefix("Bearer ")
    connection_id = harness.connect(
        "webhooks", api_key="test-api-key", webhook_secret=WEBHOOK_SECRET
    )

    async def scenario() -> list[dict[str, object]]:
        async with Server(harness.url, token) as server:
            endpoint = await server.create_endpoint(harness.receiver.url)
            assert str(endpoint["secret"]).startswith("whsec_")
            subscription = await server.connection(connection_id).subscribe("item_updated")
            for _ in range(300):
                [current] = await server.subscriptions(connection_id)
                if current["status"] == "active":
                    break
                await asyncio.sleep(0.05)
            assert current["id"] == subscription["id"] and current["status"] == "active"
            await asyncio.to_thread(harness.touch, 2)
            page = await server.events(0, wait=20)
            assert page["items"], "the long-poll returns when the event is stored"
            return [item async for item in server.iter_events(0)]

    events = asyncio.run(scenario())
    assert [event["data"]["id"] for event in events] == [2]  # type: ignore[index]


def test_cli_lists_subscriptions_and_tails_events(harness: Harness) -> None:
    token = harness.client.headers["Authorization"].removeprefix("Bearer ")
    connection_id = harness.connect(
        "webhooks", api_key="test-api-key", webhook_secret=WEBHOOK_SECRET
    )
    env = {**os.environ, "CONNECTORY_URL": harness.url, "CONNECTORY_TOKEN": token}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "connectory.cli", "events", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    created = cli("subscribe", connection_id, "item_updated")
    assert created.returncode == 0, created.stderr
    subscription = json.loads(created.stdout)
    harness.wait_for(
        lambda: harness.subscription(subscription["id"])["status"] == "active", "active"
    )
    listed = cli("subscriptions", "--connection", connection_id)
    assert [s["id"] for s in json.loads(listed.stdout)] == [subscription["id"]]
    harness.touch(6)
    harness.wait_for(lambda: harness.client.get("/events").json()["items"], "the event")
    tail = cli("tail")
    lines = [json.loads(line) for line in tail.stdout.splitlines()]
    assert [line["data"]["id"] for line in lines] == [6]
    wrong = cli("unsubscribe", "f" * 32)
    assert wrong.returncode != 0 and "not found" in wrong.stderr
    assert token not in wrong.stderr + wrong.stdout
