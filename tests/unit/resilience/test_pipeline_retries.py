"""The pipeline's retries, waits and deadline, against a scripted MockTransport upstream."""

from __future__ import annotations

import asyncio
from email.utils import formatdate

import httpx
import pytest
from resilience_support import ScriptedUpstream, policy, sender

from connectory.errors import (
    AttemptInfo,
    ResponseError,
    TransportError,
    UpstreamError,
    UpstreamTimeout,
)
from connectory.resilience import FakeClock, ResilienceEvent, ResiliencePipeline


async def test_success_on_the_first_attempt(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, upstream: ScriptedUpstream
) -> None:
    stats = AttemptInfo(attempts=0)
    response = await pipeline.execute(sender(client), key="c1", policy=policy(), stats=stats)
    assert response.status_code == 200
    assert upstream.count == 1
    assert stats.attempts == 1 and stats.waits == []


@pytest.mark.parametrize(
    ("shape", "waits"),
    [
        ("none", [1.0, 1.0, 1.0]),
        ("linear", [1.0, 2.0, 3.0]),
        ("exponential", [1.0, 2.0, 4.0]),
    ],
)
async def test_503_burst_is_retried_with_the_exact_backoff(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
    shape: str,
    waits: list[float],
) -> None:
    upstream.script(503, 503, 503)
    stats = AttemptInfo(attempts=0)
    response = await pipeline.execute(
        sender(client), key="c1", policy=policy(retry_backoff=shape), stats=stats
    )
    assert response.status_code == 200
    assert upstream.count == 4
    assert stats.waits == waits
    expected_arrivals = [0.0]
    for wait in waits:
        expected_arrivals.append(expected_arrivals[-1] + wait)
    assert upstream.arrivals == expected_arrivals


async def test_jittered_waits_stay_within_the_backoff(
    client: httpx.AsyncClient, upstream: ScriptedUpstream, clock: FakeClock
) -> None:
    draws = iter([0.5, 0.25, 0.75])
    pipeline = ResiliencePipeline(clock=clock, random=lambda: next(draws))
    upstream.script(500, 502, 504)
    stats = AttemptInfo(attempts=0)
    await pipeline.execute(sender(client), key="c", policy=policy(retry_jitter=True), stats=stats)
    assert stats.waits == [0.5, 0.5, 3.0]


async def test_retries_exhausted_raise_upstream_error_with_attempts(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, upstream: ScriptedUpstream
) -> None:
    upstream.default = 503
    with pytest.raises(UpstreamError) as caught:
        await pipeline.execute(sender(client), key="c1", policy=policy(max_retries=2))
    error = caught.value
    assert (error.status_code, error.attempts, error.body, error.retry_after) == (503, 3, "", None)
    assert upstream.count == 3
    assert "503 Service Unavailable" in error.message
    assert "attempt 3 of 3" in error.message
    assert "gave up after 3 attempts" in error.message
    assert "SECRET" not in error.message and "weather" not in error.message


async def test_max_retries_zero_means_one_attempt(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, upstream: ScriptedUpstream
) -> None:
    upstream.default = 500
    with pytest.raises(UpstreamError) as caught:
        await pipeline.execute(sender(client), key="c1", policy=policy(max_retries=0))
    assert caught.value.attempts == 1
    assert upstream.count == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 501])
async def test_other_statuses_are_returned_at_once(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, upstream: ScriptedUpstream, status: int
) -> None:
    upstream.script(status)
    response = await pipeline.execute(sender(client), key="c1", policy=policy())
    assert response.status_code == status
    assert upstream.count == 1


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_every_retryable_status_is_retried(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, upstream: ScriptedUpstream, status: int
) -> None:
    upstream.script(status)
    response = await pipeline.execute(sender(client), key="c1", policy=policy())
    assert response.status_code == 200
    assert upstream.count == 2


async def test_connection_errors_are_retried_then_reported(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, upstream: ScriptedUpstream
) -> None:
    upstream.default = httpx.ConnectError("refused")
    with pytest.raises(TransportError) as caught:
        await pipeline.execute(sender(client), key="c1", policy=policy(max_retries=3))
    assert not isinstance(caught.value, UpstreamTimeout)
    assert caught.value.attempts == 4
    assert upstream.count == 4
    assert "could not be reached" in caught.value.message
    assert "connection failed" in caught.value.message


