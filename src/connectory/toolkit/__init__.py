"""Tools: a connector's operations and collection methods as named, described, schema'd calls.

The catalogue (:func:`build_tools`) turns a connector into :class:`ToolSpec` objects (a name,
a description, a JSON Schema of the arguments, and whether the tool only reads); the
:class:`ToolRunner` runs one with a :class:`~connectory.runtime.ConnectorClient`, caps the
result's size and hands back a cursor for the rest. :class:`ToolPolicy` decides which tools a
connection offers: reads always, writes only when named. Front ends (MCP today) sit on top;
nothing here imports them.
"""

from connectory.toolkit.catalogue import ToolSpec, build_tools, tool_index
from connectory.toolkit.policy import DEFAULT_MAX_RESULT_BYTES, ToolPolicy, check_policy
from connectory.toolkit.runner import ToolRunner

__all__ = [
    "DEFAULT_MAX_RESULT_BYTES",
    "ToolPolicy",
    "ToolRunner",
    "ToolSpec",
    "build_tools",
    "check_policy",
    "tool_index",
]
