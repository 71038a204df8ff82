"""The aiohttp-backed transport behaves like httpx's own on a real loopback upstream.

Every check runs on both transports: same statuses, bodies, decoding, redirects and, above
all, the same httpx exceptions for broken connections, so the resilience pipeline classifies
them the same way (and retries the same number of times).
"""

from __future__ import annotations

import gzip
import socket
import sys
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from connectory.errors import ResponseTooLarge, TransportError, UpstreamTimeout
from connectory.http.aiohttp_transport import AiohttpTransport
from connectory.http.transport import AdaptiveTransport, default_transport
from connectory.resilience import ResiliencePipeline
from connectory.resilience.classify import classify_exception
from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec
from connectory.spec.resilience import ResilienceSpec
from connectory.testing.faulty import Close, FaultyUpstream, Hang, Reply, Reset

pytestmark = pytest.mark.integration

POOLED_MODULE = "connectory.http.aiohttp_transport"

TRANSPORTS: dict[str, Callable[[], httpx.AsyncBaseTransport]] = {
    "httpx": httpx.AsyncHTTPTransport,
    "aiohttp": AiohttpTransport,
    # Switches after its first request, so every test crosses from one wire to the other.
    "adaptive": lambda: AdaptiveTransport(upgrade_after=1),
}


@pytest.fixture
def upstream() -> AsyncIterator[FaultyUpstream]:
    with FaultyUpstream() as server:
        yield server  # type: ignore[misc]


@pytest.fixture(params=sorted(TRANSPORTS))
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=TRANSPORTS[request.param]()) as http:
        yield http


async def test_bodies_headers_and_methods_arrive_intact(
    upstream: FaultyUpstream, client: httpx.AsyncClient
) -> None:
    upstream.script("/echo", Reply(201, (("X-Thing", "a"), ("X-Thing", "b")), b'{"id": 7}'))
    response = await client.post(
        upstream.url("/echo?q=a%20b&x=1"), content=b'{"name": "n"}', headers={"X-Key": "k"}
    )
    assert response.status_code == 201
    assert response.json() == {"id": 7}
    assert response.headers.get_list("x-thing") == ["a", "b"]
    [arrival] = upstream.arrivals("/echo")
    assert arrival.method == "POST"
    assert arrival.body == b'{"name": "n"}'
    assert arrival.headers["x-key"] == "k"
    assert arrival.headers["content-length"] == "13"


async def test_the_query_string_is_sent_as_httpx_encoded_it(
    upstream: FaultyUpstream, client: httpx.AsyncClient
) -> None:
    upstream.script("/q", Reply())
    await client.get(upstream.url("/q"), params={"a": "x y/z?&", "b": "é"})
    [arrival] = upstream.arrivals()
    assert arrival.path.startswith("/q")


async def test_gzip_bodies_are_decoded_once(
    upstream: FaultyUpstream, client: httpx.AsyncClient
) -> None:
    body = gzip.compress(b'{"big": "' + b"x" * 10_000 + b'"}')
    upstream.script("/gz", Reply(200, (("Content-Encoding", "gzip"),), body))
    response = await client.get(upstream.url("/gz"))
    assert response.json() == {"big": "x" * 10_000}


async def test_redirects_are_followed_by_httpx(
    upstream: FaultyUpstream, client: httpx.AsyncClient
) -> None:
    upstream.script("/old", Reply(302, (("Location", upstream.url("/new")),), b""))
    upstream.script("/new", Reply(200, (), b'{"moved": true}'))
    response = await client.get(upstream.url("/old"), follow_redirects=True)
    assert response.json() == {"moved": True}
    assert upstream.count("/old") == upstream.count("/new") == 1


@pytest.mark.parametrize("fault", [Reset(), Close()])
async def test_broken_connections_raise_the_same_httpx_errors(
    upstream: FaultyUpstream, client: httpx.AsyncClient, fault: Reset | Close
) -> None:
    upstream.script("/broken", fault)
    with pytest.raises(httpx.TransportError) as caught:
        await client.get(upstream.url("/broken"))
    # Both count as "the connection broke": retryable, sent, a breaker failure.
    outcome = classify_exception(caught.value)
    assert outcome.retryable and outcome.sent and outcome.kind == "transport"
    assert isinstance(caught.value, httpx.ReadError | httpx.RemoteProtocolError)


async def test_a_hang_is_a_read_timeout(
    upstream: FaultyUpstream, client: httpx.AsyncClient
) -> None:
    upstream.script("/hang", Hang())
    with pytest.raises(httpx.ReadTimeout):
        await client.get(upstream.url("/hang"), timeout=0.2)


