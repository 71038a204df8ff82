"""The builder never freezes or loses work (issue 11, section 8), in Debian's chromium.

Each test reproduces one defect: problems whose field is on another tab (the marking loop
froze the page), defaults saved as text, invalid schema JSON dropped on a tab switch, leaving
with unsaved edits, error banners that never cleared, failed test calls shown as successes.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from playwright.sync_api import expect

from .conftest import Live, code_text, set_code

_serial = itertools.count(1)


def _unique(prefix: str) -> str:
    return f"{prefix}-{next(_serial)}"


def _new_connector(page: Any, name: str, live: Live) -> None:
    """Start a new connector in the builder with a valid name and base URL."""
    page.get_by_role("button", name="Create connector").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Base URL").fill(live.test_api)


def _create_draft(live: Live, document: dict[str, Any]) -> str:
    with live.client() as admin:
        created = admin.post("/connectors", json={"document": document})
        assert created.status_code == 201, created.text
        return str(created.json()["id"])


def _draft(live: Live, connector_id: str) -> dict[str, Any]:
    with live.client() as admin:
        draft = admin.get(f"/connectors/{connector_id}/draft")
        assert draft.status_code == 200, draft.text
        return dict(draft.json())


def _open(page: Any, live: Live, connector_id: str, tab: str = "overview") -> None:
    page.goto(f"{live.url}/ui/#/connectors/{connector_id}/{tab}")
    page.get_by_role("tab", name="Overview").wait_for()


def _status(page: Any) -> Any:
    return page.locator("#status")


def _alive(page: Any) -> None:
    """Fail fast if the page stopped answering input (a frozen page would hang an expect)."""
    page.locator("h1").hover(timeout=5_000)


# -- problems whose field is not on the current tab ------------------------------------------


def test_empty_operation_name_then_switching_tabs_keeps_the_builder_alive(
    page_for: Any, live: Live
) -> None:
    page = page_for("platform")
    _new_connector(page, "Empty Op Name", live)
    page.get_by_role("tab", name="Operations").click()
    page.get_by_role("button", name="Add operation").click()
    page.get_by_label("Operation name").fill("")
    page.get_by_role("button", name="Validate").click()
    expect(page.get_by_label("Operation name")).to_have_attribute("aria-invalid", "true")
    expect(page.locator('[data-error-for="operations[0].operation"]')).to_contain_text(
        "must not be empty"
    )

    # The froze here: the problem's field is not on the Overview tab.
    page.get_by_role("tab", name="Overview").click()
    expect(page.get_by_label("Name")).to_have_value("Empty Op Name")
    expect(page.get_by_role("tab", name="Operations")).to_contain_text("1 problems")
    problems = page.locator("details.problems")
    expect(problems).to_contain_text("must not be empty")
    expect(problems).to_contain_text("Operations tab")

    # Its link goes to the field, on its tab.
    problems.get_by_role("button", name="operations[0].operation").click()
    expect(page.get_by_role("tab", name="Operations")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_label("Operation name")).to_be_focused()
    expect(page.get_by_label("Operation name")).to_have_attribute("aria-invalid", "true")

    # Editing the field removes its stale mark; validating again clears the problem.
    page.get_by_label("Operation name").fill("list_items")
    expect(page.get_by_label("Operation name")).not_to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Validate").click()
    expect(_status(page)).to_have_text("The connector is valid.")
    expect(problems).to_have_count(0)
    expect(page.get_by_role("tab", name="Operations")).not_to_contain_text("problems")


def test_api_key_auth_validated_before_any_credential_field(page_for: Any, live: Live) -> None:
    page = page_for("platform")
    _new_connector(page, "Key Before Fields", live)
    page.get_by_role("tab", name="Auth & Credentials").click()
    page.get_by_label("Auth type").select_option("api_key")
    page.get_by_role("button", name="Validate").click()
    expect(_status(page)).to_contain_text("problem(s) to fix")
    _alive(page)

    # auth.api_key has no field of its own: it shows at the top of the auth settings.
    auth_box = page.locator('[data-error-for="auth"]')
    expect(auth_box).to_contain_text("not declared in auth.credential_schema")
    expect(page.locator("details.problems")).to_contain_text("auth.api_key")

    # The page still answers: declare the field, and the problem goes.
    page.get_by_role("button", name="Add credential field").click()
    page.get_by_label("Field name 1").fill("api_key")
    page.get_by_label("Field name 1").press("Tab")
    page.get_by_label("Type of api_key").select_option("password")
    page.get_by_role("button", name="Validate").click()
    expect(_status(page)).to_have_text("The connector is valid.")
    expect(auth_box).to_be_empty()
    expect(page.locator("details.problems")).to_have_count(0)
    # Switching tabs with the problem gone, and back, keeps the edits.
    page.get_by_role("tab", name="Overview").click()
    page.get_by_role("tab", name="Auth & Credentials").click()
    expect(page.get_by_label("Field name 1")).to_have_value("api_key")


def test_a_draft_whose_only_problem_is_a_warning_on_an_operation_opens(
    page_for: Any, live: Live
) -> None:
    slug = _unique("warned")
    connector_id = _create_draft(
        live,
        {
            "name": "Warned",
            "slug": slug,
            "base_url": live.test_api,
            "operations": [
                {
                    "operation": "get_item",
                    "method": "GET",
                    "path": "/items/{id}",
                    "parameters": [{"name": "id", "location": "path"}],
                }
            ],
        },
    )
    problems = _draft(live, connector_id)["problems"]
    assert [p["severity"] for p in problems] == ["warning"], problems
    assert problems[0]["path"] == "operations[0].parameters[0].required"

    page = page_for("platform")
    _open(page, live, connector_id)
    expect(page.get_by_label("Name")).to_have_value("Warned")
    summary = page.locator("details.problems")
    expect(summary).to_contain_text("0 error(s), 1 warning(s)")
    expect(summary).to_contain_text("path cannot have a hole")
    summary.get_by_role("button", name="operations[0].parameters[0].required").click()
    required = page.get_by_label("Required of parameter 1")
    expect(required).to_be_focused()
    expect(page.locator('[data-error-for="operations[0].parameters[0].required"]')).to_contain_text(
        "path cannot have a hole"
    )
    # The other operations' problems show on the list of operations, in any tab order.
    page.get_by_role("tab", name="Resilience").click()
    page.get_by_role("tab", name="Operations").click()
    expect(page.get_by_role("button", name=re.compile("get_item"))).to_be_visible()


def test_a_problem_of_an_operation_not_selected_is_flagged_and_revealed(
    page_for: Any, live: Live
) -> None:
    connector_id = _create_draft(
        live,
        {
            "name": "Two Ops",
            "slug": _unique("two-ops"),
            "base_url": live.test_api,
            "operations": [
                {"operation": "first", "method": "GET", "path": "/offset/items"},
                {"operation": "second", "method": "GET", "path": "/items"},
            ],
        },
    )
    page = page_for("platform")
    _open(page, live, connector_id, "operations")
    page.get_by_role("button", name="GET second").click()
    page.get_by_label(re.compile(r"^Path")).fill("/items/{id}")
    page.get_by_role("button", name="GET first").click()
    page.get_by_role("button", name="Validate").click()
    expect(_status(page)).to_contain_text("problem(s) to fix")
    _alive(page)
    # The first operation is shown; the problem of the second flags it in the list.
    expect(page.get_by_label("Operation name")).to_have_value("first")
    expect(page.get_by_role("button", name=re.compile(r"second \(has problems\)"))).to_be_visible()
    page.locator("details.problems").get_by_role("button", name="operations[1].path").click()
    expect(page.get_by_label("Operation name")).to_have_value("second")
    expect(page.get_by_label(re.compile(r"^Path"))).to_be_focused()
    expect(page.get_by_label(re.compile(r"^Path"))).to_have_attribute("aria-invalid", "true")


# -- typed defaults ----------------------------------------------------------------------------


def test_parameter_defaults_are_saved_as_their_type(page_for: Any, live: Live) -> None:
    page = page_for("platform")
    _new_connector(page, "Typed Defaults", live)
    page.get_by_role("tab", name="Operations").click()
    page.get_by_role("button", name="Add operation").click()
    page.get_by_label(re.compile(r"^Path")).fill("/offset/items")
    for _ in range(5):
        page.get_by_role("button", name="Add parameter").click()
    rows = [("limit", "integer"), ("ratio", "number"), ("flag", "boolean"), ("tags", "array")]
    for index, (name, kind) in enumerate(rows, start=1):
        page.get_by_label(f"Name of parameter {index}").fill(name)
        page.get_by_label(f"Type of parameter {index}").select_option(kind)
    page.get_by_label("Default of parameter 1").fill("50")
    page.get_by_label("Default of parameter 2").fill("2.5")
    page.get_by_label("Default of parameter 3").select_option("false")
    page.get_by_label("Default of parameter 4").fill('["a", "b"]')
    # Typed first as text, then the type changes: "7" becomes 7.
    page.get_by_label("Name of parameter 5").fill("page")
    page.get_by_label("Default of parameter 5").fill("7")
    page.get_by_label("Type of parameter 5").select_option("integer")
    expect(page.get_by_label("Default of parameter 5")).to_have_value("7")

    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_text("Created Typed Defaults")).to_be_visible()
    connector_id = page.url.split("/connectors/")[1].split("/")[0]
    draft = _draft(live, connector_id)
    assert draft["problems"] == []
    defaults = {
        p["name"]: p.get("default") for p in draft["document"]["operations"][0]["parameters"]
    }
    assert defaults == {"limit": 50, "ratio": 2.5, "flag": False, "tags": ["a", "b"], "page": 7}
    assert isinstance(defaults["limit"], int) and isinstance(defaults["page"], int)

    # Shown again as typed, after a reload from the server.
    page.reload()
    page.get_by_role("tab", name="Operations").click()
    expect(page.get_by_label("Default of parameter 1")).to_have_value("50")
    expect(page.get_by_label("Default of parameter 3")).to_have_value("false")
    expect(page.get_by_label("Default of parameter 4")).to_have_value('["a","b"]')


def test_a_default_that_does_not_fit_its_type_is_kept_and_blocks_save(
    page_for: Any, live: Live
) -> None:
    connector_id = _create_draft(
        live,
        {
            "name": "Bad Default",
            "slug": _unique("bad-default"),
            "base_url": live.test_api,
            "operations": [
                {
                    "operation": "list_items",
                    "path": "/offset/items",
                    "parameters": [{"name": "limit", "type": "integer", "default": 10}],
                }
            ],
        },
    )
    page = page_for("platform")
    _open(page, live, connector_id, "operations")
    default = page.get_by_label("Default of parameter 1")
    default.fill("fifty")
    expect(default).to_have_attribute("aria-invalid", "true")
    error = page.locator('[data-error-for="operations[0].parameters[0].default"]')
    expect(error).to_contain_text('"fifty" is not an integer')

    page.get_by_role("button", name="Save draft").click()
    expect(_status(page)).to_contain_text("Not saved")
    expect(_status(page)).to_contain_text("operations[0].parameters[0].default")
    assert _draft(live, connector_id)["document"]["operations"][0]["parameters"][0]["default"] == 10

    # A tab switch keeps the text and its error; the problem list links back to it.
    page.get_by_role("tab", name="Overview").click()
    expect(page.locator("details.problems")).to_contain_text("Default of parameter 1")
    page.locator("details.problems").get_by_role(
        "button", name="operations[0].parameters[0].default"
    ).click()
    expect(default).to_be_focused()
    expect(default).to_have_value("fifty")
    expect(error).to_contain_text("is not an integer")

    # A type it fits resolves it: "fifty" is a fine string default.
    page.get_by_label("Type of parameter 1").select_option("string")
    expect(page.get_by_label("Default of parameter 1")).not_to_have_attribute(
        "aria-invalid", "true"
    )
    page.get_by_role("button", name="Save draft").click()
    expect(_status(page)).to_have_text("Draft saved.")
    saved = _draft(live, connector_id)["document"]["operations"][0]["parameters"][0]
    assert (saved["type"], saved["default"]) == ("string", "fifty")


def test_typed_values_parse_as_their_type(page_for: Any, live: Live) -> None:
    page = page_for("platform")
    cases = [
        ["50", "integer", {"value": 50}],
        [" -3 ", "integer", {"value": -3}],
        ["5.5", "integer", None],
        ["9007199254740993", "integer", None],
        ["2.5", "number", {"value": 2.5}],
        ["1e3", "number", {"value": 1000}],
        ["0x10", "number", None],
        ["abc", "number", None],
        ["True", "boolean", {"value": True}],
        ["yes", "boolean", None],
        ["[1, 2]", "array", {"value": [1, 2]}],
        ['{"a": 1}', "array", None],
        ['{"a": 1}', "object", {"value": {"a": 1}}],
        ["{a: 1}", "object", None],
        ["", "integer", {"value": None}],  # unset (undefined arrives as None)
        ["   ", "number", {"value": None}],
        ["50", "string", {"value": "50"}],
    ]
    results = page.evaluate(
        """async (cases) => {
            const { parseTyped, formatTyped } = await import('/ui/static/views/values.js');
            return cases.map(([text, type]) => {
                const parsed = parseTyped(text, type);
                const back = 'value' in parsed && parsed.value !== undefined
                    ? parseTyped(formatTyped(parsed.value), type).value : undefined;
                return { parsed, back };
            });
        }""",
        cases,
    )
    for (text, kind, expected), result in zip(cases, results, strict=True):
        parsed = result["parsed"]
        if expected is None:
            assert parsed.get("error"), (text, kind, parsed)
        else:
            assert parsed == expected, (text, kind, parsed)
            if expected["value"] is not None:
                assert result["back"] == expected["value"], (text, kind, result)


# -- schema boxes ----------------------------------------------------------------------------


def test_invalid_schema_json_is_kept_marked_and_blocks_save(page_for: Any, live: Live) -> None:
    connector_id = _create_draft(
        live,
        {
            "name": "Schema Box",
            "slug": _unique("schema-box"),
            "base_url": live.test_api,
            "operations": [
                {
                    "operation": "create_item",
                    "method": "POST",
                    "path": "/echo",
                    "response_schema": {"type": "object"},
                }
            ],
        },
    )
    page = page_for("platform")
    _open(page, live, connector_id, "operations")
    broken = '{"type": "object", "properties": {'
    response = page.get_by_label("Response schema (JSON Schema)")
    body = page.get_by_label("Request body schema (JSON Schema)")
    response.fill(broken)
    body.fill("[1, 2]")
    expect(response).to_have_attribute("aria-invalid", "true")
    expect(page.locator('[data-error-for="operations[0].response_schema"]')).to_contain_text(
        "Not valid JSON"
    )
    expect(page.locator('[data-error-for="operations[0].request_body.schema"]')).to_contain_text(
        "A JSON Schema here is a JSON object"
    )

    # A tab switch used to drop the text: it is kept, and still marked.
    page.get_by_role("tab", name="Resilience").click()
    page.get_by_role("tab", name="Operations").click()
    expect(response).to_have_text(broken)  # the code editor (a textbox, not an input)
    expect(response).to_have_attribute("aria-invalid", "true")
    expect(body).to_have_text("[1, 2]")

    # Saving is refused with a clear message; the YAML view (the document) waits too.
    page.get_by_role("button", name="Save draft").click()
    expect(_status(page)).to_contain_text("Not saved: 2 field(s)")
    expect(_status(page)).to_contain_text("What you typed is kept")
    page.get_by_role("tab", name="YAML").click()
    expect(_status(page)).to_contain_text("before opening the YAML view")
    expect(page.get_by_role("tab", name="Operations")).to_have_attribute("aria-selected", "true")
    document = _draft(live, connector_id)["document"]["operations"][0]
    assert document["response_schema"] == {"type": "object"}
    assert "request_body" not in document

    response.fill('{"type": "object", "properties": {"id": {"type": "integer"}}}')
    body.fill('{"type": "object"}')
    expect(response).not_to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Save draft").click()
    expect(_status(page)).to_have_text("Draft saved.")
    document = _draft(live, connector_id)["document"]["operations"][0]
    assert document["response_schema"]["properties"] == {"id": {"type": "integer"}}
    assert document["request_body"]["schema"] == {"type": "object"}


# -- leaving with unsaved edits ----------------------------------------------------------------


def test_leaving_the_builder_with_unsaved_edits_asks_first(page_for: Any, live: Live) -> None:
    connector_id = _create_draft(
        live, {"name": "Leave Me", "slug": _unique("leave-me"), "base_url": live.test_api}
    )
    page = page_for("platform")
    _open(page, live, connector_id)
    dialogs: list[str] = []
    answer = {"accept": False}

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.type)
        if answer["accept"]:
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", on_dialog)

    # Nothing edited: leaving asks nothing.
    page.get_by_role("link", name="← Connectors").click()
    expect(page.get_by_role("heading", name="Connectors")).to_be_visible()
    assert dialogs == []

    # Edited: the in-app link asks; staying keeps the edit (and the address).
    page.get_by_role("link", name="Leave Me", exact=True).click()
    page.get_by_label("Description").fill("unsaved words")
    with page.expect_event("dialog"):
        page.get_by_role("link", name="← Connectors").click()
    expect(page.get_by_label("Description")).to_have_value("unsaved words")
    assert dialogs == ["confirm"]
    assert f"/connectors/{connector_id}/" in page.url
    # The header's links ask too, and so does signing out.
    with page.expect_event("dialog"):
        page.get_by_role("link", name="Connectory").click()
    with page.expect_event("dialog"):
        page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Description")).to_have_value("unsaved words")
    assert dialogs == ["confirm", "confirm", "confirm"]

    # Reloading asks (beforeunload); dismissing keeps the page and the edit.
    with page.expect_event("dialog"):
        page.evaluate("() => { location.reload(); }")
    assert dialogs[-1] == "beforeunload"
    expect(page.get_by_label("Description")).to_have_value("unsaved words")

    # Leaving for real discards the edit: the connector opens as saved.
    answer["accept"] = True
    page.get_by_role("link", name="← Connectors").click()
    expect(page.get_by_role("heading", name="Connectors")).to_be_visible()
    page.get_by_role("link", name="Leave Me", exact=True).click()
    expect(page.get_by_label("Description")).to_have_value("")


def test_saved_work_leaves_without_asking(page_for: Any, live: Live) -> None:
    page = page_for("platform")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    _new_connector(page, "Saved Then Left", live)
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_text("Created Saved Then Left")).to_be_visible()
    page.reload()
    page.get_by_role("link", name="← Connectors").click()
    expect(page.get_by_role("heading", name="Connectors")).to_be_visible()
    assert dialogs == []


# -- error banners -------------------------------------------------------------------------------


def test_error_banners_clear_when_resolved_or_on_the_next_success(
    page_for: Any, live: Live
) -> None:
    connector_id = _create_draft(
        live, {"name": "Banners", "slug": _unique("banners"), "base_url": live.test_api}
    )
    page = page_for("platform")
    _open(page, live, connector_id, "yaml")
    expect(page.get_by_label("Connector YAML")).to_contain_text("Banners")
    good = code_text(page, "yaml-text")

    # A YAML syntax error keeps the user in the YAML view; fixing it clears the banner.
    set_code(page, "yaml-text", good + "\nname: [unclosed\n")
    page.get_by_role("tab", name="Overview").click()
    expect(_status(page)).to_have_text("Fix the YAML syntax error before leaving the YAML view.")
    set_code(page, "yaml-text", good.replace("name: Banners", "name: Banners Fixed"))
    page.get_by_role("tab", name="Overview").click()
    expect(page.get_by_label("Name")).to_have_value("Banners Fixed")
    expect(_status(page)).to_be_empty()

    # A refused save, then a successful one: the error goes.
    page.get_by_label("Base URL").fill("not a url")
    page.get_by_role("button", name="Save draft").click()
    expect(_status(page)).to_contain_text("Not saved")
    page.get_by_label("Base URL").fill(live.test_api)
    page.get_by_role("button", name="Validate").click()
    expect(_status(page)).to_have_text("The connector is valid.")

    # An oversized icon, then a fitting one: the error goes.
    page.get_by_label("Icon").set_input_files(
        files=[{"name": "big.png", "mimeType": "image/png", "buffer": b"\x89PNG" + b"0" * 70_000}]
    )
    expect(_status(page)).to_contain_text("Icons are limited to 64 KiB")
    page.get_by_label("Icon").set_input_files(
        files=[{"name": "small.png", "mimeType": "image/png", "buffer": b"\x89PNG" + b"0" * 100}]
    )
    expect(_status(page)).to_be_empty()

    # An error belongs to its view: another view starts without it.
    page.get_by_role("button", name="Save draft").click()
    expect(_status(page)).to_have_text("Draft saved.")
    page.get_by_label("Base URL").fill("not a url")
    page.get_by_role("button", name="Save draft").click()
    expect(_status(page)).to_contain_text("Not saved")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("link", name="← Connectors").click()
    expect(page.get_by_role("heading", name="Connectors")).to_be_visible()
    expect(_status(page)).to_be_empty()


# -- failed test calls ---------------------------------------------------------------------------


def test_401_and_404_test_results_show_as_errors(page_for: Any, live: Live) -> None:
    connector_id = _create_draft(
        live,
        {
            "name": "Refusing",
            "slug": _unique("refusing"),
            "base_url": live.test_api,
            "auth": {
                "auth_type": "api_key",
                "header_name": "X-API-Key",
                "credential_schema": {
                    "api_key": {"label": "API Key", "type": "password", "required": True}
                },
            },
            "operations": [
                {"operation": "protected_items", "path": "/auth/api-key-header/items"},
                {"operation": "missing", "path": "/no-such-path"},
                {"operation": "list_items", "path": "/offset/items"},
            ],
        },
    )
    page = page_for("platform")
    _open(page, live, connector_id, "test")
    page.get_by_label("API Key").fill("wrong-key")
    result = page.get_by_role("region", name="Result")
    for operation, status, hint in (
        ("protected_items", 401, "credentials were refused"),
        ("missing", 404, "Not found"),
    ):
        page.get_by_label("Operation", exact=True).select_option(label=f"GET {operation}")
        page.get_by_role("button", name="Send").click()
        expect(result.locator(".result-head .badge")).to_have_text(f"✗ HTTP {status}")
        expect(result.locator(".result-head .badge")).to_have_class(re.compile("badge-bad"))
        expect(result).to_contain_text(hint)
        expect(result.locator(".badge-ok")).to_have_count(0)
        expect(_status(page)).to_have_class(re.compile("status-error"))
        expect(_status(page)).to_contain_text(f"✗ {operation}: HTTP {status}")

    # A success after them is green again, and "Test every operation" counts them as failed.
    page.get_by_label("Operation", exact=True).select_option(label="GET list_items")
    page.get_by_role("button", name="Send").click()
    expect(result.locator(".result-head .badge")).to_have_text("✓ HTTP 200")
    expect(_status(page)).to_have_class(re.compile("status-info"))
    page.get_by_role("button", name="Test every operation").click()
    expect(page.get_by_role("region", name="Test summary").get_by_role("heading")).to_have_text(
        "1 passed, 2 failed, 0 skipped"
    )
    expect(_status(page)).to_have_class(re.compile("status-error"))


def test_a_sensitive_default_stays_kept_through_type_changes(page_for: Any, live: Live) -> None:
    connector_id = _create_draft(
        live,
        {
            "name": "Pin Default",
            "slug": _unique("pin-default"),
            "base_url": live.test_api,
            "auth": {
                "auth_type": "api_key",
                "header_name": "X-PIN",
                "credential_schema": {
                    "api_key": {"type": "integer", "sensitive": True, "default": 4321}
                },
            },
        },
    )
    page = page_for("platform")
    _open(page, live, connector_id, "auth")
    default = page.get_by_label("Default of api_key")
    expect(default).to_have_value("********")
    page.get_by_label("Type of api_key").select_option("string")
    page.get_by_label("Type of api_key").select_option("integer")
    expect(default).to_have_value("********")
    expect(default).not_to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Save draft").click()
    expect(_status(page)).to_have_text("Draft saved.")
    field = _draft(live, connector_id)["document"]["auth"]["credential_schema"]["api_key"]
    assert (field["type"], field["default"]) == ("integer", "********")
