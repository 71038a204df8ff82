"""The fast path of ``POST /connections/{id}/operations/{name}``: a warm call in plain ASGI.

Integration code calls operations through the API many times a second, and the framework
path (five middlewares, FastAPI's dependency solving, its request and response models) cost
several times the call itself. :class:`OperationCallRoute` sits in front of the whole app and
serves the common case itself, with the same checks and the same answers:

- **Only the warm case.** A request is served here only when everything it needs is in
  memory and plain: the caller's token in the request cache
  (:mod:`connectory.services.request_cache`), the connection in it too, the connection's client
  built and fresh, a body of at most ``max_body_bytes`` with a Content-Length, an
  ``Authorization: Bearer`` header, no query string and no dependency overrides. Anything else
  (a first call, ``all_pages`` streams, cookie sessions, an unusual body, an invalid one) goes
  to the FastAPI route, with the body already read handed on unchanged: that route stays the
  one place that reads the database, decides the 4xx of a malformed request and documents the
  endpoint in OpenAPI. (When a cached entry has just expired and a request on that route is
  reading it again, a request here waits for that read rather than taking the route as well.)
- **The same handler.** Both this and the FastAPI route run
  :func:`~connectory.api.operation_call.answer_operation_call` (tenant isolation, the
  operation's permission, the call with its call log, metrics, health and tracing, the
  response model); this mount gives it a :class:`~connectory.api.operation_call.WarmSource`.
  What is left here is what FastAPI does for the route: the body is parsed by the same strict
  parser (:class:`~connectory.api.routing.StrictJSONRequest`'s: no lone surrogates, NaN or
  deep nesting) and validated by the same model; the URL and body caps of
  :mod:`connectory.api.limits` hold (a request over either goes to the middlewares that
  refuse it); the principal comes from the request cache the route's dependency fills.
- **The same answers.** Errors are the API's problem bodies
  (:func:`~connectory.api.problems.connectory_error_response`), and every response carries
  ``X-Request-Id`` and the call's ``X-Connectory-Call-Id`` (and trace id) as
  :class:`~connectory.api.observability.ObservabilityMiddleware` adds them.
"""

from __future__ import annotations

import re
from typing import Any

import pydantic
import pydantic_core
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectory.api.deps import cached_principal
from connectory.api.observability import id_headers, response_ids
from connectory.api.operation_call import WarmSource, answer_operation_call
from connectory.api.problems import (
    connectory_error_response,
    log_unexpected,
    unexpected_error_response,
)
from connectory.api.schemas.connections import OperationRun
from connectory.errors import ConnectoryError
from connectory.observability.calls import serving_request
from connectory.services.connection_runtime import ConnectionRuntimes
from connectory.services.request_cache import RequestCache
from connectory.services.tokens import is_token_shaped

#: The endpoint's path, as Starlette matches ``{connection_id}`` and ``{operation}``.
_PATH = re.compile(r"/connections/([^/]+)/operations/([^/]+)")
_JSON_HEADERS = [(b"content-type", b"application/json")]


