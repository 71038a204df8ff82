"""Every auth type against the test API: credentials on every page, wrong credentials refused,
tokens cached until they expire and fetched again exactly once after a 401."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connectory.errors import AuthError
from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec
from connectory.testing import TestApiCredentials

pytestmark = pytest.mark.integration

CREDS = TestApiCredentials()
ALL_IDS = list(range(1, 251))
AuthFactory = Callable[..., ConnectorSpec]

STATIC = {
    "api-key-query": ({"api_key": CREDS.api_key}, {"api_key": "wrong"}),
    "basic": (
        {"username": CREDS.username, "password": CREDS.password},
        {"username": CREDS.username, "password": "wrong"},
    ),
    "bearer": ({"token": CREDS.bearer_token}, {"token": "wrong"}),
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def oauth2_credentials(base_url: str, secret: str = CREDS.client_secret) -> dict[str, str]:
    return {
        "client_id": CREDS.client_id,
        "client_secret": secret,
        "token_url": f"{base_url}/oauth/token",
    }


def login_credentials(password: str = CREDS.password) -> dict[str, str]:
    return {"username": CREDS.username, "password": password}


async def read_ids(client: ConnectorClient, operation: str = "list_items") -> list[int]:
    return [record["id"] async for record in client.iter_records(operation, {})]


def with_extra_token_params(params: dict[str, str]) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        document["auth"]["extra_token_params"] = params

    return change


@pytest.mark.parametrize("name", sorted(STATIC))
async def test_static_credentials_on_every_page(
    test_api: str, test_api_stats: Any, test_api_auth_connector: AuthFactory, name: str
) -> None:
    good, _ = STATIC[name]
    spec = test_api_auth_connector(name)
    async with ConnectorClient(spec, credentials=good, base_url=test_api) as client:
        assert await read_ids(client) == ALL_IDS
    assert test_api_stats.get()["unauthorized"] == 0


@pytest.mark.parametrize("name", sorted(STATIC))
async def test_wrong_static_credentials_raise_auth_error_without_retrying(
    test_api: str, test_api_stats: Any, test_api_auth_connector: AuthFactory, name: str
) -> None:
    _, bad = STATIC[name]
    spec = test_api_auth_connector(name)
    async with ConnectorClient(spec, credentials=bad, base_url=test_api) as client:
        with pytest.raises(AuthError) as caught:
            await client.call("list_items")
    assert caught.value.status_code == 401
    assert "wrong" not in str(caught.value)  # the secret is never echoed back
    assert test_api_stats.get()["total"] == 1


async def test_api_key_header_with_prefix(
    test_api: str, test_api_stats: Any, test_api_connector: Callable[..., ConnectorSpec]
) -> None:
    async with ConnectorClient(
        test_api_connector(),
        credentials={"api_key": CREDS.api_key},
        connector_parameters={"tenant": "acme"},
        base_url=test_api,
    ) as client:
        assert [r["id"] async for r in client.iter_records("list_protected_items")] == ALL_IDS
        echoed = (await client.call("echo_headers", {"X-Request-Id": "r-1"})).body
    assert echoed["headers"]["x-api-key"] == f"Token {CREDS.api_key}"
    assert test_api_stats.get()["unauthorized"] == 0


async def test_api_key_is_redacted_from_the_reported_request(
    test_api: str, test_api_auth_connector: AuthFactory
) -> None:
    spec = test_api_auth_connector("api-key-query")
    async with ConnectorClient(
        spec, credentials={"api_key": CREDS.api_key}, base_url=test_api
    ) as client:
        result = await client.call("list_items")
    assert result.request is not None
    assert CREDS.api_key not in result.request.url


async def test_oauth2_token_is_fetched_once_and_cached(
    test_api: str, test_api_stats: Any, test_api_auth_connector: AuthFactory
) -> None:
    spec = test_api_auth_connector("oauth2")
    async with ConnectorClient(
        spec, credentials=oauth2_credentials(test_api), base_url=test_api
    ) as client:
        assert await read_ids(client) == ALL_IDS
        assert await read_ids(client) == ALL_IDS
    stats = test_api_stats.get()
    assert stats["token_requests"] == 1
    assert stats["by_path"]["/auth/oauth2/items"] == 6
    assert stats["unauthorized"] == 0
    # The seed's defaults: client authentication by HTTP Basic, the scopes as one string.
    assert stats["last_token_request"]["client_auth"] == "basic"
    assert stats["last_token_request"]["grant_type"] == "client_credentials"
    assert stats["last_token_request"]["scope"] == "read write"


async def test_oauth2_client_secret_in_the_body(
    test_api: str, test_api_stats: Any, test_api_auth_connector: AuthFactory
) -> None:
    def change(document: dict[str, Any]) -> None:
        document["auth"]["client_authentication"] = "body"

    spec = test_api_auth_connector("oauth2", change)
    async with ConnectorClient(
        spec, credentials=oauth2_credentials(test_api), base_url=test_api
    ) as client:
        await client.call("list_items")
    assert test_api_stats.get()["last_token_request"]["client_auth"] == "body"


async def test_oauth2_revoked_token_is_fetched_again_exactly_once(
    test_api: str, test_api_stats: Any, test_api_auth_connector: AuthFactory
) -> None:
    spec = test_api_auth_connector("oauth2")
    async with ConnectorClient(
        spec, credentials=oauth2_credentials(test_api), base_url=test_api
    ) as client:
        await client.call("list_items")
        test_api_stats.revoke_tokens()
        result = await client.call("list_items")
        assert result.status_code == 200
        await client.call("list_items")
    stats = test_api_stats.get()
    assert stats["token_requests"] == 2
    assert stats["unauthorized"] == 1
    assert stats["by_path"]["/auth/oauth2/items"] == 4


async def test_oauth2_gives_up_after_one_refetch_when_401_persists(
    test_api: str, test_api_stats: Any, test_api_auth_connector: AuthFactory
) -> None:
    spec = test_api_auth_connector("oauth2")
    async with ConnectorClient(
        spec, credentials=oauth2_credentials(test_api), base_url=test_api
    ) as client:
        with pytest.raises(AuthError) as caught:
            await client.call("always_unauthorized")
    assert caught.value.status_code == 401
    stats = test_api_stats.get()
    assert stats["token_requests"] == 2
    assert stats["by_path"]["/auth/oauth2/always-401"] == 2


async def test_oauth2_wrong_client_secret_is_an_auth_error(
    test_api: str, test_api_stats: Any, test_api_auth_connector: AuthFactory
) -> None:
    spec = test_api_auth_connector("oauth2")
    credentials = oauth2_credentials(test_api, secret="not-the-secret")
    async with ConnectorClient(spec, credentials=credentials, base_url=test_api) as client:
        with pytest.raises(AuthError) as caught:
            await client.call("list_items")
    assert "not-the-secret" not in str(caught.value)
    stats = test_api_stats.get()
    assert stats["by_path"].get("/auth/oauth2/items", 0) == 0  # no call without a token
    assert stats["token_requests"] >= 1


async def test_oauth2_token_is_fetched_again_when_it_expires(
    test_api: str, test_api_stats: Any, test_api_auth_connector: AuthFactory
) -> None:
    # The test API honours a non-standard "ttl" form field: issue 60 s tokens, then move the
    # client's clock past their expiry. The server still accepts the old token, so only the
    # client's own expiry bookkeeping can cause the second token request.
    spec = test_api_auth_connector("oauth2", with_extra_token_params({"ttl": "60"}))
    clock = FakeClock()
    async with ConnectorClient(
        spec, credentials=oauth2_credentials(test_api), base_url=test_api, clock=clock
    ) as client:
        await client.call("list_items")
        clock.now += 30
        await client.call("list_items")
        assert test_api_stats.get()["token_requests"] == 1
        clock.now += 31
        await client.call("list_items")
    stats = test_api_stats.get()
    assert stats["token_requests"] == 2
    assert stats["unauthorized"] == 0


async def test_custom_login_token_is_cached(
    test_api: str, test_api_stats: Any, test_api_auth_connector: AuthFactory
) -> None:
    spec = test_api_auth_connector("custom")
    async with ConnectorClient(spec, credentials=login_credentials(), base_url=test_api) as client:
        assert await read_ids(client) == ALL_IDS
        assert await read_ids(client) == ALL_IDS
    stats = test_api_stats.get()
    assert stats["login_requests"] == 1
    assert stats["by_path"]["/auth/custom/items"] == 6
    assert stats["unauthorized"] == 0


async def test_custom_login_again_exactly_once_after_a_401(
    test_api: str, test_api_stats: Any, test_api_auth_connector: AuthFactory
) -> None:
    spec = test_api_auth_connector("custom")
    async with ConnectorClient(spec, credentials=login_credentials(), base_url=test_api) as client:
        await client.call("list_items")
        test_api_stats.revoke_tokens()
        assert (await client.call("list_items")).status_code == 200
    stats = test_api_stats.get()
    assert stats["login_requests"] == 2
    assert stats["unauthorized"] == 1


async def test_custom_login_expiry_from_the_response(
    test_api: str, test_api_stats: Any, test_api_auth_connector: AuthFactory
) -> None:
    def change(document: dict[str, Any]) -> None:
        document["auth"]["login"]["json"]["ttl"] = 60

    spec = test_api_auth_connector("custom", change)
    clock = FakeClock()
    async with ConnectorClient(
        spec, credentials=login_credentials(), base_url=test_api, clock=clock
    ) as client:
        await client.call("list_items")
        clock.now += 61
        await client.call("list_items")
    assert test_api_stats.get()["login_requests"] == 2


async def test_custom_login_with_a_wrong_password(
    test_api: str, test_api_stats: Any, test_api_auth_connector: AuthFactory
) -> None:
    spec = test_api_auth_connector("custom")
    credentials = login_credentials(password="bad-password")
    async with ConnectorClient(spec, credentials=credentials, base_url=test_api) as client:
        with pytest.raises(AuthError) as caught:
            await client.call("list_items")
    assert "bad-password" not in str(caught.value)
    assert test_api_stats.get()["by_path"].get("/auth/custom/items", 0) == 0
