"""The reconciler wakes the delivery task for a due queue HEAD, not for deliveries due by
time that wait behind their queue's head (in flight, or backing off after a failed try):
under such a backlog a wake would only make an empty claim, every tick."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from store_support import NOW, add_tenant, delivery_row, rows_read

from connectory.store import Delivery
from connectory.worker import reconcile
from connectory.worker.reconcile import due_counts, due_kinds, has_due_head
from testkit.events_context import events_context

#: Deliveries waiting behind a head.
_BACKLOG = 200


def _blocked_queue(
    enterprise: str, endpoint: str, key: str, first_seq: int, head: str, waiting: int
) -> list[dict[str, Any]]:
    """A queue whose head is *head* ("backing_off": a retry later on; "in_flight": being
    sent), with *waiting* deliveries due behind it."""
    first = delivery_row(enterprise, endpoint, first_seq, key, NOW - timedelta(hours=1))
    if head == "backing_off":
        first["next_run_at"] = NOW + timedelta(minutes=10)
    else:
        first["status"], first["lease_until"] = "in_flight", NOW + timedelta(seconds=30)
    return [first] + [
        delivery_row(
            enterprise, endpoint, first_seq + n, key, NOW - timedelta(seconds=waiting + 1 - n)
        )
        for n in range(1, waiting + 1)
    ]


async def _add(sessions: async_sessionmaker[AsyncSession], rows: list[dict[str, Any]]) -> None:
    async with sessions() as session:
        await session.execute(insert(Delivery), rows)
        await session.commit()


async def _tenant(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, str]:
    async with sessions() as session:
        ids = await add_tenant(session)
        await session.commit()
    return ids


@pytest.mark.parametrize("head", ["backing_off", "in_flight"])
async def test_deliveries_waiting_behind_their_head_are_depth_not_work(
    sessions: async_sessionmaker[AsyncSession], head: str
) -> None:
    enterprise, endpoint = await _tenant(sessions)
    await _add(sessions, _blocked_queue(enterprise, endpoint, "sub-1", 1, head, _BACKLOG))
    async with events_context(sessions, now=lambda: NOW) as context:
        assert "deliveries" not in await due_kinds(context)
        assert (await due_counts(context, exact=False))["deliveries"] == 0
        # The gauge still counts the backlog.
        assert (await due_counts(context))["deliveries"] == _BACKLOG


@pytest.mark.parametrize(
    "due", ["new_queue", "retry_due", "claim_expired"], ids=lambda due: str(due)
)
async def test_a_due_head_beyond_a_backlog_wakes_the_delivery_task(
    sessions: async_sessionmaker[AsyncSession], due: str
) -> None:
    """Behind deep backlogs (due first by time), one queue's head is due: a delivery of a
    new queue, a retry whose time came, or a claim that expired."""
    enterprise, endpoint = await _tenant(sessions)
    rows = _blocked_queue(enterprise, endpoint, "sub-1", 1, "backing_off", _BACKLOG)
    rows += _blocked_queue(enterprise, endpoint, "sub-3", 1_000, "in_flight", _BACKLOG)
    head = delivery_row(enterprise, endpoint, 5_000, "sub-2", NOW)
    if due == "retry_due":
        head["attempts"] = 2
    elif due == "claim_expired":
        head["status"], head["lease_until"] = "in_flight", NOW - timedelta(seconds=1)
    await _add(sessions, [*rows, head])
    async with events_context(sessions, now=lambda: NOW) as context:
        assert "deliveries" in await due_kinds(context)
        assert (await due_counts(context, exact=False))["deliveries"] == 1


async def test_more_waiting_queues_than_the_walk_visits_count_as_due(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The walk is bounded: beyond its bound a head may be due, so the answer is yes (the
    delivery task's claim then finds out), never a due head left asleep."""
    enterprise, endpoint = await _tenant(sessions)
    rows: list[dict[str, Any]] = []
    for n in range(reconcile.HEAD_WALK + 1):
        rows += _blocked_queue(enterprise, endpoint, f"sub-{n:05}", 10 * n + 1, "backing_off", 1)
    await _add(sessions, rows)
    async with sessions() as session:
        assert await has_due_head(session, NOW)


async def _ask_counting_reads(
    sessions: async_sessionmaker[AsyncSession], analyzed: bool
) -> tuple[bool, int]:
    """Whether a head is due, asked in a transaction of its own, and the rows of deliveries
    it read (*analyzed*: after an ANALYZE, else with no statistics since the rows came)."""
    if analyzed:
        async with sessions() as session:
            await session.execute(text("ANALYZE deliveries"))
            await session.commit()
    async with sessions() as session:
        before = await rows_read(session, "deliveries")
        due = await has_due_head(session, NOW)
        read = await rows_read(session, "deliveries") - before
        await session.rollback()
    return due, read


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("analyzed", [True, False], ids=["analyzed", "burst"])
async def test_asking_for_a_due_head_reads_a_bounded_number_of_rows(
    sessions: async_sessionmaker[AsyncSession], analyzed: bool
) -> None:
    """20,000 deliveries wait behind one failed head, and 5,000 were sent before: the
    question reads the bounded looks' rows, not the backlog (with up-to-date statistics, and
    with none since the burst, as on a server without autovacuum)."""
    enterprise, endpoint = await _tenant(sessions)
    sent = [delivery_row(enterprise, endpoint, n, f"old-{n}", NOW) for n in range(1, 5_001)]
    for row in sent:
        row["status"] = "succeeded"
    await _add(sessions, sent)
    await _add(
        sessions, _blocked_queue(enterprise, endpoint, "sub-1", 10_000, "backing_off", 20_000)
    )
    due, read = await _ask_counting_reads(sessions, analyzed)
    assert not due
    assert read < 1_000, read


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("analyzed", [True, False], ids=["analyzed", "burst"])
@pytest.mark.parametrize("later", ["blocked", "due"])
async def test_many_backing_off_heads_cost_the_question_a_bounded_walk(
    sessions: async_sessionmaker[AsyncSession], analyzed: bool, later: str
) -> None:
    """A receiver is down with one pending event per customer: 20,000 queues whose only
    delivery backs off, on the endpoint first in the index; another endpoint's queue after
    them has a delivery due by time, behind an in-flight head or as its head. The question
    reads at most its walk's queue heads (the walk looked for the next delivery due by time
    and read all 20,000 backing-off rows on the way, every tick)."""
    first, second = sorted([await _tenant(sessions), await _tenant(sessions)], key=lambda t: t[1])
    rows: list[dict[str, Any]] = []
    for n in range(20_000):
        row = delivery_row(first[0], first[1], n + 1, f"{n:032x}", NOW - timedelta(hours=1))
        row["next_run_at"] = NOW + timedelta(minutes=10)
        rows.append(row)
    await _add(sessions, rows)
    if later == "blocked":
        await _add(sessions, _blocked_queue(second[0], second[1], "sub-b", 30_000, "in_flight", 5))
    else:
        await _add(sessions, [delivery_row(second[0], second[1], 30_000, "sub-b", NOW)])
    due, read = await _ask_counting_reads(sessions, analyzed)
    assert due  # beyond the walk's bound a head may be due: yes, whichever (the claim finds out)
    assert read < 4 * reconcile.HEAD_WALK, read
