"""Reading values as the type a connector declares for them (parameters, credentials).

Values arrive as Python objects (the Python API) or as text (the CLI, forms, query strings);
both are accepted, so ``"5"`` is the integer 5 and ``"yes"`` is true. One function serves
operation parameters and input fields alike.
"""

from __future__ import annotations

from typing import Any

import orjson

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def coerce_value(kind: str, value: Any) -> Any:
    """Return *value* converted to the declared *kind*.

    Args:
        kind: ``string`` (``password`` is text too), ``boolean``, ``integer``, ``number``,
            ``array`` (a list, JSON text or ``a,b,c``) or ``object`` (a dict or JSON text).
        value: What the caller gave: a Python value, or text from a command line or form.

    Raises:
        ValueError, TypeError: the value cannot be read as *kind* (orjson's decode error is a
            ValueError).
    """
    if kind in ("string", "password"):
        if isinstance(value, dict | list):
            raise TypeError
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else str(value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError
    if kind == "integer":
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            return int(value.strip())
        raise TypeError
    if kind == "number":
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, int | float):
            return value
        if isinstance(value, str):
            number = float(value.strip())
            return int(number) if number.is_integer() and "." not in value else number
        raise TypeError
    if kind == "array":
        if isinstance(value, list | tuple):
            return list(value)
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.startswith("["):
                parsed = orjson.loads(stripped)
                if isinstance(parsed, list):
                    return parsed
                raise TypeError
            return [item.strip() for item in stripped.split(",")] if stripped else []
        raise TypeError
    # object
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        parsed = orjson.loads(value)
        if isinstance(parsed, dict):
            return parsed
    raise TypeError
