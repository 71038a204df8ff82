"""Tools of a connector run in this process, with credentials given locally."""

from __future__ import annotations

import logging
from typing import Any

import mcp_types as types

from connectory.errors import ConnectoryError, PermissionDenied
from connectory.mcp_server.shapes import error_result, outcome_result, to_mcp_tool
from connectory.runtime import ConnectorClient
from connectory.toolkit import ToolPolicy, ToolRunner, ToolSpec, build_tools, check_policy

logger = logging.getLogger("connectory.mcp")


def refused_write(tool: ToolSpec) -> PermissionDenied:
    """The error for a write tool the policy does not offer."""
    return PermissionDenied(
        f"'{tool.name}' changes data upstream and this connection's tool policy does not allow "
        "it (tools are read-only unless a write tool is named in allow_writes)"
    )


def unknown_tool(name: str, offered: list[ToolSpec]) -> ConnectoryError:
    """The error for a tool name that is not offered at all."""
    names = ", ".join(tool.name for tool in offered) or "none"
    return PermissionDenied(f"no tool '{name}' is offered here; tools: {names}")


class LocalToolProvider:
    """The tools of *client*'s connector that *policy* offers (``connectory mcp PATH``).

    Raises:
        InvalidRequest: the policy allows a write tool the connector does not have.
    """

    def __init__(self, client: ConnectorClient, policy: ToolPolicy | None = None) -> None:
        self.client = client
        self.policy = policy or ToolPolicy()
        self.tools = build_tools(client.spec)
        check_policy(self.policy, self.tools)
        self._by_name = {tool.name: tool for tool in self.tools}
        self._runner = ToolRunner(client, self.policy.max_result_bytes)

    async def list_tools(self, request: Any | None) -> list[types.Tool]:
        """The offered tools."""
        return [to_mcp_tool(tool) for tool in self.policy.offered(self.tools)]

    async def call_tool(
        self, request: Any | None, name: str, arguments: dict[str, Any] | None
    ) -> types.CallToolResult:
        """Run an offered tool through the runtime."""
        tool = self._by_name.get(name)
        try:
            if tool is None:
                raise unknown_tool(name, self.policy.offered(self.tools))
            if not self.policy.permits(tool):
                raise refused_write(tool)
            return outcome_result(await self._runner.run(tool, arguments))
        except ConnectoryError as error:
            return error_result(error)
