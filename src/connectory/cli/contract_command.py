"""``connectory contract-test``: requests and live responses against the API's description."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from connectory.cli.options import (
    DEFAULT_SERVER,
    BaseUrl,
    Connection,
    ConnectorParameters,
    Credentials,
    OutputFormat,
    Server,
    Token,
)
from connectory.cli.output import EXIT_INVALID, escape, stderr_console
from connectory.errors import InputError

if TYPE_CHECKING:
    from connectory.services.contract_test import ContractReport


def contract_test(
    path: Annotated[
        Path | None,
        typer.Argument(help="The connector (file or folder); not with --connection."),
    ] = None,
    description: Annotated[
        Path | None,
        typer.Option(
            "--description",
            "-d",
            help="The OpenAPI 3.x description to check against (with --connection, default: "
            "the one the server keeps with the connector version).",
        ),
    ] = None,
    connection: Connection = None,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    credentials: Credentials = None,
    connector_parameters: ConnectorParameters = None,
    base_url: BaseUrl = None,
    include_writes: Annotated[
        bool,
        typer.Option(
            "--include-writes", help="Call unsafe operations too (POST, PUT, PATCH, DELETE)."
        ),
    ] = False,
    output_format: OutputFormat = "text",
) -> None:
    """Call each safe operation with the description's examples; check requests and responses.

    Requests the connector sends and responses the API answers are validated against the
    description with openapi-core. Locally: ``contract-test PATH --description FILE
    [--credentials FILE]``. On a server's stored connection, with its credentials:
    ``contract-test --connection ID`` (CONNECTORY_URL and CONNECTORY_TOKEN set). Exits 1 when
    any operation fails.
    """
    from connectory.cli.app import guard  # the app registers this command: import it late

    def run_local() -> None:
        from connectory.cli.values import read_local_values
        from connectory.services.contract_test import load_description, run_contract_test
        from connectory.services.openapi_import import read_document_file
        from connectory.spec import load_connector

        if path is None or description is None:
            raise InputError(
                "give the connector and its description: contract-test PATH --description FILE "
                "(or --connection ID to test a server's stored connection)"
            )
        spec = load_connector(path)
        values = read_local_values(credentials, connector_parameters)
        document = load_description(read_document_file(description), description.name)
        report = asyncio.run(
            run_contract_test(
                spec,
                document,
                credentials=values["credentials"],
                connector_parameters=values["connector_parameters"],
                base_url=base_url,
                include_writes=include_writes,
            )
        )
        _show(report)

    def run_remote() -> None:
        from connectory.cli.values import require_token
        from connectory.services.contract_test import report_from_dict

        local_only = {
            "PATH": path,
            "--credentials": credentials,
            "--connector-parameters": connector_parameters,
            "--base-url": base_url,
        }
        given = [name for name, value in local_only.items() if value is not None]
        if given:
            raise InputError(
                f"with --connection the server's connection is used: drop {', '.join(given)}"
            )
        api_token = require_token(token)
        assert connection is not None
        text = None
        if description is not None:
            from connectory.services.openapi_import import read_document_file

            raw = read_document_file(description)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise InputError(
                    f"{description} is not UTF-8 text (byte {error.start}); save it as UTF-8"
                ) from None
        result = asyncio.run(_remote(server, api_token, connection, text, include_writes))
        report = report_from_dict(result)
        if output_format != "json":
            kept = result.get("description_source") == "kept"
            stderr_console().print(
                "description: "
                + ("the one kept with the connector version" if kept else str(description))
            )
        _show(report)

    def _show(report: ContractReport) -> None:
        from connectory.services.contract_test import render_report

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

    guard(run_remote if connection is not None else run_local)


async def _remote(
    server_url: str, token: str, connection_id: str, description: str | None, writes: bool
) -> dict[str, object]:
    from connectory.remote import Server

    # Each operation is one upstream call on the server: give the whole run time.
    async with Server(server_url, token, timeout=600.0) as server:
        return await server.connection(connection_id).contract_test(
            description, include_writes=writes
        )
