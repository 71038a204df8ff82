"""Ids on every response: ``X-Request-Id``, and the call's ``X-Connectory-Call-Id``.

A pure ASGI middleware (it runs in the request's own task, so the context it sets reaches the
endpoint): it names the request (the caller's ``X-Request-Id`` when it is a short token,
else a fresh one), makes that id and the call ids available to logging and to the call log,
and adds to the response's headers the id of the first call the request made
(``X-Connectory-Call-Id``) and, with tracing on, its trace id (``X-Connectory-Trace-Id``):
``GET /connections/{id}/calls/{call_id}`` finds the entry.
"""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectory.observability.calls import ResponseIds, new_call_id, serving_request

REQUEST_ID_HEADER = "X-Request-Id"
CALL_ID_HEADER = "X-Connectory-Call-Id"
TRACE_ID_HEADER = "X-Connectory-Trace-Id"

#: A caller's request id is kept when it is this plain (it goes into logs as it is).
_PLAIN_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class ObservabilityMiddleware:
    """Request ids in, request and call ids out (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request (or pass anything else through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ids = response_ids(scope)

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in id_headers(ids):
                    headers[name.decode("latin-1")] = value.decode("latin-1")
            await send(message)

        with serving_request(ids):
            await self.app(scope, receive, send_with_ids)


def response_ids(scope: Scope) -> ResponseIds:
    """The ids of the request in *scope*: the caller's ``X-Request-Id`` if plain, else a new one."""
    given = _header(scope, b"x-request-id")
    request_id = given if given is not None and _PLAIN_ID.match(given) else new_call_id()
    return ResponseIds(request_id)


def id_headers(ids: ResponseIds) -> list[tuple[bytes, bytes]]:
    """The response headers carrying *ids* (raw ASGI form, names lower-case)."""
    headers = [(b"x-request-id", ids.request_id.encode("latin-1"))]
    if ids.call_id is not None:
        headers.append((b"x-connectory-call-id", ids.call_id.encode("latin-1")))
    if ids.trace_id is not None:
        headers.append((b"x-connectory-trace-id", ids.trace_id.encode("latin-1")))
    return headers


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            try:
                return str(value.decode("ascii"))
            except UnicodeDecodeError:
                return None
    return None
