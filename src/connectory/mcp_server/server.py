"""An SDK server over a tool provider, and serving it over stdio."""

from __future__ import annotations

import logging
from typing import Any, Protocol

import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from connectory import __version__

logger = logging.getLogger("connectory.mcp")

INSTRUCTIONS = (
    "Tools of one Connectory connection: each runs an operation or a collection method of the "
    "connector with the connection's credentials. Results are JSON; a result with next_cursor "
    "has more: call the same tool again with the same arguments and cursor set to it. Tools "
    "that change data upstream are offered only where the connection's policy allows them."
)


class ToolProvider(Protocol):
    """Where tools come from and calls go to.

    *request* is the HTTP request of the call on the streamable-HTTP transport (the provider
    finds its caller there) and None on stdio.
    """

    async def list_tools(self, request: Any | None) -> list[types.Tool]:
        """The tools offered to this caller."""

    async def call_tool(
        self, request: Any | None, name: str, arguments: dict[str, Any] | None
    ) -> types.CallToolResult:
        """Run tool *name*; a failure is a result with ``is_error``, not an exception."""


def create_mcp_server(
    provider: ToolProvider, *, name: str = "connectory", title: str | None = None
) -> Server[Any]:
    """An MCP server (the SDK's low-level one) offering *provider*'s tools."""

    async def list_tools(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=await provider.list_tools(ctx.request))

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return await provider.call_tool(ctx.request, params.name, params.arguments)

    return Server(
        name,
        version=__version__,
        title=title,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def serve_stdio(server: Server[Any]) -> None:
    """Serve *server* on this process's stdin and stdout until the client closes them."""
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
