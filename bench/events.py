"""Events benchmark: intake, delivery, end to end, polling at scale (PostgreSQL).

``python -m bench.events [--quick] [--output FILE]`` creates a fresh database on the
PostgreSQL at ``CONNECTORY_BENCH_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/
postgres``), starts Connectory's processes (``connectory serve``, ``connectory worker``), a bare
receiver (``bench.events_receiver``) and, for polling, ``bench.server``; then measures:

1. intake: signed webhooks durably accepted per second by one API process (no worker
   running), with latency percentiles;
2. delivery: signed deliveries per second by one worker to the loopback receiver, against a raw
   aiohttp loop sending the same signed requests at the same concurrency (same run);
3. end to end: intake to delivery latency at a steady 200 events/s (API + one worker);
4. polling: 10,000 subscriptions on a 1-minute schedule with 2 workers: polls done, CPU per
   poll, schedule lag.

Everything shares the machine's 2 cores with the load generator: numbers are for this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson

from connectory.events.signing import generate_endpoint_secret, signature_header
from connectory.services.tokens import issue_token
from connectory.store import (
    Connector,
    ConnectorVersion,
    Enterprise,
    User,
    create_engine,
    create_sessionmaker,
    migrate,
    new_id,
)
from connectory.testing.instances import free_port

ROOT = Path(__file__).resolve().parents[1]
ADMIN_DSN = os.environ.get(
    "CONNECTORY_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SECRET = "whsec_" + base64.b64encode(b"b" * 24).decode()
#: The end-to-end endpoint's max_in_flight (``--e2e-max-in-flight``; the API's default is 4).
E2E_MAX_IN_FLIGHT = int(os.environ.get("CONNECTORY_BENCH_E2E_MAX_IN_FLIGHT", "4"))


def percentile(values: list[float], q: float) -> float:
    """The *q* quantile (0..1) of *values*, in milliseconds, rounded."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index] * 1000, 2)


class Processes:
    """Child processes, stopped at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.children: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        child = subprocess.Popen(
            [sys.executable, *argv], env=self.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL
        )
        self.children.append(child)
        return child

    def start_listening(self, *argv: str) -> tuple[subprocess.Popen[bytes], int]:
        child = subprocess.Popen(
            [sys.executable, *argv], env=self.env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        assert child.stdout is not None
        port = int(child.stdout.readline().split()[1])
        self.children.append(child)
        return child, port

    def stop(self, child: subprocess.Popen[bytes]) -> None:
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()

    def stop_all(self) -> None:
        for child in self.children:
            if child.poll() is None:
                self.stop(child)


class Profiler:
    """py-spy sampling one child process for a phase (``--profile DIR``); off when DIR is None.

    Writes collapsed stacks (``py-spy record --format raw``: one line per distinct stack with
    its sample count) to ``DIR/<name>.txt``, and a short top list by own and total time.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.running: subprocess.Popen[bytes] | None = None
        self.name = ""

    def start(self, name: str, pid: int) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self.name = name
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        output = self.folder / f"{name}.txt"
        self.running = subprocess.Popen(
            [
                spy,
                "record",
                "-p",
                str(pid),
                "--format",
                "raw",
                "--rate",
                "200",
                "--nonblocking",
                "-o",
                str(output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)  # attached before the phase starts

    def stop(self) -> None:
        if self.running is None or self.folder is None:
            return
        self.running.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        self.running.wait(timeout=60)
        self.running = None
        stacks = self.folder / f"{self.name}.txt"
        if stacks.exists():
            (self.folder / f"{self.name}-top.txt").write_text(summarize_stacks(stacks))


def summarize_stacks(path: Path, top: int = 40) -> str:
    """The functions with the most samples: own (leaf) and total (anywhere on the stack)."""
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            total[frame] = total.get(frame, 0) + count
    lines = [f"{samples} samples", "", "own:"]
    for frame, count in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * count / max(samples, 1):6.2f}%  {frame}")
    lines += ["", "total:"]
    for frame, count in sorted(total.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * count / max(samples, 1):6.2f}%  {frame}")
    return "\n".join(lines) + "\n"


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def backends_cpu(database: asyncpg.Connection) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to *database*'s database (/proc)."""
    pids = await database.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    )
    found: dict[int, float] = {}
    for row in pids:
        try:
            found[row["pid"]] = cpu_seconds(row["pid"])
        except OSError:  # ended meanwhile
            continue
    return found


