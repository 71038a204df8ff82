"""The code editor (CodeMirror 6, bundled from ui/ by `make ui`) in Debian's chromium.

The YAML view highlights the connector, marks the server's problems at their line, completes
keys and values from the format's exported JSON Schema and shows a key's description on hover;
the Hooks & Methods tab marks a compile error at its line. Without the bundle, plain text boxes
stand in and the console says why. Every screen passes axe-core (no critical or serious issue).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from playwright.sync_api import expect

from .conftest import Live, check_a11y, code_text, set_code, shoot

_serial = itertools.count(1)


def _draft(live: Live, name: str) -> str:
    document = {
        "name": name,
        "slug": f"code-editor-{next(_serial)}",
        "base_url": live.test_api,
        "auth": {"auth_type": "none"},
        "operations": [{"name": "list_items", "method": "GET", "path": "/items"}],
    }
    with live.client() as admin:
        created = admin.post("/connectors", json={"document": document})
        assert created.status_code == 201, created.text
        return str(created.json()["id"])


def _open_yaml(page: Any, live: Live, connector_id: str) -> Any:
    page.goto(f"{live.url}/ui/#/connectors/{connector_id}/yaml")
    editor = page.locator("#yaml-text .cm-content")
    expect(editor).to_contain_text("list_items")
    return editor


def _line(page: Any, box: str, text: str) -> Any:
    return page.locator(f"#{box} .cm-line", has_text=text)


def test_yaml_view_highlights_and_marks_problems_at_their_line(page_for: Any, live: Live) -> None:
    connector_id = _draft(live, "Editor Marks")
    page = page_for("platform")
    editor = _open_yaml(page, live, connector_id)
    expect(page.get_by_role("textbox", name=re.compile("^Connector YAML"))).to_be_editable()

    # Syntax highlighting: keys and values are styled tokens of their own colours.
    key = _line(page, "yaml-text", "name: Editor Marks").locator("span", has_text="name").first
    expect(key).to_have_css("color", "rgb(23, 71, 166)")
    check_a11y(page, "YAML view")

    # A wrong method: the server's problem is marked at its line and listed with a link to it.
    text = code_text(page, "yaml-text").replace("method: GET", "method: GETT")
    set_code(page, "yaml-text", text)
    wrong = _line(page, "yaml-text", "method: GETT")
    expect(wrong.locator(".cm-lintRange-error")).to_have_count(1)
    expect(page.locator("#yaml-text .cm-gutter-lint .cm-lint-marker-error")).to_have_count(1)
    number = text.splitlines().index("  method: GETT") + 1
    link = page.locator("#yaml-problems").get_by_role("button", name=re.compile(f"^line {number}:"))
    expect(page.locator("#yaml-problems")).to_contain_text("not a valid method")
    link.click()
    expect(editor).to_be_focused()
    expect(page.locator("#yaml-text .cm-activeLine")).to_contain_text("method: GETT")
    shoot(page, live, "yaml-editor")
    check_a11y(page, "YAML view with a problem")

    # Fixed, the marker goes.
    set_code(page, "yaml-text", text.replace("GETT", "POST"))
    expect(page.locator("#yaml-problems")).to_contain_text("No problems.")
    expect(page.locator("#yaml-text .cm-lintRange-error")).to_have_count(0)
    page.get_by_role("tab", name="Operations").click()
    expect(page.get_by_label("Method")).to_have_value("POST")


def test_yaml_completion_and_hover_come_from_the_format_schema(page_for: Any, live: Live) -> None:
    connector_id = _draft(live, "Editor Completion")
    page = page_for("platform")
    editor = _open_yaml(page, live, connector_id)
    editor.click()
    page.keyboard.press("Control+End")

    # A key of the operation being written (operations[] -> OperationSpec's keys).
    page.keyboard.type("  pagi")
    options = page.locator(".cm-tooltip-autocomplete [role=option]")
    expect(options.first).to_contain_text("pagination")
    check_a11y(page, "YAML completion")
    page.keyboard.press("Escape")
    while not code_text(page, "yaml-text").endswith("\n"):  # Backspace takes an indent unit at once
        page.keyboard.press("Backspace")

    # A top-level key, then a value from the key's enum.
    page.keyboard.type("documentation_u")
    # (A click accepts at once; Enter is ignored for 75 ms after the list changes, so fast
    # typing is never taken as a choice.)
    options.first.filter(has_text="documentation_url").click()
    page.keyboard.type("https://docs.example.com")
    page.keyboard.press("Enter")
    page.keyboard.type("typ")
    labels = page.locator(".cm-tooltip-autocomplete .cm-completionLabel")
    labels.filter(has_text=re.compile("^type$")).click()
    page.keyboard.press("Control+Space")
    expect(labels.filter(has_text=re.compile("^General$"))).to_have_count(1)
    page.keyboard.type("CR")
    labels.filter(has_text=re.compile("^CRM$")).click()
    text = code_text(page, "yaml-text")
    assert "\ndocumentation_url: https://docs.example.com\ntype: CRM" in text

    # Hover over a key: its description from the schema.
    _line(page, "yaml-text", "base_url:").locator("span", has_text="base_url").first.hover()
    # (A tooltip of a key hovered before, under the clicked completion, may still be fading.)
    doc = page.locator(".cm-schema-doc", has_text="Root URL for all calls")
    expect(doc).to_be_visible()
    expect(doc).to_contain_text("base_url (string)")

    # Tab leaves the editor: it is no keyboard trap.
    editor.focus()
    page.keyboard.press("Tab")
    expect(editor).not_to_be_focused()

    page.get_by_role("tab", name="Overview").click()
    expect(page.get_by_label("Type")).to_have_value("CRM")
    expect(page.get_by_label("Documentation URL")).to_have_value("https://docs.example.com")


def test_json_schemas_are_edited_in_the_code_editor(page_for: Any, live: Live) -> None:
    connector_id = _draft(live, "Editor Schemas")
    page = page_for("platform")
    page.goto(f"{live.url}/ui/#/connectors/{connector_id}/operations")
    box = page.get_by_role("textbox", name="Response schema (JSON Schema)")
    expect(box).to_have_attribute("contenteditable", "true")
    box.fill('{"type": "object", "properties": {"id": {"type": "integer"}}}')
    key = box.locator("span", has_text='"type"').first
    expect(key).to_have_css("color", "rgb(23, 71, 166)")  # a property name, highlighted
    box.fill('{"type": ')
    expect(box).to_have_attribute("aria-invalid", "true")
    error = page.locator('[data-error-for="operations[0].response_schema"]')
    expect(error).to_contain_text("Not valid JSON")
    check_a11y(page, "Operations tab with a JSON Schema in the editor")
    box.fill('{"type": "array"}')
    expect(box).not_to_have_attribute("aria-invalid", "true")
    page.get_by_role("tab", name="YAML").click()
    expect(page.get_by_label("Connector YAML")).to_contain_text("type: array")


def test_without_the_bundle_plain_text_boxes_stand_in(page_for: Any, live: Live) -> None:
    connector_id = _draft(live, "Editor Missing")
    page = page_for("platform")
    warnings: list[str] = []
    page.on("console", lambda message: warnings.append(message.text))
    page.route("**/ui/static/dist/editor.js", lambda route: route.fulfill(status=404, body=""))
    page.goto(f"{live.url}/ui/#/connectors/{connector_id}/yaml")
    box = page.get_by_label("Connector YAML (edits apply to every tab)")
    expect(box).to_have_value(re.compile("list_items"))
    assert box.evaluate("el => el.tagName") == "TEXTAREA"
    assert any("make ui" in w and "plain text boxes" in w for w in warnings), warnings
    box.fill(box.input_value().replace("method: GET", "method: GETT"))
    expect(page.locator("#yaml-problems")).to_contain_text("not a valid method")
    check_a11y(page, "YAML view without the editor bundle")
    page.get_by_role("tab", name="Hooks & Methods").click()
    page.get_by_label("File name").fill("plain.js")
    page.get_by_role("button", name="New file").click()
    code = page.get_by_role("textbox", name="hooks/plain.js")
    expect(code).to_have_value(re.compile("export default"))
    page.get_by_role("tab", name="Operations").click()
    schema = page.get_by_label("Response schema (JSON Schema)")
    assert schema.evaluate("el => el.tagName") == "TEXTAREA"
    schema.fill("{")
    expect(schema).to_have_attribute("aria-invalid", "true")
