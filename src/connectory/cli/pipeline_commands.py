"""``connectory tap`` (Singer) and ``connectory airbyte`` (Airbyte source protocol).

Both read a connector's collections and list operations and write one JSON message per line
on stdout as pages arrive; diagnostics go to stderr (Airbyte errors also as TRACE messages).
See docs/pipelines.md.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from connectory.errors import ConnectoryError, InputError

airbyte_app = typer.Typer(
    help="The Airbyte source protocol for a connector: spec, check, discover, read.",
    no_args_is_help=True,
)

# Not options.Config: here --config is the pipeline's source configuration (required, JSON),
# which names the connector and holds its credentials, not a connection's config file.
ConfigFile = Annotated[
    Path, typer.Option("--config", help="The source configuration (JSON; see docs/pipelines.md).")
]
ConnectorOption = Annotated[
    Path | None,
    typer.Option("--connector", help="The connector file or folder (else config's connector)."),
]

#: --state of `tap` and `airbyte read`: the same file (the last STATE message's value).
StateFile = Annotated[
    Path | None, typer.Option("--state", help="Resume from this state (the last STATE).")
]


def _quiet_logs() -> None:
    # stdout is the message stream; library log lines must not reach it.
    logger = logging.getLogger("connectory")
    logger.handlers[:] = [logging.NullHandler()]
    logger.propagate = False


def _write(data: bytes) -> None:
    out = sys.stdout.buffer
    out.write(data)
    out.flush()


def _summary(command: str, pages: int, records: int) -> None:
    """The last line on stderr, as ``connectory call --all-pages`` ends its progress."""
    from connectory.cli.output import stderr_console

    stderr_console().print(f"{command}: {pages:,} page(s), {records:,} record(s)")


def _read_json(path: Path, what: str) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except OSError:
        raise InputError(f"the {what} file {path} does not exist or cannot be read") from None
    except orjson.JSONDecodeError:
        # No parser detail: a config file holds secrets.
        raise InputError(f"the {what} file {path} is not valid JSON") from None


def _open(config: Path, connector: Path | None) -> tuple[Any, Any]:
    from connectory.pipelines import load_source_config
    from connectory.spec import load_connector

    data = _read_json(config, "config")
    if not isinstance(data, dict):
        raise InputError(f"the config file {config} must hold a JSON object")
    source = load_source_config(data)
    path = connector or source.connector
    if path is None:
        raise InputError('name the connector: --connector PATH, or "connector" in the config')
    return source, load_connector(path)


def tap(
    config: ConfigFile,
    discover: Annotated[bool, typer.Option("--discover", help="Print the catalog.")] = False,
    catalog: Annotated[
        Path | None, typer.Option("--catalog", help="Read the streams this catalog selects.")
    ] = None,
    state: StateFile = None,
    connector: ConnectorOption = None,
) -> None:
    """A Singer tap for a connector: --discover, or SCHEMA/RECORD/STATE messages on stdout."""
    from connectory.cli.app import guard

    _quiet_logs()

    def run() -> None:
        from connectory.pipelines import discover_streams
        from connectory.pipelines.singer import catalog as make_catalog
        from connectory.pipelines.singer import run_tap, selected_streams

        source, spec = _open(config, connector)
        streams = discover_streams(spec, source.stream_parameters)
        if discover:
            _write(orjson.dumps(make_catalog(streams), option=orjson.OPT_INDENT_2) + b"\n")
            return
        if catalog is not None:
            selection = selected_streams(_read_json(catalog, "catalog"), streams)
        else:
            selection = [(stream, True) for stream in streams]
        saved = _read_json(state, "state") if state is not None else None

        async def read() -> tuple[int, int]:
            async with source.client(spec) as client:
                return await run_tap(client, selection, saved, source, _write)

        _summary("tap", *asyncio.run(read()))

    guard(run)


def _airbyte(action: Any) -> None:
    """Run an Airbyte command: errors become a TRACE message on stdout and on stderr."""
    from connectory.cli.app import guard
    from connectory.pipelines.airbyte import trace_error

    _quiet_logs()

    def run() -> None:
        try:
            action()
        except ConnectoryError as error:
            config_error = isinstance(error, InputError) or type(error).__name__ in (
                "SpecError",
                "CredentialsError",
                "TemplateError",
            )
            _write(orjson.dumps(trace_error(error, config_error=config_error)) + b"\n")
            raise

    guard(run)


@airbyte_app.command("spec")
def airbyte_spec(
    connector: Annotated[Path, typer.Option("--connector", help="The connector file or folder.")],
) -> None:
    """Print the SPEC message: the configuration this source takes."""

    def action() -> None:
        from connectory.pipelines.airbyte import spec_message
        from connectory.spec import load_connector

        _write(orjson.dumps(spec_message(load_connector(connector))) + b"\n")

    _airbyte(action)


@airbyte_app.command("check")
def airbyte_check(config: ConfigFile, connector: ConnectorOption = None) -> None:
    """Print a CONNECTION_STATUS message: whether the credentials work."""

    def action() -> None:
        from connectory.pipelines.airbyte import check_message

        source, spec = _open(config, connector)

        async def check() -> dict[str, Any]:
            async with source.client(spec) as client:
                return await check_message(client)

        _write(orjson.dumps(asyncio.run(check())) + b"\n")

    _airbyte(action)


@airbyte_app.command("discover")
def airbyte_discover(config: ConfigFile, connector: ConnectorOption = None) -> None:
    """Print the CATALOG message: the streams, their schemas and sync modes."""

    def action() -> None:
        from connectory.pipelines import discover_streams
        from connectory.pipelines.airbyte import catalog_message

        source, spec = _open(config, connector)
        streams = discover_streams(spec, source.stream_parameters)
        _write(orjson.dumps(catalog_message(streams)) + b"\n")

    _airbyte(action)


@airbyte_app.command("read")
def airbyte_read(
    config: ConfigFile,
    catalog: Annotated[Path, typer.Option("--catalog", help="The configured catalog.")],
    state: StateFile = None,
    connector: ConnectorOption = None,
) -> None:
    """Read the configured streams: RECORD and STATE messages."""

    def action() -> None:
        from connectory.pipelines import discover_streams
        from connectory.pipelines.airbyte import configured_streams, run_read

        source, spec = _open(config, connector)
        streams = discover_streams(spec, source.stream_parameters)
        selection = configured_streams(_read_json(catalog, "catalog"), streams)
        saved = _read_json(state, "state") if state is not None else None

        async def read() -> tuple[int, int]:
            async with source.client(spec) as client:
                return await run_read(client, selection, saved, source, _write)

        _summary("airbyte read", *asyncio.run(read()))

    _airbyte(action)
