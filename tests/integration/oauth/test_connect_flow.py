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
    assert live.sql("SELECT count(*) FROM secret_values WHERE owner_type = 'oauth_flow'") == [(0,)]


def _connection_count(live: Deployment) -> int:
    return int(live.sql("SELECT count(*) FROM connections")[0][0])


def _state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


def test_state_attacks_end_on_a_clear_page_and_change_nothing(
    live: Deployment, oidc: OidcProvider
) -> None:
    callback = f"{live.url}/oauth/callback"
    with live.browser() as browser:
        # Completed once: the same redirect back again is a replay.
        landed = connect(live, browser)
        assert landed.status_code == 200 and "Connected" in landed.text
        assert _connection_count(live) == 1
        replay = browser.get(str(landed.request.url))
        assert replay.status_code == 400
        assert "already completed" in replay.text and "Nothing was changed" in replay.text

        # A state Connectory never issued.
        forged = browser.get(callback, params={"state": "forged-" + "x" * 40, "code": "abc"})
        assert forged.status_code == 400 and "did not start this authorization" in forged.text
        assert browser.get(callback).status_code == 400  # no state at all

        # Expired before the person came back.
        started = start(live, browser)
        live.sql("UPDATE oauth_flows SET expires_at = '2000-01-01 00:00:00' WHERE used_at IS NULL")
        expired = drive_provider(browser, started["authorize_url"], callback)
        assert expired.status_code == 400 and "expired" in expired.text

        # The person declines at the provider: access_denied.
        started = start(live, browser)
        denied = drive_provider(browser, started["authorize_url"], callback, abort=True)
        assert denied.status_code == 400, denied.text
        assert "declined" in denied.text and "access_denied" in str(denied.request.url)

        # A code the provider will not exchange (made up, or used already).
        started = start(live, browser)
        state = _state_of(started["authorize_url"])
        refused = browser.get(callback, params={"state": state, "code": "not-a-real-code"})
        assert refused.status_code == 400
        assert "could not exchange the authorization code" in refused.text
        assert "invalid_grant" in refused.text
    assert _connection_count(live) == 1

    # Another tenant's state (or an attacker's own flow handed to a victim): the state is
    # real, but it was started in another browser, so this one cannot complete it.
    with live.browser() as attacker, live.browser() as victim:
        started = start(live, attacker, user="b_admin")
        start(live, victim, user="a_admin")  # the victim has a flow cookie of their own
        hijacked = drive_provider(victim, started["authorize_url"], callback)
        assert hijacked.status_code == 400
        assert "not started in this browser" in hijacked.text
        # Still usable by the browser that started it (nothing was spent).
        finished = drive_provider(attacker, started["authorize_url"], callback)
        assert finished.status_code == 200 and "Connected" in finished.text
    with live.api("b_admin") as api:
        assert len(api.get("/connections").json()["items"]) == 1
    with live.api("a_admin") as api:
        assert len(api.get("/connections").json()["items"]) == 1


def test_another_tenants_connection_cannot_be_reauthorized(live: Deployment) -> None:
    with live.browser() as browser:
        assert connect(live, browser).status_code == 200
        with live.api("a_admin") as api:
            (connection,) = api.get("/connections").json()["items"]
        refused = browser.post(
            f"{live.url}/oauth/authorize",
            json={"connection_id": connection["id"]},
            headers=live.headers("b_admin"),
        )
        assert refused.status_code == 404
        viewer = browser.post(
            f"{live.url}/oauth/authorize",
            json={"connector_id": live.connector_id},
            headers=live.headers("a_viewer"),
        )
        assert viewer.status_code == 403


def test_return_urls_only_from_the_allowlist(live: Deployment) -> None:
    callback = f"{live.url}/oauth/callback"
    allowed = "https://app.example.test/integrations"
    with live.api("a_admin") as api:
        put = api.put(
            f"/enterprises/{live.enterprises['a']}/return-urls",
            json={"return_urls": [allowed]},
        )
        assert put.status_code == 200, put.text
    with live.browser() as browser:
        started = start(live, browser, return_url=f"{allowed}/done?x=1")
        back = drive_provider(browser, started["authorize_url"], callback)
        assert back.status_code == 303
        target = urlsplit(back.headers["location"])
        assert target.netloc == "app.example.test" and target.path == "/integrations/done"
        outcome = parse_qs(target.query)
        assert outcome["connectory_status"] == ["connected"] and outcome["x"] == ["1"]
        assert outcome["connection_id"]
        # Not on the list (another host, a look-alike path): the outcome page instead.
        for elsewhere in ("https://evil.example.test/", f"{allowed}-evil/x", "//evil.test/x"):
            started = start(live, browser, return_url=elsewhere)
            back = drive_provider(browser, started["authorize_url"], callback)
            assert back.status_code == 200 and "Connected" in back.text, elsewhere


