"""Instructions per concurrent call, counted by callgrind: a measure the machine's load cannot move.

``python -m bench.calls_instructions --tree DIR [--tree DIR ...] [--no-raw]``

Each *DIR* is a ``src`` directory (as for ``bench.ab_trees``). For the raw aiohttp loop and
Connectory from each tree, the calls scenario (50 concurrent callers on one connection, as
``bench.run --only calls``) runs twice under ``valgrind --tool=callgrind``, with
:data:`FEW` and :data:`MANY` calls; the difference of the two instruction counts divided by
the difference of the calls is the cost of one call, start-up and imports cancelled out. The
bench API runs outside valgrind, in its own process. Needs valgrind; a tree takes a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.run import bench_server

ROOT = Path(__file__).resolve().parent.parent

#: The two run lengths whose difference is measured.
FEW, MANY = 300, 1800


def _child(reader: str, url: str, calls: int) -> None:
    """Run the calls scenario once (inside valgrind)."""
    from bench.readers import CONNECTOR, connectory_concurrent, raw_concurrent_aiohttp

    kwargs = {"base_url": url, "calls": calls, "records": 1000, "callers": 50}
    if reader == "raw":
        import aiohttp  # noqa: F401 - imported before the calls, as in bench.readers

        asyncio.run(raw_concurrent_aiohttp(**kwargs))
        return
    import connectory.http.aiohttp_transport  # noqa: F401 - loaded as in a running service
    from connectory import load_connector

    asyncio.run(connectory_concurrent(**kwargs, spec=load_connector(CONNECTOR)))


def _instructions(reader: str, src: Path, url: str, calls: int) -> int:
    """Instructions callgrind counts for one run of *calls* calls."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={tmp}/callgrind.out",
            sys.executable,
            "-m",
            "bench.calls_instructions",
            "--child",
            reader,
            url,
            str(calls),
        ]
        env = dict(os.environ, PYTHONPATH=f"{src}{os.pathsep}{ROOT}")
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from callgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_call(reader: str, src: Path, url: str) -> float:
    """Instructions of one call: (I(MANY) - I(FEW)) / (MANY - FEW)."""
    few = _instructions(reader, src, url, FEW)
    many = _instructions(reader, src, url, MANY)
    return (many - few) / (MANY - FEW)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--child"]:
        _child(args[1], args[2], int(args[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", required=True, help="a src directory")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw aiohttp loop")
    options = parser.parse_args(args)
    with bench_server(1000) as server:
        raw = None if options.no_raw else per_call("raw", ROOT / "src", server.url)
        if raw is not None:
            print(f"raw aiohttp: {raw:,.0f} instructions per call", flush=True)
        for tree in options.tree:
            own = per_call("connectory", Path(tree), server.url)
            ratio = f"; ratio raw/Connectory {raw / own:.3f}" if raw is not None else ""
            print(f"{tree}: {own:,.0f} instructions per call{ratio}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
