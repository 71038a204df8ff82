"""A small JavaScript tokenizer: enough to find ``export``, ``import`` and credential reads.

It knows where strings, template literals, comments and regular expression literals start and
end, so a word inside them is never mistaken for code, and it tracks bracket depth so the
module transform only touches top-level statements. It does not parse: V8 remains the judge of
syntax (a file this tokenizer misreads still fails to compile, with V8's message).

Whether ``/`` starts a regular expression or divides is decided, as every tokenizer without a
parser does, from the token before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

#: After these words an expression starts, so ``/`` opens a regular expression.
_REGEX_AFTER_WORDS = frozenset(
    {
        "return",
        "typeof",
        "instanceof",
        "in",
        "of",
        "new",
        "delete",
        "void",
        "throw",
        "case",
        "do",
        "else",
        "yield",
        "await",
    }
)
_PUNCTUATORS = (
    ">>>=",
    "...",
    "===",
    "!==",
    "**=",
    "<<=",
    ">>=",
    ">>>",
    "&&=",
    "||=",
    "??=",
    "=>",
    "==",
    "!=",
    "<=",
    ">=",
    "&&",
    "||",
    "??",
    "?.",
    "++",
    "--",
    "+=",
    "-=",
    "*=",
    "/=",
    "%=",
    "&=",
    "|=",
    "^=",
    "<<",
    ">>",
    "**",
)
_OPENERS = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True, slots=True)
class Token:
    """One token.

    Attributes:
        kind: ``name``, ``number``, ``string``, ``template``, ``regex`` or ``punct``.
        text: The token's text as written (a template's whole text for templates).
        start: Offset of its first character.
        end: Offset after its last character.
        line: 1-based line of its first character.
        column: 1-based column of its first character.
        depth: Bracket depth it is at (0 for top-level statements).
    """

    kind: str
    text: str
    start: int
    end: int
    line: int
    column: int
    depth: int


class JsSyntaxError(ValueError):
    """The text cannot be tokenized (an unterminated string, comment or template)."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


def tokenize(text: str) -> list[Token]:
    """Return the tokens of *text* (comments and whitespace dropped).

    Raises:
        JsSyntaxError: an unterminated string, comment, template or regular expression.
    """
    return list(_Scanner(text).tokens())


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.line_start = 0
        # Closing brackets expected, innermost last; "${" marks a template substitution.
        self.stack: list[str] = []
        self.depth = 0
        self.previous: Token | None = None

    def fail(self, message: str, at: int) -> JsSyntaxError:
        line = self.text.count("\n", 0, at) + 1
        column = at - (self.text.rfind("\n", 0, at) + 1) + 1
        return JsSyntaxError(message, line, column)

    def tokens(self) -> Iterator[Token]:
        text = self.text
        size = len(text)
        while True:
            self.skip_space()
            if self.pos >= size:
                return
            start = self.pos
            self.depth = len(self.stack)
            char = text[start]
            if char.isalpha() or char in "_$\\" or ord(char) > 127:
                end = start + 1
                while end < size and (
                    text[end].isalnum() or text[end] in "_$\\" or ord(text[end]) > 127
                ):
                    end += 1
                yield self.emit("name", start, end)
            elif char.isdigit() or (char == "." and start + 1 < size and text[start + 1].isdigit()):
                end = start + 1
                while end < size and (text[end].isalnum() or text[end] in "._"):
                    end += 1
                yield self.emit("number", start, end)
            elif char in "'\"":
                yield self.emit("string", start, self.scan_string(start))
            elif char == "`":
                yield self.emit("template", start, self.scan_template(start + 1))
            elif char == "/" and self.regex_allowed():
                yield self.emit("regex", start, self.scan_regex(start))
            elif char == "}" and self.stack and self.stack[-1] == "${":
                self.stack.pop()
                yield self.emit("template", start, self.scan_template(start + 1))
            elif char in _OPENERS:
                token = self.emit("punct", start, start + 1)
                self.stack.append(_OPENERS[char])
                yield token
            elif char in ")]}":
                if self.stack and self.stack[-1] == char:
                    self.stack.pop()
                yield self.emit("punct", start, start + 1)
            else:
                for punct in _PUNCTUATORS:
                    if text.startswith(punct, start):
                        yield self.emit("punct", start, start + len(punct))
                        break
                else:
                    yield self.emit("punct", start, start + 1)

    def emit(self, kind: str, start: int, end: int) -> Token:
        text = self.text
        line = self.line
        column = start - self.line_start + 1
        newlines = text.count("\n", start, end)
        if newlines:
            self.line += newlines
            self.line_start = text.rfind("\n", start, end) + 1
        # The depth before the token: an opener is at the depth outside it, and a closer,
        # popped before it is emitted, too.
        depth = min(self.depth, len(self.stack))
        token = Token(kind, text[start:end], start, end, line, column, depth)
        self.pos = end
        self.previous = token
        return token

    def skip_space(self) -> None:
        text = self.text
        size = len(text)
        pos = self.pos
        while pos < size:
            char = text[pos]
            if char == "\n":
                self.line += 1
                self.line_start = pos + 1
                pos += 1
            elif char.isspace() or char == "\ufeff":
                pos += 1
            elif text.startswith("//", pos):
                end = text.find("\n", pos)
                pos = size if end < 0 else end
            elif text.startswith("/*", pos):
                end = text.find("*/", pos + 2)
                if end < 0:
                    raise self.fail("unterminated comment (/* without */)", pos)
                newlines = text.count("\n", pos, end)
                if newlines:
                    self.line += newlines
                    self.line_start = text.rfind("\n", pos, end) + 1
                pos = end + 2
            else:
                break
        self.pos = pos

    def regex_allowed(self) -> bool:
        previous = self.previous
        if previous is None:
            return True
        if previous.kind in ("number", "string", "template", "regex"):
            return False
        if previous.kind == "name":
            return previous.text in _REGEX_AFTER_WORDS
        return previous.text not in (")", "]", "++", "--")

    def scan_string(self, start: int) -> int:
        text = self.text
        quote = text[start]
        pos = start + 1
        while pos < len(text):
            char = text[pos]
            if char == "\\":
                pos += 2
                continue
            if char == quote:
                return pos + 1
            if char == "\n":
                break
            pos += 1
        raise self.fail("unterminated string", start)

    def scan_template(self, pos: int) -> int:
        """Scan template text from *pos* to its closing backquote or next ``${``."""
        text = self.text
        start = pos
        while pos < len(text):
            char = text[pos]
            if char == "\\":
                pos += 2
                continue
            if char == "`":
                return pos + 1
            if char == "$" and text.startswith("${", pos):
                self.stack.append("${")
                return pos + 2
            pos += 1
        raise self.fail("unterminated template literal", start - 1)

    def scan_regex(self, start: int) -> int:
        text = self.text
        pos = start + 1
        in_class = False
        while pos < len(text):
            char = text[pos]
            if char == "\\":
                pos += 2
                continue
            if char == "\n":
                break
            if char == "[":
                in_class = True
            elif char == "]":
                in_class = False
            elif char == "/" and not in_class:
                pos += 1
                while pos < len(text) and (text[pos].isalnum() or text[pos] in "_$"):
                    pos += 1
                return pos
            pos += 1
        raise self.fail("unterminated regular expression", start)
