"""Collections over the project's test API, in process (httpx.ASGITransport)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec, load_connector
from connectory.testing import create_test_api

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
BASE_URL = "http://testapi.local"


def load_testapi() -> ConnectorSpec:
    return load_connector(EXAMPLES / "testapi" / "connector.yaml")


def load_inline() -> ConnectorSpec:
    return load_connector(EXAMPLES / "testapi-inline-requests.yaml")


def load_javascript() -> ConnectorSpec:
    return load_connector(EXAMPLES / "testapi-javascript-collections")


@asynccontextmanager
async def connect(
    spec: ConnectorSpec, app: Starlette | None = None, **options: Any
) -> AsyncIterator[ConnectorClient]:
    app = app or create_test_api(records=10)
    options.setdefault("connection_key", "test-connection")
    async with ConnectorClient(
        spec,
        credentials={"api_key": "test-api-key"},
        base_url=BASE_URL,
        transport=httpx.ASGITransport(app=app),
        **options,
    ) as client:
        yield client


def contact_requests(app: Starlette) -> int:
    """Requests that reached the contacts resource (any method, custom fields excluded)."""
    counts = app.state.test_api.stats.by_path
    return sum(n for path, n in counts.items() if path.startswith("/crm/") and "custom" not in path)
