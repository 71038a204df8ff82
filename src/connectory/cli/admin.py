"""``connectory admin``: operator tasks run against the server's database directly."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from connectory.cli.keys import settings_for
from connectory.cli.options import DatabaseUrl

admin_app = typer.Typer(help="Operator tasks on the server's database (run where the server runs).")


@admin_app.command("token")
def token(
    email: Annotated[str, typer.Option("--email", help="The Platform Admin's email.")],
    create: Annotated[
        bool,
        typer.Option("--create", help="Create a Platform Admin with this email if none has it."),
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Print a new API token for a Platform Admin, once (for a lost first token).

    Uses the server's database settings (CONNECTORY_DATABASE_URL or --database-url). The token
    goes to stdout and nowhere else: keep it.
    """
    from connectory.cli.app import guard

    secret = guard(lambda: asyncio.run(_issue(database_url, email, create)))
    sys.stdout.write(f"{secret}\n")
    sys.stderr.write(
        f"New API token for the Platform Admin {email} (shown once; existing tokens still work; "
        "revoke lost ones with DELETE /tokens/{id}).\n"
    )


async def _issue(database_url: str | None, email: str, create: bool) -> str:
    from connectory.services.bootstrap import issue_admin_recovery_token
    from connectory.store import create_engine, create_sessionmaker, migrate

    settings = settings_for(database_url, None)
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        async with create_sessionmaker(engine)() as session:
            return await issue_admin_recovery_token(session, email, create=create)
    finally:
        await engine.dispose()
