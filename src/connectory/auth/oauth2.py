"""OAuth 2.0: client credentials, and the tokens of an authorization code grant.

For ``client_credentials`` the handler fetches tokens itself. For ``authorization_code`` a
person authorizes in a browser first (the flow is the server's, see
:mod:`connectory.auth.oauth2_flow`); the connection then holds a grant (a :class:`TokenSet`,
or ``access_token``/``refresh_token`` credentials) that this handler refreshes:

- before the access token expires and once after a 401;
- inside the keeper's lock (:class:`~connectory.auth.grants.TokenKeeper`): a grant that another
  process refreshed meanwhile is adopted instead of refreshed again (a second refresh with a
  rotated token would make the provider revoke the grant);
- ``invalid_grant`` ends the grant: the keeper marks the connection for re-authorization and
  the handler stops calling the provider (and the API) with it.
"""

from __future__ import annotations

import base64
import logging
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

from connectory.auth.base import AuthContext, Authenticator
from connectory.auth.grants import TokenPaths, TokenSet, read_token_response
from connectory.auth.secret_locations import secret_locations
from connectory.auth.token_requests import absolute_url, send_token_request
from connectory.auth.tokens import Token, TokenCache
from connectory.errors import AuthError
from connectory.http.request import PreparedRequest
from connectory.spec.auth import OAuth2AuthSpec

logger = logging.getLogger("connectory.auth")

_FORM = "application/x-www-form-urlencoded"

#: A stored access token is adopted only when it has at least this long (seconds) to live.
_ADOPT_MARGIN = 1.0

REAUTHORIZE = (
    "the provider no longer accepts this connection's grant (invalid_grant); a person must "
    "re-authorize the connection"
)


