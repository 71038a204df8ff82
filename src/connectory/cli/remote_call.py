"""``connectory call --connection ID``: run an operation on a server's stored connection."""

from __future__ import annotations

import sys
from typing import Any

import orjson
import typer

from connectory.cli.output import EXIT_UPSTREAM, ProgressLine, stderr_console
from connectory.cli.server_url import DEFAULT_SERVER
from connectory.remote import Server

__all__ = ["DEFAULT_SERVER", "call_remote"]


async def call_remote(
    server_url: str,
    token: str,
    connection_id: str,
    operation: str,
    params: dict[str, Any],
    *,
    stream: bool,
    max_pages: int | None,
    include: bool,
) -> None:
    """Call through the server; records stream as JSON Lines, a result prints as JSON."""
    async with Server(server_url, token) as server:
        connection = server.connection(connection_id)
        if stream:
            progress = ProgressLine()
            out = sys.stdout.buffer
            count = 0
            records = connection.iter_records(
                operation, params, max_pages=max_pages, on_wait=progress.waiting
            )
            async for record in records:
                out.write(orjson.dumps(record) + b"\n")
                count += 1
                progress.count(count, "record(s)")
            out.flush()
            progress.count(count, "record(s)", force=True)
            return
        result = await connection.call(operation, params)
    payload: Any = result.to_dict() if include else result.body
    sys.stdout.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode() + "\n")
    if not result.ok:
        stderr_console().print(
            f"[bold red]error:[/] {operation}: the upstream answered {result.status_code}"
        )
        raise typer.Exit(EXIT_UPSTREAM)
