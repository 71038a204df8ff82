"""The egress guard on every delivery: taken at the send, or once per endpoint per batch."""

from __future__ import annotations

from dataclasses import replace

from connectory.http.egress import EgressPolicy
from connectory.services.events.deliveries import Prepared, _refusal_of, send_prepared
from testkit.events_context import events_context

PREPARED = Prepared("d1", "http://127.0.0.1:9/hook", "e1", b"{}", ["whsec_" + "A" * 32])


async def test_an_internal_ip_literal_is_refused_whether_checked_at_the_send_or_per_batch() -> None:
    url = "http://127.0.0.1:9/hook"
    async with events_context(egress=EgressPolicy()) as context:
        refusal = _refusal_of(context, url)
        assert refusal is not None
        at_send = await send_prepared(context, replace(PREPARED, url=url))
        per_batch = await send_prepared(context, replace(PREPARED, url=url, refusal=refusal))
    for outcome in (at_send, per_batch):
        assert not outcome.ok and outcome.status_code is None
        assert outcome.error.startswith("EgressDenied: refusing to connect to 127.0.0.1")
    assert at_send.error == per_batch.error


async def test_an_allowed_or_named_destination_has_no_refusal() -> None:
    async with events_context(egress=EgressPolicy.allowing(["127.0.0.1"])) as allowed:
        assert _refusal_of(allowed, "http://127.0.0.1:9/hook") is None
    async with events_context(egress=EgressPolicy()) as guarded:
        # A name is the resolver's to check, on every connection.
        assert _refusal_of(guarded, "https://hooks.example.com/x") is None


async def test_an_unparseable_url_is_a_failed_try_whether_checked_at_the_send_or_per_batch() -> (
    None
):
    url = "http://example.com:99999/hook"  # yarl: port out of range
    async with events_context(egress=EgressPolicy()) as context:
        refusal = _refusal_of(context, url)
        assert refusal is not None
        at_send = await send_prepared(context, replace(PREPARED, url=url))
        per_batch = await send_prepared(context, replace(PREPARED, url=url, refusal=refusal))
        unchecked_by_aiohttp = await send_prepared(
            context, replace(PREPARED, url=url, refusal=None)
        )
    for outcome in (at_send, per_batch):
        assert not outcome.ok and outcome.status_code is None
        assert outcome.error.startswith("InvalidURL: the endpoint URL is not valid")
    assert not unchecked_by_aiohttp.ok and unchecked_by_aiohttp.status_code is None
