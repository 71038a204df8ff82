"""Pagination suggestions: offered with a reason, applied only when accepted."""

from __future__ import annotations

from typing import Any

from openapi_docs import document, get, json_body, operation, run

from connectory.openapi import accept_pagination
from connectory.spec import check_connector_data


def _query(*names: str, **schemas: Any) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "query", "schema": schemas.get(name, {"type": "integer"})}
        for name in names
    ]


def _list(
    parameters: list[Any], body: Any, headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = json_body(body)
    if headers:
        response["headers"] = headers
    return document({"/items": {"get": get({"200": response}, parameters=parameters)}})


ITEMS = {"type": "array", "items": {"type": "object"}}


def _suggestion(doc: dict[str, Any]) -> dict[str, Any] | None:
    result = run(doc)
    return result.suggestions[0].to_dict() if result.suggestions else None


def test_a_declared_link_header() -> None:
    doc = _list(_query("page", "per_page"), ITEMS, {"Link": {"schema": {"type": "string"}}})
    assert _suggestion(doc) == {
        "operation": "get_items",
        "pagination": {"type": "link_header"},
        "record_selector": None,
        "replaces": [],
        "reason": "the success response declares a Link header",
    }


def test_page_and_per_page() -> None:
    doc = _list(_query("page", "per_page", per_page={"type": "integer", "maximum": 50}), ITEMS)
    suggestion = _suggestion(doc)
    assert suggestion is not None
    assert suggestion["pagination"] == {
        "type": "page_number",
        "page_param": "page",
        "size_param": "per_page",
        "page_size": 50,
    }
    assert suggestion["replaces"] == ["page", "per_page"]


def test_zero_based_pages() -> None:
    doc = _list(_query("page", page={"type": "integer", "default": 0}), ITEMS)
    suggestion = _suggestion(doc)
    assert suggestion is not None
    assert suggestion["pagination"]["start_page"] == 0
    assert suggestion["pagination"]["size_param"] is None


def test_offset_and_limit_with_a_wrapped_list_and_a_total() -> None:
    body = {
        "type": "object",
        "properties": {"data": ITEMS, "total": {"type": "integer"}, "links": {"type": "object"}},
    }
    doc = _list(_query("offset", "limit"), body)
    suggestion = _suggestion(doc)
    assert suggestion is not None
    assert suggestion["pagination"] == {
        "type": "offset",
        "offset_param": "offset",
        "limit_param": "limit",
        "page_size": 100,
        "total_path": "total",
    }
    assert suggestion["record_selector"] == "data"


def test_a_cursor_parameter_with_the_next_cursor_in_the_body() -> None:
    body = {
        "type": "object",
        "properties": {
            "items": ITEMS,
            "meta": {"type": "object", "properties": {"next_cursor": {"type": ["string", "null"]}}},
        },
    }
    doc = _list(_query("cursor", "limit", cursor={"type": "string"}), body)
    suggestion = _suggestion(doc)
    assert suggestion is not None
    assert suggestion["pagination"]["type"] == "cursor"
    assert suggestion["pagination"]["cursor_path"] == "meta.next_cursor"
    assert suggestion["pagination"]["size_param"] == "limit"
    assert suggestion["replaces"] == ["limit"]


def test_a_next_url_in_the_body() -> None:
    body = {"type": "object", "properties": {"value": ITEMS, "@odata.nextLink": {"type": "string"}}}
    suggestion = _suggestion(_list([], body))
    assert suggestion is not None
    assert suggestion["pagination"] == {"type": "next_url", "next_url_path": '["@odata.nextLink"]'}
    assert suggestion["record_selector"] == "value"


def test_a_total_count_header() -> None:
    doc = _list(
        _query("_page", "_limit"), ITEMS, {"X-Total-Count": {"schema": {"type": "integer"}}}
    )
    suggestion = _suggestion(doc)
    assert suggestion is not None
    assert suggestion["pagination"]["total_header"] == "X-Total-Count"


def test_nothing_is_suggested_without_a_list_or_a_pattern() -> None:
    assert _suggestion(_list(_query("page"), {"type": "object"})) is None
    assert _suggestion(_list(_query("q"), ITEMS)) is None
    body = {"type": "object", "properties": {"a": ITEMS, "b": ITEMS}}
    assert _suggestion(_list(_query("page"), body)) is None  # which list holds the records?
    post = document({"/items": {"post": get({"200": json_body(ITEMS)}, parameters=_query("page"))}})
    assert _suggestion(post) is None


def test_suggestions_are_not_applied_until_accepted() -> None:
    body = {"type": "object", "properties": {"results": ITEMS}}
    result = run(_list(_query("offset", "limit", "q"), body))
    assert "pagination" not in operation(result, "get_items")
    accepted = accept_pagination(result.connector, result.suggestions)
    changed = accepted["operations"][0]
    assert changed["pagination"]["type"] == "offset"
    assert changed["record_selector"] == "results"
    assert [p["name"] for p in changed["parameters"]] == ["q"]
    assert result.connector["operations"][0].get("pagination") is None  # not changed in place
    report = check_connector_data(accepted)
    assert report.ok and not report.warnings, report.problems


def test_accepting_for_some_operations_only() -> None:
    doc = document(
        {
            "/a": {"get": get({"200": json_body(ITEMS)}, parameters=_query("page"))},
            "/b": {"get": get({"200": json_body(ITEMS)}, parameters=_query("page"))},
        }
    )
    result = run(doc)
    accepted = accept_pagination(result.connector, result.suggestions, ["get_b"])
    assert [("pagination" in op) for op in accepted["operations"]] == [False, True]


def test_text_page_and_offset_parameters_are_not_numeric_paging() -> None:
    # String tokens named page or offset: numbers would be rejected, or read page 1 forever.
    text = {"type": "string"}
    assert _suggestion(_list(_query("page", page=text), ITEMS)) is None
    assert _suggestion(_list(_query("offset", "limit", offset=text), ITEMS)) is None


def test_a_page_parameter_answered_with_a_token_is_not_page_numbers() -> None:
    # The case: a zero-based Page that must be sent with a token the API returns.
    body = {
        "type": "object",
        "properties": {"records": ITEMS, "next_page_token": {"type": "string"}},
    }
    doc = _list(_query("Page", Page={"type": "integer", "minimum": 0}), body)
    assert _suggestion(doc) is None


def test_a_minimum_or_example_of_zero_starts_pages_at_zero_and_says_why() -> None:
    doc = _list(_query("page", page={"type": "integer", "minimum": 0}), ITEMS)
    suggestion = _suggestion(doc)
    assert suggestion is not None
    assert suggestion["pagination"]["start_page"] == 0
    assert "pages counted from 0 (its minimum is 0)" in suggestion["reason"]
    example = _list(_query("page", page={"type": "integer", "example": 0}), ITEMS)
    assert (_suggestion(example) or {})["pagination"]["start_page"] == 0


def test_a_relative_next_page_uri_field() -> None:
    # Twilio: next_page_uri is a path on the API ("/2010-04-01/Accounts.json?Page=1&...").
    body = {
        "type": "object",
        "properties": {"calls": ITEMS, "next_page_uri": {"type": ["string", "null"]}},
    }
    suggestion = _suggestion(_list(_query("Page", "PageToken"), body))
    assert suggestion is not None
    assert suggestion["pagination"] == {"type": "next_url", "next_url_path": "next_page_uri"}
    assert suggestion["record_selector"] == "calls"


def _with_example(parameters: list[Any], schema: Any, **media: Any) -> dict[str, Any]:
    response = json_body(schema)
    response["content"]["application/json"].update(media)
    return document({"/items": {"get": get({"200": response}, parameters=parameters)}})


def test_a_next_url_and_records_read_from_an_example() -> None:
    # No properties in the schema: only the example shows where the records and the link are.
    example = {"items": [{"id": 1}], "next": "https://api.example.com/v1/items?page=2"}
    suggestion = _suggestion(_with_example([], {"type": "object"}, example=example))
    assert suggestion is not None
    assert suggestion["pagination"] == {"type": "next_url", "next_url_path": "next"}
    assert suggestion["record_selector"] == "items"
    assert suggestion["reason"] == (
        "the response has a next-page URL (absolute or relative) at next "
        "(from the response example: records at items, next)"
    )


def test_a_cursor_in_a_named_example_of_a_referenced_component() -> None:
    doc = _with_example(
        _query("cursor", "limit", cursor={"type": "string"}),
        {"type": "object"},
        examples={"page": {"$ref": "#/components/examples/Page"}},
    )
    doc["components"] = {
        "examples": {
            "Page": {"value": {"data": [{"id": 1}], "meta": {"next_cursor": "c2"}}},
        }
    }
    suggestion = _suggestion(doc)
    assert suggestion is not None
    assert suggestion["pagination"] == {
        "type": "cursor",
        "cursor_param": "cursor",
        "cursor_path": "meta.next_cursor",
        "size_param": "limit",
        "page_size": 100,
    }
    assert suggestion["record_selector"] == "data"
    assert "meta.next_cursor" in suggestion["reason"]


def test_items_and_a_total_in_a_schema_example() -> None:
    schema = {"type": "object", "example": {"items": [{"id": 1}, {"id": 2}], "total": 2}}
    suggestion = _suggestion(_with_example(_query("offset", "limit"), schema))
    assert suggestion is not None
    assert suggestion["pagination"] == {
        "type": "offset",
        "offset_param": "offset",
        "limit_param": "limit",
        "page_size": 100,
        "total_path": "total",
    }
    assert suggestion["record_selector"] == "items"
    assert "from the response example: records at items, total" in suggestion["reason"]


def test_the_schema_speaks_before_the_example() -> None:
    # The schema lists its properties and none is a list: an example cannot overrule it.
    declared = {"type": "object", "properties": {"name": {"type": "string"}}}
    example = {"items": [{"id": 1}], "next": "/items?page=2"}
    assert _suggestion(_with_example([], declared, example=example)) is None
    # The schema declares next as a number: the example's text next is not read.
    typed = {"type": "object", "properties": {"items": ITEMS, "next": {"type": "integer"}}}
    assert _suggestion(_with_example([], typed, example=example)) is None


def test_an_example_next_that_is_not_a_url_is_not_a_next_url() -> None:
    # "next": "abc" is a token: without a cursor parameter to send it in, nothing is suggested.
    example = {"items": [{"id": 1}], "next": "abc123"}
    assert _suggestion(_with_example([], {"type": "object"}, example=example)) is None


def test_a_page_answered_with_a_token_in_the_example_is_not_page_numbers() -> None:
    example = {"records": [{"id": 1}], "next_page_token": "t2"}
    doc = _with_example(_query("page"), {"type": "object"}, example=example)
    assert _suggestion(doc) is None


def test_a_swagger_response_example() -> None:
    doc = {
        "swagger": "2.0",
        "info": {"title": "Test API", "version": "1.0"},
        "host": "api.example.com",
        "paths": {
            "/items": {
                "get": {
                    "parameters": [{"name": "page", "in": "query", "type": "integer"}],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "schema": {"type": "object"},
                            "examples": {"application/json": {"results": [], "count": 0}},
                        }
                    },
                }
            }
        },
    }
    suggestion = _suggestion(doc)
    assert suggestion is not None
    assert suggestion["pagination"] == {
        "type": "page_number",
        "page_param": "page",
        "size_param": None,
        "total_path": "count",
    }
    assert suggestion["record_selector"] == "results"


def test_a_total_is_preferred_to_a_count_beside_it() -> None:
    # Slack's paging: count is the page size, total the number of records.
    paging = {
        "type": "object",
        "properties": {n: {"type": "integer"} for n in ("count", "total", "page", "pages")},
    }
    body = {"type": "object", "properties": {"items": ITEMS, "paging": paging}}
    suggestion = _suggestion(_list(_query("page", "count"), body))
    assert suggestion is not None
    assert suggestion["pagination"]["total_path"] == "paging.total"
    example = {"items": [], "count": 10, "total": 250}
    from_example = _suggestion(_with_example(_query("page"), {"type": "object"}, example=example))
    assert (from_example or {})["pagination"]["total_path"] == "total"
