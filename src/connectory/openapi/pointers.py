"""JSON pointers (RFC 6901): how warnings say where in the document something is."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

#: A position in the document, as the sequence of keys and indices leading to it.
Parts = tuple[str | int, ...]

_MISSING = object()


def escape_part(part: str | int) -> str:
    """Return one reference token escaped for a pointer (``/`` -> ``~1``, ``~`` -> ``~0``)."""
    return str(part).replace("~", "~0").replace("/", "~1")


def to_pointer(parts: Iterable[str | int]) -> str:
    """Return the JSON pointer of *parts*: ``("paths", "/pets")`` -> ``/paths/~1pets``."""
    return "".join("/" + escape_part(part) for part in parts)


def parse_pointer(pointer: str) -> Parts | None:
    """Return the reference tokens of *pointer* (``""`` is the whole document), or None if invalid.

    Percent-encoding is undone first, because ``$ref`` values are URI fragments
    (``#/paths/~1pets~1%7Bid%7D``).
    """
    text = unquote(pointer)
    if text == "":
        return ()
    if not text.startswith("/"):
        return None
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in text[1:].split("/"))


def lookup(data: Any, parts: Parts) -> Any:
    """Return the value at *parts* inside *data*, or :data:`MISSING` when there is none."""
    node = data
    for part in parts:
        if isinstance(node, dict):
            if not isinstance(part, str) or part not in node:
                return MISSING
            node = node[part]
        elif isinstance(node, list):
            try:
                index = int(part)
            except ValueError:
                return MISSING
            if not 0 <= index < len(node) or str(index) != str(part):
                return MISSING
            node = node[index]
        else:
            return MISSING
    return node


#: Returned by :func:`lookup` when nothing is at the pointer (None is a valid value).
MISSING: Any = _MISSING
