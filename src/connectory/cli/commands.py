"""The ``connectory`` command line's typer app: ``validate``, ``schema``, ``operations``, ``call``.

Built when a command line needs typer (see :func:`connectory.cli.app.main`); the other
commands' modules are registered by :func:`_full_app` only when the full command line is
needed, so that parsing ``connectory call`` does not import the server, the worker or the
remote client.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from connectory.cli.call_command import CallOptions, run_call
from connectory.cli.options import (
    DEFAULT_SERVER,
    BaseUrl,
    Config,
    Connection,
    ConnectorParameters,
    Output,
    OutputFormat,
    Params,
    Server,
    Token,
)
from connectory.cli.output import (
    EXIT_INVALID,
    escape,
    guard,
    report_problems,
    stderr_console,
    stdout_console,
)
from connectory.errors import SpecError

# Commands import the runtime, the spec and the services when they run, not when the command
# line is parsed.

_app = typer.Typer(
    name="connectory",
    help="Validate connectors, inspect them, and call their operations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from connectory import __version__

        sys.stdout.write(f"connectory {__version__}\n")
        raise typer.Exit()


@_app.callback()
def _main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Validate connectors, inspect them, and call their operations."""


ConnectorPath = Annotated[
    Path, typer.Argument(help="A connector: a .yaml/.json file or a folder with connector.yaml.")
]


@_app.command()
def validate(
    path: ConnectorPath,
    output_format: OutputFormat = "text",
) -> None:
    """Check a connector and list every problem with file, line, column and field."""

    def run() -> None:
        from connectory.spec import check_connector

        report = check_connector(path)
        if report.code_files or (report.spec is not None and report.spec.has_code):
            # The code is checked too: compiled (never run), exports, credential reads.
            from connectory.js import check_code, check_code_files

            code = (
                check_code(report.spec, report_missing=False)
                if report.spec is not None
                else check_code_files(report.code_files)
            )
            report.problems += code
            if any(problem.severity == "error" for problem in code):
                report.spec = None
        if output_format == "json":
            payload = {"ok": report.ok, "problems": [p.to_dict() for p in report.problems]}
            sys.stdout.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode() + "\n")
        else:
            console = stderr_console()
            if report.problems:
                report_problems(console, SpecError(report.problems))
            if report.ok and report.spec is not None:
                count = len(report.spec.operations)
                stdout_console().print(
                    f"[green]valid[/]: {escape(report.spec.name)} ({report.spec.slug}), "
                    f"{count} operation(s)"
                )
        if not report.ok:
            raise typer.Exit(EXIT_INVALID)

    guard(run)


@_app.command()
def schema(
    output: Output = None,
) -> None:
    """Print the JSON Schema of the connector format (for editors and tools)."""

    def run() -> None:
        from connectory.spec import connector_json_schema

        text = orjson.dumps(connector_json_schema(), option=orjson.OPT_INDENT_2).decode() + "\n"
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text, encoding="utf-8")

    guard(run)


@_app.command()
def operations(path: ConnectorPath) -> None:
    """List a connector's operations and their parameters."""

    def run() -> None:
        from connectory.spec import load_connector

        spec = load_connector(path)
        from rich.table import Table

        table = Table(title=f"{spec.name} ({spec.slug})", title_justify="left")
        table.add_column("operation", style="bold")
        table.add_column("method")
        table.add_column("path")
        table.add_column("parameters (* required)")
        table.add_column("pagination")
        for operation in spec.operations:
            parameters = ", ".join(
                f"{p.name}{'*' if p.required or p.location == 'path' else ''}: {p.type} "
                f"({p.location})"
                for p in operation.parameters
            )
            paging = operation.pagination.type if operation.pagination else ""
            table.add_row(
                operation.name, operation.method, operation.path, parameters or "-", paging
            )
        # Pipes and files get a wide table rather than one squeezed to 80 columns.
        stdout_console(width=None if sys.stdout.isatty() else 160).print(table)

    guard(run)


@_app.command()
def call(
    target: Annotated[
        str,
        typer.Argument(
            help="A connector (file or folder); with --connection, the operation's name.",
            show_default=False,
        ),
    ],
    operation: Annotated[
        str | None, typer.Argument(help="The operation's name.", show_default=False)
    ] = None,
    connection: Connection = None,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    param: Params = None,
    # Its own declaration, not options.Credentials: `call` writes refreshed tokens back.
    credentials: Annotated[
        Path | None,
        typer.Option(
            "--credentials",
            help="YAML/JSON file with the credentials; OAuth2 tokens in it (from `connect "
            "--oauth`) are refreshed in place.",
        ),
    ] = None,
    connector_parameters: ConnectorParameters = None,
    config: Config = None,
    base_url: BaseUrl = None,
    all_pages: Annotated[
        bool, typer.Option("--all-pages", help="Stream every record as JSON Lines.")
    ] = False,
    max_pages: Annotated[
        int | None, typer.Option("--max-pages", min=1, help="Stop after this many pages.")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail when the response does not match its schema.")
    ] = False,
    include: Annotated[
        bool, typer.Option("--include", "-i", help="Print status, headers and timing as well.")
    ] = False,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Log requests (-vv for more).")
    ] = 0,
) -> None:
    """Call an operation and print its response body as JSON (or its records as JSON Lines).

    Locally: ``connectory call PATH OPERATION --credentials FILE``. On a server's stored
    connection: ``connectory call OPERATION --connection ID`` (with CONNECTORY_URL and
    CONNECTORY_TOKEN set).
    """
    run_call(
        CallOptions(
            target,
            operation,
            connection=connection,
            server=server,
            token=token,
            param=param or [],
            credentials=credentials,
            connector_parameters=connector_parameters,
            config=config,
            base_url=base_url,
            all_pages=all_pages,
            max_pages=max_pages,
            strict=strict,
            include=include,
            verbose=verbose,
        )
    )


_registered = False


def _full_app() -> typer.Typer:
    """Return the app with every command registered (importing their modules once)."""
    global _registered
    if _registered:
        return _app
    from connectory.cli.admin import admin_app
    from connectory.cli.contract_command import contract_test
    from connectory.cli.events_commands import events_app
    from connectory.cli.exchange_commands import register_exchange_commands
    from connectory.cli.keys import keys_app
    from connectory.cli.logs_command import logs
    from connectory.cli.mcp_command import mcp
    from connectory.cli.oauth_command import connect
    from connectory.cli.openapi_command import import_openapi
    from connectory.cli.pipeline_commands import airbyte_app, tap
    from connectory.cli.records_commands import records_app
    from connectory.cli.serve import serve
    from connectory.cli.test_command import test
    from connectory.cli.worker import worker

    _app.command()(serve)
    _app.command()(connect)
    _app.command()(worker)
    _app.add_typer(events_app, name="events")
    _app.command()(logs)
    _app.command(name="import-openapi")(import_openapi)
    _app.command(name="contract-test")(contract_test)
    _app.command()(mcp)
    _app.command()(tap)
    _app.command(name="test")(test)
    _app.add_typer(airbyte_app, name="airbyte")
    _app.add_typer(keys_app, name="keys")
    _app.add_typer(records_app, name="records")
    _app.add_typer(admin_app, name="admin")
    register_exchange_commands(_app)
    _registered = True
    return _app
