"""OAuth2 against oauth2-mock-server: the shapes of a JWT-issuing server.

oauth2-mock-server accepts any client secret, code or refresh token, so it proves shapes, not
strictness (oidc-provider does that). The protected API verifies its tokens as a real API
would: RS256 signature against the published JWKS, then ``iss``, ``nbf`` and ``exp``.

Surprises:

* Its CLI cannot set a token lifetime (always 3600 s); mock-server.mjs sets MOCK_TTL through
  the library's beforeTokenSigning / beforeResponse hooks.
* It names its issuer ``http://localhost:PORT`` even when bound to 127.0.0.1;
  mock-server.mjs renames it.
* Client-credentials tokens carry no ``sub`` or ``client_id``, only ``iss iat exp nbf`` and
  ``scope`` / ``aud`` when asked for; the client is not identified at all.
* Tokens are deterministic: two requests in the same second with the same parameters get the
  very same token string (RS256 signatures have no randomness).
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from oauth_support import MOCK_TTL, ResourceServer, WireLog

from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec
from connectory.spec.loader import load_connector, load_connector_data

pytestmark = [pytest.mark.integration, pytest.mark.peers]

HERE = Path(__file__).resolve().parent


def spec(name: str, **auth: Any) -> ConnectorSpec:
    document = load_connector(HERE / name).model_dump(mode="json", by_alias=True, exclude_none=True)
    document["auth"].update(auth)
    return load_connector_data(document)


def jwt_part(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


class FakeClock:
    """Real monotonic time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


def test_token_response_and_jwt_shape(mock_oauth: str) -> None:
    response = httpx.post(
        f"{mock_oauth}/token",
        auth=("any-client", "any-secret"),
        data={"grant_type": "client_credentials", "scope": "read write", "aud": "my-api"},
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == MOCK_TTL
    assert body["scope"] == "read write"
    header, claims = jwt_part(body["access_token"], 0), jwt_part(body["access_token"], 1)
    jwks = httpx.get(f"{mock_oauth}/jwks").json()["keys"]
    assert header == {"typ": "JWT", "alg": "RS256", "kid": jwks[0]["kid"]}
    assert set(claims) == {"iss", "iat", "exp", "nbf", "scope", "aud"}
    assert claims["iss"] == mock_oauth
    assert claims["exp"] - claims["iat"] == MOCK_TTL
    assert claims["nbf"] <= claims["iat"] <= time.time() + 1
    assert claims["scope"] == "read write" and claims["aud"] == "my-api"
    discovery = httpx.get(f"{mock_oauth}/.well-known/openid-configuration").json()
    assert discovery["token_endpoint"] == f"{mock_oauth}/token"


async def test_client_credentials_happy_path_and_renewal_from_expires_in(
    mock_oauth: str, mock_api: tuple[ResourceServer, str], wire: WireLog
) -> None:
    api, api_url = mock_api
    clock = FakeClock()
    connection = ConnectorClient(
        spec("client-credentials.yaml", scopes=["read", "write"]),
        credentials={"client_id": "connectory", "client_secret": "anything"},
        connector_parameters={"issuer": mock_oauth},
        base_url=api_url,
        transport=wire,
        clock=clock,
    )
    async with connection as client:
        first = await client.call("whoami")
        assert first.body["iss"] == mock_oauth
        assert first.body["scope"] == "read write"
        assert first.body["exp"] - first.body["iat"] == MOCK_TTL
        items = [item async for item in client.iter_records("list_items")]
        assert len(items) == 25
        assert len(wire.token_requests()) == 1
        assert api.accepted[api.tokens[0]] == 4

        # The runtime renews 10% of the lifetime early: still cached at 89% ...
        clock.offset = MOCK_TTL * 0.89
        await client.call("whoami")
        assert len(wire.token_requests()) == 1
        # ... fetched again at 91%, so it read expires_in from the response.
        clock.offset = MOCK_TTL * 0.91
        await client.call("whoami")
        assert len(wire.token_requests()) == 2

        # One forced 401: one more token request, then success.
        api.reject_next()
        assert (await client.call("whoami")).status_code == 200
        assert len(wire.token_requests()) == 3
    assert api.forced == 1 and api.refused == []
    basic = wire.token_requests()[0].headers["authorization"]
    assert base64.b64decode(basic.removeprefix("Basic ")) == b"connectory:anything"


async def test_refresh_shape_new_refresh_token_each_time(
    mock_oauth: str, mock_api: tuple[ResourceServer, str], wire: WireLog
) -> None:
    """The mock answers a refresh with a new refresh token (a UUID); it reaches on_tokens."""
    api, api_url = mock_api
    updates: list[dict[str, str]] = []

    async def on_tokens(tokens: dict[str, str]) -> None:
        updates.append(tokens)

    connection = ConnectorClient(
        spec("authorization-code.yaml"),
        credentials={
            "client_id": "connectory",
            "client_secret": "anything",
            "refresh_token": "stored-refresh-token",
        },
        connector_parameters={"issuer": mock_oauth},
        base_url=api_url,
        transport=wire,
        on_tokens=on_tokens,
    )
    async with connection as client:
        result = await client.call("whoami")
        api.reject_next()
        await client.call("whoami")
    assert result.body["sub"] == "johndoe"
    refreshes = [WireLog.form(request) for request in wire.token_requests()]
    assert refreshes[0] == {"grant_type": "refresh_token", "refresh_token": "stored-refresh-token"}
    assert refreshes[1]["refresh_token"] == updates[0]["refresh_token"]
    assert len(updates) == 2 and updates[0]["refresh_token"] != updates[1]["refresh_token"]
