"""The egress guard on every delivery: taken at the send, or once per endpoint per batch."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp

from connectory.http.egress import EgressPolicy
from connectory.services.events.deliveries import Prepared, _refusal_of, send_prepared
from connectory.settings import Settings

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class _Context:
    """What send_prepared reads: settings, the clock, the egress policy, the HTTP session."""

    def __init__(self, http: aiohttp.ClientSession, egress: EgressPolicy) -> None:
        self.settings = Settings()
        self.http = http
        self.egress = egress

    def now(self) -> datetime:
        return NOW


def _prepared(url: str, **changes: object) -> Prepared:
    return Prepared("d1", url, "e1", b"{}", ["whsec_" + "A" * 32], **changes)  # type: ignore[arg-type]


async def test_an_internal_ip_literal_is_refused_whether_checked_at_the_send_or_per_batch() -> None:
    url = "http://127.0.0.1:9/hook"
    async with aiohttp.ClientSession() as http:
        context = _Context(http, EgressPolicy())
        refusal = _refusal_of(context, url)  # type: ignore[arg-type]
        assert refusal is not None
        at_send = await send_prepared(context, _prepared(url))  # type: ignore[arg-type]
        per_batch = await send_prepared(context, _prepared(url, refusal=refusal))  # type: ignore[arg-type]
    for outcome in (at_send, per_batch):
        assert not outcome.ok and outcome.status_code is None
        assert outcome.error.startswith("EgressDenied: refusing to connect to 127.0.0.1")
    assert at_send.error == per_batch.error


def test_an_allowed_or_named_destination_has_no_refusal() -> None:
    allowed = _Context(None, EgressPolicy.allowing(["127.0.0.1"]))  # type: ignore[arg-type]
    assert _refusal_of(allowed, "http://127.0.0.1:9/hook") is None  # type: ignore[arg-type]
    guarded = _Context(None, EgressPolicy())  # type: ignore[arg-type]
    # A name is the resolver's to check, on every connection.
    assert _refusal_of(guarded, "https://hooks.example.com/x") is None  # type: ignore[arg-type]


async def test_an_unparseable_url_is_a_failed_try_whether_checked_at_the_send_or_per_batch() -> (
    None
):
    url = "http://example.com:99999/hook"  # yarl: port out of range
    async with aiohttp.ClientSession() as http:
        context = _Context(http, EgressPolicy())
        refusal = _refusal_of(context, url)  # type: ignore[arg-type]
        assert refusal is not None
        at_send = await send_prepared(context, _prepared(url))  # type: ignore[arg-type]
        per_batch = await send_prepared(context, _prepared(url, refusal=refusal))  # type: ignore[arg-type]
        unchecked_by_aiohttp = await send_prepared(context, _prepared(url, refusal=None))  # type: ignore[arg-type]
    for outcome in (at_send, per_batch):
        assert not outcome.ok and outcome.status_code is None
        assert outcome.error.startswith("InvalidURL: the endpoint URL is not valid")
    assert not unchecked_by_aiohttp.ok and unchecked_by_aiohttp.status_code is None
