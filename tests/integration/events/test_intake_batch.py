"""The intake batcher: one transaction per batch, and one worker wake per stored batch.

Counts, not clocks: requests stored together share a commit and a wake; a batch of repeats
only (nothing new stored) wakes nobody. SQLite, a real database file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from store_support import intake_batcher, intake_row

from connectory.services.events.intake_batch import IntakeBatcher
from connectory.store import create_engine, create_sessionmaker, migrate
from connectory.store.event_models import IntakeRequest


@pytest.fixture
async def sqlite_sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A migrated SQLite database file."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}")
    await migrate(engine)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


async def test_a_batch_is_stored_in_one_commit_and_wakes_the_worker_once(
    sqlite_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with intake_batcher(sqlite_sessions) as (batcher, wakes):
        # 20 requests queued at once: the first write takes one, the next the 19 others.
        results = await asyncio.gather(*(batcher.store(intake_row(f"m{n}")) for n in range(20)))
        assert results == [True] * 20
        assert len(wakes) <= 2  # once per committed batch, not once per request
        wakes.clear()
        # Repeats only: acknowledged as duplicates, nothing new to handle, nobody woken.
        repeats = await asyncio.gather(*(batcher.store(intake_row(f"m{n}")) for n in range(5)))
        assert repeats == [False] * 5
        assert wakes == []
        assert await batcher.store(intake_row("new")) is True
        assert wakes == [1]
        async with sqlite_sessions() as session:
            assert await session.scalar(select(func.count()).select_from(IntakeRequest)) == 21


async def test_a_failing_wake_does_not_fail_the_stored_request(
    sqlite_sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    woken = asyncio.Event()

    async def broken() -> None:
        woken.set()
        raise RuntimeError("the task queue is away")

    batcher = IntakeBatcher(sqlite_sessions, broken)
    try:
        assert await batcher.store(intake_row("m1")) is True
        assert await batcher.store(intake_row("m2")) is True  # the batcher lives on
        await woken.wait()
        await asyncio.sleep(0)  # the wake's task ends right after it
    finally:
        await batcher.aclose()
    # Handled where it failed (a warning), not left to the loop as a task's lost exception.
    assert "waking the worker after an intake batch failed" in caplog.text
