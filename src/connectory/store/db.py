"""Engine, sessions and migrations.

SQLite (aiosqlite) by default, PostgreSQL (asyncpg) by URL. The schema is owned by Alembic:
:func:`migrate` brings any database to the newest revision and is run when the server starts.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from connectory.vault import KeyRing

_MIGRATIONS = Path(__file__).with_name("migrations")
#: Key of the advisory lock migrations hold on PostgreSQL (any constant, the same everywhere).
_LOCK = 0x6D696772  # "migr"


def create_engine(database_url: str) -> AsyncEngine:
    """Create the engine for *database_url*.

    A SQLite file is created owner-only (0600; its journal files inherit the mode) in a folder
    created owner-only if missing: it holds encrypted secrets and API token hashes.
    """
    url = make_url(database_url)
    # SQLAlchemy's message of a database error leaves out its own "[parameters: ...]" (a
    # token's hash, an intake URL's token, ciphertext). The driver's message it quotes is kept,
    # and asyncpg's DETAIL quotes values (``Key (token_hash)=(...) already exists``): such
    # errors are logged by type and traceback only (connectory.logs.described_error).
    options: dict[str, Any] = {"hide_parameters": True}
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
            _create_private_file(Path(url.database))
        options["connect_args"] = {"timeout": 30}
    else:
        options["pool_pre_ping"] = True
    engine = create_async_engine(url, **options)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _create_private_file(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        # An older file (or one made by another tool) may be wider: tighten what we own.
        if os.fstat(descriptor).st_uid == os.getuid():
            os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets readers work during a write.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (the API serialises them then)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    """The Alembic configuration of the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


async def migrate(engine: AsyncEngine, keys: KeyRing | None = None) -> None:
    """Upgrade the database to the newest schema revision.

    Args:
        engine: The database.
        keys: The server's key ring, for revisions that encrypt what earlier ones stored in
            clear (0004 seals sensitive defaults). Without it such a revision fails on a
            database that has something to encrypt, and changes nothing.
    """

    def upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        config.attributes["encryption_keys"] = keys
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several processes (API servers, workers) start at once on one database: one
            # migrates, the others wait for it and then find nothing to do.
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
        await connection.run_sync(upgrade)


@asynccontextmanager
async def session_scope(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session whose work is committed on success and rolled back on error."""
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
