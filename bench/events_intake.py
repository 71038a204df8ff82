"""Intake tail latency, two source trees in the same run (PostgreSQL).

``python -m bench.events_intake --before DIR [--after DIR] [--rounds 3] [--webhooks 2000]``

Starts one ``connectory serve`` per source tree (``DIR`` is a ``src`` directory, as for
``bench.ab_trees``; ``--after`` defaults to this checkout's) on one fresh database, each with
its own subscription, then alternates intake rounds ``after, before, after, before, ...``:
32 concurrent senders post signed webhooks (as ``bench.events``'s intake phase) and every
request's latency is kept with the time it was sent. Per round: rate, p50 / p90 / p99 / max,
the API's CPU milliseconds per webhook, and where the slowest 1% were sent (first 5% of the
round or later: a cold start, against a steady tail). The first round of each process
includes its cold start (the route looked up, the pool filled), as in ``bench.events``.

``--after-python-args`` runs the *after* server as ``python ARGS -m connectory.cli serve``
(e.g. ``-X importtime``); ``--after-gc`` / ``--before-gc`` start it through
:mod:`bench.gc_serve` with a GC setting (``freeze``, a gen0 threshold, ``log``: each full
collection's pause to ``<--gc-log-prefix><tree>.log``), to measure GC tuning without
changing ``connectory serve``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import aiohttp
import asyncpg

from bench.events import (
    Processes,
    cpu_seconds,
    fresh_database,
    percentile,
    seed,
    signed,
    wait_http,
    webhook_document,
)
from connectory.testing.instances import free_port

ROOT = Path(__file__).resolve().parents[1]


async def intake_round(url: str, prefix: str, count: int, concurrency: int) -> dict[str, Any]:
    """*count* signed webhooks from *concurrency* senders; latencies with their send times."""
    prepared = [signed(f"{prefix}-{n}", {"n": n}) for n in range(count)]
    samples: list[tuple[float, float]] = []  # (sent at, latency), seconds from the round start
    statuses: dict[int, int] = {}
    queue = iter(prepared)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        began = time.perf_counter()
        began_at = time.time()  # to line up with logs (bench.gc_serve's)

        async def sender() -> None:
            for body, headers in queue:
                started = time.perf_counter()
                async with http.post(url, data=body, headers=headers) as response:
                    await response.read()
                samples.append((started - began, time.perf_counter() - started))
                statuses[response.status] = statuses.get(response.status, 0) + 1

        await asyncio.gather(*(sender() for _ in range(concurrency)))
        wall = time.perf_counter() - began
    assert statuses == {200: count}, statuses
    latencies = [latency for _, latency in samples]
    slowest = sorted(samples, key=lambda sample: -sample[1])[: max(1, count // 100)]
    early = wall * 0.05
    return {
        "started_at": round(began_at, 3),
        "per_second": round(count / wall, 1),
        "p50_ms": percentile(latencies, 0.5),
        "p90_ms": percentile(latencies, 0.9),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": percentile(latencies, 1.0),
        "slowest_1pct_in_first_5pct": sum(1 for sent, _ in slowest if sent < early),
        "slowest_1pct": len(slowest),
        "samples": sorted(samples),
    }


def server_command(python_args: list[str], gc_setting: str | None, port: int) -> list[str]:
    """The arguments after ``python`` that start one API server."""
    serve = ["serve", "--port", str(port), "--log-level", "warning"]
    if gc_setting:
        return [*python_args, "-m", "bench.gc_serve", gc_setting, *serve]
    return [*python_args, "-m", "connectory.cli", *serve]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    trees = {"after": str(Path(args.after).resolve()), "before": str(Path(args.before).resolve())}
    results: dict[str, Any] = {
        "trees": trees,
        "webhooks_per_round": args.webhooks,
        "concurrency": args.concurrency,
        "after_gc": args.after_gc,
        "before_gc": args.before_gc,
        "load_average_at_start": os.getloadavg(),
        "rounds": [],
    }
    async with fresh_database() as url:
        with TemporaryDirectory() as workdir:
            base_env = {
                **os.environ,
                "CONNECTORY_DATABASE_URL": url,
                "CONNECTORY_ENCRYPTION_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
                "CONNECTORY_DATA_DIR": workdir,
                "CONNECTORY_EGRESS_ALLOW": "127.0.0.1",
                "CONNECTORY_RUN_WORKER": "false",
            }
            token, _, _, (hook_id,) = await seed(
                url.replace("postgresql://", "postgresql+asyncpg://"), [webhook_document()]
            )
            servers: dict[str, tuple[Any, str]] = {}
            children: list[Processes] = []
            try:
                for name, tree in trees.items():
                    port = free_port()
                    api_url = f"http://127.0.0.1:{port}"
                    env = {
                        **base_env,
                        "PYTHONPATH": os.pathsep.join([tree, str(ROOT)]),
                        "CONNECTORY_PUBLIC_URL": api_url,
                    }
                    processes = Processes(env, Path(workdir))
                    children.append(processes)
                    gc_setting = args.after_gc if name == "after" else args.before_gc
                    if gc_setting and "log" in gc_setting.split("+"):
                        # One file per server: the oldest generation's collections.
                        env["CONNECTORY_BENCH_GC_LOG"] = f"{args.gc_log_prefix}{name}.log"
                    python_args = args.after_python_args.split() if name == "after" else []
                    child = processes.start(name, *server_command(python_args, gc_setting, port))
                    await wait_http(f"{api_url}/health")
                    servers[name] = (child, api_url)
                intake_urls = await subscribe(servers, token, hook_id)
                database = await asyncpg.connect(url)
                await database.execute(
                    "UPDATE event_subscriptions SET status='active', next_run_at=NULL, "
                    "state='{\"subscribed\": true}'"
                )
                for number in range(args.rounds):
                    for name in ("after", "before"):
                        child, _ = servers[name]
                        cpu = cpu_seconds(child.pid)
                        measured = await intake_round(
                            intake_urls[name], f"{name}{number}", args.webhooks, args.concurrency
                        )
                        measured["api_cpu_ms_per_webhook"] = round(
                            1000 * (cpu_seconds(child.pid) - cpu) / args.webhooks, 3
                        )
                        measured.update(tree=name, round=number, load_average=os.getloadavg())
                        samples = measured.pop("samples")
                        if args.samples is not None:
                            args.samples.mkdir(parents=True, exist_ok=True)
                            path = args.samples / f"{name}-{number}.json"
                            path.write_text(json.dumps(samples))
                        results["rounds"].append(measured)
                        print(json.dumps(measured), file=sys.stderr, flush=True)
                        await database.execute("DELETE FROM intake_requests")
                await database.close()
            finally:
                for processes in children:
                    processes.stop_all()
    for name in ("after", "before"):
        # The first round of each process includes its cold start: the steady rounds apart.
        steady = [r for r in results["rounds"] if r["tree"] == name and r["round"] > 0]
        if steady:
            results[f"{name}_steady_median"] = {
                key: statistics.median(r[key] for r in steady)
                for key in ("per_second", "p50_ms", "p99_ms", "api_cpu_ms_per_webhook")
            }
    return results


async def subscribe(
    servers: dict[str, tuple[Any, str]], token: str, connector_id: str
) -> dict[str, str]:
    """One connection and one subscription per server (each server its own route)."""
    urls: dict[str, str] = {}
    for name, (_, api_url) in servers.items():
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(base_url=api_url, headers=headers) as http:
            async with http.post(
                "/connections",
                json={"connector_id": connector_id, "name": name, "credentials": {"api_key": "k"}},
            ) as response:
                connection = (await response.json())["id"]
            async with http.post(
                "/subscriptions", json={"connection_id": connection, "event": "changed"}
            ) as response:
                urls[name] = (await response.json())["intake_url"]
    return urls


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="The src folder of the base tree.")
    parser.add_argument("--after", default=str(ROOT / "src"), help="The changed src folder.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--webhooks", type=int, default=2000, help="Webhooks per round.")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--after-python-args", default="", help="Interpreter options (after).")
    parser.add_argument("--after-gc", default=None, help="bench.gc_serve's setting (after).")
    parser.add_argument("--before-gc", default=None, help="bench.gc_serve's setting (before).")
    parser.add_argument(
        "--gc-log-prefix", default="/tmp/events-intake-gc-", help="Where ``log`` writes."
    )
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument(
        "--samples", type=Path, default=None, help="Folder for each round's (sent, latency)."
    )
    args = parser.parse_args()
    results = asyncio.run(run(args))
    text = json.dumps(results, indent=2)
    print(text)
    if args.output is not None:
        args.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
