"""The connector index: find, list, create and delete connectors, within what the caller may see.

Every lookup goes through :func:`~connectory.services.access.visible_connectors`, so another
enterprise's connector (or a deleted one, or a catalogue connector that was never published,
for anyone but platform admins) is simply not found: 404, never 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import Conflict, NotFound, PermissionDenied
from connectory.services.access import (
    check_may_build_connectors,
    check_may_edit_connector,
    may_see_drafts,
    visible_connectors,
)
from connectory.services.listing import is_plausible_id
from connectory.services.principal import Principal
from connectory.services.secret_store import SecretBox
from connectory.services.sensitive_defaults import store_sensitive_defaults
from connectory.spec import ConnectorSpec
from connectory.store.models import Connection, Connector, ConnectorVersion, new_id, utcnow

Scope = Literal["catalogue", "enterprise"]
Status = Literal["draft", "published"]
#: Orders of the index: a field, ascending, or descending with a leading "-".
Sort = Literal["name", "-name", "updated", "-updated", "created", "-created", "type", "-type"]

#: Kept under its old name for the connector modules; one rule for every id.
is_id = is_plausible_id


def scope_of(principal: Principal) -> Scope:
    """Where connectors *principal* builds live."""
    return "catalogue" if principal.owner_key() == "catalogue" else "enterprise"


@dataclass(frozen=True)
class ConnectorFilters:
    """What ``GET /connectors`` narrows the index to."""

    type: str | None = None
    scope: Scope | None = None
    status: Status | None = None
    q: str | None = None
    slug: str | None = None
    sort: Sort = "name"


def _order(sort: Sort) -> list[Any]:
    """The ORDER BY of *sort*; ties go by name, then id, so pages never overlap or skip."""
    field = sort.lstrip("-")
    columns: dict[str, list[Any]] = {
        "name": [func.lower(Connector.name)],
        "updated": [Connector.updated_at],
        "created": [Connector.created_at],
        "type": [Connector.type, func.lower(Connector.name)],
    }
    keys = columns[field]
    if sort.startswith("-"):
        keys = [key.desc() for key in keys]
    return [*keys, func.lower(Connector.name), Connector.id]


@dataclass
class ConnectorView:
    """A connector as one caller sees it."""

    connector: Connector
    has_draft: bool
    can_edit: bool
    latest: ConnectorVersion | None = None
    draft: ConnectorVersion | None = None


def may_edit(principal: Principal, connector: Connector) -> bool:
    """Whether *principal* may change *connector* (which it can see)."""
    try:
        check_may_edit_connector(principal, connector)
    except PermissionDenied:
        return False
    return True


async def find_connector(
    session: AsyncSession, principal: Principal, connector_id: str
) -> Connector:
    """Return the connector *connector_id* if *principal* may see it.

    Raises:
        NotFound: no such connector, deleted, or not visible to *principal*.
    """
    connector = None
    if is_id(connector_id):
        connector = await session.scalar(
            select(Connector).where(Connector.id == connector_id, visible_connectors(principal))
        )
    if connector is None:
        raise NotFound(f"connector {connector_id[:64]!r} not found")
    return connector


async def find_editable_connector(
    session: AsyncSession, principal: Principal, connector_id: str
) -> Connector:
    """Return the connector if *principal* may change it.

    Raises:
        NotFound: the caller cannot see it.
        PermissionDenied: the caller sees it but may not change it.
    """
    connector = await find_connector(session, principal, connector_id)
    check_may_edit_connector(principal, connector)
    return connector


async def draft_of(session: AsyncSession, connector: Connector) -> ConnectorVersion | None:
    """Return the connector's draft, if it has one."""
    return await session.scalar(
        select(ConnectorVersion).where(
            ConnectorVersion.connector_id == connector.id, ConnectorVersion.is_draft.is_(True)
        )
    )


async def published_version(
    session: AsyncSession, connector: Connector, version: str | None
) -> ConnectorVersion | None:
    """Return the published version *version* of the connector (None: not published)."""
    if version is None:
        return None
    return await session.scalar(
        select(ConnectorVersion).where(
            ConnectorVersion.connector_id == connector.id,
            ConnectorVersion.version == version,
            ConnectorVersion.is_draft.is_(False),
        )
    )


async def view_connector(
    session: AsyncSession, principal: Principal, connector: Connector
) -> ConnectorView:
    """Return *connector* with its latest version and, for those who may see it, its draft."""
    draft = await draft_of(session, connector) if may_see_drafts(principal, connector) else None
    return ConnectorView(
        connector=connector,
        has_draft=draft is not None,
        can_edit=may_edit(principal, connector),
        latest=await published_version(session, connector, connector.latest_version),
        draft=draft,
    )


