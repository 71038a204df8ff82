"""``GET /metrics``: Prometheus metrics (text exposition format).

Open without a token only while the server is bound to a loopback address (only processes on
the machine reach it); otherwise ``Authorization: Bearer <CONNECTORY_METRICS_TOKEN>`` is
required, and without a configured token the endpoint refuses (403) rather than exposing
connector ids and traffic to the network.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from fastapi import APIRouter, Request, Response

from connectory.api.problems import ErrorOut
from connectory.api.routing import StrictJSONRoute
from connectory.errors import NotAuthenticated, NotFound, PermissionDenied
from connectory.observability.metrics import CONTENT_TYPE
from connectory.services.telemetry import ServerTelemetry
from connectory.settings import Settings

router = APIRouter(route_class=StrictJSONRoute, tags=["observability"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition format."},
    401: {"model": ErrorOut, "description": "The metrics token is missing or wrong."},
    403: {"model": ErrorOut, "description": "Not on loopback and no metrics token configured."},
    404: {"model": ErrorOut, "description": "Metrics are turned off (CONNECTORY_METRICS)."},
}


@router.get("/metrics", responses=_RESPONSES, summary="Prometheus metrics")
async def get_metrics(request: Request) -> Response:
    """Calls, latency, retries, breakers, rate limits, token refreshes, the call log."""
    settings: Settings = request.app.state.settings
    telemetry: ServerTelemetry = request.app.state.telemetry
    if telemetry.metrics is None:
        raise NotFound("metrics are turned off on this server (CONNECTORY_METRICS=false)")
    _authorize(request, settings)
    if telemetry.buffer is not None:
        telemetry.metrics.set_pending(telemetry.buffer.pending)
    return Response(telemetry.metrics.render(), media_type=CONTENT_TYPE)


def _authorize(request: Request, settings: Settings) -> None:
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(value.encode(), token.encode()):
        return
    if _on_loopback(request, settings):
        return
    if not token:
        raise PermissionDenied(
            "/metrics needs a token when the server is not bound to loopback: set "
            "CONNECTORY_METRICS_TOKEN and scrape with Authorization: Bearer <token>"
        )
    raise NotAuthenticated("/metrics needs Authorization: Bearer <CONNECTORY_METRICS_TOKEN>")


def _on_loopback(request: Request, settings: Settings) -> bool:
    host = settings.bind_host
    if host is None:
        server = request.scope.get("server")
        host = str(server[0]) if server else ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
