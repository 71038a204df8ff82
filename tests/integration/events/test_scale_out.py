"""The scale-out topology of docs/deploy/compose.yaml, run as plain local processes.

2 API processes and 2 workers, started with the commands and environment the compose file
gives them, on a private PostgreSQL (the store and the task queue) and a private Redis, both on
free ports in temporary folders: these tests kill workers and restart the database, never the
machine's shared services. Then what users fear:

* an event runs end to end through the topology (subscribe, provider notification, intake on
  one API process, handling and delivery on the workers);
* kill -9 of every worker while deliveries are in flight, then restart: every event arrives;
* kill -9 of every worker during a poll, changes made while they are down: none is skipped;
* PostgreSQL restarted under load: the workers reconnect and deliver what comes after.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import standardwebhooks
import yaml
from events_support import (
    WEBHOOK_SECRET,
    Receiver,
    document,
    poll_every_second,
    seed,
)

from connectory.testing import create_test_api, serve
from connectory.testing.instances import PrivatePostgres, PrivateRedis, find_postgres_bin, free_port
from testkit.skips import missing

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docs" / "deploy" / "compose.yaml"


@dataclass
class Service:
    """One Connectory process of the compose file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    url: str | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )

    def kill(self) -> None:
        """kill -9."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    """The running topology, its peers, and an enterprise admin's clients."""

    apis: list[Service]
    workers: list[Service]
    postgres: PrivatePostgres
    receiver: Receiver
    test_api: str
    test_api_app: Any
    token: str
    connectors: dict[str, str]
    endpoint_secret: str = ""
    connection: str = ""
    intake_url: str = ""
    sent: list[str] = field(default_factory=list)

    def client(self, index: int = 0) -> httpx.Client:
        assert self.apis[index].url is not None
        return httpx.Client(
            base_url=self.apis[index].url or "",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    def restart_workers(self) -> None:
        for worker in self.workers:
            worker.start()


def _wait(check: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _services(env: dict[str, str], workdir: Path) -> tuple[list[Service], list[Service]]:
    """The Connectory services of the compose file, as local commands."""
    compose = yaml.safe_load(COMPOSE.read_text())
    apis: list[Service] = []
    workers: list[Service] = []
    for name, service in compose["services"].items():
        command = service.get("command", [])
        if not command or command[0] != "connectory":
            continue  # postgres, redis: private instances instead
        argv = [sys.executable, "-m", "connectory.cli", *command[1:]]
        service_env = {**os.environ, **{k: str(v) for k, v in service["environment"].items()}}
        service_env.update(env)
        url = None
        if command[1] == "serve":
            port = free_port()
            argv[argv.index("--host") + 1] = "127.0.0.1"
            argv[argv.index("--port") + 1] = str(port)
            url = f"http://127.0.0.1:{port}"
        item = Service(name, argv, service_env, workdir / f"{name}.log", url)
        (apis if url else workers).append(item)
    return apis, workers


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if find_postgres_bin() is None:
        missing("initdb/pg_ctl not found: the scale-out tests need a private PostgreSQL")
    try:
        redis_dir = tmp_path_factory.mktemp("redis")
        redis_context = PrivateRedis.started(redis_dir)
        redis = redis_context.__enter__()
    except FileNotFoundError as error:
        missing(str(error))
    workdir = tmp_path_factory.mktemp("cluster")
    receiver = Receiver()
    test_api_app = create_test_api(records=30)
    with (
        PrivatePostgres.started() as postgres,
        serve(test_api_app) as test_api,
        serve(receiver.app()) as receiver_url,
    ):
        receiver.url = f"{receiver_url}/hook"
        database = postgres.url().replace("postgresql://", "postgresql+asyncpg://")
        documents = {"webhooks": document("testapi-webhooks.yaml", test_api, poll_every_second)}
        token, ids = asyncio.run(seed(database, documents))
        env = {
            "CONNECTORY_DATABASE_URL": postgres.url(),
            "CONNECTORY_REDIS_URL": redis.url(),
            "CONNECTORY_ENCRYPTION_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
            "CONNECTORY_EGRESS_ALLOW": "127.0.0.1",
            "CONNECTORY_DATA_DIR": str(workdir),
            "CONNECTORY_DELIVERY_BACKOFF_SECONDS": "0.2",
            "CONNECTORY_DELIVERY_BACKOFF_MAX_SECONDS": "1",
            "CONNECTORY_WORK_LEASE_SECONDS": "3",
        }
        apis, workers = _services(env, workdir)
        assert len(apis) == 2 and len(workers) == 2, "the compose file has 2 APIs, 2 workers"
        for service in [*apis, *workers]:
            service.env["CONNECTORY_PUBLIC_URL"] = apis[0].url or ""
            service.start()
        try:
            for api in apis:
                _wait(lambda api=api: _healthy(api.url), f"{api.name} to start", timeout=60)
            yield Cluster(apis, workers, postgres, receiver, test_api, test_api_app, token, ids)
        finally:
            for service in [*apis, *workers]:
                service.stop()
            redis_context.__exit__(None, None, None)


def _post_signed(url: str, message_id: str, item: dict[str, Any]) -> int:
    """Send a webhook as the test API would; the status (0: no answer)."""
    body = orjson.dumps({"events": [{"id": message_id, "type": "item.updated", "item": item}]})
    now = datetime.now(UTC)
    signature = standardwebhooks.Webhook(WEBHOOK_SECRET).sign(message_id, now, body)
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
    try:
        return httpx.post(url, content=body, headers=headers, timeout=10).status_code
    except httpx.HTTPError:
        return 0


def test_an_event_runs_end_to_end_through_the_topology(cluster: Cluster) -> None:
    with cluster.client(1) as api2:
        endpoint = api2.post("/webhook-endpoints", json={"url": cluster.receiver.url})
        assert endpoint.status_code == 201, endpoint.text
        cluster.endpoint_secret = endpoint.json()["secret"]
    with cluster.client(0) as api1:
        connection = api1.post(
            "/connections",
            json={
                "connector_id": cluster.connectors["webhooks"],
                "name": "scaled",
                "credentials": {"api_key": "test-api-key", "webhook_secret": WEBHOOK_SECRET},
            },
        )
        assert connection.status_code == 201, connection.text
        cluster.connection = connection.json()["id"]
        created = api1.post(
            "/subscriptions", json={"connection_id": cluster.connection, "event": "item_updated"}
        ).json()
    with cluster.client(1) as api2:
        active = _wait(
            lambda: api2.get(f"/subscriptions/{created['id']}").json()["status"] == "active",
            "a worker to subscribe",
        )
        assert active
        cluster.intake_url = api2.get(f"/subscriptions/{created['id']}").json()["intake_url"]
    assert cluster.intake_url.startswith(cluster.apis[0].url or "")
    # The provider notifies api1 (the public URL); a worker handles and delivers.
    assert httpx.post(f"{cluster.test_api}/_admin/touch/4").json()["notified"] == 1
    _wait(lambda: cluster.receiver.requests, "the delivery")
    delivered = cluster.receiver.requests[0]
    payload = standardwebhooks.Webhook(cluster.endpoint_secret).verify(
        delivered.body, delivered.headers
    )
    assert payload["data"]["id"] == 4
    # Intake on the other API process works the same (one store, one queue).
    other = cluster.intake_url.replace(cluster.apis[0].url or "", cluster.apis[1].url or "")
    assert _post_signed(other, "via-api2", {"id": 5}) == 200
    _wait(lambda: len(cluster.receiver.event_ids()) == 2, "the second delivery")
    # The workers wrote their work to the connection's call log (read through either API).
    with cluster.client(0) as api1:
        calls = f"/connections/{cluster.connection}/calls"
        for kind in ("webhook_intake", "webhook_delivery"):
            _wait(
                lambda kind=kind: len(api1.get(calls, params={"kind": kind}).json()["items"]) >= 2,
                f"the workers' {kind} entries",
            )


def test_kill_9_of_every_worker_during_deliveries_loses_nothing(cluster: Cluster) -> None:
    assert cluster.intake_url, "runs after the end-to-end test"
    before = cluster.receiver.event_ids()
    cluster.receiver.delay = 0.3  # deliveries stay in flight
    with cluster.client() as api:
        for n in range(30):
            assert _post_signed(cluster.intake_url, f"burst-{n}", {"id": n}) == 200
        _wait(lambda: len(cluster.receiver.requests) >= len(before) + 3, "deliveries in flight")
        for worker in cluster.workers:
            worker.kill()
        delivered_before_restart = len(cluster.receiver.event_ids() - before)
        cluster.receiver.delay = 0.0
        cluster.restart_workers()
        events = _wait(
            lambda: (
                len(api.get("/events", params={"limit": 1000}).json()["items"]) >= 32
                and api.get("/events", params={"limit": 1000}).json()["items"]
            ),
            "every event stored",
        )
        wanted = {event["id"] for event in events}
        _wait(lambda: wanted <= cluster.receiver.event_ids(), "every event delivered", 90)
        _wait(
            lambda: (
                {d["status"] for d in api.get("/deliveries", params={"limit": 500}).json()}
                == {"succeeded"}
            ),
            "every delivery recorded as succeeded",
        )
    assert delivered_before_restart < 30, "the kill hit the workers mid-way through"


def test_kill_9_during_a_poll_skips_no_change(cluster: Cluster) -> None:
    assert cluster.connection, "runs after the end-to-end test"
    hooks = cluster.test_api_app.state.test_api_webhooks
    with cluster.client() as api:
        created = api.post(
            "/subscriptions",
            json={"connection_id": cluster.connection, "event": "item_changed_polled"},
        ).json()
        _wait(
            lambda: api.get(f"/subscriptions/{created['id']}").json()["status"] == "active",
            "the baseline poll",
        )
        hooks.changes_delay = 2.0
        seen = hooks.changes_requests
        _wait(lambda: hooks.changes_requests > seen, "a poll in flight")
        for worker in cluster.workers:
            worker.kill()
        for record in range(11, 16):
            httpx.post(f"{cluster.test_api}/_admin/touch/{record}", params={"name": f"p{record}"})
        hooks.changes_delay = 0.0
        cluster.restart_workers()

        def polled() -> set[int]:
            items = api.get(
                "/events", params={"subscription_id": created["id"], "limit": 1000}
            ).json()["items"]
            return {item["data"]["id"] for item in items}

        _wait(lambda: {11, 12, 13, 14, 15} <= polled(), "every change made during the kill")


def test_postgres_restart_under_load_the_workers_reconnect(cluster: Cluster) -> None:
    assert cluster.intake_url, "runs after the end-to-end test"
    accepted: list[str] = []
    stop = threading.Event()

    def load() -> None:
        n = 0
        while not stop.is_set():
            message = f"load-{n}"
            if _post_signed(cluster.intake_url, message, {"id": 1000 + n}) == 200:
                accepted.append(message)
                n += 1
            time.sleep(0.05)

    sender = threading.Thread(target=load, daemon=True)
    sender.start()
    _wait(lambda: len(accepted) >= 10, "load before the restart")
    cluster.postgres.restart()
    count = len(accepted)
    _wait(lambda: len(accepted) >= count + 10, "intake accepting again after the restart", 90)
    stop.set()
    sender.join(timeout=30)
    assert all(w.process is not None and w.process.poll() is None for w in cluster.workers)
    with cluster.client() as api:

        def stored() -> int:
            try:
                items = api.get("/events", params={"limit": 1000}).json()["items"]
            except (httpx.HTTPError, ValueError):
                return 0
            return sum(1 for item in items if item["data"]["id"] >= 1000)

        _wait(lambda: stored() >= len(accepted), "every accepted webhook handled", 90)
        items = api.get("/events", params={"limit": 1000}).json()["items"]
    wanted = {item["id"] for item in items}
    _wait(lambda: wanted <= cluster.receiver.event_ids(), "every event delivered", 90)
