"""The canary sweep: set every secret to a unique marker, use everything, find no marker.

Searched: every API response (bodies and headers), every log record, stored rows of every
table (the call log's excerpts included), error messages; each marker also in base64 and
URL-encoded forms. The assertions report where a marker was found, never the text around
it, so a failing run does not leak it into the test report either.
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from sqlalchemy import text

from connectory.settings import Settings
from connectory.spec.loader import read_connector_data
from connectory.store import Base, create_engine, create_sessionmaker
from connectory.testing import create_test_api, serve

from .support import World

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "testapi" / "connector.yaml"


def forms(marker: str) -> set[str]:
    raw = marker.encode()
    return {
        marker,
        quote(marker, safe=""),
        quote_plus(marker),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


class Sweep:
    """Collects every text the sweep produced, labelled by where it came from."""

    def __init__(self, markers: list[str]) -> None:
        self.needles = {form for marker in markers for form in forms(marker)}
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, content: str) -> None:
        self.texts.append((where, content))

    def response(self, where: str, response: httpx.Response) -> httpx.Response:
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.add(f"{where} ({response.status_code})", headers + "\n" + response.text)
        return response

    def hits(self) -> list[str]:
        """Where a marker (in any form) was found; never the content itself."""
        return [where for where, content in self.texts if any(n in content for n in self.needles)]


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve(create_test_api(records=120)) as url:
        yield url


async def test_no_secret_escapes(
    api: httpx.AsyncClient,
    world: World,
    settings: Settings,
    upstream: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    api_key = f"canary-key-{uuid.uuid4().hex}/+= x"
    signing = f"canary-param-{uuid.uuid4().hex}&?#"
    # Short canaries (a PIN; a sensitive default): too short to be searched for in text, so
    # only redaction by location keeps them out. Their characters never occur in ids, hex or
    # base64, so a hit is a leak, not chance.
    pin = "~7!"
    sealed_default = "^4|"
    sweep = Sweep([api_key, signing, pin, sealed_default])
    document: dict[str, Any] = read_connector_data(EXAMPLE)
    document.update(base_url=upstream, slug="canary-api", test_operation="list_protected_items")
    document["parameters"]["signing_secret"] = {"type": "password", "required": True}
    document["parameters"]["seal"] = {"type": "password", "default": sealed_default}
    document["auth"]["credential_schema"]["pin"] = {"type": "password"}
    document["headers"]["X-Signature"] = "{{ connector_parameters.signing_secret }}"
    document["headers"]["X-Pin"] = "{{ credentials.pin }}"
    document["headers"]["X-Seal"] = "seal {{ connector_parameters.seal }}"
    admin, platform = world.auth("a_admin"), world.auth("platform")
    # Through the API, so the sensitive default is stored as the server stores it.
    created_connector = sweep.response(
        "create connector", await api.post("/connectors", json=document, headers=platform)
    )
    assert created_connector.status_code == 201, created_connector.status_code
    connector_id = created_connector.json()["id"]
    sweep.response(
        "publish",
        await api.post(f"/connectors/{connector_id}/publish", json={}, headers=platform),
    )

    sweep.response(
        "set parameters",
        await api.put(
            f"/connectors/{connector_id}/parameters",
            json={"values": {"signing_secret": signing, "tenant": "acme"}},
            headers=platform,
        ),
    )
    sweep.response(
        "get parameters", await api.get(f"/connectors/{connector_id}/parameters", headers=platform)
    )
    created = sweep.response(
        "create connection",
        await api.post(
            "/connections",
            json={
                "connector_id": connector_id,
                "name": "Canary",
                "credentials": {"api_key": api_key, "pin": pin},
            },
            headers=admin,
        ),
    )
    assert created.status_code == 201
    cid = created.json()["id"]
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"/connections/{cid}", None),
        ("GET", "/connections", None),
        ("POST", f"/connections/{cid}/test", None),
        ("POST", f"/connections/{cid}/operations/echo_headers", {"params": {"X-Request-Id": "r1"}}),
        ("POST", f"/connections/{cid}/operations/echo_query", {"params": {"q": "x"}}),
        ("POST", f"/connections/{cid}/operations/get_status", {"params": {"code": 500}}),
        ("POST", f"/connections/{cid}/operations/get_item", {"params": {"id": "nope"}}),
        ("POST", f"/connections/{cid}/operations/list_page_items?all_pages=true", None),
        ("PUT", f"/connections/{cid}", {"credentials": {"api_key": "********", "pin": "********"}}),
        ("POST", f"/connections/{cid}/upgrade", {}),
        ("GET", "/openapi.json", None),
    ]
    for method, path, body in calls:
        sweep.response(
            f"{method} {path}", await api.request(method, path, json=body, headers=admin)
        )
    # The builder's side: the connector as every reader sees it, and its test panel.
    draft_run = {"credentials": {"api_key": api_key, "pin": pin}}
    builder_calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"/connectors/{connector_id}", None),
        ("GET", f"/connectors/{connector_id}/versions/1.0.0", None),
        ("GET", f"/connectors/{connector_id}/export", None),
        (
            "POST",
            f"/connectors/{connector_id}/draft/run",
            {**draft_run, "operation": "echo_headers", "params": {"X-Request-Id": "r2"}},
        ),
        (
            "POST",
            f"/connectors/{connector_id}/draft/run",
            {**draft_run, "operation": "echo_query", "params": {"q": "y"}},
        ),
        (
            "POST",
            f"/connectors/{connector_id}/draft/run",
            {**draft_run, "operation": "list_page_items", "all_pages": True, "max_pages": 2},
        ),
        (
            "POST",
            f"/connectors/{connector_id}/draft/run",
            {**draft_run, "operation": "get_status", "params": {"code": 500}},
        ),
    ]
    for method, path, body in builder_calls:
        sweep.response(
            f"{method} {path}", await api.request(method, path, json=body, headers=platform)
        )
    for user in ("a_viewer", "b_viewer"):
        sweep.response(
            f"GET connector as {user}",
            await api.get(f"/connectors/{connector_id}", headers=world.auth(user)),
        )
    # Wrong credentials: the upstream's refusal must not quote them back.
    sweep.response(
        "wrong key",
        await api.put(
            f"/connections/{cid}",
            json={"credentials": {"api_key": api_key + "-wrong"}},
            headers=admin,
        ),
    )
    sweep.response("test wrong key", await api.post(f"/connections/{cid}/test", headers=admin))

    # The call log: every entry with its excerpts, listed and one by one; the health history.
    logged = sweep.response(
        "call log",
        await api.get(f"/connections/{cid}/calls?excerpts=true&limit=500", headers=admin),
    ).json()["items"]
    assert len(logged) >= 7, len(logged)  # two tests, four calls, one stream
    for item in logged:
        sweep.response(
            f"call {item['kind']} {item['operation']}",
            await api.get(f"/connections/{cid}/calls/{item['id']}", headers=admin),
        )
    echo_entries = [item for item in logged if item["operation"] == "echo_headers"]
    assert echo_entries and all(
        "[REDACTED]" in item["request_excerpt"] and "[REDACTED]" in item["response_excerpt"]
        for item in echo_entries
    )
    sweep.response(
        "health history", await api.get(f"/connections/{cid}/health-history", headers=admin)
    )

    for record in caplog.records:
        sweep.add(f"log {record.name}:{record.levelname}", record.getMessage())
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            for table in Base.metadata.sorted_tables:
                rows = (await session.execute(text(f"SELECT * FROM {table.name}"))).all()
                sweep.add(f"table {table.name}", "\n".join(repr(tuple(row)) for row in rows))
    finally:
        await engine.dispose()

    assert len(sweep.texts) > 30
    # The short canaries really went out (so finding none of them means something).
    echoed = [text for where, text in sweep.texts if "echo_headers" in where]
    assert echoed and all("[REDACTED]" in text for text in echoed)
    assert sweep.hits() == []
