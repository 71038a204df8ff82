"""Fitting enum and default values from the document to a parameter's type."""

from __future__ import annotations

import json
import math
from typing import Any

_NOT_FITTED: Any = object()


def fit_value(value: Any, kind: str) -> Any:
    """Return *value* as the parameter type *kind*, or :data:`NOT_FITTED` when it is not one.

    Documents often write ``enum: [1, 2]`` for a string parameter, or ``default: "10"`` for an
    integer; such values are converted rather than dropped.
    """
    if kind == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return value if isinstance(value, str) else str(value)
        return _NOT_FITTED
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return _NOT_FITTED
    if kind in ("integer", "number"):
        return _fit_number(value, kind)
    if kind == "array":
        return value if isinstance(value, list) else _NOT_FITTED
    return value if isinstance(value, dict) else _NOT_FITTED


def _fit_number(value: Any, kind: str) -> Any:
    if isinstance(value, bool):
        return _NOT_FITTED
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            return _NOT_FITTED
    if isinstance(value, float) and not math.isfinite(value):
        return _NOT_FITTED
    if isinstance(value, float) and kind == "integer":
        return int(value) if value.is_integer() else _NOT_FITTED
    return value if isinstance(value, int | float) else _NOT_FITTED


_PROSE_STARTS = frozenset(
    {
        "the",
        "a",
        "an",
        "current",
        "all",
        "every",
        "each",
        "if",
        "when",
        "see",
        "default",
        "defaults",
        "uses",
        "none",
        "no",
        "same",
        "depends",
        "based",
        "today",
        "now",
    }
)
_PROSE_MARKS = ("...", "\u2026", ", ", " and ", " or ", "e.g.", "i.e.", "(", "; ")


def is_prose(value: Any) -> bool:
    """True when a string default reads as a sentence about the default, not a value.

    Documents write ``default: "name, desc, ... and labelNames"`` or ``default: "the current
    date"``: sent as a value, the API would reject it or, worse, take it literally. A value
    with no space, or a short phrase without list or sentence marks, is taken as a value.
    """
    if not isinstance(value, str) or " " not in value.strip():
        return False
    text = value.strip()
    first = text.split(" ", 1)[0].lower()
    return (
        len(text) > 40
        or any(mark in text for mark in _PROSE_MARKS)
        or text.endswith(".")
        or first in _PROSE_STARTS
    )


def distinct(values: list[Any]) -> list[Any]:
    """Return *values* without repeats, in order (values may be lists or mappings)."""
    seen: set[str] = set()
    kept = []
    for value in values:
        key = json.dumps(value, sort_keys=True, default=repr)
        if key not in seen:
            seen.add(key)
            kept.append(value)
    return kept


NOT_FITTED: Any = _NOT_FITTED
