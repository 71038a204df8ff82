"""The REST API as a proxy: operation calls from 50 concurrent clients, against a minimal proxy.

``python -m bench.api_proxy [--calls 5000] [--clients 50] [--rounds 3] [--profile DIR]``
starts the bench API, one ``connectory serve`` process (the embedded default: SQLite, call
log on with its defaults) with the bench connection, and a minimal Starlette + aiohttp proxy
(``--serve-proxy``, same uvicorn and HTTP parser) that answers the same route by making the
same upstream call (``GET /items/{id}`` with the API key) and returning its status and body.

Each round sends *calls* ``POST /connections/{id}/operations/get_item`` from *clients*
concurrent aiohttp clients (keep-alive) to one server, then to the other (A B A B, after a
warm-up each); the report gives requests/s and p50/p99 latency of each and the median of the
per-round ratios (Connectory / proxy). Every round is checked: every answer is 200 with the
upstream's 200 inside, and the upstream counted exactly *calls* requests.

``--profile DIR`` also samples the Connectory server with py-spy during one extra round and
writes the collapsed stacks and a summary (``DIR/api-proxy-profile.txt``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.observability import Served, free_port
from bench.run import RESULTS, ROOT, BenchError, bench_server
from bench.server import API_KEY

TARGET_RATIO = 0.6
TARGET_RATE = 2000.0
TARGET_P99_MS = 50.0


# --- the minimal proxy --------------------------------------------------------------------------


def serve_proxy(port: int, upstream: str, http: str = "h11") -> None:
    """Run the baseline: Starlette + one aiohttp session, the same route and upstream call."""
    import orjson
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    session: dict[str, aiohttp.ClientSession] = {}

    async def run(request: Request) -> Response:
        params = orjson.loads(await request.body()).get("params", {})
        http = session["http"]
        async with http.get(
            f"{upstream}/items/{params['id']}", headers={"X-Api-Key": API_KEY}
        ) as reply:
            body = orjson.loads(await reply.read())
            status = reply.status
        return Response(
            orjson.dumps({"status_code": status, "body": body}), media_type="application/json"
        )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        session["http"] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100), timeout=aiohttp.ClientTimeout(total=30)
        )
        yield
        await session["http"].close()

    app = Starlette(
        routes=[Route("/connections/{cid}/operations/{name}", run, methods=["POST"])],
        lifespan=lifespan,
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", http=http)  # type: ignore[arg-type]


def server_parser() -> str:
    """The HTTP parser ``connectory serve`` runs (its ``server_options``): the proxy's too."""
    return "httptools" if importlib.util.find_spec("httptools") is not None else "h11"


class Proxy:
    """The baseline proxy in its own process."""

    label = "proxy"

    def __init__(self, upstream: str, http: str) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.connection = "proxy"
        self.headers: dict[str, str] = {}
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "bench.api_proxy", "--serve-proxy", str(port), upstream),
                *("--proxy-http", http),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not _answers(self.url):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise BenchError("the proxy did not start")
            time.sleep(0.1)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _answers(url: str) -> bool:
    import httpx

    try:
        httpx.post(f"{url}/connections/x/operations/get_item", json={"params": {"id": 1}})
    except httpx.TransportError:
        return False
    return True


# --- load -------------------------------------------------------------------------------------


