"""First start: create the first Platform Admin, whose token is shown exactly once."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import NotFound, PermissionDenied
from connectory.services.tokens import issue_token
from connectory.store.models import User


async def bootstrap_first_admin(session: AsyncSession, email: str) -> str | None:
    """Create the first platform admin on an empty database and return its token secret.

    Returns None when users exist already (the token was shown when they were created).
    """
    count = await session.scalar(select(func.count()).select_from(User))
    if count:
        return None
    admin = User(email=email, name="Platform Admin", role="platform_admin")
    session.add(admin)
    await session.flush()
    issued = await issue_token(session, admin, name="bootstrap")
    await session.commit()
    return issued.secret


async def issue_admin_recovery_token(session: AsyncSession, email: str, *, create: bool) -> str:
    """Issue a new API token for the Platform Admin *email* (a lost first token, say).

    This is for operators with access to the server's database, who could change it anyway;
    it is not reachable through the API.

    Args:
        session: A session on the server's database.
        email: The Platform Admin's email address.
        create: Create a Platform Admin with this email when no user has it.

    Returns:
        The token secret, to be shown once.

    Raises:
        NotFound: no live user has *email* and *create* is False.
        PermissionDenied: the user with *email* is not a Platform Admin.
    """
    user = await session.scalar(
        select(User).where(func.lower(User.email) == email.lower(), User.deleted_at.is_(None))
    )
    if user is None:
        if not create:
            raise NotFound(
                f"no user has the email {email!r}; check the address, or add --create to "
                "create a new Platform Admin with it"
            )
        user = User(email=email, name="Platform Admin", role="platform_admin")
        session.add(user)
        await session.flush()
    elif user.role != "platform_admin":
        raise PermissionDenied(
            f"{email!r} is a {user.role.replace('_', ' ')}, not a Platform Admin; a Platform "
            "Admin or enterprise admin issues tokens for other users through the API"
        )
    issued = await issue_token(session, user, name="recovery")
    await session.commit()
    return issued.secret
