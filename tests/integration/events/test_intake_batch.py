"""The intake batcher: one transaction per batch, and one worker wake per stored batch.

Counts, not clocks: requests stored together share a commit and a wake; a batch of repeats
only (nothing new stored) wakes nobody. SQLite, a real database file.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from connectory.services.events.intake_batch import IntakeBatcher
from connectory.store import create_engine, create_sessionmaker, migrate, new_id
from connectory.store.event_models import IntakeRequest
from connectory.store.models import utcnow


def _row(message_id: str) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": new_id(),
        "route": "s:route",
        "subscription_id": None,
        "connector_id": "c",
        "enterprise_id": None,
        "message_id": message_id,
        "method": "POST",
        "query": {},
        "headers": {},
        "body": b"{}",
        "received_at": now,
        "status": "pending",
        "attempts": 0,
        "next_run_at": now,
        "error": "",
    }


async def test_a_batch_is_stored_in_one_commit_and_wakes_the_worker_once(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}")
    await migrate(engine)
    wakes: list[int] = []

    async def stored() -> None:
        wakes.append(1)

    batcher = IntakeBatcher(create_sessionmaker(engine), stored)
    try:
        # 20 requests queued at once: the first write takes one, the next the 19 others.
        results = await asyncio.gather(*(batcher.store(_row(f"m{n}")) for n in range(20)))
        assert results == [True] * 20
        assert len(wakes) <= 2  # once per committed batch, not once per request
        wakes.clear()
        # Repeats only: acknowledged as duplicates, nothing new to handle, nobody woken.
        repeats = await asyncio.gather(*(batcher.store(_row(f"m{n}")) for n in range(5)))
        assert repeats == [False] * 5
        assert wakes == []
        assert await batcher.store(_row("new")) is True
        assert wakes == [1]
        async with create_sessionmaker(engine)() as session:
            assert await session.scalar(select(func.count()).select_from(IntakeRequest)) == 21
    finally:
        await batcher.aclose()
        await engine.dispose()


async def test_a_failing_wake_does_not_fail_the_stored_request(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}")
    await migrate(engine)

    async def broken() -> None:
        raise RuntimeError("the task queue is away")

    batcher = IntakeBatcher(create_sessionmaker(engine), broken)
    try:
        assert await batcher.store(_row("m1")) is True
        assert await batcher.store(_row("m2")) is True  # the batcher lives on
    finally:
        await batcher.aclose()
        await engine.dispose()
