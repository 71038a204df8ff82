"""The module transform: exports become bindings, lines and columns never move."""

from __future__ import annotations

import pytest

from connectory.js.lexer import JsSyntaxError, tokenize
from connectory.js.module import LINE_OFFSET, transform_module

SOURCES = {
    "default-function": "export default async function (ctx) {\n  return 1;\n}\n",
    "default-named": "export default function sign(ctx) {\n  return sign.name;\n}\n",
    "default-expression": "const f = (ctx) => 2;\nexport default f;\n",
    "default-arrow": "export   default (ctx) => ({\n  a: 1,\n});\n",
    "named": (
        "// helpers\nexport function a() {}\nexport async function* b() {}\n"
        "export class C {}\nexport const d = 1;\nexport let e = 2;\nexport var f = 3;\n"
    ),
    "list": "const x = 1, y = 2;\nexport { x, y as why };\n",
    "tricky": (
        "const s = 'export default 1';\nconst t = `export ${'}'} ${`export`}`;\n"
        "const r = /export/g; /* export default 2 */\n// export const z\n"
        "export default function (ctx) { return [s, t, r.source, 4 / 2 / 1]; }\n"
    ),
}


@pytest.mark.parametrize("name", SOURCES)
def test_no_line_or_column_moves(name: str) -> None:
    text = SOURCES[name]
    module = transform_module("hooks/x.js", text)
    assert module.problems == []
    assert [len(line) for line in module.body.split("\n")] == [
        len(line) for line in text.split("\n")
    ]
    script = module.script()
    lines = script.split("\n")
    for number, line in enumerate(text.split("\n"), start=1):
        if "export" not in line:
            assert lines[number - 1 + LINE_OFFSET] == line


def test_exports_are_found_with_their_places() -> None:
    module = transform_module("methods/m.js", SOURCES["named"])
    assert {name: (e.line, e.column) for name, e in module.exports.items()} == {
        "a": (2, 1),
        "b": (3, 1),
        "C": (4, 1),
        "d": (5, 1),
        "e": (6, 1),
        "f": (7, 1),
    }
    assert transform_module("m.js", SOURCES["list"]).declared == {"x": "x", "why": "y"}
    assert "default" in transform_module("m.js", SOURCES["tricky"]).exports
    assert transform_module("m.js", SOURCES["default-named"]).declared == {"default": "sign"}


def test_words_in_strings_comments_and_regexes_are_not_exports() -> None:
    module = transform_module("hooks/t.js", SOURCES["tricky"])
    assert list(module.exports) == ["default"]
    assert "'export default 1'" in module.body
    assert "/* export default 2 */" in module.body


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("import x from 'y';\nexport default 1;", "import is not available"),
        ("export default async function (ctx) {\n  await import('z');\n}", "import() is not"),
        ("export default () => import.meta;", "import.meta is not available"),
        ("export * from 'other';", "export * is not supported"),
        ("export { a } from 'other';", "export ... from is not available"),
        ("export const { a, b } = x;", "one name per export"),
    ],
)
def test_modules_features_are_refused_with_their_place(text: str, expected: str) -> None:
    [problem] = transform_module("hooks/bad.js", text).problems
    assert expected in problem.message
    assert problem.file == "hooks/bad.js"
    assert problem.line is not None and problem.column is not None


def test_credential_reads_literal_computed_and_destructured() -> None:
    text = (
        "export default function (ctx) {\n"
        "  const a = ctx.credentials.api_key + ctx.credentials['other'];\n"
        "  const { x, 'y': z, ...rest } = ctx.credentials;\n"
        "  return ctx.credentials[name] + a;\n"
        "}\n"
    )
    reads = [(r.name, r.line, r.column) for r in transform_module("h.js", text).credential_reads]
    assert reads == [
        ("api_key", 2, 29),
        ("other", 2, 55),
        ("x", 3, 11),
        ("y", 3, 14),
        (None, 3, 22),
        (None, 4, 14),
    ]


def test_property_named_import_or_export_is_not_a_statement() -> None:
    module = transform_module("h.js", "export default (ctx) => ctx.import + ctx.export;")
    assert module.problems == []


@pytest.mark.parametrize(
    "text", ["const s = 'open;", "/* never closed", "const t = `${1}", "const r = /abc"]
)
def test_unterminated_tokens_are_syntax_errors(text: str) -> None:
    with pytest.raises(JsSyntaxError):
        tokenize(text)
    [problem] = transform_module("h.js", text).problems
    assert problem.message.startswith("SyntaxError: unterminated")
