"""A fake provider for the auth tests: a token endpoint, a login endpoint and a protected API."""

from __future__ import annotations

import asyncio
import base64
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson

from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec

BASE_URL = "https://api.example.com"
TOKEN_URL = "https://auth.example.com/oauth/token"
CLIENT_ID = "client-1"
CLIENT_SECRET = "cs-very-secret-42"


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Provider:
    """Issues numbered tokens and accepts only the ones still valid.

    ``token_requests`` and ``login_requests`` hold the parsed form/JSON of each request, and
    ``api_requests`` every request to the API.
    """

    def __init__(self, expires_in: Any = 3600) -> None:
        self.expires_in = expires_in
        self.issued = 0
        self.valid: set[str] = set()
        self.token_requests: list[httpx.Request] = []
        self.login_requests: list[httpx.Request] = []
        self.api_requests: list[httpx.Request] = []
        self.token_error: tuple[int, dict[str, Any]] | None = None
        self.rotate_refresh_token = False
        self.hold: asyncio.Event | None = None
        self.reject_all = False

    def issue(self, kind: str = "at") -> str:
        self.issued += 1
        token = f"{kind}-{self.issued}-abcdef"
        self.valid.add(token)
        return token

    def revoke(self) -> None:
        self.valid.clear()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            self.token_requests.append(request)
            if self.hold is not None:
                await self.hold.wait()
            if self.token_error is not None:
                status, body = self.token_error
                return httpx.Response(status, json=body)
            body = {"access_token": self.issue(), "token_type": "Bearer"}
            if self.expires_in is not None:
                body["expires_in"] = self.expires_in
            if self.rotate_refresh_token:
                body["refresh_token"] = f"rt-rotated-{self.issued}"
            return httpx.Response(200, json=body)
        if request.url.path == "/login":
            self.login_requests.append(request)
            fields = login_fields(request)
            if fields.get("username") != "demo" or fields.get("password") != "pw-secret-77":
                return httpx.Response(401, json={"error": "wrong user or password"})
            body = {"session": {"token": self.issue("sess")}}
            if self.expires_in is not None:
                body["expires_in"] = self.expires_in
            return httpx.Response(200, json=body)
        self.api_requests.append(request)
        token = presented_token(request)
        if self.reject_all or token not in self.valid:
            return httpx.Response(401, json={"error": "invalid_token"})
        return httpx.Response(200, json={"ok": True, "token": token})


def presented_token(request: httpx.Request) -> str | None:
    for header in ("Authorization", "X-Session"):
        value = request.headers.get(header)
        if value:
            return value.split(" ", 1)[-1]
    return request.url.params.get("token")


def form_of(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


def login_fields(request: httpx.Request) -> dict[str, Any]:
    if request.headers.get("Content-Type", "").startswith("application/json"):
        parsed: dict[str, Any] = orjson.loads(request.content)
        return parsed
    return form_of(request)


def basic_pair(request: httpx.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


def build_spec(auth: dict[str, Any], *operations: dict[str, Any]) -> ConnectorSpec:
    return ConnectorSpec.model_validate(
        {
            "name": "Auth test",
            "base_url": BASE_URL,
            "resilience": {"max_retries": 0, "rate_limit": None},
            "auth": auth,
            "operations": list(operations) or [{"name": "me", "path": "/me"}],
        }
    )


def build_client(spec: ConnectorSpec, provider: Any, **options: Any) -> ConnectorClient:
    return ConnectorClient(spec, transport=httpx.MockTransport(provider), **options)
