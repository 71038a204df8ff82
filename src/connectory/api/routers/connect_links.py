"""``/connect-links``: single-use, expiring links for a person to connect an account."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, status

from connectory.api.deps import CurrentPrincipal, SessionDep, SettingsDep
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.identity import error_responses
from connectory.api.schemas.oauth import ConnectLinkCreate, ConnectLinkOut
from connectory.api.schemas.values import IdPath
from connectory.errors import Conflict
from connectory.services import connect_links
from connectory.store.models import ConnectLink, utcnow

router = APIRouter(route_class=StrictJSONRoute, prefix="/connect-links", tags=["connect-links"])


def _out(link: ConnectLink, url: str | None = None) -> ConnectLinkOut:
    return ConnectLinkOut(
        id=link.id,
        connector_id=link.connector_id,
        version=link.version,
        name=link.name,
        url=url,
        created_at=link.created_at,
        expires_at=link.expires_at,
        used_at=link.used_at,
        revoked_at=link.revoked_at,
        connection_id=link.connection_id,
        status=connect_links.link_status(link, utcnow()),
    )


@router.post(
    "",
    response_model=ConnectLinkOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 404, 409),
    summary="Create a connect link",
)
async def create_link(
    body: ConnectLinkCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> ConnectLinkOut:
    """A link for a person to connect an account to a published connector.

    The connection is made in the caller's enterprise. The link's URL is in this response
    only: hand it over, it is not shown again.
    """
    if not settings.public_url:
        # A setting of the deployment, not the caller's mistake: nothing to link to yet.
        raise Conflict(
            "this deployment has no public URL to build links on; set CONNECTORY_PUBLIC_URL"
        )
    link, token = await connect_links.create_link(
        session,
        principal,
        connector_id=body.connector_id,
        version=body.version,
        name=body.name,
        lifetime=timedelta(minutes=body.expires_in_minutes),
        return_url=body.return_url,
    )
    await session.commit()
    url = settings.public_url.rstrip("/") + connect_links.LINK_PATH + token
    return _out(link, url)


@router.get(
    "",
    response_model=list[ConnectLinkOut],
    responses=error_responses(403),
    summary="List connect links",
)
async def list_links(session: SessionDep, principal: CurrentPrincipal) -> list[ConnectLinkOut]:
    """The enterprise's connect links, newest first (their URLs are never shown again)."""
    return [_out(link) for link in await connect_links.list_links(session, principal)]


@router.delete(
    "/{link_id}",
    response_model=ConnectLinkOut,
    responses=error_responses(403, 404),
    summary="Revoke a connect link",
)
async def revoke_link(
    link_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> ConnectLinkOut:
    """Withdraw a link that was not used yet."""
    link = await connect_links.revoke_link(session, principal, link_id)
    await session.commit()
    return _out(link)
