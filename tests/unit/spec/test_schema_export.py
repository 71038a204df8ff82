"""The exported JSON Schema agrees with the loader on the examples and on bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from connectory.spec import connector_json_schema
from connectory.spec.loader import read_connector_data

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def example_connectors(folder: Path) -> list[Path]:
    """Every connector under examples/: folders with a connector file, and loose YAML/JSON files."""
    found: list[Path] = []
    for path in sorted(folder.iterdir()):
        if "broken" in path.name or "invalid" in path.name:
            continue  # deliberately wrong, to show the error messages
        if path.is_dir() and path.name.endswith(".tests"):
            continue  # a single-file connector's test cases and recordings (crm.tests/)
        if path.is_dir():
            is_connector = any(
                (path / f"connector{s}").exists() for s in (".yaml", ".yml", ".json")
            )
            found += [path] if is_connector else example_connectors(path)
        elif path.suffix in (".yaml", ".yml", ".json"):
            found.append(path)
    return found


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = connector_json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_schema_header() -> None:
    schema = connector_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("connector.schema.json")
    assert schema["title"] == "Connectory connector"
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize(
    "example", example_connectors(EXAMPLES), ids=lambda p: str(p.relative_to(EXAMPLES))
)
def test_every_example_is_accepted(validator: Draft202012Validator, example: Path) -> None:
    data = read_connector_data(example)
    assert [error.message for error in validator.iter_errors(data)] == []


def test_the_seed_examples_are_among_them() -> None:
    names = {path.name for path in example_connectors(EXAMPLES)}
    assert {"openweathermap", "openweathermap-oauth2.yaml"} <= names


def minimal(**extra: Any) -> dict[str, Any]:
    return {"name": "x", "base_url": "https://x.example", **extra}


def test_unknown_field_is_rejected(validator: Draft202012Validator) -> None:
    assert not validator.is_valid(minimal(colour="blue"))
    auth = {"auth_type": "api_key", "heder_name": "X"}
    assert not validator.is_valid(minimal(auth=auth))


def test_unknown_auth_type_is_rejected(validator: Draft202012Validator) -> None:
    assert not validator.is_valid(minimal(auth={"auth_type": "oauth"}))


@pytest.mark.parametrize("key", ["operation", "name"])
def test_an_operation_is_named_by_operation_or_name(
    validator: Draft202012Validator, key: str
) -> None:
    assert validator.is_valid(minimal(operations=[{key: "a", "path": "/a"}]))


def test_an_operation_needs_exactly_one_name(validator: Draft202012Validator) -> None:
    assert not validator.is_valid(minimal(operations=[{"path": "/a"}]))
    both = {"operation": "a", "name": "a", "path": "/a"}
    assert not validator.is_valid(minimal(operations=[both]))
