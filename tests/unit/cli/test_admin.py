"""`connectory admin token`: a new Platform Admin token from the server's database."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from connectory.cli.app import app
from connectory.services.bootstrap import bootstrap_first_admin
from connectory.services.tokens import authenticate
from connectory.store import User, create_engine, create_sessionmaker, migrate


async def _prepare(url: str) -> None:
    engine = create_engine(url)
    await migrate(engine)
    async with create_sessionmaker(engine)() as session:
        await bootstrap_first_admin(session, "admin@localhost")
        session.add(User(email="viewer@example.org", role="viewer"))
        await session.commit()
    await engine.dispose()


async def _role_of(url: str, secret: str) -> str:
    engine = create_engine(url)
    async with create_sessionmaker(engine)() as session:
        principal = await authenticate(session, secret)
    await engine.dispose()
    return principal.role


def test_prints_a_working_token_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    asyncio.run(_prepare(url.replace("sqlite://", "sqlite+aiosqlite://")))
    result = CliRunner().invoke(
        app, ["admin", "token", "--email", "ADMIN@localhost", "--database-url", url]
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("cty_")
    assert secret not in result.stderr
    assert (
        asyncio.run(_role_of(url.replace("sqlite://", "sqlite+aiosqlite://"), secret))
        == "platform_admin"
    )


def test_refuses_unknown_and_non_admin_users(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    asyncio.run(_prepare(url.replace("sqlite://", "sqlite+aiosqlite://")))
    unknown = CliRunner().invoke(
        app, ["admin", "token", "--email", "who@x.org", "--database-url", url]
    )
    assert unknown.exit_code != 0 and "--create" in unknown.output
    assert unknown.stdout == ""
    viewer = CliRunner().invoke(
        app, ["admin", "token", "--email", "viewer@example.org", "--database-url", url]
    )
    assert viewer.exit_code != 0 and "not a Platform Admin" in viewer.output
    created = CliRunner().invoke(
        app, ["admin", "token", "--email", "ops@x.org", "--create", "--database-url", url]
    )
    assert created.exit_code == 0, created.output
    assert created.stdout.startswith("cty_")
