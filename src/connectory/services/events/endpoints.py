"""Webhook endpoints: where an enterprise receives its events.

An endpoint's secret (``whsec_...``) is shown once, when the endpoint is created or its
secret rotated, and never again (stored encrypted, write-only). After a rotation the previous
secret keeps signing beside the new one for ``secret_rotation_overlap_hours`` (a day by
default), so receivers can switch without losing a delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import false, select
from sqlalchemy.ext.asyncio import AsyncSession
from yarl import URL

from connectory.errors import FieldIssue, InvalidRequest, NotFound
from connectory.events.signing import generate_endpoint_secret
from connectory.services.connections import check_may_manage_connections
from connectory.services.events.records import as_utc
from connectory.services.listing import fetch_page, is_plausible_id
from connectory.services.principal import Principal
from connectory.services.secret_store import SecretBox, delete_secrets, read_secrets, write_secrets
from connectory.store.event_models import WebhookEndpoint
from connectory.store.models import utcnow

if TYPE_CHECKING:
    from connectory.services.events.context import EventsContext

#: Owner type of endpoint secrets in ``secret_values``.
ENDPOINT_SECRETS_OWNER = "webhook_endpoint"


@dataclass
class EndpointInput:
    """What a client sets on an endpoint (None: unchanged on update)."""

    url: str | None = None
    description: str | None = None
    event_types: list[str] | None = None
    connection_ids: list[str] | None = None
    enabled: bool | None = None
    max_in_flight: int | None = None


def _visible(principal: Principal) -> Any:
    if principal.enterprise_id is None:
        return false()
    return (WebhookEndpoint.enterprise_id == principal.enterprise_id) & (
        WebhookEndpoint.deleted_at.is_(None)
    )


def check_endpoint_url(url: str) -> str:
    """An absolute http(s) URL without credentials in it, that the sender can parse.

    Raises:
        InvalidRequest: otherwise (the egress guard checks the destination when sending).
    """
    try:
        parts = urlsplit(url.strip())
        # Read, not just split: .port raises on a port out of range; and the sender parses
        # with yarl, so a URL it refuses (a port out of range) would fail every try.
        parts.port  # noqa: B018
        URL(url.strip())
    except ValueError as error:
        invalid = f"is not a valid URL ({error})"
        raise InvalidRequest(
            f"the endpoint URL {invalid}", [FieldIssue(("body", "url"), invalid)]
        ) from None
    problem = None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problem = "must be an absolute http:// or https:// URL"
    elif parts.username or parts.password:
        problem = "must not hold a user name or password; the signature authenticates"
    if problem is not None:
        raise InvalidRequest(f"the endpoint URL {problem}", [FieldIssue(("body", "url"), problem)])
    return url.strip()


async def create_endpoint(
    session: AsyncSession, principal: Principal, box: SecretBox, data: EndpointInput
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it and its secret (the only time the secret is shown)."""
    check_may_manage_connections(principal)
    assert principal.enterprise_id is not None
    if data.url is None:
        raise InvalidRequest("url is required", [FieldIssue(("body", "url"), "required")])
    endpoint = WebhookEndpoint(
        enterprise_id=principal.enterprise_id,
        url=check_endpoint_url(data.url),
        description=data.description or "",
        event_types=data.event_types,
        connection_ids=data.connection_ids,
        enabled=True if data.enabled is None else data.enabled,
        max_in_flight=data.max_in_flight or 4,
        created_by=principal.user_id,
    )
    session.add(endpoint)
    await session.flush()
    secret = generate_endpoint_secret()
    await write_secrets(session, box, ENDPOINT_SECRETS_OWNER, endpoint.id, {"secret": secret})
    return endpoint, secret


async def get_endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: str
) -> WebhookEndpoint:
    """An endpoint of the caller's enterprise.

    Raises:
        NotFound: no such endpoint (another enterprise's included).
    """
    found = None
    if is_plausible_id(endpoint_id):
        found = await session.scalar(
            select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, _visible(principal))
        )
    if found is None:
        raise NotFound(f"webhook endpoint {endpoint_id!r} not found")
    return found


