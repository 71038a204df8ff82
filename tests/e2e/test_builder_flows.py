"""End-to-end flows of the web builder in Debian's chromium (see conftest.py)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

from playwright.sync_api import expect

from .conftest import REPO, Live, code_text, set_code, shoot

SECRET = "sk-e2e-SECRET-7f3a91"
SCHEMA = {
    "type": "object",
    "required": ["data"],
    "properties": {"data": {"type": "array", "items": {"type": "object"}}},
}


def _no_secret(page: Any) -> None:
    assert SECRET not in page.locator("body").inner_text()
    assert SECRET not in page.content().replace(f'value="{SECRET}"', "")


def test_build_test_publish_and_connect(page_for: Any, live: Live) -> None:
    page = page_for("platform")
    shoot(page, live, "index")
    page.get_by_role("button", name="Create connector").click()

    # Overview: the slug follows the name; a bad base URL is shown at its field, then fixed.
    page.get_by_label("Name").fill("Acme Items")
    expect(page.get_by_label("Slug")).to_have_value("acme-items")
    page.get_by_label("Base URL").fill("not a url")
    page.get_by_role("tab", name="Auth & Credentials").click()
    page.get_by_label("Auth type").select_option("api_key")
    page.get_by_label("header name").fill("X-API-Key")
    page.get_by_role("button", name="Add credential field").click()
    page.get_by_label("Field name 1").fill("api_key")
    page.get_by_label("Field name 1").press("Tab")
    page.get_by_label("Type of api_key").select_option("password")
    page.get_by_label("Label of api_key").fill("API Key")
    shoot(page, live, "auth")

    page.get_by_role("tab", name="Operations").click()
    page.get_by_role("button", name="Add operation").click()
    page.get_by_label("Operation name").fill("list_items")
    page.get_by_label(re.compile(r"^Path")).fill("/offset/items")
    page.get_by_label("Record selector").fill("data")
    page.get_by_role("button", name="Add parameter").click()
    page.get_by_label("Name of parameter 1").fill("limit")
    page.get_by_label("Type of parameter 1").select_option("integer")
    page.get_by_label("Response schema (JSON Schema)").fill(json.dumps(SCHEMA))
    shoot(page, live, "operations")

    page.get_by_role("tab", name="Resilience").click()
    page.get_by_label("Timeout (seconds)").fill("10")
    page.get_by_label("Max retries").fill("1")
    shoot(page, live, "resilience")

    page.get_by_role("button", name="Create draft").click()
    page.get_by_role("tab", name="Overview").click()
    error = page.locator('[data-error-for="base_url"]')
    expect(error).to_contain_text("⚠")
    expect(page.get_by_label("Base URL")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Base URL").fill(live.test_api)
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_text("Created Acme Items")).to_be_visible()
    shoot(page, live, "overview")

    # YAML view: an edit there shows in the form tabs.
    page.get_by_role("tab", name="YAML").click()
    expect(page.get_by_label("Connector YAML")).to_contain_text("list_items")
    text = code_text(page, "yaml-text").replace("description: ''", "description: From YAML")
    set_code(page, "yaml-text", text)
    shoot(page, live, "yaml")
    page.get_by_role("tab", name="Overview").click()
    expect(page.get_by_label("Description")).to_have_value("From YAML")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()

    # Test tab: a call against the test API, with the schema check.
    page.get_by_role("tab", name="Test").click()
    page.get_by_label("API Key").fill(SECRET)
    page.get_by_label("limit (query)").fill("5")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("HTTP 200").first).to_be_visible()
    expect(page.locator('[data-test="schema-ok"]')).to_be_visible()
    shoot(page, live, "test")
    _no_secret(page)
    # The run, saved as a recorded test case of the draft (secrets scrubbed).
    page.get_by_label("Test case name").fill("first five items")
    page.get_by_role("button", name="Save as test case").click()
    saved = page.get_by_text(re.compile(r'Saved test case "first five items": 1 request'))
    expect(saved.first).to_be_visible()
    _no_secret(page)
    page.get_by_role("button", name="Test every operation").click()
    expect(page.get_by_text("1 passed, 0 failed, 0 skipped").first).to_be_visible()

    # Publish: the checklist, then v1.0.0.
    page.get_by_role("tab", name="Publish").click()
    expect(page.get_by_text("First publish: v1.0.0")).to_be_visible()
    shoot(page, live, "publish")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.locator("h1 .badge")).to_have_text("published v1.0.0")
    _no_secret(page)

    # Tabs answer the arrow keys.
    page.get_by_role("tab", name="Publish").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="YAML")).to_be_focused()

    # The enterprise admin connects to it through the generated connect form.
    ada = page_for("ada")
    ada.get_by_role("link", name="Connections", exact=True).click()
    ada.get_by_role("button", name="New connection").click()
    ada.get_by_label("Connector").select_option(label="Acme Items (v1.0.0)")
    expect(ada.get_by_label("Connection name")).to_have_value("Acme Items")
    secret_input = ada.get_by_label("API Key")
    expect(secret_input).to_have_attribute("type", "password")
    secret_input.fill(SECRET)
    shoot(ada, live, "connect-form")
    ada.get_by_role("button", name="Connect").click()
    ada.get_by_role("button", name="Test connection").click()
    expect(ada.locator("#health")).to_contain_text("healthy")
    ada.get_by_label("limit (query)").fill("2")
    ada.get_by_role("button", name="Run").click()
    expect(ada.locator("pre.body")).to_contain_text('"data"')
    shoot(ada, live, "connection")
    _no_secret(ada)
    _edit_upgrade_and_read_pages(ada, live)
    ada.get_by_role("link", name="Connections", exact=True).click()
    expect(ada.get_by_text("✓ healthy")).to_be_visible()


def _edit_upgrade_and_read_pages(ada: Any, live: Live) -> None:
    # Edit: the stored secret shows as the placeholder, and sending it back keeps it.
    edit = ada.get_by_role("region", name="Edit the connection")
    expect(edit.get_by_label("API Key")).to_have_value("********")
    edit.get_by_label("Connection name").fill("Acme Items (renamed)")
    edit.get_by_role("button", name="Save connection").click()
    expect(ada.get_by_role("heading", level=1)).to_contain_text("Acme Items (renamed)")
    _no_secret(ada)

    # v1.1.0 pages list_items; the connection is upgraded to it after a dry run.
    with live.client() as admin:
        connector = admin.get("/connectors", params={"slug": "acme-items"}).json()["items"][0]
        document = admin.get(f"/connectors/{connector['id']}").json()["latest"]["document"]
        document["operations"][0]["pagination"] = {"type": "offset", "page_size": 10}
        saved = admin.put(f"/connectors/{connector['id']}/draft", json={"document": document})
        assert saved.status_code < 300, saved.text
        published = admin.post(f"/connectors/{connector['id']}/publish", json={"bump": "minor"})
        assert published.status_code < 300, published.text
    upgrade = ada.get_by_role("region", name="Upgrade")
    upgrade.get_by_role("button", name="Check for upgrade").click()
    expect(upgrade.get_by_text("v1.0.0 → v1.1.0")).to_be_visible()
    expect(
        upgrade.get_by_role("heading", name=re.compile(r"Breaking changes \(\d+\)"))
    ).to_be_visible()
    ada.once("dialog", lambda dialog: dialog.accept())
    upgrade.get_by_role("button", name="Upgrade to v1.1.0").click()
    expect(ada.get_by_text("Acme Items v1.1.0")).to_be_visible()

    # Read every page: JSON Lines, counted; a _connectory_error line shows as an error.
    ada.get_by_label("Read every page").check()
    ada.get_by_role("button", name="Run").click()
    records = ada.get_by_role("region", name="Records")
    expect(records).to_contain_text(re.compile(r"✓ \d+ record\(s\)"))
    expect(records.locator("pre")).to_contain_text('"id"')
    shoot(ada, live, "connection-all-pages")
    ada.route(
        "**/operations/list_items?all_pages=true",
        lambda route: route.fulfill(
            status=200,
            content_type="application/x-ndjson",
            body='{"id": 1}\n{"_connectory_error": "upstream answered 500 on page 2"}\n',
        ),
    )
    ada.get_by_role("button", name="Run").click()
    expect(records.get_by_role("alert")).to_contain_text("upstream answered 500 on page 2")
    expect(records).to_contain_text("✗ 1 record(s)")
    ada.unroute("**/operations/list_items?all_pages=true")


def test_import_openweathermap_example(page_for: Any, live: Live, tmp_path: Any) -> None:
    folder = REPO / "examples" / "openweathermap"
    archive = tmp_path / "openweathermap.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in folder.rglob("*"):
            if path.is_file():
                zipped.write(path, f"openweathermap/{path.relative_to(folder)}")
    # The examples are loaded at start-up; import as a new catalogue connector with its own slug.
    data = io.BytesIO()
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(data, "w") as dst:
        for item in src.infolist():
            content = src.read(item)
            if item.filename.endswith("connector.yaml"):
                content = re.sub(rb"(?m)^slug: .*$", b"slug: owm-imported", content)
                if b"slug:" not in content:
                    content = b"slug: owm-imported\n" + content
            dst.writestr(item, content)
    archive.write_bytes(data.getvalue())
    page = page_for("platform")
    page.locator("#import-file").set_input_files(str(archive))
    expect(page.get_by_role("tab", name="Overview")).to_be_visible()
    expect(page.get_by_label("Slug")).to_have_value("owm-imported")
    page.get_by_role("tab", name="Operations").click()
    expect(page.get_by_role("button", name=re.compile("get_current_weather"))).to_be_visible()
    shoot(page, live, "imported-openweathermap")


OPENAPI = """\
openapi: 3.0.3
info: {title: Petstore E2E, version: "1.0"}
servers: [{url: "%s"}]
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-API-Key}
security: [{key: []}]
paths:
  /offset/items:
    get:
      operationId: listItems
      parameters:
        - {name: offset, in: query, schema: {type: integer}}
        - {name: limit, in: query, schema: {type: integer}}
      responses:
        "200":
          description: ok
          headers: {X-Total-Count: {schema: {type: integer}}}
          content:
            application/json:
              schema: {type: object, properties: {data: {type: array, items: {type: object}}}}
  /items/{id}:
    get:
      operationId: getItem
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
    trace:
      operationId: traceItem
      responses: {"200": {description: ok}}
