"""The recorder interface: tracked calls become entries with attempts, excerpts and errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from connectory.errors import UpstreamError
from connectory.http.redaction import Redactor
from connectory.observability import (
    ConnectionCalls,
    MemoryRecorder,
    ResponseIds,
    Telemetry,
    current_call,
    serving_request,
)
from connectory.observability.calls import _IDS_PER_DRAW, cap_utf8, new_call_id
from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec

from .support import BASE_URL, FakeClock, build_spec

API_KEY = "key-1234567890-secret"
MOMENT = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
API_KEY_AUTH = {
    "auth_type": "api_key",
    "credential_schema": {"api_key": {"type": "password", "required": True}},
    "header_name": "X-API-Key",
}


def telemetry(recorder: MemoryRecorder, clock: FakeClock, **options: Any) -> Telemetry:
    return Telemetry(recorder=recorder, wall_clock=lambda: MOMENT, monotonic=clock, **options)


def api_key_spec(**fields: Any) -> ConnectorSpec:
    return build_spec(
        {
            "name": "get_item",
            "path": "/items/{id}",
            "parameters": [{"name": "id", "location": "path", "type": "integer", "required": True}],
        },
        {
            "name": "create",
            "method": "POST",
            "path": "/items",
            "parameters": [
                {"name": "name", "location": "body", "type": "string", "required": True}
            ],
        },
        auth=API_KEY_AUTH,
        **fields,
    )


def client_for(
    handler: Any,
    recorder: MemoryRecorder,
    clock: FakeClock,
    spec: ConnectorSpec | None = None,
    **options: Any,
) -> ConnectorClient:
    return ConnectorClient(
        spec or api_key_spec(),
        credentials={"api_key": API_KEY},
        transport=httpx.MockTransport(handler),
        clock=clock,
        connection_key="conn-1",
        connector_key="connector-9",
        tenant_key="ent-3",
        telemetry=telemetry(recorder, clock, **options),
    )


async def test_a_tracked_call_is_one_entry_with_its_request_and_reply() -> None:
    recorder, clock = MemoryRecorder(), FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        clock.advance(0.25)
        return httpx.Response(200, json={"id": 7, "echo": request.headers["X-API-Key"]})

    async with client_for(handler, recorder, clock) as client:
        with client.calls.track("operation", "get_item") as call:
            await client.call("get_item", {"id": 7})
    (entry,) = recorder.entries
    assert entry.id == call.id and len(entry.id) == 32
    assert (entry.connection_id, entry.enterprise_id, entry.connector_id) == (
        "conn-1",
        "ent-3",
        "connector-9",
    )
    assert (entry.kind, entry.operation, entry.status, entry.status_code) == (
        "operation",
        "get_item",
        "ok",
        200,
    )
    assert entry.attempts == 1
    assert entry.duration == pytest.approx(0.25)
    assert entry.started_at == MOMENT
    assert entry.request_excerpt is not None and entry.response_excerpt is not None
    assert entry.request_excerpt.startswith(f"GET {BASE_URL}/items/7\n")
    assert "X-API-Key: [REDACTED]" in entry.request_excerpt
    assert entry.response_excerpt.startswith("200\n")
    assert '"echo":"[REDACTED]"' in entry.response_excerpt
    assert API_KEY not in entry.request_excerpt + entry.response_excerpt
    assert entry.error_class is None and entry.parent_id is None


async def test_an_error_status_and_a_raised_error_are_recorded_and_reraised() -> None:
    recorder, clock = MemoryRecorder(), FakeClock()
    spec = api_key_spec(
        resilience={
            "max_retries": 2,
            "retry_delay": 0,
            "rate_limit": None,
            "circuit_breaker_threshold": 100,
        }
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"message": f"down, key was {API_KEY}"})

    async with client_for(handler, recorder, clock, spec) as client:
        with pytest.raises(UpstreamError), client.calls.track("operation", "get_item"):
            await client.call("get_item", {"id": 1})
        with client.calls.track("operation", "get_item"):
            result = await client.call("get_item", {"id": 1}, raise_for_status=False)
    assert result.status_code == 503
    raised, answered = recorder.entries
    assert (raised.status, raised.status_code, raised.attempts) == ("error", 503, 3)
    assert raised.error_class == "UpstreamError"
    assert raised.error_message is not None and API_KEY not in raised.error_message
    assert "[REDACTED]" in raised.error_message
    assert (answered.status, answered.status_code, answered.error_class) == ("error", 503, None)
    assert answered.attempts == 3


async def test_excerpts_are_capped_in_bytes_and_never_cut_a_secret_in_half() -> None:
    recorder, clock = MemoryRecorder(), FakeClock()
    # The key straddles the cap: a cut first would leave its head in the excerpt.
    padding = "é" * 40

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=padding + API_KEY + "x" * 500)

    async with client_for(handler, recorder, clock, excerpt_bytes=120) as client:
        with client.calls.track("operation", "create"):
            await client.call("create", {"name": "n" * 1000})
    (entry,) = recorder.entries
    assert entry.request_excerpt is not None and entry.response_excerpt is not None
    assert len(entry.request_excerpt.encode()) <= 120
    assert len(entry.response_excerpt.encode()) <= 120
    assert API_KEY[:6] not in entry.response_excerpt
    assert "[REDACTED]" in entry.response_excerpt or entry.response_excerpt.endswith("é")


def test_cap_utf8_keeps_whole_characters() -> None:
    assert cap_utf8("ab", 10) == "ab"
    assert cap_utf8("éééé", 5) == "éé"
    assert cap_utf8("x" * 10, 0) == ""


async def test_a_token_request_is_its_own_entry_inside_the_call() -> None:
    recorder, clock = MemoryRecorder(), FakeClock()
    secret = "client-secret-abcdef"

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "tok-123456789", "expires_in": 60})
        return httpx.Response(200, json={"token": request.headers["Authorization"]})

    spec = build_spec(
        {"name": "me", "path": "/me"},
        auth={
            "auth_type": "oauth2",
            "grant_type": "client_credentials",
            "token_url": "https://auth.example.com/token",
            "client_authentication": "body",
            "credential_schema": {
                "client_id": {"required": True},
                "client_secret": {"type": "password", "required": True},
            },
        },
    )
    client = ConnectorClient(
        spec,
        credentials={"client_id": "cid", "client_secret": secret},
        transport=httpx.MockTransport(handler),
        clock=clock,
        connection_key="conn-1",
        telemetry=telemetry(recorder, clock),
    )
    async with client:
        with client.calls.track("operation", "me") as call:
            await client.call("me")
    token, operation = recorder.entries
    assert (token.kind, token.operation, token.parent_id) == ("token_refresh", "oauth2", call.id)
    assert (token.status, token.status_code, token.attempts) == ("ok", 200, 1)
    assert token.request_excerpt is not None and token.response_excerpt is not None
    assert token.request_excerpt.startswith("POST https://auth.example.com/token")
    assert secret not in token.request_excerpt
    assert "tok-123456789" not in token.response_excerpt  # the fetched token is a secret too
    # The operation's own attempts do not include the token request's.
    assert (operation.kind, operation.attempts, operation.parent_id) == ("operation", 1, None)
    assert "tok-123456789" not in (operation.response_excerpt or "")


async def test_record_emits_what_was_measured_elsewhere_and_fills_the_response_ids() -> None:
    recorder = MemoryRecorder()
    calls = ConnectionCalls(
        Telemetry(recorder=recorder, wall_clock=lambda: MOMENT),
        "conn-2",
        connector_id="c",
        enterprise_id="e",
    )
    ids = ResponseIds("req-1")
    with serving_request(ids):
        call_id = calls.record(
            "webhook_intake",
            "order.created",
            status_code=202,
            duration=0.004,
            request="POST /hooks/x\n\n{}",
            response="202",
        )
    (entry,) = recorder.entries
    assert ids.call_id == call_id == entry.id
    assert (entry.kind, entry.operation, entry.status, entry.status_code) == (
        "webhook_intake",
        "order.created",
        "ok",
        202,
    )
    assert entry.request_excerpt == "POST /hooks/x\n\n{}"


def test_a_request_described_for_record_is_redacted_by_name_and_value() -> None:
    recorder = MemoryRecorder()
    calls = ConnectionCalls(
        Telemetry(recorder=recorder, excerpt_bytes=400), "conn-5", redactor=Redactor([API_KEY])
    )
    described = calls.describe_request(
        "POST",
        "/hooks/[REDACTED]?token=abc&page=2",
        {"webhook-signature": "v1,c2lnbmF0dXJl", "content-type": "application/json"},
        b'{"echo": "' + API_KEY.encode() + b'", "name": "kept"}',
    )
    assert described is not None
    assert described.startswith("POST /hooks/[REDACTED]?token=[REDACTED]&page=2\n")
    assert "webhook-signature: [REDACTED]" in described and "c2lnbmF0dXJl" not in described
    assert API_KEY not in described and '"kept"' in described
    # An error known only as text (a failure stored as a string) is redacted as well.
    calls.record("webhook_delivery", "x", error_class="ClientError", error_message=API_KEY)
    (entry,) = recorder.entries
    assert (entry.status, entry.error_class, entry.error_message) == (
        "error",
        "ClientError",
        "[REDACTED]",
    )
    assert ConnectionCalls(None, "conn-6").describe_request("GET", "/", {}, None) is None


def test_nothing_listens_nothing_is_done() -> None:
    calls = ConnectionCalls(None, "conn-3")
    assert not calls.enabled
    with calls.track("operation", "x") as call:
        assert current_call() is None  # an idle track is never made current
    assert call.id == ""
    assert calls.record("poll", "x") is None


def test_a_broken_recorder_never_fails_the_call(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def record(self, entry: object) -> None:
            raise RuntimeError("disk full")

    calls = ConnectionCalls(Telemetry(recorder=Broken()), "conn-4")
    with calls.track("operation", "x"):
        pass
    assert calls.record("poll") is not None
    assert "recording a call of connection conn-4 failed" in caplog.text


async def test_a_stream_takes_the_first_reply_and_counts_every_page() -> None:
    recorder, clock = MemoryRecorder(), FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        items = [{"n": page}] if page <= 3 else []
        return httpx.Response(200, json={"items": items, "page": page})

    spec = build_spec(
        {
            "name": "list",
            "path": "/list",
            "record_selector": "items",
            "pagination": {"type": "page_number", "page_size": 1, "size_param": None},
        },
        auth=API_KEY_AUTH,
    )
    async with client_for(handler, recorder, clock, spec) as client:
        call = client.calls.track("stream", "list", first_reply_only=True).start()
        pages = client.iter_pages("list")
        while True:
            with call.active():
                page = await anext(pages, None)
            if page is None:
                break
        call.finish()
        call.finish()  # twice is harmless
    (entry,) = recorder.entries
    assert entry.attempts == 4
    assert entry.request_excerpt is not None and "page=1" in entry.request_excerpt
    assert entry.response_excerpt is not None and '"page":1' in entry.response_excerpt


def test_call_ids_are_32_hex_digits_and_never_repeat_across_draws() -> None:
    ids = [new_call_id() for _ in range(3 * _IDS_PER_DRAW + 5)]
    assert all(len(one) == 32 and int(one, 16) >= 0 and one == one.lower() for one in ids)
    assert len(set(ids)) == len(ids)
