"""Request and response bodies of ``/connections`` and connector parameters.

Sensitive values never come back: a stored secret shows as ``"********"``, and sending that
placeholder back in an update keeps the stored value.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connectory.api.schemas.identity import IdRef, Name, Timestamp
from connectory.api.schemas.oauth import OAuthGrantOut
from connectory.api.schemas.values import ConfigObject, ParameterObject, Values

__all__ = ["Values"]

Health = Literal["healthy", "degraded", "auth_error", "unreachable", "unknown"]


class _Request(BaseModel):
    # strict: no coercion the schema does not promise (true is not an integer, "1" not a bool).
    model_config = ConfigDict(extra="forbid", strict=True)


class ConnectionCreate(_Request):
    """A new connection to a published connector."""

    connector_id: IdRef
    version: str | None = Field(
        default=None, max_length=32, description="Published version; default: the latest."
    )
    name: Name
    credentials: Values = Field(default_factory=dict, max_length=100)
    config: ConfigObject = Field(default_factory=dict)


class ConnectionUpdate(_Request):
    """Changes to a connection. Credentials are replaced whole; "********" keeps a secret."""

    name: Name | None = None
    credentials: Values | None = Field(default=None, max_length=100)
    config: ConfigObject | None = None


class ConnectorRef(BaseModel):
    """The connector a connection uses."""

    id: str
    slug: str
    name: str


class ConnectionPublic(BaseModel):
    """A connection as responses show it (sensitive values as the placeholder)."""

    id: str
    name: str
    connector: ConnectorRef
    version: str
    credentials: dict[str, Any]
    config: dict[str, Any]
    health: Health
    health_detail: str
    health_checked_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp
    oauth: OAuthGrantOut | None = Field(
        default=None, description="The OAuth2 grant, for connections that hold one."
    )


class ConnectionSummary(BaseModel):
    """A connection in a list."""

    id: str
    name: str
    connector_id: str
    health: Health
    created_at: Timestamp


class ConnectionTestOut(BaseModel):
    """The result of testing a connection."""

    status: Literal["ok", "auth_failed", "unreachable", "degraded", "failed"]
    health: Health
    detail: str
    operation: str | None
    upstream_status: int | None
    elapsed: float | None


class OperationRun(_Request):
    """Parameters of an operation call."""

    params: ParameterObject = Field(default_factory=dict)


class SchemaMismatchOut(BaseModel):
    """Where a response does not match the operation's response schema."""

    path: str
    message: str


class SentRequestOut(BaseModel):
    """The request as sent, secrets redacted."""

    method: str
    url: str
    headers: dict[str, str]
    body: str | None


class CodeLogLineOut(BaseModel):
    """A line the connector's JavaScript logged during the call (redacted)."""

    level: str
    message: str
    location: str | None = Field(description="file:line:col of the ctx.log call.")


class OperationRunOut(BaseModel):
    """What the upstream answered (any status), redacted, with timing."""

    operation: str
    status_code: int
    headers: dict[str, str]
    body: Any
    elapsed: float
    schema_mismatches: list[SchemaMismatchOut]
    request: SentRequestOut | None
    request_before_hooks: SentRequestOut | None = Field(
        default=None, description="The request before pre-request hooks changed it."
    )
    logs: list[CodeLogLineOut] = Field(
        default_factory=list, description="What the connector's JavaScript logged."
    )
    api_calls: list[SentRequestOut] = Field(
        default_factory=list, description="Requests a JavaScript method sent (ctx.apiClient)."
    )


class ConnectorParametersUpdate(_Request):
    """New values of a connector's parameters (write-only); null removes a value."""

    values: Values = Field(max_length=100)


class ConnectorParametersOut(BaseModel):
    """Which connector parameters have a value (values are never shown)."""

    parameters: dict[str, bool]


class ConnectionUpgrade(_Request):
    """Move a connection to another published version of its connector."""

    to_version: str | None = Field(default=None, max_length=32, description="Default: latest.")
    dry_run: bool = Field(default=True, description="Only report what would change.")


class UpgradePlanOut(BaseModel):
    """What an upgrade changes (and whether it was applied)."""

    from_version: str
    to_version: str
    bump: str
    breaking_changes: list[str]
    credential_issues: list[str]
    applied: bool


class ContractTestIn(_Request):
    """A contract test of a connection against an OpenAPI description."""

    include_writes: bool = Field(
        default=False,
        description="Call unsafe operations too (POST, PUT, PATCH, DELETE); not for viewers.",
    )
    description: str | None = Field(
        default=None,
        max_length=50 * 1024 * 1024,
        description="The OpenAPI 3.x description (JSON or YAML text). Default: the one kept "
        "with the connection's connector version.",
    )


class ContractCheckOut(BaseModel):
    """One operation's contract check (messages are redacted)."""

    operation: str
    outcome: Literal["passed", "failed", "skipped"]
    status: int | None = None
    request_errors: list[str] = Field(default_factory=list)
    response_errors: list[str] = Field(default_factory=list)
    reason: str | None = None


class ContractTestOut(BaseModel):
    """Every operation's contract check, and how many passed, failed and were skipped."""

    counts: dict[str, int]
    operations: list[ContractCheckOut]
    description_source: Literal["request", "kept"]
