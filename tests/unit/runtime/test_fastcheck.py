"""The schema pre-check agrees with jsonschema: never lenient, and exact on its subset."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from connectory.runtime.fastcheck import MAX_GENERATED_LINES, compile_check

RECORD: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "tags"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string", "description": "annotation only"},
        "score": {"type": ["number", "null"]},
        "status": {"type": "string", "enum": ["active", "paused"]},
        "flag": {"type": "boolean"},
        "kind": {"const": "item"},
        "address": {
            "type": "object",
            "required": ["city"],
            "properties": {"city": {"type": "string"}},
            "additionalProperties": False,
        },
        "tags": {"type": "array", "items": {"type": "string"}},
        "anything": {},
    },
}
SCHEMAS = [
    RECORD,
    {"type": "array", "items": RECORD},
    {"type": "object", "properties": {"data": {"type": "array", "items": RECORD}}},
    {"enum": ["a", "b"]},
    {"items": {"type": "integer"}},
    {"required": ["x"]},
    {"type": ["integer", "string"]},
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(-3, 3, allow_nan=False)
    | st.sampled_from(["active", "paused", "item", "x", "", "city"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "name",
                    "score",
                    "status",
                    "flag",
                    "kind",
                    "address",
                    "tags",
                    "city",
                    "data",
                    "x",
                    "other",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=25,
)


@pytest.mark.parametrize("schema", SCHEMAS, ids=range(len(SCHEMAS)))
@settings(max_examples=150, deadline=None)
@given(value=json_values)
def test_the_pre_check_agrees_with_jsonschema(schema: dict[str, Any], value: Any) -> None:
    check = compile_check(schema)
    assert check is not None
    assert check(value) == Draft202012Validator(schema).is_valid(value)


def test_a_valid_record_passes() -> None:
    check = compile_check(RECORD)
    assert check is not None
    record = {"id": 1.0, "name": "n", "tags": ["a"], "address": {"city": "c"}, "kind": "item"}
    assert check(record)
    assert not check({**record, "id": True})
    assert not check({**record, "address": {"city": "c", "zip": "1"}})


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/$defs/x"},
        {"type": "string", "pattern": "^a"},
        {"type": "integer", "minimum": 1},
        {"oneOf": [{"type": "string"}]},
        {"nullable": True},
        {"enum": [1, 2]},
        {"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer"},
        {"type": "object", "properties": {"a": {"minLength": 1}}},
        {"type": "array", "prefixItems": [{"type": "string"}]},
        {"additionalProperties": {"type": "string"}},
        {"type": "decimal"},
    ],
)
def test_schemas_out_of_scope_are_left_to_jsonschema(schema: dict[str, Any]) -> None:
    assert compile_check(schema) is None


def test_names_from_the_schema_are_data_not_code() -> None:
    # The check is generated Python: a property name that looks like code must stay a name.
    name = "x'] or True or v0['\n\"); import os #"
    schema = {
        "type": "object",
        "required": [name],
        "properties": {name: {"type": "string", "enum": ["a'; raise SystemExit #"]}},
        "additionalProperties": False,
    }
    check = compile_check(schema)
    assert check is not None
    assert check({name: "a'; raise SystemExit #"})
    assert not check({name: "b"})
    assert not check({})
    assert not check({name: "a'; raise SystemExit #", "other": 1})


def test_a_schema_too_deep_to_generate_is_still_checked() -> None:
    # 40 nested arrays: more nested loops than Python compiles; the closures answer instead.
    schema: dict[str, Any] = {"type": "integer"}
    value: Any = 1
    for _ in range(40):
        schema = {"type": "array", "items": schema}
        value = [value]
    check = compile_check(schema)
    assert check is not None
    assert check(value)
    wrong: Any = "1"
    for _ in range(40):
        wrong = [wrong]
    assert not check(wrong)
    assert check(value) == Draft202012Validator(schema).is_valid(value)


def _generated(check: Any) -> bool:
    return getattr(getattr(check, "__code__", None), "co_filename", "") == "<connectory.fastcheck>"


def test_a_schema_too_wide_to_generate_cheaply_is_checked_by_the_closures() -> None:
    # Compiling costs ~0.5 ms and 30 KB per property: a schema with tens of thousands (an
    # imported or uploaded document) would block the server for seconds. Past the budget
    # the closures, built in linear time, answer the same.
    names = [f"field_{index}" for index in range(MAX_GENERATED_LINES)]
    schema = {
        "type": "object",
        "required": names,
        "properties": {name: {"type": "string"} for name in names},
    }
    check = compile_check(schema)
    assert check is not None and not _generated(check)
    record = {name: "x" for name in names}
    assert check(record)
    assert not check({**record, names[-1]: 1})
    small = compile_check(RECORD)
    assert small is not None and _generated(small)  # the budget leaves ordinary schemas alone


def test_an_empty_type_list_accepts_nothing() -> None:
    # Stricter than jsonschema is allowed, more lenient never: no value is of no type.
    check = compile_check({"type": []})
    assert check is not None
    assert not any(check(value) for value in (1, "a", None, {}, []))
