"""Bodies of ``/connections/{id}/mcp-policy``."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from connectory.api.schemas.values import WHOLE_NUMBER
from connectory.toolkit import ToolPolicy
from connectory.toolkit.policy import DEFAULT_MAX_RESULT_BYTES, MAX_RESULT_BYTES, MIN_RESULT_BYTES

#: A tool name (at most 64 characters, as tool names are).
ToolName = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ToolPolicyIn(BaseModel):
    """A connection's tool policy (docs/mcp.md)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    enabled: bool = Field(default=True, description="Offer this connection's tools at all.")
    allow_writes: list[ToolName] = Field(
        default_factory=list,
        max_length=500,
        description="Tools that change data upstream and are offered anyway, by name.",
    )
    max_result_bytes: Annotated[
        int, Field(ge=MIN_RESULT_BYTES, le=MAX_RESULT_BYTES), WHOLE_NUMBER
    ] = Field(default=DEFAULT_MAX_RESULT_BYTES, description="Largest tool result in bytes.")


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
