"""A connector's parameters: values the admin sets once for every connection (write-only).

Values are stored encrypted whatever their sensitivity (the seed makes connector parameters
write-only) and are only ever read back by the runtime.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import FieldIssue, InvalidRequest, NotFound
from connectory.runtime.inputs import check_fields
from connectory.services.access import check_may_edit_connector, visible_connectors
from connectory.services.connection_runtime import CONNECTOR_PARAMETERS_OWNER
from connectory.services.generations import bump_connector_connections
from connectory.services.listing import is_plausible_id
from connectory.services.principal import Principal
from connectory.services.secret_store import SecretBox, secret_fields, write_secrets
from connectory.spec.fields import InputFieldSpec
from connectory.store.models import Connector, ConnectorVersion, utcnow


async def _connector_and_schema(
    session: AsyncSession, principal: Principal, connector_id: str
) -> tuple[Connector, dict[str, InputFieldSpec]]:
    if not is_plausible_id(connector_id):
        raise NotFound(f"connector {connector_id!r} not found")
    connector = await session.scalar(
        select(Connector).where(Connector.id == connector_id, visible_connectors(principal))
    )
    if connector is None:
        raise NotFound(f"connector {connector_id!r} not found")
    # The newest version declares the parameters: the draft if there is one.
    version = await session.scalar(
        select(ConnectorVersion)
        .where(ConnectorVersion.connector_id == connector.id)
        .order_by(
            ConnectorVersion.is_draft.desc(),
            ConnectorVersion.major.desc(),
            ConnectorVersion.minor.desc(),
            ConnectorVersion.patch.desc(),
        )
        .limit(1)
    )
    declared = version.document.get("parameters", {}) if version is not None else {}
    schema = {
        name: InputFieldSpec.model_validate(field)
        for name, field in (declared.items() if isinstance(declared, dict) else [])
    }
    return connector, schema


async def parameter_status(
    session: AsyncSession, principal: Principal, connector_id: str
) -> dict[str, bool]:
    """Which declared parameters have a value (values are never returned)."""
    connector, schema = await _connector_and_schema(session, principal, connector_id)
    check_may_edit_connector(principal, connector)
    stored = await secret_fields(session, CONNECTOR_PARAMETERS_OWNER, connector.id)
    return {name: name in stored for name in sorted(set(schema) | stored)}


async def set_parameters(
    session: AsyncSession,
    principal: Principal,
    box: SecretBox,
    connector_id: str,
    values: dict[str, Any],
) -> dict[str, bool]:
    """Set (or, with None, remove) parameter values; return which parameters have a value."""
    connector, schema = await _connector_and_schema(session, principal, connector_id)
    check_may_edit_connector(principal, connector)
    present = {name: value for name, value in values.items() if value is not None}
    unknown = [name for name in values if name not in schema]
    # Checking "required" makes no sense for a partial update; only types and names here.
    relaxed = {name: field.model_copy(update={"required": False}) for name, field in schema.items()}
    resolved, problems = check_fields(relaxed, present, "connector parameter")
    issues = [FieldIssue(("body", "values", field), message) for field, message in problems]
    issues += [
        FieldIssue(("body", "values", name), f"the connector declares no parameter '{name}'")
        for name in unknown
        if not any(issue.location[-1] == name for issue in issues)
    ]
    if issues:
        raise InvalidRequest("the values do not match the connector's parameters", issues)
    changes: dict[str, str | None] = {
        name: (None if values[name] is None else str(resolved[name])) for name in values
    }
    await write_secrets(session, box, CONNECTOR_PARAMETERS_OWNER, connector.id, changes)
    connector.updated_at = utcnow()
    await session.flush()
    # Every connection's clients (in every process) hold the old values: replace them on commit.
    await bump_connector_connections(session, connector.id)
    stored = await secret_fields(session, CONNECTOR_PARAMETERS_OWNER, connector.id)
    return {name: name in stored for name in sorted(set(schema) | stored)}