@asynccontextmanager
async def fresh_database() -> Any:
    name = f"connectory_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin = await asyncpg.connect(ADMIN_DSN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def webhook_document() -> dict[str, Any]:
    return {
        "name": "Bench Webhooks",
        "slug": "bench-webhooks",
        "base_url": "http://127.0.0.1:9",
        "auth": {
            "auth_type": "api_key",
            "credential_schema": {"api_key": {"type": "password", "required": True}},
            "location": "header",
            "header_name": "X-Api-Key",
        },
        "operations": [{"name": "noop", "method": "GET", "path": "/noop"}],
        "events": [
            {
                "key": "changed",
                "type": "webhook",
                "webhook": {
                    "verification": {"preset": "standard-webhooks", "secret": SECRET},
                    "handle": {"items": "events", "id": "{{ item.id }}", "type": "changed"},
                },
            }
        ],
    }


def poll_document(base_url: str) -> dict[str, Any]:
    return {
        "name": "Bench Poll",
        "slug": "bench-poll",
        "base_url": base_url,
        "auth": {
            "auth_type": "api_key",
            "credential_schema": {"api_key": {"type": "password", "required": True}},
            "location": "header",
            "header_name": "X-Api-Key",
        },
        "resilience": {"rate_limit": 100000, "timeout": 30, "max_retries": 1},
        "operations": [
            {
                "name": "list_items",
                "method": "GET",
                "path": "/items",
                "record_selector": "data",
                "parameters": [
                    {"name": "page", "location": "query", "type": "integer", "default": 1},
                    {"name": "per_page", "location": "query", "type": "integer", "default": 1},
                ],
            }
        ],
        "events": [
            {
                "key": "item_changed",
                "type": "poll",
                "poll": {"operation": "list_items", "interval_seconds": 60, "max_pages": 1},
            }
        ],
    }


async def seed(url: str, documents: list[dict[str, Any]]) -> tuple[str, str, str, list[str]]:
    """Migrate, then an enterprise, its admin's token and published connectors."""
    engine = create_engine(url)
    await migrate(engine)
    async with create_sessionmaker(engine)() as session:
        enterprise = Enterprise(name="Bench")
        session.add(enterprise)
        await session.flush()
        user = User(
            email="bench@example.test", role="enterprise_admin", enterprise_id=enterprise.id
        )
        session.add(user)
        await session.flush()
        token = (await issue_token(session, user)).secret
        ids = []
        for document in documents:
            connector = Connector(
                slug=document["slug"],
                scope="catalogue",
                owner_key="catalogue",
                name=document["name"],
                type="General",
                latest_version="1.0.0",
            )
            session.add(connector)
            await session.flush()
            session.add(
                ConnectorVersion(
                    connector_id=connector.id,
                    version="1.0.0",
                    major=1,
                    is_draft=False,
                    document=document,
                )
            )
            ids.append(connector.id)
        await session.commit()
    await engine.dispose()
    return token, enterprise.id, user.id, ids


