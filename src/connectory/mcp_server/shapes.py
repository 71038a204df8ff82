"""Connectory's tools and results in the SDK's types."""

from __future__ import annotations

import mcp_types as types
import orjson

from connectory.errors import ConnectoryError
from connectory.toolkit import ToolSpec
from connectory.toolkit.runner import ToolOutcome


def to_mcp_tool(tool: ToolSpec) -> types.Tool:
    """*tool* as the SDK describes tools (name, description, input schema, hints)."""
    return types.Tool(
        name=tool.name,
        title=tool.title,
        description=tool.description,
        input_schema=tool.input_schema,
        annotations=types.ToolAnnotations(
            title=tool.title,
            read_only_hint=tool.annotations.get("read_only"),
            destructive_hint=tool.annotations.get("destructive"),
            idempotent_hint=tool.annotations.get("idempotent"),
            open_world_hint=True,
        ),
    )


def outcome_result(outcome: ToolOutcome) -> types.CallToolResult:
    """A tool's result: the JSON as text (every client reads it) and as structured content."""
    text = orjson.dumps(outcome.data, default=str).decode()
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        structured_content=outcome.data,
        is_error=outcome.is_error,
    )


def error_result(error: ConnectoryError) -> types.CallToolResult:
    """A failed call, as a tool result the agent can read and act on (not a protocol error)."""
    data = {"error": {"code": type(error).__name__, "detail": str(error)}}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=orjson.dumps(data).decode())],
        structured_content=data,
        is_error=True,
    )
