"""Connect links: single-use, expiring links for a person to connect an account.

An enterprise admin creates a link for a published connector and hands it over (an email, a
ticket, their own app). Whoever opens it sees the connector's name, icon and help, and either
the credential form generated from its ``credential_schema`` or an "Authorize" button for
OAuth2 authorization code. On success the connection exists in the admin's enterprise, and the
link is spent: it is claimed atomically in the transaction that creates the connection.

The link's token is shown once (in the creation response); only its hash is stored. Acting
through a link is acting for its creator, who must still be an admin of the enterprise.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import InvalidRequest, NotFound
from connectory.services.connection_runtime import ConnectionRuntimes
from connectory.services.connections import (
    ConnectionDetails,
    check_may_manage_connections,
    find_published_version,
    insert_connection,
    merge_credentials,
    spec_of,
)
from connectory.services.listing import is_plausible_id
from connectory.services.oauth_flows import FlowStart, hash_secret, start_flow
from connectory.services.principal import Principal
from connectory.services.secret_store import SecretBox
from connectory.spec.auth import OAuth2AuthSpec
from connectory.spec.connector import ConnectorSpec
from connectory.store.models import ConnectLink, Connector, ConnectorVersion, User, utcnow

#: Where a link's page is, under the deployment's public URL.
LINK_PATH = "/connect/"


def link_status(link: ConnectLink, now: datetime) -> str:
    """``open``, ``used``, ``revoked`` or ``expired``."""
    if link.used_at is not None:
        return "used"
    if link.revoked_at is not None:
        return "revoked"
    expires = link.expires_at
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=now.tzinfo)
    return "expired" if expires <= now else "open"


async def create_link(
    session: AsyncSession,
    principal: Principal,
    *,
    connector_id: str,
    version: str | None,
    name: str | None,
    lifetime: timedelta,
    return_url: str | None,
) -> tuple[ConnectLink, str]:
    """Create a link in the caller's enterprise; returns it and its token (shown once).

    Raises:
        PermissionDenied, NotFound, InvalidRequest (never published).
    """
    check_may_manage_connections(principal)
    assert principal.enterprise_id is not None
    connector, _ = await find_published_version(session, principal, connector_id, version)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    link = ConnectLink(
        token_hash=hash_secret(token),
        enterprise_id=principal.enterprise_id,
        connector_id=connector.id,
        version=version,
        name=name or connector.name,
        return_url=return_url,
        created_by=principal.user_id,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(link)
    await session.flush()
    return link, token


async def list_links(session: AsyncSession, principal: Principal) -> list[ConnectLink]:
    """The caller's enterprise's links, newest first (at most 200)."""
    check_may_manage_connections(principal)
    rows = await session.scalars(
        select(ConnectLink)
        .where(ConnectLink.enterprise_id == principal.enterprise_id)
        .order_by(ConnectLink.created_at.desc(), ConnectLink.id)
        .limit(200)
    )
    return list(rows)


async def revoke_link(session: AsyncSession, principal: Principal, link_id: str) -> ConnectLink:
    """Revoke an unused link of the caller's enterprise (a used one stays as it was)."""
    check_may_manage_connections(principal)
    link = (
        await session.scalar(
            select(ConnectLink).where(
                ConnectLink.id == link_id, ConnectLink.enterprise_id == principal.enterprise_id
            )
        )
        if is_plausible_id(link_id)
        else None
    )
    if link is None:
        raise NotFound(f"connect link {link_id[:64]!r} not found")
    if link.used_at is None and link.revoked_at is None:
        link.revoked_at = utcnow()
        await session.flush()
    return link


@dataclass
class LinkView:
    """What the connect page shows, and what acting through the link needs."""

    link: ConnectLink
    connector: Connector
    version: ConnectorVersion
    spec: ConnectorSpec
    principal: Principal

    @property
    def authorizes(self) -> bool:
        """True when the person authorizes at the provider instead of filling in a form."""
        auth = self.spec.auth
        return (
            isinstance(auth, OAuth2AuthSpec)
            and auth.grant_type == "authorization_code"
            and bool(auth.authorization_url)
        )


