"""One router per resource."""

from fastapi import APIRouter

from connectory.api.routers import (
    connections,
    connector_parameters,
    connector_versions,
    connectors,
    draft_collections,
    draft_runs,
    enterprises,
    event_subscriptions,
    events,
    health,
    intake,
    me,
    openapi_import,
    records,
    tokens,
    users,
    webhook_endpoints,
)

ROUTERS: list[APIRouter] = [health.router]
ROUTERS += [me.router, enterprises.router, users.router, tokens.router]
ROUTERS += [connections.router, records.router, connector_parameters.router]
ROUTERS += [connectors.router, connector_versions.router]
ROUTERS += [draft_runs.router, draft_collections.router]
ROUTERS += [openapi_import.router]
ROUTERS += [event_subscriptions.router, events.router, webhook_endpoints.router, intake.router]
