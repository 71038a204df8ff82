"""Excerpts made when the entry is read (the writer's batch) are those made at the call's end."""

from __future__ import annotations

import copy
import dataclasses
import pickle

from multidict import CIMultiDict, CIMultiDictProxy

from connectory.http.aiohttp_wire import WireHeaders
from connectory.http.redaction import Redactor
from connectory.observability import CallEntry, ConnectionCalls, MemoryRecorder, Telemetry
from connectory.observability.calls import make_excerpts

SECRET = "sk-live-0123456789abcdef"
REQUEST_HEADERS = {"Accept": "application/json", "Authorization": f"Bearer {SECRET}"}
REPLY_HEADERS = {"content-type": "application/json", "set-cookie": "session=abc"}


def tracked(calls: ConnectionCalls, body: bytes, *, secret_reply: bool = False) -> None:
    with calls.track("operation", "get_item", secret_reply=secret_reply) as call:
        call.note_request("GET", f"https://api.example/items/7?key={SECRET}", REQUEST_HEADERS, None)
        call.note_reply(200, REPLY_HEADERS, body, 1)


def calls_for(recorder: MemoryRecorder, excerpt_bytes: int = 2048) -> ConnectionCalls:
    telemetry = Telemetry(recorder=recorder, excerpt_bytes=excerpt_bytes)
    return ConnectionCalls(telemetry, "conn-1", redactor=Redactor([SECRET]))


def test_a_deferred_entry_gives_the_excerpts_an_eager_one_would() -> None:
    recorder = MemoryRecorder()
    calls = calls_for(recorder)
    body = b'{"id": 7, "echo": "' + SECRET.encode() + b'"}'
    tracked(calls, body)
    entry = recorder.entries[0]
    # Literal text, not describe_request's: both would share a redaction regression.
    assert entry.request_excerpt == (
        "GET https://api.example/items/7?key=[REDACTED]\n"
        "Accept: application/json\nAuthorization: [REDACTED]"
    )
    assert entry.response_excerpt == (
        "200\ncontent-type: application/json\nset-cookie: [REDACTED]\n\n"
        '{"id":7,"echo":"[REDACTED]"}'
    )
    assert SECRET not in repr(entry)


def test_a_body_larger_than_an_excerpt_is_described_at_once_and_not_kept() -> None:
    recorder = MemoryRecorder()
    calls = calls_for(recorder, excerpt_bytes=64)
    tracked(calls, b'{"items": "' + b"x" * 500 + b'"}')
    entry = recorder.entries[0]
    assert type(entry) is CallEntry  # eager: no body waits for the writer
    assert entry.response_excerpt is not None and len(entry.response_excerpt.encode()) <= 64
    assert entry.response_excerpt.startswith("200\ncontent-type: application/json")


def test_a_secret_reply_body_stays_out_and_headers_are_taken_at_the_call() -> None:
    recorder = MemoryRecorder()
    calls = calls_for(recorder)
    headers = dict(REPLY_HEADERS)
    with calls.track("token_refresh", "oauth2", secret_reply=True) as call:
        call.note_reply(200, headers, b'{"access_token": "new-token-value"}', 1)
    headers["x-later"] = "changed after the call"
    entry = recorder.entries[0]
    assert entry.response_excerpt is not None
    assert "new-token-value" not in entry.response_excerpt
    assert "(body left out: it holds secrets)" in entry.response_excerpt
    assert "x-later" not in entry.response_excerpt


def test_a_secret_learnt_before_the_write_is_redacted_too() -> None:
    recorder = MemoryRecorder()
    calls = calls_for(recorder)
    tracked(calls, b'{"token": "fresh-token-98765"}')
    calls.redactor.add("fresh-token-98765")  # a token fetched before the batch is written
    entry = recorder.entries[0]
    assert entry.response_excerpt is not None
    assert "fresh-token-98765" not in entry.response_excerpt