class LinkUnavailable(NotFound):
    """The link is unknown, used, revoked or expired (one page for all, with the reason)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


async def open_link(session: AsyncSession, token: str) -> LinkView:
    """The link behind *token*, if it can still be used.

    Raises:
        LinkUnavailable: unknown, used, revoked or expired; or its creator may no longer
            create connections, or the connector is gone.
    """
    link = (
        await session.scalar(
            select(ConnectLink).where(ConnectLink.token_hash == hash_secret(token))
        )
        if 16 <= len(token) <= 128
        else None
    )
    if link is None:
        raise LinkUnavailable("This connect link is not valid. Ask for a new one.", "unknown")
    status = link_status(link, utcnow())
    if status != "open":
        messages = {
            "used": "This connect link was already used: it works once. Ask for a new one.",
            "revoked": "This connect link was withdrawn. Ask for a new one.",
            "expired": "This connect link has expired. Ask for a new one.",
        }
        raise LinkUnavailable(messages[status], status)
    creator = await session.get(User, link.created_by)
    if (
        creator is None
        or creator.deleted_at is not None
        or creator.role != "enterprise_admin"
        or creator.enterprise_id != link.enterprise_id
    ):
        raise LinkUnavailable(
            "The person who made this connect link can no longer create connections. Ask for "
            "a new one.",
            "not_allowed",
        )
    principal = Principal(creator.id, "enterprise_admin", creator.enterprise_id, creator.sdk_access)
    try:
        connector, version = await find_published_version(
            session, principal, link.connector_id, link.version
        )
    except (NotFound, InvalidRequest):
        raise LinkUnavailable(
            "The connector of this link is no longer available.", "unavailable"
        ) from None
    return LinkView(link, connector, version, spec_of(version), principal)


async def claim_link(session: AsyncSession, link_id: str, connection_id: str) -> bool:
    """Mark a link used by *connection_id*, if it still can be (one claimant wins)."""
    now = utcnow()
    result = await session.execute(
        update(ConnectLink)
        .where(
            ConnectLink.id == link_id,
            ConnectLink.used_at.is_(None),
            ConnectLink.revoked_at.is_(None),
            ConnectLink.expires_at > now,
        )
        .values(used_at=now, connection_id=connection_id)
        # Decided by the database; loaded rows may hold naive SQLite datetimes.
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


async def connect_with_credentials(
    session: AsyncSession, box: SecretBox, view: LinkView, credentials: dict[str, Any]
) -> ConnectionDetails:
    """Create the link's connection from the credentials a person entered, and spend the link.

    Raises:
        InvalidRequest: field-level credential issues (the form shows them), or the link was
            spent meanwhile.
    """
    public, hidden, issues = merge_credentials(view.spec, credentials, set())
    if issues:
        raise InvalidRequest(
            "the credentials do not match the connector's credential schema", issues
        )
    details = await insert_connection(
        session,
        box,
        view.principal,
        connector=view.connector,
        version=view.version,
        name=view.link.name,
        public=public,
        secrets=hidden,
        config={},
    )
    if not await claim_link(session, view.link.id, details.connection.id):
        await session.rollback()
        raise LinkUnavailable("This connect link was used meanwhile. Nothing was changed.", "used")
    return details


async def authorize_with_link(
    session: AsyncSession,
    box: SecretBox,
    runtimes: ConnectionRuntimes,
    view: LinkView,
    *,
    credentials: dict[str, Any],
    public_url: str | None,
    browser_secret: str,
    lifetime: timedelta,
) -> FlowStart:
    """Start the OAuth2 flow of a link's connection (the link is spent when it completes)."""
    return await start_flow(
        session,
        box,
        runtimes,
        view.principal,
        public_url=public_url,
        browser_secret=browser_secret,
        lifetime=lifetime,
        connector_id=view.connector.id,
        version=view.version.version,
        name=view.link.name,
        credentials=credentials,
        return_url=view.link.return_url,
        connect_link_id=view.link.id,
    )
