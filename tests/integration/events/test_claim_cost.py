"""What a claim reads: rows for its batch, not the backlog or the queues' history.

Counted, not timed: PostgreSQL's per-transaction table statistics
(``pg_stat_xact_user_tables``) say how many rows of ``deliveries`` the claim's statements
read, by sequential scans and by index look-ups, within the claim's own transaction.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, insert, inspect, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from store_support import HOOK_URL, NOW, add_tenant, delivery_row

from connectory.services.events import claim_heads
from connectory.services.events.deliveries import (
    LEASE_SECONDS,
    Outcome,
    _Tried,
    claim_deliveries,
    write_outcomes,
)
from connectory.settings import Settings
from connectory.store import Delivery, WebhookEndpoint, new_id
from connectory.store.db import alembic_config

postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

#: Rows of ``deliveries`` read by the statements of this transaction so far, and index scans
#: (look-ups) of it started.
_ROWS_READ = text(
    "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0), coalesce(idx_scan, 0) "
    "FROM pg_stat_xact_user_tables WHERE relname = 'deliveries'"
)


async def _claim_counting_reads(
    sessions: async_sessionmaker[AsyncSession], limit: int, depth: int = 1, analyzed: bool = True
) -> tuple[list[str], int]:
    """Claim in a transaction of its own; the ids and the rows of deliveries it read."""
    claimed, read, _ = await _claim_counting(sessions, limit, depth, analyzed)
    return claimed, read


async def _claim_counting(
    sessions: async_sessionmaker[AsyncSession], limit: int, depth: int = 1, analyzed: bool = True
) -> tuple[list[str], int, int]:
    """Claim in a transaction of its own; the ids, the rows of deliveries it read and the
    index look-ups it made.

    *analyzed*: the table's statistics are up to date (as autovacuum keeps them), or, False,
    the rows came in a burst since the last ANALYZE (the planner believes the table small).
    """
    if analyzed:
        async with sessions() as session:
            await session.execute(text("ANALYZE deliveries"))
            await session.commit()
    async with sessions() as session:
        read_before, scans_before = (await session.execute(_ROWS_READ)).one()
        claimed = (await claim_deliveries(session, NOW, limit=limit, depth=depth)).ids
        read, scans = (await session.execute(_ROWS_READ)).one()
        await session.commit()
    return claimed, read - read_before, scans - scans_before


#: Backlogs: their size and their queues' order keys, as short as a test's (``sub-1``) or as
#: long as real ones (a subscription's id, 32 characters). Real keys make the live queue index
#: wider than the live time index; at some sizes (8,000 here) its tree is a level deeper, and
#: without statistics the planner served the queue look-ups from the time index instead (the
#: cheaper descent), reading every live delivery of the endpoint for each candidate: 150 ms a
#: claim at 8,000, under the claim lock.
_BACKLOGS = {
    "short-keys-20000": (20_000, lambda seq: f"sub-{seq}"),
    "id-keys-8000": (8_000, lambda seq: f"{seq:032x}"),
    "id-keys-20000": (20_000, lambda seq: f"{seq:032x}"),
}


@postgresql_only
@pytest.mark.parametrize("analyzed", [True, False], ids=["analyzed", "burst"])
@pytest.mark.parametrize("backlog_shape", sorted(_BACKLOGS))
async def test_a_claim_reads_rows_for_its_batch_not_for_the_backlog(
    sessions: async_sessionmaker[AsyncSession], analyzed: bool, backlog_shape: str
) -> None:
    size, key = _BACKLOGS[backlog_shape]
    async with sessions() as session:
        a, a_endpoint = await add_tenant(session, cap=64)
        b, b_endpoint = await add_tenant(session)
        backlog = [
            delivery_row(a, a_endpoint, seq, key(seq), NOW - timedelta(seconds=seq))
            for seq in range(1, size + 1)
        ]
        await session.execute(insert(Delivery), backlog)
        b_row = delivery_row(b, b_endpoint, size + 1, "sub-b", NOW)
        await session.execute(insert(Delivery), [b_row])
        await session.commit()
    claimed, read = await _claim_counting_reads(sessions, limit=50, analyzed=analyzed)
    assert len(claimed) == 50 and b_row["id"] in claimed  # fair as ever
    # Ranking the whole backlog read every one of its rows (twice); the claim reads
    # about its batch: the candidates within the endpoints' room, then the rows it leases.
    assert read < 500, read


@postgresql_only
@pytest.mark.parametrize("analyzed", [True, False], ids=["analyzed", "burst"])
async def test_a_queue_s_finished_history_is_not_read_to_find_its_head(
    sessions: async_sessionmaker[AsyncSession], analyzed: bool
) -> None:
    async with sessions() as session:
        a, endpoint = await add_tenant(session, cap=4)
        history = [
            {**delivery_row(a, endpoint, seq, "sub-1", NOW - timedelta(days=1)), "status": status}
            for seq, status in zip(range(1, 3_001), ["succeeded", "dead"] * 1_500, strict=True)
        ]
        await session.execute(insert(Delivery), history)
        head = delivery_row(a, endpoint, 3_001, "sub-1", NOW)
        follower = delivery_row(a, endpoint, 3_002, "sub-1", NOW)
        await session.execute(insert(Delivery), [head, follower])
        await session.commit()
    claimed, read = await _claim_counting_reads(sessions, limit=10, depth=5, analyzed=analyzed)
    assert claimed == [head["id"], follower["id"]]
    assert read < 50, read


def _delivery_indexes(connection: Connection) -> dict[str, list[str | None]]:
    return {
        index["name"]: list(index["column_names"])
        for index in inspect(connection).get_indexes("deliveries")
        if index["name"] is not None
    }


def _time_index_condition(connection: Connection) -> str:
    """The live time index's condition (its WHERE), as the database reports it."""
    (index,) = [
        index
        for index in inspect(connection).get_indexes("deliveries")
        if index["name"] == "ix_deliveries_live_due"
    ]
    options = index.get("dialect_options", {})
    where = options.get("postgresql_where", options.get("sqlite_where"))
    return str(getattr(where, "text", where))


