"""Caps on requests, enforced before any endpoint reads them: body (413) and URL (414).

The HTTP server reads a request's head (request line and headers) before the app sees it;
:func:`server_options` sets how much it reads, generously above the URL cap, so that a long
URL gets Connectory's clear 414 (on a connection that stays open) instead of the server's
bare 400.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectory.api.problems import ErrorOut
from connectory.settings import Settings


def server_options(settings: Settings, *, http: str | None = None) -> dict[str, Any]:
    """Return the uvicorn options for *settings*: the HTTP/1.1 parser and its request-head limit.

    The parser is httptools (uvicorn's C parser, with Connectory's head limit:
    :mod:`connectory.api.http_protocol`) when it is installed, else h11 (pure Python, with
    its own head limit). *http* picks one (``"httptools"`` or ``"h11"``) instead.
    """
    limit = {"h11_max_incomplete_event_size": settings.max_head_bytes}
    if http is None:
        http = "httptools" if importlib.util.find_spec("httptools") is not None else "h11"
    if http == "httptools":
        from connectory.api.http_protocol import HeadLimitedHttpTools

        return {"http": HeadLimitedHttpTools, **limit}
    return {"http": "h11", **limit}


class UrlLengthLimit:
    """ASGI middleware answering 414 for a path plus query string over *max_bytes*."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 414."""
        if scope["type"] == "http":
            length = len(scope.get("raw_path") or scope["path"].encode()) + len(
                scope.get("query_string", b"")
            )
            if length > self.max_bytes:
                detail = (
                    f"the request URL is {length:,} bytes long; the limit is "
                    f"{self.max_bytes:,} bytes: send long values in a request body"
                )
                await _answer(send, 414, "uri_too_long", detail)
                return
        await self.app(scope, receive, send)


class BodySizeLimit:
    """ASGI middleware answering 413 for bodies over *max_bytes*.

    The declared Content-Length is checked first; a chunked body is counted as it streams and
    cut off as soon as it passes the limit, so an oversized upload is never held in memory.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 413."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await self._refuse(send)
                return
        received = 0
        too_large = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _TooLarge
            return message

        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if too_large:
                # The app may have caught the cut-off and answered itself (FastAPI turns a
                # failed body read into a 400): answer 413 instead and drop its messages.
                if message["type"] == "http.response.start" and not response_started:
                    response_started = True
                    await self._refuse(send)
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not response_started:
                await self._refuse(send)
        except Exception:
            if too_large and not response_started:
                await self._refuse(send)
                return
            raise

    async def _refuse(self, send: Send) -> None:
        detail = f"the request body is larger than {self.max_bytes:,} bytes"
        await _answer(send, 413, "payload_too_large", detail)


async def _answer(send: Send, status: int, code: str, detail: str) -> None:
    body = ErrorOut(status=status, code=code, detail=detail).model_dump_json().encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    """Raised inside the app's receive to stop reading an oversized body."""
