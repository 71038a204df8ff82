"""Events end to end: Connectory, the test API (a real webhook sender) and a receiver, on loopback.

``harness`` starts Connectory on the embedded default (SQLite, worker in process) on a free
port with a fast delivery schedule, the project's test API, and a receiver that records what
endpoints get; it seeds an enterprise with an admin token and publishes the example event
connectors pointed at the test API.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectory.api import create_app
from connectory.services.tokens import issue_token
from connectory.settings import Settings
from connectory.store import (
    Enterprise,
    User,
    create_engine,
    create_sessionmaker,
    migrate,
)
from connectory.testing import create_test_api, serve
from connectory.testing.instances import free_port
from testkit.connectors import add_published_connector

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "events"
WEBHOOK_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records POSTs; answers ``status`` (a list: one per request, the last repeats)."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=lambda: [200])
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Seconds each answer waits (keeps deliveries in flight).
    delay: float = 0.0

    def app(self) -> Starlette:
        async def receive(request: Request) -> Response:
            body = await request.body()
            if self.delay:
                await asyncio.sleep(self.delay)
            with self.lock:
                self.requests.append(Received(dict(request.headers), body))
                status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            return Response(status_code=status)

        return Starlette(routes=[Route("/hook", receive, methods=["POST"])])

    def event_ids(self) -> set[str]:
        """Ids of the events received (each at least once)."""
        with self.lock:
            return {orjson.loads(r.body)["id"] for r in self.requests}

    def ok_bodies(self) -> list[bytes]:
        """Bodies in the order received (every try, failed ones included)."""
        with self.lock:
            return [r.body for r in self.requests]


@dataclass
class Harness:
    """A running Connectory, test API and receiver, and an enterprise admin's client."""

    url: str
    test_api: str
    test_api_app: Any
    receiver: Receiver
    client: httpx.Client
    settings: Settings
    connectors: dict[str, str]

    def wait_for(self, check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
        """Poll *check* until it returns something truthy (a bound, not an assertion on time)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def connect(self, connector: str, **credentials: str) -> str:
        """Create a connection to one of the published example connectors; return its id."""
        response = self.client.post(
            "/connections",
            json={
                "connector_id": self.connectors[connector],
                "name": connector,
                "credentials": credentials,
                "config": {"account_id": "acct-1"},
            },
        )
        assert response.status_code == 201, response.text
        connection_id: str = response.json()["id"]
        return connection_id

    def subscription(self, subscription_id: str) -> dict[str, Any]:
        """A subscription as the API shows it."""
        response = self.client.get(f"/subscriptions/{subscription_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def touch(self, record_id: int, name: str = "changed") -> dict[str, Any]:
        """Change a record of the test API (it notifies its webhooks)."""
        response = httpx.post(f"{self.test_api}/_admin/touch/{record_id}", params={"name": name})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def registrations(self) -> list[dict[str, Any]]:
        """The test API's webhook registrations."""
        response = httpx.get(
            f"{self.test_api}/webhooks", headers={"X-API-Key": "Token test-api-key"}
        )
        result: list[dict[str, Any]] = response.json()
        return result


def contacts_document(base_url: str) -> dict[str, Any]:
    """examples/testapi/connector.yaml (with its collection events), polling every second."""
    from connectory.spec.loader import read_connector_data

    data: dict[str, Any] = read_connector_data(ROOT / "examples" / "testapi" / "connector.yaml")
    data["base_url"] = base_url
    poll_every_second(data)
    return data


def document(
    name: str, base_url: str, change: Callable[[dict[str, Any]], None] | None
) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    document["base_url"] = base_url
    if change is not None:
        change(document)
    return document


async def seed(
    database_url: str, documents: dict[str, dict[str, Any]]
) -> tuple[str, dict[str, str]]:
    engine = create_engine(database_url)
    await migrate(engine)
    try:
        async with create_sessionmaker(engine)() as session:
            enterprise = Enterprise(name="Events Inc")
            session.add(enterprise)
            await session.flush()
            user = User(
                email="events@example.test",
                name="events",
                role="enterprise_admin",
                enterprise_id=enterprise.id,
            )
            session.add(user)
            await session.flush()
            token = (await issue_token(session, user, name="test")).secret
            ids: dict[str, str] = {}
            for key, document in documents.items():
                ids[key] = await add_published_connector(session, document)
            await session.commit()
            return token, ids
    finally:
        await engine.dispose()


async def publish(
    database_url: str, document: dict[str, Any], files: dict[str, str] | None = None
) -> str:
    """Store *document* (and its code *files*) as a published catalogue connector."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            connector_id = await add_published_connector(session, document, files=files)
            await session.commit()
            return connector_id
    finally:
        await engine.dispose()


def poll_every_second(document: dict[str, Any]) -> None:
    for event in document.get("events", []):
        block = event.get("poll") or event.get("collection")
        if block is not None:
            block["interval_seconds"] = 1


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """The endpoint that receives deliveries."""
    recorder = Receiver()
    with serve(recorder.app()) as url:
        recorder.url = f"{url}/hook"
        yield recorder


@pytest.fixture
def harness(tmp_path: Path, receiver: Receiver) -> Iterator[Harness]:
    """Connectory (SQLite, worker in process), the test API and a receiver."""
    test_api_app = create_test_api(records=20)
    with serve(test_api_app) as test_api:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'connectory.db'}",
            data_dir=tmp_path,
            egress_allow="127.0.0.1",
            public_url=url,
            delivery_backoff_seconds=0.05,
            delivery_backoff_max_seconds=0.2,
            delivery_max_attempts=3,
        )
        documents = {
            "webhooks": document("testapi-webhooks.yaml", test_api, poll_every_second),
            "global": document("testapi-global-webhook.yaml", test_api, None),
            "testapi": contacts_document(test_api),
        }
        token, ids = asyncio.run(seed(settings.database_url, documents))
        with serve(create_app(settings), port=port, lifespan="on") as served:
            assert served == url
            with httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as client:
                yield Harness(url, test_api, test_api_app, receiver, client, settings, ids)
