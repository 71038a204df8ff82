"""Selectors: where a value is in a JSON response (``data.items``, ``meta.next_cursor``).

A selector is a small, fixed syntax (not JSONPath, not a template): dotted keys, ``[n]`` list
indices (negative counts from the end), quoted keys for names that hold dots or brackets, and an
optional leading ``$`` for the whole body::

    data.items                  -> ("data", "items")
    $.results[0].id             -> ("results", 0, "id")
    ["@odata.nextLink"]         -> ("@odata.nextLink",)
    $                           -> ()   (the body itself)
"""

from __future__ import annotations

import json
import re

_KEY = re.compile(r"[^.\[\]\s\"'*]+")
_INDEX = re.compile(r"\[\s*(-?[0-9]+)\s*\]")
_QUOTED = re.compile(r"""\[\s*("(?:[^"\\]|\\.)*"|'[^']*')\s*\]""")

_EXAMPLE = "write dotted keys with optional [n] indices, e.g. data.items or $.results[0].id"


def parse_selector(text: str) -> tuple[str | int, ...]:
    """Parse a selector into the keys and indices it walks.

    Args:
        text: The selector as written in the connector.

    Returns:
        The steps: ``str`` keys and ``int`` list indices; empty for the whole body (``$``).

    Raises:
        ValueError: the selector is not valid; the message says where and what to write.
    """
    source = text.strip()
    if not source:
        raise ValueError(f"the selector is empty; {_EXAMPLE}")
    position = 0
    if source.startswith("$"):
        position = 1
        if source.startswith("$."):
            position = 2
            if len(source) == 2:
                raise ValueError(f"'{text}' ends after '$.'; {_EXAMPLE}")
    steps: list[str | int] = []
    expect_key = position == 2 or position == 0
    while position < len(source):
        char = source[position]
        if char == "[":
            position = _bracket(source, position, steps, text)
        elif char == "." and not expect_key:
            position += 1
            if position == len(source):
                raise ValueError(f"'{text}' ends with '.'; {_EXAMPLE}")
            expect_key = True
            continue
        else:
            match = _KEY.match(source, position)
            if not expect_key or match is None:
                raise ValueError(_unexpected(text, source, position))
            steps.append(match.group())
            position = match.end()
        expect_key = False
    return tuple(steps)


def format_selector(steps: tuple[str | int, ...]) -> str:
    """Return the selector text for *steps* (the inverse of :func:`parse_selector`)."""
    if not steps:
        return "$"
    text = ""
    for step in steps:
        if isinstance(step, int):
            text += f"[{step}]"
        elif _KEY.fullmatch(step):
            text += f".{step}" if text else step
        else:
            text += f"[{json.dumps(step)}]"
    return text


def _bracket(source: str, position: int, steps: list[str | int], text: str) -> int:
    index = _INDEX.match(source, position)
    if index:
        steps.append(int(index.group(1)))
        return index.end()
    quoted = _QUOTED.match(source, position)
    if quoted:
        literal = quoted.group(1)
        steps.append(json.loads(literal) if literal.startswith('"') else literal[1:-1])
        return quoted.end()
    if source.startswith("[*]", position):
        raise ValueError(f"'{text}': wildcards ([*]) are not supported; {_EXAMPLE}")
    raise ValueError(
        f"'{text}' has a bracket at character {position + 1} that is neither an index [n] "
        f'nor a quoted key ["name"]; {_EXAMPLE}'
    )


def _unexpected(text: str, source: str, position: int) -> str:
    char = source[position]
    if char == "*":
        return f"'{text}': wildcards (*) are not supported; {_EXAMPLE}"
    if char.isspace():
        return f"'{text}' has a space at character {position + 1}; quote such keys: [\"a b\"]"
    return f"'{text}' has an unexpected '{char}' at character {position + 1}; {_EXAMPLE}"
