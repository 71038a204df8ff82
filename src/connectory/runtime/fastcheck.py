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

A schema in scope becomes one generated Python function (:func:`_generate`: straight-line
``isinstance`` tests and look-ups, about three times faster than the nested closures, which
remain the fallback for a schema nested too deeply to generate). The generated source holds
only names the generator makes up: every value taken from the schema (property names, enum
sets) is passed in as a constant, never written into the source.
"""

from __future__ import annotations

import builtins
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
    closures = _compile(schema)  # decides what is in scope
    if closures is None:
        return None
    try:
        return _generate(schema)
    except (_TooBig, SyntaxError, RecursionError, MemoryError):
        # Too wide to compile cheaply, or too deep for the compiler (nested loops,
        # indentation): the closures answer the same.
        return closures


#: The builtins the generated code uses.
_BUILTINS = ("isinstance", "dict", "list", "str", "int", "float", "bool")

#: The source of each type test, on the value in ``{v}``.
_TYPE_TESTS: dict[str, str] = {
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, list)",
    "string": "isinstance({v}, str)",
    "integer": "_is_integer({v})",
    "number": "(isinstance({v}, (int, float)) and not isinstance({v}, bool))",
    "boolean": "isinstance({v}, bool)",
    "null": "{v} is None",
}


class _Source:
    """The generated function's lines and the constants it reads."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {"_is_integer": _is_integer}

    def constant(self, value: Any) -> str:
        """The name the generated code reads *value* by."""
        name = f"_k{len(self.constants)}"
        self.constants[name] = value
        return name

    def add(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)


#: The most lines a generated check may have. Compiling costs about 0.5 ms and 30 KB per
#: property: a hostile or generated schema with 100,000 properties would block the event loop
#: for a minute and take gigabytes. Past this the closures answer (built in linear time).
MAX_GENERATED_LINES = 2_000


class _TooBig(Exception):
    """The schema would generate more than :data:`MAX_GENERATED_LINES` lines."""


def _generate(schema: Any) -> Check:
    """One function checking *schema* (already known to be in scope: see :func:`_compile`).

    Raises:
        _TooBig: the generated source would be larger than the budget.
    """
    source = _Source()
    _emit(schema, "v0", 2, source)
    if len(source.lines) > MAX_GENERATED_LINES:
        raise _TooBig
    source.add(2, "return True")
    # Constants and builtins reach the check as closure cells of a factory: read like
    # locals, and not copied on every call as keyword defaults would be.
    parameters = ", ".join((*_BUILTINS, *source.constants))
    code = (
        f"def make({parameters}):\n    def check(v0):\n"
        + "\n".join(source.lines)
        + "\n    return check\n"
    )
    namespace: dict[str, Any] = {}
    # The source is made of the generator's own names only (see the module docstring).
    exec(compile(code, "<connectory.fastcheck>", "exec"), namespace)
    values = [getattr(builtins, name) for name in _BUILTINS] + list(source.constants.values())
    check: Check = namespace["make"](*values)
    return check


def _emit(schema: Any, var: str, depth: int, source: _Source) -> None:
    """Add the statements that ``return False`` when the value in *var* breaks *schema*."""
    if schema is True or schema == {}:
        return
    kind = schema.get("type")
    names = [] if kind is None else [kind] if isinstance(kind, str) else kind
    if names:
        tests = " or ".join(_TYPE_TESTS[name].format(v=var) for name in names)
        source.add(depth, f"if not ({tests}): return False")
    elif kind is not None:
        source.add(depth, "return False")  # ``type: []``: no value has none of no types
    # Past a lone type test, the value's kind is known: no second isinstance for its keywords.
    known_kind = names[0] if len(names) == 1 else None
    if "enum" in schema:
        allowed = source.constant(frozenset(schema["enum"]))
        source.add(depth, f"if not (isinstance({var}, str) and {var} in {allowed}): return False")
    if "const" in schema:
        constant = source.constant(schema["const"])
        source.add(depth, f"if not (isinstance({var}, str) and {var} == {constant}): return False")
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    extra = schema.get("additionalProperties", True)
    if properties or required or not extra:
        # Object keywords apply to objects only.
        block = depth
        if known_kind != "object":
            source.add(depth, f"if isinstance({var}, dict):")
            block = depth + 1
        start = len(source.lines)
        for name in required:
            source.add(block, f"if {source.constant(name)} not in {var}: return False")
        inner = f"v{depth}"
        for name, subschema in properties.items():
            sub = _Source()
            sub.constants = source.constants
            _emit(subschema, inner, block + 1, sub)
            if sub.lines:
                key = source.constant(name)
                source.add(block, f"if {key} in {var}:")
                source.add(block + 1, f"{inner} = {var}[{key}]")
                source.lines.extend(sub.lines)
        if not extra:
            known = source.constant(frozenset(properties))
            source.add(block, f"if not ({var}.keys() <= {known}): return False")
        if len(source.lines) == start:
            source.add(block, "pass")
    if "items" in schema:
        item = f"v{depth}"
        sub = _Source()
        sub.constants = source.constants
        block = depth if known_kind == "array" else depth + 1
        _emit(schema["items"], item, block + 1, sub)
        if sub.lines:
            if known_kind != "array":
                source.add(depth, f"if isinstance({var}, list):")
            source.add(block, f"for {item} in {var}:")
            source.lines.extend(sub.lines)


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
