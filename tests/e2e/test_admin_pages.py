"""Administration in chromium: enterprises, users and roles, API tokens (shown once, revoked),
each within the role's rights; and a connection's page with its id to copy, health history
and call log. Every screen passes axe-core (no critical or serious violation)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from .conftest import Live, check_a11y, shoot

TOKEN = re.compile(r"^cty_\S{20,}$")


def _me(live: Live, secret: str) -> int:
    response = httpx.get(
        f"{live.url}/me", headers={"Authorization": f"Bearer {secret}"}, timeout=30
    )
    return response.status_code


def test_platform_admin_runs_enterprises_users_and_tokens(page_for: Any, live: Live) -> None:
    page = page_for("platform")
    nav = page.get_by_role("navigation", name="Main")
    for link in ("Enterprises", "Users", "API tokens"):
        expect(nav.get_by_role("link", name=link)).to_be_visible()

    # Enterprises: create two, rename one, delete the empty one.
    nav.get_by_role("link", name="Enterprises").click()
    expect(page.get_by_role("heading", name="Enterprises")).to_be_visible()
    for name in ("Globex", "Initech"):
        page.get_by_label("New enterprise name").fill(name)
        page.get_by_role("button", name="Create enterprise").click()
        expect(page.get_by_role("cell", name=name, exact=True)).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept("Globex Corp"))
    page.get_by_role("button", name="Rename Globex").click()
    expect(page.get_by_role("cell", name="Globex Corp", exact=True)).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete Initech").click()
    expect(page.get_by_role("cell", name="Initech", exact=True)).to_have_count(0)
    shoot(page, live, "admin-enterprises")
    check_a11y(page, "Enterprises")

    # Users of Globex Corp: create an enterprise admin, then make them a viewer.
    page.get_by_role("link", name="Users Globex Corp").click()
    expect(page.get_by_role("heading", name="Users of Globex Corp")).to_be_visible()
    expect(page.get_by_text("No users here yet")).to_be_visible()
    page.get_by_text("Create a user").click()
    page.get_by_label("Email").fill("gil@globex.test")
    page.get_by_label("Name", exact=True).fill("Gil")
    page.get_by_label("Role", exact=True).select_option("enterprise_admin")
    # The enterprise whose users are listed is chosen already.
    expect(page.get_by_label("Enterprise", exact=True)).to_have_value(re.compile(".+"))
    page.get_by_role("button", name="Create user").click()
    row = page.get_by_role("row", name=re.compile("gil@globex.test"))
    expect(row).to_contain_text("Globex Corp")
    role = page.get_by_label("Role of gil@globex.test")
    expect(role).to_have_value("enterprise_admin")
    role.select_option("viewer")
    expect(page.get_by_text("gil@globex.test is now viewer.")).to_be_visible()
    expect(page.get_by_label("Role of gil@globex.test")).to_have_value("viewer")
    shoot(page, live, "admin-users")
    check_a11y(page, "Users")

    # Gil's tokens: the secret is shown once and works; revoked, it no longer does.
    page.get_by_role("link", name="Tokens of gil@globex.test").click()
    expect(page.get_by_role("heading", name="API tokens of gil@globex.test")).to_be_visible()
    expect(page.get_by_text("No tokens: create one above.")).to_be_visible()
    page.get_by_label("Token name").fill("laptop")
    page.get_by_label("Expires after (days)").fill("30")
    page.get_by_role("button", name="Create token").click()
    secret_box = page.get_by_label("Secret")
    expect(secret_box).to_have_value(TOKEN)
    secret = secret_box.input_value()
    expect(page.get_by_role("heading", name='Token "laptop" created')).to_be_focused()
    row = page.get_by_role("row", name=re.compile("laptop"))
    expect(row).to_contain_text(secret[:8])
    expect(row).to_contain_text("active")
    assert secret not in page.locator("table").inner_text()
    shoot(page, live, "admin-token-created")
    check_a11y(page, "API tokens, a new secret shown")
    assert _me(live, secret) == 200

    page.reload()
    expect(page.get_by_role("heading", name="API tokens of gil@globex.test")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("laptop"))).to_be_visible()
    assert secret not in page.content()  # shown once only
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke laptop").click()
    expect(page.get_by_text("No tokens: create one above.")).to_be_visible()
    page.get_by_label("Show revoked tokens").check()
    expect(page.get_by_role("row", name=re.compile("laptop"))).to_contain_text("revoked")
    assert _me(live, secret) == 401


def test_enterprise_admin_manages_only_their_enterprise(page_for: Any, live: Live) -> None:
    page = page_for("ada")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Enterprises")).to_have_count(0)
    nav.get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("ada@acme.test"))).to_contain_text("(you)")
    expect(page.get_by_role("row", name=re.compile("vic@acme.test"))).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("@globex.test"))).to_have_count(0)
    # Nobody changes their own role; platform admin is not on offer.
    expect(page.get_by_label("Role of ada@acme.test")).to_be_disabled()
    options = page.get_by_label("Role of vic@acme.test").locator("option")
    expect(options).to_have_text(["enterprise admin", "viewer"])
    page.get_by_text("Create a user").click()
    expect(page.get_by_label("Enterprise", exact=True)).to_have_count(0)
    page.get_by_label("Email").fill("eve@acme.test")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("row", name=re.compile("eve@acme.test"))).to_contain_text("viewer")
    check_a11y(page, "Users (enterprise admin)")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete eve@acme.test").click()
    expect(page.get_by_role("row", name=re.compile("eve@acme.test"))).to_have_count(0)

    # The enterprises page says who it is for.
    page.goto(f"{live.url}/ui/#/enterprises")
    expect(page.get_by_text("Only platform admins manage enterprises.")).to_be_visible()


def test_a_viewer_has_their_own_tokens_only(page_for: Any, live: Live) -> None:
    page = page_for("viewer")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)
    nav.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="Your API tokens")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("e2e"))).to_contain_text("active")
    page.goto(f"{live.url}/ui/#/users")
    expect(page.get_by_role("heading", name="Your API tokens")).to_be_visible()
    check_a11y(page, "Your API tokens (viewer)")


@pytest.fixture(scope="module")
def connection_id(live: Live) -> str:
    document = {
        "name": "Admin Items",
        "slug": "admin-items",
        "base_url": live.test_api,
        "auth": {"auth_type": "none"},
        "operations": [{"name": "echo", "path": "/echo"}],
    }
    with live.client() as admin:
        created = admin.post("/connectors", json={"document": document})
        assert created.status_code == 201, created.text
        published = admin.post(f"/connectors/{created.json()['id']}/publish", json={})
        assert published.status_code in (200, 201), published.text
        connector_id = created.json()["id"]
    with live.client("ada") as ada:
        made = ada.post(
            "/connections",
            json={"connector_id": connector_id, "name": "Admin echo", "credentials": {}},
        )
        assert made.status_code == 201, made.text
        ran = ada.post(f"/connections/{made.json()['id']}/operations/echo", json={"params": {}})
        assert ran.status_code == 200, ran.text
        return str(made.json()["id"])


def test_connection_page_shows_its_id_health_history_and_calls(
    page_for: Any, live: Live, connection_id: str
) -> None:
    page = page_for("ada")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{live.url}/ui/#/connections/{connection_id}")
    expect(page.locator("#connection-id")).to_have_text(connection_id)
    page.get_by_role("button", name="Copy id").click()
    expect(page.get_by_text("Connection id copied.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == connection_id
    expect(page.get_by_role("heading", name="Health history")).to_be_visible()
    calls = page.locator("table.calls")
    expect(calls).to_contain_text("echo")
    shoot(page, live, "connection-id")
    check_a11y(page, "Connection")


def test_users_come_in_pages(page_for: Any, live: Live) -> None:
    with live.client() as admin:
        enterprise = admin.post("/enterprises", json={"name": "Paged Corp"}).json()
        for n in range(27):
            made = admin.post(
                "/users",
                json={
                    "email": f"user{n:02d}@paged.test",
                    "role": "viewer",
                    "enterprise_id": enterprise["id"],
                },
            )
            assert made.status_code == 201, made.text
    page = page_for("platform")
    page.goto(f"{live.url}/ui/#/users?enterprise={enterprise['id']}")
    pages = page.get_by_role("navigation", name="Pages of users")
    expect(pages).to_contain_text("1\u201325 of 27")
    expect(page.locator("table tbody tr")).to_have_count(25)
    pages.get_by_role("button", name="Next →").click()
    expect(pages).to_contain_text("26\u201327 of 27")
    expect(page.locator("table tbody tr")).to_have_count(2)
    check_a11y(page, "Users, second page")
