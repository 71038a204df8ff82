"""Connect links: a person opens the link, authorizes (or fills in the form), and is done.

The page is plain HTML: these tests read it as a browser would, and a Playwright test
(test_browser_flow.py) drives it with the keyboard on a narrow screen.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
from flow_support import Deployment, deployment, drive_provider, publish
from oauth_support import OidcProvider, ResourceServer

pytestmark = [pytest.mark.integration, pytest.mark.peers]


@pytest.fixture
def live(
    tmp_path: Path, oidc: OidcProvider, oidc_api: tuple[ResourceServer, str]
) -> Iterator[Deployment]:
    with deployment(tmp_path, oidc.issuer, oidc_api[1]) as running:
        yield running


def make_link(live: Deployment, connector_id: str, **body: object) -> dict[str, object]:
    with live.api("a_admin") as api:
        created = api.post("/connect-links", json={"connector_id": connector_id, **body})
        assert created.status_code == 201, created.text
        link: dict[str, object] = created.json()
        return link


def test_a_link_shows_the_connector_and_authorizes_once(live: Deployment) -> None:
    link = make_link(live, live.connector_id, name="Support inbox")
    url = str(link["url"])
    assert url.startswith(f"{live.url}/connect/") and link["status"] == "open"
    with live.browser() as browser:
        page = browser.get(url)
        assert page.status_code == 200
        assert "OIDC Notes" in page.text and "Enterprise A" in page.text
        assert "Authorize with OIDC Notes" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert action is not None
        to_provider = browser.post(urljoin(url, action.group(1)))
        assert to_provider.status_code == 303
        assert "connectory_oauth_flow" in to_provider.headers["set-cookie"]
        assert "samesite=lax" in to_provider.headers["set-cookie"].lower()
        assert "httponly" in to_provider.headers["set-cookie"].lower()
        landed = drive_provider(
            browser, to_provider.headers["location"], f"{live.url}/oauth/callback"
        )
        assert landed.status_code == 200 and "Connected" in landed.text, landed.text
        # Spent: the page says so, and the link cannot start another flow.
        again = browser.get(url)
        assert again.status_code == 410 and "already used" in again.text
        assert browser.post(urljoin(url, action.group(1))).status_code == 410
    with live.api("a_admin") as api:
        (connection,) = api.get("/connections").json()["items"]
        assert connection["name"] == "Support inbox"
        (listed,) = api.get("/connect-links").json()
        assert listed["status"] == "used" and listed["connection_id"] == connection["id"]
        assert listed["url"] is None  # shown once, at creation
        assert api.post(f"/connections/{connection['id']}/operations/whoami").status_code == 200


def test_unknown_revoked_and_expired_links(live: Deployment) -> None:
    with live.browser() as browser:
        unknown = browser.get(f"{live.url}/connect/{'x' * 43}")
        assert unknown.status_code == 404 and "not valid" in unknown.text
        link = make_link(live, live.connector_id)
        with live.api("a_admin") as api:
            assert api.delete(f"/connect-links/{link['id']}").json()["status"] == "revoked"
            assert (
                api.delete(
                    f"/connect-links/{link['id']}", headers=live.headers("b_admin")
                ).status_code
                == 404
            )
        revoked = browser.get(str(link["url"]))
        assert revoked.status_code == 410 and "withdrawn" in revoked.text
        link = make_link(live, live.connector_id)
        live.sql(
            "UPDATE connect_links SET expires_at = '2000-01-01 00:00:00' WHERE id = ?", link["id"]
        )
        expired = browser.get(str(link["url"]))
        assert expired.status_code == 410 and "expired" in expired.text
    with live.api("a_viewer") as viewer:
        refused = viewer.post("/connect-links", json={"connector_id": live.connector_id})
        assert refused.status_code == 403


def test_a_link_for_a_credential_form(live: Deployment, oidc: OidcProvider) -> None:
    """A client-credentials connector: the form comes from credential_schema."""
    connector_id = publish(
        live,
        "http://127.0.0.1:9",
        {
            "slug": "notes-by-key",
            "name": "Notes by key",
            "parameters": {"issuer": {"type": "string", "required": True}},
            "auth": {
                "auth_type": "oauth2",
                "grant_type": "client_credentials",
                "token_url": "{{ connector_parameters.issuer }}/token",
                "credential_schema": {
                    "client_id": {
                        "label": "Client ID",
                        "type": "string",
                        "required": True,
                        "help": "From the provider's console",
                    },
                    "client_secret": {
                        "label": "Client secret",
                        "type": "password",
                        "required": True,
                    },
                },
            },
        },
    )
    link = make_link(live, connector_id)
    with live.browser() as browser:
        page = browser.get(str(link["url"]))
        assert page.status_code == 200
        assert '<label for="f-client_id">Client ID' in page.text
        assert 'type="password"' in page.text and "From the provider" in page.text
        # A required field left empty: the form again, with the problem next to the field;
        # the secret typed is never sent back into the page.
        missing = browser.post(str(link["url"]), data={"client_secret": "s3cret-value"})
        assert missing.status_code == 422
        assert 'aria-invalid="true"' in missing.text and "is required" in missing.text
        assert "s3cret-value" not in missing.text
        done = browser.post(
            str(link["url"]), data={"client_id": "cc-post", "client_secret": "cc-post-secret"}
        )
        assert done.status_code == 200 and "Connected" in done.text
        assert (
            browser.post(
                str(link["url"]), data={"client_id": "x", "client_secret": "y"}
            ).status_code
            == 410
        )
    with live.api("a_admin") as api:
        (connection,) = api.get("/connections").json()["items"]
        shown = api.get(f"/connections/{connection['id']}").json()
        assert shown["credentials"] == {"client_id": "cc-post", "client_secret": "********"}
