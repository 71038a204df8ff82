"""Direct access to the test database for the identity tests, independent of the API under test.

``Store`` adds enterprises, users and tokens straight through SQLAlchemy, and takes snapshots of
every table so a test can prove that a refused write changed nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select

from connectory.services.tokens import issue_token
from connectory.store import ApiToken, Base, Enterprise, User, create_engine, create_sessionmaker
from connectory.store.models import utcnow

#: Written while authenticating any request (at most once a minute), so not part of a snapshot.
_VOLATILE = {"last_used_at"}

Snapshot = dict[str, list[tuple[Any, ...]]]


def unique(prefix: str = "x") -> str:
    """A short unique text for names and emails."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


class Store:
    """The test database, reached directly."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url)
        self.sessions = create_sessionmaker(self.engine)

    async def add_enterprise(self, *, deleted: bool = False) -> str:
        """Add an enterprise (soft-deleted if asked) and return its id."""
        async with self.sessions() as session:
            enterprise = Enterprise(name=unique("Enterprise "))
            if deleted:
                enterprise.deleted_at = utcnow()
            session.add(enterprise)
            await session.commit()
            return enterprise.id

    async def add_user(
        self,
        role: str,
        enterprise_id: str | None,
        *,
        sdk_access: bool = False,
        deleted: bool = False,
    ) -> str:
        """Add a user and return their id."""
        async with self.sessions() as session:
            user = User(
                email=f"{unique('user')}@example.test",
                name="target",
                role=role,
                enterprise_id=enterprise_id,
                sdk_access=sdk_access,
                deleted_at=utcnow() if deleted else None,
            )
            session.add(user)
            await session.commit()
            return user.id

    async def add_token(self, user_id: str, *, revoked: bool = False) -> tuple[str, str]:
        """Add a token for *user_id*; return its id and secret."""
        async with self.sessions() as session:
            user = await session.get_one(User, user_id)
            issued = await issue_token(session, user, name="target")
            if revoked:
                issued.row.revoked_at = utcnow()
            await session.commit()
            return issued.row.id, issued.secret

    async def get(self, model: type[Any], object_id: str) -> Any:
        """Load one row by id (None if absent)."""
        async with self.sessions() as session:
            return await session.get(model, object_id)

    async def count(self, model: type[Any], *conditions: Any) -> int:
        """Count the rows of *model* matching *conditions*."""
        async with self.sessions() as session:
            total = await session.scalar(select(func.count()).select_from(model).where(*conditions))
            return int(total or 0)

    async def tokens_of(self, user_id: str) -> list[ApiToken]:
        """Every token row of a user."""
        async with self.sessions() as session:
            rows = await session.scalars(select(ApiToken).where(ApiToken.user_id == user_id))
            return list(rows)

    async def snapshot(self) -> Snapshot:
        """Every row of every table (volatile columns left out), in a stable order."""
        result: Snapshot = {}
        async with self.sessions() as session:
            for table in Base.metadata.sorted_tables:
                columns = [c for c in table.columns if c.name not in _VOLATILE]
                rows = (await session.execute(select(*columns))).all()
                result[table.name] = sorted((tuple(row) for row in rows), key=repr)
        return result

    async def close(self) -> None:
        """Dispose of the engine."""
        await self.engine.dispose()


@asynccontextmanager
async def open_store(database_url: str) -> AsyncIterator[Store]:
    """A :class:`Store` on *database_url*, closed afterwards."""
    store = Store(database_url)
    try:
        yield store
    finally:
        await store.close()


def row_counts(snapshot: Snapshot) -> dict[str, int]:
    """How many rows each table of *snapshot* has."""
    return {table: len(rows) for table, rows in snapshot.items()}