async def load(url: str, path: str, headers: dict[str, str], calls: int, clients: int) -> dict:
    """*calls* POSTs from *clients* concurrent keep-alive clients; rate and latencies."""
    latencies: list[float] = []
    failures: list[str] = []
    counter = iter(range(calls))
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(url, connector=connector, headers=headers) as http:

        async def client() -> None:
            for number in counter:
                body = {"params": {"id": number % 1000 + 1}}
                started = time.perf_counter()
                async with http.post(path, json=body) as response:
                    data = await response.read()
                    status = response.status
                latencies.append(time.perf_counter() - started)
                if status != 200 or json.loads(data).get("status_code") != 200:
                    failures.append(f"{status}: {data[:200]!r}")

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        seconds = time.perf_counter() - started
    if failures:
        raise BenchError(f"{len(failures)} calls failed, e.g. {failures[0]}")
    latencies.sort()
    return {
        "rate": calls / seconds,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process *pid* so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def round_of(target: Any, upstream: Any, calls: int, clients: int) -> dict:
    """One checked round; its rate, latencies and the server's CPU per call.

    CPU per call is the steadier figure on a shared machine: other work there stretches wall
    time (and so the rate), not the CPU the server spends.
    """
    upstream.reset()
    path = f"/connections/{target.connection}/operations/get_item"
    before = cpu_seconds(target.process.pid)
    result = asyncio.run(load(target.url, path, target.headers, calls, clients))
    result["cpu_ms_per_call"] = 1000 * (cpu_seconds(target.process.pid) - before) / calls
    requests = upstream.stats()["requests"]
    if requests != calls:
        raise BenchError(f"{target.label}: the upstream saw {requests} requests, not {calls}")
    return result


# --- profile --------------------------------------------------------------------------------


def summarise(collapsed: Path, top: int = 30) -> str:
    """The functions with the most samples (self and inclusive) in py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue  # a frame name with a line break in it
        count = int(count_text)
        frames = stack.split(";")
        total += count
        threads[frames[0]] += count
        own[frames[-1]] += count
        for frame in set(frames[1:]):
            inclusive[frame] += count
    packages: Counter[str] = Counter()
    for frame, count in own.items():
        packages[_package(frame)] += count
    worker = sum(n for name, n in threads.items() if "_connection_worker_thread" in name)
    lines = [f"{total} samples", "", f"aiosqlite worker threads: {100 * worker / total:.1f}%"]
    lines += ["", "self time by package:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in packages.most_common(15)]
    lines += ["", "inclusive, Connectory's own functions (the function and what it calls):"]
    mine = [(f, n) for f, n in inclusive.most_common() if "connectory/" in f and "/cli/" not in f]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in mine[:top]]
    lines += ["", "self (the function itself):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    return "\n".join(lines) + "\n"


def _package(frame: str) -> str:
    """``name (path/to/file.py:12)`` -> the top-level package (or module) of its file."""
    path = frame.rpartition("(")[2]
    if "site-packages/" in path:
        return path.split("site-packages/")[1].split("/")[0].split(".py")[0]
    if "/src/connectory/" in path or path.startswith("connectory/"):
        return "connectory"
    return path.split("/")[0].split(".py")[0].split(":")[0] or frame


def profile_round(served: Served, upstream: Any, calls: int, clients: int, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    raw = directory / "api-proxy-profile.collapsed"
    spy = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--pid",
            str(served.process.pid),
            "--format",
            "raw",
            "--rate",
            "200",
            "--threads",
            "--output",
            str(raw),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # py-spy attaches
    round_of(served, upstream, calls, clients)
    spy.send_signal(2)
    spy.wait(timeout=60)
    summary = summarise(raw)
    (directory / "api-proxy-profile.txt").write_text(summary)
    print(summary, file=sys.stderr)


@contextlib.contextmanager
def fresh_postgres(admin_dsn: str | None) -> Iterator[str | None]:
    """A new PostgreSQL database (dropped afterwards) as an async URL; None without a DSN."""
    if admin_dsn is None:
        yield None
        return
    import uuid

    import asyncpg

    name = f"connectory_bench_{uuid.uuid4().hex[:8]}"

    async def run(statement: str) -> None:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(statement)
        finally:
            await admin.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        base = admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        yield f"{base}/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=RESULTS / "api_proxy.json")
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_DSN",
        help="run Connectory on a fresh PostgreSQL database created through this DSN "
        "(e.g. postgresql://postgres@127.0.0.1:5432/postgres) instead of SQLite",
    )
    parser.add_argument("--redis", metavar="URL", help="CONNECTORY_REDIS_URL for the server")
    parser.add_argument("--serve-proxy", nargs=2, metavar=("PORT", "UPSTREAM"))
    parser.add_argument(
        "--proxy-http",
        choices=["h11", "httptools"],
        default=server_parser(),
        help="the proxy's HTTP parser (default: the one connectory serve runs)",
    )
    args = parser.parse_args()
    if args.serve_proxy:
        serve_proxy(int(args.serve_proxy[0]), args.serve_proxy[1], args.proxy_http)
        return
    rates: dict[str, list[dict]] = {"connectory": [], "proxy": []}
    ratios: list[float] = []
    env = {"CONNECTORY_REDIS_URL": args.redis} if args.redis else {}
    with (
        bench_server(1000) as upstream,
        tempfile.TemporaryDirectory() as data,
        fresh_postgres(args.postgres) as database,
    ):
        served = Served("connectory", upstream.url, env, Path(data), database)
        served.headers = {"Authorization": served.http.headers["Authorization"]}  # type: ignore[attr-defined]
        proxy = Proxy(upstream.url, args.proxy_http)
        try:
            for target in (served, proxy):  # warm-up: clients built, pools and caches filled
                round_of(target, upstream, min(args.calls, 1000), args.clients)
            for number in range(args.rounds):
                pair = {}
                for target in (served, proxy) if number % 2 == 0 else (proxy, served):
                    pair[target.label] = round_of(target, upstream, args.calls, args.clients)
                    rates[target.label].append(pair[target.label])
                ratios.append(pair["connectory"]["rate"] / pair["proxy"]["rate"])
                print(
                    f"round {number + 1}: connectory {pair['connectory']['rate']:.0f}/s "
                    f"(p99 {pair['connectory']['p99_ms']:.1f} ms, "
                    f"{pair['connectory']['cpu_ms_per_call']:.2f} ms CPU/call), proxy "
                    f"{pair['proxy']['rate']:.0f}/s (p99 {pair['proxy']['p99_ms']:.1f} ms, "
                    f"{pair['proxy']['cpu_ms_per_call']:.2f} ms CPU/call), "
                    f"ratio {ratios[-1]:.3f}",
                    file=sys.stderr,
                )
            if args.profile is not None:
                profile_round(served, upstream, args.calls, args.clients, args.profile)
        finally:
            proxy.close()
            served.close()

    def median(label: str, key: str) -> float:
        return round(statistics.median(r[key] for r in rates[label]), 3)

    result = {
        "scenario": (
            f"{args.calls} POST /connections/{{id}}/operations/get_item, "
            f"{args.clients} concurrent clients"
        ),
        "store": ("PostgreSQL" if args.postgres else "SQLite") + (" + Redis" if args.redis else ""),
        "proxy_http_parser": args.proxy_http,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "load_average": [round(x, 1) for x in os.getloadavg()],
        },
        "rounds": [
            {k: {m: round(v, 3) for m, v in rates[k][i].items()} for k in rates}
            for i in range(args.rounds)
        ],
        "median": {
            label: {
                key: median(label, key) for key in ("rate", "p50_ms", "p99_ms", "cpu_ms_per_call")
            }
            for label in rates
        },
        "ratios": [round(r, 3) for r in ratios],
        "median_ratio": round(statistics.median(ratios), 3),
        "targets": {"ratio": TARGET_RATIO, "rate": TARGET_RATE, "p99_ms": TARGET_P99_MS},
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
