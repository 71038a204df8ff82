"""Checking the JSON Schemas a connector holds (response schemas, request body schemas).

Two checkers, one verdict: ``jsonschema_rs`` (compiled, ~1 ms to import) answers "is this a
valid schema?" for the drafts it bundles; only a schema it rejects, or one in a dialect it does
not know, goes to ``jsonschema`` (~50 ms to import), whose errors say where and why. Every
connector load checks its schemas, so the common case, valid schemas, must not pay for the
detailed checker. Tests hold the two to the same verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectory.spec.findings import Finding
from connectory.spec.source import FieldPath, format_path
from connectory.spec.suggest import did_you_mean, format_choices

_JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")
# A schema with dozens of mistakes is better fixed a few at a time than listed in full.
_MAX_FINDINGS = 10


# Returned by ``validator_for`` when ``$schema`` names no draft jsonschema knows.
_UNKNOWN_DIALECT: Any = object()

#: The dialect of a schema without ``$schema``, in both checkers.
_DEFAULT_DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: The ``$schema`` values whose meta-schemas jsonschema_rs bundles. Any other value must never
#: reach it: it would try to download the meta-schema from that URL.
_BUNDLED_DIALECTS = frozenset(
    {
        "https://json-schema.org/draft/2020-12/schema",
        "https://json-schema.org/draft/2019-09/schema",
        "http://json-schema.org/draft-07/schema",
        "http://json-schema.org/draft-07/schema#",
        "http://json-schema.org/draft-06/schema",
        "http://json-schema.org/draft-06/schema#",
        "http://json-schema.org/draft-04/schema",
        "http://json-schema.org/draft-04/schema#",
    }
)


def is_known_valid(schema: Mapping[str, Any]) -> bool:
    """True when the fast checker finds *schema* valid; False means "ask jsonschema"."""
    dialect = schema.get("$schema", _DEFAULT_DIALECT)
    if not isinstance(dialect, str) or dialect not in _BUNDLED_DIALECTS:
        return False
    import jsonschema_rs  # here, not at the top: modules that never check schemas skip it

    try:
        return bool(jsonschema_rs.meta.is_valid(dict(schema)))
    except Exception:  # values it cannot take (e.g. YAML dates): ask jsonschema
        return False


def check_json_schema(path: FieldPath, schema: Mapping[str, Any], label: str) -> list[Finding]:
    """Return the ways *schema* is not a valid JSON Schema, each at its path inside the schema.

    Args:
        path: Where the schema is in the connector, e.g. ``("operations", 0, "response_schema")``.
        schema: The schema.
        label: How to name the schema in messages, e.g. ``response_schema``.
    """
    if is_known_valid(schema):
        return []
    from jsonschema import Draft202012Validator
    from jsonschema.validators import validator_for

    findings: list[Finding] = []
    validator_class: Any = validator_for(schema, default=_UNKNOWN_DIALECT)
    if validator_class is _UNKNOWN_DIALECT:
        if "$schema" in schema:
            findings.append(
                Finding(
                    (*path, "$schema"),
                    f"{label}: $schema names a JSON Schema draft that is not known; it is "
                    "checked as draft 2020-12 (https://json-schema.org/draft/2020-12/schema)",
                    severity="warning",
                )
            )
        validator_class = Draft202012Validator
    meta_validator = validator_class(validator_class.META_SCHEMA)
    seen: set[tuple[str, str]] = set()
    for error in meta_validator.iter_errors(schema):
        inner = tuple(error.absolute_path)
        message = _describe(error.instance, inner, error.message)
        if (format_path(inner), message) in seen:
            continue  # draft 2020-12 reports one mistake once per vocabulary
        seen.add((format_path(inner), message))
        where = f" at {format_path(inner)}" if inner else ""
        findings.append(
            Finding((*path, *inner), f"{label} is not a valid JSON Schema{where}: {message}")
        )
        if len(findings) >= _MAX_FINDINGS:
            break
    return findings


def _describe(instance: Any, inner: FieldPath, message: str) -> str:
    if inner and inner[-1] == "type" and isinstance(instance, str):
        return (
            f"'{instance[:40]}' is not a JSON Schema type; use one of "
            f"{format_choices(_JSON_TYPES)}{did_you_mean(instance, _JSON_TYPES)}"
        )
    return message if len(message) <= 160 else message[:157] + "..."
