"""A cap on request bodies, enforced before any endpoint reads them (413)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectory.api.problems import ErrorOut


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
        body = (
            ErrorOut(
                status=413,
                code="payload_too_large",
                detail=f"the request body is larger than {self.max_bytes:,} bytes",
            )
            .model_dump_json()
            .encode()
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    """Raised inside the app's receive to stop reading an oversized body."""
