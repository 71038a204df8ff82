"""Rules the models cannot express on their own, run after (or beside) pydantic validation.

The checks work on :class:`SpecParts`, the pieces of a connector that validated on their own, so a
connector with one broken operation still gets every other rule applied: the author sees every
problem at once, not one round of fixes after another.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import TypeAdapter, ValidationError

from connectory.addresses import ambiguous_host_problem
from connectory.spec.auth import (
    AuthSpec,
    CombinedAuthSpec,
    CustomAuthSpec,
    OAuth2AuthSpec,
    SchemeSpec,
)
from connectory.spec.code import HooksSpec
from connectory.spec.collection_checks import check_collections
from connectory.spec.collections import CollectionSpec
from connectory.spec.connector import SLUG_PATTERN, ConnectorSpec, slugify
from connectory.spec.event_checks import check_events
from connectory.spec.events import EventSpec
from connectory.spec.fields import InputFieldSpec
from connectory.spec.findings import Finding
from connectory.spec.operations import PATH_PLACEHOLDER, OperationSpec, ParameterSpec
from connectory.spec.pagination import (
    CursorPaginationSpec,
    OffsetPaginationSpec,
    PageNumberPaginationSpec,
)
from connectory.spec.schema_checks import check_json_schema
from connectory.spec.selectors import parse_selector
from connectory.spec.shared_schemas import check_refs, check_schemas_section
from connectory.spec.source import FieldPath
from connectory.spec.suggest import did_you_mean
from connectory.spec.template_checks import (
    TemplateScope,
    check_connector_templates,
    check_written_operation_templates,
)
from connectory.templating import has_template_syntax

#: Last words of field names that usually hold secrets (``client_secret``, ``api_key``...).
_SECRET_WORDS = frozenset({"secret", "password", "passwd", "pwd", "token", "key", "apikey"})


@dataclass
class SpecParts:
    """The parts of a connector that are valid on their own; None where a part is invalid."""

    name: str | None = None
    slug: str | None = None
    base_url: str | None = None
    headers: dict[str, str] | None = None
    parameters: dict[str, InputFieldSpec] | None = None
    auth: AuthSpec | None = None
    operations: list[tuple[int, OperationSpec]] = field(default_factory=list)
    #: Every operation's name, also of operations that are otherwise invalid.
    operation_names: list[tuple[int, str]] = field(default_factory=list)
    #: Operations that are invalid as a whole, as written (their paths are still checked).
    invalid_operations: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    test_operation: str | None = None
    events: list[tuple[int, EventSpec]] = field(default_factory=list)
    #: The shared schemas; None when the section is invalid.
    schemas: dict[str, dict[str, Any]] | None = None
    collections: list[tuple[int, CollectionSpec]] = field(default_factory=list)
    hooks: HooksSpec | None = None

    @classmethod
    def from_spec(cls, spec: ConnectorSpec) -> SpecParts:
        """Return the parts of a connector that validated as a whole."""
        return cls(
            name=spec.name,
            slug=spec.slug,
            base_url=spec.base_url,
            headers=spec.headers,
            parameters=spec.parameters,
            auth=spec.auth,
            operations=list(enumerate(spec.operations)),
            operation_names=list(enumerate(spec.operation_names)),
            test_operation=spec.test_operation,
            events=list(enumerate(spec.events)),
            schemas=spec.schemas,
            collections=list(enumerate(spec.collections)),
            hooks=spec.hooks,
        )

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> SpecParts:
        """Validate each part of raw connector data alone, keeping those that are valid."""
        name = data.get("name") if isinstance(data.get("name"), str) else None
        slug = data.get("slug") or (slugify(name) if name else None)
        parts = cls(
            name=name,
            slug=slug if isinstance(slug, str) else None,
            base_url=data.get("base_url") if isinstance(data.get("base_url"), str) else None,
            headers=_validate_part(dict[str, str], data.get("headers", {})),
            parameters=_validate_part(dict[str, InputFieldSpec], data.get("parameters", {})),
            auth=_validate_part(AuthSpec, data.get("auth", {"auth_type": "none"})),
            test_operation=data.get("test_operation")
            if isinstance(data.get("test_operation"), str)
            else None,
            schemas=_validate_part(dict[str, dict[str, Any]], data.get("schemas", {})),
            hooks=_validate_part(HooksSpec, data.get("hooks", {})),
        )
        collections = data.get("collections")
        if isinstance(collections, list):
            for index, item in enumerate(collections):
                collection = _validate_part(CollectionSpec, item)
                if collection is not None:
                    parts.collections.append((index, collection))
        operations = data.get("operations")
        if isinstance(operations, list):
            for index, item in enumerate(operations):
                operation = _validate_part(OperationSpec, item)
                if operation is not None:
                    parts.operations.append((index, operation))
                elif isinstance(item, dict):
                    parts.invalid_operations.append((index, item))
                name = item.get("name", item.get("operation")) if isinstance(item, dict) else None
                if isinstance(name, str):
                    parts.operation_names.append((index, name))
        events = data.get("events")
        if isinstance(events, list):
            for index, item in enumerate(events):
                event = _validate_part(EventSpec, item)
                if event is not None:
                    parts.events.append((index, event))
        return parts


def _validate_part(kind: Any, value: Any) -> Any:
    try:
        return TypeAdapter(kind).validate_python(value)
    except ValidationError:
        return None


def check_spec_parts(parts: SpecParts) -> list[Finding]:
    """Run every rule on the valid parts of a connector and return what they find."""
    findings: list[Finding] = []
    findings += _check_slug(parts)
    findings += _check_base_url(parts.base_url)
    findings += _check_url_host(("base_url",), parts.base_url)
    findings += _check_auth(parts.auth)
    findings += _check_sensitive_names(("parameters",), parts.parameters, "connector parameter")
    findings += _check_duplicate_operations(parts.operation_names)
    findings += _check_test_operation(parts)
    names = set(parts.schemas) if parts.schemas is not None else None
    if parts.schemas is not None:
        findings += check_schemas_section(parts.schemas)
    findings += check_events(
        parts.events,
        [name for _, name in parts.operation_names],
        [collection.key for _, collection in parts.collections],
    )
    for index, operation in parts.operations:
        findings += check_operation(("operations", index), operation)
        findings += _check_operation_refs(("operations", index), operation, names)
    known_operations = [name for _, name in parts.operation_names]
    findings += check_collections(parts.collections, known_operations, parts.schemas)
    scope = TemplateScope(
        credentials=set(parts.auth.credential_schema) if parts.auth is not None else None,
        connector_parameters=set(parts.parameters) if parts.parameters is not None else None,
    )
    for index, raw in parts.invalid_operations:
        # A broken field elsewhere in the operation must not hide a placeholder that nothing
        # fills, or a template that reads what it may not.
        path, parameters = raw.get("path"), _written_parameters(raw.get("parameters"))
        if isinstance(path, str):
            findings += _check_path_parameters(("operations", index), path, parameters)
        names = {parameter.name for parameter in parameters}
        findings += check_written_operation_templates(index, raw, names, scope)
    findings += check_connector_templates(
        base_url=parts.base_url,
        headers=parts.headers,
        auth=parts.auth,
        operations=parts.operations,
        scope=scope,
    )
    return findings


def check_connector_spec(spec: ConnectorSpec) -> list[Finding]:
    """Run every rule on a connector that validated as a whole."""
    return check_spec_parts(SpecParts.from_spec(spec))


def _check_operation_refs(
    path: FieldPath, operation: OperationSpec, names: set[str] | None
) -> Iterator[Finding]:
    if operation.response_schema is not None:
        yield from check_refs(
            (*path, "response_schema"), operation.response_schema, names, "response_schema"
        )
    if operation.request_body is not None and operation.request_body.schema_ is not None:
        yield from check_refs(
            (*path, "request_body", "schema"),
            operation.request_body.schema_,
            names,
            "request_body.schema",
        )
    for index, parameter in enumerate(operation.parameters):
        if parameter.items is not None:
            yield from check_refs(
                (*path, "parameters", index, "items"), parameter.items, names, "items"
            )


def _check_slug(parts: SpecParts) -> Iterator[Finding]:
    slug = parts.slug
    if slug is None or SLUG_PATTERN.match(slug):
        return
    example = slugify(slug) or slugify(parts.name or "") or "my-connector"
    if slug:
        message = f"slug '{slug[:40]}' is not URL-safe"
    else:
        message = "the slug made from the name is empty"
    yield Finding(
        ("slug",),
        f"{message}; use lowercase letters, digits and single hyphens, e.g. slug: {example}",
        anchor=("slug",) if slug else ("name",),
    )


def _check_base_url(url: str | None) -> Iterator[Finding]:
    if url is None:
        return
    literal = re.split(r"\{\{|\{%", url, maxsplit=1)[0]
    if has_template_syntax(url):
        # The part before the first template must still say http(s); a base_url that is a
        # template from its first character comes whole from configuration.
        if not literal or re.match(r"https?://", literal, re.IGNORECASE):
            return
    elif _is_absolute_http(url.strip()):
        return
    shown = f" '{url}'" if len(url) <= 80 and "@" not in url else ""
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*)://", literal)
    if " " in literal.strip():
        advice = "remove the spaces"
    elif scheme and scheme.group(1).lower() not in ("http", "https"):
        advice = f"use http:// or https://, not {scheme.group(1)}://"
    elif scheme:
        advice = "check the host name and port"
    elif re.match(r"[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+(/|$)", literal):
        advice = f"add the scheme: https://{url}" if shown else "add the scheme https://"
    else:
        advice = "write the full URL, e.g. https://api.example.com"
    yield Finding(("base_url",), f"base_url{shown} is not an absolute http(s) URL; {advice}")


#: The authority of an absolute URL, up to the character that ends it.
_AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://([^/?#]*)([/?#]|$)")


def _check_url_host(path: FieldPath, url: str | None) -> Iterator[Finding]:
    """Refuse an IPv4 host in a non-canonical form (``0177.0.0.1``); see connectory.addresses."""
    if url is None:
        return
    literal = re.split(r"\{\{|\{%", url, maxsplit=1)[0]
    match = _AUTHORITY.match(literal.strip())
    # With a template, the host is checked here only when the template comes after it (a
    # rendered host is checked at run time, before anything is sent).
    if match is None or (literal != url and not match.group(2)):
        return
    host = re.sub(r":[0-9]*$", "", match.group(1).rpartition("@")[2])
    if host.startswith("["):
        return  # an IPv6 literal: one notation
    problem = ambiguous_host_problem(host)
    if problem is not None:
        yield Finding(path, problem)


def _is_absolute_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and " " not in url


def _check_auth(auth: AuthSpec | None) -> Iterator[Finding]:
    if auth is None:
        return
    yield from _check_sensitive_names(
        ("auth", "credential_schema"), auth.credential_schema, "field"
    )
    if isinstance(auth, CombinedAuthSpec):
        for index, part in enumerate(auth.schemes):
            yield from _check_auth_part(part, ("auth", "schemes", index))
        return
    yield from _check_auth_part(auth, ("auth",))


def _check_auth_part(auth: AuthSpec | SchemeSpec, at: FieldPath) -> Iterator[Finding]:
    if (
        isinstance(auth, OAuth2AuthSpec)
        and auth.grant_type == "authorization_code"
        and not auth.authorization_url
    ):
        yield Finding(
            (*at, "grant_type"),
            "grant_type authorization_code needs authorization_url (the provider's authorize "
            "endpoint); add authorization_url: https://provider.example.com/oauth/authorize",
        )
    if isinstance(auth, OAuth2AuthSpec):
        yield from _check_url_host(("auth", "token_url"), auth.token_url)
        yield from _check_url_host(("auth", "authorization_url"), auth.authorization_url)
        yield from _check_url_host(("auth", "revocation_url"), auth.revocation_url)
        for name, path in auth.token_response.model_dump().items():
            yield from _check_selector(("auth", "token_response", name), path)
    if isinstance(auth, CustomAuthSpec):
        yield from _check_url_host(("auth", "login", "url"), auth.login.url)
        for name in ("token_path", "expires_in_path"):
            yield from _check_selector((*at, name), getattr(auth, name))


def _check_sensitive_names(
    prefix: FieldPath, fields: Mapping[str, InputFieldSpec] | None, kind: str
) -> Iterator[Finding]:
    for name, spec in (fields or {}).items():
        last_word = re.split(r"[_\-\s]+", name.lower())[-1]
        if last_word in _SECRET_WORDS and spec.type == "string" and not spec.is_sensitive:
            yield Finding(
                (*prefix, name, "sensitive"),
                f"{kind} '{name}' looks secret but is not sensitive; set sensitive: true (or "
                "type: password) so it is encrypted and never shown again",
                severity="warning",
            )


def _check_test_operation(parts: SpecParts) -> Iterator[Finding]:
    name = parts.test_operation
    names = [operation_name for _, operation_name in parts.operation_names]
    if name is None or name in names:
        return
    yield Finding(
        ("test_operation",),
        f"test_operation '{name}' is not an operation of this connector"
        f"{did_you_mean(name, names)}; name one of: {', '.join(names) or 'none defined yet'}",
    )


def _check_duplicate_operations(names: list[tuple[int, str]]) -> Iterator[Finding]:
    first_index: dict[str, int] = {}
    for index, name in names:
        if name in first_index:
            yield Finding(
                ("operations", index, "name"),
                f"operation name '{name}' is already used by operations[{first_index[name]}]; "
                "operation names must be unique: rename one",
                related=("operations", first_index[name], "name"),
            )
        else:
            first_index[name] = index


def check_operation(path: FieldPath, operation: OperationSpec) -> list[Finding]:
    """Return the findings of one operation (parameters, schemas, selectors, pagination)."""
    parameters = [_PathUse(p.name, p.location, p.required, p.default) for p in operation.parameters]
    findings = list(_check_implementation(path, operation))
    findings += _check_path_parameters(path, operation.path, parameters)
    seen: dict[tuple[str, str], int] = {}
    for index, parameter in enumerate(operation.parameters):
        at = (*path, "parameters", index)
        key = (parameter.name, parameter.location)
        if key in seen:
            findings.append(
                Finding(
                    (*at, "name"),
                    f"parameter '{parameter.name}' is declared twice in {parameter.location} "
                    f"(also parameters[{seen[key]}]); remove or rename one",
                    related=(*path, "parameters", seen[key], "name"),
                )
            )
        seen.setdefault(key, index)
        findings += _check_parameter_values(at, parameter)
        if parameter.style is not None and parameter.location in ("path", "header"):
            findings.append(
                Finding(
                    (*at, "style"),
                    f"style applies to query and form-body parameters; '{parameter.name}' is "
                    f"in {parameter.location}, where arrays are comma-separated: remove style",
                )
            )
        if parameter.items is not None:
            findings += check_json_schema((*at, "items"), parameter.items, "items")
    if operation.response_schema is not None:
        schema_path = (*path, "response_schema")
        findings += check_json_schema(schema_path, operation.response_schema, "response_schema")
    if operation.request_body is not None and operation.request_body.schema_ is not None:
        body_path = (*path, "request_body", "schema")
        findings += check_json_schema(
            body_path, operation.request_body.schema_, "request_body.schema"
        )
    findings += _check_selector((*path, "record_selector"), operation.record_selector)
    findings += _check_pagination(path, operation)
    return findings


def _check_implementation(path: FieldPath, operation: OperationSpec) -> Iterator[Finding]:
    if operation.is_javascript:
        if operation.code is None:
            yield Finding(
                (*path, "implementation"),
                "implementation: javascript needs code: the method to run, e.g. "
                "code: methods/items.js (export default async function (ctx) { ... })",
            )
        if operation.pagination is not None:
            yield Finding(
                (*path, "pagination"),
                "a javascript operation is not paginated by Connectory: its method reads "
                "what it needs through ctx.apiClient and returns it; remove pagination",
            )
        if operation.request_body is not None:
            yield Finding(
                (*path, "request_body"),
                "a javascript operation sends no request of its own; remove request_body "
                "(its parameters arrive as ctx.parameters)",
            )
        return
    if operation.code is not None:
        yield Finding(
            (*path, "code"),
            "code: is the method of an implementation: javascript operation; add "
            "implementation: javascript, or remove code",
        )
    if not operation.path:
        yield Finding(
            (*path, "path"),
            "'path' is required: write the path appended to base_url, e.g. path: /items (or "
            "implementation: javascript with code: for an operation implemented in code)",
            anchor=path,
        )


@dataclass(frozen=True)
class _PathUse:
    """What the path checks need of a parameter (also of one that is otherwise invalid)."""

    name: str
    location: str
    required: bool = False
    default: Any = None


def _written_parameters(value: Any) -> list[_PathUse]:
    """The parameters of an invalid operation that can be read as written."""
    if not isinstance(value, list):
        return []
    found = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]:
            location = item.get("location", "query")
            found.append(
                _PathUse(
                    item["name"],
                    location if isinstance(location, str) else "query",
                    item.get("required") is True,
                    item.get("default"),
                )
            )
    return found


def _check_path_parameters(
    path: FieldPath, operation_path: str, parameters: list[_PathUse]
) -> Iterator[Finding]:
    placeholders = PATH_PLACEHOLDER.findall(operation_path)
    by_name = {parameter.name: parameter for parameter in parameters}
    path_names = {p.name for p in parameters if p.location == "path"}
    for name in dict.fromkeys(placeholders):
        if name in path_names:
            continue
        other = by_name.get(name)
        if other is not None:
            advice = f"parameter '{name}' has location: {other.location}; set location: path"
        else:
            advice = (
                f"add it to parameters: {{name: {name}, location: path, required: true}}, "
                "or remove the placeholder"
            )
        message = f"the path has a placeholder {{{name}}} but no path parameter '{name}'; {advice}"
        yield Finding((*path, "path"), message)
    # ``{{ parameters.id }}`` in a templated path also places a parameter.
    templated = set(re.findall(r"parameters\.([A-Za-z_][A-Za-z0-9_]*)", operation_path))
    for index, parameter in enumerate(parameters):
        if parameter.location != "path":
            continue
        at = (*path, "parameters", index)
        if parameter.name not in placeholders and parameter.name not in templated:
            yield Finding(
                (*at, "location"),
                f"parameter '{parameter.name}' has location: path, but the path has no "
                f"{{{parameter.name}}}; add {{{parameter.name}}} to the path or change location",
            )
        elif not parameter.required and parameter.default is None:
            yield Finding(
                (*at, "required"),
                f"path parameter '{parameter.name}' is optional and has no default, but a path "
                "cannot have a hole; set required: true or give a default",
                severity="warning",
            )


_TYPE_WORDS = {
    "string": "text",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
}


def _matches_type(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, list if kind == "array" else dict)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'" if len(value) <= 40 else f"(text of {len(value)} characters)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return "a mapping" if isinstance(value, dict) else "a list"
    return "null" if value is None else str(value)


def _check_parameter_values(at: FieldPath, parameter: ParameterSpec) -> Iterator[Finding]:
    kind, name = parameter.type, parameter.name
    quote_hint = "; quote it" if kind == "string" else ""
    if parameter.required and parameter.default is not None:
        yield Finding(
            (*at, "default"),
            f"parameter '{name}' is required but has a default, which is only used when a "
            "parameter may be omitted; remove required: true or remove the default",
        )
    for index, value in enumerate(parameter.enum or []):
        if not _matches_type(value, kind):
            yield Finding(
                (*at, "enum", index),
                f"enum value {_show(value)} is not {_TYPE_WORDS[kind]}, but parameter '{name}' "
                f"has type: {kind}; change the value or the type{quote_hint}",
            )
    default = parameter.default
    if default is None:
        return
    if not _matches_type(default, kind):
        yield Finding(
            (*at, "default"),
            f"default {_show(default)} is not {_TYPE_WORDS[kind]}, but parameter '{name}' has "
            f"type: {kind}; change the default or the type{quote_hint}",
        )
    elif parameter.enum is not None and default not in parameter.enum:
        choices = ", ".join(_show(value) for value in parameter.enum[:10])
        yield Finding(
            (*at, "default"),
            f"default {_show(default)} of parameter '{name}' is not one of its enum values "
            f"({choices}); use one of them",
        )


def _check_selector(path: FieldPath, selector: str | None) -> Iterator[Finding]:
    if selector is None:
        return
    try:
        parse_selector(selector)
    except ValueError as exc:
        yield Finding(path, f"invalid selector: {exc}")


def _check_pagination(path: FieldPath, operation: OperationSpec) -> Iterator[Finding]:
    pagination = operation.pagination
    if pagination is None:
        return
    at = (*path, "pagination")
    for name in ("total_path", "cursor_path", "next_url_path"):
        yield from _check_selector((*at, name), getattr(pagination, name, None))
    sent: dict[str, str | None] = {}
    if isinstance(pagination, OffsetPaginationSpec):
        sent = {"offset_param": pagination.offset_param, "limit_param": pagination.limit_param}
    elif isinstance(pagination, PageNumberPaginationSpec):
        sent = {"page_param": pagination.page_param, "size_param": pagination.size_param}
    elif isinstance(pagination, CursorPaginationSpec):
        # No cursor_param here: the first request carries no cursor, so a parameter of that
        # name is how a caller gives the starting cursor (json-server 1 needs _page=1).
        sent = {"size_param": pagination.size_param}
    owners = {value: key for key, value in sent.items() if value}
    for index, parameter in enumerate(operation.parameters):
        if parameter.location == "query" and parameter.name in owners:
            yield Finding(
                (*path, "parameters", index, "name"),
                f"parameter '{parameter.name}' is also pagination.{owners[parameter.name]}: "
                "pagination sets it on every page and overrides the value given; remove the "
                "parameter or rename it",
                severity="warning",
            )
