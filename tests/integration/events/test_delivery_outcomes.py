"""Recording a batch's tries: every attempt stored, every delivery moved on, in few statements.

Run on SQLite and on a fresh PostgreSQL database (where a batch's attempts and moves are one
statement, whatever its size).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from store_support import NOW, add_tenant, delivery_row

from connectory.services.events.deliveries import (
    LEASE_SECONDS,
    Outcome,
    claim_deliveries,
    record_outcomes,
)
from connectory.services.events.records import as_utc
from connectory.settings import Settings
from connectory.store import Delivery, DeliveryAttempt

SETTINGS = Settings(delivery_max_attempts=3, delivery_backoff_seconds=10)
LEASE = NOW + timedelta(seconds=LEASE_SECONDS)


@contextmanager
def statements(sessions: async_sessionmaker[AsyncSession]) -> Iterator[list[tuple[str, bool]]]:
    """The statements sent to the database meanwhile (text, executemany)."""
    engine = sessions.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    sent: list[tuple[str, bool]] = []

    def seen(*args: Any) -> None:
        sent.append((args[2], args[5]))

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)


async def _claimed(
    sessions: async_sessionmaker[AsyncSession], attempts: list[int]
) -> list[dict[str, Any]]:
    """Due deliveries with these try counts, each its own queue, claimed (leased until LEASE)."""
    async with sessions() as session:
        enterprise, endpoint = await add_tenant(session, cap=len(attempts))
        rows = [
            delivery_row(enterprise, endpoint, seq, f"q{seq}", NOW, attempts=tries)
            for seq, tries in enumerate(attempts, 1)
        ]
        await session.execute(insert(Delivery), rows)
        await session.commit()
    async with sessions() as session:
        claimed = (await claim_deliveries(session, NOW, limit=len(rows))).ids
        await session.commit()
    assert sorted(claimed) == sorted(row["id"] for row in rows)
    return rows


async def test_a_mixed_batch_moves_each_delivery_as_its_try_says(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # Tries after the claim: 1, 1, 1, 3 (the last try), 1, 1.
    rows = await _claimed(sessions, [0, 0, 0, 2, 0, 0])
    ok, accepted, retried, dying, moved_on, untried = (row["id"] for row in rows)
    # Another claim holds this one now (its lease expired and was taken over).
    later_lease = LEASE + timedelta(minutes=5)
    async with sessions() as session:
        await session.execute(
            update(Delivery).where(Delivery.id == moved_on).values(lease_until=later_lease)
        )
        await session.commit()
    recorded_at = NOW + timedelta(seconds=3)
    outcomes = [
        Outcome(ok, True, 200, "", 12),
        Outcome(accepted, True, 204, "", 7),
        Outcome(retried, False, 503, "the endpoint answered 503", 40, "conn-a"),
        Outcome(dying, False, None, "ClientConnectorError: refused", 1, "conn-b"),
        Outcome(moved_on, True, 200, "", 3),
    ]
    dead: list[str] = []

    class _Metrics:
        def count_dead_letter(self, connector_id: str) -> None:
            dead.append(connector_id)

    await record_outcomes(
        sessions,
        SETTINGS,
        recorded_at,
        outcomes,
        [untried],
        lease_until=LEASE,
        metrics=_Metrics(),  # type: ignore[arg-type]
    )
    assert dead == ["conn-b"]
    async with sessions() as session:
        found = {d.id: d for d in await session.scalars(select(Delivery))}
        tries = list(
            await session.execute(
                select(
                    DeliveryAttempt.delivery_id,
                    DeliveryAttempt.status_code,
                    DeliveryAttempt.error,
                    DeliveryAttempt.duration_ms,
                ).order_by(DeliveryAttempt.id)
            )
        )
    # Every try is on record, in the batch's order (a late one too: it was sent).
    assert [tuple(t) for t in tries] == [
        (o.delivery_id, o.status_code, o.error, o.duration_ms) for o in outcomes
    ]
    for delivery_id, code in ((ok, 200), (accepted, 204)):
        done = found[delivery_id]
        assert (done.status, done.last_status_code, done.last_error) == ("succeeded", code, "")
        assert done.lease_until is None and as_utc(done.finished_at) == recorded_at
    again = found[retried]
    assert (again.status, again.attempts, again.last_status_code) == ("pending", 1, 503)
    assert again.last_error == "the endpoint answered 503"
    assert again.lease_until is None and again.finished_at is None
    # The first retry waits the base delay, with up to 10% jitter either way.
    wait = (as_utc(again.next_run_at) - recorded_at).total_seconds()
    assert 9.0 <= wait <= 11.0
    gone = found[dying]
    assert (gone.status, gone.attempts, gone.last_status_code) == ("dead", 3, None)
    assert gone.last_error == "ClientConnectorError: refused"
    assert as_utc(gone.finished_at) == recorded_at and gone.lease_until is None
    # Held by another claim: this late outcome does not move it.
    other = found[moved_on]
    assert (other.status, other.finished_at) == ("in_flight", None)
    assert other.lease_until is not None and as_utc(other.lease_until) == later_lease
    back = found[untried]
    assert (back.status, back.attempts, back.lease_until) == ("pending", 0, None)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_batch_is_recorded_in_as_many_statements_whatever_its_size(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """PostgreSQL records a batch in one statement (SQLite keeps the portable form)."""
    counts = []
    for size in (4, 24):
        rows = await _claimed(sessions, [0] * size)
        # Successes with three status codes, and as many failures as successes.
        outcomes = [
            Outcome(row["id"], True, 200 + n % 3, "", 1)
            if n % 2
            else Outcome(row["id"], False, 500, "the endpoint answered 500", 1)
            for n, row in enumerate(rows)
        ]
        with statements(sessions) as sent:
            await record_outcomes(sessions, SETTINGS, NOW, outcomes, lease_until=LEASE)
        work = [(sql, many) for sql, many in sent if not sql.lstrip().upper().startswith("SELECT")]
        # One statement, not an executemany (one server execution per row).
        assert [many for _, many in work] == [False]
        counts.append(len(sent))
    assert counts[0] == counts[1]
