"""The reconciler: which kinds of work are due, asked for at every start and every tick.

One query per tick answers for every kind. With metrics on it counts the due rows of each
(``connectory_event_queue_depth``), up to :data:`DEPTH_CAP`: under a backlog an uncapped
count would read every due row once a second, so the gauge reads "at least" the cap. With
metrics off it only asks whether any is due (EXISTS stops at the first row).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, literal, or_, select

from connectory.services.events.context import EventsContext
from connectory.store.event_models import Delivery, EventSubscription, IntakeRequest

#: The most due rows counted per kind of work at a tick (the queue depth gauge's ceiling).
DEPTH_CAP = 10_000


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


async def due_counts(
    context: EventsContext, *, exact: bool = True, cap: int = DEPTH_CAP
) -> dict[str, int]:
    """Due rows of each kind of work (at most *cap* each), in one query.

    Not *exact*: 1 when any is due, else 0.
    """
    columns = [
        (
            select(func.count())
            .select_from(select(literal(1)).where(condition).limit(cap).subquery())
            .scalar_subquery()
            if exact
            else exists().where(condition)
        ).label(kind)
        for kind, condition in due_conditions(context.now()).items()
    ]
    async with context.sessions() as session:
        row = (await session.execute(select(*columns))).one()
    return {kind: int(value) for kind, value in row._mapping.items()}


async def due_kinds(context: EventsContext) -> list[str]:
    """The kinds of work with at least one due row (or an expired claim)."""
    return [kind for kind, due in (await due_counts(context, exact=False)).items() if due]


async def wake_due(context: EventsContext) -> list[str]:
    """Wake every kind of work that is due (and report the queues' depths); return the kinds."""
    metrics = context.metrics
    counts = await due_counts(context, exact=metrics is not None)
    if metrics is not None:
        for kind, depth in counts.items():
            metrics.set_queue_depth(kind, depth)
    kinds = [kind for kind, due in counts.items() if due]
    for kind in kinds:
        await context.wake(kind)
    return kinds
