"""The OpenAPI import review lets the user pick which suggested collections to create."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from .conftest import Live, shoot

# Two CRUD-shaped resources (contacts, notes) and a plain list (/status).
CRM = """\
openapi: 3.0.3
info: {title: CRM Import E2E, version: "1.0"}
servers: [{url: "%s"}]
components:
  schemas:
    Contact:
      type: object
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string}
        email: {type: string}
        updated_at: {type: string, readOnly: true}
paths:
  /crm/contacts:
    get:
      operationId: listContacts
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Contact"}}
    post:
      operationId: createContact
      requestBody:
        content: {application/json: {schema: {$ref: "#/components/schemas/Contact"}}}
      responses: {"201": {description: created}}
  /crm/contacts/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
    get:
      operationId: getContact
      responses:
        "200":
          description: ok
          content: {application/json: {schema: {$ref: "#/components/schemas/Contact"}}}
    patch:
      operationId: updateContact
      responses: {"200": {description: ok}}
    delete:
      operationId: deleteContact
      responses: {"204": {description: deleted}}
  /notes:
    get:
      operationId: listNotes
      responses: {"200": {description: ok}}
  /notes/{note_id}:
    get:
      operationId: getNote
      parameters: [{name: note_id, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
  /status:
    get:
      operationId: getStatus
      responses: {"200": {description: ok}}
"""


def test_the_review_offers_collections_and_creates_the_ticked_ones(
    page_for: Any, live: Live, tmp_path: Any
) -> None:
    spec = tmp_path / "crm.yaml"
    spec.write_text(CRM % live.test_api)
    page = page_for("platform")
    page.locator("#import-openapi-file").set_input_files(str(spec))
    report = page.get_by_role("dialog", name=re.compile("Import CRM Import E2E"))
    expect(report).to_be_visible()
    suggestions = report.get_by_role("region", name="Collection suggestions")
    expect(suggestions.get_by_role("heading", name="Collection suggestions (2)")).to_be_visible()
    contacts = suggestions.get_by_label(re.compile(r"^Collection contacts \("))
    notes = suggestions.get_by_label(re.compile(r"^Collection notes \("))
    expect(contacts).not_to_be_checked()
    expect(notes).not_to_be_checked()
    # Each says which methods it would have and why it was suggested.
    expect(suggestions).to_contain_text(
        "Collection contacts (list, find_by_id, create, update, delete)"
    )
    expect(suggestions).to_contain_text("/crm/contacts and /crm/contacts/{id} are a CRUD-shaped")
    expect(suggestions).to_contain_text("Collection notes (list, find_by_id)")
    contacts.check()
    shoot(page, live, "import-openapi-collections")
    report.get_by_role("button", name="Create the draft").click()
    expect(page.get_by_role("tab", name="Overview")).to_be_visible()

    # Only the ticked collection is in the draft.
    page.get_by_role("tab", name="Data").click()
    group = page.get_by_role("group", name="Collections")
    expect(group.get_by_role("button", name="Contacts")).to_be_visible()
    expect(group.get_by_role("button", name="Notes")).to_have_count(0)
    expect(page.get_by_label("Operation of list")).to_have_value("list_contacts")
    expect(page.get_by_label("Operation of delete")).to_have_value("delete_contact")


def test_no_collection_section_when_nothing_is_crud_shaped(
    page_for: Any, live: Live, tmp_path: Any
) -> None:
    only_status = CRM.split("paths:\n")[0] + (
        "paths:\n  /status:\n    get:\n      operationId: getStatus\n"
        '      responses: {"200": {description: ok}}\n'
    )
    spec = tmp_path / "status.yaml"
    spec.write_text((only_status % live.test_api).replace("CRM Import E2E", "Status Only"))
    page = page_for("platform")
    page.locator("#import-openapi-file").set_input_files(str(spec))
    report = page.get_by_role("dialog", name=re.compile("Import Status Only"))
    expect(report.get_by_role("heading", name=re.compile("Warnings"))).to_be_visible()
    expect(report.get_by_role("region", name="Collection suggestions")).to_have_count(0)
    report.get_by_role("button", name="Cancel").click()
    expect(report).to_have_count(0)
