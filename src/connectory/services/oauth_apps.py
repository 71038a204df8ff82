"""An enterprise's own OAuth app for a Catalogue connector (write-only client id and secret).

A Catalogue OAuth connector reads its client id and secret from connector parameters that the
platform admin sets once (``client_id: "{{ connector_parameters.client_id }}"``). An
enterprise admin may register their own app with the provider and set its client id and
secret for their enterprise: their connections of that connector (the flow's authorize URL,
code exchange, refresh and revocation) then use that app, and no other enterprise sees it.

Where it lives: the ``secret_values`` owner :data:`APP_OWNER`, owner id
``<connector id><enterprise id>`` (a per-(connector, enterprise) parameters owner), fields
``client_id`` and ``client_secret``, both encrypted and never returned.

What it replaces, and only that: the two connector parameters the auth section reads as plain
look-ups for ``client_id`` and ``client_secret``. Nothing else can be overridden (an enterprise
that could change the token URL but not the secret could send the platform's secret to a
server of its choice), and both are set together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import FieldIssue, InvalidRequest, NotFound, PermissionDenied
from connectory.services.access import visible_connectors
from connectory.services.connections import spec_of
from connectory.services.generations import bump_connection
from connectory.services.listing import is_plausible_id
from connectory.services.principal import Principal
from connectory.services.secret_store import (
    SecretBox,
    delete_secrets,
    read_secrets,
    secret_fields,
    write_secrets,
)
from connectory.spec.auth import OAuth2AuthSpec
from connectory.spec.connector import ConnectorSpec
from connectory.store.models import Connection, Connector, ConnectorVersion

#: Owner type of an enterprise's OAuth app values in ``secret_values``.
APP_OWNER = "enterprise_oauth_app"

_PLAIN_PARAMETER = re.compile(r"^\{\{\s*connector_parameters\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
_MAX_VALUE = 4096


@dataclass(frozen=True)
class AppStatus:
    """Whether an enterprise may set, and has set, its own OAuth app for a connector."""

    supported: bool
    configured: bool
    detail: str


def app_owner_id(connector_id: str, enterprise_id: str) -> str:
    """The owner id of one enterprise's app for one connector (two 32-character ids)."""
    return connector_id + enterprise_id


def app_parameter_names(spec: ConnectorSpec) -> tuple[str, str] | None:
    """The connector parameters holding the OAuth client id and secret, or None.

    None unless the auth section reads both as plain ``{{ connector_parameters.NAME }}``
    look-ups.
    """
    auth = spec.auth
    if not isinstance(auth, OAuth2AuthSpec):
        return None
    client_id = _PLAIN_PARAMETER.match(auth.client_id.strip())
    client_secret = _PLAIN_PARAMETER.match(auth.client_secret.strip())
    if client_id is None or client_secret is None:
        return None
    return client_id.group(1), client_secret.group(1)


async def enterprise_app_parameters(
    session: AsyncSession,
    box: SecretBox,
    spec: ConnectorSpec,
    connector_id: str,
    enterprise_id: str,
) -> dict[str, str]:
    """The connector parameters an enterprise's own app replaces (empty: none set)."""
    names = app_parameter_names(spec)
    if names is None:
        return {}
    values = await read_secrets(session, box, APP_OWNER, app_owner_id(connector_id, enterprise_id))
    if "client_id" not in values or "client_secret" not in values:
        return {}
    return {names[0]: values["client_id"], names[1]: values["client_secret"]}


