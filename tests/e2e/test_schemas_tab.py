"""The builder's Schemas tab in chromium: list, add (names checked like the server), rename
(every $ref follows), delete (refused while referenced), edit the JSON with the server's
problems at the field, and read-only schema trees whose $ref links open the Schemas tab."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from .conftest import Live, check_a11y, shoot

pytest.importorskip("playwright")
from playwright.sync_api import expect

CONTACT = {
    "type": "object",
    "description": "A person in the CRM.",
    "required": ["id", "email"],
    "properties": {
        "id": {"type": "string", "readOnly": True},
        "email": {"type": "string", "format": "email", "description": "Where mail goes."},
        "password": {"type": "string", "writeOnly": True},
        "status": {"type": "string", "enum": ["active", "archived"]},
        "address": {"$ref": "#/schemas/Address"},
    },
}
ADDRESS = {"type": "object", "properties": {"city": {"type": "string"}}}


def _connector(live: Live, slug: str) -> str:
    document = {
        "name": "Shared Schemas",
        "slug": slug,
        "base_url": live.test_api,
        "schemas": {"Contact": CONTACT, "Address": ADDRESS},
        "operations": [
            {
                "operation": "list_contacts",
                "path": "/items",
                "response_schema": {"type": "array", "items": {"$ref": "#/schemas/Contact"}},
            }
        ],
    }
    with live.client() as admin:
        created = admin.post("/connectors", json={"document": document})
        assert created.status_code == 201, created.text
        return str(created.json()["id"])


def _draft(live: Live, connector_id: str) -> dict[str, Any]:
    with live.client() as admin:
        document: dict[str, Any] = admin.get(f"/connectors/{connector_id}/draft").json()["document"]
        return document


def test_shared_schemas_are_listed_added_renamed_and_deleted(page_for: Any, live: Live) -> None:
    connector_id = _connector(live, "shared-schemas-ui")
    page = page_for("platform")
    page.goto(f"{live.url}/ui/#/connectors/{connector_id}/schemas")
    schemas_nav = page.get_by_role("navigation", name="Shared schemas")
    expect(schemas_nav.get_by_role("listitem")).to_have_text(["Contact", "Address"])

    # The tree of the selected schema: types, required, readOnly/writeOnly, enum, description.
    tree = page.get_by_role("group", name="Tree of Contact")
    expect(tree).to_contain_text("A person in the CRM.")
    email = tree.locator("li", has_text="email").first
    expect(email).to_contain_text("required")
    expect(email).to_contain_text("Where mail goes.")
    expect(tree.locator("li", has_text="id").first).to_contain_text("readOnly")
    expect(tree.locator("li", has_text="password")).to_contain_text("writeOnly")
    expect(tree.locator("li", has_text="status")).to_contain_text('enum: "active", "archived"')
    expect(page.locator(".schema-uses")).to_contain_text("operations[0].response_schema.items")
    check_a11y(page, "Schemas tab")
    page.set_viewport_size({"width": 1280, "height": 1000})
    shoot(page, live, "schemas-tab")
    page.set_viewport_size({"width": 1280, "height": 720})

    # A $ref in the tree is a link to the shared schema.
    tree.get_by_role("button", name=re.compile("Address")).click()
    address = schemas_nav.get_by_role("button", name="Address")
    expect(address).to_have_attribute("aria-current", "true")

    # Deleting a referenced schema is refused, saying where it is used.
    page.get_by_role("button", name="Delete Address").click()
    expect(page.locator("#status")).to_contain_text("used by schemas.Contact.properties.address")
    expect(schemas_nav.get_by_role("listitem")).to_have_count(2)

    # Names are checked as the server does: bad characters and duplicates are refused.
    name = page.get_by_label("New schema name")
    name.fill("bad name")
    page.get_by_role("button", name="Add schema").click()
    expect(page.locator("#status")).to_contain_text('"bad name" is not a schema name')
    name.fill("Contact")
    page.get_by_role("button", name="Add schema").click()
    expect(page.locator("#status")).to_contain_text("A schema Contact is there already")
    name.fill("Phone.v2")
    page.get_by_role("button", name="Add schema").click()
    expect(schemas_nav.get_by_role("listitem")).to_have_text(["Contact", "Address", "Phone.v2"])
    page.get_by_role("textbox", name="JSON Schema of Phone.v2").fill(
        json.dumps({"type": "object", "properties": {"number": {"$ref": "#/schemas/Nope"}}})
    )
    expect(page.get_by_role("group", name="Tree of Phone.v2")).to_contain_text("Nope")

    # The server's problem shows at the schema's editor, and the tab counts it.
    page.get_by_role("button", name="Save draft").click()
    error = page.locator('[data-error-for="schemas[\\"Phone.v2\\"]"]')
    expect(error).to_contain_text("refers to schema 'Nope'")
    expect(page.get_by_role("tab", name=re.compile("Schemas"))).to_contain_text("1")
    flagged = schemas_nav.get_by_role("button", name=re.compile("Phone.v2"))
    expect(flagged).to_contain_text("has problems")
    check_a11y(page, "Schemas tab with a problem")
    # The problem list links to it from any tab, selecting the schema.
    schemas_nav.get_by_role("button", name="Address").click()
    page.get_by_role("tab", name="Overview").click()
    page.locator(".problems").get_by_role("button", name=re.compile(r"Phone\.v2")).click()
    expect(schemas_nav.get_by_role("button", name=re.compile("Phone.v2"))).to_have_attribute(
        "aria-current", "true"
    )
    page.get_by_role("textbox", name="JSON Schema of Phone.v2").fill('{"type": ')

    # Unreferenced, it can be deleted (its unparsed JSON with it: the save below goes through).
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete Phone.v2").click()
    expect(schemas_nav.get_by_role("listitem")).to_have_text(["Contact", "Address"])

    # Renaming Contact updates the operation's $ref; Address's rename its reference in Contact.
    schemas_nav.get_by_role("button", name="Contact").click()
    page.get_by_label("Name", exact=True).fill("Person")
    page.get_by_role("button", name="Rename").click()
    expect(page.locator("#status")).to_contain_text(
        "Renamed Contact to Person; 1 reference(s) updated"
    )
    schemas_nav.get_by_role("button", name="Address").click()
    page.get_by_label("Name", exact=True).fill("bad/name")
    page.get_by_role("button", name="Rename").click()
    expect(page.locator("#status")).to_contain_text("is not a schema name")
    # JSON that does not parse is held under the new name; Save refuses it until it is fixed.
    page.get_by_role("textbox", name="JSON Schema of Address").fill('{"type": "object", ')
    page.get_by_label("Name", exact=True).fill("PostalAddress")
    page.get_by_role("button", name="Rename").click()
    held = page.get_by_role("textbox", name="JSON Schema of PostalAddress")
    expect(held).to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#status")).to_contain_text("Not saved")
    held.fill(json.dumps(ADDRESS))
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#status")).to_contain_text("Draft saved.")
    saved = _draft(live, connector_id)
    assert list(saved["schemas"]) == ["Person", "PostalAddress"]
    person = saved["schemas"]["Person"]
    assert person["properties"]["address"] == {"$ref": "#/schemas/PostalAddress"}
    assert saved["operations"][0]["response_schema"]["items"] == {"$ref": "#/schemas/Person"}


def test_response_schema_tree_links_to_the_schemas_tab(page_for: Any, live: Live) -> None:
    connector_id = _connector(live, "shared-schemas-tree")
    page = page_for("platform")
    page.goto(f"{live.url}/ui/#/connectors/{connector_id}/operations")
    switch = page.get_by_role("group", name="Response schema view")
    expect(switch.get_by_role("button", name="JSON")).to_have_attribute("aria-pressed", "true")
    switch.get_by_role("button", name="Tree").click()
    expect(switch.get_by_role("button", name="Tree")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("textbox", name="Response schema (JSON Schema)")).to_be_hidden()
    tree = page.get_by_role("group", name="Response schema: tree")
    expect(tree).to_contain_text("array")
    check_a11y(page, "Operations tab with the response schema tree")
    page.set_viewport_size({"width": 1280, "height": 1300})
    shoot(page, live, "response-schema-tree")
    page.set_viewport_size({"width": 1280, "height": 720})
    tree.get_by_role("button", name=re.compile("Contact")).click()
    schemas_tab = page.get_by_role("tab", name=re.compile("Schemas"))
    expect(schemas_tab).to_have_attribute("aria-selected", "true")
    nav = page.get_by_role("navigation", name="Shared schemas")
    expect(nav.get_by_role("button", name="Contact")).to_have_attribute("aria-current", "true")
    # Back on the operation, the choice of view is kept; JSON shows the editor again.
    page.get_by_role("tab", name="Operations").click()
    expect(switch.get_by_role("button", name="Tree")).to_have_attribute("aria-pressed", "true")
    switch.get_by_role("button", name="JSON").click()
    box = page.get_by_role("textbox", name="Response schema (JSON Schema)")
    expect(box).to_be_visible()
    # JSON that does not parse has no tree: the switch says so and stays on the JSON.
    box.fill('{"type": ')
    switch.get_by_role("button", name="Tree").click()
    expect(page.locator("#status")).to_contain_text("No tree: Not valid JSON")
    expect(box).to_be_visible()
    box.fill('{"type": "object", "properties": {"owner": {"$ref": "#/schemas/Address"}}}')
    switch.get_by_role("button", name="Tree").click()
    expect(tree.get_by_role("button", name=re.compile("Address"))).to_be_visible()


def test_a_new_connector_gets_a_schemas_section_from_its_first_schema(
    page_for: Any, live: Live
) -> None:
    page = page_for("platform")
    page.get_by_role("button", name="Create connector").click()
    page.get_by_label("Name").fill("Schemas From Scratch")
    page.get_by_label("Base URL").fill(live.test_api)
    page.get_by_role("tab", name="Schemas").click()
    expect(page.get_by_text("No shared schemas yet.")).to_be_visible()
    check_a11y(page, "Schemas tab, empty")
    # Looking at the tab adds nothing to the document.
    page.get_by_role("tab", name="YAML").click()
    expect(page.get_by_label("Connector YAML")).not_to_contain_text("schemas:")
    page.get_by_role("tab", name="Schemas").click()
    page.get_by_label("New schema name").fill("Item")
    page.get_by_label("New schema name").press("Enter")
    box = page.get_by_role("textbox", name="JSON Schema of Item")
    expect(box).to_contain_text('"properties"')
    box.fill('{"type": "object", "properties": {"sku": {"type": "string"}}, "required": ["sku"]}')
    tree = page.get_by_role("group", name="Tree of Item")
    expect(tree.locator("li", has_text="sku")).to_contain_text("required")
    page.get_by_role("tab", name="YAML").click()
    yaml_text = page.get_by_label("Connector YAML")
    expect(yaml_text).to_contain_text("schemas:")
    expect(yaml_text).to_contain_text("sku:")
    # Deleting the only schema removes the section again.
    page.get_by_role("tab", name="Schemas").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete Item").click()
    expect(page.get_by_text("No shared schemas yet.")).to_be_visible()
    page.get_by_role("tab", name="YAML").click()
    expect(page.get_by_label("Connector YAML")).not_to_contain_text("schemas:")
