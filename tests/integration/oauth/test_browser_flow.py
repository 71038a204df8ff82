"""The authorization code flow in a real browser (Debian's chromium, driven by Playwright).

A person signs in to the web UI, starts "New connection" for an OAuth connector, logs in and
consents on oidc-provider's own pages, and lands back on the new connection. And a person with
a connect link does the same on a narrow screen with the keyboard only.

The browser resolves no name and loads nothing but 127.0.0.1 (the provider's dev pages link a
web font; that request is refused here).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flow_support import Deployment, deployment, publish
from oauth_support import OidcProvider, ResourceServer

from testkit.skips import missing

pytestmark = [pytest.mark.integration, pytest.mark.peers]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # No DNS look-up leaves the machine: every name but loopback fails to resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


# Module scope: Playwright's sync API keeps an event loop running in its thread until it stops.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        missing(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright Python package is missing: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def live(
    tmp_path: Path, oidc: OidcProvider, oidc_api: tuple[ResourceServer, str]
) -> Iterator[Deployment]:
    with deployment(tmp_path, oidc.issuer, oidc_api[1]) as running:
        yield running


@pytest.fixture
def context_for(browser: Any) -> Iterator[Any]:
    contexts: list[Any] = []
    errors: list[str] = []
    elsewhere: list[str] = []

    def open_context(**options: Any) -> Any:
        context = browser.new_context(**options)
        contexts.append(context)

        def only_loopback(route: Any) -> None:
            if route.request.url.startswith("http://127.0.0.1:"):
                route.continue_()
            else:
                elsewhere.append(route.request.url)
                route.abort()

        context.route("**/*", only_loopback)
        context.on("page", lambda page: page.on("pageerror", lambda e: errors.append(str(e))))
        return context

    yield open_context
    for context in contexts:
        context.close()
    assert not errors, f"uncaught JavaScript errors: {errors}"
    # The provider's pages ask for a web font; nothing else may leave loopback.
    assert all("fonts.googleapis.com" in url for url in elsewhere), elsewhere


def sign_in_at_provider(page: Any) -> None:
    """Log in and consent on oidc-provider's own pages."""
    page.get_by_placeholder("Enter any login").fill("alice")
    page.get_by_placeholder("and password").fill("any")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def test_new_connection_in_the_builder_authorizes_at_the_provider(
    live: Deployment, context_for: Any
) -> None:
    page = context_for(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live.url}/ui/#/signin")
    page.get_by_label("API token").fill(live.tokens["a_admin"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Connectors").wait_for()
    page.goto(f"{live.url}/ui/#/connections/new")
    page.get_by_label("Connection name").fill("Notes from the browser")
    page.get_by_role("button", name="Authorize with OIDC Notes").click()
    page.wait_for_url("**/interaction/**")
    sign_in_at_provider(page)
    # Back in Connectory, on the new connection's page.
    page.get_by_role("heading", name="Notes from the browser").wait_for()
    page.get_by_text("Authorized").first.wait_for()
    assert "connectory_status" not in page.url
    with live.api("a_admin") as api:
        (connection,) = api.get("/connections").json()["items"]
        assert connection["name"] == "Notes from the browser"
        ran = api.post(f"/connections/{connection['id']}/operations/whoami")
        assert ran.status_code == 200 and ran.json()["body"]["sub"] == "alice"


def test_the_builder_shows_the_redirect_uri(live: Deployment, context_for: Any) -> None:
    page = context_for(viewport={"width": 1280, "height": 800}).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live.url}/ui/#/signin")
    page.get_by_label("API token").fill(live.tokens["platform"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Connectors").wait_for()
    page.goto(f"{live.url}/ui/#/connectors/{live.connector_id}/auth")
    uri = page.locator("#oauth-redirect-uri")
    uri.filter(has_text="/oauth/callback").wait_for()
    assert uri.inner_text() == f"{live.url}/oauth/callback"


def _tab_to(page: Any, name: str, limit: int = 20) -> None:
    """Press Tab until the focused element is the one named *name*."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement; return (e.labels && e.labels[0] && "
            "e.labels[0].textContent) || e.textContent || e.getAttribute('name') || ''; }"
        )
        if name in focused:
            return
    raise AssertionError(f"{name!r} cannot be reached with the keyboard")


def _fits(page: Any) -> bool:
    width: bool = page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    return width


def test_a_connect_link_on_a_phone_with_the_keyboard_only(
    live: Deployment, context_for: Any
) -> None:
    with live.api("a_admin") as api:
        link = api.post(
            "/connect-links", json={"connector_id": live.connector_id, "name": "Phone notes"}
        ).json()
    phone = {"width": 360, "height": 740}
    page = context_for(viewport=phone, is_mobile=True, has_touch=True).new_page()
    page.set_default_timeout(15_000)
    page.goto(link["url"])
    page.get_by_role("heading", name="OIDC Notes").wait_for()
    assert _fits(page), "the connect page scrolls sideways on a 360 px screen"
    _tab_to(page, "Authorize with OIDC Notes")
    page.keyboard.press("Enter")
    page.wait_for_url("**/interaction/**")
    sign_in_at_provider(page)
    page.get_by_role("heading", name="Connected").wait_for()
    assert _fits(page)
    assert "Phone notes" in page.content()


def test_a_credential_form_link_with_the_keyboard_only(
    live: Deployment, context_for: Any, oidc: OidcProvider
) -> None:
    connector_id = publish(
        live,
        "http://127.0.0.1:9",
        {
            "slug": "notes-key",
            "name": "Notes by key",
            "auth": {
                "auth_type": "api_key",
                "credential_schema": {
                    "api_key": {
                        "label": "API key",
                        "type": "password",
                        "required": True,
                        "help": "Settings > API access",
                    },
                    "region": {
                        "label": "Region",
                        "type": "string",
                        "enum": ["eu", "us"],
                        "required": True,
                    },
                },
            },
        },
    )
    with live.api("a_admin") as api:
        link = api.post("/connect-links", json={"connector_id": connector_id}).json()
    page = context_for(viewport={"width": 360, "height": 740}).new_page()
    page.set_default_timeout(15_000)
    page.goto(link["url"])
    assert _fits(page)
    # Submitting empty: the errors are announced and tied to their fields.
    _tab_to(page, "Connect")
    page.keyboard.press("Enter")
    page.get_by_role("alert").wait_for()
    key = page.get_by_label("API key")
    assert key.get_attribute("aria-invalid") == "true"
    assert "e-api_key" in (key.get_attribute("aria-describedby") or "")
    _tab_to(page, "API key")
    page.keyboard.type("k3y-value")
    _tab_to(page, "Region")
    page.keyboard.press("ArrowDown")  # from the first region to the next
    assert page.get_by_label("Region").input_value() == "us"
    _tab_to(page, "Connect")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Connected").wait_for()
    with live.api("a_admin") as api:
        names = [c["name"] for c in api.get("/connections").json()["items"]]
        assert names == ["Notes by key"]
