"""Validation of connector code: syntax at line:col, exports, imports, credential reads."""

from __future__ import annotations

from pathlib import Path

from connectory.js import check_code, check_code_files
from connectory.spec import check_connector, load_connector_text

YAML = """\
name: Checked
base_url: https://api.example.com
auth:
  auth_type: none
  credential_schema:
    api_key: {type: password, sensitive: true}
    other: {type: password, sensitive: true}
hooks:
  pre_request:
    - file: hooks/reads.js
      credentials: [api_key]
operations:
  - name: m
    implementation: javascript
    code: methods/m.js#wanted
"""


def problems_of(files: dict[str, str], yaml: str = YAML) -> list[str]:
    spec = load_connector_text(yaml, files=files)
    return [f"{p.location()}: {p.severity}: {p.message}" for p in check_code(spec)]


def test_a_clean_connector_has_no_problems() -> None:
    files = {
        "hooks/reads.js": (
            "export default (ctx) => {\n  ctx.request.headers.a = ctx.credentials.api_key;\n};\n"
        ),
        "methods/m.js": "export async function wanted(ctx) { return 1; }\n",
    }
    assert problems_of(files) == []


def test_syntax_errors_are_reported_at_line_and_column() -> None:
    files = {
        "hooks/reads.js": "export default (ctx) => {\n  const x = ;\n};\n",
        "methods/m.js": "export function wanted(ctx) {\n  return {a: 1,, b: 2};\n}\n",
    }
    assert problems_of(files) == [
        "hooks/reads.js:2:13: error: SyntaxError: Unexpected token ';'",
        "methods/m.js:2:16: error: SyntaxError: Unexpected token ','",
    ]


def test_missing_exports_and_imports() -> None:
    files = {
        "hooks/reads.js": "import helper from './helper.js';\nexport default () => helper();\n",
        "methods/m.js": "export function other(ctx) {}\n",
    }
    found = problems_of(files)
    assert found[0].startswith("hooks/reads.js:1:1: error: import is not available")
    assert found[1] == (
        "methods/m.js:1:1: error: operations[0].code calls export 'wanted', which the file does "
        "not have (its exports: other); write export function wanted(ctx) { ... }"
    )


def test_reads_of_undeclared_credentials() -> None:
    files = {
        "hooks/reads.js": (
            "export default (ctx) => {\n"
            "  const a = ctx.credentials.api_key;\n"
            "  const b = ctx.credentials.other;\n"
            "  const c = ctx.credentials[name];\n"
            "};\n"
        ),
        "methods/m.js": "export function wanted(ctx) { return ctx.credentials.api_key; }\n",
    }
    assert problems_of(files) == [
        "hooks/reads.js:3:29: error: reads credential 'other', which is not declared for this "
        "file (declared: api_key); add it to the credentials: list of the hook or method",
        "hooks/reads.js:4:17: warning: reads a credential by a computed name: only the "
        "credentials declared for this file's hooks or methods are present at run time",
        "methods/m.js:1:54: error: reads credential 'api_key', which is not declared for this "
        "file (declared: none); add it to the credentials: list of the hook or method",
    ]


def test_compiling_never_runs_the_code() -> None:
    files = {
        "hooks/reads.js": "while (true) {}\nexport default () => {};\n",
        "methods/m.js": "throw new Error('ran');\nexport function wanted() {}\n",
    }
    assert problems_of(files) == []


def test_a_folder_with_code_validates_through_the_cli_checks(tmp_path: Path) -> None:
    (tmp_path / "hooks").mkdir()
    (tmp_path / "methods").mkdir()
    (tmp_path / "connector.yaml").write_text(YAML.replace("methods/m.js#wanted", "methods/gone.js"))
    (tmp_path / "hooks" / "reads.js").write_text("export default () => {};\n")
    report = check_connector(tmp_path)
    [problem] = report.problems
    assert (problem.file, problem.line, problem.path) == (
        "connector.yaml",
        15,
        "operations[0].code",
    )
    assert "the file methods/gone.js does not exist" in problem.message
    # The spec has an error, yet its code can still be checked on its own.
    assert report.spec is None
    assert check_code_files(report.code_files) == []


def test_a_connector_without_code_needs_no_engine() -> None:
    spec = load_connector_text("name: Plain\nbase_url: https://x.example\n")
    assert check_code(spec) == []