async def list_endpoints(
    session: AsyncSession, principal: Principal, limit: int, offset: int
) -> tuple[list[WebhookEndpoint], int]:
    """A page of the caller's enterprise's endpoints, newest first."""
    query = (
        select(WebhookEndpoint)
        .where(_visible(principal))
        .order_by(WebhookEndpoint.created_at.desc(), WebhookEndpoint.id)
    )
    return await fetch_page(session, query, limit, offset)


async def update_endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: str, data: EndpointInput
) -> WebhookEndpoint:
    """Change the given fields of an endpoint."""
    endpoint = await get_endpoint(session, principal, endpoint_id)
    check_may_manage_connections(principal)
    if data.url is not None:
        endpoint.url = check_endpoint_url(data.url)
    if data.description is not None:
        endpoint.description = data.description
    if data.event_types is not None:
        endpoint.event_types = data.event_types or None
    if data.connection_ids is not None:
        endpoint.connection_ids = data.connection_ids or None
    if data.enabled is not None:
        endpoint.enabled = data.enabled
    if data.max_in_flight is not None:
        endpoint.max_in_flight = data.max_in_flight
    endpoint.updated_at = utcnow()
    await session.flush()
    return endpoint


async def delete_endpoint(session: AsyncSession, principal: Principal, endpoint_id: str) -> None:
    """Soft-delete an endpoint and destroy its secrets (its pending deliveries stop)."""
    endpoint = await get_endpoint(session, principal, endpoint_id)
    check_may_manage_connections(principal)
    endpoint.deleted_at = utcnow()
    await delete_secrets(session, ENDPOINT_SECRETS_OWNER, endpoint.id)
    await session.flush()


async def rotate_secret(
    session: AsyncSession,
    principal: Principal,
    box: SecretBox,
    endpoint_id: str,
    overlap: timedelta,
    now: datetime,
) -> tuple[WebhookEndpoint, str]:
    """Give an endpoint a new secret; the old one also signs for *overlap*.

    Returns:
        The endpoint and its new secret (shown this once).
    """
    endpoint = await get_endpoint(session, principal, endpoint_id)
    check_may_manage_connections(principal)
    current = await read_secrets(session, box, ENDPOINT_SECRETS_OWNER, endpoint.id)
    secret = generate_endpoint_secret()
    values: dict[str, str | None] = {"secret": secret, "previous_secret": current.get("secret")}
    await write_secrets(session, box, ENDPOINT_SECRETS_OWNER, endpoint.id, values)
    endpoint.previous_secret_expires_at = now + overlap
    endpoint.updated_at = now
    await session.flush()
    return endpoint, secret


async def endpoint_secrets(
    session: AsyncSession, context: EventsContext, endpoint: WebhookEndpoint
) -> list[str]:
    """The secrets that sign for *endpoint* now: the current one, and the previous in overlap."""
    values = await read_secrets(session, context.box, ENDPOINT_SECRETS_OWNER, endpoint.id)
    secrets = [values["secret"]] if "secret" in values else []
    expires = endpoint.previous_secret_expires_at
    if "previous_secret" in values and expires is not None and as_utc(expires) > context.now():
        secrets.append(values["previous_secret"])
    return secrets


def endpoint_view(endpoint: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    """An endpoint as the API shows it; *secret* only right after creation or rotation."""
    view: dict[str, Any] = {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "connection_ids": endpoint.connection_ids,
        "enabled": endpoint.enabled,
        "max_in_flight": endpoint.max_in_flight,
        "previous_secret_expires_at": as_utc(endpoint.previous_secret_expires_at)
        if endpoint.previous_secret_expires_at
        else None,
        "created_at": as_utc(endpoint.created_at),
    }
    if secret is not None:
        view["secret"] = secret
    return view
