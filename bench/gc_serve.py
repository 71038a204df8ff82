"""``python -m bench.gc_serve SETTING serve ...``: ``connectory`` with a GC setting, for measuring.

*SETTING* is ``freeze`` (the modules a server loads are imported, collected once, then frozen:
moved out of the collector's generations), a gen0 threshold (``50000``), or both
(``freeze+50000``). Only for benchmarks (``bench.events_intake --after-gc``): server-wide GC
settings at start-up belong to ``connectory serve`` itself.
"""

from __future__ import annotations

import gc
import sys


def apply(setting: str) -> None:
    """Apply *setting* (see the module's docstring) to this process."""
    for part in setting.split("+"):
        if part == "freeze":
            import uvicorn  # noqa: F401  # what serve imports, loaded before freezing

            import connectory.api
            import connectory.cli.app  # noqa: F401

            gc.collect()
            gc.freeze()
        else:
            gc.set_threshold(int(part), *gc.get_threshold()[1:])


def main() -> None:
    """Apply the setting in ``argv[1]``, then run the CLI with the remaining arguments."""
    apply(sys.argv[1])
    sys.argv = ["connectory", *sys.argv[2:]]
    from connectory.cli.app import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
