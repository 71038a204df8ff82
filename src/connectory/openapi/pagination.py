"""Pagination suggestions: obvious patterns in a GET operation, offered, never applied silently.

In order of preference: a ``Link`` header declared on the success response (RFC 8288), a next
URL in the body (``next``, ``nextLink``...), a cursor parameter with a next cursor in the body,
``offset`` + ``limit`` parameters, and ``page`` (+ ``per_page``) parameters. The records must be
a list: the response itself, or one list property of it (the record selector).
:func:`accept_pagination` applies suggestions to a connector document.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from connectory.openapi.responses import ResponseMapping
from connectory.openapi.results import PaginationSuggestion
from connectory.openapi.shapes import ShapeReader

_PAGE = ("page", "page_number", "pagenumber", "_page", "pageindex", "page_index")
_SIZE = (
    "per_page",
    "perpage",
    "page_size",
    "pagesize",
    "limit",
    "size",
    "_limit",
    "_per_page",
    "count",
    "max_results",
    "maxresults",
    "top",
    "$top",
)
_OFFSET = ("offset", "skip", "start", "$skip", "_start")
_LIMIT = (
    "limit",
    "count",
    "take",
    "size",
    "page_size",
    "pagesize",
    "per_page",
    "_limit",
    "$top",
    "top",
)
_CURSOR = (
    "cursor",
    "after",
    "starting_after",
    "page_token",
    "pagetoken",
    "next_token",
    "nexttoken",
    "continuation_token",
    "continuationtoken",
    "next_cursor",
    "marker",
    "pageafter",
    "page_after",
    "next_page_token",
)
_NEXT_CURSOR = (
    "next_cursor",
    "nextcursor",
    "next_page_token",
    "nextpagetoken",
    "next_token",
    "nexttoken",
    "continuation_token",
    "continuationtoken",
    "end_cursor",
    "endcursor",
    "next_marker",
    "nextmarker",
    "cursor",
    "after",
)
_NEXT_URL = (
    "next",
    "next_url",
    "nexturl",
    "next_page_url",
    "nextpageurl",
    "nextlink",
    "next_link",
    "@odata.nextlink",
    "odata.nextlink",
    "next_page_uri",
    "nextpageuri",
    "next_uri",
    "nexturi",
    "next_href",
    "nexthref",
)
_TOTAL = ("total", "total_count", "totalcount", "total_results", "totalresults", "count")
_RECORDS = (
    "data",
    "items",
    "results",
    "records",
    "values",
    "value",
    "entries",
    "list",
    "objects",
    "rows",
    "hits",
)
_MAX_PAGE_SIZE = 100


def suggest_pagination(
    operation: dict[str, Any],
    parameter_schemas: Mapping[str, Any],
    response: ResponseMapping,
    reader: ShapeReader,
) -> PaginationSuggestion | None:
    """Return the pagination the operation's parameters and response suggest, or None."""
    if operation.get("method") != "GET":
        return None
    query = {
        str(p["name"]).lower(): p["name"]
        for p in operation.get("parameters", [])
        if p.get("location") == "query"
    }
    evidence = _Evidence(response, reader)
    found = _records(response.schema, reader)
    if found is None:
        found = evidence.records()
        if found is None:
            return None
    selector, body = found
    name = operation["name"]

    def find(
        names: tuple[str, ...], kinds: tuple[str, ...], shown: tuple[str, ...] | None = None
    ) -> str | None:
        path = _find(body, names, reader, kinds=kinds) if body else None
        return path or evidence.find(names, shown or kinds)

    extra: dict[str, Any] = {}
    if "x-total-count" in response.headers:
        extra["total_header"] = "X-Total-Count"
    elif total := find(_TOTAL, ("integer",)):
        extra["total_path"] = total
    if "link" in response.headers:
        return PaginationSuggestion(
            name,
            {"type": "link_header", **extra},
            evidence.said("the success response declares a Link header"),
            selector,
        )
    # In an example, a next-page field must hold a URL or a path (else it is a cursor).
    next_url = find(_NEXT_URL, ("string",), ("url",))
    if next_url:
        return PaginationSuggestion(
            name,
            {"type": "next_url", "next_url_path": next_url, **extra},
            evidence.said(f"the response has a next-page URL (absolute or relative) at {next_url}"),
            selector,
        )
    cursor_param = _first(query, _CURSOR)
    size_param = _first(query, _SIZE)
    if cursor_param:
        next_cursor = find(_NEXT_CURSOR, ("string", "integer"))
        if next_cursor:
            block: dict[str, Any] = {
                "type": "cursor",
                "cursor_param": cursor_param,
                "cursor_path": next_cursor,
                **extra,
            }
            if size_param:
                block.update(
                    size_param=size_param, page_size=_page_size(parameter_schemas.get(size_param))
                )
            return PaginationSuggestion(
                name,
                block,
                evidence.said(
                    f"query parameter '{cursor_param}' and the next cursor at {next_cursor}"
                ),
                selector,
                (size_param,) if size_param else (),
            )
    offset_param, limit_param = _first(query, _OFFSET), _first(query, _LIMIT)
    numeric = _numeric(parameter_schemas, reader)
    if offset_param and limit_param and numeric(offset_param) and numeric(limit_param):
        return PaginationSuggestion(
            name,
            {
                "type": "offset",
                "offset_param": offset_param,
                "limit_param": limit_param,
                "page_size": _page_size(parameter_schemas.get(limit_param)),
                **extra,
            },
            evidence.said(
                f"integer query parameters '{offset_param}' and '{limit_param}' and a list of "
                f"records at {selector or 'the top level'}"
            ),
            selector,
            (offset_param, limit_param),
        )
    page_param = _first(query, _PAGE)
    token = find(_NEXT_CURSOR, ("string",))
    # A page parameter that is text, or one the response answers with a token to send back,
    # is not a page number: suggesting page numbers would read page 1 forever or skip pages.
    if page_param and numeric(page_param) and not token:
        size = size_param if size_param != page_param else None
        block = {"type": "page_number", "page_param": page_param, "size_param": size, **extra}
        if size:
            block["page_size"] = _page_size(parameter_schemas.get(size))
        start = _start_page(parameter_schemas.get(page_param), reader)
        if start != 1:
            block["start_page"] = start
        reason = (
            f"integer query parameter '{page_param}'"
            + (f" and '{size}'" if size else "")
            + f", pages counted from {start}"
            + (f" ({_start_reason(parameter_schemas.get(page_param), reader)})")
        )
        return PaginationSuggestion(
            name, block, evidence.said(reason), selector, tuple(p for p in (page_param, size) if p)
        )
    return None


