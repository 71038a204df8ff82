"""The last guard of a request: an exception escaping the app is logged once and answered 500.

:class:`UnexpectedErrorMiddleware` sits just inside
:class:`~connectory.api.observability.ObservabilityMiddleware`, so the request's ids are set
while it works: the line holding the traceback carries the request id, and the 500 it answers
(:func:`~connectory.api.problems.unexpected_error_response`, the error id and nothing else)
goes out with ``X-Request-Id`` like every other response.

It replaces FastAPI's ``Exception`` handler, which runs in Starlette's
``ServerErrorMiddleware`` outside every middleware of ours: that 500 had no ``X-Request-Id``,
its line no request id, and ``ServerErrorMiddleware`` re-raises after answering, so the HTTP
server logged the traceback a second time, without the error id. Here the exception ends: the
server sees a request that was answered. (The warm operation call,
:mod:`connectory.api.operation_route`, guards itself the same way in front of the stack.)
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectory.api.problems import log_unexpected, unexpected_error_response


class UnexpectedErrorMiddleware:
    """ASGI middleware answering any exception the app raises with the common 500, logged once.

    Errors the app answers itself (ConnectoryError, validation, HTTP errors: FastAPI's
    handlers, inside) never get here; what does is a bug or a failure nothing expected.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request; if the app raises, log it and answer 500 unless already answering."""
        if scope["type"] != "http":
            # The lifespan's failures are the server's to report (it refuses to start);
            # websockets are not served.
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                # Set before sending: a start that failed half way must not be followed by
                # a second one.
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            error_id = log_unexpected("handling a request")
            if started:
                # The status and headers are gone (a stream failing half way, a background
                # task failing after the answer): a second response cannot follow. Returning
                # with the body unfinished makes the HTTP server close the connection, so the
                # client sees a cut answer, never a complete-looking one (uvicorn adds one
                # line, "ASGI callable returned without completing response", no traceback;
                # nothing if the body was complete). Re-raising would cut it the same way
                # but have the server log the traceback again, without the error id.
                return
            await unexpected_error_response(error_id)(scope, receive, send)
