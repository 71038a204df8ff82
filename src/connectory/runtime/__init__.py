"""The async runtime: validate inputs, build requests, authenticate, send, decode, paginate.

The client loads on first use: modules that only need the result types (the server's Python
API, the CLI's argument parsing) do not pay for importing the HTTP stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectory.runtime.results import OperationResult, Page, SentRequest

if TYPE_CHECKING:
    from connectory.runtime.client import ConnectorClient, ResponseValidation

__all__ = ["ConnectorClient", "OperationResult", "Page", "ResponseValidation", "SentRequest"]


def __getattr__(name: str) -> object:
    if name in ("ConnectorClient", "ResponseValidation"):
        from connectory.runtime import client

        return getattr(client, name)
    raise AttributeError(f"module 'connectory.runtime' has no attribute {name!r}")
