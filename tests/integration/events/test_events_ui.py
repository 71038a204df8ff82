"""The events pages in Debian's chromium: subscribe on a connection page, watch the event arrive
in the live feed, see the delivery and its attempts, replay a dead letter."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from events_support import WEBHOOK_SECRET, Harness

from testkit.skips import missing

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"


@pytest.fixture
def page(harness: Harness, tmp_path: Path) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        missing(f"{CHROMIUM} is missing: run `make chromium`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright Python package is missing")
    token = harness.client.headers["Authorization"].removeprefix("Bearer ")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{harness.url}/ui/#/signin")
        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Connectors").wait_for()
        yield page
        context.close()
        browser.close()


def _shoot(page: Any, name: str) -> None:
    if os.environ.get("CONNECTORY_UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_subscribe_watch_the_event_arrive_and_replay_a_dead_letter(
    harness: Harness, page: Any
) -> None:
    harness.receiver.statuses = [500]
    connection = harness.connect("webhooks", api_key="test-api-key", webhook_secret=WEBHOOK_SECRET)
    page.goto(f"{harness.url}/ui/#/events")
    page.get_by_label("URL").fill(harness.receiver.url)
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.get_by_role("status").locator("code")
    assert secret.inner_text().startswith("whsec_")  # shown once

    page.goto(f"{harness.url}/ui/#/connections/{connection}")
    events = page.locator("#events")
    events.get_by_label("Event", exact=True).select_option("item_updated")
    events.get_by_role("button", name="Subscribe").click()
    events.get_by_text("active").wait_for()
    harness.touch(8, name="from-the-ui")
    feed = page.get_by_role("list", name="Live event feed")
    feed.get_by_text("from-the-ui").wait_for()
    _shoot(page, "events-connection")

    harness.wait_for(
        lambda: harness.client.get("/deliveries", params={"status": "dead"}).json(), "dead"
    )
    harness.receiver.statuses = [200]
    page.goto(f"{harness.url}/ui/#/events?status=dead")
    page.get_by_role("button", name="Attempts").first.click()
    page.get_by_text("500").first.wait_for()
    _shoot(page, "events-deliveries")
    page.get_by_role("button", name="Replay").first.click()
    harness.wait_for(
        lambda: harness.client.get("/deliveries").json()[0]["status"] == "succeeded",
        "the replayed delivery",
    )


def test_the_builder_shows_events_in_their_tab(harness: Harness, page: Any) -> None:
    page.goto(f"{harness.url}/ui/#/connectors/{harness.connectors['webhooks']}/events")
    page.get_by_role("tab", name="Events").wait_for()
    card = page.get_by_role("region", name="Event item_updated")
    card.wait_for()
    assert (
        card.get_by_label("Subscribe operation of item_updated").input_value() == "create_webhook"
    )
    assert card.get_by_label("Signature (item_updated)").input_value() == "standard-webhooks"
    polled = page.get_by_role("region", name="Event item_changed_polled")
    assert (
        polled.get_by_label("List operation of item_changed_polled").input_value() == "list_changes"
    )
    _shoot(page, "events-builder")
