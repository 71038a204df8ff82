"""Rules for the ``collections`` section that the models cannot express on their own.

Each collection method must name an operation the connector has (a method whose operation
was removed is an error, at the method, with the operations that do exist) or a JavaScript
method (the file and export are checked with the rest of the connector's code), declare only
filters and match fields the fields schema has, and use mappings whose templates are valid
and read only the variables that method has.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from connectory.errors import TemplateError
from connectory.spec.collections import (
    COLLECTION_KEY,
    TIME_FILTERS,
    CollectionMethodSpec,
    CollectionSpec,
)
from connectory.spec.findings import Finding
from connectory.spec.schema_checks import check_json_schema
from connectory.spec.selectors import parse_selector
from connectory.spec.shared_schemas import check_refs, resolve_shared
from connectory.spec.source import FieldPath, format_path
from connectory.spec.suggest import did_you_mean, format_choices
from connectory.templating import find_references, has_template_syntax

#: Variables every collection mapping has.
_COMMON_ROOTS = ("credentials", "connector_parameters", "config", "parameters")
#: What each method's input mappings may read, besides the common roots.
_INPUT_ROOTS: dict[str, tuple[str, ...]] = {
    "list": ("filters", "page_size"),
    "find_by_id": ("id",),
    "match": ("match",),
    "search": ("query", "filters"),
    "create": ("fields",),
    "update": ("id", "fields"),
    "delete": ("id",),
    "custom_fields": (),
}
_RECORD_ROOTS = ("item", "fields", "parameters")
_KEY_DESCRIPTIONS = "lowercase letters, digits, '_' and '-', starting with a letter"


def check_collections(
    collections: list[tuple[int, CollectionSpec]],
    operation_names: list[str] | None,
    schemas: Mapping[str, Any] | None,
) -> list[Finding]:
    """Return the findings of the valid collections.

    Args:
        collections: ``(index, collection)`` for each collection that validated.
        operation_names: The connector's operation names; None when unknown (not checked).
        schemas: The shared schemas; None when the section is invalid.
    """
    findings: list[Finding] = []
    first: dict[str, int] = {}
    for index, collection in collections:
        at: FieldPath = ("collections", index)
        if collection.key in first:
            findings.append(
                Finding(
                    (*at, "key"),
                    f"collection key '{collection.key}' is already used by "
                    f"collections[{first[collection.key]}]; keys must be unique: rename one",
                    related=("collections", first[collection.key], "key"),
                )
            )
        first.setdefault(collection.key, index)
        findings += _check_collection(at, collection, operation_names, schemas)
    return findings


def _check_collection(
    at: FieldPath,
    collection: CollectionSpec,
    operations: list[str] | None,
    schemas: Mapping[str, Any] | None,
) -> Iterator[Finding]:
    if not COLLECTION_KEY.match(collection.key):
        yield Finding(
            (*at, "key"),
            f"collection key '{collection.key[:40]}' is not valid; use {_KEY_DESCRIPTIONS}",
        )
    schema_at = (*at, "fields_schema")
    names = set(schemas) if schemas is not None else None
    yield from check_refs(schema_at, collection.fields_schema, names, "fields_schema")
    yield from check_json_schema(schema_at, collection.fields_schema, "fields_schema")
    fields = _field_names(collection.fields_schema, schemas)
    record = collection.record
    for name in ("id", "name", "created_at", "updated_at", "fields"):
        value = getattr(record, name)
        if value is not None:
            yield from _check_mapping((*at, "record", name), value, _RECORD_ROOTS)
    methods = collection.methods.defined()
    if not methods:
        yield Finding(
            (*at, "methods"),
            f"collection '{collection.key}' has no methods; add at least list: or find_by_id:",
            severity="warning",
        )
    for name, method in methods.items():
        yield from _check_method((*at, "methods", name), name, method, operations, fields)
    if collection.custom_fields is not None:
        custom_at = (*at, "custom_fields")
        yield from _check_method(
            custom_at, "custom_fields", collection.custom_fields, operations, None
        )
        yield from _check_mapping((*custom_at, "key"), collection.custom_fields.key, ("item",))
        yield from _check_mapping(
            (*custom_at, "schema"), collection.custom_fields.schema_, ("item",)
        )
    if collection.error is not None:
        yield from _check_mapping((*at, "error"), collection.error, ("response",))


def _field_names(schema: Mapping[str, Any], shared: Mapping[str, Any] | None) -> set[str] | None:
    """The properties of the fields schema, or None when they cannot be known statically."""
    resolved = resolve_shared(schema, shared or {})
    if not isinstance(resolved, Mapping):
        return None
    properties = resolved.get("properties")
    if not isinstance(properties, Mapping) or resolved.get("allOf") or resolved.get("anyOf"):
        return None
    return set(properties)


def _check_method(
    at: FieldPath,
    name: str,
    method: CollectionMethodSpec,
    operations: list[str] | None,
    fields: set[str] | None,
) -> Iterator[Finding]:
    if (
        method.operation is not None
        and operations is not None
        and method.operation not in operations
    ):
        yield Finding(
            (*at, "operation"),
            f"{name} uses operation '{method.operation}', which this connector does not "
            f"have{did_you_mean(method.operation, operations)}; name one of: "
            f"{format_choices(operations) if operations else 'none defined'}",
        )
    roots = (*_COMMON_ROOTS, *_INPUT_ROOTS.get(name, ()))
    if method.input is not None:
        if method.request is not None:
            yield Finding(
                (*at, "input"),
                "input maps an operation's parameters; with request: write the values in the "
                "request itself (path, query, headers, body)",
            )
        elif method.code is not None:
            yield Finding(
                (*at, "input"),
                "input maps an operation's parameters; a JavaScript method gets the call's "
                "values in ctx.input (filters, cursor, id, fields...): remove input",
            )
        yield from _check_mapping((*at, "input"), method.input, roots)
    if method.request is not None:
        request = method.request
        req_at = (*at, "request")
        for part, value in (
            ("path", request.path),
            ("query", request.query),
            ("headers", request.headers),
            ("body", request.body),
        ):
            if value is not None:
                yield from _check_mapping((*req_at, part), value, roots)
        if request.record_selector is not None:
            try:
                parse_selector(request.record_selector)
            except ValueError as exc:
                yield Finding((*req_at, "record_selector"), f"invalid selector: {exc}")
        if request.pagination is not None and name != "list":
            yield Finding(
                (*req_at, "pagination"),
                f"only list pages through results; remove pagination from {name}",
                severity="warning",
            )
    if name == "list" and method.output is not None:
        yield Finding(
            (*at, "output"),
            "list takes its records from the operation's record_selector (or "
            "request.record_selector), page by page; remove output: here",
        )
    if method.output is not None and name != "list":
        yield from _check_mapping((*at, "output"), method.output, (*roots, "response"))
    if method.error is not None:
        # On list it is checked on every page, with the page's body as response.
        yield from _check_mapping((*at, "error"), method.error, (*roots, "response"))
    if method.filters and name not in ("list", "search"):
        yield Finding(
            (*at, "filters"), f"only list and search take filters; remove them from {name}"
        )
    if method.match_fields and name != "match":
        yield Finding(
            (*at, "match_fields"), f"only match takes match_fields; remove them from {name}"
        )
    if name == "match" and not method.match_fields:
        yield Finding(
            (*at, "match_fields"),
            "match needs match_fields: the fields a record can be matched by, e.g. [email]",
        )
    known = None if fields is None else fields | set(TIME_FILTERS)
    for key in ("filters", "match_fields"):
        for index, field_name in enumerate(getattr(method, key)):
            if known is None or field_name in known:
                continue
            if key == "match_fields" and field_name in TIME_FILTERS:
                continue
            choices = sorted(known)
            yield Finding(
                (*at, key, index),
                f"'{field_name}' is not a field of the fields schema"
                f"{did_you_mean(field_name, choices)}; use one of {format_choices(choices)}",
            )


def _check_mapping(at: FieldPath, source: Any, roots: tuple[str, ...]) -> Iterator[Finding]:
    for path, text in _template_strings(at, source):
        try:
            references = find_references(text)
        except TemplateError as exc:
            detail = str(exc).split(" is not valid: ", 1)[-1]
            yield Finding(path, f"{format_path(path)} is not a valid template: {detail}")
            continue
        for reference in sorted({r.root for r in references}):
            if reference not in roots:
                yield Finding(
                    path,
                    f"{format_path(path)} reads '{reference}', which this mapping does not have; "
                    f"use {format_choices(list(roots))}{did_you_mean(reference, list(roots))}",
                )


def _template_strings(at: FieldPath, source: Any) -> Iterator[tuple[FieldPath, str]]:
    if isinstance(source, str):
        if has_template_syntax(source):
            yield at, source
    elif isinstance(source, Mapping):
        for key, value in source.items():
            yield from _template_strings((*at, str(key)), value)
    elif isinstance(source, list):
        for index, value in enumerate(source):
            yield from _template_strings((*at, index), value)
