"""Which received webhooks of a batch are stored together (the rest are handled one by one)."""

from __future__ import annotations

from connectory.services.events.intake_handling import _store_together
from connectory.store.event_models import IntakeRequest


def _request(request_id: str, subscription_id: str | None) -> IntakeRequest:
    return IntakeRequest(id=request_id, subscription_id=subscription_id)


async def test_requests_received_after_a_global_webhook_are_left_to_the_loop() -> None:
    # Subscriptions that are gone: a request taken together is counted as handled (0 events)
    # without the database; one left out is not in the result (handled in receipt order).
    requests = [
        _request("before", "sub-1"),
        _request("global", None),
        _request("after", "sub-1"),
        _request("other", "sub-2"),
    ]
    together = await _store_together(
        None,  # type: ignore[arg-type]  # nothing is read: no subscription is found
        None,  # type: ignore[arg-type]
        requests,
        {},
        {},
        {},
    )
    assert together == {"before": 0}


async def test_a_batch_without_global_webhooks_is_taken_whole() -> None:
    requests = [_request("one", "sub-1"), _request("two", "sub-2")]
    together = await _store_together(None, None, requests, {}, {}, {})  # type: ignore[arg-type]
    assert together == {"one": 0, "two": 0}
