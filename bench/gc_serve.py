"""``python -m bench.gc_serve SETTING serve ...``: ``connectory`` with a GC setting, for measuring.

*SETTING* is ``freeze`` (the modules a server loads are imported, collected once, then frozen:
moved out of the collector's generations), a gen0 threshold (``50000``), ``log`` (each
collection of the oldest generation, its duration and the objects it looked at, appended to
the file named by ``CONNECTORY_BENCH_GC_LOG``), or several joined by ``+`` (``freeze+log``).
Only for benchmarks (``bench.events_intake --after-gc``): server-wide GC
settings at start-up belong to ``connectory serve`` itself.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from typing import Any


def apply(setting: str) -> None:
    """Apply *setting* (see the module's docstring) to this process."""
    for part in setting.split("+"):
        if part == "freeze":
            import uvicorn  # noqa: F401  # what serve imports, loaded before freezing

            import connectory.api
            import connectory.cli.app  # noqa: F401

            gc.collect()
            gc.freeze()
        elif part == "log":
            gc.callbacks.append(_logger(os.environ["CONNECTORY_BENCH_GC_LOG"]))
        else:
            gc.set_threshold(int(part), *gc.get_threshold()[1:])


def _logger(path: str) -> Any:
    started = [0.0]

    def log(phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            started[0] = time.perf_counter()
            return
        took = 1000 * (time.perf_counter() - started[0])
        tracked = len(gc.get_objects(2))
        with open(path, "a") as out:
            out.write(f"{time.time():.3f} gen2 {took:.1f} ms, {tracked} objects in gen2\n")

    return log


def main() -> None:
    """Apply the setting in ``argv[1]``, then run the CLI with the remaining arguments."""
    apply(sys.argv[1])
    sys.argv = ["connectory", *sys.argv[2:]]
    from connectory.cli.app import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
