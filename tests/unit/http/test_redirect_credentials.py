"""Cross-origin redirects never carry credentials: headers are stripped, URL secrets refused."""

from __future__ import annotations

import httpx
import pytest

from connectory.errors import ResponseError
from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec


def spec(location: str) -> ConnectorSpec:
    return ConnectorSpec.model_validate(
        {
            "name": "Redirecting",
            "base_url": "https://api.example.com",
            "auth": {
                "auth_type": "api_key",
                "location": location,
                "credential_schema": {"api_key": {"type": "password", "required": True}},
            },
            "resilience": {"max_retries": 0},
            "operations": [{"name": "get", "path": "/a"}],
        }
    )


class Upstream:
    def __init__(self) -> None:
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.host == "api.example.com":
            # A server that copies the query string into Location, as many do.
            target = "https://evil.example/a"
            if request.url.query:
                target += "?" + request.url.query.decode()
            return httpx.Response(302, headers={"Location": target})
        return httpx.Response(200, json={"ok": True})


async def test_query_credentials_are_never_sent_to_another_host() -> None:
    upstream = Upstream()
    async with ConnectorClient(
        spec("query"),
        credentials={"api_key": "very-secret-key"},
        transport=httpx.MockTransport(upstream),
    ) as client:
        with pytest.raises(ResponseError, match=r"evil\.example") as caught:
            await client.call("get")
    assert "very-secret-key" not in str(caught.value)
    assert [request.url.host for request in upstream.seen] == ["api.example.com"]


async def test_header_credentials_are_stripped_on_another_host() -> None:
    upstream = Upstream()
    async with ConnectorClient(
        spec("header"),
        credentials={"api_key": "very-secret-key"},
        transport=httpx.MockTransport(upstream),
    ) as client:
        result = await client.call("get")
    assert result.body == {"ok": True}
    evil = upstream.seen[-1]
    assert evil.url.host == "evil.example"
    assert "x-api-key" not in evil.headers
    assert all("very-secret-key" not in value for value in evil.headers.values())
