"""The project's own test API, with every paging style and auth type Connectory supports.

It also has endpoints for checking how requests are built and how errors are handled, and a
CRUD resource (contacts, :mod:`.api_crm`) for collections.

Build it with :func:`create_test_api` and run it with :func:`connectory.testing.serve` (or
``python -m connectory.testing``). Routes besides the paging (:mod:`.api_paging`), auth
(:mod:`.api_auth`) and signed/enveloped (:mod:`.api_signed`) ones:

============================  ===================================================================
``/echo`` ``/echo/{path}``    any method: returns method, path (decoded and raw), query (every
                              value of every key), headers and the parsed body (JSON or form)
``/status/{code}``            answers *code*; ``?retry_after=S`` adds a ``Retry-After`` header
``/invalid-json``             ``application/json`` content type, a body that is not JSON
``/large``                    a JSON body of about ``?bytes=N`` bytes (default 1 MB)
``/items/{id}``               one record by id (404 when there is none)
``GET /_stats``               request counters by path, token and login request counts, 401s
``POST /_stats/reset``        zero the counters
============================  ===================================================================

Webhooks (registrations, signed notifications, a handshake, ``/changes`` for polling) are in
:mod:`.api_webhooks`.

Paths starting with ``/_`` are not counted, so reading the counters never changes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from connectory.testing.api_auth import auth_routes
from connectory.testing.api_crm import crm_routes
from connectory.testing.api_data import make_records
from connectory.testing.api_paging import paging_routes
from connectory.testing.api_signed import signed_routes
from connectory.testing.api_state import (
    TestApiCredentials,
    TestApiState,
    int_param,
    json_response,
    parse_form,
)
from connectory.testing.api_webhooks import WebhookState, webhook_routes

_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_MAX_LARGE_BYTES = 64 * 1024 * 1024


class _CountRequests:
    """ASGI middleware counting requests by path (pure ASGI: it must not buffer large bodies)."""

    def __init__(self, app: ASGIApp, state: TestApiState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/_"):
            self.state.stats.by_path[scope["path"]] += 1
        await self.app(scope, receive, send)


async def _parsed_body(request: Request) -> tuple[Any, str | None]:
    """Return the body as the client meant it, and a parse error if it did not parse."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if not raw:
        return None, None
    if content_type.startswith("application/json") or content_type.endswith("+json"):
        try:
            return orjson.loads(raw), None
        except orjson.JSONDecodeError as error:
            return raw.decode(errors="replace"), f"invalid JSON: {error}"
    if content_type.startswith("application/x-www-form-urlencoded"):
        fields: dict[str, list[str]] = {}
        for key, value in parse_form(raw):
            fields.setdefault(key, []).append(value)
        # One value stays a string so tests read naturally; repeated keys become lists.
        return {k: v[0] if len(v) == 1 else v for k, v in fields.items()}, None
    return raw.decode(errors="replace"), None


def _misc_routes(state: TestApiState) -> list[BaseRoute]:
    async def echo(request: Request) -> Response:
        body, body_error = await _parsed_body(request)
        query: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            query.setdefault(key, []).append(value)
        headers: dict[str, str] = {}
        for key, value in request.headers.items():
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return json_response(
            {
                "method": request.method,
                "path": request.scope["path"],  # decoded; request.url re-escapes ? and #
                "raw_path": request.scope.get("raw_path", b"").decode("latin-1"),
                "query_string": request.scope.get("query_string", b"").decode("latin-1"),
                "query": query,
                "headers": headers,
                "content_type": request.headers.get("content-type"),
                "body": body,
                "body_error": body_error,
            }
        )

    async def status(request: Request) -> Response:
        code: int = request.path_params["code"]
        if not 100 <= code <= 599:
            raise HTTPException(400, "status code must be between 100 and 599")
        headers = {}
        if "retry_after" in request.query_params:
            headers["Retry-After"] = request.query_params["retry_after"]
        if code in (204, 304) or code < 200:
            return Response(status_code=code, headers=headers)
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Unknown"
        return json_response({"status": code, "message": phrase}, code, headers)

    async def invalid_json(request: Request) -> Response:
        return Response(b'{"data": [{"id": 1}, {"id": 2', media_type="application/json")

    async def large(request: Request) -> Response:
        size = int_param(request, "bytes", 1_000_000, minimum=0, maximum=_MAX_LARGE_BYTES)
        overhead = len(b'{"size":,"padding":""}') + len(str(size))
        return json_response({"size": size, "padding": "x" * max(0, size - overhead)})

    async def item(request: Request) -> Response:
        record_id: int = request.path_params["record_id"]
        if not 1 <= record_id <= len(state.records):
            return json_response({"error": "not_found", "id": record_id}, 404)
        return json_response(state.records[record_id - 1])

    async def stats(request: Request) -> Response:
        return json_response(state.stats.to_dict())

    async def reset_stats(request: Request) -> Response:
        state.stats.by_path.clear()
        state.stats.token_requests = state.stats.login_requests = state.stats.unauthorized = 0
        state.stats.last_token_request = None
        state.stats.signatures.clear()
        return json_response(state.stats.to_dict())

    return [
        Route("/echo", echo, methods=_ALL_METHODS),
        Route("/echo/{rest:path}", echo, methods=_ALL_METHODS),
        Route("/status/{code:int}", status, methods=_ALL_METHODS),
        Route("/invalid-json", invalid_json),
        Route("/large", large),
        Route("/items/{record_id:int}", item),
        Route("/_stats", stats),
        Route("/_stats/reset", reset_stats, methods=["POST"]),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    # Errors are JSON like every other answer, so clients decode them the same way.
    assert isinstance(exc, HTTPException)
    return json_response({"error": exc.detail}, exc.status_code, exc.headers)


def create_test_api(
    records: int = 250,
    *,
    credentials: TestApiCredentials | None = None,
    max_page_size: int = 100,
    default_page_size: int = 25,
    token_ttl: int = 3600,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
) -> Starlette:
    """Build the test API.

    Args:
        records: How many records the dataset has (ids 1 to *records*).
        credentials: What the auth endpoints accept; the defaults of
            :class:`TestApiCredentials` when None.
        max_page_size: Larger page sizes are capped to this, as real APIs do.
        default_page_size: Page size when the client does not ask for one.
        token_ttl: Lifetime in seconds of OAuth2 and login tokens (a request may ask for less).
        clock: Monotonic clock deciding token expiry; pass a fake one to expire tokens in tests.
        wall_clock: Unix time, against which signature timestamps are checked.

    Returns:
        The ASGI app. Its state object is ``app.state.test_api`` (a :class:`TestApiState`).

    """
    if records < 0:
        raise ValueError("records must be >= 0")
    state = TestApiState(
        records=make_records(records),
        credentials=credentials or TestApiCredentials(),
        max_page_size=max_page_size,
        default_page_size=default_page_size,
        token_ttl=token_ttl,
        clock=clock,
    )
    hooks = WebhookState()
    routes = [
        *paging_routes(state),
        *auth_routes(state),
        *signed_routes(state, wall_clock),
        *_misc_routes(state),
        *crm_routes(state),
        *webhook_routes(state, hooks),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.test_api = state
    app.state.test_api_webhooks = hooks
    app.add_middleware(_CountRequests, state=state)
    return app
