"""A fast yes/no pre-check for the common subset of JSON Schema.

jsonschema spends ~75 us on a 10-field record, more than the rest of a call's framework
overhead together. Most response schemas use only ``type``, ``properties``, ``required``,
``items``, ``enum`` and ``additionalProperties``; those compile here into nested closures that
answer "valid?" in a few microseconds. Only a body the pre-check rejects goes to jsonschema,
which then produces the messages, so the reported mismatches are always jsonschema's own.

A schema using anything else (``$ref``, ``pattern``, ``minimum``, ``oneOf``, unknown keywords,
another draft) is not compiled: :func:`compile_check` returns None and jsonschema checks
every body, as before. The pre-check may only ever be *stricter* than jsonschema, never more
lenient: a "valid" here must be valid there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

#: Keywords that never affect validity (annotations), with no format checker configured.
_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "format",
        "$comment",
        "readOnly",
        "writeOnly",
        "deprecated",
    }
)
_SUPPORTED = _ANNOTATIONS | {
    "type",
    "properties",
    "required",
    "items",
    "enum",
    "const",
    "additionalProperties",
}


def _is_integer(value: Any) -> bool:
    # JSON Schema 2020-12 (and jsonschema): 1.0 is an integer; booleans are not numbers.
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def compile_check(schema: Any) -> Check | None:
    """Return a function telling whether a body is valid, or None if *schema* is out of scope."""
    if isinstance(schema, dict) and "$schema" in schema:
        return None  # another draft may define the keywords differently
    return _compile(schema)


def _compile(schema: Any) -> Check | None:
    if schema is True or schema == {}:
        return lambda value: True
    if not isinstance(schema, dict) or not set(schema) <= _SUPPORTED:
        return None
    checks: list[Check] = []

    kind = schema.get("type")
    if kind is not None:
        names = [kind] if isinstance(kind, str) else kind
        if not isinstance(names, list) or not all(name in _TYPES for name in names):
            return None
        tests = [_TYPES[name] for name in names]
        if len(tests) == 1:
            checks.append(tests[0])
        else:
            checks.append(lambda value: any(test(value) for test in tests))

    # enum / const only for strings: jsonschema's equality has rules for numbers and
    # booleans (1 == 1.0, True != 1) that are not worth copying here.
    if "enum" in schema:
        options = schema["enum"]
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            return None
        allowed = frozenset(options)
        checks.append(lambda value: isinstance(value, str) and value in allowed)
    if "const" in schema:
        constant = schema["const"]
        if not isinstance(constant, str):
            return None
        checks.append(lambda value: isinstance(value, str) and value == constant)

    object_check = _compile_object(schema)
    if object_check is False:
        return None
    if object_check is not True:
        checks.append(object_check)

    if "items" in schema:
        item = _compile(schema["items"])
        if item is None:
            return None
        checks.append(lambda value: not isinstance(value, list) or all(map(item, value)))

    if not checks:
        return lambda value: True
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


def _compile_object(schema: dict[str, Any]) -> Check | bool:
    """The object keywords as one check; True when there are none, False when unsupported."""
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    extra = schema.get("additionalProperties", True)
    if not isinstance(properties, dict) or not isinstance(required, list):
        return False
    if not all(isinstance(name, str) for name in required) or not isinstance(extra, bool):
        return False
    if not properties and not required and extra:
        return True
    compiled: list[tuple[str, Check]] = []
    for name, subschema in properties.items():
        check = _compile(subschema)
        if check is None:
            return False
        compiled.append((name, check))
    names = tuple(required)
    known = frozenset(properties)

    def check_object(value: Any) -> bool:
        if not isinstance(value, dict):
            return True  # object keywords apply to objects only
        for name in names:
            if name not in value:
                return False
        for name, check in compiled:
            if name in value and not check(value[name]):
                return False
        return extra or set(value) <= known

    return check_object