class OAuth2Auth(Authenticator):
    """Fetches, caches, refreshes and revokes OAuth2 access tokens."""

    def __init__(self, spec: OAuth2AuthSpec, context: AuthContext) -> None:
        self._spec = spec
        self._context = context
        self._paths = TokenPaths.of(spec.token_response)
        self.token_url = absolute_url(context.render(spec.token_url), context.base_url)
        self.client_id = context.render(spec.client_id)
        self._client_secret = context.render_secret(spec.client_secret)
        self._extra = {name: context.render(v) for name, v in spec.extra_token_params.items()}
        credentials = context.variables.get("credentials", {})
        grant = context.tokens or TokenSet(
            access_token=credentials.get("access_token") or None,
            refresh_token=credentials.get("refresh_token") or None,
        )
        self._grant = grant
        self._rejected: str | None = None
        self._ended: str | None = None
        self._cache = TokenCache(self._fetch, context.clock)
        for value in (grant.access_token, grant.refresh_token):
            if value:
                context.redactor.add(value)
        # A stored grant is seeded whatever the grant type; access_token credentials only
        # mean something to the code flow.
        seeded = context.tokens is not None or spec.grant_type == "authorization_code"
        if seeded and grant.access_token:
            self._cache.seed(Token(grant.access_token, self._monotonic(grant.expires_at)))
        context.redactor.add_sensitive_name(spec.header_name)
        # Token requests carry these form fields; an echo of one must not show them.
        for name in ("client_secret", "refresh_token", "code", "code_verifier", "token"):
            context.redactor.add_sensitive_name(name)
        for name in secret_locations(spec.token_url, {}, context.secret_keys):
            context.redactor.add_sensitive_name(name)
        for name, template in spec.extra_token_params.items():
            if context.reads_secret(template):
                context.redactor.add_sensitive_name(name)

    @property
    def spec(self) -> OAuth2AuthSpec:
        """The auth section this handler was built from."""
        return self._spec

    @property
    def grant(self) -> TokenSet:
        """The newest tokens this handler holds."""
        return self._grant

    @property
    def refreshable(self) -> bool:
        """Client credentials can always be fetched again; code-flow tokens need a refresh token."""
        return self._spec.grant_type == "client_credentials" or bool(self._grant.refresh_token)

    async def apply(self, request: PreparedRequest) -> str | None:
        """Add the current access token, fetching or refreshing one first if needed.

        Raises:
            AuthError: the grant was revoked (``reauthorize``), or a token cannot be had.
        """
        if self._ended is not None:
            raise AuthError(self._ended, oauth_error="invalid_grant", reauthorize=True)
        token = await self._cache.get()
        request.headers[self._spec.header_name] = self._spec.token_prefix + token.value
        return token.value

    async def handle_unauthorized(self, token: str | None) -> bool:
        """Drop the rejected token so the retry fetches a fresh one."""
        if not self.refreshable:
            return False
        self._rejected = token
        self._cache.invalidate(token)
        return True

    async def refresh(self) -> TokenSet:
        """Refresh the grant now (the background refresh of idle connections).

        Inside the keeper's lock, like any refresh: a grant another process refreshed since
        this one was loaded is adopted, not refreshed twice.
        """
        if self._ended is not None:
            raise AuthError(self._ended, oauth_error="invalid_grant", reauthorize=True)
        self._rejected = self._grant.access_token
        self._cache.invalidate(None)
        await self._cache.get()
        return self._grant

    def authorization_url(self, state: str, redirect_uri: str, challenge: str | None) -> str:
        """The provider's authorize URL for a person to open (RFC 6749 4.1.1, RFC 7636).

        The connector's ``authorize_params`` are added, but never replace the parameters the
        flow's safety rests on (state, redirect URI, PKCE, client id, response type).

        Raises:
            AuthError: the connector is not authorization code, or has no authorization URL.
        """
        if self._spec.grant_type != "authorization_code" or not self._spec.authorization_url:
            raise AuthError(
                "the connector's OAuth2 grant is not authorization_code with an "
                "authorization_url, so there is nothing for a person to authorize"
            )
        url = absolute_url(
            self._context.render(self._spec.authorization_url), self._context.base_url
        )
        params = {name: self._context.render(v) for name, v in self._spec.authorize_params.items()}
        params |= {"response_type": "code", "client_id": self.client_id}
        params["redirect_uri"] = redirect_uri
        scope = self._spec.scope_string
        if scope:
            params["scope"] = scope
        params["state"] = state
        if challenge is not None:
            params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
        parts = urlsplit(url)
        query = [
            (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params
        ]
        return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))

    async def exchange_code(self, code: str, redirect_uri: str, verifier: str | None) -> TokenSet:
        """Exchange an authorization code for the connection's first grant (RFC 6749 4.1.3).

        Raises:
            AuthError: the provider refused the code (expired, reused, wrong verifier).
        """
        self._context.redactor.add(code)
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if verifier is not None:
            self._context.redactor.add(verifier)
            form["code_verifier"] = verifier
        # Codes are single-use: a resend after it may have arrived would fail anyway.
        body = await self._token_request(form, "authorization code exchange", idempotent=False)
        grant = self._read(body)
        self._grant = grant
        self._ended = None
        return grant

    async def revoke(self) -> list[str]:
        """Revoke the grant's tokens at the connector's ``revocation_url`` (RFC 7009).

        The refresh token first (revoking it ends the grant at most providers), then the
        access token. Returns what was revoked; nothing without a revocation URL.

        Raises:
            AuthError: the revocation endpoint refused.
        """
        if not self._spec.revocation_url:
            return []
        url = absolute_url(self._context.render(self._spec.revocation_url), self._context.base_url)
        revoked: list[str] = []
        for hint, value in (
            ("refresh_token", self._grant.refresh_token),
            ("access_token", self._grant.access_token),
        ):
            if value:
                request = self._client_request({"token": value, "token_type_hint": hint}, url)
                # RFC 7009 2.2: revoking an invalid or already revoked token answers 200, so
                # a resend is harmless.
                reply = await self._context.send(request, True)
                if reply.status_code >= 400:
                    raise AuthError(
                        f"the token revocation was refused with status {reply.status_code}; "
                        "check revocation_url and the client id and secret",
                        status_code=reply.status_code,
                    )
                revoked.append(hint)
        return revoked

    def _monotonic(self, expires_at: float | None) -> float | None:
        if expires_at is None:
            return None
        return self._context.clock() + (expires_at - self._context.wall_clock())

    async def _fetch(self) -> Token:
        if self._spec.grant_type == "client_credentials":
            form = {"grant_type": "client_credentials"}
            scope = self._spec.scope_string
            if scope:
                form["scope"] = scope
            body = await self._token_request(form, "token request", idempotent=True)
            grant = self._read(body)
            self._grant = grant
            if self._context.keeper is not None:
                # Stored so that other processes (and a rebuilt client) use it too; fetching
                # another one is harmless, so this needs no lock.
                await self._context.keeper.save(grant)
            if self._context.on_tokens is not None:
                await self._context.on_tokens({"access_token": grant.access_token or ""})
            return self._token_of(grant)
        keeper = self._context.keeper
        if keeper is None:
            return await self._refresh_grant()
        async with keeper.exclusive() as stored:
            if stored is not None:
                adopted = self._adopt(stored)
                if adopted is not None:
                    return adopted
            return await self._refresh_grant()

    def _adopt(self, stored: TokenSet) -> Token | None:
        """Use the stored grant when another holder refreshed it; else None (refresh)."""
        if stored.refresh_token and stored.refresh_token != self._grant.refresh_token:
            # Newer than ours: ours was rotated away, and must never be sent again.
            self._context.redactor.add(stored.refresh_token)
            self._grant = TokenSet(
                refresh_token=stored.refresh_token,
                refresh_expires_at=stored.refresh_expires_at,
                scope=stored.scope,
            )
        access = stored.access_token
        if not access or access == self._rejected:
            return None
        expires = self._monotonic(stored.expires_at)
        if expires is not None and expires - self._context.clock() < _ADOPT_MARGIN:
            return None
        self._context.redactor.add(access)
        self._grant = stored
        logger.debug("adopted a grant refreshed by another holder of the connection")
        return Token(access, expires)

    async def _refresh_grant(self) -> Token:
        refresh_token = self._grant.refresh_token
        if not refresh_token:
            raise AuthError(
                "the access token is missing or expired and there is no refresh token; "
                "reconnect the account to authorize again"
            )
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        try:
            # Never resent: with rotation, a resend could make the provider revoke the grant.
            body = await self._token_request(form, "token request", idempotent=False)
        except AuthError as error:
            if error.oauth_error == "invalid_grant":
                ended = await self._end(str(error))
                raise AuthError(
                    ended, error.status_code, oauth_error="invalid_grant", reauthorize=True
                ) from None
            raise
        grant = self._grant.rotated(self._read(body))
        if self._context.keeper is not None:
            await self._context.keeper.save(grant)
        self._grant = grant
        self._rejected = None
        if self._context.on_tokens is not None:
            updates = {"access_token": grant.access_token or ""}
            if grant.refresh_token and grant.refresh_token != refresh_token:
                updates["refresh_token"] = grant.refresh_token
            await self._context.on_tokens(updates)
        return self._token_of(grant)

    async def _end(self, message: str) -> str:
        """The grant is gone: remember it, tell the keeper, stop calling the provider."""
        ended = self._ended = f"{REAUTHORIZE} ({message})"
        if self._context.keeper is not None:
            await self._context.keeper.reject(ended)
        return ended

    def _read(self, body: dict[str, object]) -> TokenSet:
        grant = read_token_response(
            dict(body),
            self._paths,
            self._context.wall_clock(),
            self._spec.refresh_token_lifetime,
        )
        for value in (grant.access_token, grant.refresh_token):
            if value:
                self._context.redactor.add(value)
        return grant

    def _token_of(self, grant: TokenSet) -> Token:
        assert grant.access_token is not None
        return Token(grant.access_token, self._monotonic(grant.expires_at))

    async def _token_request(
        self, form: dict[str, str], what: str, *, idempotent: bool
    ) -> dict[str, object]:
        """POST a grant *form* to the token endpoint and return the token response."""
        if self._spec.audience:
            form["audience"] = self._spec.audience
        form.update(self._extra)
        request = self._client_request(form, self.token_url)
        return await send_token_request(self._context, request, what, idempotent=idempotent)

    def _client_request(self, form: dict[str, str], url: str) -> PreparedRequest:
        """A form POST to *url* carrying the client's authentication (basic or body)."""
        headers = {"Content-Type": _FORM, "Accept": "application/json"}
        if self._spec.client_authentication == "basic":
            # RFC 6749 2.3.1: id and secret are form-encoded before being joined.
            pair = f"{quote_plus(self.client_id)}:{quote_plus(self._client_secret)}"
            basic = base64.b64encode(pair.encode()).decode()
            self._context.redactor.add(basic)
            headers["Authorization"] = f"Basic {basic}"
        else:
            form = {**form, "client_id": self.client_id, "client_secret": self._client_secret}
        request = PreparedRequest("POST", url, headers=headers)
        request.content = "&".join(
            f"{quote_plus(k)}={quote_plus(v)}" for k, v in form.items()
        ).encode()
        return request
