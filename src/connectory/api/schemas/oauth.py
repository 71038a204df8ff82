"""Request and response bodies of the OAuth2 flow, connect links and enterprise OAuth apps."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from connectory.api.schemas.identity import IdRef, Name, Timestamp
from connectory.api.schemas.values import WHOLE_NUMBER, ConfigObject, Values


class _Request(BaseModel):
    # strict: no coercion the schema does not promise (as on /connections).
    model_config = ConfigDict(extra="forbid", strict=True)


class OAuthGrantOut(BaseModel):
    """A connection's OAuth2 grant, without its tokens."""

    authorized_at: Timestamp = Field(description="When a person last authorized it.")
    refreshed_at: Timestamp | None = Field(description="When its tokens were last refreshed.")
    expires_at: Timestamp | None = Field(description="When the access token expires.")
    refresh_expires_at: Timestamp | None = Field(
        description="When the refresh token expires, if the provider or connector says."
    )
    scope: str | None = Field(description="The scopes granted.")
    needs_reauthorization: bool = Field(
        description="The provider revoked the grant (invalid_grant): authorize again."
    )


class AuthorizeStart(_Request):
    """Start an authorization code flow: a new connection, or re-authorizing one."""

    connector_id: IdRef | None = Field(
        default=None, description="The connector of a new connection."
    )
    version: str | None = Field(
        default=None, max_length=32, description="Published version; default: the latest."
    )
    connection_id: IdRef | None = Field(
        default=None, description="Re-authorize this connection instead of creating one."
    )
    name: Name | None = Field(default=None, description="Name of the new connection.")
    credentials: Values = Field(
        default_factory=dict,
        max_length=100,
        description="The credential fields a person enters besides the tokens (if any).",
    )
    config: ConfigObject = Field(default_factory=dict)
    return_url: str | None = Field(
        default=None,
        max_length=2000,
        description="Where the browser goes afterwards, with the outcome in the query; must "
        "be on the enterprise's return URL allowlist or a path of this server.",
    )


class AuthorizeOut(BaseModel):
    """Where to send the browser."""

    authorize_url: str = Field(description="The provider's authorize URL: open it.")
    redirect_uri: str = Field(description="Where the provider will send the browser back.")
    expires_at: Timestamp = Field(description="The flow must be completed before this.")


class RedirectUriOut(BaseModel):
    """The one redirect URI of this deployment, to register with OAuth providers."""

    redirect_uri: str | None
    detail: str


class ConnectLinkCreate(_Request):
    """A single-use, expiring link for a person to connect an account to a connector."""

    connector_id: IdRef
    version: str | None = Field(default=None, max_length=32)
    name: Name | None = Field(default=None, description="Name of the connection it creates.")
    expires_in_minutes: Annotated[
        int, Field(ge=5, le=60 * 24 * 30, description="5 minutes to 30 days."), WHOLE_NUMBER
    ] = 60 * 24 * 7
    return_url: str | None = Field(default=None, max_length=2000)


class ConnectLinkOut(BaseModel):
    """A connect link. Its URL (with the secret token) is shown once, when it is created."""

    id: str
    connector_id: str
    version: str | None
    name: str
    url: str | None = Field(description="The link to hand over; only in the create response.")
    created_at: Timestamp
    expires_at: Timestamp
    used_at: Timestamp | None
    revoked_at: Timestamp | None
    connection_id: str | None
    status: str = Field(description="open, used, expired or revoked.")


class OAuthAppUpdate(_Request):
    """An enterprise's own OAuth app for a Catalogue connector (write-only)."""

    client_id: str = Field(min_length=1, max_length=4096)
    client_secret: str = Field(min_length=1, max_length=4096)


class OAuthAppOut(BaseModel):
    """Whether the caller's enterprise uses its own OAuth app (values are never shown)."""

    supported: bool
    configured: bool
    detail: str


#: An absolute http(s) URL prefix.
ReturnUrl = Annotated[
    str, StringConstraints(min_length=8, max_length=2000, pattern=r"^https?://[^/?#\\]+")
]


class ReturnUrlsUpdate(_Request):
    """The URL prefixes flows and connect links of an enterprise may send a person back to."""

    return_urls: list[ReturnUrl] = Field(max_length=50)


class ReturnUrlsOut(BaseModel):
    """An enterprise's return URL allowlist."""

    return_urls: list[str]
