"""``connectory call``: what the command does, and its quick way in for the common command line.

Typer (with click) takes about 40 ms to import and build the command line, as long as the rest
of a call's start-up. :func:`parse_local_call` reads the plain form of a local call
(``call PATH OPERATION`` with known options, each given once) without it; anything else (help,
an unknown or malformed option, ``--connection``, a value that looks like an option) returns
None and typer parses the command line as before, with its own help and messages. Both ways
end in :func:`run_call`, with the same values.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from connectory.cli.output import escape, guard, stderr_console
from connectory.cli.server_url import DEFAULT_SERVER
from connectory.cli.values import parse_pairs, read_values_file, require_token
from connectory.errors import InputError
from connectory.startup import freeze_loaded_objects, gc_paused

if TYPE_CHECKING:
    from connectory.resilience import ResilienceEvent
    from connectory.runtime import ConnectorClient, OperationResult
    from connectory.runtime.results import SentRequest

#: The runtime's per-request log (see connectory.runtime.client); named here so that the
#: command line does not import the runtime to configure it.
REQUEST_LOGGER = "connectory.runtime.requests"


@dataclass
class CallOptions:
    """The arguments and options of ``connectory call`` (see ``commands.call`` for each)."""

    target: str
    operation: str | None = None
    connection: str | None = None
    server: str = DEFAULT_SERVER
    token: str | None = None
    param: list[str] = field(default_factory=list)
    credentials: Path | None = None
    connector_parameters: Path | None = None
    config: Path | None = None
    base_url: str | None = None
    all_pages: bool = False
    max_pages: int | None = None
    strict: bool = False
    include: bool = False
    verbose: int = 0


# Options of a local call taking one value, by spelling: (field, converter).
_VALUE_OPTIONS: dict[str, tuple[str, type[str] | type[Path]]] = {
    "--credentials": ("credentials", Path),
    "--connector-parameters": ("connector_parameters", Path),
    "--config": ("config", Path),
    "--base-url": ("base_url", str),
}
_FLAGS = {
    "--all-pages": "all_pages",
    "--strict": "strict",
    "--include": "include",
    "-i": "include",
}


def parse_local_call(args: list[str]) -> CallOptions | None:
    """Read ``call PATH OPERATION [options]`` (*args* after ``call``), or None to let typer.

    Only what typer would read the same way is accepted: the options of a local call in
    their plain spellings (``--name value``, ``--name=value``, ``-p value``, ``-v``/``-vv``),
    each given once except ``-p`` and ``-v``, and exactly two arguments.
    """
    positional: list[str] = []
    values: dict[str, Any] = {}
    params: list[str] = []
    verbose = 0
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if not arg.startswith("-") and arg:
            positional.append(arg)
            continue
        name, has_value, inline = arg.partition("=")
        if not has_value and name in _FLAGS and _FLAGS[name] not in values:
            values[_FLAGS[name]] = True
        elif not has_value and len(name) > 1 and name == "-" + "v" * (len(name) - 1):
            verbose += len(name) - 1
        elif name in _VALUE_OPTIONS or name in ("--param", "-p", "--max-pages"):
            if not has_value:
                if not rest:
                    return None
                inline = rest.pop(0)
            if not inline or inline.startswith("-") or (name == "-p" and has_value):
                return None
            if name in ("--param", "-p"):
                params.append(inline)
            elif name == "--max-pages":
                if "max_pages" in values or not inline.isascii() or not inline.isdigit():
                    return None
                values["max_pages"] = int(inline)
                if values["max_pages"] < 1:
                    return None
            else:
                key, convert = _VALUE_OPTIONS[name]
                if key in values:
                    return None
                values[key] = convert(inline)
        else:
            return None
    if len(positional) != 2:
        return None
    return CallOptions(positional[0], positional[1], param=params, verbose=verbose, **values)


def run_call(options: CallOptions) -> None:
    """Run ``connectory call`` with *options*; errors become a message and an exit code."""
    configure_logging(options.verbose)
    run = _run_remote if options.connection is not None else _run_local
    guard(lambda: run(options))


def _run_remote(options: CallOptions) -> None:
    if options.operation is not None:
        raise InputError("with --connection, give only the operation: call OPERATION")
    token = require_token(options.token)
    assert options.connection is not None
    from connectory.cli.remote_call import call_remote

    asyncio.run(
        call_remote(
            options.server,
            token,
            options.connection,
            options.target,
            parse_pairs(options.param),
            stream=_streams(options),
            max_pages=options.max_pages,
            include=options.include,
        )
    )


def _streams(options: CallOptions) -> bool:
    return options.all_pages or options.max_pages is not None


def _run_local(options: CallOptions) -> None:
    operation = options.operation
    if operation is None:
        raise InputError("give the connector and the operation: call PATH OPERATION")
    with gc_paused():  # module-level objects only: see connectory.startup
        from connectory.runtime import ConnectorClient
        from connectory.spec import load_connector

        spec = load_connector(Path(options.target))
    credentials = options.credentials
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
        connector_parameters=read_values_file(options.connector_parameters, "connector parameters")
        if options.connector_parameters
        else None,
        config=read_values_file(options.config, "config") if options.config else None,
        base_url=options.base_url,
        response_validation="strict" if options.strict else "warn",
        observer=_print_resilience_event if options.verbose else None,
    )
    params = parse_pairs(options.param)
    # What is loaded lives until the quick exit: later collections need not scan it again.
    freeze_loaded_objects()
    if _streams(options):
        from connectory.cli.reading import write_records

        asyncio.run(write_records(client, operation, params, options.max_pages))
    else:
        asyncio.run(_call_once(client, operation, params, options.include, options.verbose > 0))


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
    from connectory.cli.output import report_logs

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


def configure_logging(verbose: int) -> None:
    """Quiet the library's log (commands report what matters), or show it with ``-v``."""
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
