"""Results of a size agents can take, and the cursor that continues them.

A tool result is JSON of at most the policy's ``max_result_bytes``. A list of records is cut
at a record boundary: the result says ``next_cursor``, and the same call with ``cursor`` set to
it continues exactly after the last record handed out (the page it came from is read again and
the records already handed out are skipped). A single body too large to hand out is replaced by
its beginning, marked ``truncated``.

A tool cursor is bound to its tool and to the other arguments of the call: using it with
different ones is an error, not a different listing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from connectory.errors import InputError

_VERSION = 1
_MAX_CURSOR = 16 * 1024


@dataclass(frozen=True)
class ToolCursor:
    """Where a tool's result continues.

    Attributes:
        inner: The position of the page to read (a collection cursor, an encoded page
            position); None for the first page.
        skip: Records of that page already handed out.
    """

    inner: str | None
    skip: int = 0


def arguments_digest(tool: str, arguments: Mapping[str, Any], cursor_argument: str) -> str:
    """A short digest of a call (tool and arguments, the cursor left out)."""
    rest = {key: value for key, value in arguments.items() if key != cursor_argument}
    text = orjson.dumps([tool, rest], option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(text).hexdigest()[:20]


def encode_tool_cursor(cursor: ToolCursor, bound_to: str) -> str:
    """The text of *cursor*, bound to a call's digest."""
    data = {"v": _VERSION, "b": bound_to, "c": cursor.inner, "k": cursor.skip}
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")


def decode_tool_cursor(text: Any, bound_to: str, argument: str) -> ToolCursor:
    """The cursor *text* holds.

    Raises:
        InputError: not a cursor a result gave, or one of a call with other arguments.
    """
    invalid = InputError(
        f"{argument} is not valid: pass next_cursor exactly as the last result gave it, with "
        "the same other arguments, or leave it out to start again",
        parameter=argument,
    )
    if not isinstance(text, str) or not text or len(text) > _MAX_CURSOR:
        raise invalid
    try:
        data = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        raise invalid from None
    if not isinstance(data, dict) or data.get("v") != _VERSION:
        raise invalid
    if data.get("b") != bound_to:
        raise InputError(
            f"{argument} belongs to a call with other arguments; repeat the arguments of the call "
            "that returned it, or leave it out to start again",
            parameter=argument,
        )
    inner, skip = data.get("c"), data.get("k")
    if (inner is not None and not isinstance(inner, str)) or not isinstance(skip, int) or skip < 0:
        raise invalid
    return ToolCursor(inner, skip)


@dataclass
class CappedRecords:
    """Records that fit a size budget.

    Attributes:
        records: The records handed out (a record too large alone is replaced by its beginning).
        complete: True when every record offered fit.
    """

    records: list[Any]
    complete: bool


def cap_records(records: list[Any], budget: int) -> CappedRecords:
    """Keep records from the start while their JSON fits *budget* bytes (always at least one).

    A first record larger than the whole budget is handed out cut short
    (``{"truncated_record": "<its JSON's beginning>"}``), so a listing always moves on.
    """
    kept: list[Any] = []
    used = 2  # the brackets
    for record in records:
        size = len(orjson.dumps(record, default=str)) + 1
        if used + size > budget:
            if not kept:
                kept.append(cut_value(record, budget))
                return CappedRecords(kept, len(records) == 1)
            return CappedRecords(kept, False)
        kept.append(record)
        used += size
    return CappedRecords(kept, True)


def cut_value(value: Any, budget: int) -> dict[str, Any]:
    """*value* replaced by the beginning of its JSON, for a value too large to hand out."""
    text = orjson.dumps(value, default=str).decode()
    room = max(budget - 200, 64)
    return {"truncated": True, "size_bytes": len(text.encode()), "beginning": text[:room]}


def fits(value: Any, budget: int) -> bool:
    """Whether *value*'s JSON fits *budget* bytes."""
    return len(orjson.dumps(value, default=str)) <= budget
