"""Loading a connector from a file, a folder, text or data, with every problem reported at once.

A connector is one ``.yaml``/``.yml``/``.json`` file, or a folder::

    connector.yaml            the overview and any inline sections
    auth.yaml                 optional: the auth section (not also inline)
    resilience.yaml           optional: the resilience section (not also inline)
    operations/*.yaml         optional: one operation, or a list of them, per file; appended
                              after the inline operations, in file name order
    hooks/*.js, methods/*.js  JavaScript hooks and methods: read and attached to the spec
                              (:attr:`ConnectorSpec.code_files`); references to them are
                              checked here, the code itself by :mod:`connectory.js`

Each problem names the file it is in (relative to the folder), the line and column, the field
path (``operations[2].parameters[0].location``) and what to write instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from connectory.errors import Problem, SpecError
from connectory.spec.checks import SpecParts, check_spec_parts
from connectory.spec.code import CODE_FOLDERS, code_files
from connectory.spec.code_checks import check_code_refs
from connectory.spec.connector import ConnectorSpec
from connectory.spec.findings import Finding
from connectory.spec.model_errors import findings_from_validation_error, without_unknown_fields
from connectory.spec.source import (
    DEFAULT_MAX_BYTES,
    FieldPath,
    SourceDocument,
    format_path,
    load_source,
    measure_data,
    parse_text,
    read_text,
)

_SUFFIXES = (".yaml", ".yml", ".json")
_SECTION_FILES = ("auth", "resilience")
_MAX_OPERATION_FILES = 1_000
_MAX_CODE_FILES = 200
_MAX_CODE_FILE_BYTES = 1024 * 1024
# The key a field may be written with when it is not its name (``operation:`` names an operation).
_WRITTEN_AS = {"name": ("operation",), "schema_": ("schema",), "json_body": ("json",)}


@dataclass
class ValidationReport:
    """The outcome of checking a connector; never raised, always returned.

    Attributes:
        spec: The connector when it has no errors (warnings allowed), else None.
        problems: Every problem found, errors and warnings, in file and line order.
        code_files: The connector's code files when they were given or read (a folder),
            also when the spec has errors (so the code can still be checked).
    """

    spec: ConnectorSpec | None
    problems: list[Problem] = field(default_factory=list)
    code_files: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no problem is an error."""
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        """The problems that make the connector invalid."""
        return [problem for problem in self.problems if problem.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems that do not stop the connector from loading."""
        return [problem for problem in self.problems if problem.severity != "error"]


def load_connector(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ConnectorSpec:
    """Load the connector at *path* (a file or a folder).

    Raises:
        SpecError: the connector has errors; ``problems`` lists every one.
    """
    return _raise_unless_ok(check_connector(path, max_bytes=max_bytes))


def check_connector(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ValidationReport:
    """Check the connector at *path* (a file or a folder); never raises for bad input.

    Args:
        path: A ``.yaml``, ``.yml`` or ``.json`` file, or a connector folder.
        max_bytes: The largest file that is read (each file of a folder).
    """
    sources = _Sources()
    data = _read(Path(path), sources, max_bytes)
    return _validate(data, sources, sources.code_files)


def read_connector_data(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """Return the connector at *path* as plain data, with a folder's files assembled into one.

    Raises:
        SpecError: a file cannot be read or parsed.
    """
    sources = _Sources()
    data = _read(Path(path), sources, max_bytes)
    if any(problem.severity == "error" for problem in sources.problems):
        raise SpecError(sources.problems)
    return data


def load_connector_text(
    text: str, filename: str = "connector.yaml", *, files: dict[str, str] | None = None
) -> ConnectorSpec:
    """Load a connector from YAML or JSON text (JSON when *filename* ends in ``.json``).

    Args:
        text: The connector.
        filename: Its name, for messages (and JSON syntax when it ends in ``.json``).
        files: The connector's other files by path; its code files are attached to the spec
            and its references to code are checked against them.

    Raises:
        SpecError: the connector has errors; ``problems`` lists every one.
    """
    return _raise_unless_ok(check_connector_text(text, filename, files=files))


def check_connector_text(
    text: str, filename: str = "connector.yaml", *, files: dict[str, str] | None = None
) -> ValidationReport:
    """Check a connector given as YAML or JSON text; never raises for bad input.

    With *files*, references to code are checked against them (else they are not checked).
    """
    sources = _Sources()
    try:
        document = parse_text(text, file=filename, json_syntax=filename.lower().endswith(".json"))
    except SpecError as exc:
        return ValidationReport(None, exc.problems)
    return _validate(sources.mount_root(document), sources, files)


def load_connector_data(
    data: Any, *, filename: str | None = None, files: dict[str, str] | None = None
) -> ConnectorSpec:
    """Load a connector from data already parsed (e.g. a JSON request body); no lines are known.

    Raises:
        SpecError: the connector has errors; ``problems`` lists every one.
    """
    return _raise_unless_ok(check_connector_data(data, filename=filename, files=files))


def check_connector_data(
    data: Any, *, filename: str | None = None, files: dict[str, str] | None = None
) -> ValidationReport:
    """Check a connector given as data; never raises for bad input.

    With *files*, references to code are checked against them (else they are not checked).
    """
    try:
        measure_data(data, file=filename)
    except SpecError as exc:
        return ValidationReport(None, exc.problems)
    return _validate(data, _Sources(default_file=filename), files)


def _raise_unless_ok(report: ValidationReport) -> ConnectorSpec:
    if report.spec is None:
        raise SpecError(report.problems)
    return report.spec


@dataclass
class _Mount:
    prefix: FieldPath
    document: SourceDocument
    inner: FieldPath


class _Sources:
    """Which file each part of the assembled connector came from, and the problems reading them."""

    def __init__(self, default_file: str | None = None) -> None:
        self.default_file = default_file
        self.mounts: list[_Mount] = []
        self.problems: list[Problem] = []
        #: A folder's code files; None when the connector is not a folder.
        self.code_files: dict[str, str] | None = None

    def mount(self, prefix: FieldPath, document: SourceDocument, inner: FieldPath = ()) -> None:
        self.mounts.append(_Mount(prefix, document, inner))
        self.problems += document.problems

    def mount_root(self, document: SourceDocument) -> Any:
        self.mount((), document)
        return document.data

    def add(self, message: str, file: str | None, path: FieldPath = (), **where: Any) -> None:
        self.problems.append(Problem(message, format_path(path), file, **where))

    def locate(self, path: FieldPath, *, key: bool = False) -> tuple[str | None, Any, Any, str]:
        """Return ``(file, line, column, field path as written)`` for a path of the connector."""
        mount = max(
            (m for m in self.mounts if path[: len(m.prefix)] == m.prefix),
            key=lambda m: len(m.prefix),
            default=None,
        )
        if mount is None:
            return self.default_file, None, None, format_path(path)
        written = _as_written(mount.document, (*mount.inner, *path[len(mount.prefix) :]))
        path = (*mount.prefix, *written[len(mount.inner) :])
        position = mount.document.position(written, key=key)
        line, column = position if position is not None else (None, None)
        return mount.document.file, line, column, format_path(path)

    def problem(self, finding: Finding) -> Problem:
        at_key = finding.at_key and finding.anchor is None
        file, line, column, written = self.locate(finding.anchor or finding.path, key=at_key)
        if finding.anchor is not None:
            written = self.locate(finding.path)[3]
        message = finding.message
        if finding.related is not None:
            other_file, other_line, _, _ = self.locate(finding.related, key=True)
            if other_line is not None:
                place = f"line {other_line}" if other_file == file else f"{other_file}:{other_line}"
                message += f" (the other is at {place})"
        return Problem(message, written, file, line, column, finding.severity)


def _as_written(document: SourceDocument, inner: FieldPath) -> FieldPath:
    if not inner or inner in document.values or inner in document.keys:
        return inner
    for alternative in _WRITTEN_AS.get(str(inner[-1]), ()):
        candidate = (*inner[:-1], alternative)
        if candidate in document.keys:
            return candidate
    return inner


def _read(path: Path, sources: _Sources, max_bytes: int) -> Any:
    if path.is_dir():
        return _read_folder(path, sources, max_bytes)
    document = _load(path, str(path), sources, max_bytes)
    return sources.mount_root(document) if document is not None else None


def _load(path: Path, name: str, sources: _Sources, max_bytes: int) -> SourceDocument | None:
    try:
        return load_source(path, display_name=name, max_bytes=max_bytes)
    except SpecError as exc:
        sources.problems += exc.problems
        return None


def _one_file(folder: Path, stem: str, sources: _Sources) -> Path | None:
    found = [
        folder / f"{stem}{suffix}" for suffix in _SUFFIXES if (folder / f"{stem}{suffix}").exists()
    ]
    if len(found) > 1:
        names = " and ".join(p.name for p in found)
        sources.add(f"the folder has both {names}; keep one", found[1].name)
    return found[0] if found else None


def _read_folder(folder: Path, sources: _Sources, max_bytes: int) -> Any:
    main = _one_file(folder, "connector", sources)
    if main is None:
        sources.add("the folder has no connector.yaml; a connector folder needs one", str(folder))
        return None
    document = _load(main, main.name, sources, max_bytes)
    data = sources.mount_root(document) if document is not None else None
    if not isinstance(data, dict):
        return data
    for section in _SECTION_FILES:
        section_path = _one_file(folder, section, sources)
        if section_path is None:
            continue
        if section in data:
            line, column = document.keys.get((section,), (None, None)) if document else (None, None)
            message = f"{section} is written both here and in {section_path.name}; keep one"
            sources.add(message, main.name, (section,), line=line, column=column)
            continue
        section_doc = _load(section_path, section_path.name, sources, max_bytes)
        if section_doc is not None:
            data[section] = section_doc.data
            sources.mount((section,), section_doc)
    _read_operation_files(folder, data, sources, max_bytes)
    sources.code_files = _read_code_files(folder, sources)
    return data


def _read_code_files(folder: Path, sources: _Sources) -> dict[str, str]:
    """Read ``hooks/**/*.js`` and ``methods/**/*.js`` (the code the connector may reference)."""
    files: dict[str, str] = {}
    root = folder.resolve()
    for prefix in CODE_FOLDERS:
        directory = folder / prefix
        if not directory.is_dir():
            continue
        for path in sorted(directory.rglob("*.js")):
            name = path.relative_to(folder).as_posix()
            if len(files) >= _MAX_CODE_FILES:
                sources.add(f"the connector has more than {_MAX_CODE_FILES} code files", name)
                return files
            if not path.resolve().is_relative_to(root):
                sources.add("the file links outside the connector folder; it is not read", name)
                continue
            if not path.is_file():
                continue
            try:
                files[name] = read_text(path, display_name=name, max_bytes=_MAX_CODE_FILE_BYTES)
            except SpecError as exc:
                sources.problems += exc.problems
    return files


def _read_operation_files(
    folder: Path, data: dict[str, Any], sources: _Sources, limit: int
) -> None:
    directory = folder / "operations"
    if not directory.is_dir():
        return
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in _SUFFIXES and p.is_file())
    if len(files) > _MAX_OPERATION_FILES:
        sources.add(f"operations/ has more than {_MAX_OPERATION_FILES} files", "operations/")
        return
    operations = data.setdefault("operations", [])
    if not isinstance(operations, list):
        return  # validation reports that inline operations must be a list
    root = folder.resolve()
    for path in files:
        name = f"operations/{path.name}"
        if not path.resolve().is_relative_to(root):
            sources.add("the file links outside the connector folder; it is not read", name)
            continue
        document = _load(path, name, sources, limit)
        if document is None:
            continue
        if document.data is None:
            sources.add("the file is empty; it adds no operation", name, severity="warning")
        elif isinstance(document.data, list):
            for index, item in enumerate(document.data):
                sources.mount(("operations", len(operations)), document, (index,))
                operations.append(item)
        else:
            sources.mount(("operations", len(operations)), document)
            operations.append(document.data)


def _validate(data: Any, sources: _Sources, files: dict[str, str] | None) -> ValidationReport:
    problems = list(sources.problems)
    spec: ConnectorSpec | None = None
    findings: list[Finding] = []
    if data is None and not problems:
        findings.append(
            Finding((), "the file is empty; a connector needs at least name: and base_url:")
        )
    elif isinstance(data, dict):
        try:
            spec = ConnectorSpec.model_validate(data)
            parts = SpecParts.from_spec(spec)
        except ValidationError as exc:
            findings += findings_from_validation_error(exc, data)
            parts = SpecParts.from_data(without_unknown_fields(exc, data))
        findings += check_spec_parts(parts)
        findings += check_code_refs(parts, files)
        if spec is not None and files is not None:
            spec = spec.with_code_files(files)
    elif data is not None:
        kind = "a list" if isinstance(data, list) else "a single value"
        message = f"a connector is a mapping of fields (name:, base_url:, ...), not {kind}"
        findings.append(Finding((), message))
    problems += [sources.problem(finding) for finding in findings]
    problems = sorted(dict.fromkeys(problems), key=_reading_order)
    has_errors = any(problem.severity == "error" for problem in problems)
    return ValidationReport(None if has_errors else spec, problems, code_files(files))


def _reading_order(problem: Problem) -> tuple[str, int, int]:
    return (problem.file or "", problem.line or 0, problem.column or 0)
