"""The management API: ``create_app(settings)`` builds it, so tests can swap any setting."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.routing import Route
from starlette.types import ASGIApp

from connectory import __version__
from connectory.api.background import run_events
from connectory.api.limits import BodySizeLimit, UrlLengthLimit
from connectory.api.mcp_endpoint import PATH as MCP_PATH
from connectory.api.mcp_endpoint import McpEndpoint
from connectory.api.observability import ObservabilityMiddleware
from connectory.api.operation_route import OperationCallRoute
from connectory.api.problems import ErrorOut, install_error_handlers
from connectory.api.routers import ROUTERS
from connectory.api.unexpected_errors import UnexpectedErrorMiddleware
from connectory.services.bootstrap import bootstrap_first_admin
from connectory.services.examples import load_examples
from connectory.services.generations import attach_notifier, create_notifier
from connectory.services.request_cache import RequestCache
from connectory.services.secret_store import SecretBox
from connectory.services.server_runtime import create_runtimes, load_key_ring
from connectory.services.telemetry import create_telemetry
from connectory.settings import Settings
from connectory.store import create_engine, create_sessionmaker, migrate
from connectory.web import install_ui

logger = logging.getLogger("connectory.api")

#: Documented on every operation: any endpoint can answer these.
COMMON_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "No valid API token."},
    413: {"model": ErrorOut, "description": "The request body is too large."},
    414: {"model": ErrorOut, "description": "The request URL is too long."},
    422: {"model": ErrorOut, "description": "The request is invalid (field paths given)."},
    500: {"model": ErrorOut, "description": "Unexpected server error (logged)."},
}


class ConnectoryAPI(FastAPI):
    """The API application: FastAPI, with warm operation calls served in front of it all.

    :class:`~connectory.api.operation_route.OperationCallRoute` wraps the whole middleware
    stack (FastAPI's error handling included): what it does not serve goes through unchanged.
    """

    def settle_native_telemetry(self) -> None:
        """Turn FastAPI's native OpenTelemetry off for good if nothing is configured for it now.

        FastAPI asks on every request whether a global tracer, meter or logger provider is
        configured, three ``os.environ`` lookups that cost about 20 us a request (4% of a warm
        operation call). Providers are configured before a server serves (``OTEL_*``
        variables, ``opentelemetry-instrument``, FastAPI's own auto-configuration at start-up,
        or the program's set-up), so the answer at the end of start-up is the answer: when no
        signal has a provider then, the check is not made again. When one has, nothing
        changes. (Connectory's own tracing, ``CONNECTORY_TRACING``, is separate.)
        """
        # Private attributes of FastAPI (pinned in uv.lock, a range in pyproject): a FastAPI
        # without them, or with another shape, is left alone rather than failing start-up.
        native = getattr(self, "_native_telemetry", None)
        config = getattr(self, "_telemetry", None)
        enabled = getattr(native, "enabled", None)
        if not callable(enabled) or not isinstance(config, dict):
            return
        if not enabled():
            # The dict FastAPI's telemetry reads on every request (shared, not copied).
            config["tracing"] = config["metrics"] = config["logs"] = False

    def build_middleware_stack(self) -> ASGIApp:
        """FastAPI's stack, behind the operation-call fast path."""
        settings: Settings = self.state.settings
        return OperationCallRoute(
            super().build_middleware_stack(),
            self,
            max_body_bytes=settings.max_body_bytes,
            max_url_bytes=settings.max_url_bytes,
        )


def create_app(
    settings: Settings | None = None,
    on_first_admin_token: Callable[[str], None] | None = None,
    *,
    tracer_provider: object | None = None,
    on_started: Callable[[], None] | None = None,
) -> FastAPI:
    """Build the API.

    Args:
        settings: Server settings; read from the environment when omitted.
        on_first_admin_token: Receives the first platform admin's token when the database is
            new (``connectory serve`` prints it once). Without it, the token is not shown.
        tracer_provider: An OpenTelemetry tracer provider for the server's spans (turns
            tracing on); by default ``CONNECTORY_TRACING`` and the ``OTEL_*`` variables decide.
        on_started: Called once start-up is complete, before the first request is served
            (``connectory serve`` tunes the garbage collector then).
    """
    settings = settings or Settings()
    mcp_endpoint = McpEndpoint(settings.max_body_bytes)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Keys first: without them the server must not start (no plaintext mode).
        box = SecretBox(lambda: load_key_ring(settings))
        engine = create_engine(settings.database_url)
        await migrate(engine, box.ring)
        sessions = create_sessionmaker(engine)
        app.state.engine = engine
        app.state.sessions = sessions
        async with sessions() as session:
            token = await bootstrap_first_admin(session, settings.bootstrap_admin_email)
            if settings.examples_dir is not None:
                await load_examples(session, settings.examples_dir, box)
        if token is not None and on_first_admin_token is not None:
            on_first_admin_token(token)
        # Every commit that bumps a connection's generation announces it to all processes.
        notifier = create_notifier(settings, engine)
        attach_notifier(sessions, notifier)
        await notifier.start()
        # The call log, metrics and tracing every connection's client reports to.
        telemetry = create_telemetry(settings, sessions, tracer_provider=tracer_provider)
        telemetry.start()
        runtimes = create_runtimes(settings, sessions, box, notifier, telemetry.telemetry)
        # The per-call reads (token, connection) between requests; announcements drop them.
        request_cache = RequestCache(settings.request_cache_ttl, notifier)
        app.state.request_cache = request_cache
        app.state.secret_box = box
        app.state.notifier = notifier
        app.state.runtimes = runtimes
        app.state.telemetry = telemetry
        async with run_events(settings, sessions, box, runtimes) as events:
            app.state.events = events
            try:
                async with mcp_endpoint.running():
                    if isinstance(app, ConnectoryAPI):
                        app.settle_native_telemetry()
                    if on_started is not None:
                        on_started()
                    yield
            finally:
                request_cache.close()
                await runtimes.aclose()
                await telemetry.aclose()  # the last entries, before the database goes
                await notifier.aclose()
        await engine.dispose()

    app = ConnectoryAPI(
        title="Connectory",
        version=__version__,
        description="Connector Builder and runtime: connectors, versions, publishing, "
        "enterprises, users and tokens.",
        lifespan=lifespan,
        responses=COMMON_RESPONSES,
    )
    app.state.settings = settings
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    # An ASGI app of the MCP SDK's, not a FastAPI route: it is not in the OpenAPI document
    # (docs/mcp.md describes it).
    methods = ["GET", "POST", "DELETE"]
    app.router.routes.append(Route(MCP_PATH, endpoint=mcp_endpoint, methods=methods))
    install_ui(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(UrlLengthLimit, max_bytes=settings.max_url_bytes)
    # Just inside the ids: an unexpected error is logged with the request id and answered
    # with X-Request-Id (FastAPI's own last handler runs outside every middleware of ours).
    app.add_middleware(UnexpectedErrorMiddleware)
    # Outermost of ours: even a refused body or URL answers with its request id.
    app.add_middleware(ObservabilityMiddleware)
    return app
