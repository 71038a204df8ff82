"""OAuth 2.0 client credentials and authorization-code tokens (auth/oauth2.py)."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

import pytest

from connectory.errors import AuthError

from .support import (
    CLIENT_ID,
    CLIENT_SECRET,
    TOKEN_URL,
    FakeClock,
    Provider,
    basic_pair,
    build_client,
    build_spec,
    form_of,
    presented_token,
)

CREDENTIAL_SCHEMA = {
    "client_id": {"required": True},
    "client_secret": {"type": "password", "required": True},
}
CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


def _client_credentials(**fields: Any) -> dict[str, Any]:
    return {
        "auth_type": "oauth2",
        "grant_type": "client_credentials",
        "token_url": TOKEN_URL,
        "credential_schema": CREDENTIAL_SCHEMA,
        **fields,
    }


def _client(provider: Provider, clock: FakeClock | None = None, **auth: Any) -> Any:
    return build_client(
        build_spec(_client_credentials(**auth)),
        provider,
        credentials=CREDENTIALS,
        clock=clock or FakeClock(),
    )


class TestClientCredentials:
    async def test_token_is_fetched_then_sent_as_bearer(self) -> None:
        provider = Provider()
        async with _client(provider) as client:
            result = await client.call("me")
        assert result.body == {"ok": True, "token": "at-1-abcdef"}
        (token_request,) = provider.token_requests
        assert str(token_request.url) == TOKEN_URL
        assert token_request.method == "POST"
        assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert form_of(token_request) == {"grant_type": "client_credentials"}
        assert provider.api_requests[0].headers["Authorization"] == "Bearer at-1-abcdef"

    async def test_basic_client_authentication_is_the_default(self) -> None:
        provider = Provider()
        async with _client(provider) as client:
            await client.call("me")
        assert basic_pair(provider.token_requests[0]) == (CLIENT_ID, CLIENT_SECRET)
        assert "client_secret" not in form_of(provider.token_requests[0])

    async def test_basic_client_authentication_form_encodes_id_and_secret(self) -> None:
        provider = Provider()
        credentials = {"client_id": "id:1", "client_secret": "s&c ret+"}
        spec = build_spec(_client_credentials())
        async with build_client(spec, provider, credentials=credentials) as client:
            await client.call("me")
        header = provider.token_requests[0].headers["Authorization"]
        assert base64.b64decode(header[6:]).decode() == "id%3A1:s%26c+ret%2B"

    async def test_body_client_authentication(self) -> None:
        provider = Provider()
        async with _client(provider, client_authentication="body") as client:
            await client.call("me")
        request = provider.token_requests[0]
        assert "Authorization" not in request.headers
        assert form_of(request) == {
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }

    async def test_scopes_audience_and_extra_params(self) -> None:
        provider = Provider()
        async with _client(
            provider,
            scopes=["read", "write"],
            audience="https://api.example.com",
            extra_token_params={"resource": "{{ credentials.client_id }}-res"},
        ) as client:
            await client.call("me")
        assert form_of(provider.token_requests[0]) == {
            "grant_type": "client_credentials",
            "scope": "read write",
            "audience": "https://api.example.com",
            "resource": f"{CLIENT_ID}-res",
        }

    async def test_relative_token_url_is_joined_to_the_base_url(self) -> None:
        provider = Provider()
        async with _client(provider, token_url="/oauth/token") as client:
            await client.call("me")
        assert str(provider.token_requests[0].url) == "https://api.example.com/oauth/token"

    async def test_token_is_cached_until_shortly_before_it_expires(self) -> None:
        provider = Provider(expires_in=3600)
        clock = FakeClock()
        async with _client(provider, clock) as client:
            await client.call("me")
            clock.advance(3500)
            await client.call("me")
            assert len(provider.token_requests) == 1
            clock.advance(71)  # 30 s before expiry: renewed ahead of time
            await client.call("me")
            assert len(provider.token_requests) == 2
            await client.call("me")
        assert len(provider.token_requests) == 2
        tokens = [presented_token(request) for request in provider.api_requests]
        assert tokens == ["at-1-abcdef", "at-1-abcdef", "at-2-abcdef", "at-2-abcdef"]

    async def test_expires_in_as_a_string(self) -> None:
        provider = Provider(expires_in="60")
        clock = FakeClock()
        async with _client(provider, clock) as client:
            await client.call("me")
            clock.advance(53)
            await client.call("me")
            assert len(provider.token_requests) == 1
            clock.advance(2)  # within 10 % of the lifetime of expiry
            await client.call("me")
        assert len(provider.token_requests) == 2

    async def test_token_without_expiry_is_kept_until_rejected(self) -> None:
        provider = Provider(expires_in=None)
        clock = FakeClock()
        async with _client(provider, clock) as client:
            await client.call("me")
            clock.advance(10**7)
            await client.call("me")
        assert len(provider.token_requests) == 1

    async def test_a_401_fetches_a_new_token_exactly_once(self) -> None:
        provider = Provider()
        async with _client(provider) as client:
            await client.call("me")
            provider.revoke()
            result = await client.call("me")
        assert result.body["token"] == "at-2-abcdef"
        assert len(provider.token_requests) == 2
        assert len(provider.api_requests) == 3

    async def test_a_second_401_is_an_auth_error_not_a_loop(self) -> None:
        provider = Provider()
        provider.reject_all = True
        async with _client(provider) as client:
            with pytest.raises(AuthError) as caught:
                await client.call("me")
        assert caught.value.status_code == 401
        assert len(provider.token_requests) == 2
        assert len(provider.api_requests) == 2

    async def test_concurrent_callers_share_one_token_fetch(self) -> None:
        provider = Provider()
        provider.hold = asyncio.Event()
        async with _client(provider) as client:
            calls = [asyncio.create_task(client.call("me")) for _ in range(8)]
            for _ in range(20):
                await asyncio.sleep(0)
            provider.hold.set()
            results = await asyncio.gather(*calls)
        assert len(provider.token_requests) == 1
        assert {result.body["token"] for result in results} == {"at-1-abcdef"}

    async def test_concurrent_401s_share_one_renewal(self) -> None:
        provider = Provider()
        async with _client(provider) as client:
            await client.call("me")
            provider.revoke()
            results = await asyncio.gather(*(client.call("me") for _ in range(6)))
        assert len(provider.token_requests) == 2
        assert {result.body["token"] for result in results} == {"at-2-abcdef"}

    @pytest.mark.parametrize("status", [400, 401])
    async def test_token_endpoint_error_carries_the_provider_error_never_the_secret(
        self, status: int, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        provider = Provider()
        provider.token_error = (
            status,
            {
                "error": "invalid_client",
                "error_description": f"client secret {CLIENT_SECRET} is wrong",
            },
        )
        async with _client(provider, client_authentication="body") as client:
            with pytest.raises(AuthError) as caught:
                await client.call("me")
        message = str(caught.value)
        assert caught.value.status_code == status
        assert "invalid_client" in message
        assert "is wrong" in message
        assert f"status {status}" in message
        assert "check the client id and secret" in message
        assert CLIENT_SECRET not in message
        assert provider.api_requests == []
        for record in caplog.records:
            assert CLIENT_SECRET not in record.getMessage()

    @pytest.mark.parametrize("status", [403, 500, 503])
    async def test_token_endpoint_other_refusal_hint(self, status: int) -> None:
        provider = Provider()
        provider.token_error = (status, {"message": "client disabled"})
        async with _client(provider) as client:
            with pytest.raises(AuthError, match=f"{status}: client disabled; check the token URL"):
                await client.call("me")

    async def test_token_response_without_access_token(self) -> None:
        provider = Provider()
        provider.token_error = (200, {"token_type": "Bearer"})
        async with _client(provider) as client:
            with pytest.raises(AuthError, match="no access_token"):
                await client.call("me")

    async def test_token_response_that_is_not_an_object(self) -> None:
        provider = Provider()
        provider.token_error = (200, ["nope"])  # type: ignore[assignment]
        async with _client(provider) as client:
            with pytest.raises(AuthError, match="not a JSON object"):
                await client.call("me")


def _code_flow(**fields: Any) -> dict[str, Any]:
    return {
        "auth_type": "oauth2",
        "grant_type": "authorization_code",
        "authorization_url": "https://auth.example.com/authorize",
        "token_url": TOKEN_URL,
        "client_authentication": "body",
        "credential_schema": {
            **CREDENTIAL_SCHEMA,
            "access_token": {"type": "password"},
            "refresh_token": {"type": "password"},
        },
        **fields,
    }


class TestAuthorizationCode:
    async def test_stored_access_token_is_used_without_a_token_request(self) -> None:
        provider = Provider()
        stored = provider.issue()
        credentials = {**CREDENTIALS, "access_token": stored, "refresh_token": "rt-0-abcdef"}
        async with build_client(
            build_spec(_code_flow()), provider, credentials=credentials
        ) as client:
            result = await client.call("me")
        assert result.body["token"] == stored
        assert provider.token_requests == []

    async def test_401_refreshes_and_rotated_tokens_are_handed_over(self) -> None:
        provider = Provider()
        provider.rotate_refresh_token = True
        saved: list[dict[str, str]] = []

        async def on_tokens(tokens: dict[str, str]) -> None:
            saved.append(tokens)

        credentials = {**CREDENTIALS, "access_token": "expired-at", "refresh_token": "rt-0-abcdef"}
        async with build_client(
            build_spec(_code_flow()), provider, credentials=credentials, on_tokens=on_tokens
        ) as client:
            first = await client.call("me")
            provider.revoke()
            second = await client.call("me")
        assert first.body["token"] == "at-1-abcdef"
        assert second.body["token"] == "at-2-abcdef"
        forms = [form_of(request) for request in provider.token_requests]
        assert forms == [
            {
                "grant_type": "refresh_token",
                "refresh_token": "rt-0-abcdef",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
            {
                "grant_type": "refresh_token",
                "refresh_token": "rt-rotated-1",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
        ]
        assert saved == [
            {"access_token": "at-1-abcdef", "refresh_token": "rt-rotated-1"},
            {"access_token": "at-2-abcdef", "refresh_token": "rt-rotated-2"},
        ]

    async def test_refresh_without_rotation_keeps_the_refresh_token(self) -> None:
        provider = Provider()
        saved: list[dict[str, str]] = []

        async def on_tokens(tokens: dict[str, str]) -> None:
            saved.append(tokens)

        credentials = {**CREDENTIALS, "refresh_token": "rt-0-abcdef"}
        async with build_client(
            build_spec(_code_flow(scopes="read")),
            provider,
            credentials=credentials,
            on_tokens=on_tokens,
        ) as client:
            await client.call("me")
            provider.revoke()
            await client.call("me")
        refresh_tokens = [form_of(r)["refresh_token"] for r in provider.token_requests]
        assert refresh_tokens == ["rt-0-abcdef", "rt-0-abcdef"]
        assert all("scope" not in form_of(r) for r in provider.token_requests)
        assert saved == [{"access_token": "at-1-abcdef"}, {"access_token": "at-2-abcdef"}]

    async def test_rejected_access_token_without_refresh_token_is_an_auth_error(self) -> None:
        provider = Provider()
        credentials = {**CREDENTIALS, "access_token": "expired-at"}
        async with build_client(
            build_spec(_code_flow()), provider, credentials=credentials
        ) as client:
            with pytest.raises(AuthError) as caught:
                await client.call("me")
        assert caught.value.status_code == 401
        assert provider.token_requests == []
        assert len(provider.api_requests) == 1

    async def test_no_tokens_at_all_asks_to_reconnect(self) -> None:
        provider = Provider()
        async with build_client(
            build_spec(_code_flow()), provider, credentials=CREDENTIALS
        ) as client:
            with pytest.raises(AuthError, match="reconnect the account"):
                await client.call("me")
        assert provider.api_requests == []

    async def test_refresh_failure_hides_the_refresh_token(self) -> None:
        provider = Provider()
        provider.token_error = (
            400,
            {"error": "invalid_grant", "error_description": "refresh token rt-0-abcdef revoked"},
        )
        credentials = {**CREDENTIALS, "refresh_token": "rt-0-abcdef"}
        async with build_client(
            build_spec(_code_flow()), provider, credentials=credentials
        ) as client:
            with pytest.raises(AuthError) as caught:
                await client.call("me")
        assert "invalid_grant" in str(caught.value)
        assert "rt-0-abcdef" not in str(caught.value)
