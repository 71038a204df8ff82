"""What the cyclic garbage collector costs a whole program: collections and CPU per generation.

``python -m bench.gc_probe connectory call ... --all-pages`` runs the CLI's own entry point,
``python -m bench.gc_probe raw BASE_URL PAGING SIZE`` runs ``bench/raw_script.py``; either way
the last stderr line is JSON: per generation, the collections made and the CPU seconds spent in
them (``gc.callbacks``, process time), and the objects the collector still tracks at the end.
Output goes where the program sends it (redirect stdout to /dev/null as the benchmarks do).
"""

from __future__ import annotations

import gc
import json
import os
import runpy
import sys
import time
from typing import Any

_spent: dict[int, list[float]] = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
_started = [0.0]


def _observe(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.process_time()
        return
    entry = _spent[info["generation"]]
    entry[0] += 1
    entry[1] += time.process_time() - _started[0]


def _report() -> None:
    report = {
        f"gen{generation}": {"collections": int(count), "cpu_seconds": round(cpu, 4)}
        for generation, (count, cpu) in _spent.items()
    }
    report["tracked_at_exit"] = {"objects": len(gc.get_objects())}
    sys.stderr.write(json.dumps(report) + "\n")
    sys.stderr.flush()


def main() -> None:
    """Run the program named on the command line under the collector's callbacks."""
    program, args = sys.argv[1], sys.argv[2:]
    gc.callbacks.append(_observe)
    if program == "raw":
        sys.argv = ["raw_script", *args]
        try:
            runpy.run_module("bench.raw_script", run_name="__main__")
        finally:
            _report()
        return
    quick_exit = os._exit

    def report_and_exit(code: int) -> None:  # the CLI ends one-shot commands with os._exit
        _report()
        quick_exit(code)

    os._exit = report_and_exit  # type: ignore[assignment]
    from connectory.cli.app import main as cli_main

    sys.argv = [program, *args]
    cli_main()


if __name__ == "__main__":
    main()