async def test_a_refused_connection_is_a_connect_error(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(httpx.ConnectError) as caught:
        await client.get(f"http://127.0.0.1:{port}/")
    outcome = classify_exception(caught.value)
    assert outcome.retryable and not outcome.sent


async def test_an_unsupported_scheme_is_refused(client: httpx.AsyncClient) -> None:
    with pytest.raises(httpx.UnsupportedProtocol):
        await client.get("ftp://127.0.0.1/")


def _spec(base_url: str) -> ConnectorSpec:
    return ConnectorSpec.model_validate(
        {
            "name": "T",
            "slug": "t",
            "base_url": base_url,
            "resilience": {"rate_limit": None, "retry_delay": 0.01, "retry_jitter": False},
            "operations": [{"operation": "get", "path": "/thing"}],
        }
    )


async def test_the_runtime_retries_resets_and_closes_over_aiohttp(
    upstream: FaultyUpstream,
) -> None:
    upstream.script("/thing", Reset(), Close(), Reset())
    async with ConnectorClient(_spec(upstream.url()), transport=AiohttpTransport()) as connector:
        result = await connector.call("get")
    assert result.status_code == 200
    assert upstream.count("/thing") == 4


async def test_the_runtime_refuses_oversized_bodies_over_aiohttp(upstream: FaultyUpstream) -> None:
    upstream.script("/thing", Reply(200, (), b'{"x": "' + b"y" * 5000 + b'"}'))
    async with ConnectorClient(
        _spec(upstream.url()), max_response_bytes=1000, transport=AiohttpTransport()
    ) as connector:
        with pytest.raises(ResponseTooLarge):
            await connector.call("get")


async def test_the_runtime_cuts_a_hang_at_the_deadline_over_aiohttp(
    upstream: FaultyUpstream,
) -> None:
    upstream.script("/thing", Hang(), Hang())
    async with ConnectorClient(
        _spec(upstream.url()),
        resilience={"timeout": 0.3, "max_retries": 0},
        transport=AiohttpTransport(),
    ) as connector:
        with pytest.raises(UpstreamTimeout):
            await connector.call("get")


async def test_an_unreachable_upstream_is_a_transport_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with ConnectorClient(
        _spec(f"http://127.0.0.1:{port}"),
        resilience={"max_retries": 1},
        transport=AiohttpTransport(),
    ) as connector:
        with pytest.raises(TransportError):
            await connector.call("get")


def test_a_proxy_in_the_environment_keeps_httpx_own_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    assert isinstance(default_transport(), AdaptiveTransport)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert default_transport() is None


async def test_a_client_moves_to_aiohttp_once_it_has_made_enough_requests(
    upstream: FaultyUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in a fresh process: aiohttp not loaded yet (this module imported it for other tests).
    monkeypatch.delitem(sys.modules, POOLED_MODULE)
    transport = AdaptiveTransport(upgrade_after=3)
    async with ConnectorClient(_spec(upstream.url()), transport=transport) as connector:
        for _ in range(3):
            assert (await connector.call("get")).status_code == 200
        assert not transport.upgraded  # a short-lived client never imports aiohttp
        assert POOLED_MODULE not in sys.modules
        for _ in range(3):
            assert (await connector.call("get")).status_code == 200
        assert transport.upgraded
    assert upstream.count("/thing") == 6
    # The import is paid now: the next client uses aiohttp from its first request.
    second = AdaptiveTransport(upgrade_after=3)
    async with ConnectorClient(_spec(upstream.url()), transport=second) as connector:
        assert (await connector.call("get")).status_code == 200
        assert second.upgraded


async def test_a_client_of_large_responses_stays_on_the_light_transport(
    upstream: FaultyUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, POOLED_MODULE)
    body = b'{"x": "' + b"y" * 5000 + b'"}'
    upstream.script("/thing", *[Reply(200, (), body) for _ in range(6)])
    transport = AdaptiveTransport(upgrade_after=3, large_responses=1000)
    async with ConnectorClient(_spec(upstream.url()), transport=transport) as connector:
        for _ in range(6):
            assert (await connector.call("get")).body == {"x": "y" * 5000}
        # The body's own cost dominates: the saving per request would not repay aiohttp.
        assert not transport.upgraded
    assert POOLED_MODULE not in sys.modules


async def test_the_pipeline_sees_the_same_attempts_on_both(upstream: FaultyUpstream) -> None:
    counts = {}
    for name, factory in TRANSPORTS.items():
        upstream.clear()
        upstream.script("/flaky", Reset(), Close())
        async with httpx.AsyncClient(transport=factory()) as http:

            async def send(remaining: float, http: httpx.AsyncClient = http) -> httpx.Response:
                return await http.get(upstream.url("/flaky"), timeout=remaining)

            response = await ResiliencePipeline().execute(
                send,
                key=name,
                policy=ResilienceSpec(rate_limit=None, retry_delay=0.01, retry_jitter=False),
            )
        assert response.status_code == 200
        counts[name] = upstream.count("/flaky")
    assert counts == {"httpx": 3, "aiohttp": 3, "adaptive": 3}
