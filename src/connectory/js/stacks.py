"""Reading V8's error messages and stack traces, mapped back to the connector's files.

V8 names each module by its ``//# sourceURL`` (the file's path) and counts lines from the
wrapper's first line, one above the file's (:data:`~connectory.js.module.LINE_OFFSET`). Frames
of Connectory's own prelude and of entry scripts are dropped: the author sees their code only.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

from connectory.js.module import LINE_OFFSET

#: ``file:line`` of V8's uncaught-exception message (mini-racer's first line).
_HEAD = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+): (?P<rest>.*)$")
_FRAME = re.compile(
    r"^\s*at (?:(?P<name>.*?) \()?(?P<file>[^()\s]+):(?P<line>\d+):(?P<col>\d+)\)?$"
)


@dataclass
class Located:
    """Where an error happened and what it said.

    Attributes:
        headline: ``TypeError: ...`` or the thrown value.
        file, line, column: The first place in the connector's code, when known.
        stack: Frames as ``file:line:col`` (with the function name first when V8 knew it).
    """

    headline: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    stack: list[str] = field(default_factory=list)


def map_stack(stack: str, files: Collection[str]) -> tuple[list[str], tuple[str, int, int] | None]:
    """Return the frames of *stack* that are in *files* (mapped), and the first one's place."""
    frames: list[str] = []
    first: tuple[str, int, int] | None = None
    for text in stack.splitlines():
        match = _FRAME.match(text)
        if match is None or match.group("file") not in files:
            continue
        file = match.group("file")
        line = max(int(match.group("line")) - LINE_OFFSET, 1)
        column = int(match.group("col"))
        name = match.group("name")
        if name:
            # An anonymous default export is named after its binding in the transform.
            name = name.replace("__mod.default", "default")
        place = f"{file}:{line}:{column}"
        frames.append(f"{name} ({place})" if name else place)
        if first is None:
            first = (file, line, column)
    return frames, first


def headline_of(stack: str) -> str:
    """The ``Name: message`` part of a stack (every line before the first frame)."""
    lines: list[str] = []
    for text in stack.splitlines():
        if _FRAME.match(text):
            break
        lines.append(text)
    return "\n".join(lines).strip()


def locate_uncaught(text: str, files: Collection[str]) -> Located:
    """Read mini-racer's message for an uncaught exception.

    Its shape is ``file:line: <value>``, the source line, a caret line, then (for Error
    objects) a blank line and the stack.
    """
    lines = text.split("\n")
    head = _HEAD.match(lines[0]) if lines else None
    if head is None:
        return Located(text.strip()[:500] or "the code threw")
    stack_text = text.split("\n\n", 1)[1] if "\n\n" in text else ""
    frames, first = map_stack(stack_text, files)
    headline = headline_of(stack_text) if stack_text else head.group("rest")
    located = Located(headline or head.group("rest"), stack=frames)
    if head.group("file") in files:
        located.file = head.group("file")
        located.line = max(int(head.group("line")) - LINE_OFFSET, 1)
        if len(lines) > 2 and "^" in lines[2]:
            located.column = lines[2].index("^") + 1
    elif first is not None:
        located.file, located.line, located.column = first
    if first is not None and located.file == first[0] and located.line == first[1]:
        located.column = first[2]
    return located


def locate_parse_error(text: str, file: str) -> Located:
    """Read mini-racer's message for a syntax error in *file* (named ``<anonymous>`` there)."""
    lines = text.split("\n")
    head = re.match(r"^[^\s:]*:(?P<line>\d+): (?P<rest>.*)$", lines[0]) if lines else None
    if head is None:
        return Located(text.strip()[:500] or "SyntaxError", file=file)
    located = Located(head.group("rest"), file=file)
    located.line = max(int(head.group("line")) - LINE_OFFSET, 1)
    if len(lines) > 2 and "^" in lines[2]:
        located.column = lines[2].index("^") + 1
    return located
