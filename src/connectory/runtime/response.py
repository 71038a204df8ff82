"""Decoding response bodies and checking them against the operation's response schema."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson

from connectory.errors import ResponseError
from connectory.http.redaction import Redactor
from connectory.http.reply import Reply
from connectory.runtime.fastcheck import compile_check
from connectory.runtime.schema_validation import SchemaRegistry, build_validator

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

#: How many schema mismatches are reported per response; the rest are counted.
MAX_MISMATCHES = 20


def is_json_type(content_type: str) -> bool:
    """True for ``application/json``, ``application/problem+json``, ``text/json`` and the like."""
    return content_type.endswith("/json") or content_type.endswith("+json")


def decode_body(reply: Reply) -> Any:
    """Return the body as JSON data when it is JSON, else as text.

    A body declared as JSON must parse; other bodies are parsed when they look like JSON (many
    APIs send JSON as text/plain) and otherwise returned as text. A body that is not text at
    all is described, not returned.

    Raises:
        ResponseError: the body is declared as JSON but is not valid JSON.
    """
    content = reply.content
    if not content:
        return None
    content_type = reply.content_type
    if is_json_type(content_type):
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise ResponseError(
                f"the upstream said the body is JSON ({content_type}) but it is not valid JSON "
                f"({exc.msg} at byte {exc.pos}); {len(content):,} bytes received"
            ) from None
    first = content.lstrip()[:1]
    if first in (b"{", b"["):
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            pass
    try:
        return content.decode(reply.charset)
    except (UnicodeDecodeError, LookupError):
        return f"<{len(content):,} bytes of {content_type or 'binary data'}>"


def decode_error_body(reply: Reply) -> Any:
    """Return an error response's body like :func:`decode_body`, as text when it is not JSON.

    Error pages often claim to be JSON when a proxy or gateway wrote them; that is no reason to
    hide the status behind a decoding error.
    """
    try:
        return decode_body(reply)
    except ResponseError:
        try:
            return reply.content.decode(reply.charset, "replace")
        except LookupError:  # an unknown charset
            return reply.content.decode("utf-8", "replace")


def decode_json_page(reply: Reply) -> Any:
    """Return a page body as JSON data; pages must be JSON whatever their content type says.

    Raises:
        ResponseError: the body is not JSON.
    """
    try:
        return orjson.loads(reply.content)
    except orjson.JSONDecodeError as exc:
        raise ResponseError(
            f"the page is not valid JSON ({exc.msg} at byte {exc.pos}; content type "
            f"{reply.content_type or 'unknown'}); paginated operations need JSON responses"
        ) from None


class ResponseChecker:
    """Checks bodies against a response schema compiled once."""

    def __init__(self, schema: dict[str, Any], registry: SchemaRegistry | None = None) -> None:
        self._schema = schema
        self._registry = registry
        # A pre-check for common schemas; jsonschema only sees the bodies it rejects.
        self._quick = compile_check(schema)
        self._validator: Validator | None = None

    def mismatches(self, body: Any, redactor: Redactor) -> list[tuple[str, str]]:
        """Return ``(json_path, message)`` for each place *body* does not match the schema."""
        if self._quick is not None and self._quick(body):
            return []
        if self._validator is None:
            self._validator = build_validator(self._schema, self._registry)
        found: list[tuple[str, str]] = []
        errors: Iterable[ValidationError] = self._validator.iter_errors(body)
        for count, error in enumerate(errors):
            if count == MAX_MISMATCHES:
                found.append(("$", "more mismatches not shown"))
                break
            found.append((json_path(error.absolute_path), _describe(error, redactor)))
        return found


def json_path(steps: Iterable[str | int]) -> str:
    """Return ``$.main.temp`` / ``$.data[3].id`` for a sequence of keys and indices."""
    path = "$"
    for step in steps:
        path += f"[{step}]" if isinstance(step, int) else f".{step}"
    return path


def _describe(error: ValidationError, redactor: Redactor) -> str:
    # jsonschema's messages quote the offending value; a response can carry secrets (a login
    # response's token), so redact and cut long values.
    message = redactor.redact(error.message)
    return message if len(message) <= 200 else message[:197] + "..."
