"""Who may see and change what. Every query for tenant data goes through these filters.

Visibility is decided in SQL, so a list never returns a row the caller may not see and a
lookup of another enterprise's id finds nothing (404) rather than something forbidden (403).

- Catalogue connectors: every user sees published ones; drafts (never published) only
  platform admins; only platform admins change them.
- Enterprise connectors: visible to that enterprise's users only (platform admins included
  out); changed by that enterprise's admins with SDK access.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_

from connectory.errors import PermissionDenied
from connectory.services.principal import Principal
from connectory.spec.operations import OperationSpec
from connectory.store.models import Connection, Connector, Enterprise, User


def visible_connectors(principal: Principal) -> ColumnElement[bool]:
    """SQL condition: connectors *principal* may see (deleted ones never)."""
    live = Connector.deleted_at.is_(None)
    if principal.is_platform_admin:
        return and_(live, Connector.scope == "catalogue")
    published_catalogue = and_(
        Connector.scope == "catalogue", Connector.latest_version.is_not(None)
    )
    own = (
        Connector.enterprise_id == principal.enterprise_id
        if principal.enterprise_id is not None
        else false()
    )
    return and_(live, or_(published_catalogue, own))


def may_see_drafts(principal: Principal, connector: Connector) -> bool:
    """Whether *principal* may see the draft version of a connector it can see."""
    if connector.scope == "catalogue":
        return principal.is_platform_admin
    return connector.enterprise_id == principal.enterprise_id


def check_may_edit_connector(principal: Principal, connector: Connector) -> None:
    """Raise PermissionDenied unless *principal* may change *connector* (which it can see)."""
    if connector.scope == "catalogue":
        if not principal.is_platform_admin:
            raise PermissionDenied("only platform admins can change catalogue connectors")
        return
    if not (
        principal.is_enterprise_admin
        and principal.sdk_access
        and connector.enterprise_id == principal.enterprise_id
    ):
        raise PermissionDenied(
            "only enterprise admins with connector SDK access can change this connector"
        )


def check_may_build_connectors(principal: Principal) -> None:
    """Raise PermissionDenied unless *principal* may create connectors at all."""
    if not principal.can_build_connectors:
        raise PermissionDenied(
            "creating connectors needs the platform admin role, or the enterprise admin role "
            "with connector SDK access"
        )


def check_may_run_operation(principal: Principal, operation: OperationSpec) -> None:
    """Raise PermissionDenied unless *principal* may run *operation* on a connection it sees.

    Viewers read: they may run only operations marked safe (GET and HEAD unless the
    connector says otherwise). The rule lives here so every front end (API, CLI through the
    API, later ones) applies the same one.
    """
    if principal.role == "viewer" and not operation.is_safe:
        raise PermissionDenied(
            f"viewers may run only safe operations (GET/HEAD, or marked safe: true); "
            f"'{operation.name}' is a {operation.method}; ask an enterprise admin"
        )


def check_may_write_records(principal: Principal, collection: str, method: str) -> None:
    """Raise PermissionDenied unless *principal* may create, update or delete records."""
    if not principal.is_enterprise_admin:
        raise PermissionDenied(
            f"{collection}.{method} changes records upstream, which needs the enterprise admin "
            "role; viewers may list, find, match and search"
        )


def visible_enterprises(principal: Principal) -> ColumnElement[bool]:
    """SQL condition: enterprises *principal* may see."""
    live = Enterprise.deleted_at.is_(None)
    if principal.is_platform_admin:
        return live
    if principal.enterprise_id is None:
        return false()
    return and_(live, Enterprise.id == principal.enterprise_id)


def visible_users(principal: Principal) -> ColumnElement[bool]:
    """SQL condition: users *principal* may see (admins see their scope; viewers themselves)."""
    live = User.deleted_at.is_(None)
    if principal.is_platform_admin:
        return live
    if principal.is_enterprise_admin and principal.enterprise_id is not None:
        return and_(live, User.enterprise_id == principal.enterprise_id)
    return and_(live, User.id == principal.user_id)


def visible_connections(principal: Principal) -> ColumnElement[bool]:
    """SQL condition: connections *principal* may see (their enterprise's only)."""
    live = Connection.deleted_at.is_(None)
    if principal.enterprise_id is None:
        return false()
    return and_(live, Connection.enterprise_id == principal.enterprise_id)


__all__ = [
    "check_may_build_connectors",
    "check_may_edit_connector",
    "check_may_run_operation",
    "check_may_write_records",
    "may_see_drafts",
    "visible_connections",
    "visible_connectors",
    "visible_enterprises",
    "visible_users",
]
