"""Bodies of ``/connections/{id}/mcp-policy``."""

from __future__ import annotations

from pydantic import BaseModel, Field

from connectory.toolkit import ToolPolicy


class ToolSummary(BaseModel):
    """One tool of the connection's connector."""

    name: str
    title: str
    kind: str = Field(description="operation or collection")
    read_only: bool = Field(description="Changes nothing upstream (always offered).")
    offered: bool = Field(description="The policy offers it (the caller's role applies too).")


class ToolPolicyOut(BaseModel):
    """A connection's tool policy, its tools, and where agents connect."""

    policy: ToolPolicy
    tools: list[ToolSummary]
    endpoint: str = Field(description="The connection's MCP endpoint (streamable HTTP).")
