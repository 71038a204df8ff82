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


async def authenticate(
    session: AsyncSession, secret: str, now: datetime | None = None
) -> Principal:
    """Return the principal behind *secret*.

    Raises:
        NotAuthenticated: unknown, revoked or expired token, or a deleted user. The message is
            the same for each, so it does not tell which tokens exist.
    """
    refused = NotAuthenticated(
        "the API token is missing, unknown, revoked or expired; send Authorization: Bearer <token>"
    )
    # Tokens are ASCII; anything else (a lone surrogate from a JSON body) could not be hashed.
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200 or not secret.isascii():
        raise refused
    moment = now or utcnow()
    token = await session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None:
        raise refused
    if token.expires_at is not None and _aware(token.expires_at) <= moment:
        raise refused
    user = token.user
    if user.deleted_at is not None:
        raise refused
    last_used = token.last_used_at
    # Recorded at most once a minute: a write on every request would serialise SQLite.
    if last_used is None or moment - _aware(last_used) > _LAST_USED_RESOLUTION:
        token.last_used_at = moment
    role: Role = user.role  # type: ignore[assignment]  # constrained on write
    return Principal(user.id, role, user.enterprise_id, user.sdk_access)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
