"""``connectory import-openapi``: an OpenAPI or Swagger document -> connector YAML."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml

from connectory.cli.output import ProgressLine, escape, stderr_console
from connectory.errors import InputError, SpecError

if TYPE_CHECKING:
    from connectory.openapi import ImportResult
    from connectory.services.openapi_import import ImportOptions
# The importer, the services and the spec load when the command runs, so that the other
# commands of the CLI start without them.

#: Documents with this many operations show progress while they import.
_PROGRESS_FROM = 200


class _Dumper(yaml.SafeDumper):
    """Writes shared schema definitions out in full: anchors would puzzle people reading it."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def import_openapi(
    spec: Annotated[
        str, typer.Argument(help="The OpenAPI 3.x or Swagger 2.0 document: a file or an URL.")
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the connector here instead of stdout."),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="Import operations with this tag (repeatable)."),
    ] = None,
    operation_id: Annotated[
        list[str] | None,
        typer.Option("--operation-id", help="Import this operation (repeatable)."),
    ] = None,
    accept_pagination: Annotated[
        bool, typer.Option("--accept-pagination", help="Apply every pagination suggestion.")
    ] = False,
    accept_pagination_for: Annotated[
        list[str] | None,
        typer.Option(
            "--accept-pagination-for",
            help="Apply the pagination suggestion of this operation (repeatable).",
        ),
    ] = None,
    accept_collections: Annotated[
        bool, typer.Option("--accept-collections", help="Add every suggested collection.")
    ] = False,
    accept_collection: Annotated[
        list[str] | None,
        typer.Option(
            "--accept-collection", help="Add this suggested collection, by key (repeatable)."
        ),
    ] = None,
    auth_scheme: Annotated[
        str | None,
        typer.Option("--auth-scheme", help="The security scheme to build the auth block from."),
    ] = None,
    into: Annotated[
        Path | None,
        typer.Option(
            "--into",
            help="Re-import into this connector file: show the operations added, removed and "
            "changed (and a unified diff on stdout); nothing is written without --apply.",
        ),
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="With --into: write the re-imported connector.")
    ] = False,
) -> None:
    """Import an OpenAPI or Swagger document as a connector (YAML).

    Warnings (what the connector cannot express, with JSON pointers) and pagination suggestions
    are printed on stderr. With --tag and --operation-id, operations matching either are
    imported. With --into, a newer document is re-imported into an existing connector file.
    """
    from connectory.cli.app import guard  # the app registers this command: import it late

    is_url = spec.startswith(("http://", "https://"))
    from connectory.services.openapi_import import (
        DocumentSource,
        ImportOptions,
        import_document,
        pagination_acceptance,
    )

    source = DocumentSource(url=spec) if is_url else DocumentSource(path=Path(spec))
    options = ImportOptions(
        tags=tag or None,
        operation_ids=operation_id or None,
        auth_scheme=auth_scheme,
        accept_pagination=pagination_acceptance(accept_pagination, accept_pagination_for),
        accept_collections=pagination_acceptance(accept_collections, accept_collection),
    )

    def run() -> None:
        progress = ProgressLine()
        shown = False

        def report(done: int, total: int) -> None:
            nonlocal shown
            if total >= _PROGRESS_FROM:
                shown = True
                progress.show(f"{done:,}/{total:,} operation(s) imported", force=done == total)

        existing = _read_existing(into) if into is not None else None
        result = asyncio.run(import_document(source, options, on_progress=report))
        if shown and sys.stderr.isatty():
            sys.stderr.write("\n")  # end the progress line rewritten in place
        if into is not None and existing is not None:
            _reimport(result, existing, into, output, apply)
            return
        text = _dump(result.connector)
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text, encoding="utf-8")
        _report(result, len(text.encode()), output, options)

    guard(run)


def _dump(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def _read_existing(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise InputError(
            f"{path} is a folder; --into re-imports into a single-file connector (.yaml/.json)"
        )
    from connectory.spec.loader import read_connector_data

    data = read_connector_data(path)
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a connector (a mapping of fields)")
    return data


def _reimport(
    result: ImportResult, existing: dict[str, Any], into: Path, output: Path | None, apply: bool
) -> None:
    console = stderr_console()
    from connectory.openapi import plan_reimport
    from connectory.services.versioning import diff_versions
    from connectory.spec import check_connector_data

    plan = plan_reimport(existing, result.connector)
    report = check_connector_data(plan.document, filename=into.name)
    if not report.ok or report.spec is None:
        raise SpecError(report.problems)
    diff = diff_versions(existing, plan.document, labels=("current", "import"))
    for warning in [*result.warnings, *plan.notes]:
        console.print(
            f"[yellow]warning[/]: [bold]{escape(warning.pointer or '/')}[/]: "
            f"{escape(warning.message)}"
        )
    for kind in ("added", "removed", "changed"):
        names = getattr(diff.operations, kind)
        console.print(f"{kind}: {escape(', '.join(names)) if names else '-'}")
    if not diff.changed:
        console.print(f"[green]no change[/]: {escape(str(into))} matches the document")
        return
    target = output or into
    if apply:
        target.write_text(_dump(plan.document), encoding="utf-8")
        console.print(f"[green]re-imported[/] into {escape(str(target))}")
    else:
        sys.stdout.write(diff.unified)
        console.print(f"nothing written: add --apply to write {escape(str(target))}")


def _report(
    result: ImportResult,
    size: int,
    output: Path | None,
    options: ImportOptions,
) -> None:
    console = stderr_console()
    for warning in result.warnings:
        console.print(
            f"[yellow]warning[/]: [bold]{escape(warning.pointer or '/')}[/]: "
            f"{escape(warning.message)}"
        )
    open_suggestions = [
        s for s in result.suggestions if not options.accepts_pagination_for(s.operation)
    ]
    for suggestion in open_suggestions:
        kind = suggestion.pagination["type"]
        console.print(
            f"[cyan]suggestion[/]: {escape(suggestion.operation)}: pagination {kind} "
            f"({escape(suggestion.reason)})"
        )
    if open_suggestions:
        console.print(
            "accept them with --accept-pagination, or one at a time with "
            "--accept-pagination-for OPERATION"
        )
    open_collections = [
        s for s in result.collection_suggestions if not options.accepts_collection(s.key)
    ]
    for collection in open_collections:
        console.print(
            f"[cyan]suggestion[/]: collection {escape(collection.key)} "
            f"({escape(collection.reason)})"
        )
    if open_collections:
        console.print(
            "add them with --accept-collections, or one at a time with --accept-collection KEY"
        )
    operations = len(result.connector.get("operations", []))
    auth = result.connector.get("auth", {}).get("auth_type", "none")
    where = f" -> {escape(str(output))}" if output is not None else ""
    console.print(
        f"[green]imported[/] {operations:,} operation(s) from OpenAPI {result.version} "
        f"(auth: {auth}), {len(result.warnings)} warning(s), "
        f"{len(result.suggestions)} pagination suggestion(s){where}"
    )
    from connectory.spec.source import DEFAULT_MAX_BYTES

    if size > DEFAULT_MAX_BYTES:
        console.print(
            f"[yellow]note[/]: the connector is {size / 1024 / 1024:.1f} MiB; connector files "
            f"are limited to {DEFAULT_MAX_BYTES // 1024 // 1024} MiB: import a subset with --tag "
            "or --operation-id"
        )
