"""Collections over software we did not write: json-server 0.17 and 1.0 beta.

Each test starts its own json-server (on a copy of the seed database), so the records it
creates and deletes never reach the shared instances the paging tests count on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectory.errors import NotSupported, RecordInvalid, RecordNotFound
from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec, load_connector_data

pytestmark = [pytest.mark.integration, pytest.mark.peers]

DATA = Path(__file__).resolve().parent / "data"
ALL_IDS = [str(number) for number in range(1, 58)]


def spec_for(version: str) -> ConnectorSpec:
    document: dict[str, Any] = yaml.safe_load((DATA / f"json-server-{version}.yaml").read_text())
    extra = yaml.safe_load((DATA / "collections" / "json-server.yaml").read_text())
    document["schemas"] = {"Item": extra["Item"]}
    document["collections"] = [extra[f"items_{version}"]]
    return load_connector_data(document)


@pytest.fixture(params=["017", "1"], name="server")
def _server(
    request: pytest.FixtureRequest, fresh_json_server: Callable[[str], str]
) -> tuple[str, str]:
    version = str(request.param)
    return version, fresh_json_server(version)


async def test_every_method(server: tuple[str, str]) -> None:
    version, url = server
    async with ConnectorClient(spec_for(version), base_url=url) as client:
        items = client.collection("items")
        ids = [record.id async for record in items.list()]
        assert ids == ALL_IDS
        first = await items.list_page()
        assert len(first.records) == 10 and first.cursor
        second = await items.list_page(cursor=first.cursor)
        assert [r.id for r in second.records] == ALL_IDS[10:20]

        found = await items.find_by_id("7")
        assert found.name == "Item 0007" and found.updated_at == "2024-01-01T07:07:00Z"
        with pytest.raises(RecordNotFound):
            await items.find_by_id("9999")

        matched = await items.match({"email": "user5@example.test"})
        assert matched is not None and matched.id == "5"
        assert await items.match({"email": "nobody@example.test"}) is None

        results = await items.search("Item 004")
        assert {r.id for r in results} >= {"40", "41", "49"}

        created = await items.create({"name": "Created", "email": "new@example.test"})
        assert created.id and created.fields["name"] == "Created"
        updated = await items.update(created.id, {"status": "active"})
        assert updated.fields["status"] == "active" and updated.fields["name"] == "Created"
        await items.delete(created.id)
        with pytest.raises(RecordNotFound):
            await items.find_by_id(created.id)
        with pytest.raises(RecordNotFound):
            await items.update("9999", {"status": "active"})

        with pytest.raises(RecordInvalid, match="'id' is read-only"):
            await items.create({"id": "1", "name": "Clash"})
        with pytest.raises(RecordInvalid, match="'name' is required"):
            await items.create({"email": "x@example.test"})
        assert [record.id async for record in items.list()] == ALL_IDS  # nothing was written


async def test_filters(server: tuple[str, str]) -> None:
    version, url = server
    async with ConnectorClient(spec_for(version), base_url=url) as client:
        items = client.collection("items")
        if version == "1":
            with pytest.raises(NotSupported, match="cannot filter by 'status'"):
                await items.list_page(filters={"status": "paused"})
            return
        paused = [r async for r in items.list(filters={"status": "paused"})]
        assert paused and {r.fields["status"] for r in paused} == {"paused"}
        recent = [r async for r in items.list(filters={"updated_since": "2024-01-03T00:00:00Z"})]
        assert [r.id for r in recent] == ALL_IDS[47:]
