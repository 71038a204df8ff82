"""The call log in the store: one INSERT per batch, retention by age and count, filters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectory.errors import InvalidRequest, NotFound
from connectory.observability import CallEntry
from connectory.services.call_log import CallLogStore, CallQuery, get_call, list_calls
from connectory.store import CallLogEntry, create_engine, create_sessionmaker, migrate

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'log.db'}")
    await migrate(engine)
    statements: list[str] = []
    event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *rest: statements.append(statement),
    )
    maker = create_sessionmaker(engine)
    maker.statements = statements  # type: ignore[attr-defined]
    yield maker
    await engine.dispose()


def entry(number: int, connection: str = "conn-a", **fields: object) -> CallEntry:
    values: dict[str, object] = {
        "id": f"{number:032x}",
        "connection_id": connection,
        "kind": "operation",
        "operation": "get_item",
        "status": "ok",
        "started_at": NOW + timedelta(seconds=number),
        "duration": 0.0125,
        "status_code": 200,
        "attempts": 1,
    }
    values.update(fields)
    return CallEntry(**values)  # type: ignore[arg-type]


async def count(sessions: async_sessionmaker[AsyncSession], connection: str) -> int:
    async with sessions() as session:
        found = await session.scalar(
            select(func.count()).where(CallLogEntry.connection_id == connection)
        )
    return int(found or 0)


async def test_a_batch_is_one_insert(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = CallLogStore(sessions, max_age=timedelta(days=7), max_entries=100, clock=lambda: NOW)
    statements = sessions.statements  # type: ignore[attr-defined]
    statements.clear()
    await store.write([entry(n) for n in range(50)])
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1
    async with sessions() as session:
        stored = await get_call(session, "conn-a", f"{7:032x}")
    assert (stored.duration_ms, stored.kind, stored.status_code) == (12.5, "operation", 200)


async def test_retention_keeps_the_newest_entries_per_connection_and_drops_old_ones(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = [NOW]
    store = CallLogStore(
        sessions,
        max_age=timedelta(days=7),
        max_entries=5,
        prune_interval=0,
        clock=lambda: now[0],
    )
    await store.write([entry(n) for n in range(8)])
    await store.write([entry(100 + n, "conn-b") for n in range(3)])
    assert await count(sessions, "conn-a") == 5
    assert await count(sessions, "conn-b") == 3
    async with sessions() as session:
        rows, _ = await list_calls(session, "conn-a", CallQuery(), limit=10)
    assert [row.id for row in rows] == [f"{n:032x}" for n in (7, 6, 5, 4, 3)]
    # Eight days later, everything written today is past its age.
    now[0] = NOW + timedelta(days=8)
    await store.write([entry(200, "conn-c", started_at=now[0])])
    assert await count(sessions, "conn-a") == 0
    assert await count(sessions, "conn-c") == 1


async def test_filters_cursor_and_follow(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = CallLogStore(sessions, max_age=timedelta(days=7), max_entries=100, clock=lambda: NOW)
    batch = [entry(n) for n in range(6)]
    batch += [entry(10, status="error", status_code=503, error_class="UpstreamError")]
    batch += [entry(11, kind="test", operation="fast")]
    await store.write(batch)
    async with sessions() as session:
        first, cursor = await list_calls(session, "conn-a", CallQuery(), limit=3)
        assert [r.id[-2:] for r in first] == ["0b", "0a", "05"] and cursor is not None
        second, cursor = await list_calls(session, "conn-a", CallQuery(), limit=3, cursor=cursor)
        assert [r.id[-2:] for r in second] == ["04", "03", "02"]
        errors, _ = await list_calls(session, "conn-a", CallQuery(status="error"), limit=10)
        assert [r.error_class for r in errors] == ["UpstreamError"]
        tests, _ = await list_calls(session, "conn-a", CallQuery(kind="test"), limit=10)
        assert [r.operation for r in tests] == ["fast"]
        window = CallQuery(since=NOW + timedelta(seconds=2), until=NOW + timedelta(seconds=4))
        timed, _ = await list_calls(session, "conn-a", window, limit=10)
        assert [r.id[-2:] for r in timed] == ["03", "02"]
        newer, after = await list_calls(
            session, "conn-a", CallQuery(), limit=2, after=str(second[0].seq)
        )
        assert [r.id[-2:] for r in newer] == ["05", "0a"] and after == str(newer[-1].seq)
        none, same = await list_calls(session, "conn-a", CallQuery(), limit=2, after="999999")
        assert none == [] and same == "999999"
        other, _ = await list_calls(session, "conn-b", CallQuery(), limit=10)
        assert other == []
        fullwidth = "\uff11\uff12"
        for bad in ({"cursor": "-1"}, {"cursor": fullwidth}, {"after": "x"}):
            with pytest.raises(InvalidRequest):
                await list_calls(session, "conn-a", CallQuery(), limit=2, **bad)
        with pytest.raises(InvalidRequest, match="kind must be one of"):
            await list_calls(session, "conn-a", CallQuery(kind="nope"), limit=2)
        with pytest.raises(NotFound):
            await get_call(session, "conn-b", f"{1:032x}")  # another connection's entry
