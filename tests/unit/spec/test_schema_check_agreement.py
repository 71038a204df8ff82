"""The fast schema checker (jsonschema_rs) and the detailed one (jsonschema) give one verdict.

``check_json_schema`` trusts jsonschema_rs when it says "valid" and asks jsonschema otherwise,
so a schema jsonschema_rs accepts but jsonschema rejects would lose its findings. These tests
hold the two to the same verdict on hand-picked mistakes and on generated schemas.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator, Draft202012Validator

from connectory.spec.schema_checks import check_json_schema, is_known_valid

DRAFT_7 = "http://json-schema.org/draft-07/schema#"


def detailed_verdict(schema: dict[str, Any]) -> bool:
    """jsonschema's answer: does *schema* match its meta-schema?"""
    cls = Draft7Validator if schema.get("$schema") == DRAFT_7 else Draft202012Validator
    return not any(cls(cls.META_SCHEMA).iter_errors(schema))


MISTAKES: list[dict[str, Any]] = [
    {"type": "strin"},
    {"type": ["string", 3]},
    {"type": "object", "properties": {"a": {"type": "numbr"}}},
    {"properties": []},
    {"required": "id"},
    {"required": [1]},
    {"items": [{"type": "string"}]},  # draft 2020-12 wants prefixItems
    {"enum": "a"},
    {"minLength": -1},
    {"minLength": "3"},
    {"maximum": "10"},
    {"additionalProperties": "no"},
    {"allOf": {}},
    {"anyOf": []},
    {"oneOf": [1]},
    {"not": []},
    {"$ref": 3},
    {"pattern": 5},
    {"uniqueItems": "yes"},
    {"$defs": {"a": 3}},
    {"dependentRequired": {"a": "b"}},
    {"multipleOf": 0},
    {"$schema": DRAFT_7, "definitions": {"a": "b"}},
    {"$schema": DRAFT_7, "exclusiveMinimum": "x"},
]

VALID: list[dict[str, Any]] = [
    {},
    {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]},
    {"type": ["string", "null"], "format": "date-time", "x-vendor": {"anything": [1, 2]}},
    {"prefixItems": [{"type": "string"}], "items": False},
    {"$defs": {"n": {"type": "number"}}, "$ref": "#/$defs/n"},
    {"oneOf": [{"type": "string"}, {"type": "integer", "minimum": 0}], "nullable": True},
    {"$schema": DRAFT_7, "items": [{"type": "string"}], "definitions": {"a": {}}},
]


@pytest.mark.parametrize("schema", MISTAKES, ids=lambda s: str(s)[:40])
def test_both_checkers_reject_each_mistake(schema: dict[str, Any]) -> None:
    assert not detailed_verdict(schema)
    assert not is_known_valid(schema)
    assert check_json_schema(("response_schema",), schema, "response_schema")


@pytest.mark.parametrize("schema", VALID, ids=lambda s: str(s)[:40])
def test_both_checkers_accept_valid_schemas(schema: dict[str, Any]) -> None:
    assert detailed_verdict(schema)
    assert is_known_valid(schema)
    assert check_json_schema(("response_schema",), schema, "response_schema") == []


def test_an_unknown_dialect_never_reaches_the_fast_checker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # jsonschema_rs would try to download an unknown meta-schema from its URL.
    def refuse(*_: Any, **__: Any) -> bool:
        raise AssertionError("jsonschema_rs was asked about an unknown dialect")

    monkeypatch.setattr(jsonschema_rs.meta, "is_valid", refuse)
    for dialect in ("http://127.0.0.1:9/meta", "https://example.invalid/schema", 3, None):
        assert not is_known_valid({"$schema": dialect, "type": "object"})
    findings = check_json_schema(("s",), {"$schema": "http://127.0.0.1:9/m"}, "response_schema")
    assert [f.severity for f in findings] == ["warning"]


def test_values_yaml_can_hold_but_json_cannot_fall_back_to_jsonschema() -> None:
    import datetime

    schema = {"type": "string", "default": datetime.date(2026, 1, 1)}
    assert check_json_schema(("s",), schema, "response_schema") == []


KEYWORDS = [
    "type", "properties", "items", "prefixItems", "required", "enum", "const", "minimum",
    "maximum", "minLength", "maxLength", "pattern", "format", "allOf", "anyOf", "oneOf", "not",
    "additionalProperties", "$ref", "$defs", "uniqueItems", "minItems", "title", "description",
    "default", "nullable", "exclusiveMinimum", "multipleOf", "dependentRequired", "x-extra",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(-2, 2, allow_nan=False),
    st.sampled_from(["string", "integer", "object", "array", "strin", "a", "#/$defs/x", ""]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from([*KEYWORDS, "a", "b"]), inner, max_size=3)
    ),
    max_leaves=8,
)
schemas = st.dictionaries(st.sampled_from(KEYWORDS), json_values, max_size=4)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas)
def test_generated_schemas_get_one_verdict(schema: dict[str, Any]) -> None:
    assert is_known_valid(schema) == detailed_verdict(schema)
