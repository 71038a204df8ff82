"""Authorization-code connections against oidc-provider: refresh grants and rotation.

Real tokens come from the authorization code flow with PKCE, run without a browser by driving
oidc-provider's dev login and consent forms (OidcProvider.authorization_code_tokens). The
server rotates the refresh token on every refresh, and reusing a rotated one is invalid_grant
and revokes the whole grant, so the runtime must always refresh with the newest token and hand
each new one to ``on_tokens``.

The stored access token is made invalid by letting it expire (client short-web, SHORT_TTL s).
Revoking it would not do: oidc-provider's revocation endpoint revokes every token of the grant,
the refresh token included, even when only the access token is named.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from oauth_support import SHORT_TTL, OidcProvider, ResourceServer, WireLog

from connectory.errors import AuthError
from connectory.runtime import ConnectorClient
from connectory.spec.loader import load_connector

pytestmark = [pytest.mark.integration, pytest.mark.peers]

SPEC = load_connector(Path(__file__).with_name("authorization-code.yaml"))
WEB_APP = ("web-app", "web-app-secret")
SHORT_WEB = ("short-web", "short-web-secret")


class TokenStore:
    """Plays the owner of the connection: keeps what ``on_tokens`` hands over."""

    def __init__(self) -> None:
        self.updates: list[dict[str, str]] = []

    async def __call__(self, tokens: dict[str, str]) -> None:
        self.updates.append(dict(tokens))


def connect(
    oidc: OidcProvider,
    api_url: str,
    wire: WireLog,
    store: TokenStore,
    client: tuple[str, str] = WEB_APP,
    **tokens: str,
) -> ConnectorClient:
    return ConnectorClient(
        SPEC,
        credentials={"client_id": client[0], "client_secret": client[1], **tokens},
        connector_parameters={"issuer": oidc.issuer},
        base_url=api_url,
        transport=wire,
        on_tokens=store,
    )


async def test_expired_access_token_is_refreshed_and_rotations_reach_on_tokens(
    oidc: OidcProvider, oidc_api: tuple[ResourceServer, str], wire: WireLog
) -> None:
    api, api_url = oidc_api
    issued: dict[str, Any] = oidc.authorization_code_tokens(client_id="short-web")
    assert issued["expires_in"] == SHORT_TTL
    deadline = time.monotonic() + SHORT_TTL + 2
    while oidc.introspect(issued["access_token"])["active"]:
        assert time.monotonic() < deadline, "oidc-provider did not expire the access token"
        await asyncio.sleep(0.1)
    store = TokenStore()
    connection = connect(
        oidc,
        api_url,
        wire,
        store,
        client=SHORT_WEB,
        access_token=issued["access_token"],
        refresh_token=issued["refresh_token"],
    )
    async with connection as client:
        result = await client.call("whoami")
        # The stored token was refused on the server's own verdict, then refreshed once.
        assert api.refused == [issued["access_token"]]
        assert result.body["sub"] == "alice"
        assert result.body["client_id"] == "short-web"
        assert result.body["scope"] == "openid offline_access read"
        (refresh,) = wire.token_requests()
        assert WireLog.form(refresh) == {
            "grant_type": "refresh_token",
            "refresh_token": issued["refresh_token"],
        }
        assert refresh.headers["authorization"].startswith("Basic ")
        (first,) = store.updates
        assert first["access_token"] == api.tokens[0]
        assert first["refresh_token"] != issued["refresh_token"]  # rotated

        # Another 401: the next refresh must use the rotated token, not the original one.
        api.reject_next()
        await client.call("whoami")
        second_refresh = wire.token_requests()[1]
        assert WireLog.form(second_refresh)["refresh_token"] == first["refresh_token"]
        assert len(store.updates) == 2
        second = store.updates[1]
        assert second["refresh_token"] not in (first["refresh_token"], issued["refresh_token"])
        assert second["access_token"] == api.tokens[1]
        assert api.forced == 1 and len(wire.token_requests()) == 2

    # The server really rotated: the original refresh token is now refused, and that reuse
    # revokes the grant, so the newest tokens die with it.
    reused = oidc.token(
        {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}, SHORT_WEB
    )
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert oidc.introspect(second["access_token"])["active"] is False


async def test_a_connection_with_only_a_refresh_token_refreshes_before_the_first_call(
    oidc: OidcProvider, oidc_api: tuple[ResourceServer, str], wire: WireLog
) -> None:
    api, api_url = oidc_api
    issued = oidc.authorization_code_tokens(scope="offline_access read")
    store = TokenStore()
    async with connect(oidc, api_url, wire, store, refresh_token=issued["refresh_token"]) as client:
        first = await client.call("whoami")
        await client.call("whoami")
    assert first.body["scope"] == "offline_access read"
    assert api.refused == [] and api.forced == 0
    assert len(wire.token_requests()) == 1
    assert len(api.tokens) == 1
    assert [update["access_token"] for update in store.updates] == api.tokens
    assert store.updates[0]["refresh_token"] != issued["refresh_token"]


async def test_concurrent_401s_make_one_refresh_with_rotation(
    oidc: OidcProvider, oidc_api: tuple[ResourceServer, str], wire: WireLog
) -> None:
    """Six calls at once all meet a 401: exactly one refresh, or rotation revokes the grant.

    A second refresh would send the refresh token the first one rotated away; oidc-provider
    answers invalid_grant and revokes every token of the grant.
    """
    api, api_url = oidc_api
    issued = oidc.authorization_code_tokens()
    api.reject_token(issued["access_token"])
    store = TokenStore()
    connection = connect(
        oidc,
        api_url,
        wire,
        store,
        access_token=issued["access_token"],
        refresh_token=issued["refresh_token"],
    )
    async with connection as client:
        results = await asyncio.gather(*(client.call("whoami") for _ in range(6)))
        assert all(result.body["sub"] == "alice" for result in results)
    assert api.forced == 6
    assert len(wire.token_requests()) == 1
    (update,) = store.updates
    assert api.tokens == [update["access_token"]]
    assert oidc.introspect(update["access_token"])["active"] is True


async def test_bogus_refresh_token_is_invalid_grant_and_not_retried(
    oidc: OidcProvider, oidc_api: tuple[ResourceServer, str], wire: WireLog
) -> None:
    api, api_url = oidc_api
    bogus = "bogus-refresh-token-0123456789abcdefghijklmno"
    store = TokenStore()
    connection = connect(
        oidc, api_url, wire, store, access_token="bogus-access-token", refresh_token=bogus
    )
    async with connection as client:
        with pytest.raises(AuthError) as caught:
            await client.call("whoami")
    message = str(caught.value)
    assert "invalid_grant" in message
    assert caught.value.status_code == 400
    assert bogus not in message and "web-app-secret" not in message
    assert api.refused == ["bogus-access-token"]
    # A refresh request is never resent: with rotation, a resend could revoke the grant.
    assert len(wire.token_requests()) == 1
    assert store.updates == []


async def test_access_token_without_refresh_token_cannot_recover_from_a_401(
    oidc: OidcProvider, oidc_api: tuple[ResourceServer, str], wire: WireLog
) -> None:
    api, api_url = oidc_api
    issued = oidc.authorization_code_tokens(scope="openid read")
    store = TokenStore()
    async with connect(oidc, api_url, wire, store, access_token=issued["access_token"]) as client:
        assert (await client.call("whoami")).body["sub"] == "alice"
        oidc.revoke(issued["access_token"])
        with pytest.raises(AuthError) as caught:
            await client.call("whoami")
    assert caught.value.status_code == 401
    assert wire.token_requests() == []
    assert api.refused == [issued["access_token"]]


async def test_invalid_grant_on_refresh_does_not_blame_the_client_secret(
    oidc: OidcProvider, oidc_api: tuple[ResourceServer, str], wire: WireLog
) -> None:
    _, api_url = oidc_api
    connection = connect(oidc, api_url, wire, TokenStore(), refresh_token="revoked-long-ago")
    async with connection as client:
        with pytest.raises(AuthError) as caught:
            await client.call("whoami")
    assert "invalid_grant" in str(caught.value)
    assert "client id and secret" not in str(caught.value)
    assert "reconnect the account" in str(caught.value)
