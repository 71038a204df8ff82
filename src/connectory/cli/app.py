"""The ``connectory`` command line.

Data goes to stdout (JSON, JSON Lines, tables); diagnostics and progress go to stderr, so
commands compose with pipes. Errors are printed as one actionable sentence with a documented
exit code, never as a traceback (set ``CONNECTORY_DEBUG=1`` to see one).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
import typer

from connectory.cli.output import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERNAL,
    EXIT_INVALID,
    escape,
    exit_code_for,
    report_error,
    report_logs,
    report_problems,
    silence_stdout,
    stderr_console,
    stdout_console,
)
from connectory.cli.server_url import DEFAULT_SERVER
from connectory.cli.values import parse_pairs, read_values_file
from connectory.errors import ConnectoryError, InputError, SpecError

#: The runtime's per-request log (see connectory.runtime.client); named here so that the
#: command line does not import the runtime to configure it.
REQUEST_LOGGER = "connectory.runtime.requests"

if TYPE_CHECKING:
    from connectory.resilience import ResilienceEvent
    from connectory.runtime import ConnectorClient, OperationResult
    from connectory.runtime.results import SentRequest

# Commands import the runtime, the spec and the services when they run, not when the command
# line is parsed: `connectory call` must reach its first request quickly. For the same reason
# the commands defined in other modules are registered only when the full command line is
# needed (see `_full_app`): a `connectory call` does not import the server, the worker or the
# remote client to parse its arguments.

_app = typer.Typer(
    name="connectory",
    help="Validate connectors, inspect them, and call their operations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")


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


def guard(action: Callable[[], T]) -> T:
    """Run *action*, turning Connectory errors into a message and an exit code."""
    try:
        return action()
    except ConnectoryError as error:
        report_error(stderr_console(), error)
        raise typer.Exit(exit_code_for(error)) from None
    except KeyboardInterrupt:
        stderr_console().print("interrupted")
        raise typer.Exit(130) from None
    except BrokenPipeError:
        # The reader of our output went away (`| head`): stop quietly, as `cat` would.
        silence_stdout()
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as error:  # a bug: say so plainly, without a traceback
        if os.environ.get("CONNECTORY_DEBUG"):
            raise
        stderr_console().print(
            f"[bold red]internal error:[/] {type(error).__name__}. This is a bug in Connectory; "
            "run again with CONNECTORY_DEBUG=1 for details and report it."
        )
        raise typer.Exit(EXIT_INTERNAL) from None


@_app.command()
def validate(
    path: ConnectorPath,
    output_format: Annotated[
        str, typer.Option("--format", help="text, or json for tools.")
    ] = "text",
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
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to a file instead of stdout.")
    ] = None,
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
    connection: Annotated[
        str | None,
        typer.Option(
            "--connection", help="Run on this stored connection of a server instead (no PATH)."
        ),
    ] = None,
    server: Annotated[
        str, typer.Option("--server", envvar="CONNECTORY_URL", help="Server for --connection.")
    ] = DEFAULT_SERVER,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", envvar="CONNECTORY_TOKEN", help="API token for --connection (better: env)."
        ),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="A parameter as name=value.")
    ] = None,
    credentials: Annotated[
        Path | None,
        typer.Option(
            "--credentials",
            help="YAML/JSON file with the credentials; OAuth2 tokens in it (from `connect "
            "--oauth`) are refreshed in place.",
        ),
    ] = None,
    connector_parameters: Annotated[
        Path | None,
        typer.Option("--connector-parameters", help="YAML/JSON file with connector parameters."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML/JSON file with connection config.")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Override the connector's base URL.")
    ] = None,
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
    _configure_logging(verbose)
    stream = all_pages or max_pages is not None

    def run_remote() -> None:
        if operation is not None:
            raise InputError("with --connection, give only the operation: call OPERATION")
        if not token:
            raise InputError("--connection needs an API token: set CONNECTORY_TOKEN or --token")
        assert connection is not None
        from connectory.cli.remote_call import call_remote

        asyncio.run(
            call_remote(
                server,
                token,
                connection,
                target,
                parse_pairs(param or []),
                stream=stream,
                max_pages=max_pages,
                include=include,
            )
        )

    def run() -> None:
        if operation is None:
            raise InputError("give the connector and the operation: call PATH OPERATION")
        from connectory.runtime import ConnectorClient
        from connectory.spec import load_connector

        spec = load_connector(Path(target))
        values = read_values_file(credentials, "credentials") if credentials else None
        grant = keeper = None
        if credentials is not None and values is not None and spec.auth.auth_type == "oauth2":
            from connectory.cli.credentials_file import FileTokenKeeper, split_grant

            # Tokens from `connectory connect --oauth`; refreshed ones are written back.
            values, grant = split_grant(spec, values)
            keeper = FileTokenKeeper(credentials, spec) if grant is not None else None
        client = ConnectorClient(
            spec,
            credentials=values,
            tokens=grant,
            token_keeper=keeper,
            connector_parameters=read_values_file(connector_parameters, "connector parameters")
            if connector_parameters
            else None,
            config=read_values_file(config, "config") if config else None,
            base_url=base_url,
            response_validation="strict" if strict else "warn",
            observer=_print_resilience_event if verbose else None,
        )
        params = parse_pairs(param or [])
        if stream:
            from connectory.cli.reading import write_records

            asyncio.run(write_records(client, operation, params, max_pages))
        else:
            asyncio.run(_call_once(client, operation, params, include, verbose > 0))

    guard(run_remote if connection is not None else run)


async def _call_once(
    client: ConnectorClient,
    operation: str,
    params: dict[str, Any],
    include: bool,
    verbose: bool = False,
) -> None:
    async with client:
        result = await client.call(operation, params)
    if verbose:
        _print_code_trace(result)
    payload: Any = result.to_dict() if include else result.body
    sys.stdout.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode() + "\n")
    if not result.schema_mismatches:
        return
    console = stderr_console()
    for json_path, message in result.schema_mismatches:
        console.print(
            f"[yellow]warning:[/] response schema mismatch at {json_path}: {escape(message)}"
        )


def _print_code_trace(result: OperationResult) -> None:
    """``-v``: the request before and after hooks, the method's requests, the code's logs."""
    if not (result.request_before_hooks or result.logs or result.api_calls):
        return
    console = stderr_console()

    def show(label: str, request: SentRequest) -> None:
        headers = ", ".join(f"{k}: {v}" for k, v in request.headers.items())
        console.print(f"[dim]{label}:[/] {escape(request.method)} {escape(request.url)}")
        console.print(f"[dim]  headers:[/] {escape(headers)}")
        if request.body:
            console.print(f"[dim]  body:[/] {escape(request.body[:500])}")

    if result.request_before_hooks is not None:
        show("request before hooks", result.request_before_hooks)
        if result.request is not None:
            show("request after hooks", result.request)
    for number, call in enumerate(result.api_calls, 1):
        show(f"apiClient request {number}", call)
    report_logs(console, result.logs)


def _print_resilience_event(event: ResilienceEvent) -> None:
    """Show attempts, waits and breaker changes as they happen (``-v``)."""
    stderr_console().print(f"[dim]resilience:[/] {escape(str(event))}")


def _configure_logging(verbose: int) -> None:
    logger = logging.getLogger("connectory")
    if verbose <= 0:
        # Commands report what matters themselves; library log lines would repeat it.
        logger.handlers[:] = [logging.NullHandler()]
        logger.propagate = False
        return
    from rich.logging import RichHandler

    handler = RichHandler(console=stderr_console(), show_path=False, show_time=verbose > 1)
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    # -v logs each request (method, redacted URL, status, timing); -vv everything else too.
    logging.getLogger(REQUEST_LOGGER).setLevel(logging.DEBUG)
    # Resilience events are printed by _print_resilience_event; their DEBUG log would repeat them.
    logging.getLogger("connectory.resilience").setLevel(logging.INFO)
    logger.propagate = False


#: The commands defined in this module; a command line naming one of them is parsed by the
#: app without the others (their modules are not imported).
_CORE_COMMANDS = frozenset({"validate", "schema", "operations", "call"})
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


def __getattr__(name: str) -> object:
    # `app` (the whole command line, as tests and embedders use it) is built on first access.
    if name == "app":
        return _full_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Commands that hold nothing needing an orderly interpreter shutdown once they return: no
#: threads, no database, no files left open. After them the process ends at once.
_QUICK_EXIT_COMMANDS = frozenset({"call", "validate", "schema", "operations"})


def main() -> None:
    """Entry point of the ``connectory`` script."""
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    # Under a profiler or coverage, let the tool write its report at the normal exit.
    observed = sys.getprofile() is not None or sys.gettrace() is not None
    app = _app if command in _CORE_COMMANDS else _full_app()
    if command not in _QUICK_EXIT_COMMANDS or observed:
        app()
        return
    try:
        app()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    _quick_exit(code)


def _quick_exit(code: int) -> None:
    """Flush the output and end the process without tearing the interpreter down.

    Python's shutdown (freeing every module and object one by one) takes 0.1-0.2 s once the
    runtime is loaded: as long as a one-shot `connectory call` needs to reach its first
    request. The commands that end here have written everything through stdout and stderr,
    which are flushed first; a failed flush (a closed pipe, as in `| head`) is that pipe's
    usual status, 141.
    """
    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = code or EXIT_BROKEN_PIPE
    os._exit(code)
