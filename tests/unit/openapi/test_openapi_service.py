"""The service: reading files, fetching URLs with a size cap and a timeout, applying options."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from openapi_docs import document, get, json_body

from connectory.errors import (
    EgressDenied,
    InvalidRequest,
    SpecError,
    TransportError,
    UpstreamTimeout,
)
from connectory.http.egress import EgressPolicy, GuardedTransport
from connectory.services.openapi_import import (
    DocumentSource,
    ImportOptions,
    fetch_document,
    import_document,
)

DOC = document(
    {
        "/items": {
            "get": get(
                {"200": json_body({"type": "array", "items": {}})},
                tags=["items"],
                parameters=[{"name": "page", "in": "query", "schema": {"type": "integer"}}],
            )
        },
        "/users": {"get": get(tags=["users"])},
    }
)
RAW = json.dumps(DOC).encode()


async def test_from_bytes_with_options() -> None:
    result = await import_document(
        DocumentSource(content=RAW), ImportOptions(tags=["items"], accept_pagination=True)
    )
    (operation,) = result.connector["operations"]
    assert operation["pagination"]["type"] == "page_number"


async def test_accepting_pagination_of_an_unknown_operation_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="no pagination is suggested for get_users"):
        await import_document(
            DocumentSource(content=RAW), ImportOptions(accept_pagination=["get_users"])
        )


async def test_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "api.json"
    path.write_bytes(RAW)
    result = await import_document(DocumentSource(path=path))
    assert len(result.connector["operations"]) == 2


async def test_from_a_url_relative_servers_resolve_against_it() -> None:
    doc = {**DOC, "servers": [{"url": "/api"}]}

    def handler(request: httpx.Request) -> httpx.Response:
        assert "application/json" in request.headers["accept"]
        return httpx.Response(200, json=doc)

    result = await import_document(
        DocumentSource(url="https://docs.example.com/spec/openapi.json"),
        transport_factory=lambda: httpx.MockTransport(handler),
    )
    assert result.connector["base_url"] == "https://docs.example.com/api"


async def test_a_url_that_is_too_large_is_cut_off() -> None:
    sent = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(1000):
            sent.append(1024)
            yield b"x" * 1024

    def streamed(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())

    with pytest.raises(SpecError, match="limited to"):
        await fetch_document(
            "https://x.example/a",
            transport_factory=lambda: httpx.MockTransport(streamed),
            max_bytes=10_000,
        )

    def declared(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": str(10**9)}, content=b"")

    with pytest.raises(SpecError, match=r"953\.7 MiB"):
        await fetch_document(
            "https://x.example/a", transport_factory=lambda: httpx.MockTransport(declared)
        )


async def test_url_errors() -> None:
    def status(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404)

    with pytest.raises(InvalidRequest, match="answered 404"):
        await fetch_document(
            "https://x.example/a", transport_factory=lambda: httpx.MockTransport(status)
        )

    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(TransportError, match="ConnectError"):
        await fetch_document(
            "https://x.example/a", transport_factory=lambda: httpx.MockTransport(broken)
        )

    def loop(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "https://x.example/a"})

    with pytest.raises(InvalidRequest, match="redirects more than"):
        await fetch_document(
            "https://x.example/a", transport_factory=lambda: httpx.MockTransport(loop)
        )


@pytest.mark.parametrize(
    "url", ["ftp://x.example/a", "file:///etc/passwd", "/relative", "https://u:p@x.example/"]
)
async def test_only_plain_http_urls_are_fetched(url: str) -> None:
    with pytest.raises(InvalidRequest):
        await fetch_document(url)


async def test_a_slow_url_times_out() -> None:
    import anyio

    async def slow(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(5)
        return httpx.Response(200)

    with pytest.raises(UpstreamTimeout, match=r"within 0\.2 s"):
        await fetch_document(
            "https://x.example/a", transport_factory=lambda: httpx.MockTransport(slow), timeout=0.2
        )


async def test_the_egress_guard_refuses_internal_addresses() -> None:
    with pytest.raises(EgressDenied):
        await fetch_document(
            "http://127.0.0.1:9/openapi.json",
            transport_factory=lambda: GuardedTransport(EgressPolicy()),
        )
