"""Secrets never reach log lines, error messages or results (end to end through the client)."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from connectory.errors import ConnectoryError
from connectory.http.redaction import RedactingLogFilter
from connectory.runtime import OperationResult

from .support import Recorder, build_client, build_spec

SECRET = "sk-live-7f3a9c21e0b4"

OPERATIONS = [
    {
        "name": "ok",
        "path": "/ok",
        "response_schema": {"type": "object", "properties": {"echo": {"type": "integer"}}},
    },
    {"name": "unauthorized", "path": "/401"},
    {"name": "server_error", "path": "/500"},
    {"name": "unprocessable", "path": "/422"},
    {"name": "broken_json", "path": "/broken"},
    {"name": "unreachable", "path": "/down"},
    {
        "name": "paged",
        "path": "/paged",
        "record_selector": "data",
        "pagination": {"type": "next_url"},
    },
]


def echoing_api(request: httpx.Request) -> httpx.Response:
    """An API that echoes what it got (including the key) in every answer, as some do."""
    seen = f"{request.url} {request.headers.get('X-Api-Key', '')}"
    path = request.url.path
    if path.endswith("/ok"):
        return httpx.Response(
            200, json={"echo": seen}, headers={"X-Echo": seen, "Set-Cookie": f"s={SECRET}"}
        )
    if path.endswith("/401"):
        return httpx.Response(401, json={"error": f"invalid key {SECRET}"})
    if path.endswith("/500"):
        return httpx.Response(500, text=f"Traceback: request {seen} failed")
    if path.endswith("/422"):
        return httpx.Response(422, text=f"cannot process {seen}", headers={"X-Echo": seen})
    if path.endswith("/broken"):
        return httpx.Response(
            200,
            content=f'{{"key": "{SECRET}", '.encode(),
            headers={"Content-Type": "application/json"},
        )
    if path.endswith("/paged"):
        return httpx.Response(
            200, json={"data": [1], "next": f"https://elsewhere.example/?k={SECRET}"}
        )
    raise httpx.ConnectError(f"connection to {request.url} refused", request=request)


def _spec(location: str) -> Any:
    auth: dict[str, Any] = {
        "auth_type": "api_key",
        "credential_schema": {"api_key": {"type": "password", "required": True}},
        "location": location,
    }
    if location == "query":
        auth["query_param"] = "appid"  # not a conventionally sensitive name
    else:
        auth["header_name"] = "X-Api-Key"
        auth["key_prefix"] = "Token "
    return build_spec(*OPERATIONS, auth=auth)


def _leaks(text: str) -> bool:
    forms = {SECRET, quote(SECRET, safe=""), base64.b64encode(SECRET.encode()).decode().rstrip("=")}
    return any(form in text for form in forms)


@pytest.mark.parametrize("location", ["query", "header"])
async def test_secret_appears_in_no_log_record_error_or_result(
    location: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = Recorder(echoing_api)
    results: list[OperationResult] = []
    errors: list[ConnectoryError] = []
    async with build_client(_spec(location), recorder, credentials={"api_key": SECRET}) as client:
        results.append(await client.call("ok"))
        results.append(await client.call("unprocessable", raise_for_status=False))
        for name in ("unauthorized", "server_error", "unprocessable", "broken_json", "unreachable"):
            with pytest.raises(ConnectoryError) as caught:
                await client.call(name)
            errors.append(caught.value)
        with pytest.raises(ConnectoryError) as caught:
            [page async for page in client.iter_pages("paged")]
        errors.append(caught.value)

    # The key really was sent, so the checks below are meaningful.
    sent = recorder.requests[0]
    assert SECRET in str(sent.url) or sent.headers["X-Api-Key"] == f"Token {SECRET}"
    assert results[0].body["echo"].count(SECRET) == 1  # the body is the caller's data

    assert len(errors) == 6
    for error in errors:
        assert not _leaks(str(error)), error
        assert not _leaks(repr(error.args)), error
        assert not _leaks(str(getattr(error, "body", ""))), error
    for result in results:
        assert result.request is not None
        assert not _leaks(result.request.url)
        assert not _leaks(str(result.request.headers))
        assert not _leaks(str(result.headers))
        assert not _leaks(str(result.to_dict()["request"]))
    assert results[0].schema_mismatches
    assert not _leaks(str(results[0].schema_mismatches))

    assert caplog.records, "the client logs its requests at DEBUG"
    for record in caplog.records:
        assert not _leaks(record.getMessage()), (record.name, record.getMessage())


async def test_query_key_is_shown_redacted_in_the_sent_request() -> None:
    async with build_client(
        _spec("query"), Recorder(echoing_api), credentials={"api_key": SECRET}
    ) as client:
        result = await client.call("ok")
    assert result.request is not None
    assert result.request.url.endswith("/ok?appid=[REDACTED]")


async def test_header_key_is_shown_redacted_in_the_sent_request() -> None:
    async with build_client(
        _spec("header"), Recorder(echoing_api), credentials={"api_key": SECRET}
    ) as client:
        result = await client.call("ok")
    assert result.request is not None
    assert result.request.headers["X-Api-Key"] == "[REDACTED]"
    assert result.headers["set-cookie"] == "[REDACTED]"
    assert result.headers["x-echo"].count("[REDACTED]") == 1


async def test_sensitive_connector_parameters_are_redacted_too() -> None:
    spec = build_spec(
        {"name": "ok", "path": "/ok"},
        parameters={"signing_key": {"type": "password"}},
        headers={"X-Sign": "{{ connector_parameters.signing_key }}"},
    )
    async with build_client(
        spec, Recorder(echoing_api), connector_parameters={"signing_key": SECRET}
    ) as client:
        result = await client.call("ok")
    assert result.request is not None
    assert result.request.headers["X-Sign"] == "[REDACTED]"


async def test_request_body_is_redacted_in_the_sent_request() -> None:
    spec = build_spec(
        {
            "name": "post",
            "method": "POST",
            "path": "/ok",
            "parameters": [{"name": "note", "location": "body"}],
        },
        auth={"auth_type": "bearer", "credential_schema": {"token": {"sensitive": True}}},
    )
    async with build_client(spec, Recorder(echoing_api), credentials={"token": SECRET}) as client:
        result = await client.call("post", {"note": f"my token is {SECRET}"})
    assert result.request is not None
    assert result.request.body == '{"note":"my token is [REDACTED]"}'


async def test_one_log_filter_serves_every_client() -> None:
    httpx_logger = logging.getLogger("httpx")
    clients = [
        build_client(_spec("query"), Recorder(echoing_api), credentials={"api_key": SECRET})
        for _ in range(50)
    ]
    redacting = [f for f in httpx_logger.filters if isinstance(f, RedactingLogFilter)]
    assert len(redacting) == 1  # not one per client: a server holds thousands
    for client in clients:
        await client.aclose()


async def test_concurrent_clients_each_redact_their_own_secret_in_httpx_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    other_secret = "another-connection-key-42"
    first = build_client(_spec("query"), Recorder(echoing_api), credentials={"api_key": SECRET})
    second = build_client(
        _spec("query"), Recorder(echoing_api), credentials={"api_key": other_secret}
    )
    async with first, second:
        await asyncio.gather(*(c.call("ok") for _ in range(10) for c in (first, second)))
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert len(lines) == 20  # httpx logged every request, so the check below means something
    for line in lines:
        assert not _leaks(line) and other_secret not in line, line
        assert "[REDACTED]" in line


async def test_a_redirect_to_another_host_does_not_carry_the_api_key() -> None:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "api.example.com":
            return httpx.Response(302, headers={"Location": "https://files.example.net/x"})
        return httpx.Response(200, json={"ok": True})

    async with build_client(_spec("header"), respond, credentials={"api_key": SECRET}) as client:
        result = await client.call("ok")
    assert result.body == {"ok": True}
    assert seen[0].headers["X-Api-Key"] == f"Token {SECRET}"
    assert "X-Api-Key" not in seen[1].headers


async def test_a_secret_cut_by_the_error_snippet_limit_is_still_hidden() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="x" * 495 + SECRET + " trailing")

    async with build_client(_spec("header"), respond, credentials={"api_key": SECRET}) as client:
        with pytest.raises(ConnectoryError) as caught:
            await client.call("ok")
    assert SECRET[:5] not in str(caught.value)
    assert SECRET[:5] not in str(getattr(caught.value, "body", ""))


async def test_a_secret_cut_by_the_request_body_limit_is_still_hidden() -> None:
    spec = build_spec(
        {
            "name": "post",
            "method": "POST",
            "path": "/ok",
            "parameters": [{"name": "note", "location": "body"}],
        },
        auth={"auth_type": "bearer", "credential_schema": {"token": {"sensitive": True}}},
    )
    note = "y" * (2000 - len('{"note":"') - 5) + SECRET
    async with build_client(spec, Recorder(echoing_api), credentials={"token": SECRET}) as client:
        result = await client.call("post", {"note": note})
    assert result.request is not None
    assert result.request.body is not None
    assert SECRET[:5] not in result.request.body
