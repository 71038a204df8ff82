"""One router per resource."""

from fastapi import APIRouter

from connectory.api.routers import (
    calls,
    connect_links,
    connections,
    connector_parameters,
    connector_versions,
    connectors,
    draft_collections,
    draft_events,
    draft_runs,
    draft_test_cases,
    enterprises,
    event_subscriptions,
    events,
    health,
    intake,
    mcp,
    me,
    metrics,
    oauth,
    openapi_import,
    records,
    tokens,
    users,
    webhook_endpoints,
)

# Intake first: every request is matched against the routes in order, and /hooks is the
# busiest path (providers' webhooks); its prefix overlaps no other route.
ROUTERS: list[APIRouter] = [intake.router, health.router]
ROUTERS += [me.router, enterprises.router, users.router, tokens.router]
ROUTERS += [connections.router, records.router, connector_parameters.router, mcp.router]
ROUTERS += [connectors.router, connector_versions.router]
ROUTERS += [draft_runs.router, draft_collections.router, draft_test_cases.router]
ROUTERS += [draft_events.router]
ROUTERS += [openapi_import.router]
ROUTERS += [oauth.router, connect_links.router]
ROUTERS += [event_subscriptions.router, events.router, webhook_endpoints.router]
ROUTERS += [calls.router, metrics.router]
