"""Read a YAML or JSON file into plain data plus the line and column of every key and value.

Connector files are written by hand and may come from tenants, so reading one must fail with a
clear message, in bounded time and memory, whatever the input:

* the size is checked with ``stat`` and at most ``max_bytes + 1`` bytes are ever read;
* binary or non-UTF-8 content is refused with the byte offset of the first bad byte;
* the document is built from PyYAML's event stream (:mod:`connectory.spec.yaml_events`), so
  nesting deeper than ``max_depth`` and alias bombs stop early instead of crashing the process;
* duplicate mapping keys are reported (with both lines) rather than silently keeping one.

Scalars follow the YAML 1.2 core schema, which is what JSON users expect: only ``true``/``false``
are booleans (``on``, ``yes``, ``no``, ``off`` stay text, so ``enum: [yes, no]`` and the country
code ``NO`` survive), ``012`` is the integer 12, and dates, ``.inf`` and ``.nan`` stay text because
JSON has no such values. Mapping keys are always text, as written (``200:`` is the key "200").
Merge keys (``<<: *defaults``) are supported.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from connectory.errors import Problem, SpecError
from connectory.spec.yaml_events import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_NODES,
    DocumentBuilder,
    FieldPath,
    Position,
    SourceDocument,
    format_path,
    too_deep_problem,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_NODES",
    "FieldPath",
    "Position",
    "SourceDocument",
    "decode_text",
    "format_path",
    "load_source",
    "measure_data",
    "parse_text",
    "read_text",
]

DEFAULT_MAX_BYTES = 5 * 1024 * 1024

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def load_source(
    path: Path,
    *,
    display_name: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_nodes: int = DEFAULT_MAX_NODES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> SourceDocument:
    """Read and parse the YAML or JSON file at *path* (JSON when its name ends in ``.json``).

    Raises:
        SpecError: the file cannot be read, is too large, is not text, or is not valid YAML/JSON.
    """
    name = display_name or path.name
    text = read_text(path, display_name=name, max_bytes=max_bytes)
    return parse_text(
        text,
        file=name,
        json_syntax=path.suffix.lower() == ".json",
        max_nodes=max_nodes,
        max_depth=max_depth,
    )


def read_text(
    path: Path, *, display_name: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> str:
    """Return the UTF-8 text of *path*; refuse large, special and binary files without reading them.

    Raises:
        SpecError: one problem saying why the file cannot be used.
    """
    name = display_name or path.name

    def fail(message: str) -> SpecError:
        return SpecError([Problem(message, file=name)])

    try:
        info = path.stat()
    except FileNotFoundError:
        raise fail("file not found") from None
    except OSError as exc:
        raise fail(f"cannot read the file: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise fail("not a regular file; a connector is a .yaml, .yml or .json file, or a folder")
    if info.st_size > max_bytes:
        raise fail(_too_large(info.st_size, max_bytes))
    try:
        with path.open("rb") as stream:
            # A file can grow after stat (or lie about its size): never read more than needed.
            raw = stream.read(max_bytes + 1)
    except OSError as exc:
        raise fail(f"cannot read the file: {exc.strerror}") from None
    if len(raw) > max_bytes:
        raise fail(_too_large(len(raw), max_bytes))
    return decode_text(raw, file=name)


def decode_text(raw: bytes, *, file: str | None = None) -> str:
    """Decode *raw* as UTF-8 text (a BOM is dropped); refuse binary content with its byte offset.

    Raises:
        SpecError: the bytes hold a NUL byte or are not valid UTF-8.
    """
    nul = raw.find(b"\x00")
    if nul >= 0:
        message = (
            f"the file is not text: it has a NUL byte at byte offset {nul}; "
            "connector files must be UTF-8 text (is it binary, or saved as UTF-16?)"
        )
        raise SpecError([Problem(message, file=file)])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = (
            f"the file is not UTF-8 text: invalid byte 0x{raw[exc.start]:02x} at byte offset "
            f"{exc.start}; save it as UTF-8"
        )
        raise SpecError([Problem(message, file=file)]) from None
    return text.removeprefix("\ufeff")


def parse_text(
    text: str,
    *,
    file: str | None = None,
    json_syntax: bool = False,
    max_chars: int = DEFAULT_MAX_BYTES,
    max_nodes: int = DEFAULT_MAX_NODES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> SourceDocument:
    """Parse YAML (or, with *json_syntax*, strict JSON) text into a :class:`SourceDocument`.

    Raises:
        SpecError: the text is longer than *max_chars*, is not valid YAML/JSON, nests deeper than
            *max_depth*, expands to more than *max_nodes* nodes, or holds more than one document.
    """
    if len(text) > max_chars:
        message = f"the text has {len(text)} characters; connectors are limited to {max_chars}"
        raise SpecError([Problem(message, file=file)])
    match = _NON_PRINTABLE.search(text)
    if match:
        line, column = _line_column(text, match.start())
        message = f"the file contains the control character U+{ord(match.group()):04X}; remove it"
        raise SpecError([Problem(message, file=file, line=line, column=column)])
    if json_syntax:
        _check_json_syntax(text, file)
        # Valid JSON has no raw tab inside a string, so every tab is whitespace; YAML only
        # accepts spaces there. Replacing one character by one keeps every column.
        text = text.replace("\t", " ")
    builder = DocumentBuilder(file, max_nodes=max_nodes, max_depth=max_depth)
    try:
        for event in _parse_events(text):
            builder.feed(event)
    except (yaml.YAMLError, RecursionError) as exc:
        # The scanner reads ahead of the events (up to 1024 characters in flow context, to
        # find simple keys), so a parser with a nesting limit of its own may fail before the
        # builder has seen the level that passes ours: report our limit, whatever the parser.
        deep = _flow_depth_overflow(text, max_depth)
        if deep is not None or isinstance(exc, RecursionError) or _mentions_depth(exc):
            raise SpecError([too_deep_problem(file, deep, max_depth)]) from None
        if isinstance(exc, yaml.MarkedYAMLError):
            raise SpecError([_syntax_problem(exc, text, file)]) from None
        raise SpecError([Problem(f"invalid YAML: {exc}", file=file)]) from None
    return builder.document()


def _parse_events(text: str) -> Any:
    """PyYAML's event stream for *text* (a seam: tests swap in a parser that fails first)."""
    return yaml.parse(text, Loader=_Loader)


