"""A connection's OAuth2 grant in the store: tokens encrypted, expiry and state in clear.

The tokens are secrets of owner :data:`GRANT_OWNER` (one row per token, AES-GCM bound to the
connection and the field); :class:`~connectory.store.models.OAuthGrant` holds when they
expire and whether the provider revoked the grant. Every write bumps the connection's
generation in the same transaction, so clients in every process pick up the new tokens.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.auth.grants import TokenSet
from connectory.services.generations import bump_connection
from connectory.services.secret_store import (
    SecretBox,
    delete_secrets,
    read_secrets,
    write_secrets,
)
from connectory.store.models import Connection, OAuthGrant, utcnow

#: Owner type of a connection's OAuth2 tokens in ``secret_values``.
GRANT_OWNER = "oauth_grant"


def to_datetime(moment: float | None) -> datetime | None:
    """Unix seconds as an aware datetime (None stays None)."""
    return None if moment is None else datetime.fromtimestamp(moment, UTC)


def to_timestamp(moment: datetime | None) -> float | None:
    """An aware (or, from SQLite, naive UTC) datetime as Unix seconds."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


async def load_grant(
    session: AsyncSession, box: SecretBox, connection_id: str
) -> tuple[TokenSet | None, bool]:
    """The connection's stored grant, and whether the provider revoked it.

    Returns ``(None, False)`` for a connection whose tokens are not stored as a grant (an
    API-key connection, or one given its tokens as credentials).
    """
    row = await session.get(OAuthGrant, connection_id, populate_existing=True)
    if row is None:
        return None, False
    secrets = await read_secrets(session, box, GRANT_OWNER, connection_id)
    grant = TokenSet(
        access_token=secrets.get("access_token"),
        refresh_token=secrets.get("refresh_token"),
        expires_at=to_timestamp(row.expires_at),
        refresh_expires_at=to_timestamp(row.refresh_expires_at),
        scope=row.scope,
    )
    return grant, row.rejected_at is not None


async def store_grant(
    session: AsyncSession,
    box: SecretBox,
    connection_id: str,
    grant: TokenSet,
    *,
    refreshed: bool,
) -> int:
    """Store *grant* for the connection (replacing any) and bump its generation.

    A new grant (``refreshed`` False: the flow's code exchange, a re-authorization) clears a
    revocation mark. Returns the connection's new generation.
    """
    await write_secrets(
        session,
        box,
        GRANT_OWNER,
        connection_id,
        {"access_token": grant.access_token, "refresh_token": grant.refresh_token},
    )
    row = await session.get(OAuthGrant, connection_id)
    now = utcnow()
    if row is None:
        row = OAuthGrant(connection_id=connection_id, obtained_at=now)
        session.add(row)
    row.expires_at = to_datetime(grant.expires_at)
    row.refresh_expires_at = to_datetime(grant.refresh_expires_at)
    row.scope = grant.scope
    if refreshed:
        row.refreshed_at = now
    else:
        row.obtained_at, row.refreshed_at, row.rejected_at = now, None, None
    await session.flush()
    return await bump_connection(session, connection_id)


async def reject_grant(session: AsyncSession, connection_id: str, detail: str) -> int:
    """Mark the grant revoked by the provider and the connection ``auth_error``.

    Returns the connection's new generation (its clients in every process stop using the
    grant).
    """
    now = utcnow()
    row = await session.get(OAuthGrant, connection_id)
    if row is None:
        row = OAuthGrant(connection_id=connection_id, obtained_at=now)
        session.add(row)
    row.rejected_at = now
    connection = await session.get(Connection, connection_id)
    if connection is not None:
        connection.health = "auth_error"
        connection.health_detail = detail[:2000]
        connection.health_checked_at = now
    await session.flush()
    return await bump_connection(session, connection_id)


async def delete_grant(session: AsyncSession, connection_id: str) -> None:
    """Destroy the connection's grant (its tokens and the row)."""
    await delete_secrets(session, GRANT_OWNER, connection_id)
    await session.execute(delete(OAuthGrant).where(OAuthGrant.connection_id == connection_id))


async def grant_status(session: AsyncSession, connection_id: str) -> OAuthGrant | None:
    """The grant's expiry and state, without its tokens (for responses)."""
    row: OAuthGrant | None = await session.scalar(
        select(OAuthGrant).where(OAuthGrant.connection_id == connection_id)
    )
    return row