async def test_read_timeouts_are_retried_for_get(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, upstream: ScriptedUpstream
) -> None:
    upstream.script(httpx.ReadTimeout("slow"), httpx.ReadError("reset"))
    response = await pipeline.execute(sender(client), key="c1", policy=policy())
    assert response.status_code == 200
    assert upstream.count == 3


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize(
    "failure", [503, 429, httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("closed")]
)
async def test_post_is_not_resent_after_it_may_have_arrived(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    method: str,
    failure: int | Exception,
) -> None:
    upstream.script(failure)
    with pytest.raises((UpstreamError, TransportError)) as caught:
        await pipeline.execute(sender(client, method), key="c1", method=method, policy=policy())
    assert upstream.count == 1
    assert caught.value.attempts == 1  # type: ignore[union-attr]
    assert f"{method} is not idempotent" in caught.value.message


async def test_post_is_resent_after_a_connect_error(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, upstream: ScriptedUpstream
) -> None:
    upstream.script(httpx.ConnectError("refused"), httpx.ConnectTimeout("slow connect"))
    response = await pipeline.execute(
        sender(client, "POST"), key="c1", method="POST", policy=policy()
    )
    assert response.status_code == 200
    assert upstream.count == 3


@pytest.mark.parametrize(
    ("idempotent", "has_key"), [(True, False), (False, True)], ids=["declared", "key"]
)
async def test_post_is_resent_when_idempotent_or_keyed(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    idempotent: bool,
    has_key: bool,
) -> None:
    upstream.script(503, httpx.ReadTimeout("slow"))
    response = await pipeline.execute(
        sender(client, "POST"),
        key="c1",
        method="POST",
        idempotent=idempotent,
        has_idempotency_key=has_key,
        policy=policy(),
    )
    assert response.status_code == 200
    assert upstream.count == 3


async def test_retry_after_seconds_overrides_the_backoff(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, upstream: ScriptedUpstream
) -> None:
    upstream.script(httpx.Response(503, headers={"Retry-After": "7"}))
    stats = AttemptInfo(attempts=0)
    await pipeline.execute(sender(client), key="c1", policy=policy(), stats=stats)
    assert stats.waits == [7.0]
    assert upstream.arrivals == [0.0, 7.0]


