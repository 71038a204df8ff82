"""What the streamed-read tests share (test_connection_streams, test_records_streams).

Fixtures, imported by name into those modules (and listed in their ``__all__``, so that ruff
keeps the imports): ``settings``, the test server's settings with keep-alive lines every
0.05 s; ``upstream``, a scripted upstream on loopback. :func:`paged_connection` publishes a
connector whose ``list_items`` reads ``/p1`` and follows ``next`` links, and connects to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectory.settings import Settings
from connectory.testing.faulty import FaultyUpstream

from .support import World, insert_published_connector

#: The key of a keep-alive line.
KEEPALIVE = "_connectory_keepalive"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The test server's settings, with keep-alive lines every 0.05 s."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        egress_allow="127.0.0.1",
        stream_keepalive_interval=0.05,
    )


@pytest.fixture
def upstream() -> Iterator[FaultyUpstream]:
    """A scripted upstream on loopback."""
    with FaultyUpstream() as server:
        yield server


async def paged_connection(
    api: httpx.AsyncClient,
    world: World,
    settings: Settings,
    upstream: FaultyUpstream,
    name: str,
    **document: Any,
) -> str:
    """Publish connector *name* (``list_items``: ``/p1``, then next links; more *document*
    keys as given) and create enterprise A's connection to it; return the connection's id."""
    operations = [
        {
            "name": "list_items",
            "path": "/p1",
            "record_selector": "data",
            "pagination": {"type": "next_url"},
        }
    ]
    full = {"name": name, "slug": name.lower().replace(" ", "-"), "base_url": upstream.url()}
    connector_id = await insert_published_connector(
        settings.database_url, {**full, "operations": operations, **document}
    )
    created = await api.post(
        "/connections",
        json={"connector_id": connector_id, "name": name, "credentials": {}},
        headers=world.auth("a_admin"),
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])
