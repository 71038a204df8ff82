"""Auth types whose credentials do not change during a connection: none, API key, basic, bearer."""

from __future__ import annotations

import base64

from connectory.auth.base import AuthContext, Authenticator
from connectory.http.request import PreparedRequest
from connectory.spec.auth import ApiKeyAuthSpec, BasicAuthSpec, BearerAuthSpec


class NoAuth(Authenticator):
    """Sends requests unchanged."""

    async def apply(self, request: PreparedRequest) -> str | None:
        """Leave the request as it is."""
        return None


class ApiKeyAuth(Authenticator):
    """An API key in a header (with an optional prefix) or a query parameter."""

    def __init__(self, spec: ApiKeyAuthSpec, context: AuthContext) -> None:
        key = context.render_secret(spec.api_key)
        self._location = spec.location
        self._header = spec.header_name
        # The prefix applies wherever the key goes (it is empty unless the API wants one).
        self._value = spec.key_prefix + key
        self._param = spec.query_param
        # The key is secret by where it goes, whatever its length.
        context.redactor.add_sensitive_name(
            spec.query_param if spec.location == "query" else spec.header_name
        )

    async def apply(self, request: PreparedRequest) -> str | None:
        """Add the key where the spec says."""
        if self._location == "query":
            request.params[self._param] = self._value
        else:
            request.headers[self._header] = self._value
        return None


class BasicAuth(Authenticator):
    """HTTP Basic authentication."""

    def __init__(self, spec: BasicAuthSpec, context: AuthContext) -> None:
        username = context.render(spec.username)
        password = context.render_secret(spec.password)
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        context.redactor.add(token)
        context.redactor.add_sensitive_name("Authorization")
        self._header = f"Basic {token}"

    async def apply(self, request: PreparedRequest) -> str | None:
        """Add the Authorization header."""
        request.headers["Authorization"] = self._header
        return None


class BearerAuth(Authenticator):
    """A static token in a header (``Authorization: Bearer ...`` by default)."""

    def __init__(self, spec: BearerAuthSpec, context: AuthContext) -> None:
        token = context.render_secret(spec.token)
        self._name = spec.header_name
        self._value = spec.token_prefix + token
        context.redactor.add_sensitive_name(spec.header_name)

    async def apply(self, request: PreparedRequest) -> str | None:
        """Add the token header."""
        request.headers[self._name] = self._value
        return None
