"""The connector index in chromium: sort, pages, duplicate a connector, export a chosen version,
and the import buttons as single tab stops. Every screen passes axe-core."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import Live, check_a11y, shoot


@pytest.fixture(scope="module")
def many(live: Live) -> dict[str, str]:
    """Thirty connectors named "Paging 01".."Paging 30"; the first published, then changed."""
    ids: dict[str, str] = {}
    with live.client() as admin:
        for n in range(1, 31):
            document = {
                "name": f"Paging {n:02d}",
                "slug": f"paging-{n:02d}",
                "base_url": live.test_api,
                "operations": [{"name": "echo", "path": "/echo"}],
            }
            created = admin.post("/connectors", json={"document": document})
            assert created.status_code == 201, created.text
            ids[document["name"]] = created.json()["id"]
        first = ids["Paging 01"]
        published = admin.post(f"/connectors/{first}/publish", json={})
        assert published.status_code in (200, 201), published.text
        document = {
            "name": "Paging 01",
            "slug": "paging-01",
            "base_url": live.test_api,
            "description": "changed in the draft",
            "operations": [{"name": "echo", "path": "/echo"}],
        }
        saved = admin.put(f"/connectors/{first}/draft", json={"document": document})
        assert saved.status_code == 200, saved.text
    return ids


def _names(page: Any) -> list[str]:
    names: list[str] = page.locator("table.connectors tbody tr td:nth-child(2) a").all_inner_texts()
    return names


def test_index_sorts_and_pages(page_for: Any, live: Live, many: dict[str, str]) -> None:
    page = page_for("platform")
    page.get_by_label("Search").fill("Paging")
    page.get_by_role("button", name="Filter").click()
    pager = page.get_by_role("navigation", name="Pages of connectors")
    expect(pager).to_contain_text("1\u201325 of 30")
    expect(page.locator("table.connectors tbody tr")).to_have_count(25)
    assert _names(page)[:2] == ["Paging 01", "Paging 02"]
    expect(pager.get_by_role("button", name="← Previous")).to_be_disabled()
    shoot(page, live, "index-pages")
    check_a11y(page, "Connector index")
    pager.get_by_role("button", name="Next →").click()
    expect(pager).to_contain_text("26\u201330 of 30")
    expect(page.locator("table.connectors tbody tr")).to_have_count(5)
    expect(pager.get_by_role("button", name="Next →")).to_be_disabled()

    # Another order starts again at the first page.
    page.get_by_label("Sort by").select_option("-name")
    expect(pager).to_contain_text("1\u201325 of 30")
    expect(page.locator("table.connectors tbody tr").first).to_contain_text("Paging 30")
    page.get_by_label("Sort by").select_option("-updated")
    expect(page.locator("table.connectors tbody tr").first).to_contain_text("Paging 01")


def test_duplicate_makes_a_new_draft_from_the_connector(
    page_for: Any, live: Live, many: dict[str, str]
) -> None:
    page = page_for("platform")
    page.get_by_label("Search").fill("Paging 02")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("button", name="Duplicate Paging 02").click()
    expect(page.get_by_label(re.compile("^Name"))).to_have_value("Paging 02 (copy)")
    expect(page.get_by_label("Slug")).to_have_value("paging-02-copy")
    expect(page.locator("h1 .badge")).to_have_text("draft")
    # A second copy gets the next free slug.
    page.get_by_role("link", name="← Connectors").click()
    page.get_by_label("Search").fill("Paging 02")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("button", name="Duplicate Paging 02", exact=True).click()
    expect(page.get_by_label("Slug")).to_have_value("paging-02-copy-2")


def test_export_a_chosen_version(
    page_for: Any, live: Live, many: dict[str, str], tmp_path: Path
) -> None:
    page = page_for("platform")
    page.get_by_label("Search").fill("Paging 01")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("button", name="Export… Paging 01").click()
    dialog = page.get_by_role("dialog", name="Export Paging 01")
    version = dialog.get_by_label("Version", exact=True)
    expect(version).to_have_value("1.0.0")  # the latest version first
    expect(version.locator("option")).to_have_text(
        ["Draft (not published)", re.compile(r"^v1\.0\.0 \(latest\)")]
    )
    check_a11y(page, "Export dialog")
    exported = {}
    for choice in ("1.0.0", "draft"):
        version.select_option(choice)
        with page.expect_download() as download:
            dialog.get_by_role("link", name="Download").click()
        target = tmp_path / f"{choice}.json"
        download.value.save_as(target)
        exported[choice] = json.loads(target.read_text())
        if choice == "1.0.0":
            page.get_by_role("button", name="Export… Paging 01").click()
            dialog = page.get_by_role("dialog", name="Export Paging 01")
            version = dialog.get_by_label("Version", exact=True)
    assert "description" not in exported["1.0.0"]["document"]
    assert exported["draft"]["document"]["description"] == "changed in the draft"


def test_import_buttons_are_one_tab_stop_each(page_for: Any, live: Live, tmp_path: Path) -> None:
    page = page_for("platform")
    page.get_by_role("button", name="Create connector").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Import (YAML, JSON, archive, export)")).to_be_focused()
    page.keyboard.press("Tab")
    expect(
        page.get_by_role("button", name="Import OpenAPI / Swagger (JSON or YAML)")
    ).to_be_focused()
    source = tmp_path / "tabbed.yaml"
    source.write_text(f"name: Tabbed\nslug: tabbed\nbase_url: {live.test_api}\n")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Import (YAML, JSON, archive, export)").click()
    chooser.value.set_files(str(source))
    expect(page.get_by_label("Slug")).to_have_value("tabbed")


def test_an_export_is_reviewed_before_it_is_imported(
    page_for: Any, live: Live, many: dict[str, str], tmp_path: Path
) -> None:
    connector_id = many["Paging 30"]
    with live.client() as admin:
        published = admin.post(f"/connectors/{connector_id}/publish", json={})
        assert published.status_code in (200, 201), published.text
        exported = admin.get(f"/connectors/{connector_id}/export", params={"version": "1.0.0"})
        assert exported.status_code == 200, exported.text
    data = exported.json()
    data["document"]["description"] = "Reviewed before import"
    source = tmp_path / "paging-30.json"
    source.write_text(json.dumps(data))

    page = page_for("platform")
    # v1.0.0 of paging-30 is here already: asked first, it goes in as the next draft.
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Import (YAML, JSON, archive, export)").click()
    chooser.value.set_files(str(source))
    review = page.get_by_role("dialog", name="Import paging-30.json")
    expect(review).to_contain_text("The next draft of Paging 30 (paging-30), in the catalogue")
    expect(review).to_contain_text("exported from v1.0.0")
    added = review.locator(".diff-added", has_text="description: Reviewed before import")
    expect(added).to_have_count(1)
    shoot(page, live, "import-review")
    with live.client() as admin:  # a dry run: nothing changed yet
        assert not admin.get(f"/connectors/{connector_id}").json()["has_draft"]
    review.get_by_role("button", name="Import").click()
    expect(page.get_by_label("Description")).to_have_value("Reviewed before import")
    expect(page.get_by_text("Imported Paging 30 as its next draft.")).to_be_visible()
