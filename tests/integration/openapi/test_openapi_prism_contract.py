"""Contract tests: Prism serves the document, and every imported operation is called.

Prism validates each request against the document (a violation comes back in the
``sl-violations`` header) and answers with a response generated from the document's schemas
(``--dynamic``, seeded); the runtime checks that response against the imported response schema.
A response that does not match is the importer's fault, unless Prism says in the same header
that its own response breaks the document (then the document contradicts itself: GitHub's
Docker package metadata requires a ``tags`` property it names ``tag``). So one call checks the
imported request side (paths, parameters, bodies, content types, auth) and the imported
response side (schema conversion) against the source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import GitHubImport
from openapi_support import GITHUB, PETSTORES, peer_file, prism
from openapi_values import CannotGenerate, ValueGenerator

from connectory.openapi import ImportResult, import_openapi
from connectory.openapi.pointers import lookup
from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec

pytestmark = [pytest.mark.integration, pytest.mark.peers]

#: Statuses that mean Prism refused the request itself (validation, auth, content type), unless
#: the operation declares them (Prism answers a declared status when there is no 2xx).
_REFUSALS = {400, 401, 403, 406, 415, 422}
#: GET operations of GitHub's description called against Prism.
GITHUB_SLICE = 30


#: What Prism says about a body the importer warned it cannot send as the document asks.
_BODY_REFUSALS = ("Body parameter is required", "No supported content types")


@dataclass
class CallReport:
    """What happened to each operation."""

    accepted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    #: Responses that do not match the imported schema, and that Prism itself says do not
    #: match the document either (a defect of the document, not of the import).
    document_defects: list[str] = field(default_factory=list)
    #: Refused for a body the importer warned about (array bodies, undeclared media types).
    body_warned: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    not_generated: list[str] = field(default_factory=list)


def _document_parameters(document: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    """The document's own schema of each parameter (for bounds, patterns and examples)."""
    item = document["paths"][_source_path(document, operation)]
    found: dict[str, Any] = {}
    for owner in (item, item[operation["method"].lower()]):
        for parameter in owner.get("parameters", []):
            while "$ref" in parameter:
                parameter = lookup(
                    document, tuple(parameter["$ref"][2:].replace("~1", "/").split("/"))
                )
            schema = parameter.get("schema", parameter)  # Swagger 2.0 puts it on the parameter
            found[parameter["name"]] = {
                k: v
                for k, v in schema.items()
                if k not in ("name", "in", "required", "description")
            }
    return found


def _warned_body(result: ImportResult, document: dict[str, Any], operation: dict[str, Any]) -> bool:
    """Whether the importer warned that it cannot send this operation's body as documented."""
    source = document["paths"][_source_path(document, operation)][operation["method"].lower()]
    has_body = "requestBody" in source or any(
        p.get("in") in ("body", "formData") for p in source.get("parameters", [])
    )
    if not has_body:
        return False
    if "request_body" not in operation:
        return any("without its body" in w.message for w in result.warnings)
    undeclared = "consumes" not in source and "consumes" not in document
    return "swagger" in document and undeclared


