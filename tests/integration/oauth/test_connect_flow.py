"""The authorization code flow through Connectory, against oidc-provider (PKCE required).

A scripted browser (its own cookie jar) starts the flow in Connectory, signs in and consents on
the provider's own pages, and is sent back to ``/oauth/callback``, which creates the
connection. Then: the grant is used and refreshed with rotation, re-authorized, and revoked on
deletion (RFC 7009).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from flow_support import Deployment, deployment, drive_provider, start
from oauth_support import OidcProvider, ResourceServer

pytestmark = [pytest.mark.integration, pytest.mark.peers]


@pytest.fixture
def live(
    tmp_path: Path, oidc: OidcProvider, oidc_api: tuple[ResourceServer, str]
) -> Iterator[Deployment]:
    with deployment(tmp_path, oidc.issuer, oidc_api[1]) as running:
        yield running


def counts(oidc: OidcProvider) -> dict[str, int]:
    answer: dict[str, int] = httpx.get(f"{oidc.issuer}/__test/counts").json()
    return answer


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def connect(live: Deployment, browser: httpx.Client, **body: Any) -> httpx.Response:
    started = start(live, browser, **body)
    return drive_provider(browser, started["authorize_url"], f"{live.url}/oauth/callback")


def test_a_person_authorizes_and_the_connection_works(
    live: Deployment, oidc: OidcProvider, oidc_api: tuple[ResourceServer, str]
) -> None:
    before = counts(oidc)
    with live.browser() as browser:
        started = start(live, browser, name="Alice's notes")
        query = parse_qs(urlsplit(started["authorize_url"]).query)
        assert started["redirect_uri"] == f"{live.url}/oauth/callback"
        assert query["redirect_uri"] == [started["redirect_uri"]]
        assert query["code_challenge_method"] == ["S256"]
        assert query["prompt"] == ["consent"] and query["client_id"] == ["connectory"]
        cookie = browser.cookies.get("connectory_oauth_flow")
        assert cookie
        landed = drive_provider(browser, started["authorize_url"], f"{live.url}/oauth/callback")
    assert landed.status_code == 200, landed.text
    assert "Connected" in landed.text and "OIDC Notes" in landed.text
    with live.api("a_admin") as api:
        (summary,) = api.get("/connections").json()["items"]
        shown = api.get(f"/connections/{summary['id']}").json()
        assert shown["name"] == "Alice's notes"
        assert shown["oauth"]["needs_reauthorization"] is False
        assert shown["oauth"]["scope"] == "openid offline_access read"
        assert shown["credentials"] == {}  # the tokens are never shown, not even masked
        ran = api.post(f"/connections/{summary['id']}/operations/whoami")
        assert ran.status_code == 200, ran.text
        assert ran.json()["body"]["sub"] == "alice"
        assert ran.json()["body"]["client_id"] == "connectory"
    assert delta(before, counts(oidc)) == {"connectory authorization_code 200": 1}
    # The state and the verifier were used up; nothing of the flow is left in clear.
    assert live.sql("SELECT count(*) FROM oauth_flows WHERE used_at IS NULL") == [(0,)]
    assert live.sql("SELECT count(*) FROM secret_values WHERE owner_type = 'oauth_flow'") == [
        (0,)
    ]
