"""The ``auth`` section: how a connection authenticates, and what the user must enter.

Each auth type is its own model, selected by ``auth_type``. Every type carries the
``credential_schema`` that drives the connect form; type-specific fields are templates that read
from ``credentials`` (and ``connector_parameters``, ``config``), with defaults that name the
conventional credential field, so the seed's blocks load exactly as written::

    auth_type: api_key
    credential_schema:
      api_key: {label: "API Key", type: password, required: true, sensitive: true}
    header_name: "X-API-Key"
    key_prefix: ""
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from connectory.spec.base import SpecModel
from connectory.spec.fields import InputFieldSpec

AUTH_TYPES = ("none", "api_key", "basic", "bearer", "oauth2", "custom", "combined")


class _AuthBase(SpecModel):
    credential_schema: dict[str, InputFieldSpec] = Field(
        default_factory=dict,
        description="The fields the user enters to connect, keyed by field name.",
    )


class NoAuthSpec(_AuthBase):
    """A public API: no credentials are sent."""

    auth_type: Literal["none"] = "none"


class ApiKeyAuthSpec(_AuthBase):
    """An API key sent in a header (with an optional prefix) or a query parameter."""

    auth_type: Literal["api_key"]
    location: Literal["header", "query"] = Field(
        default="header", description="Send the key in a header or in the query string."
    )
    header_name: str = Field(default="X-API-Key", description="Header that carries the key.")
    key_prefix: str = Field(default="", description='Text put before the key, e.g. "Token ".')
    query_param: str = Field(
        default="api_key", description="Query parameter that carries the key (location: query)."
    )
    api_key: str = Field(
        default="{{ credentials.api_key }}", description="Template of the key's value."
    )


class BasicAuthSpec(_AuthBase):
    """HTTP Basic authentication."""

    auth_type: Literal["basic"]
    username: str = Field(default="{{ credentials.username }}", description="Template.")
    password: str = Field(default="{{ credentials.password }}", description="Template.")


class BearerAuthSpec(_AuthBase):
    """A static bearer token sent in a header."""

    auth_type: Literal["bearer"]
    token: str = Field(default="{{ credentials.token }}", description="Template of the token.")
    header_name: str = Field(default="Authorization", description="Header that carries the token.")
    token_prefix: str = Field(default="Bearer ", description="Text put before the token.")


class TokenResponseSpec(SpecModel):
    """Where the fields of a token response are, for providers that do not follow RFC 6749.

    Each value is a path in the response body (``access_token``, ``data.token``), in the
    syntax of an operation's ``record_selector``.
    """

    access_token: str = Field(default="access_token", description="Path of the access token.")
    refresh_token: str = Field(default="refresh_token", description="Path of the refresh token.")
    expires_in: str = Field(
        default="expires_in", description="Path of the access token's lifetime in seconds."
    )
    refresh_token_expires_in: str = Field(
        default="refresh_token_expires_in",
        description="Path of the refresh token's lifetime in seconds, where the provider says.",
    )
    scope: str = Field(default="scope", description="Path of the granted scopes.")


class OAuth2AuthSpec(_AuthBase):
    """OAuth 2.0: client credentials, or authorization code (with PKCE) plus refresh tokens.

    Tokens are fetched from ``token_url``, cached until shortly before they expire, and fetched
    again once when the API answers 401. For ``authorization_code`` a person authorizes in a
    browser (docs/oauth.md): the flow sends them to ``authorization_url`` with
    ``authorize_params``, and the tokens it obtains are stored with the connection.
    """

    auth_type: Literal["oauth2"]
    grant_type: Literal["client_credentials", "authorization_code"] = Field(
        default="client_credentials", description="How the first token is obtained."
    )
    token_url: str = Field(
        default="{{ credentials.token_url }}", description="Template of the token endpoint."
    )
    authorization_url: str | None = Field(
        default=None, description="Authorization endpoint (authorization_code only)."
    )
    client_id: str = Field(default="{{ credentials.client_id }}", description="Template.")
    client_secret: str = Field(default="{{ credentials.client_secret }}", description="Template.")
    scopes: str | list[str] | None = Field(
        default=None, description='Scopes to request: "read write" or a list.'
    )
    audience: str | None = Field(default=None, description="Audience, for providers that need it.")
    client_authentication: Literal["basic", "body"] = Field(
        default="basic",
        description="Send the client id and secret as HTTP Basic (RFC 6749) or in the form body.",
    )
    pkce: bool = Field(default=True, description="Use PKCE (S256) for authorization_code.")
    authorize_params: dict[str, str] = Field(
        default_factory=dict,
        description="Additional query parameters of the authorize URL (templates), e.g. "
        "access_type: offline, prompt: consent.",
    )
    revocation_url: str | None = Field(
        default=None,
        description="RFC 7009 revocation endpoint (template): deleting a connection revokes "
        "its tokens there.",
    )
    token_response: TokenResponseSpec = Field(
        default_factory=TokenResponseSpec,
        description="Where the token, its lifetime and scope are in a non-standard response.",
    )
    refresh_token_lifetime: float | None = Field(
        default=None,
        gt=0,
        description="How long a refresh token lives (seconds) when the provider does not say; "
        "idle connections are refreshed in the background before it runs out.",
    )
    extra_token_params: dict[str, str] = Field(
        default_factory=dict, description="Additional form fields for token requests (templates)."
    )
    header_name: str = Field(default="Authorization", description="Header that carries the token.")
    token_prefix: str = Field(default="Bearer ", description="Text put before the access token.")

    @property
    def scope_string(self) -> str | None:
        """The scopes as one space-separated string, or None when none are set."""
        if self.scopes is None:
            return None
        if isinstance(self.scopes, str):
            return " ".join(self.scopes.split()) or None
        return " ".join(self.scopes) or None


class LoginRequestSpec(SpecModel):
    """The request a custom login sends; its response yields the token."""

    method: Literal["GET", "POST", "PUT", "PATCH"] = "POST"
    url: str = Field(
        description="Absolute URL, or a path appended to the connector's base_url (template)."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Header templates.")
    json_body: dict[str, Any] | None = Field(
        default=None, alias="json", description="A JSON body; string leaves are templates."
    )
    form: dict[str, str] | None = Field(default=None, description="A form body (templates).")

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class CustomAuthSpec(_AuthBase):
    """A login request whose response yields a token, cached and applied to every request."""

    auth_type: Literal["custom"]
    login: LoginRequestSpec
    token_path: str = Field(
        default="access_token", description="Where the token is in the login response body."
    )
    expires_in_path: str | None = Field(
        default=None, description="Where the token's lifetime in seconds is, if the API says."
    )
    token_ttl: float = Field(
        default=3600, gt=0, description="Lifetime in seconds when the response does not say."
    )
    location: Literal["header", "query"] = "header"
    header_name: str = "Authorization"
    token_prefix: str = "Bearer "
    query_param: str = "token"


#: The auth types one part of a combined auth can be.
SchemeSpec = Annotated[
    ApiKeyAuthSpec | BasicAuthSpec | BearerAuthSpec | OAuth2AuthSpec | CustomAuthSpec,
    Field(discriminator="auth_type"),
]


class CombinedAuthSpec(_AuthBase):
    """Several schemes applied together to every request, e.g. an API key AND a token.

    Some APIs want two credentials on each call (OpenAPI: one security requirement naming two
    schemes). Each part is an auth block of its own type; the connect form asks for the fields
    of every part, which are merged into this block's ``credential_schema``::

        auth_type: combined
        schemes:
          - auth_type: api_key
            location: query
            query_param: key
            credential_schema:
              api_key: {label: API key, type: password}
          - auth_type: api_key
            location: query
            query_param: token
            api_key: "{{ credentials.token }}"
            credential_schema:
              token: {label: Token, type: password}

    Parts apply in order; a 401 is retried once when a part that fetches tokens (oauth2,
    custom) gets a fresh one.
    """

    auth_type: Literal["combined"]
    schemes: list[SchemeSpec] = Field(
        min_length=2, description="The auth blocks applied together, in order (two or more)."
    )

    @model_validator(mode="after")
    def _merge_credential_fields(self) -> CombinedAuthSpec:
        merged = dict(self.credential_schema)
        for scheme in self.schemes:
            for name, spec in scheme.credential_schema.items():
                merged.setdefault(name, spec)
        if merged != self.credential_schema:
            self.credential_schema = merged
        return self


AuthSpec = Annotated[
    NoAuthSpec
    | ApiKeyAuthSpec
    | BasicAuthSpec
    | BearerAuthSpec
    | OAuth2AuthSpec
    | CustomAuthSpec
    | CombinedAuthSpec,
    Field(discriminator="auth_type"),
]