def _declared_statuses(document: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    """Statuses the operation declares: Prism answers one of them when there is no 2xx."""
    item = document["paths"][_source_path(document, operation)]
    return {str(code) for code in item[operation["method"].lower()].get("responses", {})}


def _source_path(document: dict[str, Any], operation: dict[str, Any]) -> str:
    path: str = operation["path"]
    return path if path in document["paths"] else path.lstrip("/")


def _arguments(
    result: ImportResult, operation: dict[str, Any], document: dict[str, Any]
) -> dict[str, Any]:
    """Values for every parameter, generated from the imported and the document's schemas."""
    body_schema = (operation.get("request_body") or {}).get("schema") or {}
    shared = result.connector.get("schemas")
    generator = ValueGenerator(shared)
    body = generator.value(body_schema) if body_schema else {}
    originals = _document_parameters(document, operation)
    values: dict[str, Any] = {}
    for parameter in operation.get("parameters", []):
        name = parameter["name"]
        if parameter["location"] == "body":
            if name in body:
                values[name] = body[name]
            continue
        schema = _parameter_schema(parameter, originals.get(name, {}))
        examples = ValueGenerator(shared, use_examples=parameter["location"] == "path")
        values[name] = examples.value(schema)
    return values


def _parameter_schema(parameter: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": parameter["type"]}
    for key in ("minimum", "maximum", "minLength", "maxLength", "pattern", "format", "minItems"):
        if key in original and not isinstance(original[key], bool):
            schema[key] = original[key]
    if "example" in original:
        schema["examples"] = [original["example"]]
    if isinstance(original.get("examples"), list):
        schema["examples"] = original["examples"]
    if "enum" in parameter:
        schema["enum"] = parameter["enum"]
    if "items" in parameter:
        schema["items"] = parameter["items"]
    return schema


async def _call_all(
    result: ImportResult,
    document: dict[str, Any],
    base_url: str,
    names: list[str],
    headers: dict[str, str],
) -> CallReport:
    spec = ConnectorSpec.model_validate({**result.connector, "headers": headers})
    credentials = {name: "test-secret" for name in spec.auth.credential_schema}
    report = CallReport()
    async with ConnectorClient(
        spec,
        credentials=credentials,
        base_url=base_url,
        response_validation="warn",
        resilience={"max_retries": 0, "rate_limit": None, "timeout": 20},
    ) as client:
        for name in names:
            operation = next(op for op in result.connector["operations"] if op["name"] == name)
            try:
                arguments = _arguments(result, operation, document)
            except CannotGenerate as error:
                report.not_generated.append(f"{name}: {error}")
                continue
            outcome = await client.call(name, arguments, raise_for_status=False)
            violations = outcome.headers.get("sl-violations")
            if outcome.schema_mismatches:
                shown = "; ".join(
                    f"{path}: {message[:200]}" for path, message in outcome.schema_mismatches[:3]
                )
                if '"response"' in str(violations):
                    report.document_defects.append(f"{name}: {shown}")
                else:
                    report.mismatched.append(f"{name}: {shown}")
                continue
            declared = _declared_statuses(document, operation)
            refused = outcome.status_code in _REFUSALS and str(outcome.status_code) not in declared
            body_refusal = any(reason in str(violations) for reason in _BODY_REFUSALS)
            if body_refusal and _warned_body(result, document, operation):
                report.body_warned.append(name)
                continue
            if violations or refused:
                body = str(outcome.body)[:300]
                report.refused.append(
                    f"{name} {arguments}: {outcome.status_code} {violations} {body}"
                )
            else:
                report.accepted.append(name)
    return report


@pytest.mark.parametrize("version", ["2.0", "3.0", "3.1"])
async def test_prism_accepts_every_petstore_operation(version: str, tmp_path: Path) -> None:
    path = peer_file(PETSTORES[version])
    document = json.loads(path.read_bytes())
    result = import_openapi(document)
    names = [op["name"] for op in result.connector["operations"]]
    # The connector authenticates with the api_key scheme; most operations also ask for
    # petstore_auth, an OAuth2 implicit flow the importer warns about, so the test sends a token.
    with prism(path, tmp_path) as base_url:
        report = await _call_all(
            result, document, base_url, names, {"Authorization": "Bearer test-token"}
        )
    assert report.refused == [], "\n".join(report.refused)
    assert report.mismatched == [], "\n".join(report.mismatched)
    assert report.not_generated == [], "\n".join(report.not_generated)
    # Array bodies (createUsersWith...) cannot be built from parameters, and Swagger 2.0's
    # petstore declares no media type for three bodies: warned at import, refused by Prism.
    expected = {"create_users_with_array_input", "create_users_with_list_input"}
    if version == "2.0":
        expected |= {"place_order", "create_user", "update_user"}
    assert set(report.body_warned) == expected
    assert report.document_defects == []
    assert len(report.accepted) == len(names) - len(expected)


def _github_slice(result: ImportResult) -> list[str]:
    gets = sorted(
        op["name"]
        for op in result.connector["operations"]
        if op["method"] == "GET" and "response_schema" in op
    )
    step = max(1, len(gets) // GITHUB_SLICE)
    return gets[::step][:GITHUB_SLICE]


async def test_prism_accepts_a_slice_of_github_operations(
    github_import: GitHubImport, tmp_path: Path
) -> None:
    peer_file(GITHUB)
    names = _github_slice(github_import.result)
    with prism(GITHUB, tmp_path, timeout=120) as base_url:
        report = await _call_all(github_import.result, github_import.document, base_url, names, {})
    assert report.refused == [], "\n".join(report.refused)
    assert report.mismatched == [], "\n".join(report.mismatched)
    assert report.not_generated == [], "\n".join(report.not_generated)
    assert len(report.accepted) + len(report.document_defects) == GITHUB_SLICE
    assert len(report.document_defects) <= 2, report.document_defects
