"""Turning pydantic's validation errors into findings that say what to write instead.

pydantic reports ``('auth', 'api_key', 'heder_name') Extra inputs are not permitted``; authors
need ``auth.heder_name: unknown field 'heder_name'; did you mean 'header_name'?``. This module
drops the locations pydantic inserts (discriminator tags, union member names), names the closest
valid field or value, and never echoes a value that may be a secret.
"""

from __future__ import annotations

import copy
import re
import types
import typing
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from connectory.spec.auth import AUTH_TYPES
from connectory.spec.connector import ConnectorSpec
from connectory.spec.findings import Finding
from connectory.spec.operations import OperationSpec, ParameterSpec
from connectory.spec.pagination import (
    PAGINATION_TYPES,
    CursorPaginationSpec,
    OffsetPaginationSpec,
    PageNumberPaginationSpec,
)
from connectory.spec.resilience import ResilienceSpec
from connectory.spec.source import FieldPath
from connectory.spec.suggest import closest_match, did_you_mean, format_choices

_TAGS = {"auth_type": AUTH_TYPES, "type": PAGINATION_TYPES}
_TYPE_LABELS = frozenset({"str", "int", "float", "bool", "none"})

_EXPECTED = {
    "string_type": "text",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
    "list_type": 'a list (lines starting with "- ")',
}
_BOUNDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}

# Path segments whose values may be secrets: never echo them back.
# fmt: off
_SECRET_SEGMENTS = frozenset({
    "default", "headers", "api_key", "token", "password", "client_secret", "client_id",
    "username", "extra_token_params", "login", "json", "form",
})
# The auth fields whose values are settings, not secrets, and may be shown.
_PLAIN_AUTH_FIELDS = frozenset({
    "auth_type", "location", "grant_type", "client_authentication", "type", "method", "pkce",
    "scopes", "header_name", "query_param", "token_path", "expires_in_path", "token_ttl",
    "required", "sensitive", "label", "help",
})
# fmt: on
_SYNONYMS = {"in": "location", "schema": "response_schema", "url": "base_url", "id": "operation"}


def _section_fields() -> dict[str, str]:
    """Map fields that belong in a section to the hint naming it (for misplaced keys)."""
    sections: dict[str, str] = {}
    for name in _field_names(OperationSpec):
        sections[name] = "an operation: put it in an item of operations:"
    for name in _field_names(ResilienceSpec):
        sections[name] = "the resilience: section"
    for model in typing.get_args(ConnectorSpec.model_fields["auth"].annotation):
        for name in _field_names(model):
            sections[name] = "the auth: section (indent it under auth:)"
    return sections


def findings_from_validation_error(error: ValidationError, data: Any) -> list[Finding]:
    """Translate a ConnectorSpec validation error into findings, one per mistake."""
    findings: list[Finding] = []
    by_union: dict[FieldPath, list[tuple[str, FieldPath, ErrorDetails]]] = {}
    for detail in error.errors():
        path, union = _clean_location(detail["loc"], data)
        if union is None:
            findings.append(_translate(detail, path, data))
        else:
            by_union.setdefault(union[0], []).append((union[1], path, detail))
    for union_path, members in by_union.items():
        findings += _translate_union(union_path, members, data)
    return list(dict.fromkeys(findings))


def without_unknown_fields(error: ValidationError, data: Any) -> Any:
    """Return a copy of *data* without the fields *error* reports as unknown.

    A misspelled key should not hide the rest of its section from the semantic checks: with the
    unknown keys gone, the section often validates and every other rule can still run on it.
    """
    cleaned = copy.deepcopy(data)
    for detail in error.errors():
        if detail["type"] != "extra_forbidden":
            continue
        path, _ = _clean_location(detail["loc"], data)
        parent: Any = cleaned
        for step in path[:-1]:
            parent = _child(parent, step)
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
    return cleaned


def _clean_location(
    location: tuple[str | int, ...], data: Any
) -> tuple[FieldPath, tuple[FieldPath, str] | None]:
    """Drop pydantic's synthetic steps; return the path and the first union (path, member)."""
    path: list[str | int] = []
    node = data
    union: tuple[FieldPath, str] | None = None
    tag_skipped = False
    for step in location:
        tag_key = None if tag_skipped else _union_tag_key(path)
        if tag_key is not None and isinstance(node, dict) and node.get(tag_key) == step:
            tag_skipped = True  # the discriminator's value, which pydantic puts after the union
            continue
        if isinstance(node, dict) and step in node:
            path.append(step)
            node = node[step]
            continue
        if isinstance(node, list) and isinstance(step, int):
            path.append(step)
            node = node[step] if -len(node) <= step < len(node) else None
            continue
        if isinstance(step, str) and (step in _TYPE_LABELS or "[" in step):
            if union is None:
                union = (tuple(path), step)
            continue
        path.append(step)
        node = None
    return tuple(path), union


