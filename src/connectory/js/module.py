"""The one module shape of connector code, and its transform into a script V8 can run.

Connector code is written as an ES module (strict mode, ES2023)::

    export default async function (ctx) { ... }      // hooks/sign.js
    export function listItems(ctx) { ... }            // methods/items.js#listItems
    export const helper = (x) => x * 2;

mini-racer runs classic scripts, where ``export`` is a syntax error, so each file is turned into
a function that fills an exports object. The transform never moves a line or a column of the
file: ``export default`` becomes ``__mod.default=`` (the same 14 characters), a declaration's
``export`` keyword becomes six spaces, and the names are assigned after the last line. The
wrapper adds one line above the file (:data:`LINE_OFFSET`), which stack traces subtract.
``import`` (static or dynamic) is refused: there are no modules to import from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connectory.errors import Problem
from connectory.js.lexer import JsSyntaxError, Token, tokenize

#: Lines the wrapper adds above a file's first line.
LINE_OFFSET = 1
#: The exports object inside the wrapper (``export default`` is replaced by ``__mod.default=``).
EXPORTS_NAME = "__mod"
_DEFAULT_ASSIGN = f"{EXPORTS_NAME}.default="
_DECLARATIONS = ("function", "class", "const", "let", "var", "async")


@dataclass(frozen=True, slots=True)
class Export:
    """One export of a module and where it is written (1-based line and column)."""

    name: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class CredentialRead:
    """A read of ``<something>.credentials``: the field name when literal, else None."""

    name: str | None
    line: int
    column: int


@dataclass
class ModuleSource:
    """One code file, transformed.

    Attributes:
        file: Its path (``hooks/sign.js``).
        text: The file as written.
        body: The transformed text: same lines and columns, exports turned into assignments.
        exports: The exports by name (``default`` included when there is one).
        problems: Why the file cannot be used as a module (imports, unsupported exports).
        credential_reads: Reads of ``.credentials`` found in the code.
        declared: Exported name -> the local binding assigned after the last line.
    """

    file: str
    text: str
    body: str
    exports: dict[str, Export] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    credential_reads: list[CredentialRead] = field(default_factory=list)
    #: Exported name -> the local binding assigned after the last line.
    declared: dict[str, str] = field(default_factory=dict)

    def script(self) -> str:
        """The script that defines the module: ``__cty.define(file, function (__mod) {...})``."""
        return _wrap(self, f"__cty.define({_js_string(self.file)}, ")

    def compile_script(self) -> str:
        """A script that compiles the module without running any of it (for validation)."""
        return _wrap(self, "void (")


def _wrap(module: ModuleSource, opening: str) -> str:
    assignments = "".join(
        f"{EXPORTS_NAME}[{_js_string(name)}]={local};" for name, local in module.declared.items()
    )
    return (
        f'{opening}function ({EXPORTS_NAME}) {{ "use strict";\n'
        f"{module.body}\n;{assignments}\n}});\n'ok';\n//# sourceURL={module.file}\n"
    )


def _js_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def transform_module(file: str, text: str) -> ModuleSource:
    """Transform *text* (the file *file*) into a module body; problems are collected, not raised."""
    module = ModuleSource(file, text, text)
    try:
        tokens = tokenize(text)
    except JsSyntaxError as error:
        module.problems.append(
            Problem(f"SyntaxError: {error}", file=file, line=error.line, column=error.column)
        )
        return module
    edits: list[tuple[int, int, str]] = []
    for index, token in enumerate(tokens):
        if token.kind != "name":
            continue
        if token.text == "credentials":
            module.credential_reads += _credential_reads(tokens, index)
        elif _after_dot(tokens, index):
            continue
        elif token.text == "import":
            module.problems.append(_import_problem(file, tokens, index))
        elif token.text == "export" and token.depth == 0:
            # (an export below the top level is V8's syntax error to report)
            _transform_export(module, tokens, index, edits)
    module.body = _apply(text, edits)
    return module


def _after_dot(tokens: list[Token], index: int) -> bool:
    return index > 0 and tokens[index - 1].text in (".", "?.")


def _at(file: str, token: Token, message: str) -> Problem:
    return Problem(message, file=file, line=token.line, column=token.column)


def _import_problem(file: str, tokens: list[Token], index: int) -> Problem:
    following = tokens[index + 1].text if index + 1 < len(tokens) else ""
    if following == "(":
        message = "import() is not available: connector code cannot load other code"
    elif following == ".":
        message = "import.meta is not available: connector code runs without modules"
    else:
        message = (
            "import is not available: each hook or method file stands alone (no modules to "
            "import from); put the helpers it needs in the same file"
        )
    return _at(file, tokens[index], message)


def _transform_export(
    module: ModuleSource, tokens: list[Token], index: int, edits: list[tuple[int, int, str]]
) -> None:
    export = tokens[index]
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    if following is None:
        module.problems.append(_at(module.file, export, "export of nothing; remove it"))
        return
    if following.text == "default":
        _export_default(module, tokens, index, edits)
    elif following.text in _DECLARATIONS:
        name_token = _declared_name(tokens, index + 1)
        if name_token is None or name_token.kind != "name":
            module.problems.append(
                _at(
                    module.file,
                    export,
                    "write one name per export (export const name = ...); destructuring in "
                    "an export is not supported",
                )
            )
            return
        edits.append((export.start, export.end, " " * len("export")))
        _add_export(module, name_token.text, name_token.text, export)
    elif following.text == "{":
        _export_list(module, tokens, index, edits)
    else:
        module.problems.append(
            _at(
                module.file,
                export,
                f"export {following.text[:20]} is not supported; export a function, class or "
                "const, or write export default",
            )
        )


def _declared_name(tokens: list[Token], index: int) -> Token | None:
    """The name a declaration starting at tokens[index] declares (``async function* name``)."""
    position = index
    if tokens[position].text == "async":
        position += 1
        if position >= len(tokens) or tokens[position].text != "function":
            return None
    if tokens[position].text == "function":
        position += 1
        if position < len(tokens) and tokens[position].text == "*":
            position += 1
    else:
        position += 1  # class, const, let, var
    return tokens[position] if position < len(tokens) else None


def _export_default(
    module: ModuleSource, tokens: list[Token], index: int, edits: list[tuple[int, int, str]]
) -> None:
    export, default = tokens[index], tokens[index + 1]
    following = tokens[index + 2] if index + 2 < len(tokens) else None
    if following is not None and following.text in ("function", "class", "async"):
        name_token = _declared_name(tokens, index + 2)
        if name_token is not None and name_token.kind == "name" and name_token.text != "extends":
            # A named declaration stays a declaration (hoisted, visible in the file).
            edits.append(
                (export.start, default.end, _blank(module.text, export.start, default.end))
            )
            _add_export(module, "default", name_token.text, export)
            return
    # Anything else is an expression: assign it, in the same number of characters.
    span = module.text[export.start : default.end]
    edits.append(
        (export.start, default.end, _DEFAULT_ASSIGN + _blank(span, len(_DEFAULT_ASSIGN), len(span)))
    )
    module.exports["default"] = Export("default", export.line, export.column)


def _export_list(
    module: ModuleSource, tokens: list[Token], index: int, edits: list[tuple[int, int, str]]
) -> None:
    export = tokens[index]
    position = index + 2
    pairs: list[tuple[str, str]] = []
    while position < len(tokens) and tokens[position].text != "}":
        local = tokens[position]
        exported = local
        if position + 2 < len(tokens) and tokens[position + 1].text == "as":
            exported = tokens[position + 2]
            position += 2
        if local.kind != "name" or exported.kind != "name":
            module.problems.append(_at(module.file, local, "write export { name, other as alias }"))
            return
        pairs.append((exported.text, local.text))
        position += 1
        if position < len(tokens) and tokens[position].text == ",":
            position += 1
    if position >= len(tokens):
        module.problems.append(_at(module.file, export, "export { ... } is not closed"))
        return
    end = tokens[position].end
    if position + 1 < len(tokens) and tokens[position + 1].text == "from":
        module.problems.append(
            _at(module.file, export, "export ... from is not available: there are no modules")
        )
        return
    if position + 1 < len(tokens) and tokens[position + 1].text == ";":
        end = tokens[position + 1].end
    edits.append((export.start, end, _blank(module.text, export.start, end)))
    for exported_name, local_name in pairs:
        _add_export(module, exported_name, local_name, export)


def _add_export(module: ModuleSource, exported: str, local: str, where: Token) -> None:
    module.exports[exported] = Export(exported, where.line, where.column)
    module.declared[exported] = local


def _blank(text: str, start: int, end: int) -> str:
    """Spaces for text[start:end], keeping its line breaks (so no line moves)."""
    return "".join(char if char in "\r\n" else " " for char in text[start:end])


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    if not edits:
        return text
    parts: list[str] = []
    position = 0
    for start, end, replacement in sorted(edits):
        parts.append(text[position:start])
        parts.append(replacement)
        position = end
    parts.append(text[position:])
    return "".join(parts)


def _credential_reads(tokens: list[Token], index: int) -> list[CredentialRead]:
    """Reads of the ``credentials`` member at tokens[index] (``x.credentials.name``...)."""
    if not _after_dot(tokens, index):
        return []
    token = tokens[index]
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    if following is not None and following.text in (".", "?.") and index + 2 < len(tokens):
        name = tokens[index + 2]
        return [CredentialRead(name.text if name.kind == "name" else None, name.line, name.column)]
    if following is not None and following.text in ("[", "?.["):
        key = tokens[index + 2] if index + 2 < len(tokens) else None
        closing = tokens[index + 3] if index + 3 < len(tokens) else None
        if key is not None and key.kind == "string" and closing is not None and closing.text == "]":
            return [CredentialRead(key.text[1:-1], key.line, key.column)]
        return [CredentialRead(None, token.line, token.column)]
    return _destructured(tokens, index)


def _destructured(tokens: list[Token], index: int) -> list[CredentialRead]:
    """``const { a, b: c } = ctx.credentials``: a and b are read."""
    # tokens: ... } = ctx . credentials
    if index < 4 or tokens[index - 3].text != "=" or tokens[index - 4].text != "}":
        return []
    closing = index - 4
    depth = 0
    opening = closing
    while opening >= 0:
        text = tokens[opening].text
        if text == "}":
            depth += 1
        elif text == "{":
            depth -= 1
            if depth == 0:
                break
        opening -= 1
    if opening < 0:
        return []
    reads: list[CredentialRead] = []
    level = tokens[opening].depth + 1
    for position in range(opening + 1, closing):
        token = tokens[position]
        if token.depth != level:
            continue
        if token.text == "...":
            reads.append(CredentialRead(None, token.line, token.column))
        elif token.kind in ("name", "string") and tokens[position - 1].text in ("{", ","):
            name = token.text[1:-1] if token.kind == "string" else token.text
            reads.append(CredentialRead(name, token.line, token.column))
    return reads
