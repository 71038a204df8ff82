"""Revoking a deleted connection's OAuth2 tokens at the provider (RFC 7009).

Deleting a connection destroys its stored tokens; when the connector declares a
``revocation_url`` the provider is asked to revoke them too, so a copy that leaked before the
deletion stops working. The tokens are read (by leasing the connection's client) before the
deletion commits and revoked after it: revocation is best effort, and a provider that is down
must not keep a connection from being deleted.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import ConnectoryError
from connectory.services.connection_runtime import ClientLease, ConnectionRuntimes
from connectory.services.connections import ConnectionDetails
from connectory.spec.auth import OAuth2AuthSpec

logger = logging.getLogger("connectory.oauth")


async def lease_for_revocation(
    session: AsyncSession, runtimes: ConnectionRuntimes, details: ConnectionDetails
) -> ClientLease | None:
    """The connection's client, holding its tokens, if they are to be revoked on deletion."""
    auth = details.spec.auth
    if not (isinstance(auth, OAuth2AuthSpec) and auth.revocation_url):
        return None
    try:
        return await runtimes.acquire(session, details)
    except ConnectoryError as error:
        # A grant the provider already revoked, credentials that no longer fit: nothing to
        # revoke with; the deletion goes on.
        logger.info("connection %s: tokens not revoked (%s)", details.connection.id, error)
        return None


async def revoke_tokens(lease: ClientLease, connection_id: str) -> list[str]:
    """Revoke the leased client's tokens; log (never raise) a refusal. Releases the lease."""
    try:
        revoked = await lease.client.oauth2.revoke()
        if revoked:
            logger.info("connection %s: revoked its %s", connection_id, " and ".join(revoked))
        return revoked
    except ConnectoryError as error:
        logger.warning("connection %s: token revocation failed: %s", connection_id, error)
        return []
    finally:
        await lease.release()