class OperationCallRoute:
    """ASGI wrapper serving warm operation calls; everything else goes to *app*.

    Args:
        app: The whole API (its middlewares included): what this does not serve.
        api: The FastAPI application whose state (request cache, runtimes) is read.
        max_body_bytes: The body cap (larger bodies go to *app*, which answers 413).
        max_url_bytes: The URL cap (longer URLs go to *app*, which answers 414).
    """

    def __init__(self, app: ASGIApp, api: Any, max_body_bytes: int, max_url_bytes: int) -> None:
        self.app = app
        self.api = api
        self.max_body_bytes = max_body_bytes
        self.max_url_bytes = max_url_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a warm operation call, or hand the request on."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("query_string"):
            await self.app(scope, receive, send)
            return
        found = _PATH.fullmatch(scope["path"])
        if found is None or scope.get("root_path") or self.api.dependency_overrides:
            await self.app(scope, receive, send)
            return
        length, token, plain_json = _scan_headers(scope)
        raw_path = scope.get("raw_path") or b""
        if (
            length is None
            or length > self.max_body_bytes
            or token is None
            or not plain_json
            or len(raw_path) > self.max_url_bytes
        ):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive, length)
        if body is None:
            return  # the client went away
        if not await self._serve(scope, send, found[1], found[2], token, body):
            await self.app(scope, _replay(body, receive), send)

    async def _serve(
        self, scope: Scope, send: Send, connection_id: str, operation: str, token: str, body: bytes
    ) -> bool:
        """Answer the call if everything is warm; False: nothing was sent, hand it on."""
        state = self.api.state
        cache: RequestCache | None = getattr(state, "request_cache", None)
        runtimes: ConnectionRuntimes | None = getattr(state, "runtimes", None)
        if cache is None or runtimes is None or not is_token_shaped(token):
            return False
        ids = response_ids(scope)
        with serving_request(ids):  # the log lines of an error below carry the request's ids
            try:
                principal = await cached_principal(cache, token)
                if principal is None:
                    return False
                params = _params(body)
                if params is None:
                    return False
                # The one handler the FastAPI route runs too (connectory.api.operation_call).
                content = await answer_operation_call(
                    WarmSource(cache, runtimes),
                    runtimes,
                    principal,
                    connection_id,
                    operation,
                    params,
                )
                if content is None:
                    return False  # not warm: nothing was done
                status = 200
                headers = _JSON_HEADERS
            except ConnectoryError as error:
                status, content, headers = _rendered(connectory_error_response(error))
            except Exception:  # anything unexpected, before the handler too: the common 500
                error_id = log_unexpected("handling a request")
                status, content, headers = _rendered(unexpected_error_response(error_id))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-length", str(len(content)).encode()),
                    *headers,
                    *id_headers(ids),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})
        return True


def _scan_headers(scope: Scope) -> tuple[int | None, str | None, bool]:
    """Content-Length (None: absent or not a number), the bearer token, and JSON or no type."""
    length: int | None = None
    lengths = 0
    token: str | None = None
    authorization_seen = False
    plain_json = True
    for name, value in scope["headers"]:
        if name == b"content-length":
            lengths += 1
            length = int(value) if value.isdigit() else None
        elif name == b"authorization" and not authorization_seen:
            # The first one counts, as for Starlette's headers; only "Bearer <token>" is served.
            authorization_seen = True
            scheme, _, credentials = value.partition(b" ")
            if scheme.lower() == b"bearer" and credentials and credentials.isascii():
                token = credentials.decode("ascii")
        elif name == b"content-type":
            # FastAPI reads JSON for a missing type or application/json (+json); others are
            # its route's business (it answers them).
            plain_json = value.split(b";", 1)[0].strip().lower() == b"application/json"
        elif name == b"transfer-encoding":
            plain_json = False  # a chunked body: the middlewares count it as it streams
    return (length if lengths == 1 else None), token, plain_json


async def _read_body(receive: Receive, length: int) -> bytes | None:
    """The whole body (at most *length* bytes, as declared), or None if the client left."""
    chunks: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        received += len(chunk)
        chunks.append(chunk)
        if received > length:
            return None  # the server framed it by Content-Length: cannot happen
        if not message.get("more_body", False):
            return b"".join(chunks)


def _params(body: bytes) -> dict[str, Any] | None:
    """The call's parameters, if the body is a valid ``OperationRun`` (or empty); else None."""
    if not body:
        return {}
    try:
        # The strict parser of every route's body (see connectory.api.routing).
        data = pydantic_core.from_json(body, allow_inf_nan=False)
        if not isinstance(data, dict):
            return None
        return dict(OperationRun.model_validate(data).params)
    except (ValueError, pydantic.ValidationError):
        return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body already read, then the connection's own messages."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _rendered(response: Any) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """Status, body and headers (Content-Length left out) of a Starlette response."""
    headers = [(k, v) for k, v in response.raw_headers if k != b"content-length"]
    return response.status_code, bytes(response.body), headers