async def test_the_live_indexes_migrate_down_and_up(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Revision 0011 replaces the queue index by partial ones, 0012 adds the in-flight one,
    0013 narrows the time index to the time scan; all revert cleanly."""
    engine = sessions.kw["bind"]

    def migrate_to(revision: str, connection: Connection) -> dict[str, list[str | None]]:
        config = alembic_config()
        config.attributes["connection"] = connection
        if revision == "head":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)
        return _delivery_indexes(connection)

    async with engine.begin() as connection:
        migrated = await connection.run_sync(_delivery_indexes)
        time_condition = await connection.run_sync(_time_index_condition)
    assert "next_run_at IS NOT NULL" in time_condition, time_condition  # 0013
    assert migrated["ix_deliveries_live_queue"] == ["endpoint_id", "order_key", "event_seq"]
    assert migrated["ix_deliveries_live_due"] == ["endpoint_id", "next_run_at", "event_seq"]
    assert migrated["ix_deliveries_endpoint_created"] == ["endpoint_id", "created_at"]
    assert "ix_deliveries_queue" not in migrated
    assert migrated["ix_deliveries_in_flight"] == ["endpoint_id", "order_key"]  # 0012
    async with engine.begin() as connection:
        await connection.run_sync(lambda c: migrate_to("0012", c))
        before_0013 = await connection.run_sync(_time_index_condition)
    assert "next_run_at" not in before_0013, before_0013
    async with engine.begin() as connection:
        reverted = await connection.run_sync(lambda c: migrate_to("0010", c))
    assert "ix_deliveries_live_queue" not in reverted
    assert "ix_deliveries_in_flight" not in reverted
    assert "ix_deliveries_endpoint_created" not in reverted
    assert reverted["ix_deliveries_queue"] == ["endpoint_id", "order_key", "event_seq"]
    async with engine.begin() as connection:
        again = await connection.run_sync(lambda c: migrate_to("head", c))
    assert again == migrated


@pytest.mark.parametrize("head", ["in_flight", "due"])
async def test_a_head_behind_a_deep_queue_s_waiting_deliveries_is_claimed(
    sessions: async_sessionmaker[AsyncSession], head: str
) -> None:
    """3,000 deliveries wait behind their queue's head (an outage's backlog of one
    subscription), all due before another queue's head on the same endpoint: the claim still
    finds that head, and on PostgreSQL reads a few rows per queue, not the deep queue."""
    async with sessions() as session:
        a, endpoint = await add_tenant(session, cap=4)
        deep = [
            delivery_row(a, endpoint, seq, "sub-deep", NOW - timedelta(hours=1, seconds=-seq))
            for seq in range(1, 3_001)
        ]
        if head == "in_flight":  # sending: its lease runs
            deep[0].update(status="in_flight", lease_until=NOW + timedelta(minutes=1))
        await session.execute(insert(Delivery), deep)
        other = delivery_row(a, endpoint, 3_001, "sub-other", NOW)
        await session.execute(insert(Delivery), [other])
        await session.commit()
    postgresql = sessions.kw["bind"].dialect.name == "postgresql"
    if postgresql:
        claimed, read = await _claim_counting_reads(sessions, limit=10, depth=3)
        assert read < 300, read
    else:
        async with sessions() as session:
            claimed = (await claim_deliveries(session, NOW, limit=10, depth=3)).ids
            await session.commit()
    expected = [other["id"]] if head == "in_flight" else [*(r["id"] for r in deep[:3]), other["id"]]
    assert sorted(claimed) == sorted(expected)


def _backing_off(enterprise: str, endpoint: str, queues: int) -> list[dict[str, object]]:
    """*queues* subscriptions' queues, each a failed head backing off for ten minutes and a
    newer event due behind it (an endpoint down, one subscription per customer)."""
    rows: list[dict[str, object]] = []
    for n in range(queues):
        head = delivery_row(enterprise, endpoint, 2 * n + 1, f"sub-{n:05}", NOW)
        head["next_run_at"] = NOW + timedelta(minutes=10)
        rows += [head, delivery_row(enterprise, endpoint, 2 * n + 2, f"sub-{n:05}", NOW)]
        rows[-1]["next_run_at"] = NOW - timedelta(hours=1)
    return rows


@postgresql_only
async def test_many_queues_backing_off_cost_a_claim_a_bounded_walk(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        a, a_endpoint = await add_tenant(session, cap=4)
        b, b_endpoint = await add_tenant(session)
        await session.execute(insert(Delivery), _backing_off(a, a_endpoint, 3_000))
        b_row = delivery_row(b, b_endpoint, 10_000, "sub-b", NOW)
        await session.execute(insert(Delivery), [b_row])
        await session.commit()
    claimed, _, scans = await _claim_counting(sessions, limit=10, analyzed=False)
    assert claimed == [b_row["id"]]
    # Walking all 3,000 queues took two look-ups each, every claim; a walk is bounded.
    assert scans < 600, scans


async def test_a_head_past_the_first_walk_is_claimed_by_a_later_claim(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Walks go on round an endpoint's queues: a due head beyond the first walk's reach is
    claimed within a round of claims (at once on SQLite)."""
    async with sessions() as session:
        a, endpoint = await add_tenant(session, cap=4)
        await session.execute(insert(Delivery), _backing_off(a, endpoint, 400))
        last = delivery_row(a, endpoint, 10_000, "sub-zzzzz", NOW)  # the last queue walked
        await session.execute(insert(Delivery), [last])
        await session.commit()
    claims = 0
    claimed: list[str] = []
    while not claimed and claims < 10:  # 401 queues, 80 a walk: within 6 claims
        async with sessions() as session:
            claimed = (await claim_deliveries(session, NOW, limit=10)).ids
            await session.commit()
        claims += 1
    assert claimed == [last["id"]]
    assert claims <= 6


