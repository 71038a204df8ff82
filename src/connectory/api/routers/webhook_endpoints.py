"""``/webhook-endpoints``: where an enterprise receives its events, and their deliveries."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status

from connectory.api.deps import CurrentPrincipal, SessionDep
from connectory.api.routers._event_errors import errors
from connectory.api.routers.event_subscriptions import events_context
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.events import (
    AttemptPublic,
    DeliveryPublic,
    EndpointCreate,
    EndpointPublic,
    EndpointUpdate,
    ReplayOut,
    ReplayRequest,
)
from connectory.api.schemas.values import IdPath
from connectory.services.events import deliveries, endpoints, feed
from connectory.services.events.records import as_utc
from connectory.store.event_models import Delivery, WebhookEndpoint

router = APIRouter(route_class=StrictJSONRoute, tags=["events"])


def _endpoint(row: WebhookEndpoint, secret: str | None = None) -> EndpointPublic:
    return EndpointPublic.model_validate(endpoints.endpoint_view(row, secret))


def _input(body: EndpointCreate | EndpointUpdate) -> endpoints.EndpointInput:
    return endpoints.EndpointInput(
        url=body.url,
        description=body.description,
        event_types=body.event_types,
        connection_ids=body.connection_ids,
        enabled=body.enabled,
        max_in_flight=body.max_in_flight,
    )


@router.post(
    "/webhook-endpoints",
    response_model=EndpointPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(403),
)
async def create_endpoint(
    body: EndpointCreate, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> EndpointPublic:
    """Register an endpoint. The answer holds its signing secret: the only time it is shown."""
    context = events_context(request)
    row, secret = await endpoints.create_endpoint(session, principal, context.box, _input(body))
    await session.commit()
    return _endpoint(row, secret)


@router.get("/webhook-endpoints", response_model=list[EndpointPublic])
async def list_endpoints(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> list[EndpointPublic]:
    """The enterprise's endpoints (secrets never shown)."""
    rows, _ = await endpoints.list_endpoints(session, principal, limit, offset)
    return [_endpoint(row) for row in rows]


@router.get(
    "/webhook-endpoints/{endpoint_id}", response_model=EndpointPublic, responses=errors(404)
)
async def get_endpoint(
    endpoint_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> EndpointPublic:
    """One endpoint (its secret is write-only)."""
    return _endpoint(await endpoints.get_endpoint(session, principal, endpoint_id))


@router.patch(
    "/webhook-endpoints/{endpoint_id}", response_model=EndpointPublic, responses=errors(403, 404)
)
async def update_endpoint(
    endpoint_id: IdPath, body: EndpointUpdate, session: SessionDep, principal: CurrentPrincipal
) -> EndpointPublic:
    """Change an endpoint's URL, filters, cap or state."""
    row = await endpoints.update_endpoint(session, principal, endpoint_id, _input(body))
    await session.commit()
    return _endpoint(row)


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(403, 404),
)
async def delete_endpoint(
    endpoint_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Delete an endpoint and its secrets."""
    await endpoints.delete_endpoint(session, principal, endpoint_id)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response_model=EndpointPublic,
    responses=errors(403, 404),
)
async def rotate_secret(
    endpoint_id: IdPath, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> EndpointPublic:
    """A new secret (shown once); the old one keeps signing beside it for the overlap."""
    context = events_context(request)
    overlap = timedelta(hours=context.settings.secret_rotation_overlap_hours)
    row, secret = await endpoints.rotate_secret(
        session, principal, context.box, endpoint_id, overlap, context.now()
    )
    await session.commit()
    return _endpoint(row, secret)


@router.post(
    "/webhook-endpoints/{endpoint_id}/test",
    response_model=DeliveryPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(403, 404),
)
async def send_test_event(
    endpoint_id: IdPath, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> DeliveryPublic:
    """Send a ``connectory.test`` event to the endpoint; follow it under /deliveries."""
    context = events_context(request)
    delivery = await feed.send_test_event(session, principal, endpoint_id, context.now())
    await session.commit()
    await context.wake("deliveries")
    return _delivery(delivery)


@router.post(
    "/webhook-endpoints/{endpoint_id}/replay", response_model=ReplayOut, responses=errors(403, 404)
)
async def replay_events(
    endpoint_id: IdPath,
    body: ReplayRequest,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> ReplayOut:
    """Deliver again the events after a cursor or since a time."""
    context = events_context(request)
    count = await feed.replay_events(
        session, principal, endpoint_id, context.now(), after=body.after, since=body.since
    )
    await session.commit()
    await context.wake("deliveries")
    return ReplayOut(queued=count)


def _delivery(row: Delivery, attempts: list[AttemptPublic] | None = None) -> DeliveryPublic:
    view = deliveries.delivery_view(row)
    return DeliveryPublic.model_validate({**view, "attempt_log": attempts})


@router.get("/deliveries", response_model=list[DeliveryPublic])
async def list_deliveries(
    session: SessionDep,
    principal: CurrentPrincipal,
    endpoint_id: Annotated[str | None, Query(max_length=64)] = None,
    event_id: Annotated[str | None, Query(max_length=64)] = None,
    status_: Annotated[
        Literal["pending", "in_flight", "succeeded", "dead"] | None,
        Query(alias="status", description="dead: the dead letters."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryPublic]:
    """Deliveries, newest first."""
    rows = await feed.list_deliveries(
        session, principal, endpoint_id=endpoint_id, event_id=event_id, status=status_, limit=limit
    )
    return [_delivery(row) for row in rows]


@router.get("/deliveries/{delivery_id}", response_model=DeliveryPublic, responses=errors(404))
async def get_delivery(
    delivery_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> DeliveryPublic:
    """A delivery with every attempt."""
    row = await feed.get_delivery(session, principal, delivery_id)
    attempts = [
        AttemptPublic(
            attempted_at=as_utc(a.attempted_at),
            status_code=a.status_code,
            error=a.error,
            duration_ms=a.duration_ms,
        )
        for a in await feed.list_attempts(session, row)
    ]
    return _delivery(row, attempts)


@router.post(
    "/deliveries/{delivery_id}/replay",
    response_model=DeliveryPublic,
    responses=errors(403, 404, 409),
)
async def replay_delivery(
    delivery_id: IdPath, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> DeliveryPublic:
    """Send a dead-lettered (or finished) delivery again."""
    context = events_context(request)
    row = await feed.replay_delivery(session, principal, delivery_id, context.now())
    await session.commit()
    await context.wake("deliveries")
    return _delivery(row)
