"""The tables. Ids are random (uuid4 hex), so one tenant cannot guess another's.

Every tenant-owned row carries ``enterprise_id``; catalogue connectors have none. Rows are
soft-deleted (``deleted_at``) so history and audit survive; a deleted row answers 404.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: Plain JSON, also on PostgreSQL: JSONB would reorder keys, and the order of fields in a
#: credential_schema is the order of the connect form.
JSONDocument = JSON()


def new_id() -> str:
    """Return a fresh random id."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index over the rows matching *where* only, the same on SQLite and PostgreSQL.

    Args:
        name: The index's name.
        columns: Its columns.
        where: The SQL condition a row meets to count (``deleted_at IS NULL``: live rows).
        unique: Whether the indexed rows' values are unique.
    """
    return Index(
        name, *columns, unique=unique, sqlite_where=text(where), postgresql_where=text(where)
    )


def partial_unique_index(name: str, *columns: str, where: str) -> Index:
    """A unique :func:`partial_index`: unique among the rows matching *where*."""
    return partial_index(name, *columns, where=where, unique=True)


class Base(DeclarativeBase):
    """Base of every table."""

    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSONDocument}


class Enterprise(Base):
    """A tenant."""

    __tablename__ = "enterprises"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    #: Where OAuth flows and connect links may send a person back to (URL prefixes); any
    #: other return URL shows Connectory's own outcome page instead (docs/oauth.md).
    return_urls: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class User(Base):
    """A person or integration with a role; platform admins belong to no enterprise."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(
        ForeignKey("enterprises.id"), default=None, index=True
    )
    sdk_access: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        partial_unique_index("uq_users_email_live", "email", where="deleted_at IS NULL"),
    )


class ApiToken(Base):
    """An API token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship(lazy="joined")


class Connector(Base):
    """A connector: its identity and owner. Its content lives in its versions."""

    __tablename__ = "connectors"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(16))  # catalogue | enterprise
    enterprise_id: Mapped[str | None] = mapped_column(
        ForeignKey("enterprises.id"), default=None, index=True
    )
    #: ``catalogue`` or the enterprise id: one column to make slugs unique per owner.
    owner_key: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    #: Latest published version, e.g. "1.2.0"; None while never published.
    latest_version: Mapped[str | None] = mapped_column(String(32), default=None)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        partial_unique_index(
            "uq_connectors_owner_slug_live", "owner_key", "slug", where="deleted_at IS NULL"
        ),
    )


class ConnectorVersion(Base):
    """One version of a connector's files: the draft (``version`` None) or a frozen release."""

    __tablename__ = "connector_versions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    connector_id: Mapped[str] = mapped_column(ForeignKey("connectors.id"), index=True)
    version: Mapped[str | None] = mapped_column(String(32), default=None)
    major: Mapped[int] = mapped_column(Integer, default=0)
    minor: Mapped[int] = mapped_column(Integer, default=0)
    patch: Mapped[int] = mapped_column(Integer, default=0)
    is_draft: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The connector document (what connector.yaml holds, sections merged), as JSON.
    document: Mapped[dict[str, Any]] = mapped_column()
    #: Other files of the connector (hooks/*.js, ...) by relative path.
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)
    changelog: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        UniqueConstraint("connector_id", "version", name="uq_connector_versions_version"),
        partial_unique_index("uq_connector_versions_one_draft", "connector_id", where="is_draft"),
    )


class Connection(Base):
    """An enterprise's connection to one published connector version.

    Non-secret inputs (``config``, non-sensitive credential fields) are kept here; sensitive
    credential fields are encrypted in :class:`SecretValue` rows owned by the connection.
    """

    __tablename__ = "connections"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    enterprise_id: Mapped[str] = mapped_column(ForeignKey("enterprises.id"), index=True)
    connector_id: Mapped[str] = mapped_column(ForeignKey("connectors.id"), index=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("connector_versions.id"))
    name: Mapped[str] = mapped_column(String(200))
    #: Credential fields that are not sensitive (a client id, a region), in clear.
    public_credentials: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Non-secret connection settings, available to templates as ``config``.
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: healthy | degraded | auth_error | unreachable | unknown
    health: Mapped[str] = mapped_column(String(16), default="unknown")
    health_detail: Mapped[str] = mapped_column(Text, default="")
    health_checked_at: Mapped[datetime | None] = mapped_column(default=None)
    #: Bumped in the transaction of every change a running client must pick up (credentials,
    #: config, version, deletion, connector parameters, stored token refreshes); see
    #: ``connectory.services.generations``. Clients cached in any process compare it.
    generation: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    #: The connection's tool policy for AI agents (MCP); None is the default, read-only tools
    #: (see ``connectory.toolkit.policy``).
    mcp_policy: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, default=None)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class SecretValue(Base):
    """One encrypted secret: a sensitive credential of a connection, a connector parameter.

    The ciphertext is bound to (owner_type, owner_id, field) as AES-GCM associated data, so a
    value copied to another row cannot be decrypted. ``key_version`` finds the values that a
    key rotation still has to re-encrypt.
    """

    __tablename__ = "secret_values"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_type: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(200))
    ciphertext: Mapped[str] = mapped_column(Text)
    key_version: Mapped[int] = mapped_column(Integer, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("owner_type", "owner_id", "field", name="uq_secret_values_owner_field"),
    )


