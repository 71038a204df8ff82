"""Credentials stay on their origin across redirects (http/redirects.py)."""

from __future__ import annotations

import httpx
import pytest

from connectory.http.redaction import Redactor
from connectory.http.redirects import strip_credentials_on_redirect

SECRET = "key-0123456789"


def _pages(redirect_to: str) -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/start":
            return httpx.Response(302, headers={"Location": redirect_to})
        return httpx.Response(200, json={})

    redactor = Redactor([SECRET], sensitive_names=["X-Custom-Auth"])
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(respond),
        follow_redirects=True,
        event_hooks={"request": [strip_credentials_on_redirect(redactor)]},
    )
    return client, seen


HEADERS = {
    "X-API-Key": "anything",
    "X-Custom-Auth": "anything",
    "X-Signed": f"sig {SECRET}",
    "Authorization": "Bearer t-1",
    "X-Tenant": "acme",
}


@pytest.mark.parametrize(
    "target",
    [
        "https://cdn.example.net/file",
        "http://api.example.com/file",
        "https://api.example.com:8443/file",
    ],
    ids=["other-host", "https-to-http", "other-port"],
)
async def test_cross_origin_redirect_loses_the_credentials(target: str) -> None:
    client, seen = _pages(target)
    async with client:
        await client.get("https://api.example.com/start", headers=HEADERS)
    first, redirected = seen
    assert first.headers["X-API-Key"] == "anything"
    assert str(redirected.url) == target
    for name in ("X-API-Key", "X-Custom-Auth", "X-Signed", "Authorization"):
        assert name not in redirected.headers
    assert redirected.headers["X-Tenant"] == "acme"


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("https://api.example.com/start", "/file"),
        ("https://api.example.com/start", "https://API.example.com:443/file"),
        ("http://api.example.com/start", "https://api.example.com/file"),
    ],
    ids=["same-origin", "explicit-default-port", "https-upgrade"],
)
async def test_same_origin_redirect_keeps_the_credentials(start: str, target: str) -> None:
    client, seen = _pages(target)
    async with client:
        await client.get(start, headers=HEADERS)
    redirected = seen[-1]
    assert redirected.url.path == "/file"
    assert redirected.headers["X-API-Key"] == "anything"
    assert redirected.headers["X-Signed"] == f"sig {SECRET}"