async def _catalogue_connector(
    session: AsyncSession, principal: Principal, connector_id: str
) -> tuple[Connector, ConnectorSpec | None]:
    if not (principal.is_enterprise_admin and principal.enterprise_id is not None):
        raise PermissionDenied("only enterprise admins can set their enterprise's OAuth app")
    if not is_plausible_id(connector_id):
        raise NotFound(f"connector {connector_id!r} not found")
    connector = await session.scalar(
        select(Connector).where(Connector.id == connector_id, visible_connectors(principal))
    )
    if connector is None:
        raise NotFound(f"connector {connector_id!r} not found")
    version = await session.scalar(
        select(ConnectorVersion).where(
            ConnectorVersion.connector_id == connector.id,
            ConnectorVersion.version == connector.latest_version,
            ConnectorVersion.is_draft.is_(False),
        )
    )
    return connector, spec_of(version) if version is not None else None


def _status(connector: Connector, spec: ConnectorSpec | None, configured: bool) -> AppStatus:
    if connector.scope != "catalogue":
        return AppStatus(
            False, False, "an enterprise connector's client id and secret are its parameters"
        )
    if spec is None or app_parameter_names(spec) is None:
        return AppStatus(
            False,
            False,
            "this connector does not read its OAuth client id and secret from connector "
            "parameters, so there is no app to replace",
        )
    detail = "your enterprise's own OAuth app is used" if configured else "the catalogue's app"
    return AppStatus(True, configured, detail)


async def app_status(session: AsyncSession, principal: Principal, connector_id: str) -> AppStatus:
    """Whether the caller's enterprise may set, and has set, its own app (values never shown)."""
    connector, spec = await _catalogue_connector(session, principal, connector_id)
    assert principal.enterprise_id is not None
    stored = await secret_fields(
        session, APP_OWNER, app_owner_id(connector.id, principal.enterprise_id)
    )
    return _status(connector, spec, {"client_id", "client_secret"} <= stored)


async def set_app(
    session: AsyncSession,
    principal: Principal,
    box: SecretBox,
    connector_id: str,
    client_id: str,
    client_secret: str,
) -> AppStatus:
    """Set the caller's enterprise's own OAuth app for a Catalogue connector.

    Raises:
        PermissionDenied, NotFound; InvalidRequest: the connector cannot take an app, or a
            value is empty or too long.
    """
    connector, spec = await _catalogue_connector(session, principal, connector_id)
    assert principal.enterprise_id is not None
    status = _status(connector, spec, False)
    if not status.supported:
        raise InvalidRequest(status.detail, [FieldIssue(("path", "connector_id"), status.detail)])
    issues = [
        FieldIssue(("body", name), f"{name} must be 1 to {_MAX_VALUE} characters")
        for name, value in (("client_id", client_id), ("client_secret", client_secret))
        if not value.strip() or len(value) > _MAX_VALUE
    ]
    if issues:
        raise InvalidRequest("the OAuth app needs a client id and a client secret", issues)
    owner = app_owner_id(connector.id, principal.enterprise_id)
    await write_secrets(
        session,
        box,
        APP_OWNER,
        owner,
        {"client_id": client_id.strip(), "client_secret": client_secret},
    )
    await _bump_enterprise_connections(session, connector.id, principal.enterprise_id)
    return _status(connector, spec, True)


async def delete_app(session: AsyncSession, principal: Principal, connector_id: str) -> AppStatus:
    """Go back to the catalogue's app for the caller's enterprise."""
    connector, spec = await _catalogue_connector(session, principal, connector_id)
    assert principal.enterprise_id is not None
    await delete_secrets(session, APP_OWNER, app_owner_id(connector.id, principal.enterprise_id))
    await _bump_enterprise_connections(session, connector.id, principal.enterprise_id)
    return _status(connector, spec, False)


async def _bump_enterprise_connections(
    session: AsyncSession, connector_id: str, enterprise_id: str
) -> None:
    # The enterprise's clients (in every process) hold the old app: replace them on commit.
    ids = await session.scalars(
        select(Connection.id).where(
            Connection.connector_id == connector_id,
            Connection.enterprise_id == enterprise_id,
            Connection.deleted_at.is_(None),
        )
    )
    await session.flush()
    for connection_id in list(ids):
        await bump_connection(session, connection_id)
