"""The reconciler: which kinds of work are due, asked for at every start and every tick."""

from __future__ import annotations

from sqlalchemy import exists, or_, select

from connectory.services.events.context import EventsContext
from connectory.store.event_models import Delivery, EventSubscription, IntakeRequest


async def due_kinds(context: EventsContext) -> list[str]:
    """The kinds of work with at least one due row (or an expired claim)."""
    now = context.now()
    checks = {
        "deliveries": exists().where(
            or_(
                (Delivery.status == "pending") & (Delivery.next_run_at <= now),
                (Delivery.status == "in_flight") & (Delivery.lease_until < now),
            )
        ),
        "intake": exists().where(
            IntakeRequest.status == "pending",
            IntakeRequest.next_run_at <= now,
            or_(IntakeRequest.lease_until.is_(None), IntakeRequest.lease_until < now),
        ),
        "subscriptions": exists().where(
            EventSubscription.next_run_at <= now,
            or_(EventSubscription.lease_until.is_(None), EventSubscription.lease_until < now),
        ),
    }
    due: list[str] = []
    async with context.sessions() as session:
        for kind, condition in checks.items():
            if await session.scalar(select(condition)):
                due.append(kind)
    return due


async def wake_due(context: EventsContext) -> list[str]:
    """Wake every kind of work that is due; return the kinds woken."""
    kinds = await due_kinds(context)
    for kind in kinds:
        await context.wake(kind)
    return kinds
