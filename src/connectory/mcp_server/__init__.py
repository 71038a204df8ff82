"""Connectory's tools over the Model Context Protocol, with the official ``mcp`` SDK.

:func:`create_mcp_server` builds an SDK server from a :class:`ToolProvider`: the tools of a
local connector (:class:`LocalToolProvider`), of a server's connection reached through its
MCP endpoint (:class:`ProxyToolProvider`), or of the server itself (``connectory.api``).
``connectory mcp`` serves one over stdio (:func:`serve_stdio`).
"""

from connectory.mcp_server.local import LocalToolProvider
from connectory.mcp_server.proxy import ProxyToolProvider
from connectory.mcp_server.server import ToolProvider, create_mcp_server, serve_stdio
from connectory.mcp_server.shapes import error_result, outcome_result, to_mcp_tool

__all__ = [
    "LocalToolProvider",
    "ProxyToolProvider",
    "ToolProvider",
    "create_mcp_server",
    "error_result",
    "outcome_result",
    "serve_stdio",
    "to_mcp_tool",
]
