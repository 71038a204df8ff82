"""Layout at 1280 px in chromium: every control of the builder's tabs shows its whole value
(no "passwor" in a type box, no "st" for string) and no edit table is wider than its panel."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from playwright.sync_api import expect

from .conftest import REPO, Live

# For each visible select, its chosen option's text; for each input, its value or placeholder:
# measured in the control's own font against the room inside it (a select's arrow: 20 px).
# Free text (help, descriptions) may scroll inside its box: only short values are checked.
_CLIPPED = """() => {
  const canvas = document.createElement("canvas").getContext("2d");
  const found = [];
  const controls = document.querySelectorAll(
    "#tabpanel select, #tabpanel input:not([type=checkbox]):not([type=radio]):not([type=file])");
  for (const el of controls) {
    if (!el.offsetParent) continue;
    const style = getComputedStyle(el);
    canvas.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const select = el.tagName === "SELECT";
    const text = select ? el.selectedOptions[0]?.textContent || ""
      : el.value || el.placeholder || "";
    if (!select && text.length > 24) continue;
    const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
    const room = el.clientWidth - padding - (select ? 20 : 0);
    if (canvas.measureText(text).width > room + 1) {
      found.push(`${el.getAttribute("aria-label") || el.id || el.name}: "${text}"`);
    }
  }
  for (const table of document.querySelectorAll("#tabpanel table")) {
    if (table.scrollWidth > table.parentElement.clientWidth + 1) {
      found.push(`table.${table.className.replace(/ /g, ".")} is wider than its place`);
    }
  }
  return found;
}"""


@pytest.fixture(scope="module")
def connector_id(live: Live) -> str:
    document: dict[str, Any] = yaml.safe_load(
        (REPO / "examples/testapi/connector.yaml").read_text()
    )
    document.update(name="Layout", slug="layout-check", base_url=live.test_api)
    document["auth"]["credential_schema"]["region"] = {"label": "Region", "type": "string"}
    with live.client() as admin:
        created = admin.post("/connectors", json={"document": document})
        assert created.status_code == 201, created.text
        return str(created.json()["id"])


@pytest.mark.parametrize("tab", ["overview", "auth", "operations", "data", "resilience", "events"])
def test_builder_tabs_fit_at_1280(page_for: Any, live: Live, connector_id: str, tab: str) -> None:
    page = page_for("platform")
    page.goto(f"{live.url}/ui/#/connectors/{connector_id}/{tab}")
    expect(page.get_by_role("tab", selected=True)).to_have_attribute("id", f"tab-{tab}")
    expect(page.locator("#tabpanel input, #tabpanel select").first).to_be_visible()
    assert page.viewport_size == {"width": 1280, "height": 720}
    assert page.evaluate(_CLIPPED) == []
