"""The fault-injecting upstream itself: scripts, defaults, records and each kind of fault."""

from __future__ import annotations

import httpx
import pytest

from connectory.testing.faulty import (
    Close,
    FaultyUpstream,
    Hang,
    Reply,
    Reset,
    burst,
    too_many_requests,
)

pytestmark = pytest.mark.integration


def test_scripts_play_in_order_then_fall_back(upstream: FaultyUpstream) -> None:
    upstream.script("/a", *burst(503, 2), too_many_requests("3"), then=Reply(204, body=b""))
    with httpx.Client() as client:
        statuses = [client.get(upstream.url("/a?q=1")).status_code for _ in range(5)]
        other = client.post(upstream.url("/b"), json={"x": 1})
    assert statuses == [503, 503, 429, 204, 204]
    assert other.status_code == 200 and other.json() == {"ok": True}
    assert upstream.count("/a") == 5 and upstream.count() == 6
    arrival = upstream.arrivals("/b")[0]
    assert arrival.method == "POST" and arrival.body == b'{"x":1}'
    assert upstream.times("/a") == sorted(upstream.times("/a"))
    upstream.clear()
    assert upstream.count() == 0


def test_retry_after_and_custom_headers_are_sent(upstream: FaultyUpstream) -> None:
    upstream.script("/h", too_many_requests("7", ("X-RateLimit-Remaining", "0")))
    response = httpx.get(upstream.url("/h"))
    assert response.headers["Retry-After"] == "7"
    assert response.headers["X-RateLimit-Remaining"] == "0"


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Reset(), httpx.ReadError),
        (Close(), httpx.RemoteProtocolError),
        (Hang(), httpx.ReadTimeout),
    ],
)
def test_each_fault_surfaces_as_the_matching_httpx_error(
    upstream: FaultyUpstream, fault: Reset | Close | Hang, error: type[Exception]
) -> None:
    upstream.script("/f", fault)
    with pytest.raises(error):
        httpx.get(upstream.url("/f"), timeout=0.3)
    assert upstream.count("/f") == 1


def test_delayed_replies_arrive_late(upstream: FaultyUpstream) -> None:
    upstream.script("/slow", Reply(delay=0.2))
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(upstream.url("/slow"), timeout=0.05)
    assert httpx.get(upstream.url("/slow"), timeout=1).status_code == 200
