"""Semantic versions, the bump suggestion and the diff between two connector documents."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from connectory.services.versioning import (
    diff_versions,
    has_changes,
    is_version,
    next_version,
    parse_version,
    suggest_bump,
)
from connectory.spec import ConnectorSpec

BASE: dict[str, Any] = {
    "name": "Weather",
    "base_url": "https://api.weather.test",
    "parameters": {"region": {"type": "string"}},
    "auth": {
        "auth_type": "api_key",
        "credential_schema": {"api_key": {"type": "password", "required": True}},
    },
    "operations": [
        {
            "name": "get_weather",
            "path": "/weather/{city}",
            "parameters": [
                {"name": "city", "location": "path"},
                {"name": "units", "default": "metric"},
            ],
        },
        {"name": "list_stations", "path": "/stations"},
    ],
}


def _spec(document: dict[str, Any]) -> ConnectorSpec:
    return ConnectorSpec.model_validate(document)


def _changed(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(BASE)
    change(document)
    return document


@pytest.mark.parametrize(
    ("text", "parts"),
    [("1.0.0", (1, 0, 0)), ("0.10.3", (0, 10, 3)), ("12.0.999", (12, 0, 999))],
)
def test_parse_version(text: str, parts: tuple[int, int, int]) -> None:
    assert parse_version(text) == parts
    assert is_version(text)


@pytest.mark.parametrize("text", ["1.0", "1.0.0-beta", "01.0.0", "v1.0.0", "", "1.0.0\n", "a.b.c"])
def test_not_versions(text: str) -> None:
    assert not is_version(text)
    with pytest.raises(ValueError, match=r"MAJOR\.MINOR\.PATCH"):
        parse_version(text)


def test_next_version() -> None:
    assert next_version(None, "patch") == "1.0.0"
    assert next_version(None, "major") == "1.0.0"
    assert next_version("1.2.3", "patch") == "1.2.4"
    assert next_version("1.2.3", "minor") == "1.3.0"
    assert next_version("1.2.3", "major") == "2.0.0"


def _remove_operation(d: dict[str, Any]) -> None:
    d["operations"].pop()


def _new_required_parameter(d: dict[str, Any]) -> None:
    d["operations"][1]["parameters"] = [{"name": "near", "required": True}]


def _new_path_parameter(d: dict[str, Any]) -> None:
    d["operations"][1]["path"] = "/stations/{id}"
    d["operations"][1]["parameters"] = [{"name": "id", "location": "path"}]


def _parameter_became_required(d: dict[str, Any]) -> None:
    d["operations"][0]["parameters"][1] = {"name": "units", "required": True}


def _required_credential(d: dict[str, Any]) -> None:
    d["auth"]["credential_schema"]["account"] = {"required": True}


def _required_connector_parameter(d: dict[str, Any]) -> None:
    d["parameters"]["region"]["required"] = True


def _auth_type(d: dict[str, Any]) -> None:
    d["auth"] = {"auth_type": "bearer"}


def _add_operation(d: dict[str, Any]) -> None:
    d["operations"].append({"name": "get_forecast", "path": "/forecast"})


def _optional_parameter(d: dict[str, Any]) -> None:
    d["operations"][1]["parameters"] = [{"name": "near"}]


def _required_with_default(d: dict[str, Any]) -> None:
    d["auth"]["credential_schema"]["account"] = {"required": True, "default": "main"}


def _description(d: dict[str, Any]) -> None:
    d["description"] = "new words"


def _method(d: dict[str, Any]) -> None:
    d["operations"][1]["path"] = "/v2/stations"


@pytest.mark.parametrize(
    ("change", "bump", "reason"),
    [
        (_remove_operation, "major", "operation 'list_stations' was removed"),
        (_new_required_parameter, "major", "new required parameter 'near'"),
        (_new_path_parameter, "major", "new required parameter 'id'"),
        (_parameter_became_required, "major", "parameter 'units' of operation 'get_weather'"),
        (_required_credential, "major", "new required credential field 'account'"),
        (_required_connector_parameter, "major", "connector parameter 'region' became required"),
        (_auth_type, "major", "auth_type changed from api_key to bearer"),
        (_add_operation, "minor", "operation 'get_forecast' was added"),
        (_optional_parameter, "patch", None),
        (_required_with_default, "patch", None),
        (_description, "patch", None),
        (_method, "patch", None),
    ],
)
def test_suggest_bump(change: Any, bump: str, reason: str | None) -> None:
    suggestion = suggest_bump(_spec(BASE), _spec(_changed(change)))
    assert suggestion.bump == bump
    if reason is not None:
        assert any(reason in text for text in suggestion.reasons), suggestion.reasons


def test_major_outranks_minor() -> None:
    def both(d: dict[str, Any]) -> None:
        _remove_operation(d)
        _add_operation(d)

    assert suggest_bump(_spec(BASE), _spec(_changed(both))).bump == "major"


def test_diff_addresses_named_items_by_name() -> None:
    def change(d: dict[str, Any]) -> None:
        # Inserting an operation first must not make every later one look changed.
        d["operations"].insert(0, {"name": "get_forecast", "path": "/forecast"})
        d["operations"][1]["parameters"][1]["default"] = "imperial"
        d["description"] = "new"

    diff = diff_versions(BASE, _changed(change))
    assert [(c.path, c.kind) for c in diff.changes] == [
        ("operations[get_weather].parameters[units].default", "changed"),
        ("operations[get_forecast]", "added"),
        ("description", "added"),
    ]
    assert diff.operations.added == ["get_forecast"]
    assert diff.operations.changed == ["get_weather"]
    assert diff.operations.removed == []


def test_diff_of_files_and_the_unified_text() -> None:
    diff = diff_versions(
        BASE,
        BASE,
        {"hooks/a.js": "one\n", "hooks/b.js": "gone\n"},
        {"hooks/a.js": "two\n", "hooks/c.js": "new\n"},
        labels=("1.0.0", "draft"),
    )
    assert diff.changed
    assert (diff.files.added, diff.files.removed, diff.files.changed) == (
        ["hooks/c.js"],
        ["hooks/b.js"],
        ["hooks/a.js"],
    )
    assert "--- 1.0.0/hooks/a.js\n+++ draft/hooks/a.js\n" in diff.unified
    assert "-one\n+two\n" in diff.unified
    assert "+++ /dev/null" in diff.unified


def test_the_version_field_is_not_a_change() -> None:
    published = {**BASE, "version": "1.0.0"}
    assert not has_changes(BASE, published, {}, {})
    assert not diff_versions(BASE, published).changed
    assert has_changes(BASE, BASE, {}, {"hooks/x.js": ""})


def test_keys_that_are_not_identifiers_are_quoted() -> None:
    old = {**BASE, "headers": {"X-Api.Version": "1"}}
    new = {**BASE, "headers": {"X-Api.Version": "2"}}
    assert [c.path for c in diff_versions(old, new).changes] == ['headers["X-Api.Version"]']


def test_the_unified_diff_is_capped() -> None:
    old = {**BASE, "description": "\n".join(f"line {i}" for i in range(10_000))}
    new = {**BASE, "description": "\n".join(f"other {i}" for i in range(10_000))}
    unified = diff_versions(old, new).unified
    assert unified.count("\n") <= 4001
    assert "more line(s) not shown" in unified


COLLECTION = {
    "key": "stations",
    "methods": {
        "list": {"operation": "list_stations", "filters": ["city"]},
        "find_by_id": {"request": {"path": "/stations/{{ id }}"}},
    },
}


def _with_collection(d: dict[str, Any]) -> None:
    d["collections"] = [copy.deepcopy(COLLECTION)]


@pytest.mark.parametrize(
    ("change", "bump", "reason"),
    [
        (lambda d: d.pop("collections"), "major", "collection 'stations' was removed"),
        (
            lambda d: d["collections"][0]["methods"].pop("find_by_id"),
            "major",
            "method 'find_by_id' of collection 'stations' was removed",
        ),
        (
            lambda d: d["collections"][0]["methods"]["list"].update(filters=[]),
            "major",
            "filter 'city' of stations.list was removed",
        ),
        (
            lambda d: d["operations"].pop(1),
            "major",
            "stations.list uses operation 'list_stations', which this version does not have",
        ),
        (
            lambda d: d["collections"][0]["methods"].update(
                delete={"request": {"method": "DELETE", "path": "/stations/{{ id }}"}}
            ),
            "minor",
            "method 'delete' of collection 'stations' was added",
        ),
        (
            lambda d: d["collections"].append({"key": "cities"}),
            "minor",
            "collection 'cities' was added",
        ),
    ],
)
def test_collection_changes(change: Any, bump: str, reason: str) -> None:
    before = _changed(_with_collection)
    after = copy.deepcopy(before)
    change(after)
    suggestion = suggest_bump(_spec(before), _spec(after))
    assert suggestion.bump == bump
    assert any(reason in text for text in suggestion.reasons), suggestion.reasons


def test_collections_are_diffed_by_key() -> None:
    before = _changed(_with_collection)
    after = copy.deepcopy(before)
    after["collections"][0]["methods"]["list"]["filters"] = ["city", "country"]
    diff = diff_versions(before, after)
    assert [change.path for change in diff.changes] == [
        "collections[stations].methods.list.filters"
    ]