def _stored_tokens(live: Deployment, connection_id: str) -> dict[str, str]:
    """The connection's tokens, decrypted with the server's own key ring (tests only)."""
    import asyncio

    from connectory.services.oauth_grants import GRANT_OWNER
    from connectory.services.secret_store import read_secrets
    from connectory.store import create_engine, create_sessionmaker

    async def read() -> dict[str, str]:
        engine = create_engine(f"sqlite+aiosqlite:///{live.database}")
        try:
            async with create_sessionmaker(engine)() as session:
                box = live.app.state.secret_box
                return await read_secrets(session, box, GRANT_OWNER, connection_id)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_rotation_reuse_detection_reauthorization_and_revocation_on_delete(
    live: Deployment, oidc: OidcProvider, oidc_api: tuple[ResourceServer, str]
) -> None:
    api_server, _ = oidc_api
    with live.browser() as browser:
        assert connect(live, browser).status_code == 200
    with live.api("a_admin") as api:
        (connection,) = api.get("/connections").json()["items"]
        path = f"/connections/{connection['id']}"
        first = _stored_tokens(live, connection["id"])
        assert api.post(f"{path}/operations/whoami").status_code == 200

        # The API stops accepting the access token: one refresh, with rotation, stored.
        before = counts(oidc)
        api_server.reject_token(first["access_token"])
        ran = api.post(f"{path}/operations/whoami")
        assert ran.status_code == 200, ran.text
        assert delta(before, counts(oidc)) == {"connectory refresh_token 200": 1}
        second = _stored_tokens(live, connection["id"])
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]
        assert api.get(path).json()["oauth"]["refreshed_at"] is not None

        # Someone replays the rotated-away refresh token: the provider detects the reuse and
        # revokes the whole grant. Connectory's next refresh meets invalid_grant.
        reused = oidc.token(
            {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
            ("connectory", "connectory-secret"),
        )
        assert reused.json()["error"] == "invalid_grant"
        assert oidc.introspect(second["access_token"])["active"] is False
        before = counts(oidc)
        failed = api.post(f"{path}/operations/whoami")
        assert failed.status_code == 502, failed.text
        assert "re-authorize" in failed.json()["detail"]
        shown = api.get(path).json()
        assert shown["health"] == "auth_error"
        assert shown["oauth"]["needs_reauthorization"] is True
        assert delta(before, counts(oidc)) == {"connectory refresh_token 400": 1}
        # From now on the provider is not called with the dead grant, nor is the API.
        before, seen = counts(oidc), len(api_server.refused) + api_server.forced
        for _ in range(3):
            again = api.post(f"{path}/operations/whoami")
            assert again.status_code == 502 and "re-authorize" in again.json()["detail"]
        tested = api.post(f"{path}/test").json()
        assert tested["status"] == "auth_failed" and "re-authorize" in tested["detail"]
        assert counts(oidc) == before
        assert len(api_server.refused) + api_server.forced == seen

    # A person authorizes again: same connection, a new grant, healthy again.
    with live.browser() as browser:
        again = connect(live, browser, connection_id=connection["id"], connector_id=None)
        assert again.status_code == 200 and "Authorized again" in again.text, again.text
    with live.api("a_admin") as api:
        assert len(api.get("/connections").json()["items"]) == 1
        shown = api.get(path).json()
        assert shown["oauth"]["needs_reauthorization"] is False
        assert api.post(f"{path}/operations/whoami").status_code == 200
        third = _stored_tokens(live, connection["id"])

        # Deleting the connection revokes its tokens at the provider (RFC 7009).
        before = counts(oidc)
        assert api.delete(path).status_code == 204
        assert delta(before, counts(oidc)) == {"connectory revocation 200": 2}
    assert oidc.introspect(third["access_token"])["active"] is False
    assert oidc.introspect(third["refresh_token"])["active"] is False
    assert _stored_tokens(live, connection["id"]) == {}


def test_idle_grants_are_refreshed_in_the_background_before_the_refresh_token_expires(
    tmp_path: Path, oidc: OidcProvider, oidc_api: tuple[ResourceServer, str]
) -> None:
    """The function the background engine calls, run as a worker would: its own runtimes."""
    import asyncio
    from datetime import timedelta

    from flow_support import publish_configured

    from connectory.services.generations import GenerationNotifier
    from connectory.services.oauth_refresh import refresh_expiring_grants
    from connectory.services.secret_store import SecretBox
    from connectory.services.server_runtime import create_runtimes, load_key_ring
    from connectory.store import create_engine, create_sessionmaker

    with deployment(tmp_path, oidc.issuer, oidc_api[1]) as live:
        # The provider does not say when refresh tokens expire; the connector does (1 hour).
        live.connector_id = publish_configured(
            live, oidc_api[1], oidc.issuer, {"slug": "notes-lifetime", "auth": _with_lifetime(3600)}
        )
        with live.browser() as browser:
            assert connect(live, browser).status_code == 200
        with live.api("a_admin") as api:
            (connection,) = api.get("/connections").json()["items"]
            path = f"/connections/{connection['id']}"
            granted = api.get(path).json()["oauth"]
            assert granted["refresh_expires_at"] is not None and granted["refreshed_at"] is None
            assert api.post(f"{path}/operations/whoami").status_code == 200
        old = _stored_tokens(live, connection["id"])
        settings = live.app.state.settings

        async def worker(horizon: timedelta) -> list[str]:
            engine = create_engine(settings.database_url)
            box = SecretBox(lambda: load_key_ring(settings))
            runtimes = create_runtimes(
                settings, create_sessionmaker(engine), box, GenerationNotifier()
            )
            try:
                report = await refresh_expiring_grants(runtimes, horizon=horizon)
                assert report.failed == [] and report.rejected == []
                return report.refreshed
            finally:
                await runtimes.aclose()
                await engine.dispose()

        before = counts(oidc)
        assert asyncio.run(worker(timedelta(minutes=30))) == []  # not due yet
        assert counts(oidc) == before
        assert asyncio.run(worker(timedelta(hours=2))) == [connection["id"]]
        assert delta(before, counts(oidc)) == {"connectory refresh_token 200": 1}
        new = _stored_tokens(live, connection["id"])
        assert new["refresh_token"] != old["refresh_token"]
        with live.api("a_admin") as api:
            refreshed = api.get(path).json()["oauth"]
            assert refreshed["refreshed_at"] is not None
            assert refreshed["refresh_expires_at"] > granted["refresh_expires_at"]
            # The server's warm client held the rotated-away grant; the generation bump made it
            # take the stored one, so it neither fails nor refreshes again.
            after = counts(oidc)
            assert api.post(f"{path}/operations/whoami").status_code == 200
            assert counts(oidc) == after


def _with_lifetime(seconds: int) -> dict[str, Any]:
    import yaml
    from flow_support import SPEC

    auth: dict[str, Any] = yaml.safe_load(SPEC.read_text())["auth"]
    return auth | {"refresh_token_lifetime": seconds}


def test_an_enterprise_uses_its_own_oauth_app(live: Deployment, oidc: OidcProvider) -> None:
    path = f"/connectors/{live.connector_id}/oauth-app"
    own = {"client_id": "short-connectory", "client_secret": "short-connectory-secret"}
    with live.api("a_admin") as api:
        assert api.get(path).json() == {
            "supported": True,
            "configured": False,
            "detail": "the catalogue's app",
        }
        assert api.put(path, json={**own, "client_secret": ""}).status_code == 422
        put = api.put(path, json=own)
        assert put.status_code == 200 and put.json()["configured"] is True
        assert "short-connectory-secret" not in put.text
    with live.api("a_viewer") as viewer:
        assert viewer.put(path, json=own).status_code == 403
    with live.api("platform") as platform:
        assert platform.put(path, json=own).status_code == 403
    with live.api("b_admin") as api:
        assert api.get(path).json()["configured"] is False  # A's app is A's alone

    before = counts(oidc)
    with live.browser() as browser:
        started = start(live, browser)
        assert parse_qs(urlsplit(started["authorize_url"]).query)["client_id"] == [own["client_id"]]
        landed = drive_provider(browser, started["authorize_url"], f"{live.url}/oauth/callback")
        assert landed.status_code == 200, landed.text
        other = start(live, browser, user="b_admin")
        assert parse_qs(urlsplit(other["authorize_url"]).query)["client_id"] == ["connectory"]
    assert delta(before, counts(oidc)) == {"short-connectory authorization_code 200": 1}
    with live.api("a_admin") as api:
        (connection,) = api.get("/connections").json()["items"]
        ran = api.post(f"/connections/{connection['id']}/operations/whoami")
        assert ran.json()["body"]["client_id"] == "short-connectory"
        # Back to the catalogue's app: the connection's client is rebuilt with it.
        assert api.delete(path).json()["configured"] is False