"""


def test_cancelling_the_openapi_review_creates_nothing(
    page_for: Any, live: Live, tmp_path: Any
) -> None:
    spec = tmp_path / "cancelled.yaml"
    spec.write_text((OPENAPI % live.test_api).replace("Petstore E2E", "Cancelled Import"))
    page = page_for("platform")
    page.locator("#import-openapi-file").set_input_files(str(spec))
    report = page.get_by_role("dialog", name=re.compile("Import Cancelled Import"))
    report.get_by_role("button", name="Cancel").click()
    expect(report).to_have_count(0)
    page.get_by_label("Search").fill("Cancelled")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name="Cancelled Import")).to_have_count(0)


def test_import_openapi_document(page_for: Any, live: Live, tmp_path: Any) -> None:
    spec = tmp_path / "petstore.yaml"
    spec.write_text(OPENAPI % live.test_api)
    page = page_for("platform")
    page.locator("#import-openapi-file").set_input_files(str(spec))
    # A review before anything is created: warnings, and suggestions the user accepts.
    report = page.get_by_role("dialog", name=re.compile("Import Petstore E2E"))
    expect(report).to_be_visible()
    expect(report.get_by_role("heading", name=re.compile(r"Warnings \(\d+\)"))).to_be_visible()
    expect(
        report.get_by_role("heading", name=re.compile(r"Pagination suggestions \(1\)"))
    ).to_be_visible()
    expect(report.locator(".import-warnings")).to_contain_text("/paths/~1items~1{id}/trace")
    report.get_by_label(re.compile("Paginate list_items")).check()
    shoot(page, live, "import-openapi")
    report.get_by_role("button", name="Create the draft").click()
    expect(page.get_by_role("tab", name="Overview")).to_be_visible()
    page.get_by_role("tab", name="Operations").click()
    list_items = page.get_by_role("button", name=re.compile("list_items"))
    expect(list_items).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("get_item|getItem"))).to_be_visible()
    list_items.click()
    expect(page.get_by_label("Pagination type")).to_have_value("offset")
    # The paginator sets offset and limit on every page: they are no longer parameters.
    expect(page.get_by_label("offset param")).to_have_value("offset")
    expect(page.locator("table.parameters tbody")).to_have_text("No parameters.")
    page.get_by_role("tab", name="Auth & Credentials").click()
    expect(page.get_by_label("Auth type")).to_have_value("api_key")

    # Test every operation: get_item needs its path parameter, so it is skipped, not failed.
    page.get_by_role("tab", name="Test").click()
    page.get_by_label(re.compile(r"^API key")).fill(SECRET)
    page.get_by_role("button", name="Test every operation").click()
    summary = page.get_by_role("region", name="Test summary")
    expect(summary.get_by_role("heading")).to_have_text("1 passed, 0 failed, 1 skipped")
    expect(summary.get_by_role("row", name=re.compile("get_?item", re.I))).to_contain_text(
        "skipped: needs parameters"
    )


def test_viewer_sees_index_and_builder_read_only(page_for: Any, live: Live) -> None:
    page = page_for("viewer")
    expect(page.get_by_role("link", name="OpenWeatherMap", exact=True)).to_be_visible()
    for name in ("Create connector", re.compile("^Import"), "Delete OpenWeatherMap"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.locator("label[for=import-file], label[for=import-openapi-file]")).to_have_count(0)
    page.get_by_role("link", name="OpenWeatherMap", exact=True).click()
    expect(page.get_by_role("tab", name="Overview")).to_be_visible()
    expect(page.get_by_text("read-only")).to_be_visible()
    for name in ("Save draft", "Create draft", "Validate"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.get_by_label(re.compile(r"^Name"))).to_be_disabled()
    expect(page.get_by_label("Base URL")).to_be_disabled()
    page.get_by_role("tab", name="Operations").click()
    expect(page.get_by_role("button", name="Add operation")).to_have_count(0)
    page.get_by_role("tab", name="Publish").click()
    expect(page.get_by_role("tabpanel")).to_be_visible()
    expect(page.get_by_role("button", name="Publish", exact=True)).to_have_count(0)
    page.get_by_role("tab", name="YAML").click()
    expect(page.get_by_label("Connector YAML")).not_to_be_editable()
    shoot(page, live, "viewer-builder")
