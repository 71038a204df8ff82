"""Checking the value of each JSON Schema keyword as the 2020-12 meta-schema does, but fast.

Validating every converted schema against the meta-schema with jsonschema took 17 of the 19
seconds of importing GitHub's description; the same rules, checked keyword by keyword while
converting, cost next to nothing. Subschema keywords (``properties``, ``items``, ``allOf``...)
are converted, and so checked, recursively; this module checks the others.
"""

from __future__ import annotations

from typing import Any

SIMPLE_TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})

_STRINGS = frozenset(
    {"title", "description", "format", "contentMediaType", "contentEncoding", "$comment", "pattern"}
)
_BOOLEANS = frozenset({"deprecated", "readOnly", "writeOnly", "uniqueItems"})
_NUMBERS = frozenset({"maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum"})
_COUNTS = frozenset(
    {
        "maxLength",
        "minLength",
        "maxItems",
        "minItems",
        "maxContains",
        "minContains",
        "maxProperties",
        "minProperties",
    }
)
_ARRAYS = frozenset({"enum", "examples"})


class Invalid:
    """Why a keyword's value is not valid JSON Schema."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def check_keyword(key: str, value: Any) -> Any:
    """Return *value* (tidied where that loses nothing), or :class:`Invalid` with the reason."""
    if key in _STRINGS:
        return value if isinstance(value, str) else Invalid("expected text")
    if key in _BOOLEANS:
        return value if isinstance(value, bool) else Invalid("expected true or false")
    if key in _NUMBERS:
        return value if _is_number(value) else Invalid("expected a number")
    if key in _COUNTS:
        if not _is_count(value):
            return Invalid("expected a whole number >= 0")
        return int(value)
    if key in _ARRAYS:
        return value if isinstance(value, list) else Invalid("expected a list")
    if key == "multipleOf":
        return value if _is_number(value) and value > 0 else Invalid("expected a number > 0")
    if key == "type":
        return _check_type(value)
    if key == "required":
        return _string_list(value)
    if key == "dependentRequired":
        if not isinstance(value, dict):
            return Invalid("expected a mapping of lists of property names")
        fixed = {name: _string_list(names) for name, names in value.items()}
        if any(isinstance(names, Invalid) for names in fixed.values()):
            return Invalid("expected a mapping of lists of property names")
        return fixed
    if key == "$ref":
        return value if isinstance(value, str) else Invalid("expected text")
    return value


def _check_type(value: Any) -> Any:
    if isinstance(value, str):
        return value if value in SIMPLE_TYPES else Invalid(f"'{value[:40]}' is not a JSON type")
    if (
        isinstance(value, list)
        and value
        and all(isinstance(item, str) and item in SIMPLE_TYPES for item in value)
    ):
        return list(dict.fromkeys(value))
    return Invalid("expected a JSON type or a list of them")


def _string_list(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(dict.fromkeys(value))
    return Invalid("expected a list of property names")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
