"""``connectory contract-test``: requests and live responses against the API's description."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from connectory.cli.output import EXIT_INVALID, escape, stderr_console


def contract_test(
    path: Annotated[Path, typer.Argument(help="The connector (file or folder).")],
    description: Annotated[
        Path,
        typer.Option("--description", "-d", help="The OpenAPI 3.x description to check against."),
    ],
    credentials: Annotated[
        Path | None, typer.Option("--credentials", help="YAML/JSON file with the credentials.")
    ] = None,
    connector_parameters: Annotated[
        Path | None,
        typer.Option("--connector-parameters", help="YAML/JSON file with connector parameters."),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Call here instead (a sandbox, a mock).")
    ] = None,
    include_writes: Annotated[
        bool,
        typer.Option(
            "--include-writes", help="Call unsafe operations too (POST, PUT, PATCH, DELETE)."
        ),
    ] = False,
    output_format: Annotated[
        str, typer.Option("--format", help="text, or json for tools.")
    ] = "text",
) -> None:
    """Call each safe operation with the description's examples; check requests and responses.

    Requests the connector sends and responses the API answers are validated against the
    description with openapi-core. Exits 1 when any operation fails.
    """
    from connectory.cli.app import guard  # the app registers this command: import it late

    def run() -> None:
        from connectory.cli.values import read_values_file
        from connectory.services.contract_test import (
            load_description,
            render_report,
            run_contract_test,
        )
        from connectory.services.openapi_import import read_document_file
        from connectory.spec import load_connector

        spec = load_connector(path)
        document = load_description(read_document_file(description), description.name)
        report = asyncio.run(
            run_contract_test(
                spec,
                document,
                credentials=read_values_file(credentials, "credentials") if credentials else None,
                connector_parameters=(
                    read_values_file(connector_parameters, "connector parameters")
                    if connector_parameters
                    else None
                ),
                base_url=base_url,
                include_writes=include_writes,
            )
        )
        if output_format == "json":
            sys.stdout.write(render_report(report) + "\n")
        else:
            console = stderr_console()
            for check in report.checks:
                colour = {"passed": "green", "failed": "red", "skipped": "yellow"}[check.outcome]
                status = f" {check.status}" if check.status is not None else ""
                reason = f": {escape(check.reason)}" if check.reason else ""
                console.print(
                    f"[{colour}]{check.outcome}[/] {escape(check.operation)}{status}{reason}"
                )
                for error in check.request_errors:
                    console.print(f"  request: {escape(error)}")
                for error in check.response_errors:
                    console.print(f"  response: {escape(error)}")
            counts = report.counts()
            console.print(
                f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
            )
        if report.failed:
            raise typer.Exit(EXIT_INVALID)

    guard(run)
