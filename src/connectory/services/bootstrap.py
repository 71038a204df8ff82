"""First start: create the first Platform Admin, whose token is shown exactly once."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

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
