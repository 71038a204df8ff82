"""Background refresh of idle connections' OAuth2 grants, before their refresh tokens expire.

Many providers let a refresh token lapse after a while (a fixed lifetime, or an idle one); a
connection nobody called in that time would need a person to authorize it again. This task
refreshes every grant whose refresh token expires within a horizon (the expiry comes from the
token response's ``refresh_token_expires_in`` or the connector's ``refresh_token_lifetime``).

It is one idempotent function over the database's truth, for the background engine to call on
a schedule (every few minutes; running it twice, or in two workers at once, is safe: each
refresh takes the connection's refresh lock and adopts a grant refreshed meanwhile).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from connectory.errors import AuthError, ConnectoryError
from connectory.services.connection_runtime import ConnectionRuntimes
from connectory.services.connections import load_connection
from connectory.store.models import Connection, OAuthGrant, utcnow

logger = logging.getLogger("connectory.oauth")

#: Refresh grants whose refresh token expires within this much time.
DEFAULT_HORIZON = timedelta(days=1)


@dataclass
class RefreshReport:
    """What one run did, by connection id."""

    refreshed: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


async def due_grants(
    runtimes: ConnectionRuntimes, horizon: timedelta, now: datetime, limit: int
) -> list[str]:
    """Live connections whose grant's refresh token expires before ``now + horizon``."""
    async with runtimes.sessions() as session:
        rows = await session.scalars(
            select(OAuthGrant.connection_id)
            .join(Connection, Connection.id == OAuthGrant.connection_id)
            .where(
                OAuthGrant.refresh_expires_at.is_not(None),
                OAuthGrant.refresh_expires_at <= now + horizon,
                OAuthGrant.rejected_at.is_(None),
                Connection.deleted_at.is_(None),
            )
            .order_by(OAuthGrant.refresh_expires_at)
            .limit(limit)
        )
        return list(rows)


async def refresh_expiring_grants(
    runtimes: ConnectionRuntimes,
    *,
    horizon: timedelta = DEFAULT_HORIZON,
    now: datetime | None = None,
    limit: int = 500,
) -> RefreshReport:
    """Refresh the grants that are due (see the module); one failure never stops the rest.

    Args:
        runtimes: The process's connection clients (a worker's own, or the server's).
        horizon: Refresh refresh tokens expiring within this much time.
        now: The current time (tests pass one).
        limit: Most grants refreshed in one run (the rest wait for the next run).
    """
    report = RefreshReport()
    for connection_id in await due_grants(runtimes, horizon, now or utcnow(), limit):
        try:
            async with runtimes.sessions() as session:
                details = await load_connection(session, connection_id)
                if details is None:
                    continue
                lease = await runtimes.acquire(session, details)
                await session.commit()
            async with lease as client:
                await client.oauth2.refresh()
            report.refreshed.append(connection_id)
        except AuthError as error:
            (report.rejected if error.reauthorize else report.failed).append(connection_id)
            logger.warning("connection %s: background refresh failed: %s", connection_id, error)
        except ConnectoryError as error:
            report.failed.append(connection_id)
            logger.warning("connection %s: background refresh failed: %s", connection_id, error)
    return report
