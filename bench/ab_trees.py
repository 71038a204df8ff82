"""Two source trees, same run: CPU seconds of Connectory before and after a change.

``python -m bench.ab_trees --before DIR [--after DIR] [--scenario calls|cli] [--rounds 4]
[--output FILE]``

*DIR* is a ``src`` directory (``git archive <commit> src | tar -x -C /tmp/before`` gives one).
Each round runs the raw baseline, then Connectory from the *after* tree, then from the
*before* tree, each in a fresh process (after one warm-up round), and reports CPU seconds
(user + system of the process: steadier than rates on a shared machine) and the ratio raw /
Connectory of each round, with the load average:

- ``calls``: 5,000 ``call()`` from 50 concurrent callers on one connection against the raw
  aiohttp loop (``bench/readers.py``, as ``bench.run --only calls``);
- ``cli``: ``connectory call ... --all-pages`` reading 100,000 records to /dev/null at 100 and
  1,000 per page against ``bench/raw_script.py``, timed from spawn to exit.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.run import API_KEY, BIN, CONNECTOR, bench_server

ROOT = Path(__file__).resolve().parent.parent


def _child_cpu(command: list[str], env: dict[str, str]) -> float:
    """CPU seconds (user + system) of *command*, run to completion with output discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def _reader_cpu(reader: str, kwargs: dict[str, object], env: dict[str, str]) -> float:
    """CPU seconds of one bench/readers.py reader (measured inside its process)."""
    request = json.dumps({"reader": reader, "kwargs": kwargs})
    output = subprocess.run(
        [sys.executable, "-m", "bench.readers", request],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(output.strip().splitlines()[-1])
    if data["count"] != kwargs["calls"]:
        raise AssertionError(f"{reader}: {data['count']} calls instead of {kwargs['calls']}")
    return float(data["cpu"])


def _report(title: str, cpu: dict[str, list[float]], results: list[dict[str, object]]) -> None:
    load = Path("/proc/loadavg").read_text().strip()
    results.append({"scenario": title, "cpu_seconds": cpu, "load_average_after": load})
    print(title)
    for tree in ("after", "before"):
        ratios = [raw / own for raw, own in zip(cpu["raw"], cpu[tree], strict=True)]
        print(
            f"  {tree}: CPU s {[round(x, 2) for x in cpu[tree]]}, raw "
            f"{[round(x, 2) for x in cpu['raw']]}; ratio raw/Connectory median "
            f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
        )
    print(f"  load average {load}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the src directory before the change")
    parser.add_argument("--after", default=str(ROOT / "src"), help="the src directory after")
    parser.add_argument("--scenario", choices=("calls", "cli"), default="calls")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--output", type=Path, help="also write the CPU seconds here as JSON")
    args = parser.parse_args(argv)
    results: list[dict[str, object]] = []
    try:
        return _run(args, results)
    finally:
        if args.output is not None:
            args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def _run(args: argparse.Namespace, results: list[dict[str, object]]) -> int:
    envs = {
        tree: dict(os.environ, PYTHONPATH=f"{path}{os.pathsep}{ROOT}")
        for tree, path in (("after", args.after), ("before", args.before), ("raw", args.after))
    }
    if args.scenario == "calls":
        with bench_server(1000) as server:
            kwargs = {"base_url": server.url, "calls": 5000, "records": 1000, "callers": 50}
            cpu: dict[str, list[float]] = {"raw": [], "after": [], "before": []}
            for round_ in range(args.rounds + 1):
                for tree in cpu:
                    reader = "raw_concurrent_aiohttp" if tree == "raw" else "connectory_concurrent"
                    spent = _reader_cpu(reader, kwargs, envs[tree])
                    if round_:  # the first round warms up
                        cpu[tree].append(spent)
            _report("5,000 calls, 50 concurrent callers, one connection", cpu, results)
        return 0
    with tempfile.TemporaryDirectory() as tmp, bench_server(100_000) as server:
        credentials = Path(tmp) / "credentials.json"
        credentials.write_text(json.dumps({"api_key": API_KEY}))
        for size in (100, 1000):
            raw = [sys.executable, "-m", "bench.raw_script", server.url, "pages", str(size)]
            cli = [
                str(BIN / "connectory"),
                "call",
                str(CONNECTOR),
                f"pages_{size}",
                "--all-pages",
                "--credentials",
                str(credentials),
                "--base-url",
                server.url,
            ]
            cpu = {"raw": [], "after": [], "before": []}
            for round_ in range(args.rounds + 1):
                for tree in cpu:
                    spent = _child_cpu(raw if tree == "raw" else cli, envs[tree])
                    if round_:
                        cpu[tree].append(spent)
            _report(f"CLI reading 100,000 records, {size}/page", cpu, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
