"""``/connections/{id}/mcp``: a connection's tools over MCP (streamable HTTP).

Agents connect with the official SDK (or any MCP client) and a Connectory API token::

    Authorization: Bearer cty_...

Each request is authenticated and scoped before the SDK sees it: an unknown token is 401, a
connection the caller cannot see 404 (another enterprise's included), a connection whose tools
are switched off 403, all in the API's one error shape. The SDK then serves the protocol
statelessly (a fresh transport per request, JSON responses), so any server process behind a
load balancer can answer any request of a session; the tools come from
:mod:`connectory.services.mcp_tools`, which applies the connection's policy and the caller's
role on every call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from connectory.api.problems import error_response, status_of
from connectory.errors import ConnectoryError, NotAuthenticated
from connectory.mcp_server import create_mcp_server, error_result, outcome_result, to_mcp_tool
from connectory.services import mcp_tools
from connectory.services.connections import get_connection
from connectory.services.principal import Principal
from connectory.services.tokens import authenticate

logger = logging.getLogger("connectory.mcp")

PATH = "/connections/{connection_id}/mcp"
_STATE_KEY = "connectory_mcp_caller"


@dataclass(frozen=True)
class McpCaller:
    """Who calls, on which connection (set on the request before the SDK sees it)."""

    principal: Principal
    connection_id: str


class ServerToolProvider:
    """Tools of the connection named in the request, for the caller the request carries."""

    async def list_tools(self, request: Any | None) -> list[types.Tool]:
        """The tools the policy and the caller's role allow."""
        caller, state = _caller(request)
        async with state.sessions() as session:
            details = await get_connection(session, caller.principal, caller.connection_id)
            return [
                to_mcp_tool(tool) for tool in mcp_tools.offered_tools(caller.principal, details)
            ]

    async def call_tool(
        self, request: Any | None, name: str, arguments: dict[str, Any] | None
    ) -> types.CallToolResult:
        """Run a tool through the connection's leased client; failures are error results."""
        caller, state = _caller(request)
        try:
            async with state.sessions() as session:
                outcome = await mcp_tools.call_tool(
                    session,
                    state.runtimes,
                    caller.principal,
                    caller.connection_id,
                    name,
                    arguments,
                )
        except ConnectoryError as error:
            logger.info("MCP tool %s refused or failed: %s", name, type(error).__name__)
            return error_result(error)
        return outcome_result(outcome)


def _caller(request: Any) -> tuple[McpCaller, Any]:
    if request is None or _STATE_KEY not in request.scope.get("state", {}):
        raise NotAuthenticated("the MCP request was not authenticated")  # pragma: no cover
    return request.scope["state"][_STATE_KEY], request.app.state


class McpEndpoint:
    """The ASGI app behind :data:`PATH`; :meth:`running` must wrap the app's lifespan."""

    def __init__(self, max_body_bytes: int) -> None:
        self._max_body_bytes = max_body_bytes
        self._manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Start the SDK's session manager (a new one per start: it cannot be restarted)."""
        server = create_mcp_server(ServerToolProvider(), name="connectory")
        self._manager = StreamableHTTPSessionManager(
            app=server,
            stateless=True,
            json_response=True,
            # Requests carry a bearer token, never a cookie: a page that rebinds DNS to the
            # server cannot authenticate, so the Host/Origin allow-list (for servers that trust
            # the network) is not needed and would refuse every deployment's own host name.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            max_request_body_size=self._max_body_bytes,
        )
        # The manager's task group must be entered and left by one task; the app's lifespan
        # may end in another task than it began (test harnesses do that), so one task of its
        # own holds it for the app's lifetime.
        manager = self._manager
        ready, stop = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with manager.run():
                ready.set()
                await stop.wait()

        holder = asyncio.get_running_loop().create_task(hold())
        waiting = asyncio.get_running_loop().create_task(ready.wait())
        await asyncio.wait({holder, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if holder.done():
            waiting.cancel()
            holder.result()  # it failed to start: raise its error
        try:
            yield
        finally:
            self._manager = None
            stop.set()
            await holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Authenticate and scope the request, then let the SDK answer it."""
        manager = self._manager
        if manager is None:  # pragma: no cover - only before start-up or after shutdown
            await error_response(503, "unavailable", "the server is starting or stopping")(
                scope, receive, send
            )
            return
        request = Request(scope, receive)
        try:
            caller = await _authorize(request)
        except ConnectoryError as error:
            status, code = status_of(error)
            await error_response(status, code, str(error))(scope, receive, send)
            return
        scope.setdefault("state", {})[_STATE_KEY] = caller
        await manager.handle_request(scope, receive, send)


async def _authorize(request: Request) -> McpCaller:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise NotAuthenticated(
            "the MCP endpoint needs a Connectory API token: send Authorization: Bearer <token>"
        )
    connection_id = str(request.path_params.get("connection_id", ""))
    async with request.app.state.sessions() as session:
        principal = await authenticate(session, secret.strip())
        details = await get_connection(session, principal, connection_id)
        mcp_tools.check_enabled(details)
        if session.dirty:  # last_used_at was recorded
            await session.commit()
    return McpCaller(principal, connection_id)