def _mentions_depth(exc: BaseException) -> bool:
    message = str(exc).lower()
    return "depth" in message or "nesting" in message or "too deep" in message


def _flow_depth_overflow(text: str, limit: int) -> Position | None:
    """The line and column where flow collections (``[`` / ``{``) first nest past *limit*.

    A lexical count, independent of the parser: quoted scalars and comments are skipped. It
    only runs after the parser has failed, so its cost never touches a valid document.
    """
    depth = 0
    quote = ""
    line, line_start = 1, 0
    index, end = 0, len(text)
    while index < end:
        char = text[index]
        if char == "\n":
            line, line_start = line + 1, index + 1
        elif quote:
            if char == "\\" and quote == '"':
                index += 1
            elif char == quote:
                quote = ""
        elif char in "\"'" and (index == 0 or text[index - 1] in " \t\n[{,:"):
            quote = char
        elif char == "#" and (index == 0 or text[index - 1] in " \t\n"):
            newline = text.find("\n", index)
            index = end if newline < 0 else newline
            continue
        elif char in "[{":
            depth += 1
            if depth > limit:
                return line, index - line_start + 1
        elif char in "]}" and depth:
            depth -= 1
        index += 1
    return None


def measure_data(
    data: Any,
    *,
    file: str | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> None:
    """Refuse data (e.g. a parsed JSON request body) that nests or repeats beyond the limits.

    The same limits apply as to files, so data from the API cannot do what a file cannot.

    Raises:
        SpecError: the data nests deeper than *max_depth* or holds more than *max_nodes* values.
    """
    pending: list[tuple[Any, int]] = [(data, 0)]
    nodes = 0
    while pending:
        value, depth = pending.pop()
        nodes += 1
        if nodes > max_nodes:
            message = f"the connector has more than {max_nodes} values; it cannot be this large"
            raise SpecError([Problem(message, file=file)])
        if isinstance(value, dict | list):
            if depth >= max_depth:
                raise SpecError([too_deep_problem(file, None, max_depth)])
            children = value.values() if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children)


def _check_json_syntax(text: str, file: str | None) -> None:
    def reject_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number; write a number or a string")

    try:
        json.loads(text, parse_constant=reject_constant)
    except json.JSONDecodeError as exc:
        problem = Problem(f"invalid JSON: {exc.msg}", file=file, line=exc.lineno, column=exc.colno)
        raise SpecError([problem]) from None
    except RecursionError:
        raise SpecError([too_deep_problem(file, None, DEFAULT_MAX_DEPTH)]) from None
    except ValueError as exc:
        raise SpecError([Problem(f"invalid JSON: {exc}", file=file)]) from None


_SYNTAX_HINTS = (
    ("'\\t'", "indent with spaces: YAML does not allow tabs for indentation"),
    ("a tab where", "indent with spaces: YAML does not allow tabs for indentation"),
    ("mapping values are not allowed", "quote a value that contains ': ', or fix the indentation"),
    ("could not find expected ':'", "write 'key: value' (with a space after ':') on each line"),
    ("expected <block end>", "check the indentation of this line against the lines above"),
    ("found undefined alias", "define the anchor (&name) before using the alias (*name)"),
)


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str, file: str | None) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid syntax"
    message = f"invalid YAML: {problem}"
    if exc.context and exc.problem and exc.context_mark is not None:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    if mark is not None and _character_at(text, mark.line, mark.column) == "\t":
        # libyaml does not name the character; say what it is, it is the usual culprit.
        message = "invalid YAML: a tab where YAML expects spaces"
    hint = next((hint for needle, hint in _SYNTAX_HINTS if needle in message), None)
    if hint:
        message += f"; {hint}"
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    return Problem(message, file=file, line=line, column=column)


def _character_at(text: str, line: int, column: int) -> str:
    start = 0
    for _ in range(line):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    return text[start + column : start + column + 1]


def _too_large(size: int, limit: int) -> str:
    return f"the file is {_size(size)}; connector files are limited to {_size(limit)}"


def _size(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _line_column(text: str, offset: int) -> Position:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1
