"""Checking what a caller passes: operation parameters, credentials and connector parameters.

Values arrive as Python objects (from the Python API) or as strings (from the CLI and query
strings); both are coerced to the declared type. Errors name the parameter and what to pass;
they never echo a credential's value.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

import orjson

from connectory.errors import CredentialsError, InputError
from connectory.spec.fields import InputFieldSpec
from connectory.spec.operations import OperationSpec, ParameterSpec
from connectory.spec.values import coerce_value


def resolve_parameters(
    operation: OperationSpec,
    given: Mapping[str, Any],
    *,
    known: AbstractSet[str] | None = None,
) -> dict[str, Any]:
    """Validate *given* against the operation's parameters; return them with defaults applied.

    Args:
        operation: The operation.
        given: What the caller passed.
        known: The operation's parameter names, when the caller keeps them (a plan does).

    Raises:
        InputError: an unknown, missing, mistyped or out-of-enum parameter (the first found,
            named in the error; every message says what to pass instead).
    """
    if known is None:
        known = {parameter.name for parameter in operation.parameters}
    for name in given:
        if name not in known:
            raise InputError(_unknown_parameter(operation, name), parameter=name)
    resolved: dict[str, Any] = {}
    for parameter in operation.parameters:
        value = given.get(parameter.name)
        if value is None:
            if parameter.default is not None:
                resolved[parameter.name] = parameter.default
            elif parameter.required or parameter.location == "path":
                raise InputError(_missing_parameter(operation, parameter), parameter=parameter.name)
            continue
        resolved[parameter.name] = coerce_parameter(parameter, value)
    return resolved


def coerce_parameter(parameter: ParameterSpec, value: Any) -> Any:
    """Return *value* converted to the parameter's type and checked against its enum.

    Raises:
        InputError: the value cannot be converted or is not one of the enum values.
    """
    if not is_unicode(value):
        raise InputError(f"parameter '{parameter.name}' {_NOT_UNICODE}", parameter=parameter.name)
    try:
        coerced = coerce_value(parameter.type, value)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        shown = _show(value)
        raise InputError(
            f"parameter '{parameter.name}' must be {_article(parameter.type)}, got {shown}",
            parameter=parameter.name,
        ) from None
    if parameter.enum is not None and coerced not in parameter.enum:
        choices = ", ".join(str(choice) for choice in parameter.enum)
        raise InputError(
            f"parameter '{parameter.name}' must be one of {choices}; got {_show(coerced)}",
            parameter=parameter.name,
        )
    return coerced


def resolve_fields(
    schema: Mapping[str, InputFieldSpec], given: Mapping[str, Any], what: str
) -> dict[str, Any]:
    """Validate credentials (or connector parameters) against their field schema.

    Args:
        schema: The ``credential_schema`` or the connector's ``parameters``.
        given: The values supplied.
        what: ``"credential"`` or ``"connector parameter"``, used in messages.

    Raises:
        CredentialsError: unknown, missing or mistyped fields, all listed at once. Values are
            never included in the message.
    """
    resolved, problems = check_fields(schema, given, what)
    if problems:
        raise CredentialsError("; ".join(message for _, message in problems))
    return resolved


def check_fields(
    schema: Mapping[str, InputFieldSpec], given: Mapping[str, Any], what: str
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Return the values with defaults applied, and ``(field, message)`` for each problem.

    The field-level form is what forms and the API show next to each input.
    """
    problems: list[tuple[str, str]] = []
    resolved: dict[str, Any] = {}
    for name in given:
        if name not in schema:
            hint = _closest(name, list(schema))
            problems.append((name, f"unknown {what} '{name}'{hint}"))
    for name, field in schema.items():
        value = given.get(name)
        if value is None or value == "":
            if field.default is not None:
                resolved[name] = field.default
            elif field.required:
                label = field.display_label(name)
                help_text = f" ({field.help})" if field.help else ""
                problems.append((name, f"{what} '{name}' ({label}) is required{help_text}"))
            continue
        if not is_unicode(value):
            problems.append((name, f"{what} '{name}' {_NOT_UNICODE}"))
            continue
        try:
            resolved[name] = field.coerce(value)
        except (ValueError, TypeError):
            problems.append((name, f"{what} '{name}' must be {_article(field.type)}"))
            continue
        if field.enum is not None and resolved[name] not in field.enum:
            choices = ", ".join(str(choice) for choice in field.enum)
            problems.append((name, f"{what} '{name}' must be one of {choices}"))
    return resolved, problems


_NOT_UNICODE = (
    "is not valid Unicode text (it holds a lone surrogate, as bytes that are not UTF-8 become); "
    "send UTF-8 text"
)


def is_unicode(value: Any) -> bool:
    r"""Return False if *value* (or any text inside it) cannot be encoded as UTF-8.

    Python strings can hold lone surrogates (``"\ud800"`` in JSON read by the json module,
    or command-line bytes that are not UTF-8); no URL, header or JSON body can carry them.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return True


def _unknown_parameter(operation: OperationSpec, name: str) -> str:
    names = [parameter.name for parameter in operation.parameters]
    takes = f" It takes: {', '.join(names)}." if names else " It takes no parameters."
    return f"operation '{operation.name}' has no parameter '{name}'{_closest(name, names)}.{takes}"


def _missing_parameter(operation: OperationSpec, parameter: ParameterSpec) -> str:
    about = f": {parameter.description}" if parameter.description else ""
    return (
        f"parameter '{parameter.name}' ({parameter.location}, {parameter.type}) is required by "
        f"operation '{operation.name}'{about}"
    )


def _closest(name: str, candidates: list[str]) -> str:
    match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def _article(kind: str) -> str:
    return {
        "integer": "an integer",
        "array": "an array (JSON list or comma-separated)",
        "object": "an object (JSON)",
        "boolean": "true or false",
        "password": "text",
        "string": "text",
    }.get(kind, f"a {kind}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
