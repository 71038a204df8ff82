"""An unexpected error (our bug) is a 500 that names the error id its traceback is logged under.

The id is what a user quotes and an operator greps for; the answer reveals nothing else (not
the exception's message). Both mounts of the operation call are covered: the FastAPI route
(a connection not yet warm) and the ASGI fast path (warm), and a plain FastAPI app with the
common handlers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any, NoReturn

import httpx
import pytest
from fastapi import FastAPI

from connectory.api import operation_route
from connectory.api.problems import install_error_handlers
from connectory.api.routers import connections as connections_router
from connectory.settings import Settings
from connectory.testing import create_test_api, serve

from .crm_support import connect, document_on
from .support import World

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
    monkeypatch.setattr(connections_router, "answer_operation_call", _broken)
    monkeypatch.setattr(operation_route, "answer_operation_call", _broken)
    answered = [
        _error_id_of(await _get_item(api, world, connection))
        for _ in range(3)  # the first may be cold (the route), the later ones warm (fast path)
    ]
    assert len(set(answered)) == 3
    assert _logged_ids(caplog) == answered


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


async def test_any_route_failing_unexpectedly_names_its_logged_error_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/broken")
    async def broken() -> None:
        await _broken()

    caplog.set_level(logging.ERROR, logger="connectory.api")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        error_id = _error_id_of(await client.get("/broken"))
    assert _logged_ids(caplog) == [error_id]
