"""Authorization code grants: authorize URL, PKCE, code exchange, token responses, keepers,
invalid_grant and revocation (auth/oauth2.py, auth/grants.py, auth/pkce.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from connectory.auth.grants import TokenPaths, TokenSet, read_token_response
from connectory.auth.pkce import new_verifier, s256_challenge
from connectory.errors import AuthError, InputError
from connectory.spec.auth import TokenResponseSpec

from .support import (
    CLIENT_ID,
    CLIENT_SECRET,
    TOKEN_URL,
    FakeClock,
    Provider,
    build_client,
    build_spec,
    form_of,
)

AUTHORIZE_URL = "https://auth.example.com/oauth/authorize?tenant=acme"


def _code_flow(**fields: Any) -> dict[str, Any]:
    return {
        "auth_type": "oauth2",
        "grant_type": "authorization_code",
        "authorization_url": AUTHORIZE_URL,
        "token_url": TOKEN_URL,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scopes": ["read", "write"],
        **fields,
    }


class FakeKeeper:
    """A TokenKeeper in memory: what is stored, and what each call saw."""

    def __init__(self, stored: TokenSet | None = None) -> None:
        self.stored = stored
        self.saved: list[TokenSet] = []
        self.rejections: list[str] = []
        self.locks = 0

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[TokenSet | None]:
        self.locks += 1
        yield self.stored

    async def save(self, tokens: TokenSet) -> None:
        self.saved.append(tokens)
        self.stored = tokens

    async def reject(self, reason: str) -> None:
        self.rejections.append(reason)


def test_pkce_s256_matches_rfc_7636_appendix_b() -> None:
    assert (
        s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    verifier = new_verifier()
    assert 43 <= len(verifier) <= 128 and verifier != new_verifier()


def test_authorize_url_keeps_the_flows_parameters_out_of_the_connectors_reach() -> None:
    spec = build_spec(
        _code_flow(
            authorize_params={"access_type": "offline", "state": "fixed", "prompt": "consent"}
        )
    )
    client = build_client(spec, Provider())
    url = client.oauth2.authorization_url("st-1", "https://c.example/oauth/callback", "ch-1")
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.netloc == "auth.example.com" and parts.path == "/oauth/authorize"
    assert query == {
        "tenant": "acme",
        "access_type": "offline",
        "prompt": "consent",
        "state": "st-1",
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": "https://c.example/oauth/callback",
        "scope": "read write",
        "code_challenge": "ch-1",
        "code_challenge_method": "S256",
    }
    without = build_client(build_spec(_code_flow(pkce=False)), Provider())
    assert "code_challenge" not in without.oauth2.authorization_url("s", "https://x/cb", None)


def test_a_client_credentials_connector_has_nothing_to_authorize() -> None:
    spec = build_spec({**_code_flow(), "grant_type": "client_credentials"})
    with pytest.raises(AuthError, match="authorization_code"):
        build_client(spec, Provider()).oauth2.authorization_url("s", "https://x/cb", None)
    api_key = build_spec({"auth_type": "api_key", "api_key": "k"})
    with pytest.raises(InputError, match="does not use OAuth2"):
        _ = build_client(api_key, Provider()).oauth2


async def test_code_exchange_sends_the_verifier_and_returns_the_grant() -> None:
    provider = Provider(expires_in=600)
    provider.rotate_refresh_token = True
    clock = FakeClock()
    client = build_client(build_spec(_code_flow()), provider, clock=clock)
    async with client:
        grant = await client.oauth2.exchange_code("the-code-123", "https://c/cb", "verifier-xyz")
    (request,) = provider.token_requests
    assert form_of(request) == {
        "grant_type": "authorization_code",
        "code": "the-code-123",
        "redirect_uri": "https://c/cb",
        "code_verifier": "verifier-xyz",
    }
    assert grant.access_token == "at-1-abcdef" and grant.refresh_token == "rt-rotated-1"
    assert grant.expires_at is not None
    # The code and verifier are secrets wherever they might be echoed.
    assert "the-code-123" not in client.redactor.redact("x the-code-123 verifier-xyz")
    assert "verifier-xyz" not in client.redactor.redact("verifier-xyz")


def test_token_responses_in_other_shapes() -> None:
    paths = TokenPaths.of(
        TokenResponseSpec(
            access_token="data.token", expires_in="data.ttl", scope="data.scopes",
            refresh_token="data.renew",
        )
    )  # fmt: skip
    body = {"data": {"token": 12345, "ttl": "60", "scopes": ["a", "b"], "renew": "r-1"}}
    grant = read_token_response(body, paths, now=1000.0, refresh_token_lifetime=86400)
    assert grant == TokenSet("12345", "r-1", 1060.0, 87400.0, "a b")
    with pytest.raises(AuthError, match=r"no access_token at 'data\.token'"):
        read_token_response({"data": {}}, paths, now=0)
    # A refresh response may leave out the refresh token and the scope: both are kept.
    old = TokenSet("a1", "r1", 10.0, 99.0, "read")
    assert old.rotated(TokenSet("a2", None, 20.0)) == TokenSet("a2", "r1", 20.0, 99.0, "read")


async def test_a_grant_refreshed_by_another_holder_is_adopted_not_refreshed_again() -> None:
    provider = Provider()
    now = time.time()  # stored expiry is wall-clock time
    newer = TokenSet("at-newer", "rt-newer", now + 3600, None, "read")
    provider.valid.add("at-newer")
    keeper = FakeKeeper(stored=newer)
    ours = TokenSet("at-old", "rt-old", now - 5)  # expired
    client = build_client(build_spec(_code_flow()), provider, tokens=ours, token_keeper=keeper)
    async with client:
        result = await client.call("me")
    assert result.body == {"ok": True, "token": "at-newer"}
    assert provider.token_requests == [] and keeper.saved == [] and keeper.locks == 1
    assert client.oauth2.grant == newer


async def test_a_refresh_inside_the_lock_is_stored_and_rejected_tokens_are_not_adopted() -> None:
    provider = Provider()
    provider.rotate_refresh_token = True
    ours = TokenSet("at-old", "rt-0", None)
    keeper = FakeKeeper(stored=ours)  # the store holds the very token the API rejects
    client = build_client(build_spec(_code_flow()), provider, tokens=ours, token_keeper=keeper)
    async with client:
        result = await client.call("me")
    assert result.body["ok"] is True
    (refresh,) = provider.token_requests
    assert form_of(refresh) == {"grant_type": "refresh_token", "refresh_token": "rt-0"}
    (saved,) = keeper.saved
    assert saved.access_token == "at-1-abcdef" and saved.refresh_token == "rt-rotated-1"


async def test_invalid_grant_marks_the_connection_and_stops_calling_the_provider() -> None:
    provider = Provider()
    provider.token_error = (400, {"error": "invalid_grant", "error_description": "revoked"})
    keeper = FakeKeeper()
    client = build_client(
        build_spec(_code_flow()), provider, tokens=TokenSet(None, "rt-dead"), token_keeper=keeper
    )
    async with client:
        with pytest.raises(AuthError) as first:
            await client.call("me")
        with pytest.raises(AuthError) as second:
            await client.call("me")
        with pytest.raises(AuthError):
            await client.oauth2.refresh()
    assert first.value.reauthorize and second.value.reauthorize
    assert "re-authorize" in str(second.value) and "rt-dead" not in str(first.value)
    assert len(provider.token_requests) == 1 and provider.api_requests == []
    assert len(keeper.rejections) == 1


async def test_revocation_revokes_the_refresh_then_the_access_token() -> None:
    seen: list[httpx.Request] = []

    async def revocation(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    spec = build_spec(_code_flow(revocation_url="https://auth.example.com/oauth/revoke"))
    client = build_client(spec, revocation, tokens=TokenSet("at-9", "rt-9"))
    async with client:
        assert await client.oauth2.revoke() == ["refresh_token", "access_token"]
    assert [form_of(r) for r in seen] == [
        {"token": "rt-9", "token_type_hint": "refresh_token"},
        {"token": "at-9", "token_type_hint": "access_token"},
    ]
    assert all(r.headers["Authorization"].startswith("Basic ") for r in seen)
    # No revocation URL: nothing is sent.
    quiet = build_client(build_spec(_code_flow()), revocation, tokens=TokenSet("a", "r"))
    async with quiet:
        assert await quiet.oauth2.revoke() == []
    assert len(seen) == 2


async def test_a_refused_revocation_is_an_error_with_the_status() -> None:
    async def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client"})

    spec = build_spec(_code_flow(revocation_url="https://auth.example.com/oauth/revoke"))
    async with build_client(spec, refuse, tokens=TokenSet("at-9", "rt-9")) as client:
        with pytest.raises(AuthError, match="status 401"):
            await client.oauth2.revoke()
