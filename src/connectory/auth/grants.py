"""OAuth2 grants as they are stored: a token set, and where a connection keeps it.

A :class:`TokenSet` is what an authorization server granted a connection: an access token, a
refresh token, their expiry (wall-clock seconds, so they can be stored and compared across
processes) and the scope. The runtime receives one when the client is built and hands every
new one to its :class:`TokenKeeper`, the owner of the connection's stored grant.

The keeper is what makes refresh safe across processes: :meth:`TokenKeeper.exclusive` holds a
lock on the connection's grant (Redis, a database row, or a process lock) and yields the tokens
stored *now*, which may be newer than the ones this process holds; the handler refreshes only
when they are not, and stores the result before the lock is released.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from typing import Any, Protocol

from connectory.auth.tokens import expiry_from
from connectory.errors import AuthError
from connectory.runtime.records import Selector, select
from connectory.spec.auth import TokenResponseSpec

#: Credential names the authorization code flow fills in (never asked of a person).
TOKEN_FIELDS = ("access_token", "refresh_token")


@dataclass(frozen=True)
class TokenSet:
    """Tokens granted to one connection.

    Attributes:
        access_token: The current access token, if any.
        refresh_token: The current refresh token, if any.
        expires_at: When the access token expires (Unix seconds); None when unknown.
        refresh_expires_at: When the refresh token expires (Unix seconds); None when unknown
            (most providers keep it until it is used or revoked).
        scope: The scopes granted, as the provider reported them.
    """

    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: float | None = None
    refresh_expires_at: float | None = None
    scope: str | None = None

    def rotated(self, newer: TokenSet) -> TokenSet:
        """*newer* with what a refresh response may leave out kept from this set.

        RFC 6749 (6): a refresh response may omit the refresh token (the old one stays
        valid) and the scope (unchanged).
        """
        return replace(
            newer,
            refresh_token=newer.refresh_token or self.refresh_token,
            refresh_expires_at=newer.refresh_expires_at
            if newer.refresh_token
            else self.refresh_expires_at,
            scope=newer.scope or self.scope,
        )


class TokenKeeper(Protocol):
    """Where a connection's grant is stored, shared by every process that runs it."""

    def exclusive(self) -> AbstractAsyncContextManager[TokenSet | None]:
        """Hold the connection's refresh lock; yield the tokens stored now (None: none).

        Only one holder at a time across every process: a refresh happens inside it.
        """
        ...

    async def save(self, tokens: TokenSet) -> None:
        """Store *tokens* atomically (called inside :meth:`exclusive`)."""
        ...

    async def reject(self, reason: str) -> None:
        """The provider refused the grant (``invalid_grant``).

        The connection needs a person to authorize again; nothing may call the provider with
        it until then.
        """
        ...


@dataclass(frozen=True)
class TokenPaths:
    """The compiled paths of a :class:`TokenResponseSpec`."""

    access_token: Selector
    refresh_token: Selector
    expires_in: Selector
    refresh_token_expires_in: Selector
    scope: Selector

    @classmethod
    def of(cls, spec: TokenResponseSpec) -> TokenPaths:
        """Compile the spec's paths."""
        return cls(**{name: Selector.parse(path) for name, path in spec.model_dump().items()})


def read_token_response(
    body: dict[str, Any],
    paths: TokenPaths,
    now: float,
    refresh_token_lifetime: float | None = None,
) -> TokenSet:
    """Read a token response (RFC 6749 5.1, or where *paths* say).

    Args:
        body: The decoded response.
        paths: Where each field is.
        now: The current time (Unix seconds).
        refresh_token_lifetime: The connector's lifetime for refresh tokens, used when the
            response does not give one.

    Raises:
        AuthError: the response has no access token.
    """
    access_token = select(body, paths.access_token)
    if isinstance(access_token, int) and not isinstance(access_token, bool):
        access_token = str(access_token)
    if not isinstance(access_token, str) or not access_token:
        raise AuthError(
            f"the token response has no access_token at {paths.access_token.text!r}; check the "
            "token URL, or set token_response.access_token to where the provider puts it"
        )
    refresh_token = select(body, paths.refresh_token)
    if not isinstance(refresh_token, str) or not refresh_token:
        refresh_token = None
    refresh_expires_at = expiry_from(select(body, paths.refresh_token_expires_in), now)
    if refresh_token is not None and refresh_expires_at is None and refresh_token_lifetime:
        refresh_expires_at = now + refresh_token_lifetime
    scope = select(body, paths.scope)
    if isinstance(scope, list):
        scope = " ".join(str(item) for item in scope)
    return TokenSet(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_at=expiry_from(select(body, paths.expires_in), now),
        refresh_expires_at=refresh_expires_at if refresh_token is not None else None,
        scope=scope if isinstance(scope, str) and scope else None,
    )
