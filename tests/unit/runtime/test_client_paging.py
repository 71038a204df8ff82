"""Paginated reads through ConnectorClient.iter_pages / iter_records with httpx.MockTransport."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectory.errors import PaginationError, ResponseSchemaError, UpstreamError

from .support import BASE_URL, Recorder, build_client, build_spec

RECORDS = [{"id": n} for n in range(1, 26)]  # 25 records


def _slice(start: int, size: int) -> list[dict[str, int]]:
    return RECORDS[start : start + size]


def fake_api(request: httpx.Request) -> httpx.Response:
    """Pages RECORDS in every style, by path; page sizes are capped at 10."""
    params = request.url.params
    path = request.url.path.removeprefix("/v1")
    size = min(int(params.get("limit", params.get("per_page", "10"))), 10)
    if path == "/offset":
        offset = int(params.get("offset", "0"))
        return httpx.Response(
            200, json={"data": _slice(offset, size)}, headers={"X-Total-Count": "25"}
        )
    if path == "/pages":
        page = int(params.get("page", "1"))
        return httpx.Response(
            200, json={"data": _slice((page - 1) * size, size), "meta": {"total": 25}}
        )
    if path in ("/cursor", "/cursor-header"):
        start = int(params.get("cursor", "0"))
        following = start + size if start + size < len(RECORDS) else None
        if path == "/cursor":
            return httpx.Response(
                200,
                json={
                    "data": _slice(start, size),
                    "next": None if following is None else str(following),
                },
            )
        headers = {} if following is None else {"X-Next": str(following)}
        return httpx.Response(200, json={"result": {"items": _slice(start, size)}}, headers=headers)
    if path == "/link":
        page = int(params.get("page", "1"))
        headers = {}
        if page * size < len(RECORDS):
            headers["Link"] = (
                f'<?page={page + 1}&per_page={size}>; rel="next", </v1/link?page=1>; rel="first"'
            )
        return httpx.Response(200, json=_slice((page - 1) * size, size), headers=headers)
    if path == "/next":
        start = int(params.get("start", "0"))
        following = f"/v1/next?start={start + size}" if start + size < len(RECORDS) else None
        return httpx.Response(200, json={"data": _slice(start, size), "next": following})
    return httpx.Response(404, json={"error": "no route"})


OPERATIONS: dict[str, dict[str, Any]] = {
    "offset": {
        "name": "offset",
        "path": "/offset",
        "record_selector": "data",
        "pagination": {"type": "offset", "page_size": 10, "total_header": "X-Total-Count"},
    },
    "offset_until_empty": {
        "name": "offset_until_empty",
        "path": "/offset",
        "record_selector": "data",
        "pagination": {"type": "offset", "page_size": 100},
    },
    "pages": {
        "name": "pages",
        "path": "/pages",
        "record_selector": "data",
        "pagination": {"type": "page_number", "page_size": 10, "total_path": "meta.total"},
    },
    "pages_short": {
        "name": "pages_short",
        "path": "/pages",
        "record_selector": "data",
        "pagination": {"type": "page_number", "page_size": 10, "stop_on_short_page": True},
    },
    "cursor": {
        "name": "cursor",
        "path": "/cursor",
        "record_selector": "data",
        "pagination": {
            "type": "cursor",
            "cursor_path": "next",
            "size_param": "limit",
            "page_size": 10,
        },
    },
    "cursor_header": {
        "name": "cursor_header",
        "path": "/cursor-header",
        "record_selector": "result.items",
        "pagination": {"type": "cursor", "cursor_header": "X-Next"},
    },
    "link": {
        "name": "link",
        "path": "/link",
        "parameters": [{"name": "per_page", "type": "integer", "default": 10}],
        "pagination": {"type": "link_header"},
    },
    "next": {
        "name": "next",
        "path": "/next",
        "record_selector": "data",
        "pagination": {"type": "next_url"},
    },
}


def _client(handler: Any, *names: str, **options: Any) -> Any:
    operations = [OPERATIONS[name] for name in names] if names else list(OPERATIONS.values())
    return build_client(build_spec(*operations), handler, **options)


@pytest.mark.parametrize(
    ("operation", "requests"),
    [
        ("offset", 3),
        ("offset_until_empty", 4),
        ("pages", 3),
        ("pages_short", 3),
        ("cursor", 3),
        ("cursor_header", 3),
        ("link", 3),
        ("next", 3),
    ],
)
async def test_every_style_reads_every_record_exactly_once(operation: str, requests: int) -> None:
    recorder = Recorder(fake_api)
    async with _client(recorder) as client:
        records = [record async for record in client.iter_records(operation)]
    assert records == RECORDS
    assert len(recorder.requests) == requests


async def test_offset_requests_advance_by_records_received() -> None:
    recorder = Recorder(fake_api)
    async with _client(recorder, "offset_until_empty") as client:
        [record async for record in client.iter_records("offset_until_empty")]
    sent = [dict(request.url.params) for request in recorder.requests]
    # limit=100 was asked for, the API capped pages at 10.
    assert sent == [
        {"offset": "0", "limit": "100"},
        {"offset": "10", "limit": "100"},
        {"offset": "20", "limit": "100"},
        {"offset": "25", "limit": "100"},
    ]


async def test_cursor_and_link_requests() -> None:
    recorder = Recorder(fake_api)
    async with _client(recorder, "cursor", "link") as client:
        [record async for record in client.iter_records("cursor")]
        [record async for record in client.iter_records("link")]
    urls = [str(request.url) for request in recorder.requests]
    assert urls == [
        f"{BASE_URL}/cursor?limit=10",
        f"{BASE_URL}/cursor?cursor=10&limit=10",
        f"{BASE_URL}/cursor?cursor=20&limit=10",
        f"{BASE_URL}/link?per_page=10",
        f"{BASE_URL}/link?page=2&per_page=10",
        f"{BASE_URL}/link?page=3&per_page=10",
    ]


async def test_pages_report_progress() -> None:
    async with _client(Recorder(fake_api), "pages") as client:
        pages = [page async for page in client.iter_pages("pages")]
    assert [page.number for page in pages] == [1, 2, 3]
    assert [len(page.records) for page in pages] == [10, 10, 5]
    assert [page.records_so_far for page in pages] == [10, 20, 25]
    assert pages[1].url == f"{BASE_URL}/pages?page=2&per_page=10"
    assert all(page.status_code == 200 for page in pages)


@pytest.mark.parametrize(("caller", "expected_pages"), [(None, 2), (1, 1), (5, 2)])
async def test_page_limit_of_spec_and_caller_lower_wins(
    caller: int | None, expected_pages: int
) -> None:
    operation = {
        **OPERATIONS["pages"],
        "pagination": {"type": "page_number", "page_size": 10, "max_pages": 2},
    }
    recorder = Recorder(fake_api)
    async with build_client(build_spec(operation), recorder) as client:
        pages = [page async for page in client.iter_pages("pages", max_pages=caller)]
    assert len(pages) == expected_pages
    assert len(recorder.requests) == expected_pages


async def test_operation_without_pagination_is_one_page() -> None:
    operation = {"name": "list", "path": "/offset", "record_selector": "data"}
    recorder = Recorder(fake_api)
    async with build_client(build_spec(operation), recorder) as client:
        pages = [page async for page in client.iter_pages("list")]
    assert len(pages) == 1
    assert [record["id"] for record in pages[0].records] == list(range(1, 11))


async def test_pages_are_streamed_one_request_per_page_consumed() -> None:
    recorder = Recorder(fake_api)
    async with _client(recorder, "pages") as client:
        seen: list[tuple[int, int]] = []
        async for record in client.iter_records("pages"):
            seen.append((record["id"], len(recorder.requests)))
            if record["id"] == 15:
                break
    # Records 1-10 were read with one request, 11-15 with two; page 3 was never asked for.
    assert seen == [(n, 1) for n in range(1, 11)] + [(n, 2) for n in range(11, 16)]
    assert len(recorder.requests) == 2


async def test_no_request_before_the_first_record_is_asked_for() -> None:
    recorder = Recorder(fake_api)
    async with _client(recorder, "cursor") as client:
        records = client.iter_records("cursor")
        assert recorder.requests == []
        first = await anext(records)
        assert first == {"id": 1}
        assert len(recorder.requests) == 1
        await records.aclose()
    assert len(recorder.requests) == 1


class TestMisbehavingApis:
    async def test_repeated_cursor_raises_instead_of_looping(self) -> None:
        def respond(request: httpx.Request) -> httpx.Response:
            cursor = request.url.params.get("cursor", "")
            return httpx.Response(200, json={"data": [{"id": cursor or "first"}], "next": "same"})

        operation = {**OPERATIONS["cursor"], "path": "/loop"}
        recorder = Recorder(respond)
        async with build_client(build_spec(operation), recorder) as client:
            with pytest.raises(PaginationError, match="'same' came back again"):
                [record async for record in client.iter_records("cursor")]
        assert len(recorder.requests) == 2

    async def test_api_ignoring_the_paging_parameter_raises(self) -> None:
        respond = Recorder(lambda request: httpx.Response(200, json={"data": [{"id": 1}]}))
        async with build_client(build_spec(OPERATIONS["offset_until_empty"]), respond) as client:
            with pytest.raises(PaginationError, match="identical"):
                [record async for record in client.iter_records("offset_until_empty")]
        assert len(respond.requests) == 2

    async def test_next_url_loop_raises(self) -> None:
        def respond(request: httpx.Request) -> httpx.Response:
            return httpx.Response(
                200, json={"data": [{"id": str(request.url)}], "next": str(request.url)}
            )

        recorder = Recorder(respond)
        async with build_client(build_spec(OPERATIONS["next"]), recorder) as client:
            with pytest.raises(PaginationError, match="already read"):
                [record async for record in client.iter_records("next")]
        assert len(recorder.requests) == 1

    @pytest.mark.parametrize(
        "target",
        [
            "https://evil.example.net/v1/next?start=10",
            "http://api.example.com/v1/next?start=10",
            "https://api.example.com:444/v1/next?start=10",
        ],
        ids=["other-host", "https-to-http", "other-port"],
    )
    async def test_next_url_on_another_origin_is_never_requested(self, target: str) -> None:
        def respond(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json={"data": [{"id": 1}], "next": target})

        recorder = Recorder(respond)
        spec = build_spec(
            OPERATIONS["next"],
            auth={"auth_type": "bearer", "credential_schema": {"token": {"type": "password"}}},
        )
        async with build_client(spec, recorder, credentials={"token": "tok-123456"}) as client:
            with pytest.raises(PaginationError, match="another host"):
                [record async for record in client.iter_records("next")]
        assert [request.url.host for request in recorder.requests] == ["api.example.com"]

    async def test_error_status_on_a_later_page_raises(self) -> None:
        def respond(request: httpx.Request) -> httpx.Response:
            if request.url.params.get("page") == "2":
                return httpx.Response(500, json={"error": "boom"})
            return fake_api(request)

        async with build_client(build_spec(OPERATIONS["pages"]), Recorder(respond)) as client:
            received = []
            with pytest.raises(UpstreamError) as caught:
                async for record in client.iter_records("pages"):
                    received.append(record)
        assert caught.value.status_code == 500
        assert len(received) == 10


class TestPageSchemaChecks:
    OPERATION: dict[str, Any] = {
        **OPERATIONS["pages"],
        "response_schema": {
            "type": "object",
            "properties": {
                "data": {"type": "array", "items": {"properties": {"id": {"type": "string"}}}}
            },
        },
    }

    async def test_warn_mode_checks_the_first_page_only(self) -> None:
        async with build_client(build_spec(self.OPERATION), Recorder(fake_api)) as client:
            pages = [page async for page in client.iter_pages("pages")]
        assert len(pages[0].schema_mismatches) == 10
        assert pages[0].schema_mismatches[0][0] == "$.data[0].id"
        assert pages[1].schema_mismatches == []

    async def test_strict_mode_raises_on_the_first_bad_page(self) -> None:
        client = build_client(
            build_spec(self.OPERATION), Recorder(fake_api), response_validation="strict"
        )
        async with client:
            with pytest.raises(ResponseSchemaError, match=r"\$\.data\[0\]\.id"):
                [page async for page in client.iter_pages("pages")]


async def test_credentials_go_with_every_page_and_stay_out_of_page_urls() -> None:
    recorder = Recorder(fake_api)
    auth = {
        "auth_type": "api_key",
        "credential_schema": {"api_key": {"type": "password"}},
        "location": "query",
        "query_param": "key",
    }
    spec = build_spec(OPERATIONS["link"], OPERATIONS["next"], auth=auth)
    async with build_client(spec, recorder, credentials={"api_key": "k-secret-1"}) as client:
        pages = [page async for page in client.iter_pages("link")]
        pages += [page async for page in client.iter_pages("next")]
    assert len(recorder.requests) == 6
    assert all(request.url.params["key"] == "k-secret-1" for request in recorder.requests)
    assert all("k-secret-1" not in page.url for page in pages)
    assert pages[1].url == f"{BASE_URL}/link?page=2&per_page=10&key=[REDACTED]"
