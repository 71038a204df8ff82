"""Run the benchmarks: ``python -m bench.run`` (or ``make bench``); see bench/README.md.

Every scenario runs the raw httpx loop (A) and Connectory (B) alternately, A B A B, one fresh
process per run, after one warm-up run each; every run is checked (record count, and the
server's request count) before its time counts. The table reports medians and the median of
the per-pair ratios (Connectory / raw, on records or calls per second).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.server import API_KEY

ROOT = Path(__file__).resolve().parent.parent
CONNECTOR = ROOT / "bench" / "connector.yaml"
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
DOC_START = "<!-- bench:results:start -->"
DOC_END = "<!-- bench:results:end -->"
BIN = Path(sys.executable).parent


class BenchError(RuntimeError):
    """A run did not do the work it should have (wrong record or request count)."""


@dataclass
class Run:
    """One measured run of one reader."""

    count: int
    seconds: float
    cpu: float
    peak_rss_mib: float
    requests: int = 0

    @property
    def rate(self) -> float:
        return self.count / self.seconds


@dataclass
class Reader:
    """A way of doing the scenario's work; ``run`` returns one measured, checked run."""

    label: str
    run: Callable[[], Run]
    role: str = "connectory"  # "raw" (the baseline), "connectory", or "reference"
    #: Another reader of the scenario this one is also compared with (the CLI with the raw
    #: loop run as a program: both pay for a process start-up).
    also_compare_to: str | None = None


@dataclass
class Scenario:
    name: str
    title: str
    unit: str
    expected_count: int
    expected_requests: int
    readers: list[Reader]
    target: dict[str, float] = field(default_factory=dict)  # reader label -> minimum ratio
    runs: dict[str, list[Run]] = field(default_factory=dict)
    #: reader label -> most microseconds it may add per call to the raw reader (same run).
    max_added_us: dict[str, float] = field(default_factory=dict)


# --- the server ------------------------------------------------------------------------------


