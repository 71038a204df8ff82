"""OAuth2 client credentials against oidc-provider, a strict, OpenID Certified server.

The protected API (protected_api.py) accepts a token only when oidc-provider's introspection
endpoint says it is active, so "the call succeeded" means the real server issued that token to
that client. The runtime's requests are recorded on the wire (WireLog) to count token requests.

Surprises, all oidc-provider behaving as documented:

* client_secret_basic and client_secret_post are interchangeable there: a client registered
  for one may authenticate with the other. Which one the runtime used is therefore checked on
  the wire, not inferred from success.
* HTTP Basic credentials are form-decoded (RFC 6749 2.3.1), so cc-basic's secret
  ``b+s:%2F ~!`` only works when the runtime encodes it; sent unencoded it is invalid_client.
* A scope the server does not know is dropped silently (RFC 6749 3.3 lets a server issue
  fewer scopes); only a known scope the client may not have is ``invalid_scope``.
* Token lifetimes are whole seconds from a whole-second ``iat``: a token announced with
  ``expires_in: 2`` can stop being valid after 1 s. The runtime renews 10% before the announced
  expiry, so such a token can meet a 401; the one re-fetch after a 401 covers it.
"""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest
from oauth_support import CC_BASIC_SECRET, SHORT_TTL, OidcProvider, ResourceServer, WireLog

from connectory.errors import AuthError
from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec
from connectory.spec.loader import load_connector, load_connector_data

pytestmark = [pytest.mark.integration, pytest.mark.peers]

SPEC = load_connector(Path(__file__).with_name("client-credentials.yaml"))

CLIENTS = {
    "basic": ("cc-basic", CC_BASIC_SECRET),
    "body": ("cc-post", "cc-post-secret"),
}


def spec_with(**auth: Any) -> ConnectorSpec:
    """The client-credentials connector with some auth fields changed."""
    document = SPEC.model_dump(mode="json", by_alias=True, exclude_none=True)
    document["auth"].update(auth)
    return load_connector_data(document)


def connect(
    spec: ConnectorSpec,
    oidc: OidcProvider,
    api_url: str,
    wire: WireLog,
    client: tuple[str, str],
    **options: Any,
) -> ConnectorClient:
    client_id, client_secret = client
    return ConnectorClient(
        spec,
        credentials={"client_id": client_id, "client_secret": client_secret},
        connector_parameters={"issuer": oidc.issuer},
        base_url=api_url,
        transport=wire,
        **options,
    )


@pytest.mark.parametrize("method", ["basic", "body"])
async def test_one_token_for_many_calls_and_exactly_one_refetch_after_a_401(
    oidc: OidcProvider, oidc_api: tuple[ResourceServer, str], wire: WireLog, method: str
) -> None:
    api, api_url = oidc_api
    client_id, secret = CLIENTS[method]
    spec = spec_with(client_authentication=method)
    async with connect(spec, oidc, api_url, wire, CLIENTS[method]) as client:
        first = await client.call("whoami")
        # The token the API accepted was issued by oidc-provider to this client, scope read.
        assert first.body["client_id"] == client_id
        assert first.body["scope"] == "read"
        # Sequential calls, concurrent calls and a 3-page read all share that one token.
        for _ in range(4):
            await client.call("whoami")
        await asyncio.gather(*(client.call("whoami") for _ in range(8)))
        items = [item async for item in client.iter_records("list_items")]
        assert [item["id"] for item in items] == list(range(1, 26))

        assert len(wire.token_requests()) == 1
        assert len(api.tokens) == 1
        assert api.accepted[api.tokens[0]] == 1 + 4 + 8 + 3

        # The token on the wire: HTTP Basic with the RFC 6749 form-encoded pair, or the body.
        token_request = wire.token_requests()[0]
        form = WireLog.form(token_request)
        assert form["grant_type"] == "client_credentials"
        assert form["scope"] == "read"
        if method == "basic":
            scheme, _, encoded = token_request.headers["authorization"].partition(" ")
            pair = base64.b64decode(encoded).decode()
            assert scheme == "Basic" and pair.count(":") == 1
            sent_id, sent_secret = pair.split(":")
            assert (unquote_plus(sent_id), unquote_plus(sent_secret)) == (client_id, secret)
            assert "client_secret" not in form
        else:
            assert "authorization" not in token_request.headers
            assert form["client_id"] == client_id
            assert form["client_secret"] == secret

        # One forced 401: the runtime drops the token, fetches one new token, and succeeds.
        api.reject_next()
        again = await client.call("whoami")
        assert again.status_code == 200
        assert api.forced == 1
        assert len(wire.token_requests()) == 2
        assert len(api.tokens) == 2
        # ... and keeps the new token for later calls.
        await client.call("whoami")
        assert len(wire.token_requests()) == 2
        assert api.accepted[api.tokens[1]] == 2
        # The secret is nowhere in what the result reports about the request.
        assert secret not in str(again.request)


async def test_concurrent_calls_share_one_fetch_and_one_refetch(
    oidc: OidcProvider, oidc_api: tuple[ResourceServer, str], wire: WireLog
) -> None:
    """Eight calls at once on a fresh connection, then eight at once that all meet a 401."""
    api, api_url = oidc_api
    async with connect(SPEC, oidc, api_url, wire, CLIENTS["body"]) as client:
        results = await asyncio.gather(*(client.call("whoami") for _ in range(8)))
        assert {result.body["client_id"] for result in results} == {"cc-post"}
        assert len(wire.token_requests()) == 1
        (first_token,) = api.tokens
        api.reject_token(first_token)  # as if the API had revoked it
        results = await asyncio.gather(*(client.call("whoami") for _ in range(8)))
        assert all(result.status_code == 200 for result in results)
    assert api.forced == 8
    assert len(wire.token_requests()) == 2
    assert api.accepted[api.tokens[1]] == 8