@postgresql_only
async def test_endpoints_with_nothing_to_send_cost_a_claim_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        a, endpoint = await add_tenant(session)
        idle = [new_id() for _ in range(3_000)]
        await session.execute(
            insert(WebhookEndpoint),
            [{"id": i, "enterprise_id": a, "url": HOOK_URL, "max_in_flight": 4} for i in idle],
        )
        history = [
            {**delivery_row(a, i, n, "sub-1", NOW - timedelta(days=1)), "status": "succeeded"}
            for n, i in enumerate(idle, start=1)
        ]
        await session.execute(insert(Delivery), history)
        due = delivery_row(a, endpoint, 5_000, "sub-1", NOW)
        await session.execute(insert(Delivery), [due])
        await session.commit()
    claimed, _, scans = await _claim_counting(sessions, limit=10, analyzed=False)
    assert claimed == [due["id"]]
    # Every endpoint ever registered was looked at (a look-up each); now those with live
    # deliveries only.
    assert scans < 100, scans


@postgresql_only
async def test_a_claim_looks_at_a_bounded_number_of_endpoints(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,000 tenants' endpoints each with work due: a claim of 100 looks at 100 of them (a
    window each), not at all 1,000; the next claims go on round (test_claim_rounds.py)."""
    monkeypatch.setattr(claim_heads, "CURSORS", claim_heads.WalkCursors())
    async with sessions() as session:
        a, _ = await add_tenant(session)
        ids = [new_id() for _ in range(1_000)]
        await session.execute(
            insert(WebhookEndpoint),
            [{"id": i, "enterprise_id": a, "url": HOOK_URL, "max_in_flight": 4} for i in ids],
        )
        due = [delivery_row(a, i, n, f"sub-{n}", NOW) for n, i in enumerate(ids, start=1)]
        await session.execute(insert(Delivery), due)
        await session.commit()
    claimed, read, scans = await _claim_counting(sessions, limit=100, analyzed=False)
    assert len(claimed) == 100
    assert scans < 1_000 and read < 2_000, (scans, read)  # all 1,000: 4,002 and 3,000


@postgresql_only
async def test_counting_queues_in_flight_does_not_read_the_deliveries_sent_before(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """5,000 deliveries were claimed and recorded, 64 at a time (no vacuum since, as on a
    server without autovacuum): a claim's count of an endpoint's queues in flight reads the
    deliveries in flight, not every one sent since the last vacuum. Checked from the
    candidates' statement's plan: the count reads the index of deliveries in flight (0012).

    Not counted in buffers: an index scan skips a finished delivery's entry once no
    transaction may still see its in-flight version, and other work on the same server (the
    suite's other tests, a benchmark) delays that, so the count swung from 74 to 3,000 with
    the same plan."""
    async with sessions() as session:
        a, endpoint = await add_tenant(session, cap=64)
        backlog = [delivery_row(a, endpoint, seq, f"sub-{seq}", NOW) for seq in range(1, 5_001)]
        await session.execute(insert(Delivery), backlog)
        await session.commit()
    lease = NOW + timedelta(seconds=LEASE_SECONDS)
    while True:
        async with sessions() as session:
            claimed = (await claim_deliveries(session, NOW, limit=64)).ids
            await session.commit()
            if not claimed:
                break
            sent = [Outcome(delivery_id, True, 200, "", 1) for delivery_id in claimed]
            await write_outcomes(session, Settings(), NOW, _Tried(sent, [], lease))
            await session.commit()
    async with sessions() as session:
        await session.execute(insert(Delivery), [delivery_row(a, endpoint, 5_001, "sub-5001", NOW)])
        await session.commit()
    candidates = text(
        f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {claim_heads._BY_TIME.element.text}"
    )
    values = {"now": NOW, "slack": claim_heads.WINDOW_SLACK, "endpoints": [endpoint]}
    async with sessions() as session:
        plan = (await session.execute(candidates, values)).scalar_one()
        await session.rollback()
    # The index of every delivery's status keeps an in-flight entry of each one sent until a
    # vacuum (287 buffers here, growing with every delivery sent); the index of those in
    # flight holds in-flight versions only.
    indexes = _indexes_read(plan[0]["Plan"])
    assert "ix_deliveries_in_flight" in indexes, indexes
    assert "ix_deliveries_due" not in indexes, indexes


def _indexes_read(node: dict[str, Any]) -> set[str]:
    """The indexes a plan (EXPLAIN's JSON) reads, in any of its nodes."""
    found = {node["Index Name"]} if "Index Name" in node else set()
    for child in node.get("Plans", []):
        found |= _indexes_read(child)
    return found
