"""One router per resource."""

from fastapi import APIRouter

from connectory.api.routers import (
    connections,
    connector_parameters,
    connector_versions,
    connectors,
    draft_runs,
    enterprises,
    event_subscriptions,
    events,
    health,
    intake,
    me,
    openapi_import,
    tokens,
    users,
    webhook_endpoints,
)

ROUTERS: list[APIRouter] = [health.router]
ROUTERS += [me.router, enterprises.router, users.router, tokens.router]
ROUTERS += [connections.router, connector_parameters.router]
ROUTERS += [connectors.router, connector_versions.router]
ROUTERS += [draft_runs.router]
ROUTERS += [openapi_import.router]
ROUTERS += [event_subscriptions.router, events.router, webhook_endpoints.router, intake.router]
