"""Start-up helpers: what ``import connectory`` and the command line do to load quickly.

Three costs of loading and running the runtime are not Connectory's own work:

- httpx imports its command-line client (``httpx._main``: click, rich, pygments, about
  40-70 ms) on ``import httpx``, although no Connectory program runs it. :func:`defer_httpx_cli`
  puts a stand-in in its place whose ``main`` loads the real module when it is called, so
  ``httpx.main`` (and any name of ``httpx._main``) still works, only later.
- The cyclic garbage collector runs dozens of times while pydantic builds the connector
  models: every object it scans then is a class, a schema or a validator that lives as long as
  the process. :func:`gc_paused` holds collections off for the length of an import.
- After loading, every full collection scans those same objects again. A process that ends
  with a quick exit (``connectory call``) marks itself with :func:`mark_one_shot`; once its
  connector is loaded, :func:`freeze_loaded_objects` moves what is alive into the
  collector's permanent generation, so later collections scan only what the command
  creates. A library never does this: a program's own objects are its own business.

A server (``connectory serve``, ``connectory worker``) also tunes the collector once it has
started (:func:`settle_heap_for_serving`): full collections of what start-up made were the
longest pauses of requests under load.
"""

from __future__ import annotations

import gc
import importlib
import importlib.machinery
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_HTTPX_CLI = "httpx._main"
_LOAD_LOCK = threading.RLock()
#: Set by the command line when this process ends with a quick exit after one command.
_one_shot = False


class _DeferredHttpxCli(types.ModuleType):
    """Stands in for ``httpx._main``; the first use of one of its names runs the real module.

    The real module is executed into this very object (the entry in ``sys.modules`` is never
    swapped, so code walking ``sys.modules`` is not disturbed), after which it *is*
    ``httpx._main``: ``__file__``, ``main`` and every other name are the real ones.
    """

    _connectory_loaded = False
    _connectory_loading = False

    def __getattr__(self, name: str) -> Any:
        # The import system probes module dunders (``__path__``: is it a package?); only a
        # name of httpx's CLI loads it.
        if not (name.startswith("__") and name.endswith("__")):
            _load_httpx_cli(self)
            if name in self.__dict__:
                return self.__dict__[name]
        raise AttributeError(f"module {_HTTPX_CLI!r} has no attribute {name!r}")


def _load_httpx_cli(module: _DeferredHttpxCli) -> None:
    """Execute the real ``httpx._main`` into *module*, once."""
    with _LOAD_LOCK:
        # Loading: a name looked up by the module's own code while it runs is not there yet.
        if module._connectory_loaded or module._connectory_loading:
            return
        module._connectory_loading = True
        try:
            import httpx  # httpx._main is only ever reached through its imported package

            spec = importlib.machinery.PathFinder.find_spec(_HTTPX_CLI, list(httpx.__path__))
            if spec is None or spec.loader is None:
                raise ImportError(f"{_HTTPX_CLI} cannot be found", name=_HTTPX_CLI)
            module.__spec__ = spec
            module.__loader__ = spec.loader
            module.__file__ = spec.origin
            module.__package__ = "httpx"
            spec.loader.exec_module(module)
            module._connectory_loaded = True
        finally:
            module._connectory_loading = False


def _httpx_main(*args: Any, **kwargs: Any) -> Any:
    """Run httpx's own ``httpx`` command, loading it first."""
    module = sys.modules.get(_HTTPX_CLI)
    if module is None:
        module = importlib.import_module(_HTTPX_CLI)
    if isinstance(module, _DeferredHttpxCli):
        _load_httpx_cli(module)
    return module.main(*args, **kwargs)


def defer_httpx_cli() -> None:
    """Let ``import httpx`` skip its command-line client until ``httpx.main`` is used.

    Does nothing once httpx (or its command line) is imported, or when something else already
    decided what ``httpx._main`` is (the CLI's own marker, a test's stand-in).
    """
    if "httpx" in sys.modules or _HTTPX_CLI in sys.modules:
        return
    stand_in = _DeferredHttpxCli(_HTTPX_CLI, "Deferred: loaded by connectory.startup when used.")
    # `from ._main import main` in httpx's __init__ binds this function, not the module's
    # attribute lookup, so importing httpx does not load the real module.
    stand_in.main = _httpx_main  # type: ignore[attr-defined]
    sys.modules[_HTTPX_CLI] = stand_in


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector off inside the block (when it is on).

    For imports only: the objects they create are module-level and live on, so collecting
    while they are made is wasted work (about 15 ms of loading the runtime and the spec).
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def settle_heap_for_serving(young_threshold: int) -> None:
    """Tune the cyclic garbage collector for a long-running server, once it has started.

    Two sources of latency spikes under load, both the collector's, not the requests':

    - Everything start-up made (modules, pydantic validators, connector specs, the app) lives
      as long as the process, yet every full collection scans it again: tens of milliseconds
      during which no request moves. :func:`gc.freeze` moves it into the permanent generation
      (after a last collection, so no garbage is kept), which collections skip.
    - Fifty requests in flight keep a few thousand young objects alive at any moment; with
      Python's default threshold (700 allocations) most of them survive a young collection
      and are promoted, to be scanned again by the older generations. *young_threshold*
      raises that threshold (older generations keep their ratios), so young collections run
      far less often and promote less of what a request is about to free anyway.

    Args:
        young_threshold: The first generation's threshold; 0 leaves the collector as it is.
    """
    if young_threshold <= 0 or not gc.isenabled():
        return
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)


def mark_one_shot() -> None:
    """Record that this process runs one command and ends (the CLI's quick exit)."""
    global _one_shot
    _one_shot = True


def freeze_loaded_objects() -> bool:
    """In a one-shot process, exempt every object alive now from later collections.

    What is alive once the modules and the connector are loaded (classes, models, validators,
    about 45,000 tracked objects) stays alive until the process ends, yet each full
    collection would scan it again: reading 1,000 records per page, the records of a page
    outlive the young generations and trigger full collections, each 5-15 ms. Cycles made
    later are still collected, so memory stays flat however long the read. Anywhere else
    (tests running commands in-process, the Python API) nothing is frozen. No collection runs
    first (it would cost the command more than it saves): cyclic garbage left by loading is
    kept until the process exits, a fixed amount that does not grow with the read.

    Returns:
        True when the objects were frozen.
    """
    if not _one_shot:
        return False
    gc.freeze()
    return True
