"""``connectory import-openapi``: an OpenAPI or Swagger document -> connector YAML."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from connectory.cli.output import ProgressLine, escape, stderr_console
from connectory.errors import InputError, SpecError

if TYPE_CHECKING:
    from connectory.cli.openapi_into import IntoTarget
    from connectory.openapi import ImportResult
    from connectory.services.openapi_import import ImportOptions
# The importer, the services and the spec load when the command runs, so that the other
# commands of the CLI start without them.

#: Documents with this many operations show progress while they import.
_PROGRESS_FROM = 200


def import_openapi(
    spec: Annotated[
        str, typer.Argument(help="The OpenAPI 3.x or Swagger 2.0 document: a file or an URL.")
    ],
    # Not options.Output: here the output may be a folder, which gets the description too.
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the connector here instead of stdout; an existing folder gets "
            "connector.yaml and the description kept beside it (openapi.json/.yaml).",
        ),
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
            help="Re-import into this connector file or folder: show how the description "
            "drifted from the one the folder keeps, the operations added, removed and changed "
            "(and a unified diff on stdout); nothing is written without --apply.",
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

        existing = _read_existing(into, output) if into is not None else None
        result = asyncio.run(import_document(source, options, on_progress=report))
        if shown and sys.stderr.isatty():
            sys.stderr.write("\n")  # end the progress line rewritten in place
        if existing is not None:
            _reimport(result, existing, output, apply)
            return
        text = _dump(result.connector)
        if output is None:
            sys.stdout.write(text)
        elif output.is_dir():
            _into_new_folder(output, text, result.source_bytes)
        else:
            output.write_text(text, encoding="utf-8")
        _report(result, len(text.encode()), output, options)

    guard(run)


def _dump(document: dict[str, Any]) -> str:
    from connectory.openapi.yaml_text import dump_connector_yaml

    return dump_connector_yaml(document)


def _read_existing(path: Path, output: Path | None) -> IntoTarget:
    from connectory.cli.openapi_into import read_target

    if path.is_dir() and output is not None:
        raise InputError(
            "--into a folder writes into the folder itself (with --apply); drop --output"
        )
    return read_target(path)


def _into_new_folder(folder: Path, text: str, description: bytes | None) -> None:
    """A connector folder: connector.yaml and, beside it, the description it came from."""
    from connectory.cli.openapi_into import keep_description

    main = folder / "connector.yaml"
    if main.exists() or (folder / "connector.json").exists():
        raise InputError(
            f"{folder} holds a connector already; re-import into it with --into {folder}"
        )
    main.write_text(text, encoding="utf-8")
    if description is not None:
        keep_description(folder, description)


def _reimport(result: ImportResult, target: IntoTarget, output: Path | None, apply: bool) -> None:
    console = stderr_console()
    from connectory.cli.openapi_into import write_folder
    from connectory.openapi import plan_reimport
    from connectory.services.openapi_import import description_drift
    from connectory.services.versioning import diff_versions
    from connectory.spec import check_connector_data

    existing = target.data
    plan = plan_reimport(existing, result.connector)
    report = check_connector_data(plan.document, filename=target.path.name)
    if not report.ok or report.spec is None:
        raise SpecError(report.problems)
    diff = diff_versions(existing, plan.document, labels=("current", "import"))
    for warning in [*result.warnings, *plan.notes]:
        console.print(
            f"[yellow]warning[/]: [bold]{escape(warning.pointer or '/')}[/]: "
            f"{escape(warning.message)}"
        )
    drift: list[str] = []
    new_description = result.source_bytes
    if target.kept is not None and new_description is not None:
        drift = description_drift(target.kept.read_bytes(), new_description)
        for line in drift:
            console.print(f"drift: {escape(line)}")
        if not drift:
            console.print(f"drift: none since {escape(target.kept.name)}")
    elif target.is_folder:
        console.print(
            "drift: unknown, the folder keeps no description (openapi.json or openapi.yaml); "
            "--apply keeps this one, so the next re-import shows what drifted"
        )
    for kind in ("added", "removed", "changed"):
        names = getattr(diff.operations, kind)
        console.print(f"{kind}: {escape(', '.join(names)) if names else '-'}")
    same_description = target.kept is not None and not drift
    if not diff.changed and (same_description or not target.is_folder):
        console.print(f"[green]no change[/]: {escape(str(target.path))} matches the document")
        return
    where = target.path if target.is_folder else (output or target.path)
    if apply:
        if target.is_folder:
            write_folder(target.path, plan.document, new_description)
        else:
            where.write_text(_dump(plan.document), encoding="utf-8")
        console.print(f"[green]re-imported[/] into {escape(str(where))}")
    else:
        sys.stdout.write(diff.unified)
        console.print(f"nothing written: add --apply to write {escape(str(where))}")


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
