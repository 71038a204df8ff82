"""Enterprises (tenants): platform admins manage them; everyone else sees only their own.

Rules:

- Creating, renaming and deleting enterprises is for platform admins. Enterprise admins and
  viewers can read their own enterprise and get 403 for changes to it; any other enterprise
  answers 404, exactly like an id that never existed.
- Names are unique among live enterprises, ignoring case (409).
- Deleting is a soft delete, refused (409) while the enterprise still has live users,
  connectors or connections: delete or move those first, so nothing is left pointing at a
  tenant that no longer answers.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import Conflict, NotFound, PermissionDenied
from connectory.services.access import visible_enterprises
from connectory.services.listing import contains_text, fetch_page, is_plausible_id
from connectory.services.principal import Principal
from connectory.store.models import Connection, Connector, Enterprise, User, utcnow


def _not_found(enterprise_id: str) -> NotFound:
    return NotFound(f"enterprise {enterprise_id!r} not found")


async def get_enterprise(
    session: AsyncSession, principal: Principal, enterprise_id: str
) -> Enterprise:
    """Return the live enterprise *enterprise_id* if *principal* may see it.

    Raises:
        NotFound: no such enterprise, deleted, or another tenant (one message for all three).
    """
    if not is_plausible_id(enterprise_id):
        raise _not_found(enterprise_id[:64])
    enterprise = await session.scalar(
        select(Enterprise).where(Enterprise.id == enterprise_id, visible_enterprises(principal))
    )
    if enterprise is None:
        raise _not_found(enterprise_id)
    return enterprise


async def list_enterprises(
    session: AsyncSession,
    principal: Principal,
    *,
    limit: int,
    offset: int,
    search: str | None = None,
) -> tuple[list[Enterprise], int]:
    """Return one page of the enterprises *principal* may see, and how many there are.

    Args:
        session: The database session.
        principal: The caller.
        limit: Page length.
        offset: Rows to skip.
        search: Keep enterprises whose name contains this text (ignoring case).
    """
    statement = select(Enterprise).where(visible_enterprises(principal))
    if search:
        statement = statement.where(contains_text(Enterprise.name, search))
    statement = statement.order_by(Enterprise.created_at, Enterprise.id)
    return await fetch_page(session, statement, limit, offset)


async def create_enterprise(session: AsyncSession, principal: Principal, name: str) -> Enterprise:
    """Create an enterprise named *name* (platform admins only).

    Raises:
        PermissionDenied: the caller is not a platform admin.
        Conflict: a live enterprise has that name already.
    """
    _check_platform_admin(principal, "create enterprises")
    await _check_name_free(session, name)
    enterprise = Enterprise(name=name)
    session.add(enterprise)
    await session.flush()
    return enterprise


async def update_enterprise(
    session: AsyncSession, principal: Principal, enterprise_id: str, name: str | None
) -> Enterprise:
    """Rename an enterprise (platform admins only); a None name changes nothing.

    Raises:
        NotFound: the enterprise is not visible to the caller.
        PermissionDenied: the caller sees it but is not a platform admin.
        Conflict: another live enterprise has that name.
    """
    enterprise = await get_enterprise(session, principal, enterprise_id)
    _check_platform_admin(principal, "change enterprises")
    if name is None:
        return enterprise
    if name.lower() != enterprise.name.lower():
        await _check_name_free(session, name, besides=enterprise.id)
    enterprise.name = name
    await session.flush()
    return enterprise


async def delete_enterprise(
    session: AsyncSession, principal: Principal, enterprise_id: str
) -> None:
    """Soft-delete an empty enterprise (platform admins only).

    Raises:
        NotFound: the enterprise is not visible to the caller.
        PermissionDenied: the caller sees it but is not a platform admin.
        Conflict: it still has live users, connectors or connections.
    """
    enterprise = await get_enterprise(session, principal, enterprise_id)
    _check_platform_admin(principal, "delete enterprises")
    remaining = {
        "users": await _count_live(session, User, enterprise.id),
        "connectors": await _count_live(session, Connector, enterprise.id),
        "connections": await _count_live(session, Connection, enterprise.id),
    }
    left = ", ".join(
        f"{count} {what if count > 1 else what.removesuffix('s')}"
        for what, count in remaining.items()
        if count
    )
    if left:
        raise Conflict(
            f"enterprise {enterprise.id!r} still has {left}; delete them before the enterprise"
        )
    enterprise.deleted_at = utcnow()
    await session.flush()


def _check_platform_admin(principal: Principal, action: str) -> None:
    if not principal.is_platform_admin:
        raise PermissionDenied(f"only platform admins can {action}")


async def _check_name_free(session: AsyncSession, name: str, besides: str | None = None) -> None:
    # Checked here rather than by a unique index: names are for people, and a rare race that
    # lets two equal names in is harmless (ids stay distinct).
    condition = [func.lower(Enterprise.name) == name.lower(), Enterprise.deleted_at.is_(None)]
    if besides is not None:
        condition.append(Enterprise.id != besides)
    taken = await session.scalar(select(Enterprise.id).where(*condition).limit(1))
    if taken is not None:
        raise Conflict(f"an enterprise named {name!r} exists already; choose another name")


async def _count_live(
    session: AsyncSession,
    model: type[User] | type[Connector] | type[Connection],
    enterprise_id: str,
) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(model)
        .where(model.enterprise_id == enterprise_id, model.deleted_at.is_(None))
    )
    return int(total or 0)
