"""An unexpected error (our bug) is a 500 that names the error id its traceback is logged under.

The id is what a user quotes and an operator greps for; the answer reveals nothing else (not
the exception's message). Both mounts of the operation call are covered: the FastAPI route
(a connection not yet warm) and the ASGI fast path (warm), any other route of the app (in
process and behind uvicorn: the traceback is logged once, with the request id the answer's
``X-Request-Id`` names), a stream failing after its answer started (cut, never answered twice),
and a plain FastAPI app with the common handlers and guard.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, NoReturn

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from sqlalchemy.exc import DBAPIError
from starlette.types import Message, Receive, Scope, Send

from connectory.api import create_app, operation_route
from connectory.api.limits import server_options
from connectory.api.observability import ObservabilityMiddleware
from connectory.api.operation_call import answer_operation_call
from connectory.api.problems import install_error_handlers
from connectory.api.routers import connections as connections_router
from connectory.api.unexpected_errors import UnexpectedErrorMiddleware
from connectory.logs import LOG_FORMATS, ContextFilter, create_handler
from connectory.settings import Settings
from connectory.testing import create_test_api, serve

from .crm_support import connect, document_on
from .support import Server, World

_HIDDEN = "internal-detail-7f3a"
_ERROR_ID = re.compile(r"\(error id ([0-9a-f]{16})\); it was logged$")


async def _broken(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise RuntimeError(f"a bug ({_HIDDEN})")


def _logged_ids(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The error ids of the unexpected errors logged, each with its traceback."""
    ids = []
    for record in caplog.records:
        found = re.search(r"unexpected error while .* \(error id ([0-9a-f]{16})\)", record.message)
        if found:
            assert record.exc_info is not None and _HIDDEN in str(record.exc_info[1])
            ids.append(found.group(1))
    return ids


def _error_id_of(answer: httpx.Response) -> str:
    assert answer.status_code == 500, answer.text
    body = answer.json()
    assert body["code"] == "internal_error" and _HIDDEN not in answer.text
    found = _ERROR_ID.search(body["detail"])
    assert found, body["detail"]
    return found.group(1)


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Every record logged with a traceback (ours, the server's, anyone's)."""
    return [record for record in caplog.records if record.exc_info or record.exc_text]


async def _broken_route() -> None:
    await _broken()


async def _broken_stream() -> StreamingResponse:
    async def lines() -> AsyncIterator[bytes]:
        yield b'{"id": 1}\n'
        await _broken()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Errors of every logger captured, with the ids a process's log handler adds to them."""
    ids = ContextFilter()
    caplog.handler.addFilter(ids)
    caplog.set_level(logging.ERROR)
    yield caplog
    caplog.handler.removeFilter(ids)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve(create_test_api(records=10)) as url:
        yield url


@pytest.fixture
async def connection(
    api: httpx.AsyncClient,
    world: World,
    settings: Settings,
    upstream: str,
    caplog: pytest.LogCaptureFixture,
) -> str:
    """Enterprise A's connection; errors of connectory.api captured from here on."""
    cid = await connect(api, world, settings, document_on(upstream))
    caplog.set_level(logging.ERROR, logger="connectory.api")
    return cid


async def _get_item(
    api: httpx.AsyncClient, world: World, cid: str, **headers: str
) -> httpx.Response:
    return await api.post(
        f"/connections/{cid}/operations/get_item",
        json={"params": {"id": 1}},
        headers={**world.auth("a_admin"), **headers},
    )


