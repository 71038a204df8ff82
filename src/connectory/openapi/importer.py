"""``import_openapi``: an OpenAPI 3.0/3.1 or Swagger 2.0 document -> a connector draft.

A pure transform: no file, network or database access, so the CLI, the API and the builder
call the same function with bytes they read their own way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connectory.openapi.collections import suggest_collections
from connectory.openapi.context import ImportContext
from connectory.openapi.errors import OpenAPIError, import_problem
from connectory.openapi.operations import (
    list_operations,
    map_operation,
    select_operations,
)
from connectory.openapi.pagination import suggest_pagination
from connectory.openapi.reading import MAX_DOCUMENT_BYTES, read_document
from connectory.openapi.results import ImportResult
from connectory.openapi.schemas import SchemaConverter
from connectory.openapi.security import Requirements, choose_auth
from connectory.openapi.servers import base_url
from connectory.openapi.shapes import ShapeReader
from connectory.spec.connector import slugify

_MAX_NAME = 100
_FALLBACK_NAME = "Imported API"


def import_openapi(
    document: bytes | str | Mapping[str, Any],
    *,
    tags: list[str] | None = None,
    operation_ids: list[str] | None = None,
    auth_scheme: str | None = None,
    source_url: str | None = None,
    source_name: str | None = None,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Turn an OpenAPI or Swagger document into a connector draft.

    Args:
        document: The document as bytes or text (JSON or YAML), or as parsed data.
        tags: Import only operations with one of these tags (together with *operation_ids*:
            operations matching either).
        operation_ids: Import only these operations (``operationId`` or connector name).
        auth_scheme: The security scheme the connector's auth comes from (default: the one
            most operations accept).
        source_url: Where the document was read from; resolves relative server URLs.
        source_name: How messages name the document (a file name or URL).
        max_bytes: Largest document accepted.
        on_progress: Called with (operations done, operations to do) as the import goes.

    Returns:
        The connector, the warnings (with JSON pointers) and the pagination suggestions.

    Raises:
        OpenAPIError: the document cannot be read or imported (too large, not UTF-8, not valid
            JSON or YAML, an alias bomb, too deep, not OpenAPI, unresolvable or circular
            references, a filter that matches nothing). Every problem is listed.
    """
    name = source_name or source_url
    parsed = read_document(document, name=name, max_bytes=max_bytes)
    context = ImportContext(parsed)
    try:
        return _import(context, tags, operation_ids, auth_scheme, source_url, on_progress)
    except RecursionError:
        message = "the document's schemas are nested too deeply to import"
        raise OpenAPIError([import_problem(message, file=name)]) from None


def _import(
    context: ImportContext,
    tags: list[str] | None,
    operation_ids: list[str] | None,
    auth_scheme: str | None,
    source_url: str | None,
    on_progress: Callable[[int, int], None] | None,
) -> ImportResult:
    url = base_url(context, source_url)
    every = list_operations(context)
    selected = select_operations(context, every, tags, operation_ids)
    context.raise_errors()
    if not every:
        context.warn("/paths", "the document has no operations")
    converter = SchemaConverter(context)
    reader = ShapeReader(converter, "response")
    operations: list[dict[str, Any]] = []
    suggestions = []
    requirements: list[Requirements] = []
    global_security = context.data.get("security")
    for done, source in enumerate(selected):
        if on_progress is not None:
            on_progress(done, len(selected))
        mapped = map_operation(context, converter, source)
        operations.append(mapped.spec)
        suggestion = suggest_pagination(
            mapped.spec, mapped.parameter_schemas, mapped.response, reader
        )
        if suggestion is not None:
            suggestions.append(suggestion)
        if "security" in source.operation:
            requirements.append(
                (source.name, (*source.at, "security"), source.operation["security"])
            )
        else:
            requirements.append((source.name, ("security",), global_security))
    if on_progress is not None:
        on_progress(len(selected), len(selected))
    choice = choose_auth(context, requirements, url, auth_scheme)
    context.raise_errors()
    connector = _overview(context, url)
    connector["auth"] = choice.auth
    connector["operations"] = operations
    return ImportResult(
        connector=connector,
        warnings=list(context.warnings),
        suggestions=suggestions,
        version=context.version,
        auth_options=choice.options,
        auth_scheme=choice.scheme,
        operation_ids={op.name: op.operation_id or f"{op.method} {op.path}" for op in selected},
        collection_suggestions=suggest_collections(connector),
    )


def _overview(context: ImportContext, url: str) -> dict[str, Any]:
    info = context.data.get("info")
    info = info if isinstance(info, dict) else {}
    title = info.get("title")
    name = title.strip() if isinstance(title, str) and title.strip() else _FALLBACK_NAME
    if len(name) > _MAX_NAME:
        context.warn("/info/title", f"the title is longer than {_MAX_NAME} characters; cut")
        name = name[:_MAX_NAME].rstrip()
    slug = slugify(name)[:60].strip("-") or slugify(_FALLBACK_NAME)
    connector: dict[str, Any] = {"name": name, "slug": slug, "base_url": url}
    description = info.get("description")
    if isinstance(description, str) and description.strip():
        connector["description"] = description.strip()
    docs = context.data.get("externalDocs")
    if isinstance(docs, dict) and isinstance(docs.get("url"), str):
        connector["documentation_url"] = docs["url"]
    if isinstance(context.data.get("webhooks"), dict) and context.data["webhooks"]:
        context.warn(
            "/webhooks",
            "webhooks are not imported; set them up in the connector's events",
        )
    return connector