class _Evidence:
    """What the response's example bodies show where its schema is silent.

    The schema speaks first: a records list is read from the examples only when the schema
    declares no properties at all (none, or a free-form object), and a field (next URL,
    cursor, total) only when the schema does not declare that property. Every field read
    from an example is named in the suggestion's reason.
    """

    def __init__(self, response: ResponseMapping, reader: ShapeReader) -> None:
        self._examples = [e for e in response.examples if isinstance(e, (dict, list))]
        shape = reader.object(response.schema) if response.schema is not None else None
        self._declared = set(shape.properties) if shape is not None else set()
        self._used: list[str] = []

    def records(self) -> tuple[str | None, Any] | None:
        """``(record selector, None)`` when an example is a list or holds one list of records."""
        if self._declared:
            return None  # the schema lists its properties, and no list among them
        for example in self._examples:
            if isinstance(example, list):
                self._used.append("a list of records")
                return None, None
            lists = [key for key, value in example.items() if isinstance(value, list)]
            if len(lists) > 1:
                lists = [key for key in lists if str(key).lower() in _RECORDS]
            if len(lists) == 1:
                self._used.append(f"records at {_selector(str(lists[0]))}")
                return _selector(str(lists[0])), None
        return None

    def find(self, names: tuple[str, ...], kinds: tuple[str, ...]) -> str | None:
        """The selector of a field named like *names* whose example value is of *kinds*."""
        for example in self._examples:
            if not isinstance(example, dict):
                continue
            top = _best(
                (
                    str(key)
                    for key, value in example.items()
                    if str(key) not in self._declared
                    and str(key).lower() in names
                    and _is(value, kinds)
                ),
                names,
            )
            if top is not None:
                self._used.append(_selector(top))
                return _selector(top)
            for key, child in example.items():
                if str(key) in self._declared or not isinstance(child, dict):
                    continue
                inner = _best(
                    (
                        str(name)
                        for name, value in child.items()
                        if str(name).lower() in names and _is(value, kinds)
                    ),
                    names,
                )
                if inner is not None:
                    self._used.append(_joined(str(key), inner))
                    return _joined(str(key), inner)
        return None

    def said(self, reason: str) -> str:
        """*reason*, naming what the examples showed (when they were read)."""
        if not self._used:
            return reason
        return f"{reason} (from the response example: {', '.join(self._used)})"


