"""Format in the code editor (YAML keeps its comments; JSON keeps its numbers as written):
the Format button, Shift+Alt+F, and on save. Every screen passes axe-core."""

from __future__ import annotations

import itertools
import re
from typing import Any

from playwright.sync_api import expect

from .conftest import Live, check_a11y, code_text, set_code, shoot

_serial = itertools.count(1)

MESSY = """# The weather connector: edited by hand.
name:    Format Me   # the name shown in the catalogue
slug: {slug}
base_url: {base_url}
auth:
    auth_type: none
operations:
-   name: list_items   # the only operation
    method: GET
    path: /items
"""


def _draft(live: Live) -> tuple[str, str]:
    slug = f"format-me-{next(_serial)}"
    document = {
        "name": "Format Me",
        "slug": slug,
        "base_url": live.test_api,
        "auth": {"auth_type": "none"},
        "operations": [{"name": "list_items", "method": "GET", "path": "/items"}],
    }
    with live.client() as admin:
        created = admin.post("/connectors", json={"document": document})
        assert created.status_code == 201, created.text
        return str(created.json()["id"]), slug


def test_yaml_is_formatted_with_its_comments(page_for: Any, live: Live) -> None:
    connector_id, slug = _draft(live)
    page = page_for("platform")
    page.goto(f"{live.url}/ui/#/connectors/{connector_id}/yaml")
    expect(page.locator("#yaml-text .cm-content")).to_contain_text("list_items")
    messy = MESSY.format(slug=slug, base_url=live.test_api)
    set_code(page, "yaml-text", messy)
    page.get_by_role("button", name="Format", exact=True).click()
    formatted = code_text(page, "yaml-text")
    assert formatted.startswith("# The weather connector: edited by hand.\n")
    assert "name: Format Me # the name shown in the catalogue\n" in formatted
    assert "auth:\n  auth_type: none\n" in formatted
    assert "operations:\n  - name: list_items # the only operation\n    method: GET\n" in formatted
    expect(page.locator("#status")).to_have_text("Formatted the YAML.")
    shoot(page, live, "yaml-format")

    # The keyboard command, from inside the editor; one undo gives the text back.
    set_code(page, "yaml-text", messy)
    editor = page.get_by_role("textbox", name=re.compile("^Connector YAML"))
    editor.click()
    page.keyboard.press("Shift+Alt+F")
    assert code_text(page, "yaml-text") == formatted
    page.keyboard.press("Control+z")
    assert code_text(page, "yaml-text") == messy

    # YAML that does not parse is left as it is, and the reason is told.
    broken = messy.replace("method: GET", "method: [GET")
    set_code(page, "yaml-text", broken)
    page.get_by_role("button", name="Format", exact=True).click()
    expect(page.locator("#status")).to_contain_text("Not formatted: the YAML does not parse")
    assert code_text(page, "yaml-text") == broken
    check_a11y(page, "YAML view, not formatted")

    # On save the text is formatted before it is read: the YAML the server parses is the
    # formatted one, comments and all.
    renamed = messy.replace("Format Me ", "Formatted On Save ")
    set_code(page, "yaml-text", renamed)
    # Only the save formats: no parse of the formatted text comes without it.
    with page.expect_request(
        lambda request: (
            request.url.endswith("/ui/yaml/parse")
            and "Formatted On Save # the name" in (request.post_data or "")
        )
    ) as parsed:
        page.get_by_role("button", name="Save draft").click()
    sent = parsed.value.post_data_json["yaml"]
    assert sent == formatted.replace("Format Me ", "Formatted On Save ")
    expect(page.locator("#status")).to_have_text("Draft saved.")
    expect(page.locator("#yaml-text .cm-content")).to_contain_text("name: Formatted On Save")
    with live.client() as admin:
        draft = admin.get(f"/connectors/{connector_id}/draft").json()
    assert draft["document"]["name"] == "Formatted On Save"


def test_json_schema_boxes_format_and_keep_their_numbers(page_for: Any, live: Live) -> None:
    connector_id, _ = _draft(live)
    page = page_for("platform")
    page.goto(f"{live.url}/ui/#/connectors/{connector_id}/operations")
    box = page.get_by_role("textbox", name="Response schema (JSON Schema)")
    box.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(
        '{"type":"object","properties":{"id":{"maximum":12345678901234567890}}}'
    )
    page.keyboard.press("Shift+Alt+F")
    text: str = box.evaluate("el => el.closest('.code-editor').codeEditor.getValue()")
    assert text == (
        '{\n  "type": "object",\n  "properties": {\n    "id": {\n'
        '      "maximum": 12345678901234567890\n    }\n  }\n}\n'
    )
    check_a11y(page, "Operations, a formatted schema")
