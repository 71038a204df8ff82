"""The ``connectory`` command line (typer + rich).

httpx's own command line, which ``import httpx`` would load, is deferred here, in the
command line's own process only (see :mod:`connectory.startup`): ``import connectory`` as a
library leaves httpx as it is.
"""

import os

from connectory.startup import defer_httpx_cli

defer_httpx_cli()

# pydantic looks for plugins by scanning every installed distribution's entry points on first
# validation (importlib.metadata, zipfile: ~10 ms and ~1 MiB). Connectory's models use none; a
# user who wants one for the CLI sets PYDANTIC_DISABLE_PLUGINS themselves.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
