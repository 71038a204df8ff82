"""Tools of a server's connection through its MCP endpoint (``connectory mcp --connection``).

The stdio process is a relay: every list and call goes to ``/connections/{id}/mcp`` on the
server with the caller's API token, so tenancy, the connection's policy, the caller's role and
the runtime all apply on the server, once, as for any other MCP client.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any
from urllib.parse import quote

# httpx2 is the HTTP client the MCP SDK's streamable-HTTP transport is built on.
import httpx2
import mcp_types as types
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from connectory.errors import TransportError, UpstreamError
from connectory.mcp_server.shapes import error_result

_MAX_TOOL_PAGES = 100


def endpoint_url(server: str, connection_id: str) -> str:
    """The MCP endpoint of *connection_id* on *server*."""
    return f"{server.rstrip('/')}/connections/{quote(connection_id, safe='')}/mcp"


class ProxyToolProvider:
    """Relays tools/list and tools/call to a server's connection (use ``async with``)."""

    def __init__(self, server: str, token: str, connection_id: str) -> None:
        self.url = endpoint_url(server, connection_id)
        self._token = token
        self._stack: AsyncExitStack | None = None
        self._client: Client | None = None

    async def __aenter__(self) -> ProxyToolProvider:
        stack = AsyncExitStack()
        http = await stack.enter_async_context(
            httpx2.AsyncClient(
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=httpx2.Timeout(30.0, read=300.0),
            )
        )
        try:
            self._client = await stack.enter_async_context(
                Client(streamable_http_client(self.url, http_client=http), cache=None)
            )
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def list_tools(self, request: Any | None) -> list[types.Tool]:
        """The tools the server offers this caller on the connection."""
        client = self._connected()
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(_MAX_TOOL_PAGES):
            listed = await client.list_tools(cursor=cursor)
            tools += listed.tools
            cursor = listed.next_cursor
            if not cursor:
                break
        return tools

    async def call_tool(
        self, request: Any | None, name: str, arguments: dict[str, Any] | None
    ) -> types.CallToolResult:
        """The server's result of the call (its refusals included)."""
        try:
            return await self._connected().call_tool(name, arguments)
        except MCPError as error:
            return error_result(
                UpstreamError(f"the server refused the call: {error}", status_code=502)
            )

    def _connected(self) -> Client:
        if self._client is None:
            raise TransportError("not connected to the server's MCP endpoint")
        return self._client