def test_a_failing_excerpt_keeps_the_entry() -> None:
    recorder = MemoryRecorder()
    calls = calls_for(recorder)
    tracked(calls, b"{}")

    def broken(*args: object) -> str:
        raise RuntimeError("broken")

    calls.redactor.redact_url = broken  # type: ignore[method-assign]
    entry = recorder.entries[0]
    assert (entry.request_excerpt, entry.response_excerpt) == (None, None)
    assert entry.status == "ok" and entry.operation == "get_item"


def test_a_batch_reuses_header_lines_only_for_the_same_redactor() -> None:
    recorder = MemoryRecorder()
    knows = calls_for(recorder)
    other = ConnectionCalls(Telemetry(recorder=recorder), "conn-2", redactor=Redactor())
    headers = {"Accept": "application/json", "X-Echo": SECRET}
    for calls in (knows, other, knows):
        with calls.track("operation", "get_item") as call:
            call.note_request("GET", "https://api.example/items", headers, None)
    make_excerpts(recorder.entries)
    first, second, third = (entry.request_excerpt for entry in recorder.entries)
    assert (
        first
        == third
        == "GET https://api.example/items\nAccept: application/json\nX-Echo: [REDACTED]"
    )
    assert second == f"GET https://api.example/items\nAccept: application/json\nX-Echo: {SECRET}"


def test_a_deferred_entry_can_be_replaced_copied_and_pickled_like_any_entry() -> None:
    recorder = MemoryRecorder()
    tracked(calls_for(recorder), b'{"id": 7, "echo": "' + SECRET.encode() + b'"}')
    entry = recorder.entries[0]
    assert type(entry) is not CallEntry  # deferred: its excerpts are not made yet
    failed = dataclasses.replace(entry, status="error", error_class="UpstreamError")
    assert (failed.status, failed.error_class, entry.status) == ("error", "UpstreamError", "ok")
    assert failed.request_excerpt == entry.request_excerpt
    assert failed.response_excerpt == entry.response_excerpt
    assert failed.response_excerpt is not None and SECRET not in failed.response_excerpt
    # A copy made before the excerpts were read makes them from the same call.
    unread = calls_for(MemoryRecorder())
    tracked(unread, b'{"id": 8}')
    (fresh,) = unread.telemetry.recorder.entries  # type: ignore[union-attr]
    for duplicate in (copy.copy(fresh), copy.deepcopy(fresh), pickle.loads(pickle.dumps(fresh))):
        assert duplicate == fresh
        assert duplicate.response_excerpt is not None
        assert duplicate.response_excerpt.endswith('{"id": 8}')
    edited = dataclasses.replace(fresh, request_excerpt="GET elsewhere")
    assert edited.request_excerpt == "GET elsewhere"
    assert edited.response_excerpt == fresh.response_excerpt


def test_wire_headers_are_read_at_the_excerpt_as_they_were_received() -> None:
    raw = (
        (b"Content-Type", b"application/json"),
        (b"Set-Cookie", b"session=abc"),
        (b"X-Echo", SECRET.encode()),
        (b"X-Echo", b"again"),
    )
    received = WireHeaders(
        raw, CIMultiDictProxy(CIMultiDict((k.decode(), v.decode()) for k, v in raw))
    )
    recorder = MemoryRecorder()
    calls = calls_for(recorder)
    with calls.track("operation", "get_item") as call:
        call.note_reply(200, received, b'{"id": 7}', 1)
    received["x-later"] = "changed after the call"  # the wire's headers, changed later
    entry = recorder.entries[0]
    assert entry.response_excerpt == (
        "200\ncontent-type: application/json\nset-cookie: [REDACTED]\n"
        'x-echo: [REDACTED], again\n\n{"id": 7}'
    )


def test_an_excerpt_made_by_another_thread_between_a_miss_and_its_check_is_read() -> None:
    """A read that missed the empty slot, then finds the work done by another thread (slots
    filled, nothing pending), answers the excerpt instead of raising AttributeError."""
    recorder = MemoryRecorder()
    tracked(calls_for(recorder), b'{"id": 7}')
    entry = recorder.entries[0]
    entry._resolve()  # type: ignore[attr-defined]  # what the other thread did
    assert entry.__getattr__("request_excerpt").startswith("GET https://api.example/items/7")
