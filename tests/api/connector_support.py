"""Helpers for the connector API tests: documents, archives, direct database access."""

from __future__ import annotations

import copy
import io
import stat
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from connectory.store import (
    Connection,
    Connector,
    ConnectorVersion,
    create_engine,
    create_sessionmaker,
)

from .support import World

#: Where the example connector folders are (examples/ at the repository's root).
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example_files(folder: Path) -> dict[str, str]:
    """The JavaScript files of an example connector *folder*, by path relative to it."""
    return {
        path.relative_to(folder).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(folder.rglob("*.js"))
    }


def example_yaml(folder: Path, base_url: str) -> str:
    """The ``connector.yaml`` of an example *folder*, pointed at *base_url*."""
    text = (folder / "connector.yaml").read_text(encoding="utf-8")
    # The examples point at the test API's default address.
    return text.replace("http://127.0.0.1:8765", base_url)


WEATHER: dict[str, Any] = {
    "name": "Weather",
    "slug": "weather",
    "type": "General",
    "description": "Weather data",
    "base_url": "https://api.weather.test",
    "parameters": {
        "region": {"label": "Region", "type": "string", "default": "eu"},
        "partner_secret": {"type": "password", "default": "s3cr3t-partner"},
    },
    "auth": {
        "auth_type": "api_key",
        "credential_schema": {
            "api_key": {
                "label": "API Key",
                "type": "password",
                "required": True,
                "sensitive": True,
                "default": "demo-key-123",
            },
            "account": {"label": "Account", "type": "string", "default": "main"},
        },
        "header_name": "X-API-Key",
    },
    "operations": [
        {
            "name": "get_current_weather",
            "method": "GET",
            "path": "/weather",
            "parameters": [
                {"name": "q", "location": "query", "type": "string", "required": True},
                {"name": "units", "location": "query", "type": "string", "default": "metric"},
            ],
        },
        {"name": "list_stations", "method": "GET", "path": "/stations"},
    ],
}

WEATHER_YAML = """\
# the weather connector, as YAML
name: Weather
slug: weather
base_url: https://api.weather.test
operations:
  - operation: get_current_weather
    path: /weather
    parameters:
      - {name: q, location: query, required: true}
"""


def weather(**overrides: Any) -> dict[str, Any]:
    """A fresh copy of the weather document with top-level fields replaced."""
    document = copy.deepcopy(WEATHER)
    document.update(overrides)
    return document


async def create(
    api: httpx.AsyncClient, world: World, user: str, document: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Create a connector through the API and return its JSON."""
    response = await api.post("/connectors", json=document or weather(), headers=world.auth(user))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def publish(
    api: httpx.AsyncClient, world: World, user: str, connector_id: str, **body: Any
) -> dict[str, Any]:
    """Publish the draft and return the JSON answer."""
    response = await api.post(
        f"/connectors/{connector_id}/publish", json=body, headers=world.auth(user)
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def save_draft(
    api: httpx.AsyncClient, world: World, user: str, connector_id: str, document: dict[str, Any]
) -> httpx.Response:
    """PUT the draft."""
    return await api.put(
        f"/connectors/{connector_id}/draft", json=document, headers=world.auth(user)
    )


class Database:
    """Direct access to the test server's database (not through the API under test)."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url

    async def snapshot(self) -> list[tuple[Any, ...]]:
        """Every connector and version row, as comparable tuples."""
        engine = create_engine(self.url)
        try:
            async with create_sessionmaker(engine)() as session:
                connectors = (await session.scalars(select(Connector).order_by(Connector.id))).all()
                versions = (
                    await session.scalars(select(ConnectorVersion).order_by(ConnectorVersion.id))
                ).all()
                return [
                    *(
                        ("c", c.id, c.slug, c.name, c.latest_version, c.deleted_at, c.scope)
                        for c in connectors
                    ),
                    *(
                        ("v", v.id, v.version, v.is_draft, v.document, v.files, v.changelog)
                        for v in versions
                    ),
                ]
        finally:
            await engine.dispose()

    async def counts(self) -> tuple[int, int]:
        """How many connector and connector version rows there are."""
        rows = await self.snapshot()
        return sum(1 for r in rows if r[0] == "c"), sum(1 for r in rows if r[0] == "v")

    async def add_connection(self, connector_id: str, enterprise_id: str) -> str:
        """Insert a live connection to the connector's latest version; return its id."""
        engine = create_engine(self.url)
        try:
            async with create_sessionmaker(engine)() as session:
                version = await session.scalar(
                    select(ConnectorVersion).where(
                        ConnectorVersion.connector_id == connector_id,
                        ConnectorVersion.is_draft.is_(False),
                    )
                )
                assert version is not None
                connection = Connection(
                    enterprise_id=enterprise_id,
                    connector_id=connector_id,
                    version_id=version.id,
                    name="a connection",
                )
                session.add(connection)
                await session.commit()
                return connection.id
        finally:
            await engine.dispose()


def make_zip(
    files: dict[str, str | bytes], *, symlinks: dict[str, str] | None = None, level: int = 6
) -> bytes:
    """A zip archive of *files* (and *symlinks*: name -> target)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def make_tar_gz(files: dict[str, str | bytes], *, symlinks: dict[str, str] | None = None) -> bytes:
    """A .tar.gz archive of *files* (and *symlinks*: name -> target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return buffer.getvalue()


FOLDER: dict[str, str | bytes] = {
    "connector.yaml": "name: Folder Weather\nslug: folder-weather\n"
    "base_url: https://api.weather.test\n",
    "auth.yaml": "auth_type: bearer\n"
    "credential_schema:\n  token: {type: password, required: true}\n",
    "operations/get_weather.yaml": "operation: get_weather\npath: /weather\n",
    "hooks/pre_request.js": "export default function (request) { return request; }\n",
}