def signed(message_id: str, item: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps({"events": [{"id": message_id, **item}]})
    headers = signature_header([SECRET], message_id, int(time.time()), body)
    headers["content-type"] = "application/json"
    return body, headers


async def wait_http(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(url)


async def measure_intake(intake_url: str, count: int, concurrency: int) -> dict[str, Any]:
    prepared = [signed(f"in-{n}", {"n": n}) for n in range(count)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(prepared)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def sender() -> None:
            for body, headers in queue:
                started = time.perf_counter()
                async with http.post(intake_url, data=body, headers=headers) as response:
                    await response.read()
                latencies.append(time.perf_counter() - started)
                statuses[response.status] = statuses.get(response.status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    assert statuses == {200: count}, statuses
    return {
        "webhooks": count,
        "concurrency": concurrency,
        "per_second": round(count / wall, 1),
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
    }


async def insert_deliveries(url: str, enterprise: str, endpoint: str, count: int) -> None:
    """*count* events, each with a due delivery to *endpoint* (own queues: no ordering wait)."""
    connection = await asyncpg.connect(url)
    now = datetime.now(UTC)
    events = [
        (
            new_id(),
            enterprise,
            "c",
            None,
            "changed",
            f"k{n}",
            now,
            now,
            orjson.dumps({"n": n}).decode(),
        )
        for n in range(count)
    ]
    await connection.executemany(
        "INSERT INTO events (id, enterprise_id, connection_id, subscription_id, type, dedup_key, "
        "occurred_at, received_at, payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::json)",
        events,
    )
    rows = await connection.fetch("SELECT seq, id FROM events")
    await connection.executemany(
        "INSERT INTO deliveries (id, enterprise_id, endpoint_id, event_seq, event_id, order_key, "
        "status, attempts, next_run_at, created_at, last_error) "
        "VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, '')",
        [
            (new_id(), enterprise, endpoint, r["seq"], r["id"], f"event-{r['id']}", now)
            for r in rows
        ],
    )
    await connection.close()


async def e2e_stages(database: asyncpg.Connection) -> dict[str, float]:
    """Where end-to-end time goes, from the stored timestamps (percentiles in ms).

    ``handled``: stored by the API -> its event stored by the worker (the intake wake and
    handling); ``delivered``: event stored -> its successful try recorded (the delivery
    wake, claim, send and record).
    """
    rows = await database.fetch(
        "SELECT extract(epoch FROM e.received_at - i.received_at) AS handled, "
        "extract(epoch FROM a.attempted_at - e.received_at) AS delivered "
        "FROM intake_requests i JOIN events e ON e.dedup_key = i.message_id "
        "JOIN deliveries d ON d.event_id = e.id JOIN delivery_attempts a "
        "ON a.delivery_id = d.id AND a.status_code = 200 WHERE i.message_id LIKE 'e2e-%'"
    )
    handled = [float(r["handled"]) for r in rows]
    delivered = [float(r["delivered"]) for r in rows]
    return {
        "samples": len(rows),
        "handled_p50_ms": percentile(handled, 0.5),
        "handled_p99_ms": percentile(handled, 0.99),
        "delivered_p50_ms": percentile(delivered, 0.5),
        "delivered_p99_ms": percentile(delivered, 0.99),
    }


async def raw_delivery_loop(receiver: str, count: int, concurrency: int) -> float:
    """The baseline: aiohttp sending the same signed envelopes, same concurrency."""
    secret = generate_endpoint_secret()
    work = iter(range(count))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def sender() -> None:
            for n in work:
                body = orjson.dumps({"id": f"e{n}", "type": "changed", "data": {"n": n}})
                headers = signature_header([secret], f"e{n}", int(time.time()), body)
                headers["content-type"] = "application/json"
                async with http.post(receiver, data=body, headers=headers) as response:
                    await response.read()
                    assert response.status == 200

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


async def run(
    quick: bool,
    workdir: Path,
    sizes_given: dict[str, int] | None = None,
    profile: Path | None = None,
    skip_polling: bool = False,
) -> dict[str, Any]:
    sizes = {
        "intake": 500 if quick else 5000,
        "deliveries": 300 if quick else 3000,
        "e2e_seconds": 3 if quick else 10,
        "subscriptions": 200 if quick else 10_000,
        "poll_window": 20 if quick else 90,
        **(sizes_given or {}),
    }
    results: dict[str, Any] = {
        "quick": quick,
        "sizes": sizes,
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
    }
    profiler = Profiler(profile)
    async with fresh_database() as url:
        env = {
            **os.environ,
            "CONNECTORY_DATABASE_URL": url,
            "CONNECTORY_ENCRYPTION_KEYS": "1:" + base64.b64encode(os.urandom(32)).decode(),
            "CONNECTORY_DATA_DIR": str(workdir),
            "CONNECTORY_EGRESS_ALLOW": "127.0.0.1",
            "CONNECTORY_RUN_WORKER": "false",
        }
        processes = Processes(env, workdir)
        try:
            _, poll_port = processes.start_listening("-m", "bench.server", "--port", "0")
            token, enterprise, _, (hook_id, poll_id) = await seed(
                url.replace("postgresql://", "postgresql+asyncpg://"),
                [webhook_document(), poll_document(f"http://127.0.0.1:{poll_port}")],
            )
            port = free_port()
            api_url = f"http://127.0.0.1:{port}"
            env["CONNECTORY_PUBLIC_URL"] = api_url
            api = processes.start(
                "api",
                "-m",
                "connectory.cli",
                "serve",
                "--port",
                str(port),
                "--log-level",
                "warning",
            )
            await wait_http(f"{api_url}/health")
            _, receiver_port = processes.start_listening("-m", "bench.events_receiver")
            receiver = f"http://127.0.0.1:{receiver_port}/hook"
            headers = {"Authorization": f"Bearer {token}"}
            subscriptions = []
            async with aiohttp.ClientSession(base_url=api_url, headers=headers) as http:
                async with http.post(
                    "/connections",
                    json={
                        "connector_id": hook_id,
                        "name": "bench",
                        "credentials": {"api_key": "k"},
                    },
                ) as response:
                    connection = (await response.json())["id"]
                # 20 subscriptions: order is kept per subscription, so one subscription's
                # events are delivered one after the other; real traffic spreads over many.
                for _ in range(20):
                    async with http.post(
                        "/subscriptions", json={"connection_id": connection, "event": "changed"}
                    ) as response:
                        subscriptions.append(await response.json())
                async with http.post(
                    "/webhook-endpoints", json={"url": receiver, "max_in_flight": 64}
                ) as response:
                    bulk_endpoint = (await response.json())["id"]
            subscription = subscriptions[0]
            # Active without a worker: no subscribe call is declared, nothing to wait for.
            database = await asyncpg.connect(url)
            await database.execute(
                "UPDATE event_subscriptions SET status='active', next_run_at=NULL, "
                "state='{\"subscribed\": true}'"
            )

            # 1. intake, one API process, no worker
            profiler.start("intake-api", api.pid)
            results["intake"] = await measure_intake(
                subscription["intake_url"], sizes["intake"], concurrency=32
            )
            profiler.stop()
            results["intake"]["load_average"] = os.getloadavg()
            await database.execute("DELETE FROM intake_requests")

            # 2. delivery: one worker against the raw loop
            await insert_deliveries(url, enterprise, bulk_endpoint, sizes["deliveries"])
            worker = processes.start(
                "worker1", "-m", "connectory.cli", "worker", "--log-level", "warning"
            )
            profiler.start("delivery-worker", worker.pid)
            # CPU from the first recorded try on (not the worker's start-up).
            while not (
                sent_at_start := await database.fetchval("SELECT count(*) FROM delivery_attempts")
            ):
                await asyncio.sleep(0.01)
            worker_cpu = cpu_seconds(worker.pid)
            postgres_cpu = await backends_cpu(database)
            # Any live delivery left, from the live queue index (ordered: an index scan that
            # stops at the first). Counting the unfinished ones read the whole table five times
            # a second, and that backend's CPU counted as the delivery's (0.07 ms of it).
            while await database.fetchval(
                "SELECT id FROM deliveries WHERE status IN ('pending', 'in_flight') "
                "ORDER BY endpoint_id, order_key, event_seq LIMIT 1"
            ):
                await asyncio.sleep(0.2)
            worker_cpu = cpu_seconds(worker.pid) - worker_cpu
            postgres_after = await backends_cpu(database)
            postgres_ms = (
                sum(cpu - postgres_cpu.get(pid, 0.0) for pid, cpu in postgres_after.items())
                * 1000
                / max(sizes["deliveries"] - sent_at_start, 1)
            )
            profiler.stop()
            first, last = await database.fetchrow(
                "SELECT min(attempted_at), max(attempted_at) FROM delivery_attempts"
            )
            connectory_rate = sizes["deliveries"] / max((last - first).total_seconds(), 1e-6)
            raw_cpu = time.process_time()
            raw_rate = await raw_delivery_loop(receiver, sizes["deliveries"], concurrency=50)
            raw_cpu = time.process_time() - raw_cpu
            worker_ms = worker_cpu * 1000 / max(sizes["deliveries"] - sent_at_start, 1)
            raw_ms = raw_cpu * 1000 / sizes["deliveries"]
            results["delivery"] = {
                "deliveries": sizes["deliveries"],
                "connectory_per_second": round(connectory_rate, 1),
                "raw_aiohttp_per_second": round(raw_rate, 1),
                "ratio": round(connectory_rate / raw_rate, 3),
                # CPU per delivery (the worker's, from its first try on) against the raw loop's
                # per request: what the rate would be with a core each, steadier under load.
                "worker_cpu_ms_per_delivery": round(worker_ms, 3),
                "raw_cpu_ms_per_request": round(raw_ms, 3),
                "cpu_ratio": round(raw_ms / worker_ms, 3) if worker_ms else None,
                # The bench database's PostgreSQL backends (the worker's, the API's, ours), per
                # delivery: the third process sharing the cores with the worker and receiver.
                "postgres_cpu_ms_per_delivery": round(postgres_ms, 3),
                "load_average": os.getloadavg(),
            }

            # 3. end to end at 200 events/s (the worker above keeps running)
            async with aiohttp.ClientSession() as http:
                await (await http.get(receiver.replace("/hook", "/__reset"))).read()
                # New deliveries go to the receiver: register it as an endpoint through the API.
                async with http.post(
                    f"{api_url}/webhook-endpoints",
                    json={"url": receiver, "max_in_flight": E2E_MAX_IN_FLIGHT},
                    headers=headers,
                ) as response:
                    assert response.status == 201
                await database.execute(
                    "UPDATE webhook_endpoints SET enabled = false WHERE id = $1", bulk_endpoint
                )
                total = 200 * sizes["e2e_seconds"]
                profiler.start("end-to-end-worker", worker.pid)
                cpu_before = cpu_seconds(worker.pid), cpu_seconds(api.pid)
                started = time.perf_counter()
                for n in range(total):
                    body, sign_headers = signed(f"e2e-{n}", {"sent_at": time.time()})
                    target = subscriptions[n % len(subscriptions)]["intake_url"]
                    async with http.post(target, data=body, headers=sign_headers) as response:
                        assert response.status == 200
                    pause = started + (n + 1) / 200 - time.perf_counter()
                    if pause > 0:
                        await asyncio.sleep(pause)
                stats: dict[str, Any] = {}
                for _ in range(600):
                    async with http.get(receiver.replace("/hook", "/__stats")) as response:
                        stats = await response.json()
                    if stats["received"] >= total:
                        break
                    await asyncio.sleep(0.1)
                profiler.stop()
                cpu_after = cpu_seconds(worker.pid), cpu_seconds(api.pid)
            latencies = stats["latencies"]
            results["end_to_end"] = {
                "events": total,
                "rate_per_second": 200,
                "subscriptions": len(subscriptions),
                "max_in_flight": E2E_MAX_IN_FLIGHT,
                "delivered": stats["received"],
                "p50_ms": percentile(latencies, 0.5),
                "p99_ms": percentile(latencies, 0.99),
                "stages": await e2e_stages(database),
                # CPU per event: steadier than latencies when the machine's load swings.
                "worker_cpu_ms_per_event": round((cpu_after[0] - cpu_before[0]) * 1000 / total, 2),
                "api_cpu_ms_per_event": round((cpu_after[1] - cpu_before[1]) * 1000 / total, 2),
                "load_average": os.getloadavg(),
            }
            processes.stop(worker)
            if skip_polling:
                await database.close()
                return results

            # 4. polling: N subscriptions over 100 connections, 1-minute schedule, 2 workers
            results["polling"] = await measure_polling(
                url, database, api_url, headers, poll_id, poll_port, processes, sizes
            )
            await database.close()
        finally:
            processes.stop_all()
    return results


async def measure_polling(
    url: str,
    database: asyncpg.Connection,
    api_url: str,
    headers: dict[str, str],
    poll_id: str,
    poll_port: int,
    processes: Processes,
    sizes: dict[str, int],
) -> dict[str, Any]:
    count = sizes["subscriptions"]
    connections = []
    async with aiohttp.ClientSession(base_url=api_url, headers=headers) as http:
        for n in range(100):
            async with http.post(
                "/connections",
                json={
                    "connector_id": poll_id,
                    "name": f"p{n}",
                    "credentials": {"api_key": "bench-key"},
                },
            ) as response:
                connections.append((await response.json())["id"])
    row = await database.fetchrow("SELECT enterprise_id, connector_id FROM connections LIMIT 1")
    now = datetime.now(UTC)
    state = json.dumps({"subscribed": True, "cursor": "2030-01-01T00:00:00Z", "values": {}})
    await database.executemany(
        "INSERT INTO event_subscriptions (id, enterprise_id, connection_id, connector_id, "
        "event_key, kind, parameters, state, intake_token, status, last_error, failures, "
        "next_run_at, created_at, updated_at) VALUES ($1, $2, $3, $4, 'item_changed', 'poll', "
        "'{}', $5::json, $6, 'active', '', 0, $7, $8, $8)",
        [
            (
                new_id(),
                row["enterprise_id"],
                connections[n % len(connections)],
                poll_id,
                state,
                uuid.uuid4().hex + uuid.uuid4().hex[:10],
                now + timedelta(seconds=60 * n / count),
                now,
            )
            for n in range(count)
        ],
    )
    async with aiohttp.ClientSession() as http:
        await (await http.get(f"http://127.0.0.1:{poll_port}/__reset?records=10")).read()
    workers = [
        processes.start(f"poller{n}", "-m", "connectory.cli", "worker", "--log-level", "warning")
        for n in (1, 2)
    ]
    await asyncio.sleep(3)  # start-up (imports, migrations check) is not polling work
    cpu_before = sum(cpu_seconds(w.pid) for w in workers)
    async with aiohttp.ClientSession() as http:
        await (await http.get(f"http://127.0.0.1:{poll_port}/__reset?records=10")).read()
        lags: list[float] = []
        started = time.perf_counter()
        while time.perf_counter() - started < sizes["poll_window"]:
            lag = await database.fetchval(
                "SELECT coalesce(extract(epoch FROM now() - min(next_run_at)), 0) "
                "FROM event_subscriptions WHERE next_run_at < now()"
            )
            lags.append(float(lag))
            await asyncio.sleep(2)
        window = time.perf_counter() - started
        async with http.get(f"http://127.0.0.1:{poll_port}/__stats") as response:
            polls = (await response.json())["requests"]
    cpu = sum(cpu_seconds(w.pid) for w in workers) - cpu_before
    failing = await database.fetchval(
        "SELECT count(*) FROM event_subscriptions WHERE status = 'failing'"
    )
    return {
        "subscriptions": count,
        "workers": 2,
        "window_seconds": round(window, 1),
        "polls": polls,
        "polls_per_second": round(polls / window, 1),
        "expected_per_second": round(count / 60, 1),
        "cpu_ms_per_poll": round(1000 * cpu / max(polls, 1), 2),
        "schedule_lag_median_s": round(statistics.median(lags), 2) if lags else None,
        "schedule_lag_max_s": round(max(lags), 2) if lags else None,
        "failing": failing,
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Small sizes (the smoke test).")
    parser.add_argument("--output", type=Path, default=None)
    for size in ("intake", "deliveries", "e2e_seconds", "subscriptions", "poll_window"):
        parser.add_argument(f"--{size.replace('_', '-')}", type=int, dest=size, default=None)
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="Folder for py-spy profiles of the API (intake) and the worker (delivery).",
    )
    parser.add_argument("--skip-polling", action="store_true", help="Stop after end to end.")
    args = parser.parse_args()
    import tempfile

    sizes = {
        name: getattr(args, name)
        for name in ("intake", "deliveries", "e2e_seconds", "subscriptions", "poll_window")
        if getattr(args, name) is not None
    }
    with tempfile.TemporaryDirectory() as folder:
        results = asyncio.run(run(args.quick, Path(folder), sizes, args.profile, args.skip_polling))
    text = json.dumps(results, indent=2)
    sys.stdout.write(text + "\n")
    output = args.output or (None if args.quick else ROOT / "bench" / "results" / "events.json")
    if output is not None:
        output.write_text(text + "\n")


if __name__ == "__main__":
    main()
