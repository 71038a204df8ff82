"""OAuth 2.0: client credentials, and access/refresh tokens from an authorization code flow.

The authorization code dance itself (redirecting a person to the provider) belongs to the
server; at run time a connection holds ``access_token`` and/or ``refresh_token`` credentials,
and this handler refreshes them, passing rotated tokens to ``AuthContext.on_tokens``.
"""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

from connectory.auth.base import AuthContext, Authenticator
from connectory.auth.secret_locations import secret_locations
from connectory.auth.token_requests import absolute_url, send_token_request
from connectory.auth.tokens import Token, TokenCache, expiry_from
from connectory.errors import AuthError
from connectory.http.request import PreparedRequest
from connectory.spec.auth import OAuth2AuthSpec

_FORM = "application/x-www-form-urlencoded"


class OAuth2Auth(Authenticator):
    """Fetches, caches and renews OAuth2 access tokens."""

    def __init__(self, spec: OAuth2AuthSpec, context: AuthContext) -> None:
        self._spec = spec
        self._context = context
        self._token_url = absolute_url(context.render(spec.token_url), context.base_url)
        self._client_id = context.render(spec.client_id)
        self._client_secret = context.render_secret(spec.client_secret)
        self._extra = {name: context.render(v) for name, v in spec.extra_token_params.items()}
        credentials = context.variables.get("credentials", {})
        self._refresh_token: str | None = credentials.get("refresh_token") or None
        if self._refresh_token:
            context.redactor.add(self._refresh_token)
        self._cache = TokenCache(self._fetch, context.clock)
        access_token = credentials.get("access_token")
        if spec.grant_type == "authorization_code" and access_token:
            context.redactor.add(access_token)
            self._cache.seed(Token(access_token))
        context.redactor.add_sensitive_name(spec.header_name)
        # Token requests carry these form fields; an echo of one must not show them.
        for name in ("client_secret", "refresh_token"):
            context.redactor.add_sensitive_name(name)
        for name in secret_locations(spec.token_url, {}, context.secret_keys):
            context.redactor.add_sensitive_name(name)
        for name, template in spec.extra_token_params.items():
            if context.reads_secret(template):
                context.redactor.add_sensitive_name(name)

    @property
    def refreshable(self) -> bool:
        """Client credentials can always be fetched again; code-flow tokens need a refresh token."""
        return self._spec.grant_type == "client_credentials" or self._refresh_token is not None

    async def apply(self, request: PreparedRequest) -> str | None:
        """Add the current access token, fetching one first if needed."""
        token = await self._cache.get()
        request.headers[self._spec.header_name] = self._spec.token_prefix + token.value
        return token.value

    async def handle_unauthorized(self, token: str | None) -> bool:
        """Drop the rejected token so the retry fetches a fresh one."""
        if not self.refreshable:
            return False
        self._cache.invalidate(token)
        return True

    async def _fetch(self) -> Token:
        if self._spec.grant_type == "client_credentials":
            form = {"grant_type": "client_credentials"}
        elif self._refresh_token:
            form = {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
        else:
            raise AuthError(
                "the access token is missing or expired and there is no refresh token; "
                "reconnect the account to authorize again"
            )
        scope = self._spec.scope_string
        if scope and self._spec.grant_type == "client_credentials":
            form["scope"] = scope
        if self._spec.audience:
            form["audience"] = self._spec.audience
        form.update(self._extra)
        headers = {"Content-Type": _FORM, "Accept": "application/json"}
        if self._spec.client_authentication == "basic":
            # RFC 6749 2.3.1: id and secret are form-encoded before being joined.
            pair = f"{quote_plus(self._client_id)}:{quote_plus(self._client_secret)}"
            basic = base64.b64encode(pair.encode()).decode()
            self._context.redactor.add(basic)
            headers["Authorization"] = f"Basic {basic}"
        else:
            form["client_id"] = self._client_id
            form["client_secret"] = self._client_secret
        request = PreparedRequest("POST", self._token_url, headers=headers)
        request.content = "&".join(
            f"{quote_plus(k)}={quote_plus(v)}" for k, v in form.items()
        ).encode()
        # A client-credentials request can be sent twice harmlessly; a refresh-token request
        # cannot (providers that rotate refresh tokens revoke the grant on reuse).
        body = await send_token_request(
            self._context,
            request,
            "token request",
            idempotent=self._spec.grant_type == "client_credentials",
        )
        access_token = body.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise AuthError("the token response has no access_token; check the token URL")
        self._context.redactor.add(access_token)
        updates = {"access_token": access_token}
        rotated = body.get("refresh_token")
        if isinstance(rotated, str) and rotated:
            self._context.redactor.add(rotated)
            self._refresh_token = rotated
            updates["refresh_token"] = rotated
        if self._context.on_tokens is not None:
            await self._context.on_tokens(updates)
        return Token(access_token, expiry_from(body.get("expires_in"), self._context.clock()))
