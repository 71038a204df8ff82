"""A connector as the platform stores it: a canonical document plus its other files.

Whatever a connector arrives as (a JSON document, YAML text, a folder, an archive, an export),
it becomes a :class:`ConnectorSource`: the validation report of the spec loader, the canonical
document and the files (``hooks/*.js``, ``methods/*.js``). The canonical document is the spec
model dumped with the names the format uses (``name``, not ``operation``), only the fields
that were written, so loading it again gives the same document: export -> import -> export
is stable.

Values the databases cannot store (NUL characters, lone surrogates, NaN and infinities, text
longer than a column) are refused here with their field path, so they are a 422, never a 500.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectory.errors import FieldIssue, InvalidRequest, Problem, SpecError
from connectory.spec import ConnectorSpec, ValidationReport, check_connector_data
from connectory.spec import check_connector_text as _check_text
from connectory.spec.source import format_path, measure_data

#: Column sizes of the connectors table (PostgreSQL enforces them; SQLite does not).
MAX_NAME = 200
MAX_SLUG = 100
MAX_CHANGELOG = 20_000
#: Other files of a connector: how many, how large, and where they may live.
MAX_FILES = 200
MAX_FILE_CHARS = 1024 * 1024
MAX_FILES_CHARS = 5 * 1024 * 1024
MAX_FILE_PATH_CHARS = 200
FILE_FOLDERS = ("hooks/", "methods/")
_FILE_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*(/[A-Za-z0-9_][A-Za-z0-9_.\-]*){0,7}")
#: The JSON Schema pattern of a stored file's path (what check_files accepts).
FILE_PATH_PATTERN = r"^hooks/[A-Za-z0-9_][A-Za-z0-9_.\-]*(/[A-Za-z0-9_][A-Za-z0-9_.\-]*){0,6}$"


def canonical_document(spec: ConnectorSpec) -> dict[str, Any]:
    """Return the stored form of *spec*: the written fields, under the format's own names."""
    return spec.model_dump(mode="json", by_alias=True, exclude_unset=True)


def with_version(document: dict[str, Any], version: str) -> dict[str, Any]:
    """Return the canonical *document* with its ``version`` field set (done on publish)."""
    return canonical_document(ConnectorSpec.model_validate({**document, "version": version}))


@dataclass
class ConnectorSource:
    """A connector received from a client, checked.

    Attributes:
        report: The spec loader's report (errors and warnings, with file, line and path).
        files: The connector's other files by relative path (``hooks/pre_request.js``,
            ``methods/items.js``); None when the client sent none (an edit then keeps the
            files the connector had, and :func:`with_kept_files` checks the code against them).
        extra_problems: Problems found outside the spec (storage limits, files).
    """

    report: ValidationReport
    files: dict[str, str] | None = None
    extra_problems: list[Problem] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        """Every problem, errors and warnings."""
        return [*self.report.problems, *self.extra_problems]

    @property
    def ok(self) -> bool:
        """True when nothing is an error."""
        return self.report.spec is not None and not any(
            p.severity == "error" for p in self.extra_problems
        )

    def valid(self) -> tuple[ConnectorSpec, dict[str, Any]]:
        """Return the spec and its canonical document.

        Raises:
            SpecError: the connector has errors (every problem is listed, warnings too).
        """
        if not self.ok or self.report.spec is None:
            raise SpecError(self.problems)
        return self.report.spec, canonical_document(self.report.spec)


def check_document(
    data: Any, *, filename: str | None = None, files: dict[str, str] | None = None
) -> ConnectorSource:
    """Check a connector given as data (a parsed JSON body or an export's document).

    With *files* its code is checked as well (compiled, exports, credential reads).
    """
    try:
        measure_data(data, file=filename)
    except SpecError as error:
        return ConnectorSource(ValidationReport(None, error.problems))
    unstorable = list(_unstorable(data, (), filename))
    report = check_connector_data(data, filename=filename, files=files)
    source = ConnectorSource(report, files, extra_problems=unstorable)
    return _with_code(_with_limits(source))


