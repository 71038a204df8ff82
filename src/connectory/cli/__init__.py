"""The ``connectory`` command line (typer + rich)."""

import sys

# httpx imports its own command line (click, rich, pygments: about 70 ms) whenever those are
# installed, and they are, for ours. This process never runs httpx's CLI, so its module is
# marked absent: httpx then binds a stub `httpx.main` and imports in half the time.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
