"""``connectory logs --connection ID [--follow]``: a connection's call log from a server.

Prints the latest entries oldest first, one line each (``--json``: one JSON object per line);
``--follow`` then keeps printing new entries as they are recorded, until interrupted.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from typing import Annotated, Any

import orjson
import typer

from connectory.cli.options import DEFAULT_SERVER, Follow, Server, Token
from connectory.errors import InputError

#: Entries fetched per request while following.
_FOLLOW_PAGE = 200
#: Control characters an upstream may have put in a message: never sent to a terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def logs(
    # Its own declaration, not options.Connection: required, as there is no local log.
    connection: Annotated[
        str, typer.Option("--connection", help="The connection whose calls to show.")
    ],
    follow: Follow = False,
    kind: Annotated[
        str | None,
        typer.Option(help="Only this kind: operation, stream, test, collection, token_refresh..."),
    ] = None,
    status: Annotated[str | None, typer.Option(help="Only ok or error calls.")] = None,
    operation: Annotated[str | None, typer.Option(help="Only this operation.")] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=500, help="Entries shown first.")
    ] = 20,
    excerpts: Annotated[
        bool, typer.Option("--excerpts", help="Show the request/response excerpts too.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    interval: Annotated[
        float, typer.Option(min=0.2, max=60, help="Seconds between checks with --follow.")
    ] = 1.0,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
) -> None:
    """Show a connection's call log (every call, test, collection method, token refresh...)."""
    from connectory.cli.app import guard

    def run() -> None:
        from connectory.cli.remote import RemoteApi

        if status is not None and status not in ("ok", "error"):
            raise InputError("--status must be ok or error")
        filters = {"kind": kind, "status": status, "operation": operation}
        query = {k: v for k, v in filters.items() if v is not None}
        if excerpts:
            query["excerpts"] = "true"
        show = _json_line if as_json else _text_line(excerpts)
        path = f"/connections/{connection}/calls"
        with RemoteApi(server, token) as api:
            page = api.get_json(path, limit=limit, **query)
            items = list(reversed(page["items"]))
            for item in items:
                _write(show(item))
            if not follow:
                return
            after = str(items[-1]["seq"]) if items else _newest_seq(api, path)
            while True:
                time.sleep(interval)
                page = api.get_json(path, after=after, limit=_FOLLOW_PAGE, **query)
                for item in page["items"]:
                    _write(show(item))
                after = page["next_cursor"] or after

    guard(run)


def _newest_seq(api: Any, path: str) -> str:
    """Where following starts when the filtered log is empty: after the newest entry of all."""
    page = api.get_json(path, limit=1)
    return str(page["items"][0]["seq"]) if page["items"] else "0"


def _write(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _json_line(item: dict[str, Any]) -> str:
    return orjson.dumps(item).decode()


def _text_line(excerpts: bool) -> Callable[[dict[str, Any]], str]:
    def line(item: dict[str, Any]) -> str:
        code = item["status_code"]
        attempts = item["attempts"]
        parts = [
            item["started_at"],
            item["kind"],
            item["operation"] or "-",
            item["status"] + (f" {code}" if code is not None else ""),
            f"{item['duration_ms']:.1f} ms",
            f"{attempts} attempt{'s' if attempts != 1 else ''}",
            item["id"],
        ]
        text = "  ".join(parts)
        if item["error_class"]:
            text += f"\n    {item['error_class']}: {item['error_message'] or ''}"
        if excerpts:
            for name in ("request_excerpt", "response_excerpt"):
                if item.get(name):
                    body = str(item[name]).replace("\n", "\n      ")
                    text += f"\n    {name.split('_')[0]}:\n      {body}"
        return _CONTROL.sub("?", text)

    return line