def check_text(
    text: str, filename: str = "connector.yaml", *, files: dict[str, str] | None = None
) -> ConnectorSource:
    """Check a connector given as YAML or JSON text (JSON when *filename* ends in .json)."""
    source = ConnectorSource(_check_text(text, filename, files=files), files)
    return _with_code(_with_limits(source))


def check_report(report: ValidationReport, files: dict[str, str]) -> ConnectorSource:
    """Wrap a report of the spec loader (a folder) with the folder's files."""
    source = ConnectorSource(report, files)
    source.extra_problems += check_files(files)
    return _with_code(_with_limits(source))


def with_kept_files(source: ConnectorSource, files: dict[str, str]) -> ConnectorSource:
    """Check *source*'s code against the *files* an edit keeps (it sent none of its own).

    Raises:
        SpecError: the code does not fit the new document (a missing file or export, ...).
    """
    spec = source.report.spec
    if source.files is not None or spec is None:
        return source
    code = code_problems(spec.with_code_files(files), report_missing=True)
    if any(problem.severity == "error" for problem in code):
        raise SpecError([*source.problems, *code])
    source.extra_problems += code
    return source


def code_problems(spec: ConnectorSpec, *, report_missing: bool = False) -> list[Problem]:
    """The problems of *spec*'s JavaScript (none when it has no code, and V8 stays unloaded)."""
    if not spec.code_files and not spec.has_code:
        return []
    from connectory.js import check_code

    return check_code(spec, report_missing=report_missing)


def _with_code(source: ConnectorSource) -> ConnectorSource:
    """Add the code's problems when the files are known (else an edit keeps stored files)."""
    report = source.report
    if source.files is None:
        return source
    if report.spec is not None:
        source.extra_problems += code_problems(report.spec)
    elif report.code_files:
        from connectory.js import check_code_files

        source.extra_problems += check_code_files(report.code_files)
    return source


def check_body(body: Mapping[str, Any]) -> ConnectorSource:
    """Check a JSON request body that carries a connector, in one of three forms.

    * ``{"yaml": "<YAML or JSON text>", "files": {...}}``;
    * ``{"document": {...}, "files": {...}}``;
    * the document itself (``{"name": ..., "base_url": ..., ...}``).

    ``files`` is optional: without it a new connector has none and an edit keeps its files.
    """
    if isinstance(body.get("yaml"), str):
        unknown = set(body) - {"yaml", "files"}
    elif "document" in body:
        unknown = set(body) - {"document", "files"}
    else:
        return check_document(dict(body))
    if unknown:
        names = ", ".join(sorted(unknown)[:5])
        raise InvalidRequest(
            f"unknown field(s) {names}; send yaml or document, and optionally files",
            [FieldIssue(("body", name), "unknown field") for name in sorted(unknown)[:20]],
        )
    files = read_files(body["files"]) if body.get("files") is not None else None
    if isinstance(body.get("yaml"), str):
        source = check_text(body["yaml"], files=files)
    else:
        source = check_document(body["document"], files=files)
    if files is not None:
        source.extra_problems += check_files(files)
    return source


def read_files(files: Any, location: tuple[str | int, ...] = ("body", "files")) -> dict[str, str]:
    """Return *files* as ``{path: text}``, refusing anything else with its location.

    Raises:
        InvalidRequest: *files* is not an object of text values.
    """
    if not isinstance(files, dict):
        raise InvalidRequest(
            "files must be an object of {path: text}", [FieldIssue(location, "expected an object")]
        )
    if len(files) > MAX_FILES:
        raise InvalidRequest(
            f"a connector has at most {MAX_FILES} files",
            [FieldIssue(location, f"more than {MAX_FILES} files")],
        )
    for path, text in files.items():
        if not isinstance(text, str):
            raise InvalidRequest(
                f"file {str(path)[:80]!r} must be text",
                [FieldIssue((*location, str(path)[:200]), "expected text")],
            )
    return dict(files)


