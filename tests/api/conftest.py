"""The management API under test, on SQLite and on PostgreSQL.

``api`` runs the app in-process (lifespan included) behind an ``httpx.AsyncClient``; ``world``
fills it with two enterprises and a user of every role in each, with a token per user::

    response = await api.get("/connectors", headers=world.auth("a_admin"))

Every test using ``api`` runs twice: on a fresh SQLite file and on a fresh PostgreSQL
database (created on 127.0.0.1 and dropped afterwards). Without PostgreSQL the second run skips
with the reason, except under CI=true, where it fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from connectory.api import create_app
from connectory.services.tokens import issue_token
from connectory.settings import Settings
from connectory.store import Enterprise, User, create_engine, create_sessionmaker, migrate
from testkit.otlp_sink import otlp_sink
from testkit.skips import missing

from .support import Server, World

#: Fixtures defined elsewhere, offered to the API's tests.
__all__ = ["otlp_sink"]

POSTGRES_ADMIN_DSN = os.environ.get(
    "CONNECTORY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _async_url(name: str) -> str:
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def _create_postgres_database(template: str | None = None) -> str:
    name = f"connectory_test_{uuid.uuid4().hex[:12]}"
    try:
        connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        missing(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_DSN}: {error}")
    try:
        suffix = f' TEMPLATE "{template}"' if template else ""
        await connection.execute(f'CREATE DATABASE "{name}"{suffix}')
    finally:
        await connection.close()
    return name


async def _migrated(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A migrated SQLite file and PostgreSQL database, copied for each test.

    Copying a migrated template is much faster than migrating every test's database, and the
    migrations still run once per session (and again, as a no-op, at each app start).
    """
    sqlite_file = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrated(f"sqlite+aiosqlite:///{sqlite_file}"))
    templates = {"sqlite": str(sqlite_file)}
    postgres: str | None = None
    try:
        postgres = asyncio.run(_create_postgres_database())
        asyncio.run(_migrated(_async_url(postgres)))
        templates["postgresql"] = postgres
    except (pytest.skip.Exception, pytest.fail.Exception) as unavailable:
        templates["postgresql_missing"] = str(unavailable)
    yield templates
    if postgres is not None:
        asyncio.run(_drop_postgres_database(postgres))


async def _drop_postgres_database(name: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: dict[str, str]
) -> AsyncIterator[str]:
    """A fresh database of each kind, at the newest schema, with no rows."""
    if request.param == "sqlite":
        path = tmp_path / "connectory.db"
        shutil.copyfile(migrated_templates["sqlite"], path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    if "postgresql" not in migrated_templates:
        missing(migrated_templates.get("postgresql_missing", "PostgreSQL is not available"))
    name = await _create_postgres_database(template=migrated_templates["postgresql"])
    try:
        yield _async_url(name)
    finally:
        await _drop_postgres_database(name)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for a test server: the test database, small limits so limits can be hit."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        max_body_bytes=2 * 1024 * 1024,
        max_page_size=50,
        default_page_size=20,
        # Upstreams in tests are servers on loopback; the egress guard must let them through.
        egress_allow="127.0.0.1",
    )


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Server]:
    """The app with its lifespan run (migrations, bootstrap), behind an AsyncClient."""
    tokens: list[str] = []
    app = create_app(settings, on_first_admin_token=tokens.append)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Server(client, app, tokens[0])


@pytest.fixture
def api(server: Server) -> httpx.AsyncClient:
    """The HTTP client of the running app."""
    return server.client


_USERS = {
    "platform": ("platform_admin", None, False),
    "a_admin": ("enterprise_admin", "a", True),
    "a_plain_admin": ("enterprise_admin", "a", False),
    "a_viewer": ("viewer", "a", False),
    "b_admin": ("enterprise_admin", "b", True),
    "b_viewer": ("viewer", "b", False),
}


@pytest.fixture
async def world(server: Server, settings: Settings) -> World:
    """Populate the running app's database directly (independent of the API under test)."""
    engine = create_engine(settings.database_url)
    sessions = create_sessionmaker(engine)
    result = World()
    async with sessions() as session:
        for key in ("a", "b"):
            enterprise = Enterprise(name=f"Enterprise {key.upper()}")
            session.add(enterprise)
            await session.flush()
            result.enterprises[key] = enterprise.id
        for name, (role, enterprise_key, sdk) in _USERS.items():
            user = User(
                email=f"{name}@example.test",
                name=name,
                role=role,
                enterprise_id=result.enterprises[enterprise_key] if enterprise_key else None,
                sdk_access=sdk,
            )
            session.add(user)
            await session.flush()
            result.users[name] = user.id
            result.tokens[name] = (await issue_token(session, user, name="test")).secret
        await session.commit()
    await engine.dispose()
    return result


@pytest.fixture
def examples_dir() -> Iterator[Path]:
    """The repository's examples/ folder."""
    yield Path(__file__).resolve().parents[2] / "examples"
