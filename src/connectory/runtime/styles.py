"""OpenAPI parameter serialisation (``style`` / ``explode``) for the query and form bodies.

=================  =========================  ===================  ===========================
style              array ``[1, 2]``           object ``{a: 1}``    explode
=================  =========================  ===================  ===========================
form (explode)     ``x=1&x=2``                ``a=1``              the connector's default for
                                                                   arrays
form               ``x=1,2``                  ``x=a,1``            comma-separated
spaceDelimited     ``x=1%202``                ``x=a%201``
pipeDelimited      ``x=1|2``                  ``x=a|1``
deepObject         ``x[0]=1&x[1]=2``          ``x[a]=1``           nested objects and lists
                                                                   nest further: ``x[a][0]=1``
=================  =========================  ===================  ===========================

A parameter without ``style`` keeps the connector's own rules (arrays repeat the name,
objects are sent as JSON text), so connectors written before styles existed send what they
always sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectory.http.request import text_value

_JOINERS = {"form": ",", "spaceDelimited": " ", "pipeDelimited": "|"}


def style_pairs(name: str, value: Any, style: str, explode: bool | None) -> list[tuple[str, str]]:
    """Return the ``(key, text)`` pairs *value* is sent as under *style* / *explode*.

    Args:
        name: The parameter's name.
        value: Its value (a scalar, a list or a mapping).
        style: ``form``, ``spaceDelimited``, ``pipeDelimited`` or ``deepObject``.
        explode: OpenAPI's ``explode``; None means the style's default (true for form and
            deepObject, false for the delimited styles).
    """
    if style == "deepObject":
        return list(_deep(name, value))
    exploded = explode if explode is not None else style == "form"
    if isinstance(value, list | tuple):
        if exploded:
            return [(name, text_value(item)) for item in value]
        return [(name, _JOINERS.get(style, ",").join(text_value(item) for item in value))]
    if isinstance(value, Mapping):
        if exploded and style == "form":
            return [(str(key), text_value(item)) for key, item in value.items()]
        flat = [part for key, item in value.items() for part in (str(key), text_value(item))]
        return [(name, _JOINERS.get(style, ",").join(flat))]
    return [(name, text_value(value))]


def _deep(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        return [pair for key, item in value.items() for pair in _deep(f"{prefix}[{key}]", item)]
    if isinstance(value, list | tuple):
        return [
            pair for index, item in enumerate(value) for pair in _deep(f"{prefix}[{index}]", item)
        ]
    return [(prefix, text_value(value))]


def add_pairs(target: dict[str, Any], pairs: list[tuple[str, str]]) -> None:
    """Add *pairs* to a params mapping; a key given more than once becomes a list."""
    for key, text in pairs:
        if key not in target:
            target[key] = text
        elif isinstance(target[key], list):
            target[key].append(text)
        else:
            target[key] = [target[key], text]
