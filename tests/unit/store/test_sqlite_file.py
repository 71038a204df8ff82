"""The embedded database file holds encrypted secrets and token hashes: owner-only."""

from __future__ import annotations

import os
from pathlib import Path

from connectory.store import create_engine, migrate


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


async def test_a_new_database_and_its_journal_are_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "var" / "connectory.db"
    old_umask = os.umask(0o022)  # the usual umask would make 0644 files
    try:
        engine = create_engine(f"sqlite+aiosqlite:///{database}")
        await migrate(engine)
        journal = [p for p in database.parent.iterdir() if p.name.startswith("connectory.db-")]
        modes = {p.name: _mode(p) for p in [database, *journal]}
        await engine.dispose()
    finally:
        os.umask(old_umask)
    assert modes["connectory.db"] == 0o600
    assert all(mode == 0o600 for mode in modes.values()), modes
    assert _mode(database.parent) == 0o700


async def test_an_existing_wider_file_is_tightened(tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    database.touch()
    database.chmod(0o644)
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    await migrate(engine)
    await engine.dispose()
    assert _mode(database) == 0o600