async def test_a_second_401_is_not_retried_again(
    oidc: OidcProvider, oidc_api: tuple[ResourceServer, str], wire: WireLog
) -> None:
    api, api_url = oidc_api
    async with connect(SPEC, oidc, api_url, wire, CLIENTS["basic"]) as client:
        await client.call("whoami")
        api.reject_next(2)
        with pytest.raises(AuthError) as caught:
            await client.call("whoami")
    assert caught.value.status_code == 401
    assert api.forced == 2
    assert len(wire.token_requests()) == 2  # the first token, and exactly one re-fetch


async def test_expired_tokens_are_renewed_from_expires_in_or_after_the_401(
    oidc: OidcProvider, oidc_api: tuple[ResourceServer, str]
) -> None:
    """Two connections of the client short-cc, whose tokens live SHORT_TTL seconds.

    ``on_time`` reads the real clock, so it renews before sending once the announced lifetime
    has passed; ``stale`` has a frozen clock, so it sends the expired token, which the
    authorization server refuses, and must recover with one re-fetch.
    """
    api, api_url = oidc_api
    on_time_wire, stale_wire = WireLog(), WireLog()
    client_pair = ("short-cc", "short-cc-secret")
    on_time = connect(SPEC, oidc, api_url, on_time_wire, client_pair)
    stale = connect(SPEC, oidc, api_url, stale_wire, client_pair, clock=lambda: 0.0)
    async with on_time, stale:
        fetched_at = time.monotonic()
        await on_time.call("whoami")
        await stale.call("whoami")
        first_tokens = set(api.tokens)
        assert len(first_tokens) == 2
        assert len(on_time_wire.token_requests()) == 1

        # Wait until oidc-provider itself says both tokens are dead, and the announced
        # lifetime has passed on the real clock.
        deadline = fetched_at + SHORT_TTL + 2
        while any(oidc.introspect(token)["active"] for token in first_tokens):
            assert time.monotonic() < deadline, "oidc-provider did not expire the tokens"
            await asyncio.sleep(0.1)
        await asyncio.sleep(max(0.0, fetched_at + SHORT_TTL + 0.05 - time.monotonic()))

        await on_time.call("whoami")
        assert len(on_time_wire.token_requests()) == 2
        assert api.refused == []  # renewed before sending: the expired token never left

        await stale.call("whoami")
        assert len(stale_wire.token_requests()) == 2
        assert len(api.refused) == 1 and api.refused[0] in first_tokens
        assert api.forced == 0
    assert len(set(api.tokens) - first_tokens) == 2


async def test_wrong_secret_is_invalid_client_without_the_secret(
    oidc: OidcProvider, oidc_api: tuple[ResourceServer, str], wire: WireLog
) -> None:
    api, api_url = oidc_api
    wrong = "wrong+secret:%2F"
    for method, client_id in (("basic", "cc-basic"), ("body", "cc-post")):
        spec = spec_with(client_authentication=method)
        async with connect(spec, oidc, api_url, wire, (client_id, wrong)) as client:
            with pytest.raises(AuthError) as caught:
                await client.call("whoami")
        message = str(caught.value)
        assert "invalid_client" in message
        assert caught.value.status_code == 401
        for form in (wrong, "wrong%2Bsecret%3A%252F", "wrong secret", "secret:%2F"):
            assert form not in message
        basic = base64.b64encode(f"{client_id}:wrong%2Bsecret%3A%252F".encode()).decode()
        assert basic not in message
    # A refused client is not retried, and the API is never called.
    assert len(wire.token_requests()) == 2
    assert api.accepted == {} and api.forced == 0 and api.refused == []


def test_cc_basic_secret_really_needs_form_encoding(oidc: OidcProvider) -> None:
    """Control for the basic case above: the unencoded pair is refused by oidc-provider."""
    raw = base64.b64encode(f"cc-basic:{CC_BASIC_SECRET}".encode()).decode()
    response = httpx.post(
        f"{oidc.issuer}/token",
        headers={"Authorization": f"Basic {raw}"},
        data={"grant_type": "client_credentials"},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_scope_the_client_may_not_have_is_invalid_scope(
    oidc: OidcProvider, oidc_api: tuple[ResourceServer, str], wire: WireLog
) -> None:
    _, api_url = oidc_api
    spec = spec_with(scopes="read admin")
    async with connect(spec, oidc, api_url, wire, CLIENTS["basic"]) as client:
        with pytest.raises(AuthError) as caught:
            await client.call("whoami")
    assert "invalid_scope" in str(caught.value)
    assert "requested scope is not allowed" in str(caught.value)
    assert caught.value.status_code == 400
    assert CC_BASIC_SECRET not in str(caught.value)


async def test_scope_the_server_does_not_know_is_dropped(
    oidc: OidcProvider, oidc_api: tuple[ResourceServer, str], wire: WireLog
) -> None:
    _, api_url = oidc_api
    spec = spec_with(scopes=["read", "no-such-scope"])
    async with connect(spec, oidc, api_url, wire, CLIENTS["body"]) as client:
        result = await client.call("whoami")
    assert WireLog.form(wire.token_requests()[0])["scope"] == "read no-such-scope"
    assert result.body["scope"] == "read"
