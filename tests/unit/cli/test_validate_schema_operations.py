"""connectory validate / schema / operations."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import TESTAPI_CONNECTOR, Invoke, assert_no_traceback

INVALID = """\
name: Broken
base_url: https://api.example.com
auth:
  auth_type: api_kee
operations:
  - operation: get_thing
    method: FETCH
    path: /things
"""


def test_validate_a_valid_connector(invoke: Invoke) -> None:
    result = invoke("validate", str(TESTAPI_CONNECTOR))
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout
    assert "Connectory Test API" in result.stdout
    assert "operation(s)" in result.stdout


def test_validate_lists_every_error_and_exits_1(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(INVALID, encoding="utf-8")
    result = invoke("validate", str(path))
    assert result.exit_code == 1
    assert_no_traceback(result)
    errors = [line for line in result.stderr.splitlines() if ": error:" in line]
    assert len(errors) >= 2, result.stderr
    assert any("auth_type" in line for line in errors)
    assert any("method" in line for line in errors)
    assert all(line.startswith(f"{path}:") for line in errors)
    assert "error(s)" in result.stderr


def test_validate_json_format(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(INVALID, encoding="utf-8")
    result = invoke("validate", str(path), "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert len(report["problems"]) >= 2
    assert {"severity", "file", "line", "column", "path", "message"} <= set(report["problems"][0])
    valid = json.loads(invoke("validate", str(TESTAPI_CONNECTOR), "--format", "json").stdout)
    assert valid["ok"] is True


def test_validate_malformed_yaml(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: [unclosed\nbase_url: x\n", encoding="utf-8")
    result = invoke("validate", str(path))
    assert result.exit_code == 1
    assert_no_traceback(result)
    assert str(path) in result.stderr


def test_validate_missing_file(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert_no_traceback(result)
    assert "nope.yaml" in result.stderr


def test_schema_is_valid_json(invoke: Invoke) -> None:
    result = invoke("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert isinstance(schema, dict)
    assert "properties" in schema or "$defs" in schema
    assert result.stderr == ""


def test_schema_to_a_file(invoke: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "schema.json"
    result = invoke("schema", "-o", str(target))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert json.loads(target.read_text(encoding="utf-8")) == json.loads(invoke("schema").stdout)


def test_operations_table(invoke: Invoke) -> None:
    result = invoke("operations", str(TESTAPI_CONNECTOR))
    assert result.exit_code == 0, result.output
    for name in ("list_offset_items", "get_item", "echo_query", "create_echo_json"):
        assert name in result.stdout
    assert "id*: integer (path)" in result.stdout
    assert "page_number" in result.stdout
    assert "/items/{id}" in result.stdout


def test_operations_of_an_invalid_connector(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(INVALID, encoding="utf-8")
    result = invoke("operations", str(path))
    assert result.exit_code == 1
    assert_no_traceback(result)
    assert "auth_type" in result.stderr
    assert result.stdout == ""
