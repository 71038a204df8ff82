"""Checks of the references to connector code that need no JavaScript engine.

That each referenced file exists, and that the secrets a reference declares are fields of the
connector. Compiling the code, finding its exports and scanning it for undeclared credential
reads is :func:`connectory.js.check_code`'s work (it needs the engine).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from connectory.spec.code import CodeRefSpec
from connectory.spec.findings import Finding
from connectory.spec.source import FieldPath
from connectory.spec.suggest import did_you_mean

if TYPE_CHECKING:
    from connectory.spec.checks import SpecParts


def parts_code_refs(parts: SpecParts) -> Iterator[tuple[FieldPath, CodeRefSpec]]:
    """Every code reference among the valid parts, with its field path."""
    if parts.hooks is not None:
        for kind, index, ref in parts.hooks.refs():
            yield ("hooks", kind, index), ref
    for number, operation in parts.operations:
        if operation.code is not None:
            yield ("operations", number, "code"), operation.code
        if operation.hooks is not None:
            for kind, index, ref in operation.hooks.refs():
                yield ("operations", number, "hooks", kind, index), ref
    for number, collection in parts.collections:
        for path, ref in collection.code_refs():
            yield ("collections", number, *path), ref
    for number, event in parts.events:
        for path, ref in event.code_refs():
            yield ("events", number, *path), ref


def check_code_refs(parts: SpecParts, files: dict[str, str] | None) -> list[Finding]:
    """Findings about the code references: missing files, undeclared secrets.

    Args:
        parts: The valid parts of the connector.
        files: The connector's files by path, or None when they are not known (then files are
            not checked; a document sent without its files, for instance).
    """
    findings: list[Finding] = []
    for path, ref in parts_code_refs(parts):
        findings += _check_file(path, ref, files)
        findings += _check_secrets(path, ref, parts)
    return findings


def _check_file(
    path: FieldPath, ref: CodeRefSpec, files: dict[str, str] | None
) -> Iterator[Finding]:
    if files is None or ref.file in files:
        return
    present = sorted(name for name in files if name.endswith(".js"))
    hint = did_you_mean(ref.file, present)
    listing = f" The code files are: {', '.join(present[:10])}." if present else ""
    yield Finding(
        path,
        f"the file {ref.file} does not exist{hint}; create it (export default function (ctx) "
        f"{{ ... }}) or fix the path.{listing}",
    )


def _check_secrets(path: FieldPath, ref: CodeRefSpec, parts: SpecParts) -> Iterator[Finding]:
    if parts.auth is not None:
        schema = parts.auth.credential_schema
        for index, name in enumerate(ref.credentials):
            if name not in schema:
                known = ", ".join(schema) or "none"
                yield Finding(
                    (*path, "credentials", index),
                    f"credential '{name}' is not a field of credential_schema"
                    f"{did_you_mean(name, list(schema))} (fields: {known})",
                )
    if parts.parameters is not None:
        for index, name in enumerate(ref.connector_parameters):
            field = parts.parameters.get(name)
            if field is None:
                yield Finding(
                    (*path, "connector_parameters", index),
                    f"connector parameter '{name}' is not declared in parameters"
                    f"{did_you_mean(name, list(parts.parameters))}",
                )
            elif not field.is_sensitive:
                yield Finding(
                    (*path, "connector_parameters", index),
                    f"connector parameter '{name}' is not sensitive: every piece of code sees "
                    "it in ctx.connectorParameters; list only sensitive ones here",
                    severity="warning",
                )
