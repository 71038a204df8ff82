"""Building plain data and positions from PyYAML's event stream, within depth and size limits.

Why events and not ``yaml.compose``: the composer recurses once per nesting level, and libyaml's
composer overflows the C stack (the process dies) at about 100,000 levels, which a 200 KB file
reaches. Here the depth is checked as each collection opens, so parsing stops at the limit.
Aliases are never copied: each adds the size of what it names to a node budget, so a "billion
laughs" document is refused after ``max_nodes`` values instead of expanding.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, NoReturn

import yaml

from connectory.errors import Problem, SpecError

DEFAULT_MAX_NODES = 200_000
DEFAULT_MAX_DEPTH = 64

FieldPath = tuple[str | int, ...]
Position = tuple[int, int]

_CORE = "tag:yaml.org,2002:"
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")


@dataclass
class SourceDocument:
    """A parsed file: its data, where each key and value is, and the non-fatal problems found.

    Attributes:
        file: The name problems report (e.g. ``operations/list_users.yaml``), or None.
        data: Plain Python data (dict, list, str, int, float, bool, None).
        values: 1-based ``(line, column)`` of the value at each field path.
        keys: 1-based ``(line, column)`` of the mapping key of each field path.
        problems: Problems that did not stop the parse (duplicate keys, unsupported tags).
    """

    file: str | None
    data: Any
    values: dict[FieldPath, Position] = field(default_factory=dict)
    keys: dict[FieldPath, Position] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def position(self, path: FieldPath, *, key: bool = False) -> Position | None:
        """Return the position at *path* or, failing that, at its nearest recorded ancestor.

        Args:
            path: A field path inside this document.
            key: Prefer the position of the mapping key over that of the value.
        """
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            found = (self.keys.get(prefix) if key else None) or self.values.get(prefix)
            if found is not None:
                return found
        return None


def too_deep_problem(file: str | None, position: Position | None, limit: int) -> Problem:
    """Return the problem reported for a document nested more than *limit* levels deep."""
    line, column = position or (None, None)
    message = f"the document is nested more than {limit} levels deep; flatten it"
    return Problem(message, file=file, line=line, column=column)


class _Merge:
    """Marks the ``<<`` merge key of a mapping."""


_MERGE = _Merge()
_AWAITING_KEY = object()


@dataclass
class _Frame:
    path: FieldPath
    container: dict[str, Any] | list[Any]
    anchor: str | None
    start: Position
    size: int = 1
    key: object = _AWAITING_KEY
    seen: dict[str, Position] = field(default_factory=dict)
    merges: list[dict[str, Any]] = field(default_factory=list)


class DocumentBuilder:
    """Turns the YAML event stream into data and positions, enforcing the depth and node limits."""

    def __init__(self, file: str | None, *, max_nodes: int, max_depth: int) -> None:
        self._file = file
        self._max_nodes = max_nodes
        self._max_depth = max_depth
        self._nodes = 0
        self._documents = 0
        self._stack: list[_Frame] = []
        self._anchors: dict[str, tuple[Any, int]] = {}
        self._root: Any = None
        self._values: dict[FieldPath, Position] = {}
        self._keys: dict[FieldPath, Position] = {}
        self._problems: list[Problem] = []

    def document(self) -> SourceDocument:
        """Return what was built so far (the whole document once the stream has ended)."""
        return SourceDocument(self._file, self._root, self._values, self._keys, self._problems)

    def feed(self, event: yaml.Event) -> None:
        """Add one parser event; raise SpecError when a limit is passed or the input is refused."""
        mark = event.start_mark
        position = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        if isinstance(event, yaml.DocumentStartEvent):
            self._documents += 1
            if self._documents > 1:
                message = "the file holds more than one YAML document (---); keep one"
                self._fail(message, position)
        elif isinstance(event, yaml.ScalarEvent):
            if self._awaiting_key():
                self._take_key(event, position)
            else:
                self._count(1, position)
                self._attach(self._scalar(event, position), 1, position, event.anchor)
        elif isinstance(event, yaml.AliasEvent):
            self._alias(event, position)
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            self._start(event, position)
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            self._end()

    def _awaiting_key(self) -> bool:
        if not self._stack:
            return False
        frame = self._stack[-1]
        return isinstance(frame.container, dict) and frame.key is _AWAITING_KEY

    def _take_key(self, event: yaml.ScalarEvent, position: Position) -> None:
        frame = self._stack[-1]
        assert isinstance(frame.container, dict)
        if event.value == "<<" and event.implicit[0] and event.tag is None:
            frame.key = _MERGE
            return
        key = event.value
        path = (*frame.path, key)
        first = frame.seen.get(key)
        if first is not None:
            message = (
                f"duplicate key '{key}' (first written at line {first[0]}); "
                "a mapping holds each key once: remove or rename one"
            )
            self._problems.append(Problem(message, format_path(path), self._file, *position))
        frame.seen[key] = position
        self._keys[path] = position
        frame.key = key

    def _scalar(self, event: yaml.ScalarEvent, position: Position) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            if not event.implicit[0] or tag == "!":
                return event.value
            return self._storable(_resolve_plain(event.value), event.value, position)
        kind = tag.removeprefix(_CORE) if tag.startswith(_CORE) else None
        if kind == "str":
            return event.value
        converted = _resolve_plain(event.value)
        expected = {"int": int, "float": float, "bool": bool, "null": type(None)}.get(kind or "")
        if expected is float and type(converted) is int:
            return float(converted)
        if expected is not None and type(converted) is expected:
            return converted
        message = f"the tag {_short_tag(tag)} is not supported here; remove it"
        self._problems.append(
            Problem(message, format_path(self._next_path()), self._file, *position)
        )
        return event.value

    def _storable(self, value: Any, text: str, position: Position) -> Any:
        """Refuse numbers JSON tools cannot carry: infinities and integers beyond 64 bits."""
        too_large = (isinstance(value, float) and not math.isfinite(value)) or (
            isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64
        )
        if not too_large:
            return value
        shown = text if len(text) <= 40 else text[:37] + "..."
        message = f"the number {shown} is too large; write a number that fits in 64 bits"
        self._problems.append(
            Problem(message, format_path(self._next_path()), self._file, *position)
        )
        return text

    def _alias(self, event: yaml.AliasEvent, position: Position) -> None:
        name = event.anchor
        if self._awaiting_key():
            self._fail("an alias cannot be a mapping key; write the key as text", position)
        if name not in self._anchors:
            if any(frame.anchor == name for frame in self._stack):
                self._fail(f"the alias *{name} refers to itself (a recursive anchor)", position)
            self._fail(f"the alias *{name} is used before its anchor &{name} is defined", position)
        value, size = self._anchors[name]
        self._count(size, position)
        self._attach(value, size, position, None)

    def _start(self, event: yaml.CollectionStartEvent, position: Position) -> None:
        if self._awaiting_key():
            self._fail("a mapping key must be plain text, not a list or mapping", position)
        if len(self._stack) >= self._max_depth:
            raise SpecError([too_deep_problem(self._file, position, self._max_depth)])
        if event.tag not in (None, "!", _CORE + "map", _CORE + "seq"):
            message = f"the tag {_short_tag(event.tag)} is not supported here; remove it"
            problem = Problem(message, format_path(self._next_path()), self._file, *position)
            self._problems.append(problem)
        self._count(1, position)
        path = self._next_path()
        if self._records_position():
            self._values[path] = position
        container: dict[str, Any] | list[Any] = (
            {} if isinstance(event, yaml.MappingStartEvent) else []
        )
        self._stack.append(_Frame(path, container, event.anchor, position))

    def _end(self) -> None:
        frame = self._stack.pop()
        value: Any = frame.container
        if frame.merges:
            merged: dict[str, Any] = {}
            # Earlier merge sources win over later ones; keys written in the mapping win over all.
            for source in reversed(frame.merges):
                merged.update(source)
            merged.update(frame.container)
            value = merged
        self._attach(value, frame.size, frame.start, frame.anchor, record=False)

    def _records_position(self) -> bool:
        # A merge source has no path of its own: its keys land in the enclosing mapping.
        return not self._stack or self._stack[-1].key is not _MERGE

    def _next_path(self) -> FieldPath:
        if not self._stack:
            return ()
        frame = self._stack[-1]
        if isinstance(frame.container, list):
            return (*frame.path, len(frame.container))
        return (*frame.path, frame.key) if isinstance(frame.key, str) else frame.path

    def _attach(
        self, value: Any, size: int, position: Position, anchor: str | None, *, record: bool = True
    ) -> None:
        if anchor is not None:
            self._anchors[anchor] = (value, size)
        if record and self._records_position():
            self._values[self._next_path()] = position
        if not self._stack:
            self._root = value
            return
        frame = self._stack[-1]
        frame.size += size
        if isinstance(frame.container, list):
            frame.container.append(value)
        elif frame.key is _MERGE:
            self._merge(frame, value, position)
        else:
            assert isinstance(frame.key, str)
            frame.container[frame.key] = value
        if isinstance(frame.container, dict):
            frame.key = _AWAITING_KEY

    def _merge(self, frame: _Frame, value: Any, position: Position) -> None:
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(source, dict) for source in sources):
            message = "'<<' merges mappings: give it an alias of a mapping (or a list of them)"
            self._problems.append(Problem(message, format_path(frame.path), self._file, *position))
            return
        frame.merges.extend(sources)

    def _count(self, nodes: int, position: Position) -> None:
        self._nodes += nodes
        if self._nodes > self._max_nodes:
            message = (
                f"the document has more than {self._max_nodes} values (counting what aliases "
                "repeat); a connector is far smaller: is this an alias bomb?"
            )
            self._fail(message, position)

    def _fail(self, message: str, position: Position) -> NoReturn:
        raise SpecError([Problem(message, file=self._file, line=position[0], column=position[1])])


def _short_tag(tag: str | None) -> str:
    return (tag or "").replace(_CORE, "!!")


def _resolve_plain(value: str) -> Any:
    if _NULL.match(value):
        return None
    if _BOOL.match(value):
        return value.lower() == "true"
    try:
        if _INT.match(value):
            return int(value, 0) if value[:2] in ("0o", "0x") else int(value, 10)
        if _FLOAT.match(value):
            return float(value)
    except ValueError:  # e.g. more digits than Python converts
        return value
    return value


_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_\-$]*$")


def format_path(path: FieldPath) -> str:
    """Return *path* as written in messages: ``operations[2].parameters[0].location``.

    Keys that are not identifiers are quoted: ``headers["Accept Language"]``.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text
