"""An enterprise's return URL allowlist: where OAuth flows and connect links may send a person.

A flow or link may name a return URL (the enterprise's own app, say); after the callback the
browser goes there with the outcome in the query, but only when the URL is on this list (or a
path of Connectory itself). Anything else gets Connectory's own outcome page, so Connectory
cannot be made into an open redirect.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import PermissionDenied
from connectory.services.enterprises import get_enterprise
from connectory.services.principal import Principal


async def get_return_urls(
    session: AsyncSession, principal: Principal, enterprise_id: str
) -> list[str]:
    """The allowlist of an enterprise the caller can see."""
    enterprise = await get_enterprise(session, principal, enterprise_id)
    return list(enterprise.return_urls)


async def set_return_urls(
    session: AsyncSession, principal: Principal, enterprise_id: str, urls: list[str]
) -> list[str]:
    """Replace the allowlist (the enterprise's admins, or platform admins).

    Raises:
        NotFound: not an enterprise the caller can see.
        PermissionDenied: a viewer.
    """
    enterprise = await get_enterprise(session, principal, enterprise_id)
    if not (principal.is_platform_admin or principal.is_enterprise_admin):
        raise PermissionDenied("only admins can change where people are sent back to")
    enterprise.return_urls = list(dict.fromkeys(urls))
    await session.flush()
    return list(enterprise.return_urls)