async def list_connectors(
    session: AsyncSession,
    principal: Principal,
    filters: ConnectorFilters,
    limit: int,
    offset: int,
) -> tuple[list[ConnectorView], int]:
    """Return one page of the connectors *principal* may see, and how many there are in all."""
    conditions: list[ColumnElement[bool]] = [visible_connectors(principal)]
    if filters.type is not None:
        conditions.append(Connector.type == filters.type)
    if filters.scope is not None:
        conditions.append(Connector.scope == filters.scope)
    if filters.status == "published":
        conditions.append(Connector.latest_version.is_not(None))
    elif filters.status == "draft":
        conditions.append(Connector.latest_version.is_(None))
    if filters.slug is not None:
        conditions.append(Connector.slug == filters.slug)
    if filters.q:
        needle = filters.q.lower()
        conditions.append(
            func.lower(Connector.name).contains(needle, autoescape=True)
            | func.lower(Connector.slug).contains(needle, autoescape=True)
        )
    where = and_(*conditions)
    total = await session.scalar(select(func.count()).select_from(Connector).where(where))
    has_draft = exists().where(
        ConnectorVersion.connector_id == Connector.id, ConnectorVersion.is_draft.is_(True)
    )
    rows = await session.execute(
        select(Connector, has_draft.label("has_draft"))
        .where(where)
        .order_by(*_order(filters.sort))
        .limit(limit)
        .offset(offset)
    )
    views = [
        ConnectorView(
            connector=connector,
            # A catalogue draft is the platform's business; enterprises do not learn of it.
            has_draft=bool(draft) and may_see_drafts(principal, connector),
            can_edit=may_edit(principal, connector),
        )
        for connector, draft in rows.all()
    ]
    return views, int(total or 0)


async def check_slug_free(
    session: AsyncSession, owner_key: str, slug: str, except_id: str | None = None
) -> None:
    """Raise Conflict when another live connector of the owner has *slug*."""
    query = select(Connector.id).where(
        Connector.owner_key == owner_key, Connector.slug == slug, Connector.deleted_at.is_(None)
    )
    if except_id is not None:
        query = query.where(Connector.id != except_id)
    if await session.scalar(query) is not None:
        raise Conflict(
            f"a connector with the slug '{slug}' exists already here; choose another slug, "
            "or import as a new version of that connector"
        )


def apply_metadata(connector: Connector, spec: ConnectorSpec) -> None:
    """Copy the index fields (name, slug, type, description) from *spec* onto *connector*."""
    connector.name = spec.name
    connector.slug = spec.slug
    connector.type = spec.type
    connector.description = spec.description
    connector.updated_at = utcnow()


async def create_connector(
    session: AsyncSession,
    principal: Principal,
    spec: ConnectorSpec,
    document: dict[str, Any],
    files: dict[str, str],
    changelog: str = "",
    *,
    box: SecretBox,
) -> tuple[Connector, ConnectorVersion]:
    """Create a connector in *principal*'s scope with *document* as its draft (not committed).

    Sensitive defaults in *document* are sealed with *box* (the draft stores placeholders).

    Raises:
        PermissionDenied: the caller may not build connectors.
        Conflict: the owner has a connector with that slug.
        InvalidRequest: a sensitive default is the placeholder (there is nothing to keep).
    """
    check_may_build_connectors(principal)
    owner_key = principal.owner_key()
    await check_slug_free(session, owner_key, spec.slug)
    scope = scope_of(principal)
    connector = Connector(
        scope=scope,
        enterprise_id=principal.enterprise_id if scope == "enterprise" else None,
        owner_key=owner_key,
        created_by=principal.user_id,
        name=spec.name,
        slug=spec.slug,
        type=spec.type,
    )
    apply_metadata(connector, spec)
    connector.created_at = connector.updated_at
    session.add(connector)
    await session.flush()
    draft_id = new_id()
    draft = ConnectorVersion(
        id=draft_id,
        connector_id=connector.id,
        document=await store_sensitive_defaults(session, box, draft_id, document),
        files=files,
        changelog=changelog,
        created_by=principal.user_id,
    )
    session.add(draft)
    await flush_or_conflict(session)
    return connector, draft


async def delete_connector(session: AsyncSession, principal: Principal, connector_id: str) -> None:
    """Soft-delete a connector nobody uses (its versions are kept for the record).

    Raises:
        Conflict: live connections use it.
    """
    connector = await find_editable_connector(session, principal, connector_id)
    in_use = await session.scalar(
        select(func.count())
        .select_from(Connection)
        .where(Connection.connector_id == connector.id, Connection.deleted_at.is_(None))
    )
    if in_use:
        raise Conflict(
            f"{in_use} connection(s) use the connector '{connector.slug}'; "
            "delete those connections first"
        )
    connector.deleted_at = utcnow()
    await commit_or_conflict(session)


async def flush_or_conflict(session: AsyncSession) -> None:
    """Flush; a unique index refusing the rows (a concurrent write) becomes a Conflict."""
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise _concurrent() from None


async def commit_or_conflict(session: AsyncSession) -> None:
    """Commit; a unique index refusing the rows (a concurrent write) becomes a Conflict."""
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise _concurrent() from None


def _concurrent() -> Conflict:
    return Conflict(
        "the connector was changed at the same time by another request (slug or version taken); "
        "reload it and try again"
    )
