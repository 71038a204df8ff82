"""Published connectors stored directly (not through the API under test)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from connectory.store import Connector, ConnectorVersion


def published_version(
    connector_id: str,
    document: dict[str, Any],
    version: str = "1.0.0",
    files: dict[str, str] | None = None,
) -> ConnectorVersion:
    """A published (frozen) *version* of a connector: *document* and its code *files*."""
    major, minor, patch = (int(part) for part in version.split("."))
    return ConnectorVersion(
        connector_id=connector_id,
        version=version,
        major=major,
        minor=minor,
        patch=patch,
        is_draft=False,
        document=document,
        files=files or {},
    )


async def add_published_connector(
    session: AsyncSession,
    document: dict[str, Any],
    *,
    enterprise_id: str | None = None,
    version: str = "1.0.0",
    files: dict[str, str] | None = None,
) -> str:
    """Add *document* as a connector with one published *version*; its id (not committed).

    ``enterprise_id`` None puts it in the catalogue.
    """
    connector = Connector(
        slug=str(document["slug"]),
        scope="enterprise" if enterprise_id else "catalogue",
        enterprise_id=enterprise_id,
        owner_key=enterprise_id or "catalogue",
        name=str(document["name"]),
        type=str(document.get("type", "General")),
        latest_version=version,
    )
    session.add(connector)
    await session.flush()
    session.add(published_version(connector.id, document, version, files))
    await session.flush()
    return connector.id
