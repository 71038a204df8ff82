"""Claiming due deliveries: fair across enterprises, capped per endpoint, ordered, leased.

Run on SQLite and on a fresh PostgreSQL database. Counts, not clocks: "does not delay"
means the other enterprise's delivery is in the very first batch claimed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from store_support import NOW, add_tenant, delivery_row

from connectory.services.events.deliveries import LEASE_SECONDS, claim_deliveries
from connectory.store import Delivery, DeliveryAttempt
from testkit.events_context import events_context


async def _claim(
    sessions: async_sessionmaker[AsyncSession], now: datetime, *args: Any, **options: Any
) -> list[str]:
    """Claim in a transaction of its own, committed (as a lane claims); the claimed ids."""
    async with sessions() as session:
        claimed = (await claim_deliveries(session, now, *args, **options)).ids
        await session.commit()
    return claimed


async def test_a_backlog_of_ten_thousand_does_not_delay_another_enterprise(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        a, a_endpoint = await add_tenant(session)
        b, b_endpoint = await add_tenant(session)
        backlog = [
            delivery_row(a, a_endpoint, seq, f"sub-{seq}", NOW - timedelta(hours=1))
            for seq in range(1, 10_001)
        ]
        await session.execute(insert(Delivery), backlog)
        # B's delivery became due last: a FIFO dispatcher would reach it after 10,000 others.
        b_row = delivery_row(b, b_endpoint, 10_001, "sub-b", NOW)
        await session.execute(insert(Delivery), [b_row])
        await session.commit()
    first = await _claim(sessions, NOW, limit=50)
    assert b_row["id"] in first
    owners = await _owners(sessions, first)
    assert owners.count(a) == 4  # A's endpoint's max_in_flight, however large its backlog
    # While A's four are in flight, A gets nothing more; the claims go on being cheap.
    assert await _claim(sessions, NOW, limit=50) == []
    # A's tries failed and are due again: A gets its cap again, not the whole batch.
    async with sessions() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(first))
            .values(status="pending", next_run_at=NOW, lease_until=None)
        )
        await session.execute(
            update(Delivery).where(Delivery.id == b_row["id"]).values(status="succeeded")
        )
        await session.commit()
    again = await _claim(sessions, NOW, limit=50)
    assert len(again) == 4


async def _owners(sessions: async_sessionmaker[AsyncSession], ids: list[str]) -> list[str]:
    async with sessions() as session:
        return list(
            await session.scalars(select(Delivery.enterprise_id).where(Delivery.id.in_(ids)))
        )


async def test_only_the_head_of_a_subscription_queue_is_claimed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        a, endpoint = await add_tenant(session, cap=10)
        rows = [delivery_row(a, endpoint, seq, "sub-1", NOW) for seq in (1, 2, 3)]
        # The head is not due yet (backing off): nothing behind it may overtake it.
        rows[0]["next_run_at"] = NOW + timedelta(minutes=5)
        await session.execute(insert(Delivery), rows)
        await session.commit()
    assert await _claim(sessions, NOW, limit=10) == []
    async with sessions() as session:
        await session.execute(
            update(Delivery).where(Delivery.id == rows[0]["id"]).values(next_run_at=NOW)
        )
        await session.commit()
    assert await _claim(sessions, NOW, limit=10) == [rows[0]["id"]]
    async with sessions() as session:
        await session.execute(
            update(Delivery).where(Delivery.id == rows[0]["id"]).values(status="dead")
        )
        await session.commit()
    assert await _claim(sessions, NOW, limit=10) == [rows[1]["id"]]


async def test_a_lease_left_by_a_killed_worker_expires(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        a, endpoint = await add_tenant(session)
        row = delivery_row(a, endpoint, 1, "sub-1", NOW)
        await session.execute(insert(Delivery), [row])
        await session.commit()
    assert await _claim(sessions, NOW, limit=10) == [row["id"]]
    # The claimer dies without recording an outcome: no one may take it during the lease...
    assert await _claim(sessions, NOW + timedelta(seconds=1), limit=10) == []
    # ...and anyone may after it.
    later = NOW + timedelta(seconds=LEASE_SECONDS + 1)
    assert await _claim(sessions, later, limit=10) == [row["id"]]


async def test_a_claim_with_depth_takes_a_queue_s_run_in_order_and_stops_at_a_gap(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        a, endpoint = await add_tenant(session, cap=1)
        queue = [delivery_row(a, endpoint, seq, "sub-1", NOW) for seq in (1, 2, 3, 4, 5)]
        # The fourth is not due (a gap): the run stops before it, the fifth stays behind it.
        queue[3]["next_run_at"] = NOW + timedelta(minutes=5)
        other = delivery_row(a, endpoint, 6, "sub-2", NOW)
        await session.execute(insert(Delivery), [*queue, other])
        await session.commit()
    claimed = await _claim(sessions, NOW, limit=10, depth=20)
    # The endpoint's cap is one queue: sub-1's run (its head and the two due behind it).
    assert sorted(claimed) == sorted(row["id"] for row in queue[:3])
    assert await _claim(sessions, NOW, limit=10, depth=20) == []


async def test_deliveries_left_untried_behind_a_failure_are_released_as_they_were(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from connectory.services.events.deliveries import Outcome, record_outcomes
    from connectory.settings import Settings

    async with sessions() as session:
        a, endpoint = await add_tenant(session, cap=4)
        queue = [delivery_row(a, endpoint, seq, "sub-1", NOW, attempts=0) for seq in (1, 2, 3)]
        await session.execute(insert(Delivery), queue)
        await session.commit()
    claimed = await _claim(sessions, NOW, limit=10, depth=3)
    assert len(claimed) == 3

    first, second, third = (row["id"] for row in queue)
    await record_outcomes(
        sessions,
        Settings(),
        NOW,
        [
            Outcome(first, True, 200, "", 1),
            Outcome(second, False, 500, "the endpoint answered 500", 1),
        ],
        [third],
    )
    async with sessions() as session:
        rows = {
            row.id: row
            for row in await session.scalars(
                select(Delivery).where(Delivery.id.in_([first, second, third]))
            )
        }
    assert rows[first].status == "succeeded"
    assert (rows[second].status, rows[second].attempts) == ("pending", 1)
    assert (rows[third].status, rows[third].attempts, rows[third].lease_until) == (
        "pending",
        0,
        None,
    )
    # The failed one backs off: nothing behind it is due, so nothing is claimed.
    assert await _claim(sessions, NOW, limit=10, depth=3) == []


async def test_a_late_outcome_of_an_expired_claim_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from connectory.services.events.deliveries import Outcome, record_outcomes
    from connectory.settings import Settings

    async with sessions() as session:
        a, endpoint = await add_tenant(session, cap=4)
        queue = [delivery_row(a, endpoint, seq, "sub-1", NOW) for seq in (1, 2, 3)]
        await session.execute(insert(Delivery), queue)
        await session.commit()
    first, second, third = (row["id"] for row in queue)
    assert len(await _claim(sessions, NOW, limit=10, depth=3)) == 3
    # The first claim's sends outlive its lease: another claimer takes the queue over.
    later = NOW + timedelta(seconds=LEASE_SECONDS + 1)
    assert len(await _claim(sessions, later, limit=10, depth=3)) == 3
    before = await _states(sessions, [first, second, third])
    recorded_at = later + timedelta(seconds=5)
    await record_outcomes(
        sessions,
        Settings(),
        recorded_at,
        [
            Outcome(first, True, 200, "", 1),
            Outcome(second, False, 500, "the endpoint answered 500", 1),
        ],
        [third],
        lease_until=NOW + timedelta(seconds=LEASE_SECONDS),
    )
    assert await _states(sessions, [first, second, third]) == before
    assert {state[0] for state in before.values()} == {"in_flight"}
    # The claim that holds them records its outcomes as usual.
    await record_outcomes(
        sessions,
        Settings(),
        recorded_at,
        [Outcome(first, True, 200, "", 1)],
        [second, third],
        lease_until=later + timedelta(seconds=LEASE_SECONDS),
    )
    after = await _states(sessions, [first, second, third])
    assert after[first][0] == "succeeded"
    assert after[second][0] == after[third][0] == "pending"


class _Clock:
    """A clock the test moves."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at


