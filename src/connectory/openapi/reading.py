"""Reading an OpenAPI or Swagger document from bytes, text or data, within limits.

YAML goes through :mod:`connectory.spec.source`, whose event-based reader stops alias bombs and
deep nesting early. JSON takes a faster road: JSON has no aliases, so the position-tracking
YAML reader would only add time (about 3 s instead of 0.3 s for GitHub's 13 MB description);
``json.loads`` plus :func:`~connectory.spec.source.measure_data` keeps the same limits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from connectory.errors import SpecError
from connectory.openapi.errors import OpenAPIError, import_problem
from connectory.spec.source import decode_text, measure_data, parse_text

#: Largest document accepted: GitHub's description is 13 MB; a 100 MB one is refused unread.
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
#: Values (counting what YAML aliases repeat) and nesting accepted; GitHub's has ~260,000
#: values nested 21 deep.
MAX_DOCUMENT_NODES = 3_000_000
MAX_DOCUMENT_DEPTH = 128

Version = Literal["2.0", "3.0", "3.1"]

_VERSION = re.compile(r"^3\.(\d+)(?:\.\d+)?(?:-[\w.]+)?$")


@dataclass(frozen=True)
class OpenAPIDocument:
    """A parsed document and its OpenAPI version.

    Attributes:
        data: The document as plain data (dicts, lists, scalars).
        version: ``2.0`` (Swagger), ``3.0`` or ``3.1`` (later 3.x are read as 3.1).
        name: How messages name the document (a file name or URL), if known.
    """

    data: dict[str, Any]
    version: Version
    name: str | None = None


def size_problem(size: int, limit: int = MAX_DOCUMENT_BYTES) -> str:
    """The message for a document of *size* bytes over *limit*."""
    return (
        f"the document is {size / 1024 / 1024:.1f} MiB; OpenAPI documents are limited to "
        f"{limit / 1024 / 1024:.0f} MiB"
    )


def read_document(
    source: bytes | str | Mapping[str, Any],
    *,
    name: str | None = None,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> OpenAPIDocument:
    """Parse *source* (bytes, text or already-parsed data) and detect its version.

    Raises:
        OpenAPIError: too large, not UTF-8 text, not valid JSON/YAML, nested too deeply, an
            alias bomb, or not an OpenAPI 3.x / Swagger 2.0 document.
    """
    if isinstance(source, Mapping):
        data: Any = dict(source)
        _measure(data, name)
    else:
        if len(source) > max_bytes:
            raise OpenAPIError([import_problem(size_problem(len(source), max_bytes), file=name)])
        text = _decode(source, name) if isinstance(source, bytes) else source
        data = _parse(text, name, max_bytes)
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise OpenAPIError(
            [import_problem(f"the document is {kind}, not an OpenAPI object", file=name)]
        )
    return OpenAPIDocument(data, detect_version(data, name), name)


def detect_version(data: Mapping[str, Any], name: str | None = None) -> Version:
    """Return the version a document declares in ``openapi`` or ``swagger``.

    Raises:
        OpenAPIError: neither field names a supported version.
    """
    if "openapi" in data:
        text = str(data["openapi"]).strip()
        match = _VERSION.match(text)
        if match is None:
            message = (
                f"openapi: {text[:20]!r} is not a version this importer reads; "
                "OpenAPI 3.0 and 3.1 (and Swagger 2.0) are supported"
            )
            raise OpenAPIError([import_problem(message, "/openapi", name)])
        return "3.0" if match.group(1) == "0" else "3.1"
    if "swagger" in data:
        text = str(data["swagger"]).strip()
        if text in ("2.0", "2"):
            return "2.0"
        message = (
            f"swagger: {text[:20]!r} is not supported; Swagger 2.0 and OpenAPI 3.x are "
            "(convert Swagger 1.x with swagger2openapi or the Swagger editor first)"
        )
        raise OpenAPIError([import_problem(message, "/swagger", name)])
    message = (
        "this is not an OpenAPI document: it has neither an 'openapi' field (OpenAPI 3) nor a "
        "'swagger' field (Swagger 2.0)"
    )
    raise OpenAPIError([import_problem(message, file=name)])


def _decode(raw: bytes, name: str | None) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        message = "the document is UTF-16 text; save it as UTF-8"
        raise OpenAPIError([import_problem(message, file=name)])
    try:
        return decode_text(raw, file=name)
    except SpecError as error:
        raise OpenAPIError(_as_document_problems(error, name)) from None


def _parse(text: str, name: str | None, max_bytes: int) -> Any:
    text = text.removeprefix("\ufeff")
    if text.lstrip()[:1] in ("{", "["):
        return _parse_json(text, name)
    try:
        document = parse_text(
            text,
            file=name,
            max_chars=max_bytes,
            max_nodes=MAX_DOCUMENT_NODES,
            max_depth=MAX_DOCUMENT_DEPTH,
        )
    except SpecError as error:
        raise OpenAPIError(_as_document_problems(error, name)) from None
    # Aliases share nodes, so the tree as walked can be deeper than any one anchor's nesting.
    _measure(document.data, name)
    return document.data


def _parse_json(text: str, name: str | None) -> Any:
    def reject_constant(constant: str) -> Any:
        raise ValueError(f"{constant} is not a JSON number")

    try:
        data = json.loads(text, parse_constant=reject_constant)
    except json.JSONDecodeError as error:
        message = f"invalid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        raise OpenAPIError([import_problem(message, file=name)]) from None
    except RecursionError:
        message = f"the document is nested more than {MAX_DOCUMENT_DEPTH} levels deep"
        raise OpenAPIError([import_problem(message, file=name)]) from None
    except ValueError as error:  # a constant, or an integer with too many digits
        raise OpenAPIError([import_problem(f"invalid JSON: {error}", file=name)]) from None
    _measure(data, name)
    pointer = _lone_surrogate_at(data)
    if pointer is not None:
        # json reads "\ud800" as a str that no response, database or request can carry.
        message = (
            "the text holds a \\u escape that is not a whole Unicode character (a lone "
            "surrogate); fix the escape or save the document as UTF-8 text"
        )
        raise OpenAPIError([import_problem(message, pointer, file=name)])
    return data


def _lone_surrogate_at(data: Any) -> str | None:
    """Return the JSON pointer of the first text (or key) that is not valid Unicode, or None."""
    pending: list[tuple[Any, str]] = [(data, "")]
    while pending:
        value, pointer = pending.pop()
        texts = [value] if isinstance(value, str) else []
        if isinstance(value, dict):
            texts = [key for key in value if isinstance(key, str)]
            pending.extend(
                (child, f"{pointer}/{_escape(str(key))}") for key, child in value.items()
            )
        elif isinstance(value, list):
            pending.extend((child, f"{pointer}/{index}") for index, child in enumerate(value))
        for text in texts:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return pointer or "/"
    return None


def _escape(key: str) -> str:
    # A pointer is shown to people: the bad key itself is replaced, not repeated.
    return key.encode("utf-8", "replace").decode().replace("~", "~0").replace("/", "~1")


def _measure(data: Any, name: str | None) -> None:
    try:
        measure_data(data, file=name, max_nodes=MAX_DOCUMENT_NODES, max_depth=MAX_DOCUMENT_DEPTH)
    except SpecError as error:
        raise OpenAPIError(_as_document_problems(error, name)) from None


def _as_document_problems(error: SpecError, name: str | None) -> list[Any]:
    # The shared reader speaks of "connectors"; here the file is an API description.
    problems = []
    for problem in error.problems:
        message = problem.message.replace("connector files", "documents").replace(
            "a connector is far smaller", "an API description is far smaller"
        )
        message = message.replace("the connector has", "the document has")
        message = message.replace("the file is", "the document is").replace(
            "the file contains", "the document contains"
        )
        where = f" (line {problem.line}, column {problem.column})" if problem.line else ""
        problems.append(import_problem(message + where, file=name))
    return problems
