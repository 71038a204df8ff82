"""The reconciler: which kinds of work are due, asked for at every start and every tick.

One query per tick answers for every kind (a second one when deliveries are due by time,
below). With metrics on it counts the due rows of each
(``connectory_event_queue_depth``), up to :data:`DEPTH_CAP`: under a backlog an uncapped
count would read every due row once a second, so the gauge reads "at least" the cap. With
metrics off it only asks whether any is due (EXISTS stops at the first row).

A delivery due by time may wait behind its queue's head (in flight, or backing off after a
failed try): a backlog of those is depth, not work a claim can take. When deliveries are due
by time, a second query asks whether a queue's HEAD is due (:func:`has_due_head`), so such a
backlog does not wake the delivery task every tick for an empty claim. The question walks at
most :data:`HEAD_WALK` queues from the first each tick: with more live queues before the first
due head (a receiver down, thousands of queues backing off), it answers yes and the task is
woken every tick, as it was before the question was asked (a walk going on round from tick to
tick would leave a due retry asleep for a lap of ticks).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    and_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import TextClause

from connectory.services.events.context import EventsContext
from connectory.services.events.records import dialect_of
from connectory.store.event_models import Delivery, EventSubscription, IntakeRequest

#: The most due rows counted per kind of work at a tick (the queue depth gauge's ceiling).
DEPTH_CAP = 10_000

#: A live delivery a claim may take now, but for its place in its queue. A CASE, not an OR
#: of conditions on ``status``: those match the due index, which a planner without
#: statistics takes for a few rows (reading every due delivery, then sorting them).
_CLAIMABLE = """CASE WHEN {alias}.status = 'pending' THEN {alias}.next_run_at <= :now
    ELSE {alias}.lease_until < :now END"""

#: A queue's head: the first live delivery, in the live queue index's order, among those
#: *where* picks (the deliveries sent before are not in that index).
_FIRST_LIVE = """(
    SELECT d.id FROM deliveries d {indexed}
    WHERE d.status IN ('pending', 'in_flight') AND {where}
    ORDER BY d.endpoint_id, d.order_key, d.event_seq LIMIT 1
)"""

#: The queues after delivery ``q``'s: its endpoint's next ones, else the next endpoints'. Two
#: look-ups, not a row comparison: SQLite seeks on the first column of one only (and would
#: read the rest of a queue thousands deep).
_AFTER_QUEUE = (
    "d.endpoint_id = q.endpoint_id AND d.order_key > q.order_key",
    "d.endpoint_id > q.endpoint_id",
)


def _due_head_query(indexed: str) -> TextClause:
    """The walk for a due head (*indexed*: the index named, where the planner needs telling).

    Up to :walk live queues in the live queue index's order, one look-up each however deep
    (a skip scan: each step reads the next queue's first live delivery, its head), stopping
    at the first head a claim may take: how many queues were walked, and whether the last
    one's head is due. Every step reads one queue's head, whatever it holds: a queue whose
    head backs off, or thousands deep behind one, costs the walk one step (an earlier form
    looked for the next delivery due by time and read every live delivery not due on the
    way: 20,000 backing-off heads, every tick).
    """
    claimable = f"coalesce({_CLAIMABLE.format(alias='{alias}')}, false)"
    steps = ", ".join(_FIRST_LIVE.format(indexed=indexed, where=w) for w in _AFTER_QUEUE)
    return text(
        f"""
    WITH RECURSIVE heads(id, step) AS (
        SELECT {_FIRST_LIVE.format(indexed=indexed, where="1 = 1")}, 1
        UNION ALL
        SELECT coalesce({steps}), heads.step + 1
        FROM heads JOIN deliveries q ON q.id = heads.id
        WHERE heads.step < :walk AND NOT {claimable.format(alias="q")}
    )
    SELECT count(c.id) AS walked,
           coalesce(sum(CASE WHEN {claimable.format(alias="c")} THEN 1 ELSE 0 END), 0) AS heads
    FROM heads JOIN deliveries c ON c.id = heads.id
    """
    ).bindparams(bindparam("now", type_=DateTime(timezone=True)), bindparam("walk", type_=Integer))


#: The walk on PostgreSQL; on SQLite, told the index: without statistics SQLite takes the
#: due index for the status term and sorts every live delivery at each step.
_DUE_HEAD = _due_head_query("")
_DUE_HEAD_SQLITE = _due_head_query("INDEXED BY ix_deliveries_live_queue")

#: Live queues walked at most, to find a due head.
HEAD_WALK = 256


def due_conditions(now: datetime) -> dict[str, ColumnElement[bool]]:
    """What makes a row of each kind of work due at *now* (an expired claim included)."""
    return {
        "deliveries": or_(
            (Delivery.status == "pending") & (Delivery.next_run_at <= now),
            (Delivery.status == "in_flight") & (Delivery.lease_until < now),
        ),
        "intake": and_(
            IntakeRequest.status == "pending",
            IntakeRequest.next_run_at <= now,
            or_(IntakeRequest.lease_until.is_(None), IntakeRequest.lease_until < now),
        ),
        "subscriptions": and_(
            EventSubscription.next_run_at <= now,
            or_(EventSubscription.lease_until.is_(None), EventSubscription.lease_until < now),
        ),
    }


async def has_due_head(session: AsyncSession, now: datetime) -> bool:
    """Whether a queue's head delivery is due at *now* (a claim may take it, room allowing).

    Walks the live queues' heads, at most :data:`HEAD_WALK` (one look-up per queue, however
    deep: a queue thousands deep behind a failed head costs one step). When the walk stops at
    its bound, a head further on may be due: True, as if by time (the delivery task's claim
    then finds out).
    """
    query = _DUE_HEAD_SQLITE if dialect_of(session) == "sqlite" else _DUE_HEAD
    walked, heads = (await session.execute(query, {"now": now, "walk": HEAD_WALK})).one()
    return bool(heads) or walked >= HEAD_WALK


async def due_counts(
    context: EventsContext, *, exact: bool = True, cap: int = DEPTH_CAP
) -> dict[str, int]:
    """Due rows of each kind of work (at most *cap* each), in one query.

    Not *exact*: 1 when any is due, else 0; for deliveries, 1 when a queue's head is due
    (a second query when deliveries are due by time: :func:`has_due_head`).
    """
    counts, due = await _read_due(context, exact, cap, heads=not exact)
    return counts if exact else {kind: int(kind in due) for kind in counts}


async def _read_due(
    context: EventsContext, exact: bool, cap: int, heads: bool
) -> tuple[dict[str, int], set[str]]:
    """The due rows of each kind, and the kinds with work a task can take.

    *exact*: the rows counted up to *cap*, else 1 when any. *heads*: deliveries are work
    only with a due queue head (asked only then: the walk costs up to :data:`HEAD_WALK`
    look-ups); else with any delivery due by time.
    """
    now = context.now()
    columns = [
        (
            select(func.count())
            .select_from(select(literal(1)).where(condition).limit(cap).subquery())
            .scalar_subquery()
            if exact
            else exists().where(condition)
        ).label(kind)
        for kind, condition in due_conditions(now).items()
    ]
    async with context.sessions() as session:
        row = (await session.execute(select(*columns))).one()
        counts = {kind: int(value) for kind, value in row._mapping.items()}
        due = {kind for kind, count in counts.items() if count}
        if heads and "deliveries" in due and not await has_due_head(session, now):
            due.discard("deliveries")  # all waiting behind their queues' heads
    return counts, due


async def due_kinds(context: EventsContext) -> list[str]:
    """The kinds of work with at least one due row (or an expired claim).

    Deliveries: with a due queue head (not only deliveries waiting behind their heads).
    """
    return [kind for kind, due in (await due_counts(context, exact=False)).items() if due]


async def wake_due(context: EventsContext) -> list[str]:
    """Wake every kind of work that is due (and report the queues' depths); return the kinds.

    The depth of deliveries counts those waiting behind their queue's head (the backlog);
    the delivery task is woken only for a due head.
    """
    metrics = context.metrics
    counts, due = await _read_due(context, exact=metrics is not None, cap=DEPTH_CAP, heads=True)
    if metrics is not None:
        for kind, depth in counts.items():
            metrics.set_queue_depth(kind, depth)
    kinds = [kind for kind in counts if kind in due]
    for kind in kinds:
        await context.wake(kind)
    return kinds
