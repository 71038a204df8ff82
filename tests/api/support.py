"""Types shared by the API tests (fixtures live in conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx


@dataclass
class Server:
    """A running app: its HTTP client and the first admin's token."""

    client: httpx.AsyncClient
    app: object
    admin_token: str


@dataclass
class World:
    """Two enterprises and a user of every role; ``auth(name)`` gives a user's headers.

    Users: ``platform`` (platform admin), ``a_admin`` (enterprise admin with SDK access),
    ``a_plain_admin`` (enterprise admin without SDK access), ``a_viewer``, ``b_admin``
    (SDK access), ``b_viewer``. Enterprises: ``a`` and ``b``.
    """

    enterprises: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, user: str) -> dict[str, str]:
        """Authorization headers of *user*."""
        return {"Authorization": f"Bearer {self.tokens[user]}"}


async def insert_published_connector(
    database_url: str,
    document: dict[str, object],
    *,
    enterprise_id: str | None = None,
    version: str = "1.0.0",
) -> str:
    """Store *document* as a published connector directly (not through the API under test).

    Returns the connector id. ``enterprise_id`` None puts it in the catalogue.
    """
    from connectory.store import create_engine, create_sessionmaker
    from testkit.connectors import add_published_connector

    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            connector_id = await add_published_connector(
                session, document, enterprise_id=enterprise_id, version=version
            )
            await session.commit()
            return connector_id
    finally:
        await engine.dispose()


async def add_published_version(
    database_url: str, connector_id: str, document: dict[str, object], version: str
) -> None:
    """Store another published version of a connector directly."""
    from sqlalchemy import select

    from connectory.store import Connector, create_engine, create_sessionmaker
    from testkit.connectors import published_version

    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            session.add(published_version(connector_id, document, version))
            connector = await session.scalar(select(Connector).where(Connector.id == connector_id))
            assert connector is not None
            connector.latest_version = version
            await session.commit()
    finally:
        await engine.dispose()
