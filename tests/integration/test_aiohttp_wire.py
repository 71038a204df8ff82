"""The runtime's aiohttp wire does what httpx's client did, on real loopback upstreams.

Every behaviour test runs the connector client on both wires (httpx's transport, and aiohttp
driven directly by the runtime) and expects the same outcome: redirects and their credential
rules, decoding within the size limit, cookies, the errors and their messages, the egress
guard and trace propagation.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from connectory.errors import (
    ConnectoryError,
    EgressDenied,
    InputError,
    InvalidURL,
    ResponseError,
    ResponseTooLarge,
    TransportError,
    UpstreamTimeout,
)
from connectory.http import transport as transport_module
from connectory.http.aiohttp_transport import AiohttpTransport
from connectory.http.aiohttp_wire import AiohttpWire, WireHeaders
from connectory.http.egress import EgressPolicy
from connectory.http.egress_aiohttp import GuardedAiohttpTransport
from connectory.http.redaction import Redactor
from connectory.http.transport import AdaptiveTransport
from connectory.http.wire import AdaptiveWire, HttpxWire, create_wire
from connectory.observability import Telemetry
from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec
from connectory.testing import serve
from connectory.testing.faulty import Close, FaultyUpstream, Hang, Reply, Reset
from testkit.spans import MemorySpans

pytestmark = pytest.mark.integration

WIRES: dict[str, Callable[[], httpx.AsyncBaseTransport]] = {
    "httpx": httpx.AsyncHTTPTransport,
    "aiohttp": AiohttpTransport,
}

KEY = "secret-key-123456"


@pytest.fixture
def upstream() -> Iterator[FaultyUpstream]:
    with FaultyUpstream() as server:
        yield server


@pytest.fixture
def other() -> Iterator[FaultyUpstream]:
    """A second upstream: another origin (another port)."""
    with FaultyUpstream() as server:
        yield server


@pytest.fixture(params=sorted(WIRES))
def wire(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _spec(base_url: str, **fields: Any) -> ConnectorSpec:
    return ConnectorSpec.model_validate(
        {
            "name": "T",
            "slug": "t",
            "base_url": base_url,
            "auth": {
                "auth_type": "api_key",
                "location": "header",
                "header_name": "X-Api-Key",
                "credential_schema": {"api_key": {"type": "password", "required": True}},
            },
            "resilience": {"rate_limit": None, "retry_delay": 0.01, "retry_jitter": False},
            "operations": [
                {"operation": "get", "path": "/thing"},
                {
                    "operation": "post",
                    "method": "POST",
                    "path": "/thing",
                    "parameters": [
                        {"name": "a", "location": "body", "type": "integer", "default": 1}
                    ],
                },
            ],
            **fields,
        }
    )


def _client(wire: str, base_url: str, **options: Any) -> ConnectorClient:
    spec_fields = options.pop("spec_fields", {})
    return ConnectorClient(
        _spec(base_url, **spec_fields),
        credentials={"api_key": KEY},
        transport=options.pop("transport", None) or WIRES[wire](),
        **options,
    )


async def _outcome(client: ConnectorClient, operation: str = "get") -> Any:
    """The result's body, or the error's type and message."""
    async with client:
        try:
            return (await client.call(operation)).body
        except ConnectoryError as error:
            return type(error).__name__, str(error)


def test_the_client_picks_the_wire_its_transport_calls_for() -> None:
    redactor = Redactor([])
    assert isinstance(create_wire(AiohttpTransport(), redactor, 10, float), AiohttpWire)
    guarded = GuardedAiohttpTransport(EgressPolicy())
    assert isinstance(create_wire(guarded, redactor, 10, float), AiohttpWire)
    assert isinstance(create_wire(AdaptiveTransport(), redactor, 10, float), AdaptiveWire)
    mock = httpx.MockTransport(lambda request: httpx.Response(200))
    assert isinstance(create_wire(mock, redactor, 10, float), HttpxWire)
    assert isinstance(create_wire(None, redactor, 10, float), HttpxWire)  # a proxy: httpx


async def test_a_call_sends_what_httpx_sent(upstream: FaultyUpstream, wire: str) -> None:
    upstream.script("/thing", Reply(200, (("X-Thing", "a"), ("X-Thing", "b")), b'{"id": 7}'))
    async with _client(wire, upstream.url()) as client:
        result = await client.call("post")
    assert result.body == {"id": 7}
    [arrival] = upstream.arrivals("/thing")
    assert arrival.method == "POST"
    assert arrival.headers["x-api-key"] == KEY
    assert arrival.headers["user-agent"] == "connectory/0.1"
    assert arrival.headers["accept"] == "application/json"
    assert arrival.headers["accept-encoding"] == "gzip, deflate"
    assert arrival.headers["content-type"] == "application/json"
    assert arrival.body == b'{"a":1}'


async def test_reply_headers_are_httpx_headers_on_both(upstream: FaultyUpstream, wire: str) -> None:
    upstream.script("/thing", Reply(200, (("X-Thing", "a"), ("X-Thing", "b")), b"{}"))
    async with _client(wire, upstream.url()) as client:
        prepared = client._plan("get").prepare({}, client._variables, client._headers)[0]
        reply, _ = await client._send_authenticated(prepared, client._plan("get"))
    assert isinstance(reply.headers, httpx.Headers)
    assert reply.headers["x-thing"] == "a, b"
    assert reply.headers.get_list("X-THING") == ["a", "b"]
    assert ("x-thing", "b") in reply.headers.multi_items()
    assert reply.headers.get("missing", "none") == "none"
    assert "content-length" in reply.headers


def test_wire_headers_behave_as_httpx_headers_after_changes() -> None:
    from multidict import CIMultiDict, CIMultiDictProxy

    raw = [(b"Content-Type", b"application/json"), (b"Link", b"<a>"), (b"Link", b"<b>")]
    parsed = CIMultiDictProxy(CIMultiDict([(k.decode(), v.decode()) for k, v in raw]))
    headers = WireHeaders(raw, parsed)
    expected = httpx.Headers(raw)
    assert headers["link"] == expected["link"] == "<a>, <b>"
    assert headers.raw == expected.raw
    assert dict(headers.items()) == dict(expected.items())
    headers["Link"] = "<c>"
    assert headers["link"] == "<c>"
    del headers["content-type"]
    assert "content-type" not in headers
    headers.update({"X-New": "1"})
    assert headers["x-new"] == "1"
    assert httpx.Headers(headers).multi_items() == [("link", "<c>"), ("x-new", "1")]


async def test_same_origin_redirects_keep_credentials(upstream: FaultyUpstream, wire: str) -> None:
    upstream.script("/thing", Reply(302, (("Location", "/moved"),), b""))
    upstream.script("/moved", Reply(200, (), b'{"moved": true}'))
    assert await _outcome(_client(wire, upstream.url())) == {"moved": True}
    [arrival] = upstream.arrivals("/moved")
    assert arrival.headers["x-api-key"] == KEY


async def test_cross_origin_redirects_lose_credentials(
    upstream: FaultyUpstream, other: FaultyUpstream, wire: str
) -> None:
    upstream.script("/thing", Reply(307, (("Location", other.url("/there")),), b""))
    other.script("/there", Reply(200, (), b'{"there": true}'))
    assert await _outcome(_client(wire, upstream.url())) == {"there": True}
    [arrival] = other.arrivals("/there")
    assert "x-api-key" not in arrival.headers
    assert arrival.headers["user-agent"] == "connectory/0.1"


async def test_a_cross_origin_redirect_with_the_key_in_its_url_is_refused(
    upstream: FaultyUpstream, other: FaultyUpstream, wire: str
) -> None:
    upstream.script("/thing", Reply(302, (("Location", other.url(f"/x?k={KEY}")),), b""))
    name, message = await _outcome(_client(wire, upstream.url()))
    assert name == ResponseError.__name__
    assert "with credentials in the URL; refusing to follow the redirect" in message
    assert other.count() == 0


@pytest.mark.parametrize(
    ("status", "method", "body"), [(302, "GET", b""), (303, "GET", b""), (307, "POST", b'{"a":1}')]
)
async def test_redirected_posts_change_method_as_httpx_does(
    upstream: FaultyUpstream, wire: str, status: int, method: str, body: bytes
) -> None:
    upstream.script("/thing", Reply(status, (("Location", "/next"),), b""))
    await _outcome(_client(wire, upstream.url()), "post")
    [arrival] = upstream.arrivals("/next")
    assert (arrival.method, arrival.body) == (method, body)
    assert ("content-length" in arrival.headers) == bool(body)


async def test_too_many_redirects_fail_the_same_way(upstream: FaultyUpstream, wire: str) -> None:
    upstream.script("/thing", then=Reply(302, (("Location", "/thing"),), b""))
    name, message = await _outcome(_client(wire, upstream.url()))
    assert name == ResponseError.__name__
    assert "redirected too many times" in message
    assert upstream.count("/thing") == 6  # the request and five redirects


async def test_an_ambiguous_redirect_target_is_refused(upstream: FaultyUpstream, wire: str) -> None:
    upstream.script("/thing", Reply(302, (("Location", "http://0x7f.1/"),), b""))
    name, message = await _outcome(_client(wire, upstream.url()))
    assert name == InvalidURL.__name__
    assert "the upstream redirected to a refused address" in message


@pytest.mark.parametrize("location", ["http://127.0.0.1:99999/x", "//[::1/x"])
async def test_an_invalid_redirect_target_is_an_invalid_url(
    upstream: FaultyUpstream, wire: str, location: str
) -> None:
    upstream.script("/thing", Reply(302, (("Location", location),), b""))
    name, message = await _outcome(_client(wire, upstream.url()))
    assert name == InvalidURL.__name__
    assert message.startswith("the upstream redirected to an invalid URL (")
    assert upstream.count() == 1  # refused, not retried as a transport error


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS)),  # raw deflate
    ],
)
async def test_compressed_bodies_are_decoded_within_the_limit(
    upstream: FaultyUpstream, wire: str, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    body = b'{"big": "' + b"x" * 20_000 + b'"}'
    upstream.script("/thing", Reply(200, (("Content-Encoding", encoding),), compress(body)))
    assert await _outcome(_client(wire, upstream.url())) == {"big": "x" * 20_000}
    # The limit is of the decoded body: 20 kB decoded from a few hundred bytes is refused.
    upstream.script("/thing", Reply(200, (("Content-Encoding", encoding),), compress(body)))
    name, message = await _outcome(_client(wire, upstream.url(), max_response_bytes=10_000))
    assert name == ResponseTooLarge.__name__
    assert "larger than the limit of 10,000 bytes (more than that)" in message


async def test_a_doubly_encoded_body_is_decoded_up_to_the_limit(
    upstream: FaultyUpstream, wire: str
) -> None:
    body = b'{"x": "' + b"y" * 4000 + b'"}'
    # Stored (not compressed) inside: the middle step is longer than the limit, the body not.
    twice = gzip.compress(gzip.compress(body, compresslevel=0))
    upstream.script("/thing", Reply(200, (("Content-Encoding", "gzip, gzip"),), twice))
    client = _client(wire, upstream.url(), max_response_bytes=len(body))
    assert await _outcome(client) == {"x": "y" * 4000}


async def test_a_gzip_of_gzip_bomb_is_refused_without_inflating_it(
    upstream: FaultyUpstream, wire: str
) -> None:
    # 32 MiB stored in gzip, gzipped: about 40 kB on the wire, 32 MiB after the first step.
    bomb = gzip.compress(gzip.compress(bytes(32 << 20), compresslevel=0))
    upstream.script("/thing", Reply(200, (("Content-Encoding", "gzip, gzip"),), bomb))
    client = _client(wire, upstream.url(), max_response_bytes=1 << 20)
    tracemalloc.start()
    try:
        name, message = await _outcome(client)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert name == ResponseTooLarge.__name__
    assert "larger than the limit of 1,048,576 bytes" in message
    if wire == "aiohttp":  # httpx's own decoder is not bounded (its step takes the chunk)
        assert peak < 8 << 20


async def test_a_declared_length_over_the_limit_is_refused_first(
    upstream: FaultyUpstream, wire: str
) -> None:
    upstream.script("/thing", Reply(200, (), b"x" * 5000))
    name, message = await _outcome(_client(wire, upstream.url(), max_response_bytes=1000))
    assert (name, "(5,000 bytes)" in message) == (ResponseTooLarge.__name__, True)


async def test_a_broken_body_encoding_is_a_decoding_error(
    upstream: FaultyUpstream, wire: str
) -> None:
    upstream.script("/thing", Reply(200, (("Content-Encoding", "gzip"),), b"not gzip at all"))
    name, message = await _outcome(_client(wire, upstream.url()))
    assert name == ResponseError.__name__
    assert "could not be decoded" in message


@pytest.mark.parametrize("fault", [Reset(), Close()])
async def test_broken_connections_are_the_same_errors(
    upstream: FaultyUpstream, wire: str, fault: Reset | Close
) -> None:
    upstream.script("/thing", fault, fault)
    client = _client(wire, upstream.url(), resilience={"max_retries": 1})
    name, message = await _outcome(client)
    assert name == TransportError.__name__
    assert "after 2 attempts" in message or "2 attempts" in message
    assert upstream.count("/thing") == 2


async def test_a_hang_is_cut_at_the_attempt_timeout(upstream: FaultyUpstream, wire: str) -> None:
    upstream.script("/thing", Hang(), Hang())
    client = _client(wire, upstream.url(), resilience={"timeout": 0.3, "max_retries": 0})
    name, _ = await _outcome(client)
    assert name == UpstreamTimeout.__name__


async def test_a_refused_connection_has_the_same_message(wire: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = _client(wire, f"http://127.0.0.1:{port}", resilience={"max_retries": 0})
    name, message = await _outcome(client)
    assert name == TransportError.__name__
    assert "connection failed" in message


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:99999", "http://[::1/"])
async def test_invalid_urls_are_refused_with_httpx_words(wire: str, base_url: str) -> None:
    outcomes = {}
    for name in WIRES:
        outcomes[name] = await _outcome(_client(name, base_url))
    assert outcomes["httpx"] == outcomes["aiohttp"]
    assert outcomes[wire][0] == InvalidURL.__name__


async def test_urls_that_need_encoding_are_encoded_as_httpx_does(
    upstream: FaultyUpstream,
) -> None:
    paths = []
    for name in WIRES:
        upstream.clear()
        spec = {"operations": [{"operation": "get", "path": "/a b/é"}]}
        await _outcome(_client(name, upstream.url(), spec_fields=spec))
        paths.append(upstream.arrivals()[0].path)
    assert paths[0] == paths[1] == "/a%20b/%C3%A9"


async def test_a_non_ascii_header_is_an_input_error(upstream: FaultyUpstream, wire: str) -> None:
    spec = {"headers": {"X-Name": "café"}}
    name, message = await _outcome(_client(wire, upstream.url(), spec_fields=spec))
    assert name == InputError.__name__
    assert "only ASCII" in message
    assert upstream.count() == 0


async def _cookie_app() -> Starlette:
    async def login(request: Request) -> JSONResponse:
        response = JSONResponse({"ok": True})
        response.set_cookie("session", request.query_params.get("name", "s-1"))
        return response

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"cookie": request.headers.get("cookie")})

    async def chunked(request: Request) -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            yield b'{"x": "'
            for _ in range(10):
                yield b"y" * 1000
            yield b'"}'

        return StreamingResponse(parts(), media_type="application/json")

    return Starlette(
        routes=[Route("/login", login), Route("/echo", echo), Route("/chunked", chunked)]
    )


async def test_cookies_set_by_the_upstream_are_sent_back(wire: str) -> None:
    spec = {
        "operations": [
            {"operation": "login", "path": "/login"},
            {"operation": "echo", "path": "/echo"},
        ]
    }
    with serve(await _cookie_app()) as url:
        async with _client(wire, url, spec_fields=spec) as client:
            assert (await client.call("echo")).body == {"cookie": None}
            await client.call("login")
            assert (await client.call("echo")).body == {"cookie": "session=s-1"}


async def test_a_cookie_session_carries_on_when_the_client_switches_wires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As in a process that has not imported aiohttp: the switch comes after two requests.
    monkeypatch.setattr(transport_module, "_POOLED_MODULE", "not.imported")
    spec = {
        "operations": [
            {
                "operation": "login",
                "path": "/login",
                "parameters": [{"name": "name", "location": "query", "type": "string"}],
            },
            {"operation": "echo", "path": "/echo"},
        ]
    }
    adaptive = AdaptiveTransport(upgrade_after=2)
    with serve(await _cookie_app()) as url:
        async with _client("httpx", url, spec_fields=spec, transport=adaptive) as client:
            await client.call("login")
            assert (await client.call("echo")).body == {"cookie": "session=s-1"}
            assert not adaptive.upgraded
            assert (await client.call("echo")).body == {"cookie": "session=s-1"}
            assert adaptive.upgraded
            # One jar from then on too: the session set on aiohttp replaces httpx's.
            await client.call("login", {"name": "s-2"})
            assert (await client.call("echo")).body == {"cookie": "session=s-2"}


async def test_clients_sharing_a_transport_keep_their_own_cookies() -> None:
    spec = {
        "operations": [
            {"operation": "login", "path": "/login"},
            {"operation": "echo", "path": "/echo"},
        ]
    }
    shared = AiohttpTransport()
    with serve(await _cookie_app()) as url:
        async with (
            _client("aiohttp", url, spec_fields=spec, transport=shared) as alice,
            _client("aiohttp", url, spec_fields=spec, transport=shared) as bob,
        ):
            await alice.call("login")
            assert (await bob.call("echo")).body == {"cookie": None}
            assert (await alice.call("echo")).body == {"cookie": "session=s-1"}


async def test_the_transport_has_one_pool_for_httpx_and_the_wire(upstream: FaultyUpstream) -> None:
    shared = AiohttpTransport(limits=httpx.Limits(max_connections=1))
    wire = AiohttpWire(shared, Redactor([]), 1 << 20, float)
    upstream.script("/held", Hang())
    async with httpx.AsyncClient(transport=shared) as http:
        held = asyncio.create_task(http.get(upstream.url("/held")))
        while not upstream.count("/held"):
            await asyncio.sleep(0.01)
        # The one connection is held by httpx's path: the wire waits for it, in vain.
        with pytest.raises(httpx.ConnectTimeout):
            await wire.send(wire.build("GET", upstream.url("/thing"), {}, None), 0.3)
        held.cancel()
        with pytest.raises(asyncio.CancelledError):
            await held
        reply = await wire.send(wire.build("GET", upstream.url("/thing"), {}, None), 5)
    assert reply.status_code == 200
    assert upstream.count("/thing") == 1


async def test_chunked_bodies_are_held_to_the_limit(wire: str) -> None:
    spec = {"operations": [{"operation": "get", "path": "/chunked"}]}
    with serve(await _cookie_app()) as url:
        assert await _outcome(_client(wire, url, spec_fields=spec)) == {"x": "y" * 10_000}
        client = _client(wire, url, spec_fields=spec, max_response_bytes=5000)
        name, message = await _outcome(client)
    assert name == ResponseTooLarge.__name__
    assert "(more than that)" in message


async def test_the_egress_guard_refuses_literals_and_redirects_to_them(
    upstream: FaultyUpstream,
) -> None:
    guard = EgressPolicy.allowing(["127.0.0.1/32"])
    refused = _client("aiohttp", "http://169.254.169.254", transport=GuardedAiohttpTransport(guard))
    name, message = await _outcome(refused)
    assert name == EgressDenied.__name__
    assert "link-local" in message and "not allowed for connectors" in message
    # Allowed: the upstream answers; its redirect to another loopback address is refused.
    upstream.script("/thing", Reply(302, (("Location", f"http://127.0.0.2:{upstream.port}/"),)))
    client = _client("aiohttp", upstream.url(), transport=GuardedAiohttpTransport(guard))
    name, message = await _outcome(client)
    assert name == EgressDenied.__name__
    assert "refusing to connect to 127.0.0.2" in message and "loopback" in message
    assert upstream.count() == 1


async def test_traceparent_goes_upstream_on_every_attempt(
    upstream: FaultyUpstream, wire: str
) -> None:
    memory = MemorySpans()
    upstream.script("/thing", Reply(503, (), b"{}"))
    client = _client(
        wire,
        upstream.url(),
        spec_fields={"propagate_trace": True},
        telemetry=Telemetry(tracing=memory.tracing()),
    )
    async with client:
        with client.calls.track("operation", "get"):
            await client.call("get")
    attempts = sorted(
        (s for s in memory.finished() if s.name == "GET"),
        key=lambda span: span.start_time or 0,
    )
    sent = [arrival.headers["traceparent"] for arrival in upstream.arrivals("/thing")]
    assert [value.split("-")[2] for value in sent] == [
        format(span.context.span_id, "016x") for span in attempts
    ]
    assert [span.attributes["http.response.status_code"] for span in attempts] == [503, 200]


@pytest.mark.parametrize("base_url", ["ftp://127.0.0.1:21", "http:///nohost"])
async def test_unsupported_urls_fail_the_same_way_on_both(base_url: str) -> None:
    outcomes = {name: await _outcome(_client(name, base_url)) for name in WIRES}
    assert outcomes["httpx"] == outcomes["aiohttp"]
    assert isinstance(outcomes["httpx"], tuple)
