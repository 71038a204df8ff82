"""``connectory keys``: rotate the encryption keys of stored secrets."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from connectory.cli.options import DatabaseUrl, KeyFile
from connectory.cli.output import EXIT_INVALID, stderr_console

if TYPE_CHECKING:
    from connectory.settings import Settings

keys_app = typer.Typer(help="Encryption keys of stored secrets (credentials, parameters).")


def settings_for(database_url: str | None, key_file: Path | None) -> Settings:
    """The server's settings (environment), with the command line's database and key file."""
    from connectory.settings import Settings

    overrides: dict[str, object] = {}
    if database_url:
        overrides["database_url"] = database_url
    if key_file:
        overrides["key_file"] = key_file
    return Settings(**overrides)  # type: ignore[arg-type]  # validated by pydantic


@keys_app.command("status")
def status(database_url: DatabaseUrl = None, key_file: KeyFile = None) -> None:
    """Show the key versions and how many secrets each one encrypted."""
    from connectory.cli.app import guard

    guard(lambda: asyncio.run(_status(settings_for(database_url, key_file))))


@keys_app.command("rotate")
def rotate(database_url: DatabaseUrl = None, key_file: KeyFile = None) -> None:
    """Add a new key to the key file, then re-encrypt every secret with it.

    Running servers keep reading throughout: they load the new key when they first meet a
    secret encrypted with it.
    """
    from connectory.cli.app import guard
    from connectory.vault import add_key

    def run() -> None:
        settings = settings_for(database_url, key_file)
        if settings.encryption_keys is not None:
            stderr_console().print(
                "[red]error:[/] keys come from CONNECTORY_ENCRYPTION_KEYS: add the new key there "
                "on every server, restart them, then run `connectory keys reencrypt`"
            )
            raise typer.Exit(EXIT_INVALID)
        version = add_key(settings.key_file_path)
        stderr_console().print(f"added key {version} to {settings.key_file_path}")
        asyncio.run(_reencrypt(settings))

    guard(run)


@keys_app.command("reencrypt")
def reencrypt(database_url: DatabaseUrl = None, key_file: KeyFile = None) -> None:
    """Re-encrypt every secret with the newest key (after adding one)."""
    from connectory.cli.app import guard

    guard(lambda: asyncio.run(_reencrypt(settings_for(database_url, key_file))))


async def _status(settings: Settings) -> None:
    from connectory.services.key_rotation import count_by_key_version
    from connectory.services.server_runtime import load_key_ring
    from connectory.store import create_engine, create_sessionmaker, migrate

    ring = load_key_ring(settings)
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine, ring)
        counts = await count_by_key_version(create_sessionmaker(engine))
    finally:
        await engine.dispose()
    console = stderr_console()
    console.print(f"keys: {', '.join(map(str, ring.versions))} (newest {ring.current_version})")
    for version, count in sorted(counts.items()):
        console.print(f"  key {version}: {count} secret(s)")


async def _reencrypt(settings: Settings) -> None:
    from connectory.cli.output import ProgressLine
    from connectory.services.key_rotation import reencrypt_secrets
    from connectory.services.secret_store import SecretBox
    from connectory.services.server_runtime import load_key_ring
    from connectory.store import create_engine, create_sessionmaker, migrate

    box = SecretBox(lambda: load_key_ring(settings))
    engine = create_engine(settings.database_url)
    progress = ProgressLine()
    try:
        await migrate(engine, box.ring)
        done = await reencrypt_secrets(
            create_sessionmaker(engine),
            box,
            on_progress=lambda count: progress.count(count, "secret(s) re-encrypted"),
        )
    finally:
        await engine.dispose()
    stderr_console().print(f"re-encrypted {done} secret(s) with key {box.ring.current_version}")
