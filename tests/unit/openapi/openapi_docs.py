"""Small hand-written OpenAPI documents for the importer's unit tests."""

from __future__ import annotations

from typing import Any

from connectory.openapi import ImportResult, import_openapi
from connectory.spec import check_connector_data


def document(
    paths: dict[str, Any] | None = None,
    *,
    version: str = "3.0.3",
    schemas: dict[str, Any] | None = None,
    components: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An OpenAPI 3 document with a server, the given paths and component schemas."""
    doc: dict[str, Any] = {
        "openapi": version,
        "info": {"title": "Test API", "version": "1.0"},
        "servers": [{"url": "https://api.example.com/v1"}],
        "paths": paths or {},
    }
    all_components = dict(components or {})
    if schemas:
        all_components["schemas"] = schemas
    if all_components:
        doc["components"] = all_components
    doc.update(extra)
    return doc


def swagger(paths: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A Swagger 2.0 document."""
    doc: dict[str, Any] = {
        "swagger": "2.0",
        "info": {"title": "Test API", "version": "1.0"},
        "host": "api.example.com",
        "basePath": "/v1",
        "schemes": ["https"],
        "paths": paths or {},
    }
    doc.update(extra)
    return doc


def json_body(schema: Any, description: str = "ok") -> dict[str, Any]:
    """A response (or request body) object with a JSON schema."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def get(responses: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """An operation object."""
    return {"responses": responses or {"200": {"description": "ok"}}, **fields}


def returning(schema: Any, **fields: Any) -> dict[str, Any]:
    """A GET operation whose 200 response has *schema*."""
    return get({"200": json_body(schema)}, **fields)


def run(doc: dict[str, Any], **options: Any) -> ImportResult:
    """Import *doc*, and check the connector is valid (no errors) as the platform would."""
    result = import_openapi(doc, **options)
    report = check_connector_data(result.connector)
    errors = [str(problem) for problem in report.errors]
    assert not errors, errors
    return result


def operation(result: ImportResult, name: str) -> dict[str, Any]:
    """The imported operation called *name*."""
    for op in result.connector["operations"]:
        if op["name"] == name:
            found: dict[str, Any] = op
            return found
    raise AssertionError(
        f"no operation {name}; have {[o['name'] for o in result.connector['operations']]}"
    )


def parameter(result: ImportResult, operation_name: str, name: str) -> dict[str, Any]:
    """One parameter of an imported operation."""
    for item in operation(result, operation_name).get("parameters", []):
        if item["name"] == name:
            found: dict[str, Any] = item
            return found
    raise AssertionError(f"no parameter {name}")


def warnings_at(result: ImportResult, pointer: str) -> list[str]:
    """Messages of the warnings at *pointer*."""
    return [w.message for w in result.warnings if w.pointer == pointer]
