"""The test API's signed and enveloped endpoints, for connector JavaScript (hooks, methods).

=============================  ===================================================================
``/signed/items``              GET lists, POST creates; both need ``X-Timestamp`` (Unix seconds,
                               within 300 s) and ``X-Signature``: hex HMAC-SHA256 with the
                               signing secret of ``{timestamp}.{METHOD}.{path}.{body}`` (body as
                               sent, empty when none). 401 ``{"error": ...}`` says what is wrong.
                               Answers in the envelope below.
``/envelope/items``            ``{"status": "ok", "data": {"items": [...], "next_cursor": ...}}``;
                               ``?cursor=&limit=`` page through the records
``/envelope/items/{id}``       ``{"status": "ok", "data": <record>}``, or, for a missing id, a
                               **200** with ``{"status": "error", "error": {"code":
                               "not_found", "message": ...}}`` (an API that hides errors)
=============================  ===================================================================

Every request to ``/signed/`` is counted as verified or refused in ``GET /_stats``
(``signatures``), so a test proves the signature was checked, not skipped.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectory.testing.api_state import TestApiState, int_param, json_response

#: How far a signature's timestamp may be from the server's clock.
SIGNATURE_TOLERANCE = 300


def signature_of(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    """The signature ``/signed/`` expects (clients and tests compute it the same way)."""
    message = f"{timestamp}.{method.upper()}.{path}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def ok(data: Any, status: int = 200) -> Response:
    """An answer in the envelope."""
    return json_response({"status": "ok", "data": data}, status)


def failed(code: str, message: str) -> Response:
    """An error in the envelope, with a 200 status, as some APIs do."""
    return json_response({"status": "error", "error": {"code": code, "message": message}})


def signed_routes(state: TestApiState, wall_clock: Callable[[], float]) -> list[BaseRoute]:
    """The routes in the module docstring."""

    async def verify(request: Request) -> tuple[bytes, Response | None]:
        body = await request.body()
        timestamp = request.headers.get("x-timestamp", "")
        given = request.headers.get("x-signature", "")
        problem = None
        if not timestamp or not given:
            problem = "missing X-Timestamp or X-Signature"
        elif not timestamp.isdigit() or abs(wall_clock() - int(timestamp)) > SIGNATURE_TOLERANCE:
            problem = f"X-Timestamp must be Unix seconds within {SIGNATURE_TOLERANCE} s of now"
        else:
            expected = signature_of(
                state.credentials.signing_secret,
                timestamp,
                request.method,
                request.url.path,
                body,
            )
            if not hmac.compare_digest(expected, given):
                problem = "the signature does not match"
        state.stats.signatures["refused" if problem else "verified"] += 1
        if problem:
            return body, json_response({"error": problem}, 401)
        return body, None

    async def signed_items(request: Request) -> Response:
        body, refused = await verify(request)
        if refused is not None:
            return refused
        if request.method == "POST":
            try:
                created = orjson.loads(body) if body else None
            except orjson.JSONDecodeError:
                return failed("invalid_json", "the body is not JSON")
            return ok({"created": created}, 201)
        limit = int_param(request, "limit", 5, minimum=1, maximum=100)
        return ok({"items": state.records[:limit]})

    async def envelope_items(request: Request) -> Response:
        limit = int_param(request, "limit", 10, minimum=1, maximum=100)
        cursor = int_param(request, "cursor", 0, minimum=0, maximum=10**9)
        page = state.records[cursor : cursor + limit]
        following = cursor + limit if cursor + limit < len(state.records) else None
        return ok({"items": page, "next_cursor": following})

    async def envelope_item(request: Request) -> Response:
        record_id: int = request.path_params["record_id"]
        if not 1 <= record_id <= len(state.records):
            return failed("not_found", f"no item {record_id}")
        return ok(state.records[record_id - 1])

    return [
        Route("/signed/items", signed_items, methods=["GET", "POST"]),
        Route("/envelope/items", envelope_items),
        Route("/envelope/items/{record_id:int}", envelope_item),
    ]