async def test_an_operation_call_failing_unexpectedly_names_its_logged_error_id(
    api: httpx.AsyncClient,
    world: World,
    connection: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mounts: list[str] = []

    def broken_on(mount: str) -> Callable[..., Awaitable[bytes | None]]:
        """The handler, failing after its call: the route's warms the connection for later."""

        async def broken(*args: Any, **kwargs: Any) -> bytes | None:
            if await answer_operation_call(*args, **kwargs) is None:
                return None  # the fast path on a cold connection: the route takes the request
            mounts.append(mount)
            await _broken()

        return broken

    monkeypatch.setattr(connections_router, "answer_operation_call", broken_on("route"))
    monkeypatch.setattr(operation_route, "answer_operation_call", broken_on("fast path"))
    answered = [
        _error_id_of(await _get_item(api, world, connection))
        for _ in range(3)  # the first may be cold (the route), the later ones warm (fast path)
    ]
    assert len(set(answered)) == 3
    assert _logged_ids(caplog) == answered
    # Each answer came from one mount, the cold one(s) from the route, then the fast path.
    assert len(mounts) == 3 and mounts[0] == "route" and mounts[-1] == "fast path", mounts


async def test_a_warm_call_failing_before_its_handler_names_its_logged_error_id(
    api: httpx.AsyncClient,
    world: World,
    connection: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The fast path's own steps before the handler (the token's principal) are guarded too."""
    monkeypatch.setattr(operation_route, "cached_principal", _broken)
    answer = await _get_item(api, world, connection, **{"X-Request-Id": "req-unexpected-1"})
    error_id = _error_id_of(answer)
    assert answer.headers["X-Request-Id"] == "req-unexpected-1"  # the caller's, echoed
    assert _logged_ids(caplog) == [error_id]


async def test_a_route_failing_unexpectedly_answers_its_request_id_and_logs_once(
    server: Server, logged: pytest.LogCaptureFixture
) -> None:
    """The slow path: the 500 carries X-Request-Id, the one traceback line its request id."""
    server.app.add_api_route("/test-broken", _broken_route)
    answer = await server.client.get("/test-broken")  # the app's exceptions are raised here
    error_id = _error_id_of(answer)
    assert _logged_ids(logged) == [error_id]
    (record,) = _tracebacks(logged)
    assert getattr(record, "request_id", None) == answer.headers["X-Request-Id"]
    assert answer.headers["content-type"] == "application/json"


async def test_behind_uvicorn_an_unexpected_error_is_logged_once_and_a_stream_is_cut(
    settings: Settings, logged: pytest.LogCaptureFixture
) -> None:
    """The server logs no traceback of its own; a stream failing half way is not answered twice."""
    app = create_app(settings)
    app.add_api_route("/test-broken", _broken_route)
    app.add_api_route("/test-broken-stream", _broken_stream)
    with serve(app, options=server_options(settings)) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            answer = await client.get("/test-broken", headers={"X-Request-Id": "req-slow-1"})
            error_id = _error_id_of(answer)
            assert answer.headers["X-Request-Id"] == "req-slow-1"
            async with client.stream("GET", "/test-broken-stream") as streamed:
                assert streamed.status_code == 200
                streamed_id = streamed.headers["X-Request-Id"]
                # The body is cut (the connection closed before its last chunk): a client
                # cannot take the records before the failure for the whole answer.
                with pytest.raises(httpx.RemoteProtocolError):
                    await streamed.aread()
    # The server has stopped: whatever it was to log about these requests is logged.
    logged_ids = _logged_ids(logged)
    assert len(logged_ids) == 2 and logged_ids[0] == error_id
    tracebacks = _tracebacks(logged)
    assert [getattr(record, "request_id", None) for record in tracebacks] == [
        "req-slow-1",
        streamed_id,
    ]
    assert all(record.name == "connectory.api" for record in tracebacks)
    # uvicorn's own error lines: none for the answered 500 (it was not re-raised), and for the
    # cut stream only its note that the body was left unfinished, with no traceback.
    server_lines = [r.getMessage() for r in logged.records if r.name.startswith("uvicorn")]
    assert server_lines == ["ASGI callable returned without completing response."]


async def test_a_response_that_started_is_never_followed_by_a_second_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """After the answer started the guard logs (once) and sends nothing more, nor raises."""

    async def app(_scope: Scope, _receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}\n", "more_body": True})
        await _broken()

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    caplog.set_level(logging.ERROR, logger="connectory.api")
    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    await UnexpectedErrorMiddleware(app)(scope, receive, send)
    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]
    assert sent[-1]["more_body"] is True  # left unfinished: the server closes the connection
    assert len(_logged_ids(caplog)) == 1


async def test_any_route_failing_unexpectedly_names_its_logged_error_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A FastAPI app with the common handlers and the guard inside its ids, as create_app's."""
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(ObservabilityMiddleware)

    @app.get("/broken")
    async def broken() -> None:
        await _broken()

    caplog.set_level(logging.ERROR, logger="connectory.api")
    transport = httpx.ASGITransport(app=app)  # an exception escaping the app is raised here
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get("/broken", headers={"X-Request-Id": "req-plain-1"})
    error_id = _error_id_of(answer)
    assert answer.headers["X-Request-Id"] == "req-plain-1"
    assert _logged_ids(caplog) == [error_id]


class _DriverError(Exception):
    """Stands for asyncpg's UniqueViolationError: its message quotes the row's values."""

    sqlstate = "23505"


async def test_a_database_error_is_logged_without_the_values_its_messages_quote(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The driver's DETAIL (and SQLAlchemy's parameters) never reach a log line, the id does."""
    secret = "tokhash-5e3c9d1f"
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(ObservabilityMiddleware)

    @app.get("/broken-db")
    async def broken_db() -> None:
        driver = _DriverError(
            f"duplicate key value violates unique constraint\nDETAIL:  Key (token_hash)=({secret})"
            " already exists."
        )
        try:
            raise driver
        except _DriverError as error:
            raise DBAPIError(
                "INSERT INTO api_tokens (token_hash) VALUES ($1)",
                {"token_hash": secret},
                error,
                hide_parameters=False,
            ) from error

    caplog.set_level(logging.ERROR, logger="connectory.api")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get("/broken-db")
    assert answer.status_code == 500 and secret not in answer.text
    error_id = _ERROR_ID.search(answer.json()["detail"])
    assert error_id is not None
    records = [r for r in caplog.records if r.name == "connectory.api"]
    assert len(records) == 1
    for log_format in LOG_FORMATS:
        line = create_handler(log_format).format(records[0])
        assert secret not in line, line
        assert f"error id {error_id.group(1)}" in line
        # Named by type, with the driver's type and code, and with the traceback's frames.
        assert "DBAPIError (_DriverError, SQLSTATE 23505)" in line
        assert "broken_db" in line
    assert secret not in caplog.text
