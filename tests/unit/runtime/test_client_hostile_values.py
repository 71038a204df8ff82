"""Hostile values in URLs and headers are refused before anything is sent, never a crash.

IPv4 hosts in non-canonical forms are refused wherever the URL comes from: a base URL rendered
from config or credentials, a next-page URL, a token URL, a redirect hop (InvalidURL, where
httpx raised its own exception before). Header values with control characters and text that is
not Unicode are the caller's input errors, not transport failures.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectory.errors import InputError, InvalidURL

from .support import Recorder, build_client, build_spec

AMBIGUOUS = [
    "0177.0.0.1",
    "127.000.000.001",
    "0x7f.1",
    "2130706433",
    "127.1",
    "0x7f000001",
    "017700000001",
]

GET = {"name": "get", "path": "/items"}


@pytest.mark.parametrize("host", AMBIGUOUS)
async def test_a_base_url_rendered_from_config_is_refused(host: str) -> None:
    recorder = Recorder()
    spec = build_spec(GET, base_url="http://{{ config.host }}:8080/v1")
    async with build_client(spec, recorder, config={"host": host}) as client:
        with pytest.raises(InvalidURL) as refused:
            await client.call("get")
    assert f"the host '{host}' is the IPv4 address 127.0.0.1" in str(refused.value)
    assert "write it as 127.0.0.1" in str(refused.value)
    assert recorder.requests == []


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8080/v1", "https://api.example.com/v1"])
async def test_canonical_hosts_pass(base_url: str) -> None:
    recorder = Recorder()
    async with build_client(build_spec(GET, base_url=base_url), recorder) as client:
        await client.call("get")
    assert str(recorder.last.url) == f"{base_url}/items"


async def test_a_host_that_ends_in_a_number_but_is_no_address_is_refused() -> None:
    recorder = Recorder()
    spec = build_spec(GET, base_url="http://{{ config.host }}")
    async with build_client(spec, recorder, config={"host": "08.0.0.1"}) as client:
        with pytest.raises(InvalidURL, match="ends in a number"):
            await client.call("get")
    assert recorder.requests == []


@pytest.mark.parametrize("host", ["0177.0.0.1", "0x7f.1"])
async def test_a_next_page_url_is_refused(host: str) -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [{"id": 1}], "next": f"http://{host}/v1/p2"})

    recorder = Recorder(respond)
    operation = {**GET, "record_selector": "data", "pagination": {"type": "next_url"}}
    async with build_client(build_spec(operation), recorder) as client:
        with pytest.raises(InvalidURL, match=f"refusing the next page URL: the host '{host}'"):
            async for _ in client.iter_records("get"):
                pass
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("host", ["0177.0.0.1", "0x7f.1", "2130706433"])
async def test_a_token_url_from_the_credentials_is_refused(host: str) -> None:
    recorder = Recorder()
    auth: dict[str, Any] = {
        "auth_type": "oauth2",
        "credential_schema": {
            "client_id": {"type": "string"},
            "client_secret": {"type": "password"},
            "token_url": {"type": "string"},
        },
    }
    credentials = {"client_id": "id", "client_secret": "s", "token_url": f"http://{host}/token"}
    spec = build_spec(GET, auth=auth)
    async with build_client(spec, recorder, credentials=credentials) as client:
        with pytest.raises(InvalidURL, match=f"the host '{host}'"):
            await client.call("get")
    assert recorder.requests == []


@pytest.mark.parametrize(
    "location",
    ["http://0177.0.0.1/next", "http://127.000.000.001/next", "http://0x7f.1/next", "//127.1/x"],
)
async def test_a_redirect_hop_is_refused(location: str) -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/items":
            return httpx.Response(302, headers={"Location": location})
        return httpx.Response(200, json={})

    recorder = Recorder(respond)
    async with build_client(build_spec(GET), recorder) as client:
        with pytest.raises(InvalidURL, match="the upstream redirected to a refused address"):
            await client.call("get")
    assert [request.url.path for request in recorder.requests] == ["/v1/items"]


async def test_a_url_httpx_cannot_parse_is_a_clear_error() -> None:
    recorder = Recorder()
    spec = build_spec(GET, base_url="http://{{ config.host }}")
    async with build_client(spec, recorder, config={"host": "\ufffd.example"}) as client:
        with pytest.raises(InvalidURL, match="the URL is not valid"):
            await client.call("get")
    assert recorder.requests == []


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\x00b", "a\nb"])
async def test_header_values_with_control_characters_are_input_errors(value: str) -> None:
    recorder = Recorder()
    operation = {**GET, "parameters": [{"name": "X-Trace", "location": "header"}]}
    async with build_client(build_spec(operation), recorder) as client:
        with pytest.raises(InputError, match="header 'X-Trace' has control characters"):
            await client.call("get", {"X-Trace": value})
    assert recorder.requests == []


@pytest.mark.parametrize("where", ["query", "path", "header"])
async def test_a_lone_surrogate_in_a_parameter_is_an_input_error(where: str) -> None:
    recorder = Recorder()
    operation = {
        "name": "get",
        "path": "/items/{p}" if where == "path" else "/items",
        "parameters": [{"name": "p", "location": where, "required": True}],
    }
    async with build_client(build_spec(operation), recorder) as client:
        with pytest.raises(InputError, match="parameter 'p' is not valid Unicode text"):
            await client.call("get", {"p": "\ud800"})
    assert recorder.requests == []