def check_files(files: Mapping[str, str]) -> list[Problem]:
    """Problems with a connector's other files: paths, sizes, characters."""
    problems: list[Problem] = []
    total = 0
    for path, text in files.items():
        shown = path[:200]
        if (
            not _FILE_PATH.fullmatch(path)
            or ".." in path.split("/")
            or len(path) > MAX_FILE_PATH_CHARS
        ):
            problems.append(
                Problem(
                    "not a usable file path; write a relative path like hooks/pre_request.js",
                    file=shown,
                )
            )
            continue
        if not path.startswith(FILE_FOLDERS):
            problems.append(
                Problem(
                    "only hooks/ and methods/ files are stored with a connector; move it there",
                    file=shown,
                )
            )
        if len(text) > MAX_FILE_CHARS:
            problems.append(
                Problem(f"the file is larger than {MAX_FILE_CHARS} characters", file=shown)
            )
        total += len(text)
        bad = _bad_text(text)
        if bad:
            problems.append(Problem(f"the file {bad}", file=shown))
    if total > MAX_FILES_CHARS:
        problems.append(Problem(f"the files hold more than {MAX_FILES_CHARS} characters in all"))
    return problems


def check_changelog(text: str | None, location: tuple[str | int, ...]) -> str:
    """Return *text* (empty when None) if it can be stored, else raise InvalidRequest."""
    text = text or ""
    bad = _bad_text(text)
    if len(text) > MAX_CHANGELOG:
        bad = f"is longer than {MAX_CHANGELOG} characters"
    if bad:
        raise InvalidRequest(f"the changelog {bad}", [FieldIssue(location, f"the text {bad}")])
    return text


def check_query_text(text: str | None, name: str) -> None:
    """Refuse query text the database cannot compare (NUL, lone surrogates)."""
    if text is None:
        return
    bad = _bad_text(text)
    if bad:
        raise InvalidRequest(f"{name} {bad}", [FieldIssue(("query", name), f"the text {bad}")])


def _bad_text(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (not valid Unicode)"
    return None


def _unstorable(value: Any, path: tuple[str | int, ...], file: str | None) -> Any:
    """Yield a problem for every value the databases cannot store (bounded by measure_data)."""
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(value, path)]
    while pending:
        item, where = pending.pop()
        message: str | None = None
        if isinstance(item, str):
            bad = _bad_text(item)
            message = f"the text {bad}" if bad else None
        elif isinstance(item, float) and not math.isfinite(item):
            message = f"{item} is not a number JSON can hold; write a finite number"
        elif isinstance(item, dict):
            for key, child in item.items():
                bad = _bad_text(key) if isinstance(key, str) else None
                if bad:
                    yield Problem(f"a field name {bad}", format_path(where), file)
                else:
                    pending.append((child, (*where, key)))
        elif isinstance(item, list):
            pending.extend((child, (*where, index)) for index, child in enumerate(item))
        if message:
            yield Problem(message, format_path(where), file)


def _with_limits(source: ConnectorSource) -> ConnectorSource:
    spec = source.report.spec
    if spec is None:
        return source
    if len(spec.name) > MAX_NAME:
        source.extra_problems.append(
            Problem(f"the name is longer than {MAX_NAME} characters; shorten it", "name")
        )
    if len(spec.slug) > MAX_SLUG:
        source.extra_problems.append(
            Problem(f"the slug is longer than {MAX_SLUG} characters; shorten it", "slug")
        )
    # What is stored is the canonical document; text input can still carry, e.g., 1e999.
    known = {(p.path, p.message) for p in source.extra_problems}
    for problem in _unstorable(canonical_document(spec), (), None):
        if (problem.path, problem.message) not in known:
            source.extra_problems.append(problem)
    return source