async def _states(
    sessions: async_sessionmaker[AsyncSession], ids: list[str]
) -> dict[str, tuple[str, int, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Delivery.id, Delivery.status, Delivery.attempts, Delivery.last_error).where(
                Delivery.id.in_(ids)
            )
        )
        return {row.id: (row.status, row.attempts, row.last_error) for row in rows}


async def test_a_run_stops_sending_once_half_the_lease_has_passed() -> None:
    from aiohttp import web

    from connectory.http.egress import EgressPolicy
    from connectory.services.events.deliveries import Prepared, _send_run
    from connectory.testing.instances import free_port

    clock = _Clock(NOW)
    received: list[str] = []

    async def slow(request: web.Request) -> web.Response:
        # Each try takes 40 s on the test's clock: the second ends past half the lease.
        received.append(await request.text())
        clock.at += timedelta(seconds=40)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()

    url = f"http://127.0.0.1:{port}/hook"
    run = [Prepared(f"d{n}", url, f"m{n}", b"{}", ["c2VjcmV0"], queue=("e", "k")) for n in range(4)]
    egress = EgressPolicy.allowing(["127.0.0.1/32"])
    try:
        async with events_context(now=clock, egress=egress) as context:
            tried, left = await _send_run(
                context, run, stop_at=NOW + timedelta(seconds=LEASE_SECONDS / 2)
            )
    finally:
        await runner.cleanup()
    assert [outcome.delivery_id for outcome in tried] == ["d0", "d1"]
    assert all(outcome.ok for outcome in tried)
    assert left == ["d2", "d3"]
    assert len(received) == 2


