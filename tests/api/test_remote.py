"""The Python API and the CLI against a server's stored connection (--connection)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import orjson
import pytest
from click.testing import Result
from typer.testing import CliRunner

from connectory.api import create_app
from connectory.cli.app import app as cli
from connectory.errors import InputError, NotFound
from connectory.remote import Server as RemoteServer
from connectory.settings import Settings
from connectory.testing import create_test_api, serve

from .support import Server, World, insert_published_connector
from .test_connections import document_for


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve(create_test_api(records=120)) as url:
        yield url


@pytest.fixture
async def connection_id(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: str
) -> str:
    connector_id = await insert_published_connector(settings.database_url, document_for(upstream))
    created = await api.post(
        "/connections",
        json={
            "connector_id": connector_id,
            "name": "R",
            "credentials": {"api_key": "test-api-key"},
        },
        headers=world.auth("a_admin"),
    )
    return str(created.json()["id"])


async def test_python_api(server: Server, world: World, connection_id: str) -> None:
    transport = httpx.ASGITransport(app=server.app)  # type: ignore[arg-type]
    async with RemoteServer(
        "http://server", world.tokens["a_viewer"], transport=transport
    ) as remote:
        connection = remote.connection(connection_id)
        assert (await connection.test())["status"] == "ok"
        result = await connection.call("get_item", {"id": 3})
        assert result.ok and result.body["id"] == 3
        ids = [record["id"] async for record in connection.iter_records("list_cursor_items")]
        assert sorted(ids) == list(range(1, 121))
        with pytest.raises(InputError):
            await connection.call("get_item", {"id": "three"})
        with pytest.raises(NotFound):
            await remote.connection("0" * 32).call("get_item", {"id": 1})
    async with RemoteServer("http://server", world.tokens["b_admin"], transport=transport) as other:
        with pytest.raises(NotFound):
            await other.connection(connection_id).call("get_item", {"id": 1})


async def test_cli_against_a_running_server(
    settings: Settings, world: World, connection_id: str
) -> None:
    runner = CliRunner()

    def invoke(args: list[str], env: dict[str, str]) -> Result:
        return runner.invoke(cli, args, env=env)

    # A second server process would share the database the same way: a fresh app on a port.
    with serve(create_app(settings)) as url:
        env = {"CONNECTORY_URL": url, "CONNECTORY_TOKEN": world.tokens["a_admin"]}
        one = await asyncio.to_thread(
            invoke, ["call", "get_item", "--connection", connection_id, "-p", "id=5"], env
        )
        assert one.exit_code == 0, one.output
        assert orjson.loads(one.stdout)["id"] == 5
        many = await asyncio.to_thread(
            invoke, ["call", "list_page_items", "--connection", connection_id, "--all-pages"], env
        )
        assert many.exit_code == 0, many.output
        assert len(many.stdout.splitlines()) == 120
        missing = await asyncio.to_thread(
            invoke, ["call", "get_item", "--connection", "0" * 32], env
        )
        assert missing.exit_code == 1
        assert "not found" in missing.output
        upstream_error = await asyncio.to_thread(
            invoke, ["call", "get_status", "--connection", connection_id, "-p", "code=404"], env
        )
        assert upstream_error.exit_code == 3
        no_token = await asyncio.to_thread(
            invoke, ["call", "get_item", "--connection", connection_id], {"CONNECTORY_URL": url}
        )
        assert no_token.exit_code == 1
        assert "CONNECTORY_TOKEN" in no_token.output
