"""Managing API tokens: create (secret shown once), list, look at, revoke.

Rules:

- Everyone may create, list and revoke their own tokens (integration code runs as a viewer).
- Admins may do the same for the users they manage: platform admins for everyone, enterprise
  admins for their enterprise's users. A token is visible exactly when its user is.
- Listing shows your own tokens unless ``user_id`` names another user you manage.
- Tokens are never deleted, only revoked, so their history stays; revoking a revoked token
  changes nothing and succeeds. The API shows token metadata only; the hash stays in the
  database and the secret is shown once, by :func:`create_token`'s caller.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import NotFound
from connectory.services.access import visible_users
from connectory.services.generations import announce_identity
from connectory.services.listing import fetch_page, is_plausible_id
from connectory.services.principal import Principal
from connectory.services.tokens import IssuedToken, issue_token
from connectory.services.users import check_manages, get_user
from connectory.store.models import ApiToken, User, utcnow


def _not_found(token_id: str) -> NotFound:
    return NotFound(f"token {token_id!r} not found")


async def create_token(
    session: AsyncSession,
    principal: Principal,
    user_id: str,
    *,
    name: str = "",
    expires_in_days: int | None = None,
) -> IssuedToken:
    """Create a token for *user_id*; the returned secret is shown to the caller this once.

    Raises:
        NotFound: the user is not visible to the caller.
        PermissionDenied: the caller sees the user but does not manage them.
    """
    user = await get_user(session, principal, user_id)
    check_manages(principal, user)
    issued = await issue_token(session, user, name=name)
    if expires_in_days is not None:
        issued.row.expires_at = utcnow() + timedelta(days=expires_in_days)
        await session.flush()
    return issued


async def get_token(session: AsyncSession, principal: Principal, token_id: str) -> ApiToken:
    """Return the token *token_id* (revoked ones too) if its user is visible to *principal*.

    Raises:
        NotFound: no such token, or its user is deleted or not visible to the caller.
    """
    if not is_plausible_id(token_id):
        raise _not_found(token_id[:64])
    token = await session.scalar(
        select(ApiToken)
        .join(User, ApiToken.user_id == User.id)
        .where(ApiToken.id == token_id, visible_users(principal))
    )
    if token is None:
        raise _not_found(token_id)
    return token


async def list_tokens(
    session: AsyncSession,
    principal: Principal,
    *,
    limit: int,
    offset: int,
    user_id: str | None = None,
    include_revoked: bool = False,
) -> tuple[list[ApiToken], int]:
    """Return one page of the caller's tokens, or of a user's they manage.

    Args:
        session: The database session.
        principal: The caller.
        limit: Page length.
        offset: Rows to skip.
        user_id: Whose tokens; the caller's when None (404 if not visible, 403 if not managed).
        include_revoked: Also list revoked tokens.
    """
    owner = principal.user_id
    if user_id is not None:
        user = await get_user(session, principal, user_id)
        check_manages(principal, user)
        owner = user.id
    statement = (
        select(ApiToken)
        .join(User, ApiToken.user_id == User.id)
        .where(ApiToken.user_id == owner, visible_users(principal))
    )
    if not include_revoked:
        statement = statement.where(ApiToken.revoked_at.is_(None))
    statement = statement.order_by(ApiToken.created_at, ApiToken.id)
    return await fetch_page(session, statement, limit, offset)


async def revoke_token(session: AsyncSession, principal: Principal, token_id: str) -> ApiToken:
    """Revoke a token; it stops working at once (a revoked token stays revoked).

    Raises:
        NotFound: the token is not visible to the caller.
        PermissionDenied: the caller sees it but does not manage its user.
    """
    token = await get_token(session, principal, token_id)
    check_manages(principal, token.user)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await session.flush()
        # Processes that keep the token's principal between requests drop it on commit.
        await announce_identity(session, token.user_id)
    return token