class OpenAPIDescription(Base):
    """The OpenAPI description a connector version was imported from, kept compressed.

    Kept beside the version, not in its document: a description is often larger than the
    connector (GitHub's is 13 MB) and has its own size cap
    (:data:`connectory.services.openapi_descriptions.MAX_STORED_BYTES`). A version has at most
    one; a draft started from a version carries it over.
    """

    __tablename__ = "openapi_descriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    version_id: Mapped[str] = mapped_column(
        ForeignKey("connector_versions.id", ondelete="CASCADE"), unique=True
    )
    #: ``application/json`` or ``application/yaml``, as the description was received.
    media_type: Mapped[str] = mapped_column(String(64))
    #: Where it came from (a URL or a file name), if known.
    source: Mapped[str | None] = mapped_column(String(2000), default=None)
    #: gzip of the description's bytes as received.
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OAuthGrant(Base):
    """What is known of a connection's OAuth2 grant besides its tokens.

    The tokens themselves are secrets (``secret_values``, owner ``oauth_grant``); this row
    holds their expiry, so idle connections can be refreshed before the refresh token runs
    out, and whether the provider revoked the grant (the connection needs re-authorizing).
    """

    __tablename__ = "oauth_grants"

    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"), primary_key=True)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    scope: Mapped[str | None] = mapped_column(Text, default=None)
    obtained_at: Mapped[datetime] = mapped_column(default=utcnow)
    refreshed_at: Mapped[datetime | None] = mapped_column(default=None)
    #: Set when the provider answered invalid_grant: only a person authorizing again mends it.
    rejected_at: Mapped[datetime | None] = mapped_column(default=None)


class OAuthFlow(Base):
    """One authorization code flow in progress: the server side of its ``state``.

    Only a hash of the state and of the browser's flow cookie are stored; the PKCE verifier
    and any sensitive credential entered before the flow are secrets (owner ``oauth_flow``).
    A flow is used once (``used_at`` is set atomically) and expires within minutes.
    """

    __tablename__ = "oauth_flows"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    browser_hash: Mapped[str] = mapped_column(String(64))
    enterprise_id: Mapped[str] = mapped_column(ForeignKey("enterprises.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    connector_id: Mapped[str] = mapped_column(ForeignKey("connectors.id"))
    version_id: Mapped[str] = mapped_column(ForeignKey("connector_versions.id"))
    #: Re-authorizing an existing connection; None creates a new one.
    connection_id: Mapped[str | None] = mapped_column(ForeignKey("connections.id"), default=None)
    connect_link_id: Mapped[str | None] = mapped_column(
        ForeignKey("connect_links.id"), default=None
    )
    name: Mapped[str] = mapped_column(String(200))
    public_credentials: Mapped[dict[str, Any]] = mapped_column(default=dict)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    redirect_uri: Mapped[str] = mapped_column(Text)
    return_url: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class ConnectLink(Base):
    """A single-use, expiring link an enterprise admin hands to a person to connect an account.

    Only the token's hash is stored; the link (with the token) is shown once.
    """

    __tablename__ = "connect_links"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    enterprise_id: Mapped[str] = mapped_column(ForeignKey("enterprises.id"), index=True)
    connector_id: Mapped[str] = mapped_column(ForeignKey("connectors.id"))
    #: The published version to connect; None: the latest when the link is used.
    version: Mapped[str | None] = mapped_column(String(32), default=None)
    name: Mapped[str] = mapped_column(String(200))
    return_url: Mapped[str | None] = mapped_column(Text, default=None)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    connection_id: Mapped[str | None] = mapped_column(ForeignKey("connections.id"), default=None)
