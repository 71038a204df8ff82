"""Auth types with fixed credentials: none, API key, basic, bearer (auth/static.py)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from connectory.errors import AuthError

from .support import BASE_URL, build_client, build_spec


class Capture:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={})


async def _sent(auth: dict[str, Any], credentials: dict[str, Any] | None = None) -> httpx.Request:
    capture = Capture()
    async with build_client(build_spec(auth), capture, credentials=credentials) as client:
        await client.call("me")
    (request,) = capture.requests
    return request


async def test_none_sends_no_credentials() -> None:
    request = await _sent({"auth_type": "none"})
    assert "Authorization" not in request.headers
    assert str(request.url) == f"{BASE_URL}/me"


async def test_api_key_in_a_header_with_a_prefix() -> None:
    auth = {
        "auth_type": "api_key",
        "credential_schema": {"api_key": {"type": "password", "required": True}},
        "header_name": "X-API-Key",
        "key_prefix": "Token ",
    }
    request = await _sent(auth, {"api_key": "k-123"})
    assert request.headers["X-API-Key"] == "Token k-123"
    assert request.url.query == b""


async def test_api_key_in_a_header_defaults() -> None:
    auth = {"auth_type": "api_key", "credential_schema": {"api_key": {"required": True}}}
    request = await _sent(auth, {"api_key": "k-123"})
    assert request.headers["X-API-Key"] == "k-123"


async def test_api_key_in_the_query() -> None:
    auth = {
        "auth_type": "api_key",
        "credential_schema": {"api_key": {"type": "password", "required": True}},
        "location": "query",
        "query_param": "appid",
    }
    request = await _sent(auth, {"api_key": "k 1/2"})
    assert request.url.params["appid"] == "k 1/2"
    assert "X-API-Key" not in request.headers


async def test_api_key_in_the_query_with_a_prefix() -> None:
    auth = {
        "auth_type": "api_key",
        "credential_schema": {"api_key": {"type": "password", "required": True}},
        "location": "query",
        "query_param": "auth",
        "key_prefix": "key:",
    }
    request = await _sent(auth, {"api_key": "k-123"})
    assert request.url.params["auth"] == "key:k-123"


async def test_api_key_template_can_combine_credentials() -> None:
    auth = {
        "auth_type": "api_key",
        "credential_schema": {"account": {}, "secret": {"type": "password"}},
        "api_key": "{{ credentials.account }}:{{ credentials.secret }}",
        "header_name": "X-Key",
    }
    request = await _sent(auth, {"account": "acme", "secret": "s-999"})
    assert request.headers["X-Key"] == "acme:s-999"


async def test_basic() -> None:
    auth = {
        "auth_type": "basic",
        "credential_schema": {"username": {}, "password": {"type": "password"}},
    }
    request = await _sent(auth, {"username": "demo", "password": "p\u00e4ss:word"})
    expected = base64.b64encode("demo:p\u00e4ss:word".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"


async def test_bearer_defaults() -> None:
    auth = {"auth_type": "bearer", "credential_schema": {"token": {"type": "password"}}}
    request = await _sent(auth, {"token": "tok-1"})
    assert request.headers["Authorization"] == "Bearer tok-1"


async def test_bearer_with_custom_header_and_prefix() -> None:
    auth = {
        "auth_type": "bearer",
        "credential_schema": {"token": {"type": "password"}},
        "header_name": "X-Auth",
        "token_prefix": "",
    }
    request = await _sent(auth, {"token": "tok-1"})
    assert request.headers["X-Auth"] == "tok-1"
    assert "Authorization" not in request.headers


async def test_static_credentials_are_not_retried_after_a_401() -> None:
    calls: list[httpx.Request] = []

    def reject(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(401, json={"error": "bad key"})

    auth = {"auth_type": "bearer", "credential_schema": {"token": {"type": "password"}}}
    async with build_client(build_spec(auth), reject, credentials={"token": "tok-1"}) as client:
        with pytest.raises(AuthError, match="rejected the credentials"):
            await client.call("me")
    assert len(calls) == 1
