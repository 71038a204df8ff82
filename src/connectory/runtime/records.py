"""Finding values and records in a decoded response body.

Selectors (``data.items``, ``$.result[0].rows``) are parsed once when the connector is loaded and
applied per page with a plain loop over dict/list look-ups: no generic path library walks the
whole response to find one key.
"""

from __future__ import annotations

from typing import Any

from connectory.errors import ResponseError
from connectory.spec.selectors import parse_selector


class Selector:
    """A parsed selector: the keys and indices leading to a value."""

    __slots__ = ("steps", "text")

    def __init__(self, text: str, steps: tuple[str | int, ...]) -> None:
        self.text = text
        self.steps = steps

    @classmethod
    def parse(cls, text: str) -> Selector:
        """Parse *text*; raises ValueError with a message for an invalid selector."""
        return cls(text, parse_selector(text))

    def __repr__(self) -> str:
        return f"Selector({self.text!r})"


def select(body: Any, selector: Selector) -> Any:
    """Return the value at *selector* in *body*, or None when any step is missing."""
    value = body
    for step in selector.steps:
        if isinstance(step, str):
            if not isinstance(value, dict):
                return None
            value = value.get(step)
        else:
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return None
            value = value[step]
    return value


def extract_records(body: Any, selector: Selector | None) -> list[Any]:
    """Return the records of a page.

    With no selector, a list body is the records and an object body is one record. With a
    selector, the value found must be a list (an object counts as one record; null or missing
    counts as no records).

    Raises:
        ResponseError: the selected value is neither a list, an object nor missing.
    """
    if selector is None:
        if isinstance(body, list):
            return body
        return [] if body is None else [body]
    value = select(body, selector)
    if isinstance(value, list):
        return value
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    raise ResponseError(
        f"record_selector {selector.text!r} points at a {type(value).__name__}, not a list of "
        "records; point it at the list"
    )
