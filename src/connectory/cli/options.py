"""The options several commands share: one declaration and one help text each.

A command takes one by naming its alias as a parameter's type, with the default after it
(typer reads defaults from the signature, not from an ``Annotated`` option)::

    def command(server: Server = DEFAULT_SERVER, token: Token = None) -> None: ...

A command whose option means something else under the same spelling (``connect
--credentials`` is the file it writes, ``logs --connection`` is required...) declares its
own, with a comment saying why. Only the typer commands import this module: the quick
reading of a plain ``connectory call`` (:mod:`connectory.cli.call_command`) must not load
typer, so nothing on that path may import it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from connectory.cli.server_url import DEFAULT_SERVER

__all__ = [
    "DEFAULT_SERVER",
    "BaseUrl",
    "Config",
    "Connection",
    "ConnectorParameters",
    "Credentials",
    "DatabaseUrl",
    "Follow",
    "KeyFile",
    "Output",
    "OutputFormat",
    "Params",
    "Server",
    "Token",
]

# A server's connection, where a command works on a local connector file or on a server.

#: ``--connection``: work on a server's stored connection (its credentials stay there).
Connection = Annotated[
    str | None,
    typer.Option(
        "--connection", help="Use this stored connection of a server instead of a connector file."
    ),
]
#: ``--server``: the server to talk to (default :data:`DEFAULT_SERVER`).
Server = Annotated[
    str,
    typer.Option("--server", envvar="CONNECTORY_URL", help="The server's URL.", show_default=True),
]
#: ``--token``: the API token; its default (none) is not shown, and the environment is the
#: better place for it (out of the shell's history).
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="CONNECTORY_TOKEN",
        help="API token of the server (better: set CONNECTORY_TOKEN).",
        show_default=False,
    ),
]

# A local connector's connection: the files a user keeps beside the connector.

#: ``--credentials``: read only (``call`` and ``connect`` declare their own, as they write it).
Credentials = Annotated[
    Path | None, typer.Option("--credentials", help="YAML/JSON file with the credentials.")
]
#: ``--connector-parameters``: the connector's parameters (a tenant, a region...).
ConnectorParameters = Annotated[
    Path | None,
    typer.Option("--connector-parameters", help="YAML/JSON file with connector parameters."),
]
#: ``--config``: the connection's config (``tap`` and ``airbyte`` take a source config instead).
Config = Annotated[
    Path | None, typer.Option("--config", help="YAML/JSON file with connection config.")
]
#: ``--base-url``: where requests go instead of the connector's base URL.
BaseUrl = Annotated[
    str | None,
    typer.Option("--base-url", help="Call this base URL instead of the connector's (a sandbox)."),
]
#: ``--param``/``-p``: an operation's, a collection's or an event's parameters.
Params = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="A parameter as name=value (repeatable)."),
]

# Output and following.

#: ``--format``: how problems and results are printed.
OutputFormat = Annotated[str, typer.Option("--format", help="text, or json for tools.")]
#: ``--output``/``-o``: a file instead of stdout (``import-openapi`` takes a folder too).
Output = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
]
#: ``--follow``/``-f``: keep printing what comes after the first batch.
Follow = Annotated[
    bool, typer.Option("--follow", "-f", help="Keep printing new entries (Ctrl-C stops).")
]

# The server's own settings, for operator commands run where the server runs.

#: ``--database-url``: ``serve`` and ``worker`` declare their own, naming what each accepts.
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="CONNECTORY_DATABASE_URL", help="The server's database."),
]
#: ``--key-file``: the key file of stored secrets.
KeyFile = Annotated[
    Path | None,
    typer.Option("--key-file", envvar="CONNECTORY_KEY_FILE", help="The server's key file."),
]
