"""The web UI in Debian's chromium (Playwright), against a live server on loopback.

One server (tmp SQLite, the repository's examples) and the project's test API run for the
session; a platform admin, an enterprise admin with SDK access and a viewer sign in through the UI.
Screenshots go to a tmp folder, and to docs/screenshots/ with CONNECTORY_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectory.api import create_app
from connectory.settings import Settings
from connectory.testing import create_test_api, serve

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
TEST_API_KEY = "test-api-key"


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


@dataclass
class Live:
    """The running server, the test API and the users' tokens."""

    url: str
    test_api: str
    tokens: dict[str, str] = field(default_factory=dict)
    shots: Path = Path()

    def client(self, user: str = "platform") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data = tmp_path_factory.mktemp("e2e")
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{data / 'connectory.db'}",
        data_dir=data,
        egress_allow="127.0.0.1",
        examples_dir=REPO / "examples",
    )
    first: list[str] = []
    app = create_app(settings, on_first_admin_token=first.append)
    with serve(create_test_api()) as test_api, serve(app) as url:
        state = Live(url=url, test_api=test_api, tokens={"platform": first[0]})
        state.shots = data / "screenshots"
        state.shots.mkdir()
        with state.client() as admin:
            enterprise = admin.post("/enterprises", json={"name": "Acme"}).json()
            user = admin.post(
                "/users",
                json={
                    "email": "ada@acme.test",
                    "name": "Ada",
                    "role": "enterprise_admin",
                    "enterprise_id": enterprise["id"],
                    "sdk_access": True,
                },
            ).json()
            token = admin.post(f"/users/{user['id']}/tokens", json={"name": "e2e"}).json()
            state.tokens["ada"] = token["secret"]
            viewer = admin.post(
                "/users",
                json={
                    "email": "vic@acme.test",
                    "name": "Vic",
                    "role": "viewer",
                    "enterprise_id": enterprise["id"],
                },
            ).json()
            token = admin.post(f"/users/{viewer['id']}/tokens", json={"name": "e2e"}).json()
            state.tokens["viewer"] = token["secret"]
        yield state


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# until it stops, and every asyncio test collected after this folder would fail on it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright Python package is missing: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page_for(browser: Any, live: Live) -> Iterator[Any]:
    """Open a 1280x720 page signed in as a user (through the sign-in form).

    An uncaught exception in any page's JavaScript fails the test.
    """
    contexts: list[Any] = []
    page_errors: list[str] = []

    def open_as(user: str) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        page.set_default_timeout(10_000)
        page.goto(f"{live.url}/ui/#/signin")
        page.get_by_label("API token").fill(live.tokens[user])
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Connectors").wait_for()
        return page

    yield open_as
    for context in contexts:
        context.close()
    assert not page_errors, f"uncaught JavaScript errors: {page_errors}"


def shoot(page: Any, live: Live, name: str) -> None:
    """Check the screen with axe-core, then screenshot it into tmp (and into docs/screenshots
    when asked to update them): every screen the docs show is checked."""
    check_a11y(page, name)
    path = live.shots / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path))
    if os.environ.get("CONNECTORY_UPDATE_SCREENSHOTS") == "1":
        target = REPO / "docs" / "screenshots"
        target.mkdir(exist_ok=True)
        shutil.copyfile(path, target / f"{name}.png")


AXE = REPO / "ui" / "node_modules" / "axe-core" / "axe.min.js"
_AXE_RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter((v) => v.impact === "critical" || v.impact === "serious")
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " :: " + n.failureSummary) }));
}"""


def check_a11y(page: Any, screen: str) -> None:
    """Run axe-core (ui/node_modules, `make ui`) on the page: no critical or serious violation."""
    if not AXE.exists():
        _missing(f"{AXE} is missing: run `make ui` (npm ci in ui/)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    violations = page.evaluate(_AXE_RUN)
    assert not violations, f"axe-core on {screen}: {violations}"


def code_text(page: Any, box_id: str) -> str:
    """The text of a code box: the CodeMirror editor's, or the fallback textarea's."""
    text: str = page.locator(f"#{box_id}").evaluate(
        "el => el.codeEditor ? el.codeEditor.getValue() : el.value"
    )
    return text


def set_code(page: Any, box_id: str, text: str) -> None:
    """Replace the text of a code box as an edit would (the view hears about the change)."""
    page.locator(f"#{box_id}").evaluate(
        """(el, text) => {
          if (el.codeEditor) { el.codeEditor.setValue(text); return; }
          el.value = text;
          el.dispatchEvent(new Event("input", { bubbles: true }));
        }""",
        text,
    )