class BenchServer:
    """bench/server.py in its own process, plus its control endpoints."""

    def __init__(self, records: int, latency_ms: float = 0.0) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.server",
                "--port",
                "0",
                "--records",
                str(records),
                "--latency-ms",
                str(latency_ms),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.match(r"listening (\d+)", line)
        if match is None:
            self.close()
            raise BenchError(f"the bench server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{match.group(1)}"
        self._control = httpx.Client(base_url=self.url, timeout=10)

    def reset(self, records: int | None = None) -> None:
        self._control.get("/__reset", params={"records": records} if records else None)

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._control.get("/__stats").json()
        return result

    def close(self) -> None:
        if hasattr(self, "_control"):
            self._control.close()
        self.process.terminate()
        self.process.wait(timeout=10)


@contextmanager
def bench_server(records: int, latency_ms: float = 0.0) -> Iterator[BenchServer]:
    server = BenchServer(records, latency_ms)
    try:
        yield server
    finally:
        server.close()


# --- running readers -------------------------------------------------------------------------


#: Run the Python readers in the runner's own process (the smoke test: fast, but the peak RSS
#: and the cold start of a fresh process are then not measured).
IN_PROCESS = False


def python_reader(server: BenchServer, reader: str, profile: str | None = None, **kwargs: Any):
    """A reader from bench/readers.py, run in a fresh Python process."""

    def run() -> Run:
        server.reset()
        if IN_PROCESS:
            from bench.readers import run_reader

            data = run_reader(reader, {"base_url": server.url, **kwargs})
            return Run(**data, requests=server.stats()["requests"])
        request: dict[str, Any] = {"reader": reader, "kwargs": {"base_url": server.url, **kwargs}}
        if profile:
            request["profile"] = profile
        done = subprocess.run(
            [sys.executable, "-m", "bench.readers", json.dumps(request)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"{reader} failed:\n{done.stderr[-3000:]}")
        data = json.loads(done.stdout.strip().splitlines()[-1])
        return Run(
            count=data["count"],
            seconds=data["seconds"],
            cpu=data["cpu"],
            peak_rss_mib=data["peak_rss_mib"],
            requests=server.stats()["requests"],
        )

    return run


_PROGRESS = re.compile(r"([\d,]+) page\(s\), ([\d,]+) record\(s\)")


def process_reader(server: BenchServer, command: list[str], label: str) -> Callable[[], Run]:
    """A program writing JSON Lines to /dev/null, timed from spawn to exit.

    The record count comes from the program's final progress line on stderr
    (``N page(s), M record(s)``).
    """

    def run() -> Run:
        server.reset()
        with (
            open(os.devnull, "wb") as devnull,
            tempfile.TemporaryFile("w+") as errors,
        ):
            started = time.perf_counter()
            process = subprocess.Popen(command, stdout=devnull, stderr=errors, cwd=ROOT)
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
            errors.seek(0)
            stderr = errors.read()
        if process.returncode != 0:
            raise BenchError(f"{label} failed ({process.returncode}):\n{stderr[-3000:]}")
        matches = _PROGRESS.findall(stderr)
        if not matches:
            raise BenchError(f"no progress line from {label}:\n{stderr[-3000:]}")
        return Run(
            count=int(matches[-1][1].replace(",", "")),
            seconds=seconds,
            cpu=usage.ru_utime + usage.ru_stime,
            peak_rss_mib=usage.ru_maxrss / 1024,
            requests=server.stats()["requests"],
        )

    return run


def cli_reader(server: BenchServer, operation: str, credentials: Path) -> Callable[[], Run]:
    """``connectory call --all-pages`` writing JSON Lines to /dev/null, timed from spawn to exit."""
    command = [
        str(BIN / "connectory"),
        "call",
        str(CONNECTOR),
        operation,
        "--all-pages",
        "--credentials",
        str(credentials),
        "--base-url",
        server.url,
    ]
    return process_reader(server, command, "connectory call")


def raw_script_reader(server: BenchServer, paging: str, size: int) -> Callable[[], Run]:
    """bench/raw_script.py: the raw loop as a program, timed like the CLI."""
    command = [sys.executable, "-m", "bench.raw_script", server.url, paging, str(size)]
    return process_reader(server, command, "the raw script")


def check(scenario: Scenario, label: str, run: Run) -> None:
    if run.count != scenario.expected_count:
        raise BenchError(
            f"{scenario.name}/{label}: {run.count} records or calls, "
            f"expected {scenario.expected_count}"
        )
    if run.requests != scenario.expected_requests:
        raise BenchError(
            f"{scenario.name}/{label}: the server saw {run.requests} requests, "
            f"expected {scenario.expected_requests}"
        )


def run_scenario(scenario: Scenario, runs: int, warmup: int, log: Callable[[str], None]) -> None:
    """Warm up, then alternate the readers *runs* times, checking every run."""
    for _ in range(warmup):
        for reader in scenario.readers:
            check(scenario, reader.label, reader.run())
    for index in range(runs):
        for reader in scenario.readers:
            result = reader.run()
            check(scenario, reader.label, result)
            scenario.runs.setdefault(reader.label, []).append(result)
            log(
                f"  {scenario.name} run {index + 1}/{runs} {reader.label}: "
                f"{result.rate:,.0f} {scenario.unit}/s, {result.cpu:.2f} s CPU, "
                f"{result.peak_rss_mib:.0f} MiB"
            )


def summarise(scenario: Scenario) -> dict[str, Any]:
    """Medians per reader and the median per-pair ratio against the raw reader."""
    raw_label = next(r.label for r in scenario.readers if r.role == "raw")
    raw_runs = scenario.runs[raw_label]
    readers = []
    for reader in scenario.readers:
        runs = scenario.runs[reader.label]
        ratios = [run.rate / base.rate for run, base in zip(runs, raw_runs, strict=True)]
        ratio = statistics.median(ratios)
        target = scenario.target.get(reader.label)
        also: dict[str, Any] = {}
        if reader.also_compare_to:
            other = scenario.runs[reader.also_compare_to]
            also = {
                "compared_to": reader.also_compare_to,
                "ratio_to_it": statistics.median(
                    run.rate / base.rate for run, base in zip(runs, other, strict=True)
                ),
            }
        # Microseconds added per call or record, per pair (wall time: what a caller waits).
        added = statistics.median(
            (run.seconds - base.seconds) / run.count * 1e6
            for run, base in zip(runs, raw_runs, strict=True)
        )
        limit = scenario.max_added_us.get(reader.label)
        readers.append(
            {
                "label": reader.label,
                "role": reader.role,
                "added_us": added,
                "max_added_us": limit,
                "added_met": None if limit is None else added <= limit,
                "rate": statistics.median(run.rate for run in runs),
                "seconds": statistics.median(run.seconds for run in runs),
                "cpu": statistics.median(run.cpu for run in runs),
                "peak_rss_mib": max(run.peak_rss_mib for run in runs),
                "ratio": ratio,
                "ratios": ratios,
                "target": target,
                "met": None if target is None else ratio >= target,
                **also,
            }
        )
    return {
        "name": scenario.name,
        "title": scenario.title,
        "unit": scenario.unit,
        "count": scenario.expected_count,
        "requests": scenario.expected_requests,
        "readers": readers,
    }


# --- the scenarios ---------------------------------------------------------------------------


def read_scenarios(
    server: BenchServer,
    records: int,
    credentials: Path,
    sizes: list[int],
    pagings: list[str],
    with_async: bool,
) -> list[Scenario]:
    scenarios = []
    for paging in pagings:
        for size in sizes:
            operation = f"{paging}_{size}"
            readers = [
                Reader(
                    "raw httpx (sync)",
                    python_reader(server, "raw_read", paging=paging, size=size),
                    "raw",
                ),
                Reader(
                    "Connectory Python API",
                    python_reader(server, "connectory_read", paging=paging, size=size),
                ),
                Reader(
                    "raw httpx script > /dev/null",
                    raw_script_reader(server, paging, size),
                    "reference",
                ),
                Reader(
                    "Connectory CLI > /dev/null",
                    cli_reader(server, operation, credentials),
                    also_compare_to="raw httpx script > /dev/null",
                ),
            ]
            if with_async and paging == "pages" and size == sizes[0]:
                readers.insert(
                    1,
                    Reader(
                        "raw httpx (async)",
                        python_reader(server, "raw_read_async", paging=paging, size=size),
                        "reference",
                    ),
                )
            scenarios.append(
                Scenario(
                    name=f"read-{paging}-{size}",
                    title=f"Read {records:,} records, {size}/page, "
                    f"{'page-number' if paging == 'pages' else 'cursor'} paging",
                    unit="records",
                    expected_count=records,
                    expected_requests=math.ceil(records / size),
                    readers=readers,
                    target={"Connectory Python API": 0.85, "Connectory CLI > /dev/null": 0.75},
                )
            )
    return scenarios


def collection_scenarios(
    server: BenchServer, records: int, sizes: list[int], pagings: list[str]
) -> list[Scenario]:
    """collection.list() against iter_records on the same operation (the baseline here)."""
    scenarios = []
    for paging in pagings:
        for size in sizes:
            readers = [
                Reader(
                    "Connectory iter_records",
                    python_reader(server, "connectory_read", paging=paging, size=size),
                    "raw",
                ),
                Reader(
                    "Connectory collection.list()",
                    python_reader(server, "collection_read", paging=paging, size=size),
                ),
                # What checking every page against the fields schema costs (docs/collections.md).
                Reader(
                    "collection.list(), pages not checked",
                    python_reader(server, "collection_read_unchecked", paging=paging, size=size),
                    "reference",
                ),
            ]
            scenarios.append(
                Scenario(
                    name=f"collection-{paging}-{size}",
                    title=f"List {records:,} records through a collection, {size}/page, "
                    f"{'page-number' if paging == 'pages' else 'cursor'} paging "
                    "(ratio to iter_records on the same operation)",
                    unit="records",
                    expected_count=records,
                    expected_requests=math.ceil(records / size),
                    readers=readers,
                    target={"Connectory collection.list()": 0.9},
                )
            )
    return scenarios


def pipeline_readers(
    server: BenchServer, stream: str, folder: Path, credentials: Path
) -> tuple[Callable[[], Run], Callable[[], Run]]:
    """``connectory tap`` and ``connectory airbyte read`` of one stream, to /dev/null."""
    config = folder / f"pipeline-{stream}.json"
    config.write_text(
        json.dumps({"credentials": json.loads(credentials.read_text()), "base_url": server.url})
    )
    singer_catalog = folder / f"singer-{stream}.json"
    singer_catalog.write_text(
        json.dumps(
            {
                "streams": [
                    {
                        "tap_stream_id": stream,
                        "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}],
                    }
                ]
            }
        )
    )
    airbyte_catalog = folder / f"airbyte-{stream}.json"
    airbyte_catalog.write_text(
        json.dumps(
            {
                "streams": [
                    {
                        "stream": {"name": stream},
                        "sync_mode": "full_refresh",
                        "destination_sync_mode": "overwrite",
                    }
                ]
            }
        )
    )
    common = ["--config", str(config), "--connector", str(CONNECTOR)]
    tap = [str(BIN / "connectory"), "tap", *common, "--catalog", str(singer_catalog)]
    read = [str(BIN / "connectory"), "airbyte", "read", *common, "--catalog", str(airbyte_catalog)]
    return (
        process_reader(server, tap, "connectory tap"),
        process_reader(server, read, "connectory airbyte read"),
    )


def pipeline_scenarios(
    server: BenchServer,
    records: int,
    credentials: Path,
    sizes: list[int],
    pagings: list[str],
    folder: Path,
) -> list[Scenario]:
    """The Singer tap and the Airbyte source against ``connectory call --all-pages``."""
    scenarios = []
    for paging in pagings:
        for size in sizes:
            stream = f"{paging}_{size}"
            tap, read = pipeline_readers(server, stream, folder, credentials)
            readers = [
                Reader(
                    "connectory call --all-pages", cli_reader(server, stream, credentials), "raw"
                ),
                Reader("connectory tap (Singer)", tap),
                Reader("connectory airbyte read", read),
            ]
            scenarios.append(
                Scenario(
                    name=f"pipeline-{paging}-{size}",
                    title=f"Pipelines: {records:,} records to /dev/null, {size}/page, "
                    f"{'page-number' if paging == 'pages' else 'cursor'} paging (ratio to "
                    "connectory call --all-pages on the same operation)",
                    unit="records",
                    expected_count=records,
                    expected_requests=math.ceil(records / size),
                    readers=readers,
                )
            )
    return scenarios


def call_scenarios(server: BenchServer, records: int, calls: int, callers: int) -> list[Scenario]:
    common = {"calls": calls, "records": records}
    sequential = Scenario(
        name="calls-sequential",
        title=f"{calls:,} sequential calls (auth, response schema, resilience on)",
        unit="calls",
        expected_count=calls,
        expected_requests=calls,
        readers=[
            Reader("raw httpx (sync)", python_reader(server, "raw_calls", **common), "raw"),
            Reader("Connectory call()", python_reader(server, "connectory_calls", **common)),
        ],
        target={"Connectory call()": 0.8},
    )
    concurrent = Scenario(
        name="calls-concurrent",
        title=f"{calls:,} calls, {callers} concurrent callers on one connection",
        unit="calls",
        expected_count=calls,
        expected_requests=calls,
        readers=[
            Reader(
                "raw aiohttp",
                python_reader(server, "raw_concurrent_aiohttp", callers=callers, **common),
                "raw",
            ),
            Reader(
                "Connectory call()",
                python_reader(server, "connectory_concurrent", callers=callers, **common),
            ),
            Reader(
                "raw httpx (async)",
                python_reader(server, "raw_concurrent", callers=callers, **common),
                "reference",
            ),
        ],
        target={"Connectory call()": 0.85},
    )
    return [sequential, concurrent]


def javascript_scenarios(server: BenchServer, records: int, calls: int) -> list[Scenario]:
    """A trivial pre-request hook, and a method making the call, against plain call()."""
    common = {"calls": calls, "records": records}

    def js(operation: str, hook: bool, isolation: str) -> Callable[[], Run]:
        return python_reader(
            server,
            "connectory_javascript_calls",
            operation=operation,
            hook=hook,
            isolation=isolation,
            **common,
        )

    hook_in, hook_worker = (
        "trivial pre-request hook (in process)",
        "trivial pre-request hook (worker process)",
    )
    method_in, method_worker = (
        "method making the call (in process)",
        "method making the call (worker process)",
    )
    return [
        Scenario(
            name="javascript",
            title=f"{calls:,} sequential calls, connector JavaScript",
            unit="calls",
            expected_count=calls,
            expected_requests=calls,
            readers=[
                Reader(
                    "Connectory call(), no code",
                    python_reader(server, "connectory_calls", **common),
                    "raw",
                ),
                Reader(hook_in, js("get_item", True, "inprocess")),
                Reader(hook_worker, js("get_item", True, "process")),
                Reader(method_in, js("get_item_js", False, "inprocess")),
                Reader(method_worker, js("get_item_js", False, "process")),
            ],
            max_added_us={hook_in: 120.0},
        )
    ]


def measure_startup(server: BenchServer, credentials: Path, runs: int) -> dict[str, Any]:
    """Seconds from spawning a process to the server seeing its first request."""

    def first_request(command: list[str]) -> float:
        server.reset()
        started = time.monotonic()  # CLOCK_MONOTONIC is system-wide: comparable across processes
        subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
        first = server.stats()["first_request_at"]
        if first is None:
            raise BenchError(f"no request from {command[:3]}")
        return float(first) - started

    cli = [
        str(BIN / "connectory"),
        "call",
        str(CONNECTOR),
        "get_item",
        "-p",
        "id=1",
        "--credentials",
        str(credentials),
        "--base-url",
        server.url,
    ]
    raw = [
        sys.executable,
        "-c",
        f"import httpx; httpx.get('{server.url}/items/1', headers={{'X-Api-Key': '{API_KEY}'}})",
    ]
    first_request(cli)  # warm the file cache
    cli_times, raw_times = [], []
    for _ in range(runs):
        cli_times.append(first_request(cli))
        raw_times.append(first_request(raw))
    return {
        "cli_seconds": statistics.median(cli_times),
        "raw_seconds": statistics.median(raw_times),
        "cli_all": cli_times,
        "raw_all": raw_times,
        "target_seconds": 0.5,
        "met": statistics.median(cli_times) <= 0.5,
    }


def measure_memory(
    server: BenchServer, small: int, large: int, credentials: Path, runs: int
) -> dict[str, Any]:
    """Peak RSS of the CLI and the Python API reading *small* and then *large* records."""
    result: dict[str, Any] = {"small": small, "large": large}
    for records in (small, large):
        server.reset(records)
        expected = Scenario("memory", "", "records", records, math.ceil(records / 1000), [])
        cli_runs, api_runs, collection_runs = [], [], []
        for _ in range(runs):
            cli = cli_reader(server, "pages_1000", credentials)()
            check(expected, "cli", cli)
            cli_runs.append(cli)
            api = python_reader(server, "connectory_read", paging="pages", size=1000)()
            check(expected, "api", api)
            api_runs.append(api)
            listed = python_reader(server, "collection_read", paging="pages", size=1000)()
            check(expected, "collection", listed)
            collection_runs.append(listed)
        result[f"cli_{records}"] = max(run.peak_rss_mib for run in cli_runs)
        result[f"api_{records}"] = max(run.peak_rss_mib for run in api_runs)
        result[f"collection_{records}"] = max(run.peak_rss_mib for run in collection_runs)
        result[f"cli_rate_{records}"] = statistics.median(run.rate for run in cli_runs)
    server.reset(small)
    result["cli_growth"] = result[f"cli_{large}"] / result[f"cli_{small}"] - 1
    result["api_growth"] = result[f"api_{large}"] / result[f"api_{small}"] - 1
    result["collection_growth"] = result[f"collection_{large}"] / result[f"collection_{small}"] - 1
    result["met"] = result[f"cli_{small}"] <= 60 and result["cli_growth"] <= 0.10
    return result


# --- reporting -------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "httpx": installed("httpx"),
        "aiohttp": installed("aiohttp"),
        "orjson": installed("orjson"),
    }


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"Measured {report['date']} on {report['machine']['cpu']}, "
        f"{report['machine']['cores']} cores, Python {report['machine']['python']}, "
        f"httpx {report['machine']['httpx']}, aiohttp {report['machine']['aiohttp']}, "
        f"orjson {report['machine']['orjson']}; {report['runs']} runs after a warm-up, "
        "medians. Ratio = Connectory / raw loop on records (or calls) per second, "
        "median of the per-pair ratios.",
        "",
        "| scenario | reader | rate /s | wall s | CPU s | peak RSS MiB | ratio | target |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for scenario in report["scenarios"]:
        for reader in scenario["readers"]:
            target = reader["target"]
            verdict = ""
            if target is not None:
                verdict = f"{'met' if reader['met'] else 'MISSED'} (>= {target:.2f})"
            elif reader["role"] == "raw":
                verdict = "baseline"
            lines.append(
                f"| {scenario['title']} | {reader['label']} | {reader['rate']:,.0f} | "
                f"{reader['seconds']:.2f} | {reader['cpu']:.2f} | "
                f"{reader['peak_rss_mib']:.0f} | {reader['ratio']:.2f} | {verdict} |"
            )
    added = [
        f"{reader['label']}: {reader['added_us']:+.0f} µs per call"
        + (
            f" (target <= {reader['max_added_us']:.0f} µs: "
            f"{'met' if reader['added_met'] else 'MISSED'})"
            if reader.get("max_added_us") is not None
            else ""
        )
        for scenario in report["scenarios"]
        if scenario["name"] == "javascript"
        for reader in scenario["readers"]
        if reader["role"] != "raw"
    ]
    if added:
        lines += [
            "",
            "Connector JavaScript, added to a plain call (same run): " + "; ".join(added) + ".",
        ]
    against_script = [
        f"{scenario['title']}: {reader['ratio_to_it']:.2f}"
        for scenario in report["scenarios"]
        for reader in scenario["readers"]
        if "ratio_to_it" in reader
    ]
    if against_script:
        lines += [
            "",
            "The CLI against the raw loop run as a program (`bench/raw_script.py`: the same "
            "loop writing the same JSON Lines, timed from spawn to exit like the CLI): "
            + "; ".join(against_script)
            + ".",
        ]
    startup = report.get("startup")
    if startup:
        lines += [
            "",
            f"CLI start-up to first request: **{startup['cli_seconds']:.3f} s** median "
            f"(target <= 0.5 s: {'met' if startup['met'] else 'MISSED'}); a bare "
            f"`python -c 'import httpx; httpx.get(...)'` takes {startup['raw_seconds']:.3f} s.",
        ]
    memory = report.get("memory")
    if memory:
        small, large = memory["small"], memory["large"]
        lines += [
            "",
            f"Peak RSS reading with the CLI (1,000/page): **{memory[f'cli_{small}']:.1f} MiB** "
            f"for {small:,} records, **{memory[f'cli_{large}']:.1f} MiB** for {large:,} "
            f"({memory['cli_growth']:+.1%}); Python API {memory[f'api_{small}']:.1f} MiB and "
            f"{memory[f'api_{large}']:.1f} MiB ({memory['api_growth']:+.1%}); collection.list() "
            f"{memory.get(f'collection_{small}', 0):.1f} MiB and "
            f"{memory.get(f'collection_{large}', 0):.1f} MiB "
            f"({memory.get('collection_growth', 0):+.1%}). Target <= 60 MiB "
            f"and within 10%: {'met' if memory['met'] else 'MISSED'}.",
        ]
    return "\n".join(lines) + "\n"


def update_doc(markdown: str) -> None:
    """Replace the results block of docs/benchmarks.md (other sections are left alone)."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    block = f"{DOC_START}\n{markdown}{DOC_END}"
    if DOC_START in text and DOC_END in text:
        head, rest = text.split(DOC_START, 1)
        _, tail = rest.split(DOC_END, 1)
        text = head + block + tail
    else:
        text = text + ("\n" if text else "") + block + "\n"
    DOC.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Connectory benchmarks (see bench/README.md).")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000, help="records for the RSS check")
    parser.add_argument("--calls", type=int, default=5_000)
    parser.add_argument("--callers", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--sizes", default="100,1000", help="page sizes, comma-separated")
    parser.add_argument("--pagings", default="pages,cursor", help="pages and/or cursor")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated: read, collection, pipelines, calls, javascript, startup, memory "
        "(default all)",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--output", type=Path, default=None, help="results JSON file")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument(
        "--in-process", action="store_true", help="smoke test: Python readers in this process"
    )
    args = parser.parse_args(argv)
    global IN_PROCESS
    IN_PROCESS = args.in_process
    only = {part for part in args.only.split(",") if part} or {
        "read",
        "collection",
        "pipelines",
        "calls",
        "javascript",
        "startup",
        "memory",
    }
    sizes = [int(size) for size in args.sizes.split(",")]

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "runs": args.runs,
        "records": args.records,
        "scenarios": [],
    }
    with tempfile.TemporaryDirectory() as tmp, bench_server(args.records, args.latency_ms) as srv:
        credentials = Path(tmp) / "credentials.json"
        credentials.write_text(json.dumps({"api_key": API_KEY}))
        scenarios: list[Scenario] = []
        if "read" in only:
            scenarios += read_scenarios(
                srv,
                args.records,
                credentials,
                sizes,
                args.pagings.split(","),
                with_async=args.runs > 1,
            )
        if "collection" in only:
            scenarios += collection_scenarios(srv, args.records, sizes, args.pagings.split(","))
        if "pipelines" in only:
            scenarios += pipeline_scenarios(
                srv, args.records, credentials, sizes, args.pagings.split(","), Path(tmp)
            )
        if "calls" in only:
            scenarios += call_scenarios(srv, args.records, args.calls, args.callers)
        if "javascript" in only:
            scenarios += javascript_scenarios(srv, args.records, args.calls)
        for scenario in scenarios:
            log(f"{scenario.name}: {scenario.title}")
            run_scenario(scenario, args.runs, args.warmup, log)
            report["scenarios"].append(summarise(scenario))
        if "startup" in only:
            log("startup")
            report["startup"] = measure_startup(srv, credentials, max(args.runs, 1))
        if "memory" in only:
            log("memory")
            report["memory"] = measure_memory(
                srv, args.records, args.large, credentials, max(1, min(args.runs, 2))
            )
    markdown = render_markdown(report)
    output = args.output or RESULTS / f"results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if not args.no_doc:
        update_doc(markdown)
    sys.stdout.write(markdown)
    log(f"results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
