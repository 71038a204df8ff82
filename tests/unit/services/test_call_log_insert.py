"""The call log's compiled INSERT stores exactly what SQLAlchemy's own insert of the row did."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectory.observability import CallEntry
from connectory.services.call_log import CallLogStore
from connectory.store import CallLogEntry, create_engine, create_sessionmaker, migrate


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'log.db'}")
    await migrate(engine)
    yield create_sessionmaker(engine)
    await engine.dispose()


def full_entry(call_id: str, **fields: Any) -> CallEntry:
    values: dict[str, Any] = {
        "id": call_id,
        "connection_id": "conn-1",
        "kind": "operation",
        "operation": "get_item é",
        "status": "error",
        "started_at": datetime(2026, 12, 5, 12, 0, 1, 123456, tzinfo=UTC),
        "duration": 0.0123456,
        "status_code": 502,
        "attempts": 3,
        "error_class": "UpstreamError",
        "error_message": "bad gateway ✓",
        "request_excerpt": "GET https://api.example/items/7",
        "response_excerpt": "502\n\n{}",
        "trace_id": "a" * 32,
        "parent_id": "b" * 32,
        "enterprise_id": "ent-1",
        "connector_id": "conn-tor",
    }
    values.update(fields)
    return CallEntry(**values)


def as_row(entry: CallEntry) -> dict[str, object]:
    """The row as the previous write built it for ``insert(table)``."""
    return {
        "id": entry.id,
        "connection_id": entry.connection_id,
        "enterprise_id": entry.enterprise_id,
        "connector_id": entry.connector_id,
        "kind": entry.kind[:32],
        "operation": entry.operation,
        "status": entry.status,
        "status_code": entry.status_code,
        "started_at": entry.started_at,
        "duration_ms": round(entry.duration * 1000, 3),
        "attempts": entry.attempts,
        "error_class": entry.error_class[:100] if entry.error_class else None,
        "error_message": entry.error_message,
        "request_excerpt": entry.request_excerpt,
        "response_excerpt": entry.response_excerpt,
        "trace_id": entry.trace_id,
        "parent_id": entry.parent_id,
    }


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {
            "operation": None,
            "status": "ok",
            "status_code": None,
            "error_class": None,
            "error_message": None,
            "request_excerpt": None,
            "response_excerpt": None,
            "trace_id": None,
            "parent_id": None,
            "enterprise_id": None,
            "connector_id": None,
        },
        {"kind": "k" * 40, "error_class": "E" * 150},
        # The time's text as SQLAlchemy writes it: no microseconds, a naive time, another
        # offset (left out, not converted), a year of fewer than four digits.
        {"started_at": datetime(2026, 12, 5, 12, 0, 1, tzinfo=UTC)},
        {"started_at": datetime(2026, 1, 2, 3, 4, 5, 60)},
        {
            "started_at": datetime(
                2026, 12, 5, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))
            )
        },
        {"started_at": datetime(999, 1, 1, 0, 0, 0, 1, tzinfo=UTC)},
    ],
)
async def test_the_stored_row_is_the_one_sqlalchemy_stored(
    sessions: async_sessionmaker[AsyncSession], fields: dict[str, Any]
) -> None:
    # Kept whatever their time (retention does not delete the old times tried here).
    store = CallLogStore(sessions, max_age=timedelta(days=365 * 1500), max_entries=100)
    await store.write([full_entry("1" * 32, **fields)])
    async with sessions() as session:
        table = cast(Table, CallLogEntry.__table__)
        await session.execute(insert(table), [as_row(full_entry("2" * 32, **fields))])
        await session.commit()
        rows = (await session.execute(text("SELECT * FROM call_log ORDER BY id"))).all()
    written, reference = (
        {k: v for k, v in row._mapping.items() if k not in ("seq", "id")} for row in rows
    )
    assert written == reference


async def test_a_batch_leaves_out_only_columns_null_in_every_row(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    plain = {"error_class": None, "error_message": None, "trace_id": None, "parent_id": None}
    batch = [
        full_entry("1" * 32, **plain),
        full_entry("2" * 32, **{**plain, "trace_id": "c" * 32}),  # one row has a trace id
        full_entry("3" * 32, **plain, status_code=None, enterprise_id=None),
    ]
    store = CallLogStore(sessions, max_age=timedelta(days=7), max_entries=100)
    await store.write(batch)
    # Alone: more columns left out (another statement).
    await store.write([dataclasses.replace(batch[2], id="4" * 32)])
    async with sessions() as session:
        table = cast(Table, CallLogEntry.__table__)
        references = [*batch, batch[2]]
        await session.execute(
            insert(table),
            [as_row(dataclasses.replace(e, id=f"{n:032x}")) for n, e in enumerate(references)],
        )
        await session.commit()
        rows = (await session.execute(text("SELECT * FROM call_log ORDER BY seq"))).all()
    values = [{k: v for k, v in row._mapping.items() if k not in ("seq", "id")} for row in rows]
    assert values[:4] == values[4:]
    assert values[1]["trace_id"] == "c" * 32 and values[0]["trace_id"] is None
    assert values[2]["status_code"] is None and values[0]["status_code"] == 502
