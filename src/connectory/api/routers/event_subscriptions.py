"""``/subscriptions``: connections subscribed to their connectors' events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.api.deps import CurrentPrincipal, SessionDep
from connectory.api.routers._event_errors import errors
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.events import SubscriptionCreate, SubscriptionPublic
from connectory.api.schemas.values import IdPath
from connectory.services.events import subscriptions
from connectory.services.events.context import EventsContext
from connectory.store.event_models import EventSubscription

router = APIRouter(route_class=StrictJSONRoute, prefix="/subscriptions", tags=["events"])


def events_context(request: Request) -> EventsContext:
    """The server's events context (set up in the app's lifespan)."""
    context: EventsContext = request.app.state.events
    return context


async def _public(
    context: EventsContext, session: AsyncSession, row: EventSubscription
) -> SubscriptionPublic:
    view = await subscriptions.show_subscription(session, row, context.public_url, context.now())
    return SubscriptionPublic.model_validate(view)


@router.post(
    "",
    response_model=SubscriptionPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 404),
)
async def create_subscription(
    body: SubscriptionCreate, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SubscriptionPublic:
    """Subscribe a connection to an event; the worker subscribes it with the provider."""
    context = events_context(request)
    row = await subscriptions.create_subscription(
        session,
        principal,
        context.box,
        context.public_url,
        subscriptions.SubscriptionInput(body.connection_id, body.event, body.parameters),
        context.now(),
    )
    await session.commit()
    await context.wake("subscriptions")
    return await _public(context, session, row)


@router.get("", response_model=list[SubscriptionPublic])
async def list_subscriptions(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    connection_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[SubscriptionPublic]:
    """The enterprise's subscriptions (optionally one connection's), newest first."""
    context = events_context(request)
    rows = await subscriptions.list_subscriptions(session, principal, connection_id)
    return [await _public(context, session, row) for row in rows]


@router.get("/{subscription_id}", response_model=SubscriptionPublic, responses=errors(404))
async def get_subscription(
    subscription_id: IdPath, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SubscriptionPublic:
    """One subscription with its status."""
    row = await subscriptions.get_subscription(session, principal, subscription_id)
    return await _public(events_context(request), session, row)


@router.post(
    "/{subscription_id}/pause", response_model=SubscriptionPublic, responses=errors(403, 404)
)
async def pause_subscription(
    subscription_id: IdPath, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SubscriptionPublic:
    """Stop polls and intake until resumed."""
    context = events_context(request)
    row = await subscriptions.set_paused(session, principal, subscription_id, True, context.now())
    await session.commit()
    return await _public(context, session, row)


@router.post(
    "/{subscription_id}/resume", response_model=SubscriptionPublic, responses=errors(403, 404)
)
async def resume_subscription(
    subscription_id: IdPath, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SubscriptionPublic:
    """Resume a paused subscription."""
    context = events_context(request)
    row = await subscriptions.set_paused(session, principal, subscription_id, False, context.now())
    await session.commit()
    await context.wake("subscriptions")
    return await _public(context, session, row)


@router.delete(
    "/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(403, 404)
)
async def delete_subscription(
    subscription_id: IdPath, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Unsubscribe (the worker tells the provider, then the subscription is gone)."""
    context = events_context(request)
    await subscriptions.delete_subscription(session, principal, subscription_id, context.now())
    await session.commit()
    await context.wake("subscriptions")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
