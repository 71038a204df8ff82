"""Connections: an enterprise's credentials for one published connector version.

Sensitive credential fields (``sensitive: true`` or ``type: password``) are encrypted in
``secret_values`` and are write-only: responses show :data:`PLACEHOLDER`, and an update that
sends the placeholder back keeps the stored value. Other fields are kept in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import FieldIssue, InvalidRequest, NotFound, PermissionDenied
from connectory.runtime.inputs import check_fields
from connectory.services.access import visible_connections, visible_connectors
from connectory.services.generations import bump_connection
from connectory.services.listing import fetch_page, is_plausible_id
from connectory.services.principal import Principal
from connectory.services.secret_store import (
    PLACEHOLDER,
    SecretBox,
    delete_secrets,
    read_secrets,
    secret_fields,
    write_secrets,
)
from connectory.spec.connector import ConnectorSpec
from connectory.store.models import Connection, Connector, ConnectorVersion, utcnow

#: Owner type of a connection's encrypted credentials.
CREDENTIALS_OWNER = "connection"


@dataclass
class ConnectionDetails:
    """A connection with what it is bound to."""

    connection: Connection
    connector: Connector
    version: ConnectorVersion
    spec: ConnectorSpec
    stored_secrets: set[str]

    def shown_credentials(self) -> dict[str, Any]:
        """Credentials as responses show them: sensitive ones as the placeholder."""
        shown: dict[str, Any] = dict(self.connection.public_credentials)
        for name in self.stored_secrets:
            shown[name] = PLACEHOLDER
        return shown


def check_may_manage_connections(principal: Principal) -> None:
    """Creating, changing and deleting connections is for enterprise admins."""
    if not (principal.is_enterprise_admin and principal.enterprise_id is not None):
        raise PermissionDenied("only enterprise admins can create, change or delete connections")


def spec_of(version: ConnectorVersion) -> ConnectorSpec:
    """The connector spec of a stored (published, hence valid) version, with its code files."""
    return ConnectorSpec.model_validate(version.document).with_code_files(version.files)


async def get_connection(
    session: AsyncSession, principal: Principal, connection_id: str
) -> ConnectionDetails:
    """Return a connection the caller may see.

    Raises:
        NotFound: no such connection, or another enterprise's, or deleted.
    """
    missing = NotFound(f"connection {connection_id!r} not found")
    if not is_plausible_id(connection_id):
        raise missing
    row = await session.execute(
        select(Connection, Connector, ConnectorVersion)
        .join(Connector, Connector.id == Connection.connector_id)
        .join(ConnectorVersion, ConnectorVersion.id == Connection.version_id)
        .where(Connection.id == connection_id, visible_connections(principal))
    )
    found = row.first()
    if found is None:
        raise missing
    connection, connector, version = found
    stored = await secret_fields(session, CREDENTIALS_OWNER, connection.id)
    return ConnectionDetails(connection, connector, version, spec_of(version), stored)


async def list_connections(
    session: AsyncSession,
    principal: Principal,
    limit: int,
    offset: int,
    connector_id: str | None = None,
    health: str | None = None,
) -> tuple[list[Connection], int]:
    """A page of the caller's enterprise's connections."""
    query = select(Connection).where(visible_connections(principal))
    if connector_id is not None:
        query = query.where(Connection.connector_id == connector_id)
    if health is not None:
        query = query.where(Connection.health == health)
    query = query.order_by(Connection.created_at.desc(), Connection.id)
    return await fetch_page(session, query, limit, offset)


async def find_published_version(
    session: AsyncSession, principal: Principal, connector_id: str, version: str | None
) -> tuple[Connector, ConnectorVersion]:
    """The published *version* (default: the latest) of a connector the caller can see.

    Raises:
        NotFound: the connector is not visible, or has no such published version.
        InvalidRequest: the connector has never been published.
    """
    if not is_plausible_id(connector_id):
        raise NotFound(f"connector {connector_id!r} not found")
    connector = await session.scalar(
        select(Connector).where(Connector.id == connector_id, visible_connectors(principal))
    )
    if connector is None:
        raise NotFound(f"connector {connector_id!r} not found")
    wanted = version or connector.latest_version
    if wanted is None:
        raise InvalidRequest(
            f"connector {connector.slug!r} has no published version yet; publish it first",
            [FieldIssue(("body", "connector_id"), "the connector is not published")],
        )
    found = await session.scalar(
        select(ConnectorVersion).where(
            ConnectorVersion.connector_id == connector.id,
            ConnectorVersion.version == wanted,
            ConnectorVersion.is_draft.is_(False),
        )
    )
    if found is None:
        raise NotFound(f"connector {connector.slug!r} has no published version {wanted!r}")
    return connector, found


def merge_credentials(
    spec: ConnectorSpec, given: dict[str, Any], stored_secrets: set[str]
) -> tuple[dict[str, Any], dict[str, str | None], list[FieldIssue]]:
    """Validate credentials sent by a client against the connector's credential schema.

    The credentials are replaced whole (a PUT sends every field); a sensitive field sent as
    the placeholder keeps its stored value, and one left out is cleared.

    Args:
        spec: The connector.
        given: The credentials in the request.
        stored_secrets: Sensitive fields that have a stored value.

    Returns:
        The public values to store, the secret changes (field -> new value, or None to delete),
        and field-level issues.
    """
    schema = spec.auth.credential_schema
    issues: list[FieldIssue] = []
    probe: dict[str, Any] = {}
    for name, value in given.items():
        if value == PLACEHOLDER and name in schema and schema[name].is_sensitive:
            if name not in stored_secrets:
                issues.append(
                    FieldIssue(("body", "credentials", name), f"no value is stored for '{name}'")
                )
            probe[name] = "stored"  # stands in for the kept value when checking "required"
        else:
            probe[name] = value
    resolved, problems = check_fields(schema, probe, "credential")
    issues += [FieldIssue(("body", "credentials", field), message) for field, message in problems]
    public: dict[str, Any] = {}
    secrets: dict[str, str | None] = {}
    for name, field in schema.items():
        if field.is_sensitive:
            if given.get(name) == PLACEHOLDER:
                continue  # keep the stored value
            if name in resolved and name in given:
                secrets[name] = str(resolved[name])
            elif name in stored_secrets:
                secrets[name] = None  # omitted on purpose: cleared
        elif name in resolved:
            public[name] = resolved[name]
    return public, secrets, issues


async def create_connection(
    session: AsyncSession,
    principal: Principal,
    box: SecretBox,
    *,
    connector_id: str,
    version: str | None,
    name: str,
    credentials: dict[str, Any],
    config: dict[str, Any],
) -> ConnectionDetails:
    """Create a connection in the caller's enterprise.

    Raises:
        PermissionDenied, NotFound, InvalidRequest (field-level credential issues).
    """
    check_may_manage_connections(principal)
    assert principal.enterprise_id is not None
    connector, found = await find_published_version(session, principal, connector_id, version)
    spec = spec_of(found)
    public, secrets, issues = merge_credentials(spec, credentials, set())
    if issues:
        raise InvalidRequest(
            "the credentials do not match the connector's credential schema", issues
        )
    connection = Connection(
        enterprise_id=principal.enterprise_id,
        connector_id=connector.id,
        version_id=found.id,
        name=name,
        public_credentials=public,
        config=config,
        created_by=principal.user_id,
    )
    session.add(connection)
    await session.flush()
    await write_secrets(session, box, CREDENTIALS_OWNER, connection.id, secrets)
    await session.flush()
    stored = {field for field, value in secrets.items() if value is not None}
    return ConnectionDetails(connection, connector, found, spec, stored)


async def update_connection(
    session: AsyncSession,
    principal: Principal,
    box: SecretBox,
    connection_id: str,
    *,
    name: str | None,
    credentials: dict[str, Any] | None,
    config: dict[str, Any] | None,
) -> ConnectionDetails:
    """Change a connection's name, credentials (placeholder keeps a secret) or config."""
    details = await get_connection(session, principal, connection_id)
    check_may_manage_connections(principal)
    connection = details.connection
    if credentials is not None:
        public, secrets, issues = merge_credentials(
            details.spec, credentials, details.stored_secrets
        )
        if issues:
            raise InvalidRequest(
                "the credentials do not match the connector's credential schema", issues
            )
        connection.public_credentials = public
        await write_secrets(session, box, CREDENTIALS_OWNER, connection.id, secrets)
        for field, value in secrets.items():
            if value is None:
                details.stored_secrets.discard(field)
            else:
                details.stored_secrets.add(field)
    if name is not None:
        connection.name = name
    if config is not None:
        connection.config = config
    connection.updated_at = utcnow()
    await session.flush()
    if credentials is not None or config is not None:
        # Running clients (in every process) hold the old values: replace them on commit.
        await bump_connection(session, connection.id)
    return details


