"""The ``connectory`` command line (typer + rich)."""

import os
import sys

# httpx imports its own command line (click, rich, pygments: about 70 ms) whenever those are
# installed, and they are, for ours. This process never runs httpx's CLI, so its module is
# marked absent: httpx then binds a stub `httpx.main` and imports in half the time.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

# pydantic looks for plugins by scanning every installed distribution's entry points on first
# validation (importlib.metadata, zipfile: ~10 ms and ~1 MiB). Connectory's models use none; a
# user who wants one for the CLI sets PYDANTIC_DISABLE_PLUGINS themselves.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