async def test_retry_after_http_date_overrides_the_backoff(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    date = formatdate(clock.time() + 12, usegmt=True)
    upstream.script(httpx.Response(503, headers={"Retry-After": date}))
    stats = AttemptInfo(attempts=0)
    await pipeline.execute(sender(client), key="c1", policy=policy(), stats=stats)
    assert stats.waits == [pytest.approx(12)]


async def test_retry_after_is_ignored_when_the_policy_says_so(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, upstream: ScriptedUpstream
) -> None:
    upstream.script(httpx.Response(503, headers={"Retry-After": "7"}))
    stats = AttemptInfo(attempts=0)
    await pipeline.execute(
        sender(client), key="c1", policy=policy(respect_retry_after=False), stats=stats
    )
    assert stats.waits == [1.0]


async def test_a_wait_past_the_deadline_fails_at_once_with_retry_after(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    upstream.script(httpx.Response(429, headers={"Retry-After": "120"}))
    with pytest.raises(UpstreamError) as caught:
        await pipeline.execute(sender(client), key="c1", policy=policy(timeout=30))
    error = caught.value
    assert (error.status_code, error.retry_after, error.attempts) == (429, 120.0, 1)
    assert clock.monotonic() == 0  # no waiting for a wait that cannot end in time
    assert "past the call's 30 s deadline" in error.message
    assert "120" not in error.message.split("wait")[0]  # no header value before the explanation


async def test_a_backoff_past_the_deadline_fails_at_once(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    upstream.default = 503
    with pytest.raises(UpstreamError) as caught:
        await pipeline.execute(
            sender(client), key="c1", policy=policy(timeout=10, retry_delay=4, max_retries=5)
        )
    # Waits 4 (t=4), then 8 would end at t=12 > 10: fails at t=4 after 2 attempts.
    assert caught.value.attempts == 2
    assert caught.value.retry_after == 8.0
    assert clock.monotonic() == 4


async def test_the_deadline_cuts_a_hanging_attempt(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    upstream.script(upstream.hang())
    with pytest.raises(UpstreamTimeout) as caught:
        await pipeline.execute(sender(client), key="c1", policy=policy(timeout=30))
    assert clock.monotonic() == 30
    assert caught.value.attempts == 1
    assert "no answer before the deadline" in caught.value.message


async def test_the_deadline_covers_retries_and_waits(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    upstream.script(503, 503, upstream.hang())
    with pytest.raises(UpstreamTimeout) as caught:
        await pipeline.execute(sender(client), key="c1", policy=policy(timeout=10))
    # Attempts at 0 and 1 (wait 1), at 3 (wait 2); the third hangs and is cut at 10.
    assert upstream.arrivals == [0, 1, 3]
    assert clock.monotonic() == 10
    assert caught.value.attempts == 3


async def test_send_gets_the_remaining_time(pipeline: ResiliencePipeline, clock: FakeClock) -> None:
    seen: list[float] = []

    async def send(remaining: float) -> httpx.Response:
        seen.append(remaining)
        return httpx.Response(503 if len(seen) < 3 else 200)

    await pipeline.execute(send, key="c1", policy=policy(timeout=20))
    assert seen == [20, 19, 17]


async def test_decoding_errors_are_response_errors(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, upstream: ScriptedUpstream
) -> None:
    upstream.script(httpx.DecodingError("bad gzip"))
    with pytest.raises(ResponseError, match="could not be decoded"):
        await pipeline.execute(sender(client), key="c1", policy=policy())
    assert upstream.count == 1


async def test_describe_body_fills_the_error_body(
    clock: FakeClock, client: httpx.AsyncClient, upstream: ScriptedUpstream
) -> None:
    async def describe(response: httpx.Response) -> str:
        return (await response.aread()).decode()[:20]

    pipeline = ResiliencePipeline(clock=clock, describe_body=describe)
    upstream.default = 502
    with pytest.raises(UpstreamError) as caught:
        await pipeline.execute(sender(client), key="c1", policy=policy(max_retries=0))
    assert caught.value.body == '{"status":502}'


async def test_the_observer_sees_attempts_and_waits(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient, upstream: ScriptedUpstream
) -> None:
    upstream.script(503, httpx.Response(429, headers={"Retry-After": "1.8"}))
    events: list[ResilienceEvent] = []
    await pipeline.execute(sender(client), key="c1", policy=policy(), observer=events.append)
    assert [str(e) for e in events] == [
        "attempt 1 of 4",
        "attempt 1 failed: 503 Service Unavailable; will retry",
        "waiting 1.0 s (backoff)",
        "attempt 2 of 4",
        "attempt 2 failed: 429 Too Many Requests; will retry",
        "waiting 1.8 s (Retry-After)",
        "attempt 3 of 4",
    ]


async def test_a_broken_observer_does_not_break_the_call(
    pipeline: ResiliencePipeline, client: httpx.AsyncClient
) -> None:
    def broken(event: ResilienceEvent) -> None:
        raise RuntimeError("printer bug")

    response = await pipeline.execute(sender(client), key="c1", policy=policy(), observer=broken)
    assert response.status_code == 200


async def test_foreign_errors_from_send_propagate_untouched(pipeline: ResiliencePipeline) -> None:
    async def send(remaining: float) -> httpx.Response:
        raise KeyError("hook bug")

    with pytest.raises(KeyError):
        await pipeline.execute(send, key="c1", policy=policy())


async def test_a_bare_timeout_error_from_send_counts_as_a_timeout(
    pipeline: ResiliencePipeline,
) -> None:
    async def send(remaining: float) -> httpx.Response:
        raise TimeoutError

    with pytest.raises(UpstreamTimeout) as caught:
        await pipeline.execute(send, key="c1", policy=policy(max_retries=1))
    assert caught.value.attempts == 2


async def test_cancelling_the_caller_cancels_the_attempt(
    pipeline: ResiliencePipeline,
    client: httpx.AsyncClient,
    upstream: ScriptedUpstream,
    clock: FakeClock,
) -> None:
    upstream.script(upstream.hang())
    task = asyncio.create_task(pipeline.execute(sender(client), key="c1", policy=policy()))
    for _ in range(5):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert upstream.count == 1


async def test_a_broken_body_describer_does_not_hide_the_status(
    clock: FakeClock, client: httpx.AsyncClient, upstream: ScriptedUpstream
) -> None:
    async def describe(response: httpx.Response) -> str:
        raise RuntimeError("redactor bug")

    pipeline = ResiliencePipeline(clock=clock, describe_body=describe)
    upstream.default = 503
    with pytest.raises(UpstreamError) as caught:
        await pipeline.execute(sender(client), key="c1", policy=policy(max_retries=0))
    assert caught.value.status_code == 503 and caught.value.body == ""
