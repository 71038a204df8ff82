"""``connectory mcp``: a connection's tools for AI agents, over MCP on stdin/stdout.

On a server's connection (the usual way; policy, role and credentials stay on the server)::

    export CONNECTORY_URL=https://connectory.example CONNECTORY_TOKEN=cty_...
    connectory mcp --connection 7f3a...

Locally, with a connector file and your own credentials (reads only, unless a write tool is
named with ``--allow-write``)::

    connectory mcp examples/testapi/connector.yaml --credentials creds.yaml

stdout carries the protocol only; diagnostics go to stderr.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from connectory.cli.options import (
    DEFAULT_SERVER,
    BaseUrl,
    Config,
    Connection,
    ConnectorParameters,
    Credentials,
    Server,
    Token,
)
from connectory.cli.values import read_local_values, require_token
from connectory.errors import InputError


def mcp(
    connector: Annotated[
        Path | None,
        typer.Argument(help="A connector file or folder (local mode; not with --connection)."),
    ] = None,
    connection: Connection = None,
    server: Server = DEFAULT_SERVER,
    token: Token = None,
    credentials: Credentials = None,
    connector_parameters: ConnectorParameters = None,
    config: Config = None,
    base_url: BaseUrl = None,
    allow_write: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-write", help="Offer this write tool too (local mode; repeat for more)."
        ),
    ] = None,
    max_result_bytes: Annotated[
        int | None,
        typer.Option("--max-result-bytes", help="Largest tool result (local mode)."),
    ] = None,
) -> None:
    """Serve a connection's tools (operations, collection methods) to an AI agent over MCP."""
    from connectory.cli.app import guard

    # The protocol owns stdout: library log lines go nowhere unless asked for on stderr.
    logger = logging.getLogger("connectory")
    logger.handlers[:] = [logging.NullHandler()]
    logger.propagate = False

    def run() -> None:
        if connection is not None:
            if connector is not None:
                raise InputError("give a connector file or --connection, not both")
            api_token = require_token(token)
            if credentials or allow_write or max_result_bytes:
                raise InputError(
                    "--credentials, --allow-write and --max-result-bytes are for local mode; a "
                    "server's connection uses its stored credentials and tool policy"
                )
            asyncio.run(_serve_remote(server, api_token, connection))
            return
        if connector is None:
            raise InputError("give a connector file (local mode) or --connection ID")
        asyncio.run(
            _serve_local(
                connector,
                credentials,
                connector_parameters,
                config,
                base_url,
                allow_write or [],
                max_result_bytes,
            )
        )

    guard(run)


async def _serve_remote(server: str, token: str, connection_id: str) -> None:
    from connectory.mcp_server import ProxyToolProvider, create_mcp_server, serve_stdio
    from connectory.remote import Server

    # Ask the REST API first: a wrong token or connection id is a clear message here, before
    # an agent sees a protocol error.
    async with Server(server, token) as remote:
        await remote.request("GET", f"/connections/{connection_id}/mcp-policy")
    async with ProxyToolProvider(server, token, connection_id) as provider:
        await serve_stdio(create_mcp_server(provider, name="connectory"))


async def _serve_local(
    connector: Path,
    credentials: Path | None,
    connector_parameters: Path | None,
    config: Path | None,
    base_url: str | None,
    allow_write: list[str],
    max_result_bytes: int | None,
) -> None:
    from pydantic import ValidationError

    from connectory.mcp_server import LocalToolProvider, create_mcp_server, serve_stdio
    from connectory.runtime import ConnectorClient
    from connectory.spec import load_connector
    from connectory.toolkit import ToolPolicy

    spec = load_connector(connector)
    try:
        policy = ToolPolicy(allow_writes=allow_write)
        if max_result_bytes is not None:
            policy = ToolPolicy(allow_writes=allow_write, max_result_bytes=max_result_bytes)
    except ValidationError as error:
        raise InputError(f"--max-result-bytes: {error.errors()[0]['msg']}") from None
    client = ConnectorClient(
        spec,
        **read_local_values(credentials, connector_parameters, config),
        base_url=base_url,
    )
    async with client:
        provider = LocalToolProvider(client, policy)
        await serve_stdio(create_mcp_server(provider, name=spec.slug, title=spec.name))
