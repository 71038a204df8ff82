"""What the tests of the example CRM connector share (test_records, test_mcp, test_call_log).

Fixtures, imported by name into those modules (and listed in their ``__all__``, so that ruff
keeps the imports): ``upstream_app`` and ``upstream``, the project's test API on loopback (one
per module); ``connection``, enterprise A's connection to examples/testapi/connector.yaml
pointed at it, with the test API's key. test_call_log uses :func:`connect` and
:func:`document_on` with an upstream of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from connectory.settings import Settings
from connectory.spec.loader import read_connector_data
from connectory.testing import create_test_api, serve

from .support import World, insert_published_connector

API_KEY = "test-api-key"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "testapi" / "connector.yaml"


@pytest.fixture(scope="module")
def upstream_app() -> Starlette:
    """The test API (ten records of each kind)."""
    return create_test_api(records=10)


@pytest.fixture(scope="module")
def upstream(upstream_app: Starlette) -> Iterator[str]:
    """The test API's URL."""
    with serve(upstream_app) as url:
        yield url


def document_on(upstream: str, **fields: Any) -> dict[str, Any]:
    """The example CRM connector pointed at *upstream*, with *fields* changed."""
    document: dict[str, Any] = read_connector_data(EXAMPLE)
    document.update(base_url=upstream, **fields)
    return document


async def connect(
    api: httpx.AsyncClient,
    world: World,
    settings: Settings,
    document: dict[str, Any],
    api_key: str = API_KEY,
) -> str:
    """Publish *document* and create enterprise A's connection to it; return its id."""
    connector_id = await insert_published_connector(settings.database_url, document)
    created = await api.post(
        "/connections",
        json={"connector_id": connector_id, "name": "CRM", "credentials": {"api_key": api_key}},
        headers=world.auth("a_admin"),
    )
    assert created.status_code == 201, created.text
    connection_id: str = created.json()["id"]
    return connection_id


@pytest.fixture
async def connection(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: str
) -> str:
    """Enterprise A's connection to the example CRM connector."""
    return await connect(api, world, settings, document_on(upstream))


def contact_writes(app: Starlette) -> int:
    """Requests the test API got on /crm/contacts (a refused write must not add one)."""
    return int(app.state.test_api.stats.by_path.get("/crm/contacts", 0))
