"""Deterministic values from JSON Schema, for calling imported operations.

Small on purpose: enums and consts first, then examples where asked, then a value built from the
type, format and bounds; ``oneOf`` branches are tried until exactly one matches. Every value is
checked against its schema before it is returned, so a generator bug cannot pass for a
rejected request.
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator

from connectory.spec.shared_schemas import bundle_schema, resolve_shared

_FORMATS = {
    "date-time": "2024-01-02T03:04:05Z",
    "date": "2024-01-02",
    "time": "03:04:05Z",
    "email": "user@example.com",
    "uri": "https://example.com/x",
    "url": "https://example.com/x",
    "uri-reference": "https://example.com/x",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "hostname": "example.com",
    "byte": "aGVsbG8=",
    "binary": "x",
    "password": "secret",
}
_PATTERN_GUESSES = ("a", "abc", "1", "A1", "ab-1", "main", "v1.0.0", "x" * 40, "0" * 40)


class CannotGenerate(Exception):
    """No value could be made for a schema (say which, so the test reports it)."""


class ValueGenerator:
    """Makes values for the schemas of one connector (with its shared schemas).

    Args:
        defs: The connector's shared schemas, which ``$ref: "#/schemas/Name"`` point into.
        use_examples: Prefer a schema's example when it validates.
    """

    def __init__(self, defs: dict[str, Any] | None = None, *, use_examples: bool = False) -> None:
        self._defs = defs or {}
        self._use_examples = use_examples

    def value(self, schema: Any) -> Any:
        """Return a value valid for *schema*.

        Raises:
            CannotGenerate: no valid value was found.
        """
        candidate = self._make(schema, 0)
        if not self._valid(schema, candidate):
            raise CannotGenerate(f"generated {candidate!r} does not match {str(schema)[:200]}")
        return candidate

    def _valid(self, schema: Any, value: Any) -> bool:
        schema = bundle_schema(schema, self._defs)
        return bool(Draft202012Validator(schema).is_valid(value))

    def _resolve(self, schema: Any) -> Any:
        for _ in range(20):
            if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
                rest = {k: v for k, v in schema.items() if k != "$ref"}
                target = resolve_shared({"$ref": schema["$ref"]}, self._defs)
                schema = {**(target if isinstance(target, dict) else {}), **rest}
            else:
                break
        return schema

    def _make(self, schema: Any, depth: int) -> Any:
        schema = self._resolve(schema)
        if schema is True or schema == {} or not isinstance(schema, dict):
            return "x"
        if depth > 12:
            raise CannotGenerate("schema nests too deeply")
        if "const" in schema:
            return schema["const"]
        enum = [value for value in schema.get("enum", []) if value is not None]
        if enum:
            return enum[0]
        if self._use_examples:
            for example in schema.get("examples", []):
                if self._valid(schema, example):
                    return example
        if (
            "default" in schema
            and schema["default"] is not None
            and self._valid(schema, schema["default"])
        ):
            return schema["default"]
        if "allOf" in schema:
            return self._make(
                _merge([self._resolve(s) for s in schema["allOf"]], schema), depth + 1
            )
        for key in ("oneOf", "anyOf"):
            if key in schema:
                return self._alternative(schema, key, depth)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = (
                "object" if "properties" in schema else "array" if "items" in schema else "string"
            )
        return getattr(self, f"_{kind}")(schema, depth)

    def _alternative(self, schema: dict[str, Any], key: str, depth: int) -> Any:
        branches = schema[key]
        outer = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf")}
        for branch in branches:
            resolved = self._resolve(branch)
            if isinstance(resolved, dict) and resolved.get("type") == "null" and len(branches) > 1:
                continue
            try:
                candidate = self._make(_merge([resolved], outer), depth + 1)
            except CannotGenerate:
                continue
            matches = sum(self._valid(other, candidate) for other in branches)
            if key == "anyOf" or matches == 1:
                return candidate
        raise CannotGenerate(f"no branch of {key} gives a value")

    def _object(self, schema: dict[str, Any], depth: int) -> Any:
        properties = schema.get("properties", {})
        return {
            name: self._make(properties.get(name, {}), depth + 1)
            for name in schema.get("required", [])
        }

    def _array(self, schema: dict[str, Any], depth: int) -> Any:
        count = max(int(schema.get("minItems", 1)), 1)
        if schema.get("maxItems") == 0:
            return []
        item = self._make(schema.get("items", {}), depth + 1)
        if schema.get("uniqueItems") and count > 1:
            raise CannotGenerate("several unique items")
        return [item] * count

    def _string(self, schema: dict[str, Any], depth: int) -> Any:
        text = _FORMATS.get(str(schema.get("format")), "abc")
        pattern = schema.get("pattern")
        if pattern:
            guesses = [*schema.get("examples", []), text, *_PATTERN_GUESSES]
            text = next((g for g in guesses if isinstance(g, str) and re.search(pattern, g)), None)
            if text is None:
                raise CannotGenerate(f"nothing matches the pattern {pattern!r}")
        minimum, maximum = int(schema.get("minLength", 0)), schema.get("maxLength")
        if len(text) < minimum:
            text = text + "x" * (minimum - len(text))
        if maximum is not None and len(text) > int(maximum):
            text = text[: int(maximum)]
        return text

    def _integer(self, schema: dict[str, Any], depth: int) -> Any:
        return int(self._number_value(schema))

    def _number(self, schema: dict[str, Any], depth: int) -> Any:
        return self._number_value(schema)

    def _number_value(self, schema: dict[str, Any]) -> int | float:
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        value = 1 if low is None else low + (1 if "exclusiveMinimum" in schema else 0)
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if high is not None and value > high:
            value = high - (1 if "exclusiveMaximum" in schema else 0)
        step = schema.get("multipleOf")
        if step:
            value = step * max(1, round(value / step))
        return value

    def _boolean(self, schema: dict[str, Any], depth: int) -> Any:
        return True

    def _null(self, schema: dict[str, Any], depth: int) -> Any:
        return None


def _merge(parts: list[Any], outer: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in outer.items() if k != "allOf"}
    for part in parts:
        if not isinstance(part, dict):
            continue
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            else:
                merged.setdefault(key, value)
    return merged
