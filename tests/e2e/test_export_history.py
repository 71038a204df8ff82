"""Export with version history from the index, then its import reviewed with and without it.
Every screen passes axe-core."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from .conftest import Live, check_a11y, shoot


def _three_versions(live: Live) -> str:
    """ "History 01": 1.0.0, 1.1.0 and 2.0.0 published, in the catalogue."""
    with live.client() as admin:
        document: dict[str, Any] = {
            "name": "History 01",
            "slug": "history-01",
            "base_url": live.test_api,
            "operations": [{"name": "echo", "path": "/echo"}],
        }
        created = admin.post("/connectors", json={"document": document})
        assert created.status_code == 201, created.text
        connector_id = str(created.json()["id"])
        for bump, text in ((None, None), ("minor", "second"), ("major", "third")):
            if text is not None:
                saved = admin.put(
                    f"/connectors/{connector_id}/draft",
                    json={"document": {**document, "description": text}},
                )
                assert saved.status_code == 200, saved.text
            published = admin.post(
                f"/connectors/{connector_id}/publish", json={"bump": bump} if bump else {}
            )
            assert published.status_code in (200, 201), published.text
    return connector_id


def test_export_and_import_with_version_history(page_for: Any, live: Live, tmp_path: Path) -> None:
    _three_versions(live)
    page = page_for("platform")
    page.get_by_label("Search").fill("History 01")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("button", name="Export… History 01").click()
    dialog = page.get_by_role("dialog", name="Export History 01")
    dialog.get_by_label("With version history").check()
    expect(dialog).to_contain_text("Adds every published version (3")
    shoot(page, live, "export-history")
    with page.expect_download() as download:
        dialog.get_by_role("link", name="Download").click()
    target = tmp_path / "history.json"
    download.value.save_as(target)
    data = json.loads(target.read_text())
    assert [entry["version"] for entry in data["history"]] == ["1.0.0", "1.1.0", "2.0.0"]

    # As a new connector (another slug in every version), reviewed first.
    data["document"]["slug"] = "history-copy"
    for entry in data["history"]:
        entry["document"]["slug"] = "history-copy"
    source = tmp_path / "history-copy.json"
    source.write_text(json.dumps(data))
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Import (YAML, JSON, archive, export)").click()
    chooser.value.set_files(str(source))
    review = page.get_by_role("dialog", name="Import history-copy.json")
    expect(review).to_contain_text("carries 3 published version(s) (1.0.0 to 2.0.0)")
    check_a11y(page, "Import review without history")
    review.get_by_label("With version history").check()
    review = page.get_by_role("dialog", name="Import history-copy.json")
    expect(review.get_by_label("With version history")).to_be_focused()
    steps = review.locator("ul.import-history li")
    expect(steps).to_have_text(
        [
            "v1.0.0 published by the import",
            "v1.1.0 published by the import",
            "v2.0.0 published by the import",
        ]
    )
    shoot(page, live, "import-review-history")
    review.get_by_role("button", name="Import").click()
    expect(page.get_by_text("Imported History 01 with 3 published version(s).")).to_be_visible()
    with live.client() as admin:
        found = admin.get("/connectors", params={"slug": "history-copy"}).json()["items"]
        assert len(found) == 1
        versions = admin.get(f"/connectors/{found[0]['id']}/versions").json()["items"]
    assert [v["version"] for v in versions] == ["2.0.0", "1.1.0", "1.0.0"]
    assert [v["changelog"] for v in versions] == [e["changelog"] for e in reversed(data["history"])]
