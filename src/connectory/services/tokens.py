"""API tokens: created with a secret shown once, stored as a SHA-256 hash, looked up per request."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import NotAuthenticated
from connectory.services.principal import Principal, Role
from connectory.store.models import ApiToken, User, utcnow

TOKEN_PREFIX = "cty_"
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    """Return the stored form of *token*.

    A fast hash is right here: tokens are 256 random bits, not passwords, so there is nothing
    to slow down guessing of.
    """
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A newly created token: the row, and the secret that is shown this once."""

    row: ApiToken
    secret: str


async def issue_token(session: AsyncSession, user: User, name: str = "") -> IssuedToken:
    """Create a token for *user*; the returned secret is never stored or shown again."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        name=name,
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        token_hash=hash_token(secret),
    )
    session.add(row)
    await session.flush()
    return IssuedToken(row, secret)


@dataclass(frozen=True)
class Authenticated:
    """A token that was accepted: who it speaks for, and until when."""

    principal: Principal
    expires_at: datetime | None
    """When the token stops working (timezone-aware); None: never."""


def refused_token() -> NotAuthenticated:
    """The one refusal for every bad token, so it does not tell which tokens exist."""
    return NotAuthenticated(
        "the API token is missing, unknown, revoked or expired; send Authorization: Bearer <token>"
    )


def is_token_shaped(secret: str) -> bool:
    """Whether *secret* could be a token at all (checked before hashing or any lookup)."""
    # Tokens are ASCII; anything else (a lone surrogate from a JSON body) could not be hashed.
    return secret.startswith(TOKEN_PREFIX) and len(secret) <= 200 and secret.isascii()


async def authenticate(
    session: AsyncSession, secret: str, now: datetime | None = None
) -> Principal:
    """Return the principal behind *secret*.

    Raises:
        NotAuthenticated: unknown, revoked or expired token, or a deleted user. The message is
            the same for each, so it does not tell which tokens exist.
    """
    return (await authenticate_token(session, secret, now)).principal


async def authenticate_token(
    session: AsyncSession, secret: str, now: datetime | None = None
) -> Authenticated:
    """Like :func:`authenticate`, and also tell when the token expires (for caching it).

    Records the token's last use (at most once a minute) as a pending change of *session*.
    """
    if not is_token_shaped(secret):
        raise refused_token()
    moment = now or utcnow()
    token = await session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None:
        raise refused_token()
    expires_at = _aware(token.expires_at) if token.expires_at is not None else None
    if expires_at is not None and expires_at <= moment:
        raise refused_token()
    user = token.user
    if user.deleted_at is not None:
        raise refused_token()
    last_used = token.last_used_at
    # Recorded at most once a minute: a write on every request would serialise SQLite.
    if last_used is None or moment - _aware(last_used) > _LAST_USED_RESOLUTION:
        token.last_used_at = moment
    role: Role = user.role  # type: ignore[assignment]  # constrained on write
    return Authenticated(Principal(user.id, role, user.enterprise_id, user.sdk_access), expires_at)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