def _union_tag_key(path: list[str | int]) -> str | None:
    """Return the tag key when *path* is a discriminated union field (auth, a pagination block)."""
    if path == ["auth"]:
        return "auth_type"
    if len(path) == 3 and path[0] == "operations" and path[2] == "pagination":
        return "type"
    return None


def _translate(detail: ErrorDetails, path: FieldPath, data: Any) -> Finding:
    kind = detail["type"]
    context = detail.get("ctx") or {}
    name = str(path[-1]) if path else "the connector"
    value = detail.get("input")
    if kind == "missing":
        return Finding(path, _missing_message(path, data), anchor=path[:-1])
    if kind == "extra_forbidden":
        return Finding(path, _unknown_field_message(path, data), at_key=True)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag_key = str(context.get("discriminator", "")).strip("'") or "type"
        choices = _TAGS.get(tag_key, ())
        if kind == "union_tag_not_found":
            where = path[-1] if path else "this block"
            return Finding(
                path, f"'{tag_key}' is required in {where}; use one of {format_choices(choices)}"
            )
        tag = str(context.get("tag", ""))
        return Finding(
            (*path, tag_key),
            f"unknown {tag_key} {_show(tag, (*path, tag_key))}; use one of "
            f"{format_choices(choices)}{did_you_mean(tag, choices)}",
        )
    if kind == "literal_error":
        expected = str(context.get("expected", ""))
        literals: list[str] = re.findall(r"'([^']*)'", expected) or [expected]
        hint = did_you_mean(value, literals) if isinstance(value, str) else ""
        shown = _show(value, path)
        return Finding(
            path, f"{shown} is not a valid {name}; use one of {format_choices(literals)}{hint}"
        )
    if kind in _EXPECTED:
        message = f"expected {_EXPECTED[kind]}, got {_show(value, path)}"
        if path == ("parameters",) and isinstance(value, list):
            message += "; the connector's parameters are a mapping of fields (name: {type: ...}), "
            message += "an operation's parameters go in that operation"
        return Finding(path, message)
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        bound = context.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return Finding(path, f"{name} must be {words} {bound}, got {_show(value, path)}")
    if kind in ("string_too_short", "too_short"):
        return Finding(path, f"{name} must not be empty")
    message = detail["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return Finding(path, message)


def _translate_union(
    union_path: FieldPath, members: list[tuple[str, FieldPath, ErrorDetails]], data: Any
) -> list[Finding]:
    # A member whose errors all lie deeper than the union matched the shape of the input (e.g.
    # a list of scopes with one bad item): its errors are the useful ones.
    deeper = [(label, path, d) for label, path, d in members if len(path) > len(union_path)]
    if deeper:
        label = deeper[0][0]
        return [_translate(d, path, data) for lab, path, d in deeper if lab == label]
    expected = list(
        dict.fromkeys(
            _EXPECTED.get(d["type"], d["type"]).split(" (")[0].replace(" or ", "/")
            for _, _, d in members
        )
    )
    value = members[0][2].get("input")
    listed = ", ".join(expected[:-1]) + " or " + expected[-1] if len(expected) > 1 else expected[0]
    return [Finding(union_path, f"expected {listed}, got {_show(value, union_path)}")]


def _missing_message(path: FieldPath, data: Any) -> str:
    field = str(path[-1])
    parent = model_at(path[:-1], data)
    if parent is OperationSpec and field == "name":
        return "the operation needs a name: add 'operation: <name>' (or 'name: <name>')"
    info = parent.model_fields.get(field) if parent is not None else None
    description = f": {info.description}" if info is not None and info.description else ""
    return f"'{field}' is required{description}"


def _unknown_field_message(path: FieldPath, data: Any) -> str:
    key = str(path[-1])
    model = model_at(path[:-1], data)
    names = _field_names(model) if model is not None else []
    if model is ConnectorSpec:
        section = _section_fields().get(key)
        if section is not None:
            return f"'{key}' belongs in {section}"
    if model is OperationSpec:
        section = _misplaced_in_operation(key)
        if section is not None:
            return f"'{key}' belongs in {section}"
    written = _at(data, path[:-1])
    for info in model.model_fields.values() if model is not None else ():
        # ``operation:`` and ``name:`` both name an operation: pydantic reads one and calls the
        # other unknown, which would puzzle anyone who wrote the seed's form.
        choices = (
            info.validation_alias.choices if isinstance(info.validation_alias, AliasChoices) else []
        )
        other = next(
            (c for c in choices if c != key and isinstance(written, dict) and c in written), None
        )
        if key in choices and other is not None:
            return f"'{key}' and '{other}' are two names for the same field; keep one"
    synonym = _SYNONYMS.get(key)
    match = synonym if synonym in names else closest_match(key, names)
    if match:
        return f"unknown field '{key}'; did you mean '{match}'?"
    return f"unknown field '{key}'; allowed fields: {format_choices(names)}"


def _misplaced_in_operation(key: str) -> str | None:
    for model in (OffsetPaginationSpec, PageNumberPaginationSpec, CursorPaginationSpec):
        if key in _field_names(model) and key != "type":
            return "the pagination: block"
    if key in _field_names(ParameterSpec) and key not in _field_names(OperationSpec):
        return "a parameter: an item of parameters:"
    return None


def _field_names(model: type[BaseModel]) -> list[str]:
    """Return the names a model's fields are written with (aliases, every alias choice)."""
    names: list[str] = []
    for name, info in model.model_fields.items():
        if isinstance(info.validation_alias, AliasChoices):
            names += [choice for choice in info.validation_alias.choices if isinstance(choice, str)]
        else:
            names.append(info.alias or name)
    return names


def model_at(path: FieldPath, data: Any) -> type[BaseModel] | None:
    """Return the model that validates the mapping at *path* of the connector data, if any."""
    current: Any = ConnectorSpec
    node = data
    for step in path:
        model = _resolve(current, node)
        if isinstance(model, type) and issubclass(model, BaseModel):
            info = next(
                (info for name, info in model.model_fields.items() if step in _names(name, info)),
                None,
            )
            if info is None:
                return None
            current = info.annotation
        elif typing.get_origin(model) in (list, dict):
            current = typing.get_args(model)[-1]
        else:
            return None
        node = _child(node, step)
    model = _resolve(current, node)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _names(name: str, info: FieldInfo) -> tuple[str | None, ...]:
    choices = (
        info.validation_alias.choices if isinstance(info.validation_alias, AliasChoices) else []
    )
    return (name, info.alias, *(choice for choice in choices if isinstance(choice, str)))


def _at(data: Any, path: FieldPath) -> Any:
    for step in path:
        data = _child(data, step)
    return data


def _child(node: Any, step: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(step)
    if isinstance(node, list) and isinstance(step, int) and -len(node) <= step < len(node):
        return node[step]
    return None


def _resolve(annotation: Any, node: Any) -> Any:
    """Unwrap Annotated and Optional; pick a union member by the tag the data carries."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return annotation
    members = [m for m in typing.get_args(annotation) if m is not type(None)]
    if len(members) == 1:
        return _resolve(members[0], node)
    for member in members:
        member = _resolve(member, node)
        if not (isinstance(member, type) and issubclass(member, BaseModel)):
            continue
        for name, info in member.model_fields.items():
            tags = typing.get_args(info.annotation)
            tagged = typing.get_origin(info.annotation) is Literal and name in _TAGS
            if tagged and isinstance(node, dict) and node.get(name) in tags:
                return member
    return None


def _show(value: Any, path: FieldPath) -> str:
    """Describe *value* for a message without echoing anything that may be secret."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    secret = any(str(segment) in _SECRET_SEGMENTS for segment in path)
    field_name = next((str(step) for step in reversed(path) if isinstance(step, str)), "")
    if path[:1] == ("auth",) and field_name not in _PLAIN_AUTH_FIELDS:
        secret = True  # any other auth value may be a key pasted in place of a template
    if _is_operation_parameter_default(path):
        secret = False
    if isinstance(value, int | float):
        return "a number" if secret else str(value)
    text = str(value)
    if secret:
        return "a value that is not shown (it may be secret)"
    if len(text) > 40:
        return f"text of {len(text)} characters"
    return f"'{text}'"


def _is_operation_parameter_default(path: FieldPath) -> bool:
    return len(path) == 5 and path[0] == "operations" and path[2] == "parameters"
