"""The OpenAPI description kept with each connector version (its own cap, compressed).

A connector imported from a description keeps the description with the draft it created
(the seed: "having API specification as a part of a connector"), outside the connector's own
size limit: it is stored gzip-compressed in its own table, capped at :data:`MAX_STORED_BYTES`
compressed, served by ``GET /connectors/{id}/openapi`` and added to an export on request.
Publishing freezes it with the version; a draft started from a version carries it over; a
re-import replaces it and reports how the new description drifted from it.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import InvalidRequest
from connectory.store.models import OpenAPIDescription

#: Largest description kept, compressed (GitHub's 13 MB description is about 1 MB gzipped).
MAX_STORED_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class StoredDescription:
    """A description as kept: its bytes (decompressed), media type and origin."""

    content: bytes
    media_type: str
    source: str | None
    size: int
    sha256: str

    @property
    def filename(self) -> str:
        """The name an export gives it."""
        return "openapi.json" if self.media_type.endswith("json") else "openapi.yaml"


def media_type_of(raw: bytes) -> str:
    """``application/json`` when *raw* is JSON (it starts with ``{``), else YAML."""
    return "application/json" if raw.lstrip()[:1] == b"{" else "application/yaml"


async def store_description(
    session: AsyncSession, version_id: str, raw: bytes, source: str | None
) -> None:
    """Keep *raw* as the description of the version *version_id* (replacing any).

    Raises:
        InvalidRequest: the description is over the cap even compressed.
    """
    packed = gzip.compress(raw, compresslevel=6, mtime=0)
    if len(packed) > MAX_STORED_BYTES:
        raise InvalidRequest(
            f"the description is {len(packed) / 1024 / 1024:.1f} MiB compressed; descriptions "
            f"are kept up to {MAX_STORED_BYTES // 1024 // 1024} MiB compressed: import without "
            "keeping it (keep_description=false)"
        )
    await session.execute(
        delete(OpenAPIDescription).where(OpenAPIDescription.version_id == version_id)
    )
    session.add(
        OpenAPIDescription(
            version_id=version_id,
            media_type=media_type_of(raw),
            source=source[:2000] if source else None,
            content=packed,
            size=len(raw),
            sha256=hashlib.sha256(raw).hexdigest(),
        )
    )


async def load_description(session: AsyncSession, version_id: str) -> StoredDescription | None:
    """Return the description kept with a version, or None."""
    row = await session.scalar(
        select(OpenAPIDescription).where(OpenAPIDescription.version_id == version_id)
    )
    if row is None:
        return None
    return StoredDescription(
        gzip.decompress(row.content), row.media_type, row.source, row.size, row.sha256
    )


async def carry_description(session: AsyncSession, from_version: str, to_version: str) -> None:
    """Copy the description of one version to another (a draft started from a version)."""
    row = await session.scalar(
        select(OpenAPIDescription).where(OpenAPIDescription.version_id == from_version)
    )
    if row is None:
        return
    session.add(
        OpenAPIDescription(
            version_id=to_version,
            media_type=row.media_type,
            source=row.source,
            content=row.content,
            size=row.size,
            sha256=row.sha256,
        )
    )