async def delete_connection(
    session: AsyncSession, principal: Principal, connection_id: str
) -> None:
    """Soft-delete a connection and destroy its stored secrets."""
    details = await get_connection(session, principal, connection_id)
    check_may_manage_connections(principal)
    details.connection.deleted_at = utcnow()
    await delete_secrets(session, CREDENTIALS_OWNER, details.connection.id)
    await session.flush()
    await bump_connection(session, details.connection.id)


async def load_credentials(
    session: AsyncSession, box: SecretBox, details: ConnectionDetails
) -> dict[str, Any]:
    """The connection's full credentials, secrets decrypted, for the runtime only."""
    values: dict[str, Any] = dict(details.connection.public_credentials)
    values.update(await read_secrets(session, box, CREDENTIALS_OWNER, details.connection.id))
    return values


@dataclass
class UpgradePlan:
    """What moving a connection to another version of its connector means."""

    from_version: str
    to_version: str
    bump: str
    breaking_changes: list[str]
    credential_issues: list[str]
    applied: bool


async def upgrade_connection(
    session: AsyncSession,
    principal: Principal,
    connection_id: str,
    to_version: str | None,
    dry_run: bool,
) -> UpgradePlan:
    """Move a connection to another published version (default: the latest), explicitly.

    A dry run reports what would break: removed operations, newly required parameters or
    credential fields, and which stored credentials the new version would not accept.

    Raises:
        InvalidRequest: not a dry run and the stored credentials do not fit the new version.
    """
    from connectory.services.versioning import suggest_bump  # the connectors' diff rules

    details = await get_connection(session, principal, connection_id)
    check_may_manage_connections(principal)
    _, target = await find_published_version(session, principal, details.connector.id, to_version)
    new_spec = spec_of(target)
    suggestion = suggest_bump(details.spec, new_spec)
    probe = dict(details.connection.public_credentials)
    probe.update({name: "stored" for name in details.stored_secrets})
    _, problems = check_fields(new_spec.auth.credential_schema, probe, "credential")
    plan = UpgradePlan(
        from_version=details.version.version or "",
        to_version=target.version or "",
        bump=suggestion.bump,
        breaking_changes=suggestion.reasons if suggestion.bump == "major" else [],
        credential_issues=[message for _, message in problems],
        applied=False,
    )
    if dry_run:
        return plan
    if problems:
        raise InvalidRequest(
            f"the connection's credentials do not fit version {plan.to_version}: update them first",
            [FieldIssue(("body", "credentials", field), message) for field, message in problems],
        )
    details.connection.version_id = target.id
    details.connection.updated_at = utcnow()
    await session.flush()
    await bump_connection(session, details.connection.id)
    plan.applied = True
    return plan
