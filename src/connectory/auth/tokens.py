"""A cached token that is fetched once, shared by concurrent callers, and renewed before expiry."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

#: Renew a token this many seconds before it expires (or 10% of its lifetime, if shorter),
#: so a request does not leave with a token that expires on the way.
EXPIRY_MARGIN = 30.0


@dataclass(frozen=True)
class Token:
    """An access token and when it stops being valid (monotonic seconds; None = unknown)."""

    value: str
    expires_at: float | None = None


class TokenCache:
    """Holds one token; concurrent callers that find it missing trigger a single fetch."""

    def __init__(self, fetch: Callable[[], Awaitable[Token]], clock: Callable[[], float]) -> None:
        self._fetch = fetch
        self._clock = clock
        self._token: Token | None = None
        self._renew_at: float | None = None
        self._lock = asyncio.Lock()

    def seed(self, token: Token) -> None:
        """Start with a token obtained elsewhere (e.g. stored from an authorization code flow)."""
        self._store(token)

    async def get(self) -> Token:
        """Return a valid token, fetching one if there is none or it is about to expire."""
        token = self._token
        if token is not None and not self._due():
            return token
        async with self._lock:
            # Another caller may have fetched while we waited for the lock.
            if self._token is not None and not self._due():
                return self._token
            self._store(await self._fetch())
            assert self._token is not None
            return self._token

    def invalidate(self, value: str | None) -> None:
        """Forget the token if it is still *value* (a 401 proved it is no longer accepted)."""
        if self._token is not None and (value is None or self._token.value == value):
            self._token = None

    def _due(self) -> bool:
        return self._renew_at is not None and self._clock() >= self._renew_at

    def _store(self, token: Token) -> None:
        self._token = token
        if token.expires_at is None:
            self._renew_at = None
        else:
            lifetime = max(token.expires_at - self._clock(), 0.0)
            self._renew_at = token.expires_at - min(EXPIRY_MARGIN, lifetime * 0.1)


def expiry_from(expires_in: object, now: float) -> float | None:
    """Return when a token with lifetime *expires_in* (seconds, number or text) expires.

    None when the lifetime is missing or unreadable: the token is then used until a 401.
    """
    if isinstance(expires_in, bool):
        return None
    if isinstance(expires_in, int | float):
        return now + float(expires_in)
    if isinstance(expires_in, str) and expires_in.strip().isdigit():
        return now + float(expires_in)
    return None
