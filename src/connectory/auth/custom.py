"""Custom login: a request (templated from the credentials) whose response yields a token."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson

from connectory.auth.base import AuthContext, Authenticator
from connectory.auth.secret_locations import secret_body_fields, secret_locations
from connectory.auth.token_requests import absolute_url, send_token_request
from connectory.auth.tokens import Token, TokenCache, expiry_from
from connectory.errors import AuthError
from connectory.http.request import PreparedRequest
from connectory.runtime.records import Selector, select
from connectory.spec.auth import CustomAuthSpec
from connectory.templating import has_template_syntax


class CustomLoginAuth(Authenticator):
    """Logs in when a token is needed, caches the token, and logs in again once after a 401."""

    def __init__(self, spec: CustomAuthSpec, context: AuthContext) -> None:
        self._spec = spec
        self._context = context
        self._token_selector = Selector.parse(spec.token_path)
        self._expiry_selector = (
            Selector.parse(spec.expires_in_path) if spec.expires_in_path else None
        )
        self._cache = TokenCache(self._login, context.clock)
        context.redactor.add_sensitive_name(
            spec.query_param if spec.location == "query" else spec.header_name
        )
        # The login request's fields that carry a secret are secret wherever they show up
        # (an upstream that echoes the login, an error quoting it), however short the value.
        login = spec.login
        for name in [
            *secret_locations(login.url, login.headers, context.secret_keys),
            *secret_body_fields(login.json_body, context.secret_keys),
            *secret_body_fields(login.form, context.secret_keys),
        ]:
            context.redactor.add_sensitive_name(name)

    @property
    def refreshable(self) -> bool:
        """A new login can always be attempted."""
        return True

    async def apply(self, request: PreparedRequest) -> str | None:
        """Add the token, logging in first if needed."""
        token = await self._cache.get()
        if self._spec.location == "query":
            request.params[self._spec.query_param] = token.value
        else:
            request.headers[self._spec.header_name] = self._spec.token_prefix + token.value
        return token.value

    async def handle_unauthorized(self, token: str | None) -> bool:
        """Forget the rejected token so the retry logs in again."""
        self._cache.invalidate(token)
        return True

    async def _login(self) -> Token:
        login = self._spec.login
        context = self._context
        url = absolute_url(context.render(login.url), context.base_url)
        headers = {
            name: _render_login_value(value, context) for name, value in login.headers.items()
        }
        headers.setdefault("Accept", "application/json")
        request = PreparedRequest(login.method, url, headers=headers)
        if login.json_body is not None:
            request.content = orjson.dumps(_render_tree(login.json_body, context))
            request.headers.setdefault("Content-Type", "application/json")
        elif login.form is not None:
            form = {name: _render_login_value(value, context) for name, value in login.form.items()}
            request.content = urlencode(form).encode()
            request.headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        body = await send_token_request(context, request, "login request")
        token = select(body, self._token_selector)
        if not isinstance(token, str | int) or token == "":
            raise AuthError(
                f"the login response has no token at {self._spec.token_path!r}; set token_path "
                "to where the token is in the response"
            )
        value = str(token)
        context.redactor.add(value)
        lifetime: Any = (
            select(body, self._expiry_selector) if self._expiry_selector is not None else None
        )
        now = context.clock()
        expires_at = expiry_from(lifetime, now)
        return Token(value, expires_at if expires_at is not None else now + self._spec.token_ttl)


def _render_login_value(value: str, context: AuthContext) -> str:
    # Login requests mix rendered credentials with constants ("application/json", a grant type
    # called "password"); remembering a constant as a secret would blank it out everywhere.
    return context.render_secret(value) if has_template_syntax(value) else value


def _render_tree(value: Any, context: AuthContext) -> Any:
    if isinstance(value, str):
        return _render_login_value(value, context)
    if isinstance(value, dict):
        return {key: _render_tree(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_tree(item, context) for item in value]
    return value