async def test_outcomes_are_committed_before_the_next_claim_that_fails(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectory.services.events import deliveries
    from connectory.services.events.deliveries import Outcome, _record_then_claim, _Tried
    from connectory.services.events.records import held_session
    from connectory.settings import Settings

    settings = Settings()
    async with sessions() as session:
        a, endpoint = await add_tenant(session, cap=4)
        rows = [delivery_row(a, endpoint, seq, f"sub-{seq}", NOW) for seq in (1, 2)]
        await session.execute(insert(Delivery), rows)
        await session.commit()
    sent, failed = (row["id"] for row in rows)
    claimed = await _claim(sessions, NOW, 10, settings.work_lease_seconds)
    assert sorted(claimed) == sorted([sent, failed])

    async def broken_claim(*args: object, **kwargs: object) -> deliveries.ClaimResult:
        raise RuntimeError("deadlock detected")  # or a timeout, a dropped connection

    monkeypatch.setattr(deliveries, "claim_deliveries", broken_claim)

    tried = _Tried(
        [Outcome(sent, True, 200, "", 3), Outcome(failed, False, 500, "answered 500", 3)],
        [],
        NOW + timedelta(seconds=settings.work_lease_seconds),
    )
    async with (
        events_context(
            sessions, settings=settings, now=lambda: NOW + timedelta(seconds=1)
        ) as context,
        held_session(sessions) as session,
    ):
        with pytest.raises(RuntimeError, match="deadlock"):
            await _record_then_claim(session, context, tried, 10, 1)
    # The deliveries were sent: their outcomes stay recorded (no re-send of a success).
    states = await _states(sessions, [sent, failed])
    assert states[sent][0] == "succeeded"
    assert states[failed][0] in ("pending", "dead") and states[failed][2] == "answered 500"
    async with sessions() as session:
        attempts = await session.scalars(
            select(DeliveryAttempt.delivery_id).where(
                DeliveryAttempt.delivery_id.in_([sent, failed])
            )
        )
        assert sorted(attempts) == sorted([sent, failed])


async def test_heads_waiting_on_a_full_endpoint_do_not_push_back_the_enterprise_s_other_endpoint(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from connectory.store import WebhookEndpoint

    async with sessions() as session:
        a, saturated = await add_tenant(session, cap=1)
        other = WebhookEndpoint(enterprise_id=a, url="http://127.0.0.1:9/other", max_in_flight=4)
        session.add(other)
        await session.flush()
        b, b_endpoint = await add_tenant(session, cap=4)
        # A: five queues on an endpoint that takes one at a time, due first; one queue on
        # another endpoint. B: two queues, due last.
        rows = [
            delivery_row(a, saturated, seq, f"a-{seq}", NOW - timedelta(minutes=60 - seq))
            for seq in range(1, 6)
        ]
        a_other = delivery_row(a, other.id, 6, "a-other", NOW - timedelta(minutes=50))
        b_rows = [
            delivery_row(b, b_endpoint, seq, f"b-{seq}", NOW - timedelta(minutes=10))
            for seq in (7, 8)
        ]
        await session.execute(insert(Delivery), [*rows, a_other, *b_rows])
        await session.commit()
    first = await _claim(sessions, NOW, limit=3)
    # Turns count the heads that may go: A's second is its other endpoint's, before B's second.
    assert sorted(first) == sorted([rows[0]["id"], b_rows[0]["id"], a_other["id"]])


async def test_the_claim_lock_is_taken_without_the_previous_batch_s_rows_locked(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lanes cannot deadlock: one holding its batch's rows while waiting for the claim lock,
    the other holding the lock and waiting for those rows (PostgreSQL's row locks)."""
    from sqlalchemy import text

    from connectory.services.events import deliveries
    from connectory.services.events.deliveries import Outcome, _record_then_claim, _Tried
    from connectory.services.events.records import dialect_of, held_session
    from connectory.settings import Settings

    settings = Settings()
    async with sessions() as session:
        if dialect_of(session) != "postgresql":
            pytest.skip("row locks and advisory locks: PostgreSQL's")
        a, endpoint = await add_tenant(session, cap=4)
        row = delivery_row(a, endpoint, 1, "sub-1", NOW)
        await session.execute(insert(Delivery), [row])
        await session.commit()
    assert await _claim(sessions, NOW, 10, settings.work_lease_seconds) == [row["id"]]
    real_claim = deliveries.claim_deliveries
    seen: list[str] = []

    async def claim_while_another_lane_updates(
        session: AsyncSession, *args: object
    ) -> deliveries.ClaimResult:
        # Another lane's claim would update this row: it must not wait for this transaction.
        async with sessions() as other:
            locked = await other.execute(
                text("SELECT id FROM deliveries WHERE id = :id FOR UPDATE NOWAIT"),
                {"id": row["id"]},
            )
            seen.extend(locked.scalars())
            await other.rollback()
        return await real_claim(session, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(deliveries, "claim_deliveries", claim_while_another_lane_updates)

    tried = _Tried(
        [Outcome(row["id"], True, 200, "", 3)],
        [],
        NOW + timedelta(seconds=settings.work_lease_seconds),
    )
    async with (
        events_context(
            sessions, settings=settings, now=lambda: NOW + timedelta(seconds=1)
        ) as context,
        held_session(sessions) as session,
    ):
        await _record_then_claim(session, context, tried, 10, 1)
        # The claim committed: the lock is not held while the batch is prepared and sent.
        held = await session.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid()"
            )
        )
        await session.commit()
    assert seen == [row["id"]] and held == 0
