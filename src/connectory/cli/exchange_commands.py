"""``connectory export`` and ``connectory import``: connector export files, via a running server.

Both talk to the server at ``--server`` (``CONNECTORY_URL``) with the token in
``CONNECTORY_TOKEN`` (or ``--token``; the environment keeps it out of shell history)::

    connectory export openweathermap -o openweathermap.json
    connectory import openweathermap.json --dry-run
    connectory export openweathermap --history -o all.json && connectory import all.json --history
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from connectory.cli.options import DEFAULT_SERVER, Output, Server, Token
from connectory.cli.output import (
    EXIT_INTERNAL,
    escape,
    exit_code_for,
    report_error,
    report_problems,
    stderr_console,
)
from connectory.cli.remote import RemoteApi
from connectory.errors import ConnectoryError, InvalidRequest, NotFound, Problem, SpecError

_ID = re.compile(r"[0-9a-f]{32}")
_MAX_FILE_BYTES = 64 * 1024 * 1024


def register_exchange_commands(app: typer.Typer) -> None:
    """Add ``export`` and ``import`` to the ``connectory`` command."""
    app.command("export")(export_connector)
    app.command("import")(import_connector)


def export_connector(
    connector: Annotated[str, typer.Argument(help="The connector's id or slug.")],
    output: Output = None,
    version: Annotated[
        str | None,
        typer.Option("--version", help="1.2.0, latest or draft (default: latest, else draft)."),
    ] = None,
    history: Annotated[
        bool,
        typer.Option("--history", help="Add every published version, oldest first."),
    ] = False,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
) -> None:
    """Export a connector version as one JSON file (no secrets in it)."""

    def run() -> None:
        with RemoteApi(server, token) as api:
            connector_id = _resolve(api, connector)
            params = {"version": version} if version else {}
            if history:
                params["history"] = "true"
            response = api.request("GET", f"/connectors/{connector_id}/export", params=params)
        # The bytes as the server wrote them: an export file is byte-stable.
        if output is None or str(output) == "-":
            sys.stdout.buffer.write(response.content)
            sys.stdout.buffer.flush()
            return
        output.write_bytes(response.content)
        stderr_console().print(f"wrote {escape(str(output))} ({len(response.content):,} bytes)")

    _guard(run)


def import_connector(
    file: Annotated[Path, typer.Argument(help="An export file (- reads stdin).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    as_new_version: Annotated[
        bool,
        typer.Option(
            "--as-new-version",
            help="Import even if the slug and version exist: as the connector's next draft.",
        ),
    ] = False,
    into: Annotated[
        str | None,
        typer.Option("--into", help="Import as the next draft of this connector id."),
    ] = None,
    history: Annotated[
        bool,
        typer.Option(
            "--history",
            help="Recreate the file's version history (export --history) as published versions.",
        ),
    ] = False,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
) -> None:
    """Import an export file as a draft (platform admins: catalogue; SDK admins: enterprise)."""

    def run() -> None:
        content = _read(file)
        params: dict[str, str] = {}
        if dry_run:
            params["dry_run"] = "true"
        if as_new_version:
            params["as_new_version"] = "true"
        if into:
            params["connector_id"] = into
        if history:
            params["history"] = "true"
        with RemoteApi(server, token) as api:
            response = api.request(
                "POST",
                "/connectors/import",
                params=params,
                content=content,
                headers={"Content-Type": "application/json"},
            )
        result: dict[str, Any] = response.json()
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
        _summarise(result)

    _guard(run)


def _resolve(api: RemoteApi, connector: str) -> str:
    """The id of the connector named by *connector* (an id, else a slug)."""
    if _ID.fullmatch(connector):
        try:
            api.request("GET", f"/connectors/{connector}")
            return connector
        except NotFound:
            pass  # a 32-character hex slug is possible; try it as one
    page = api.get_json("/connectors", slug=connector[:100], limit=10)
    items = page.get("items", []) if isinstance(page, dict) else []
    if not items:
        raise NotFound(f"no connector with the id or slug {connector[:100]!r} that the token sees")
    if len(items) > 1:
        choices = ", ".join(f"{item['id']} ({item['scope']})" for item in items)
        raise InvalidRequest(
            f"the slug {connector!r} names {len(items)} connectors; pass an id: {choices}"
        )
    return str(items[0]["id"])


def _read(file: Path) -> bytes:
    if str(file) == "-":
        return sys.stdin.buffer.read(_MAX_FILE_BYTES + 1)
    try:
        if file.stat().st_size > _MAX_FILE_BYTES:
            raise InvalidRequest(f"{file} is larger than {_MAX_FILE_BYTES:,} bytes")
        return file.read_bytes()
    except OSError as error:
        raise InvalidRequest(f"cannot read {file}: {error.strerror or error}") from None


def _summarise(result: dict[str, Any]) -> None:
    console = stderr_console()
    warnings = [
        Problem(p.get("message", ""), p.get("path", ""), p.get("file"), severity="warning")
        for p in result.get("problems", [])
        if isinstance(p, dict)
    ]
    if warnings:
        report_problems(console, SpecError(warnings))
    slug, scope = result.get("slug"), result.get("scope")
    if result.get("action") == "create":
        what = f"a new {scope} connector '{slug}'"
    else:
        what = f"the next draft of the {scope} connector '{slug}' ({result.get('connector_id')})"
    steps = result.get("history")
    if isinstance(steps, list):
        created = [str(s.get("version")) for s in steps if s.get("action") == "create"]
        kept = [str(s.get("version")) for s in steps if s.get("action") == "exists"]
        versions = f"publish {', '.join(created) or 'no version'}"
        if kept:
            versions += f" (there already: {', '.join(kept)})"
        draft = " and a draft" if result.get("draft") else ""
        if result.get("dry_run"):
            console.print(f"dry run: the import would {escape(versions)}; nothing was changed")
        else:
            console.print(f"imported: {escape(versions.replace('publish', 'published'))}{draft}")
        return
    if result.get("dry_run"):
        console.print(f"dry run: the import would make {escape(what)}; nothing was changed")
    else:
        console.print(f"imported as {escape(what)}; publish the draft to make it a version")


def _guard(action: Callable[[], None]) -> None:
    """Run *action*; a Connectory error becomes its message and exit code, never a traceback."""
    console = stderr_console()
    try:
        action()
    except ConnectoryError as error:
        report_error(console, error)
        raise typer.Exit(exit_code_for(error)) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as error:
        if os.environ.get("CONNECTORY_DEBUG"):
            raise
        console.print(
            f"[bold red]internal error:[/] {type(error).__name__}. This is a bug in Connectory; "
            "run again with CONNECTORY_DEBUG=1 for details and report it."
        )
        raise typer.Exit(EXIT_INTERNAL) from None
