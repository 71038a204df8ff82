"""Connectory: describe a REST API once as a connector, then call it with resilience applied.

The Python API in one place::

    from connectory import ConnectorClient, load_connector

    spec = load_connector("examples/openweathermap")
    async with ConnectorClient(spec, credentials={"api_key": "..."}) as client:
        result = await client.call("get_current_weather", {"q": "London"})

Names are imported on first use, so ``import connectory`` (and every ``connectory`` command)
starts without loading the runtime until it is needed; no garbage collection runs while it
loads (:mod:`connectory.startup`). A library leaves other packages' modules alone: only the
command line defers httpx's own command-line client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from connectory.startup import gc_paused

__version__ = "0.1.0"

if TYPE_CHECKING:
    from connectory.errors import ConnectoryError
    from connectory.runtime import ConnectorClient, OperationResult, Page
    from connectory.spec import ConnectorSpec, check_connector, load_connector

_LAZY = {
    "ConnectorClient": "connectory.runtime",
    "OperationResult": "connectory.runtime",
    "Page": "connectory.runtime",
    "ConnectorSpec": "connectory.spec",
    "check_connector": "connectory.spec",
    "load_connector": "connectory.spec",
    "ConnectoryError": "connectory.errors",
}

__all__ = [
    "ConnectorClient",
    "ConnectorSpec",
    "ConnectoryError",
    "OperationResult",
    "Page",
    "__version__",
    "check_connector",
    "load_connector",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'connectory' has no attribute {name!r}")
    with gc_paused():
        return getattr(importlib.import_module(module), name)
