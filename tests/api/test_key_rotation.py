"""Key rotation re-encrypts every secret while 20 readers keep reading: zero failed reads."""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

from typer.testing import CliRunner

from connectory.cli.app import app
from connectory.services.key_rotation import count_by_key_version, reencrypt_secrets
from connectory.services.secret_store import SecretBox, read_secrets, write_secrets
from connectory.settings import Settings
from connectory.store import create_engine, create_sessionmaker, migrate
from connectory.vault import add_key, load_or_create_key_file

OWNERS = 60


async def test_rotation_under_twenty_concurrent_readers(settings: Settings) -> None:
    key_file = settings.key_file_path
    engine = create_engine(settings.database_url)
    await migrate(engine)
    sessions = create_sessionmaker(engine)
    writer_box = SecretBox(lambda: load_or_create_key_file(key_file))
    expected = {
        f"owner-{i}": {"api_key": f"secret-{i}", "token": f"token-{i}"} for i in range(OWNERS)
    }
    async with sessions() as session:
        for owner, values in expected.items():
            await write_secrets(session, writer_box, "connection", owner, values)
        await session.commit()

    # A "server" that started before the rotation: it learns the new key on first sight.
    server_box = SecretBox(lambda: load_or_create_key_file(key_file))
    failures: list[BaseException] = []
    reads = 0
    rotating = True

    async def reader(seed: int) -> None:
        nonlocal reads
        chooser = random.Random(seed)
        while rotating:
            owner = f"owner-{chooser.randrange(OWNERS)}"
            try:
                async with sessions() as session:
                    values = await read_secrets(session, server_box, "connection", owner)
                assert values == expected[owner]
                reads += 1
            except BaseException as error:  # counted, not raised: every failure matters
                failures.append(error)
            await asyncio.sleep(0)

    readers = [asyncio.create_task(reader(seed)) for seed in range(20)]
    await asyncio.sleep(0.05)
    assert add_key(key_file) == 2
    rotation_box = SecretBox(lambda: load_or_create_key_file(key_file))
    done = await reencrypt_secrets(sessions, rotation_box, batch_size=7)
    await asyncio.sleep(0.05)
    rotating = False
    await asyncio.gather(*readers)
    try:
        assert failures == []
        assert reads > 100
        assert done == OWNERS * 2
        assert await count_by_key_version(sessions) == {2: OWNERS * 2}
        assert server_box.ring.versions == [1, 2]
    finally:
        await engine.dispose()


def test_cli_rotate_and_status(settings: Settings, tmp_path: Path) -> None:
    env = {
        "CONNECTORY_DATABASE_URL": settings.database_url,
        "CONNECTORY_KEY_FILE": str(tmp_path / "cli-keys.json"),
    }

    async def seed() -> None:
        engine = create_engine(settings.database_url)
        await migrate(engine)
        box = SecretBox(lambda: load_or_create_key_file(tmp_path / "cli-keys.json"))
        async with create_sessionmaker(engine)() as session:
            await write_secrets(session, box, "connection", "c1", {"api_key": "v"})
            await session.commit()
        await engine.dispose()

    asyncio.run(seed())
    runner = CliRunner()
    rotated = runner.invoke(app, ["keys", "rotate"], env=env)
    assert rotated.exit_code == 0, rotated.output
    assert "added key 2" in rotated.output
    assert "re-encrypted 1 secret(s) with key 2" in rotated.output
    status = runner.invoke(app, ["keys", "status"], env=env)
    assert status.exit_code == 0
    assert "key 2: 1 secret(s)" in status.output
    assert oct(os.stat(tmp_path / "cli-keys.json").st_mode & 0o777) == "0o600"
    refused = runner.invoke(
        app, ["keys", "rotate"], env={**env, "CONNECTORY_ENCRYPTION_KEYS": "1:" + "A" * 44}
    )
    assert refused.exit_code == 1
    assert "CONNECTORY_ENCRYPTION_KEYS" in refused.output
