"""Which tools a connection offers: reads always, writes only when named.

A policy is stored with each connection (``mcp_policy``) and set by its enterprise admins::

    {"enabled": true, "allow_writes": ["contacts_create", "create_contact"],
     "max_result_bytes": 32768}

- ``enabled``: false turns the connection's tools off (every MCP request answers 403).
- ``allow_writes``: tools that change data upstream and may be offered anyway, each named on
  its own; there is no wildcard, so a connector version that adds a write tool never opens it.
- ``max_result_bytes``: the largest tool result; a larger one is cut and continues by cursor.

The caller's role still applies on top: a viewer never gets a write tool, whatever the policy.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from connectory.errors import InvalidRequest
from connectory.toolkit.catalogue import ToolSpec

DEFAULT_MAX_RESULT_BYTES = 32 * 1024
MIN_RESULT_BYTES = 1024
MAX_RESULT_BYTES = 1024 * 1024


class ToolPolicy(BaseModel):
    """A connection's tool policy (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Offer this connection's tools at all.")
    allow_writes: list[str] = Field(
        default_factory=list,
        max_length=500,
        description="Tools that change data upstream and are offered anyway, by name.",
    )
    max_result_bytes: int = Field(
        default=DEFAULT_MAX_RESULT_BYTES,
        ge=MIN_RESULT_BYTES,
        le=MAX_RESULT_BYTES,
        description="Largest tool result in bytes; the rest continues by cursor.",
    )

    def permits(self, tool: ToolSpec) -> bool:
        """Whether the policy offers *tool* (reads always, writes when named)."""
        return tool.read_only or tool.name in self.allow_writes

    def offered(self, tools: Iterable[ToolSpec]) -> list[ToolSpec]:
        """The tools of *tools* this policy offers."""
        return [tool for tool in tools if self.permits(tool)]


def check_policy(policy: ToolPolicy, tools: Iterable[ToolSpec]) -> None:
    """Raise InvalidRequest when ``allow_writes`` names a tool that is not a write tool.

    A typo must not pass silently: the admin believes a tool is open (or, worse, that a name
    means something it does not).
    """
    by_name = {tool.name: tool for tool in tools}
    writes = sorted(name for name, tool in by_name.items() if not tool.read_only)
    for name in policy.allow_writes:
        tool = by_name.get(name)
        if tool is None:
            raise InvalidRequest(
                f"allow_writes names '{name}', which is not a tool of this connection; "
                f"its write tools: {', '.join(writes) or 'none'}"
            )
        if tool.read_only:
            raise InvalidRequest(
                f"allow_writes names '{name}', which only reads (reads are always offered); "
                "remove it"
            )
