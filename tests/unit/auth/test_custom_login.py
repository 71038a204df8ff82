"""Custom login: a templated request whose response yields the token (auth/custom.py)."""

from __future__ import annotations

from typing import Any

import pytest

from connectory.errors import AuthError

from .support import FakeClock, Provider, build_client, build_spec, login_fields

CREDENTIAL_SCHEMA = {
    "username": {"required": True},
    "password": {"type": "password", "required": True},
}
CREDENTIALS = {"username": "demo", "password": "pw-secret-77"}


def _custom(**fields: Any) -> dict[str, Any]:
    return {
        "auth_type": "custom",
        "credential_schema": CREDENTIAL_SCHEMA,
        "login": {
            "method": "post",
            "url": "/login",
            "headers": {"Accept": "application/json", "X-Client": "{{ credentials.username }}"},
            "json": {
                "username": "{{ credentials.username }}",
                "password": "{{ credentials.password }}",
                "options": {"remember": True, "scopes": ["read", "{{ credentials.username }}"]},
            },
        },
        "token_path": "session.token",
        "expires_in_path": "expires_in",
        "header_name": "X-Session",
        "token_prefix": "",
        **fields,
    }


def _client(
    provider: Provider, clock: FakeClock | None = None, *operations: Any, **auth: Any
) -> Any:
    return build_client(
        build_spec(_custom(**auth), *operations),
        provider,
        credentials=CREDENTIALS,
        clock=clock or FakeClock(),
    )


async def test_login_request_is_templated_from_the_credentials() -> None:
    provider = Provider()
    async with _client(provider) as client:
        result = await client.call("me")
    (login,) = provider.login_requests
    assert str(login.url) == "https://api.example.com/login"
    assert login.method == "POST"
    assert login.headers["X-Client"] == "demo"
    assert login.headers["Content-Type"] == "application/json"
    assert login_fields(login) == {
        "username": "demo",
        "password": "pw-secret-77",
        "options": {"remember": True, "scopes": ["read", "demo"]},
    }
    assert provider.api_requests[0].headers["X-Session"] == "sess-1-abcdef"
    assert result.body["token"] == "sess-1-abcdef"


async def test_form_login_and_token_in_the_query() -> None:
    provider = Provider()
    auth = _custom(location="query", query_param="token")
    auth["login"] = {
        "url": "https://api.example.com/login",
        "form": {
            "username": "{{ credentials.username }}",
            "password": "{{ credentials.password }}",
        },
    }
    async with build_client(build_spec(auth), provider, credentials=CREDENTIALS) as client:
        result = await client.call("me")
    login = provider.login_requests[0]
    assert login.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert login_fields(login) == CREDENTIALS
    assert provider.api_requests[0].url.params["token"] == "sess-1-abcdef"
    assert result.request is not None
    assert result.request.url.endswith("token=[REDACTED]")


async def test_token_is_cached_for_expires_in() -> None:
    provider = Provider(expires_in=120)
    clock = FakeClock()
    async with _client(provider, clock) as client:
        await client.call("me")
        clock.advance(100)
        await client.call("me")
        assert len(provider.login_requests) == 1
        clock.advance(9)  # within 10 % of the lifetime of expiry
        await client.call("me")
    assert len(provider.login_requests) == 2


async def test_token_ttl_applies_when_the_response_has_no_lifetime() -> None:
    provider = Provider(expires_in=None)
    clock = FakeClock()
    async with _client(provider, clock, token_ttl=600) as client:
        await client.call("me")
        clock.advance(560)
        await client.call("me")
        assert len(provider.login_requests) == 1
        clock.advance(20)
        await client.call("me")
    assert len(provider.login_requests) == 2


async def test_logs_in_again_once_after_a_401() -> None:
    provider = Provider()
    async with _client(provider) as client:
        await client.call("me")
        provider.revoke()
        result = await client.call("me")
    assert result.body["token"] == "sess-2-abcdef"
    assert len(provider.login_requests) == 2


async def test_a_second_401_is_an_auth_error() -> None:
    provider = Provider()
    provider.reject_all = True
    async with _client(provider) as client:
        with pytest.raises(AuthError):
            await client.call("me")
    assert len(provider.login_requests) == 2
    assert len(provider.api_requests) == 2


async def test_wrong_password_is_an_auth_error_without_the_password() -> None:
    provider = Provider()
    spec = build_spec(_custom())
    credentials = {"username": "demo", "password": "wrong-password-1"}
    async with build_client(spec, provider, credentials=credentials) as client:
        with pytest.raises(AuthError) as caught:
            await client.call("me")
    assert caught.value.status_code == 401
    assert "login request was refused with status 401" in str(caught.value)
    assert "wrong user or password" in str(caught.value)
    assert "wrong-password-1" not in str(caught.value)


async def test_missing_token_in_the_response_names_token_path() -> None:
    provider = Provider()
    async with _client(provider, token_path="data.jwt") as client:
        with pytest.raises(AuthError, match=r"no token at 'data\.jwt'"):
            await client.call("me")


async def test_constant_login_values_are_not_treated_as_secrets() -> None:
    """Only rendered credentials are secret: a constant Accept header must stay readable."""
    provider = Provider()
    async with _client(provider) as client:
        result = await client.call("me")
        provider.reject_all = True
        with pytest.raises(AuthError) as caught:
            await client.call("me")
    assert result.headers["content-type"] == "application/json"
    assert result.request is not None
    assert result.request.headers["Accept"] == "application/json"
    assert result.request.headers["X-Session"] == "[REDACTED]"
    assert "invalid_token" in str(caught.value)
    # The rendered password is still a secret.
    assert client.redactor.redact("pw-secret-77") == "[REDACTED]"
