"""The ``connectory`` command line (typer + rich).

httpx's own command line, which ``import httpx`` would load, is deferred by ``import
connectory`` (see :mod:`connectory.startup`).
"""

import os

# pydantic looks for plugins by scanning every installed distribution's entry points on first
# validation (importlib.metadata, zipfile: ~10 ms and ~1 MiB). Connectory's models use none; a
# user who wants one for the CLI sets PYDANTIC_DISABLE_PLUGINS themselves.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