def _is(value: Any, kinds: tuple[str, ...]) -> bool:
    """True when an example value is of one of *kinds*; a URL field must hold a URL or path."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return "integer" in kinds
    if not isinstance(value, str):
        return False
    if "url" in kinds:
        return value.startswith(("http://", "https://", "/", "?"))
    return "string" in kinds


def accept_pagination(
    connector: dict[str, Any],
    suggestions: Iterable[PaginationSuggestion],
    operations: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Return a copy of *connector* with the suggestions applied (only for *operations*, if given).

    The parameters the paginator sets on every page are removed from the operation, and the
    record selector is set unless the operation has one.
    """
    wanted = set(operations) if operations is not None else None
    chosen = {s.operation: s for s in suggestions if wanted is None or s.operation in wanted}
    result = dict(connector)
    result["operations"] = []
    for operation in connector.get("operations", []):
        suggestion = chosen.get(operation.get("name"))
        if suggestion is None:
            result["operations"].append(operation)
            continue
        changed = dict(operation)
        changed["pagination"] = copy.deepcopy(suggestion.pagination)
        if suggestion.record_selector and not changed.get("record_selector"):
            changed["record_selector"] = suggestion.record_selector
        replaced = set(suggestion.replaces)
        kept = [
            p
            for p in operation.get("parameters", [])
            if not (p.get("location") == "query" and p.get("name") in replaced)
        ]
        if kept:
            changed["parameters"] = kept
        else:
            changed.pop("parameters", None)
        result["operations"].append(changed)
    return result


def _records(schema: Any, reader: ShapeReader) -> tuple[str | None, Any] | None:
    """Return ``(record selector, body schema)`` when the response holds a list of records."""
    if schema is None:
        return None
    if reader.value(schema).type == "array":
        return None, None
    shape = reader.object(schema)
    if shape is None:
        return None
    lists = [
        name for name, child in shape.properties.items() if reader.value(child).type == "array"
    ]
    if not lists:
        return None
    if len(lists) > 1:
        preferred = [name for name in lists if name.lower() in _RECORDS]
        if len(preferred) != 1:
            return None
        lists = preferred
    return _selector(lists[0]), schema


def _find(
    schema: Any, names: tuple[str, ...], reader: ShapeReader, *, kinds: tuple[str, ...]
) -> str | None:
    """Return the selector of a property named like *names* (top level, or one level down)."""
    shape = reader.object(schema)
    if shape is None:
        return None
    top = _best(
        (
            name
            for name, child in shape.properties.items()
            if name.lower() in names and reader.value(child).type in kinds
        ),
        names,
    )
    if top is not None:
        return _selector(top)
    for name, child in shape.properties.items():
        inner = reader.object(child)
        if inner is None:
            continue
        found = _best(
            (
                inner_name
                for inner_name, grandchild in inner.properties.items()
                if inner_name.lower() in names and reader.value(grandchild).type in kinds
            ),
            names,
        )
        if found is not None:
            return _joined(name, found)
    return None


def _best(found: Iterable[str], names: tuple[str, ...]) -> str | None:
    """The one of *found* that comes first in *names*, the list of likely names in order.

    Slack's paging holds ``count`` (the page size) and ``total``: the total is ``total``,
    whichever the document lists first.
    """
    candidates = list(found)
    if not candidates:
        return None
    return min(candidates, key=lambda name: names.index(name.lower()))


def _joined(outer: str, inner: str) -> str:
    inner_selector = _selector(inner)
    joiner = "" if inner_selector.startswith("[") else "."
    return f"{_selector(outer)}{joiner}{inner_selector}"


def _selector(name: str) -> str:
    if name.replace("_", "a").isalnum():
        return name
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'["{escaped}"]'


def _first(query: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if name in query:
            return query[name]
    return None


def _page_size(schema: Any) -> int:
    if isinstance(schema, dict):
        maximum = schema.get("maximum")
        if isinstance(maximum, int) and not isinstance(maximum, bool) and maximum > 0:
            return min(maximum, _MAX_PAGE_SIZE)
    return _MAX_PAGE_SIZE


def _numeric(parameter_schemas: Mapping[str, Any], reader: ShapeReader) -> Any:
    def numeric(name: str) -> bool:
        schema = parameter_schemas.get(name)
        if not isinstance(schema, dict):
            return False
        kind = schema.get("type")
        if kind is None and "$ref" not in schema:
            return False
        return (
            reader.value(schema).type in ("integer", "number")
            if "$ref" in schema
            else (
                kind in ("integer", "number")
                or (isinstance(kind, list) and bool({"integer", "number"} & set(kind)))
            )
        )

    return numeric


def _start_page(schema: Any, reader: ShapeReader) -> int:
    """The first page: the parameter's minimum, default or example when it is 0 or 1."""
    if not isinstance(schema, dict):
        return 1
    for key in ("minimum", "default", "example"):
        value = schema.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
            return value
    examples = schema.get("examples")
    if isinstance(examples, list) and 0 in examples and True not in examples:
        return 0
    return 1


def _start_reason(schema: Any, reader: ShapeReader) -> str:
    if isinstance(schema, dict):
        for key in ("minimum", "default", "example"):
            if key in schema:
                return f"its {key} is {schema[key]!r}"
    return "no minimum, default or example says otherwise"
