"""Delivery floor: the fastest at-least-once delivery loop over PostgreSQL, against a raw loop.

Issue 14's delivery target is a ratio (Connectory's worker >= 0.5x a raw aiohttp loop sending
the same signed requests, ``bench/events.py`` phase 2). This benchmark asks whether ANY loop
that keeps at-least-once delivery state in PostgreSQL can reach that ratio on this machine:
it measures, in one run, on a fresh database migrated with Connectory's schema
(``connectory.store.migrate``) holding N due deliveries (one endpoint, one queue each, as in
``bench/events.py``'s phase 2), sent to the same bare receiver (``bench.events_receiver``):

1. ``raw``: ``bench.events.raw_delivery_loop``, aiohttp sending signed requests, 50 at once,
   with no database at all;
2. ``floor-<L>-lanes``: the minimal loop a delivery engine cannot go below, with L lanes
   (one asyncpg connection each; with 2, one lane's database work overlaps the other's
   sends). Each lane repeats: lease a batch of B deliveries in one statement
   (``UPDATE deliveries SET status='in_flight', lease_until=... WHERE id IN (SELECT id ...
   FOR UPDATE SKIP LOCKED LIMIT B) RETURNING ...`` joined with the event and the endpoint's
   URL), build each envelope (Connectory's fields) and sign it (Standard Webhooks,
   ``keyed_signature_header``), POST all B at once with aiohttp, then record every try with
   one statement (INSERT into delivery_attempts + UPDATE to succeeded, or back to pending
   with a later ``next_run_at`` on a failure), each statement its own commit. Plain
   asyncpg: no SQLAlchemy, no call log, no fairness, no order per queue, no dead letters,
   signing keys decoded once per run; a lease that expires (a loop killed mid-send) would
   be taken back by a sweep, not measured (none expires here);
3. ``floor-<L>-lanes+call-log``: the same with a call log row per delivery written as
   Connectory writes its call log (an entry per try with request and response excerpts,
   buffered, one ``executemany`` of up to 500 rows in its own transaction at least every
   second, on a connection of its own), to show that write's share (``--no-call-log``
   skips it).

Each floor variant starts from the same state: the tables emptied, N deliveries inserted,
``VACUUM ANALYZE`` and ``CHECKPOINT`` run, the receiver's count reset; afterwards every
delivery must be succeeded with exactly one attempt and the receiver must count N requests,
or the run fails. The raw loop runs right before each floor variant, and each ratio is taken
against that neighbour, so a load that changes during the run shifts both sides alike.
Before each variant the run waits (``--settle`` seconds at most, 15 by default) for half a
second of a mostly idle machine: other sessions' tests share the two cores.

Reported per variant: deliveries per second and ``ratio_to_raw``; CPU milliseconds per
delivery of the loop's process, of the bench database's PostgreSQL backends
(``bench.events.backends_cpu``), of PostgreSQL's background processes, of the receiver, of
everything else (``others``: other databases' backends and other processes, with the three
biggest) and of the whole machine (``/proc/stat``; ``unattributed``: busy time no running
process was charged with, the kernel's loopback work and processes that ended meanwhile);
the machine's CPU use (``busy_fraction``: 1.0 is every core busy the whole time) and the
delivery's own share of it (``delivery_share_of_machine``: loop, backends, receiver,
PostgreSQL's background processes), to tell whether the two cores are the limit; and
``cpu_bound_per_second`` / ``cpu_bound_ratio_to_raw``: the rate the CPU per delivery alone
would allow with the machine to itself (the loop is one thread, at most a core; everything
shares the cores), a view far less disturbed by other work than rates, blind to waits.

Run: ``python -m bench.delivery_floor [--quick] [--deliveries N] [--batch B] [--lanes 1,2]
[--no-call-log] [--settle S] [--output FILE]``; the database is created on
``CONNECTORY_BENCH_POSTGRES`` (default the machine's 127.0.0.1:5432) and dropped afterwards.
Prints JSON; ``--output`` writes it too (default ``bench/results/delivery_floor.json`` unless
``--quick``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson

from bench.events import (
    Processes,
    backends_cpu,
    cpu_seconds,
    fresh_database,
    insert_deliveries,
    raw_delivery_loop,
    seed,
)
from connectory.events.signing import (
    generate_endpoint_secret,
    keyed_signature_header,
    signing_keys,
)
from connectory.store import new_id

ROOT = Path(__file__).resolve().parents[1]
#: How long a lease holds (Connectory's LEASE_SECONDS).
LEASE_SECONDS = 120
#: When a failed try is due again (the floor has no backoff schedule).
RETRY_SECONDS = 60
#: The raw loop's concurrency, as in bench/events.py.
RAW_CONCURRENCY = 50
#: Connectory's call log buffer: rows per write, seconds between writes, excerpt cap.
CALL_LOG_BATCH = 500
CALL_LOG_FLUSH_SECONDS = 1.0
EXCERPT_BYTES = 2048

#: A batch leased in one statement: due pending deliveries, with their event and endpoint.
CLAIM = """
WITH claimed AS (
    UPDATE deliveries
    SET status = 'in_flight', lease_until = $1, attempts = attempts + 1
    WHERE id IN (
        SELECT id FROM deliveries
        WHERE status = 'pending' AND next_run_at <= $2
        LIMIT $3
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, event_id, endpoint_id, enterprise_id
)
SELECT c.id AS delivery_id, c.enterprise_id, w.url, e.id, e.seq, e.type, e.connection_id,
       e.subscription_id, e.occurred_at, e.received_at, e.payload::text AS payload
FROM claimed c
JOIN events e ON e.id = c.event_id
JOIN webhook_endpoints w ON w.id = c.endpoint_id
"""

#: A batch's tries in one statement: every try stored, every delivery still held by this
#: lease moved (succeeded, or pending again later); Connectory's _RECORD_TRIES, minus dead.
RECORD = """
WITH tried AS (
    INSERT INTO delivery_attempts (delivery_id, attempted_at, status_code, error, duration_ms)
    SELECT a.id, $1, a.code, a.error, a.duration
    FROM unnest($2::varchar[], $3::integer[], $4::text[], $5::integer[])
         AS a(id, code, error, duration)
)
UPDATE deliveries AS d
SET status = t.status, last_status_code = t.code, last_error = t.error, lease_until = NULL,
    finished_at = CASE WHEN t.status = 'succeeded' THEN $1 ELSE d.finished_at END,
    next_run_at = coalesce(t.next_run_at, d.next_run_at)
FROM unnest($2::varchar[], $6::varchar[], $3::integer[], $4::text[], $7::timestamptz[])
     AS t(id, status, code, error, next_run_at)
WHERE d.id = t.id AND d.status = 'in_flight' AND d.lease_until = $8
"""

#: Connectory's call log row (connectory.store.call_log_models.CallLogEntry).
CALL_LOG_INSERT = """
INSERT INTO call_log (id, connection_id, enterprise_id, connector_id, kind, operation, status,
    status_code, started_at, duration_ms, attempts, error_class, error_message,
    request_excerpt, response_excerpt, trace_id, parent_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
"""


@dataclass
class Try:
    """One POST's outcome."""

    delivery_id: str
    status_code: int | None
    error: str
    duration_ms: int


@dataclass
class CallLog:
    """Connectory's call log write, reduced to the write: a buffer flushed in batches."""

    connection: asyncpg.Connection
    pending: list[tuple[Any, ...]] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closing: bool = False
    written: int = 0

    def record(self, row: asyncpg.Record, sent: Try, body: bytes, headers: dict[str, str]) -> None:
        """Buffer one entry (kind ``webhook_delivery``, as Connectory's deliveries log)."""
        request = f"POST {row['url']}\n" + "".join(f"{k}: {v}\n" for k, v in headers.items())
        request = (request + "\n" + body.decode())[:EXCERPT_BYTES]
        ok = sent.status_code is not None and 200 <= sent.status_code < 300
        self.pending.append(
            (
                uuid.uuid4().hex,
                row["connection_id"],
                row["enterprise_id"],
                None,
                "webhook_delivery",
                row["type"],
                "ok" if ok else "error",
                sent.status_code,
                datetime.now(UTC),
                float(sent.duration_ms),
                1,
                None if ok else "UpstreamError",
                None if ok else sent.error,
                request,
                f"HTTP {sent.status_code}\ncontent-length: 0\n" if sent.status_code else None,
                None,
                None,
            )
        )
        if len(self.pending) >= CALL_LOG_BATCH:
            self.wake.set()

    async def writer(self) -> None:
        """Write what gathered every flush interval (sooner at a full batch), then the rest."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), CALL_LOG_FLUSH_SECONDS)
            self.wake.clear()
            while self.pending:
                batch, self.pending = (
                    self.pending[:CALL_LOG_BATCH],
                    self.pending[CALL_LOG_BATCH:],
                )
                await self.connection.executemany(CALL_LOG_INSERT, batch)
                self.written += len(batch)
            if self.closing:
                return


def envelope(row: asyncpg.Record) -> bytes:
    """The JSON body Connectory sends (connectory.services.events.records.envelope)."""
    return orjson.dumps(
        {
            "id": row["id"],
            "seq": row["seq"],
            "type": row["type"],
            "connection_id": row["connection_id"],
            "subscription_id": row["subscription_id"],
            "occurred_at": row["occurred_at"],
            "received_at": row["received_at"],
            # The stored JSON as it is: no parse and re-serialisation.
            "data": orjson.Fragment(row["payload"]),
        },
        option=orjson.OPT_UTC_Z,
    )


async def send(
    http: aiohttp.ClientSession, keys: list[bytes], row: asyncpg.Record, call_log: CallLog | None
) -> Try:
    """One signed POST; any 2xx is a success, anything else a failed try."""
    body = envelope(row)
    headers = keyed_signature_header(keys, row["id"], int(time.time()), body)
    headers["content-type"] = "application/json"
    started = time.perf_counter()
    try:
        async with http.post(row["url"], data=body, headers=headers) as response:
            await response.read()
            status = response.status
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        elapsed = int((time.perf_counter() - started) * 1000)
        sent = Try(row["delivery_id"], None, f"{type(error).__name__}: {error}"[:500], elapsed)
    else:
        elapsed = int((time.perf_counter() - started) * 1000)
        problem = "" if 200 <= status < 300 else f"the endpoint answered {status}"
        sent = Try(row["delivery_id"], status, problem, elapsed)
    if call_log is not None:
        call_log.record(row, sent, body, headers)
    return sent


async def lane(
    database: asyncpg.Connection,
    http: aiohttp.ClientSession,
    keys: list[bytes],
    batch: int,
    call_log: CallLog | None,
) -> int:
    """Lease, send and record batches until nothing is due; the tries made."""
    tries = 0
    while True:
        now = datetime.now(UTC)
        lease = now + timedelta(seconds=LEASE_SECONDS)
        rows = await database.fetch(CLAIM, lease, now, batch)
        if not rows:
            return tries
        sent = await asyncio.gather(*(send(http, keys, row, call_log) for row in rows))
        retry_at = datetime.now(UTC) + timedelta(seconds=RETRY_SECONDS)
        ok = [t.status_code is not None and 200 <= t.status_code < 300 for t in sent]
        await database.execute(
            RECORD,
            datetime.now(UTC),
            [t.delivery_id for t in sent],
            [t.status_code for t in sent],
            [t.error for t in sent],
            [t.duration_ms for t in sent],
            ["succeeded" if good else "pending" for good in ok],
            [None if good else retry_at for good in ok],
            lease,
        )
        tries += len(sent)


class Floor:
    """The floor's lanes (and call log writer), connected before the clock starts.

    Closed only after the measurement has read the backends' CPU: a backend that has ended
    can no longer be read in /proc.
    """

    def __init__(self, lanes: int, batch: int, keys: list[bytes], call_log: bool) -> None:
        self.lanes = lanes
        self.batch = batch
        self.keys = keys
        self.with_call_log = call_log
        self.connections: list[asyncpg.Connection] = []
        self.sessions: list[aiohttp.ClientSession] = []

    async def connect(self, url: str) -> None:
        """One connection per lane (and one for the call log), one HTTP session per lane."""
        for _ in range(self.lanes + self.with_call_log):
            self.connections.append(await asyncpg.connect(url))
        for _ in range(self.lanes):
            connector = aiohttp.TCPConnector(limit=self.batch)
            self.sessions.append(aiohttp.ClientSession(connector=connector))

    async def run(self) -> None:
        """Every lane until nothing is due, then the call log's last write."""
        call_log = CallLog(self.connections[-1]) if self.with_call_log else None
        writer = asyncio.create_task(call_log.writer()) if call_log else None
        await asyncio.gather(
            *(
                lane(self.connections[n], self.sessions[n], self.keys, self.batch, call_log)
                for n in range(self.lanes)
            )
        )
        if call_log is not None and writer is not None:
            call_log.closing = True
            call_log.wake.set()
            await writer

    async def close(self) -> None:
        """Close the sessions and connections."""
        for session in self.sessions:
            await session.close()
        for connection in self.connections:
            await connection.close()


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, in clock ticks (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already in user
    return total - idle, total


#: PostgreSQL's own processes (not backends), by their title's start after "postgres: ".
POSTGRES_BACKGROUND = (
    "checkpointer",
    "background writer",
    "walwriter",
    "autovacuum",
    "logical replication",
    "archiver",
    "stats",
)


def processes_cpu() -> dict[int, tuple[str, float]]:
    """Every process's command line (its start) and CPU seconds so far (/proc)."""
    found: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            found[int(entry.name)] = (title.strip()[:100], cpu_seconds(int(entry.name)))
        except OSError:  # ended meanwhile
            continue
    return found


def attribute(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], ours: set[int]
) -> tuple[float, float, float, list[tuple[str, float]]]:
    """CPU seconds between two snapshots, outside *ours*: PostgreSQL's background processes,
    other databases' backends (other sessions' tests), every other process, and the other
    processes that used the most (title, seconds).
    """
    background = other_backends = others = 0.0
    top: list[tuple[str, float]] = []
    for pid, (title, cpu) in after.items():
        if pid in ours:
            continue
        used = cpu - before.get(pid, (title, 0.0))[1]
        if used <= 0:
            continue
        if title.startswith("postgres: "):
            if any(name in title for name in POSTGRES_BACKGROUND):
                background += used
            else:
                other_backends += used
        else:
            others += used
            top.append((f"{pid} {title}", used))
    top.sort(key=lambda item: -item[1])
    return background, other_backends, others, top[:3]


async def wait_for_quiet(limit: float) -> float:
    """Wait (at most *limit* seconds) for half a second of a mostly idle machine; the wait.

    Other sessions' tests share the cores: a variant that starts during one of them reports
    its CPU use, but its rate suffers. The wait is reported with each variant.
    """
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        busy, total = machine_jiffies()
        await asyncio.sleep(0.5)
        busy_after, total_after = machine_jiffies()
        if (busy_after - busy) / max(total_after - total, 1) < 0.15:
            break
    return round(time.perf_counter() - started, 1)


async def receiver_count(http: aiohttp.ClientSession, receiver: str, reset: bool) -> int:
    """The receiver's request count (and reset it)."""
    path = "/__reset" if reset else "/__stats"
    async with http.get(receiver.replace("/hook", path)) as response:
        return int((await response.json(content_type=None))["received"])


async def prepare(
    url: str,
    database: asyncpg.Connection,
    enterprise: str,
    endpoint: str,
    count: int,
    checkpoint: bool = True,
) -> None:
    """Empty the tables, insert *count* due deliveries, vacuum, analyze, checkpoint."""
    await database.execute("TRUNCATE delivery_attempts, deliveries, events, call_log")
    await insert_deliveries(url, enterprise, endpoint, count)
    await database.execute("VACUUM ANALYZE events, deliveries, delivery_attempts, call_log")
    # A checkpoint now, not in the middle of a variant (its writes would land on one of them).
    if checkpoint:
        await database.execute("CHECKPOINT")


async def verify(database: asyncpg.Connection, count: int, received: int, call_log: bool) -> None:
    """Every delivery succeeded exactly once and reached the receiver."""
    done = await database.fetchrow(
        "SELECT count(*) FILTER (WHERE status = 'succeeded' AND attempts = 1) AS succeeded, "
        "count(*) AS total, (SELECT count(*) FROM delivery_attempts) AS attempts, "
        "(SELECT count(*) FROM call_log) AS logged FROM deliveries"
    )
    expected = {
        "succeeded": count,
        "total": count,
        "attempts": count,
        "logged": count if call_log else 0,
    }
    assert dict(done) == expected, (dict(done), expected)
    assert received == count, (received, count)


async def measure(
    name: str,
    database: asyncpg.Connection,
    receiver_pid: int,
    count: int,
    work: Callable[[], Awaitable[None]],
) -> dict[str, Any]:
    """Run *work* (sending *count* deliveries) and report its rate and everyone's CPU."""
    everyone = processes_cpu()
    machine = machine_jiffies()
    postgres = await backends_cpu(database)
    receiver = cpu_seconds(receiver_pid)
    loop_cpu = time.process_time()
    started = time.perf_counter()
    await work()
    wall = time.perf_counter() - started
    loop_cpu = time.process_time() - loop_cpu
    receiver = cpu_seconds(receiver_pid) - receiver
    # Read while the lanes' connections are still open (see Floor).
    postgres_after = await backends_cpu(database)
    busy, total = (a - b for a, b in zip(machine_jiffies(), machine, strict=True))
    background, other_backends, others, top = attribute(
        everyone, processes_cpu(), {os.getpid(), receiver_pid, *postgres_after}
    )
    postgres_s = sum(cpu - postgres.get(pid, 0.0) for pid, cpu in postgres_after.items())
    tick = os.sysconf("SC_CLK_TCK")
    machine_s = busy / tick

    def per_delivery(seconds: float) -> float:
        return round(seconds * 1000 / count, 3)

    return {
        "variant": name,
        "deliveries": count,
        "seconds": round(wall, 3),
        "per_second": round(count / wall, 1),
        "loop_cpu_ms_per_delivery": per_delivery(loop_cpu),
        "postgres_backends_cpu_ms_per_delivery": per_delivery(postgres_s),
        "receiver_cpu_ms_per_delivery": per_delivery(receiver),
        "postgres_background_cpu_ms_per_delivery": per_delivery(background),
        "machine_cpu_ms_per_delivery": per_delivery(machine_s),
        # Busy time of the machine that no running process was charged with: the kernel's
        # (softirq: loopback TCP) and processes that ended during the variant.
        "unattributed_cpu_ms_per_delivery": per_delivery(
            machine_s - loop_cpu - postgres_s - receiver - background - other_backends - others
        ),
        # Not this benchmark's: other databases' backends and other processes (other
        # sessions' tests), with the three other processes that used the most.
        "others_cpu_ms_per_delivery": per_delivery(other_backends + others),
        "others_top_ms": {title: round(cpu * 1000, 1) for title, cpu in top},
        "busy_fraction": round(busy / max(total, 1), 3),
        # The delivery's own processes (loop, its backends, receiver, PostgreSQL's background
        # processes) as a share of the machine's capacity over the variant: near 1.0, the
        # cores are the limit; well below, waits are (commits, round trips) or others' work.
        "delivery_share_of_machine": round(
            (loop_cpu + postgres_s + receiver + background) / (wall * (os.cpu_count() or 1)), 3
        ),
        # The rate the CPU alone would allow with the machine to itself: the loop is one
        # thread (at most a core), and everything the delivery runs shares the cores. Read
        # from CPU per delivery, which other work on the machine disturbs far less than rates
        # (it ignores waits: commits, round trips; and the kernel's loopback work).
        "cpu_bound_per_second": round(
            min(
                1 / max(loop_cpu / count, 1e-9),
                (os.cpu_count() or 1)
                / max((loop_cpu + postgres_s + receiver + background) / count, 1e-9),
            ),
            1,
        ),
        "cores": os.cpu_count(),
        "load_average": os.getloadavg(),
    }


async def run(
    count: int,
    batch: int,
    lane_counts: list[int],
    call_log: bool,
    workdir: Path,
    settle: float,
    checkpoint: bool = True,
) -> dict[str, Any]:
    """Every variant on one fresh database, in order: raw, then the floors.

    *checkpoint*: checkpoint the server before each floor variant (not in the smoke test: a
    checkpoint is the whole shared server's, and would disturb whatever else runs on it).
    """
    results: dict[str, Any] = {
        "deliveries": count,
        "batch": batch,
        "raw_concurrency": RAW_CONCURRENCY,
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "variants": [],
    }
    keys = signing_keys([generate_endpoint_secret()])
    async with fresh_database() as url:
        processes = Processes(dict(os.environ), workdir)
        try:
            _, enterprise, _, _ = await seed(
                url.replace("postgresql://", "postgresql+asyncpg://"), []
            )
            receiver_process, receiver_port = processes.start_listening(
                "-m", "bench.events_receiver"
            )
            receiver = f"http://127.0.0.1:{receiver_port}/hook"
            database = await asyncpg.connect(url)
            endpoint = new_id()
            now = datetime.now(UTC)
            await database.execute(
                "INSERT INTO webhook_endpoints (id, enterprise_id, url, description, enabled, "
                "max_in_flight, created_at, updated_at) VALUES ($1, $2, $3, '', true, $4, $5, $5)",
                endpoint,
                enterprise,
                receiver,
                batch,
                now,
            )
            floors = [(f"floor-{n}-lanes", n, False) for n in lane_counts]
            if call_log:
                floors += [(f"floor-{n}-lanes+call-log", n, True) for n in lane_counts]
            # The raw loop right before each floor variant: each ratio compares two
            # neighbours, so a load that changes during the run shifts both alike.
            plan = [step for floor in floors for step in (("raw", 0, False), floor)]
            async with aiohttp.ClientSession() as control:
                for name, lanes, logged in plan:
                    await receiver_count(control, receiver, reset=True)
                    floor: Floor | None = None
                    if lanes == 0:

                        async def raw() -> None:
                            await raw_delivery_loop(receiver, count, RAW_CONCURRENCY)

                        work: Callable[[], Awaitable[None]] = raw
                    else:
                        await prepare(url, database, enterprise, endpoint, count, checkpoint)
                        floor = Floor(lanes, batch, keys, logged)
                        await floor.connect(url)
                        work = floor.run
                    waited = await wait_for_quiet(settle)
                    report = await measure(name, database, receiver_process.pid, count, work)
                    report["waited_for_quiet_s"] = waited
                    if floor is not None:
                        await floor.close()
                    received = await receiver_count(control, receiver, reset=False)
                    if lanes == 0:
                        assert received == count, (received, count)
                    else:
                        await verify(database, count, received, logged)
                    report["lanes"] = lanes
                    results["variants"].append(report)
            await database.close()
        finally:
            processes.stop_all()
    raw_rates = [r["per_second"] for r in results["variants"] if r["lanes"] == 0]
    results["raw_per_second_median"] = statistics.median(raw_rates)
    for before, report in itertools.pairwise(results["variants"]):
        if report["lanes"]:  # against the raw loop run just before it
            report["ratio_to_raw"] = round(report["per_second"] / before["per_second"], 3)
            report["cpu_bound_ratio_to_raw"] = round(
                report["cpu_bound_per_second"] / before["cpu_bound_per_second"], 3
            )
    results["summary"] = {
        r["variant"]: {
            "per_second": r["per_second"],
            "ratio_to_raw": r["ratio_to_raw"],
            "cpu_bound_ratio_to_raw": r["cpu_bound_ratio_to_raw"],
            "cpu_ms_per_delivery": {
                "loop": r["loop_cpu_ms_per_delivery"],
                "postgres": r["postgres_backends_cpu_ms_per_delivery"],
                "machine": r["machine_cpu_ms_per_delivery"],
            },
            "busy_fraction": r["busy_fraction"],
            "delivery_share_of_machine": r["delivery_share_of_machine"],
        }
        for r in results["variants"]
        if r["lanes"]
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 deliveries (the smoke test).")
    parser.add_argument("--deliveries", type=int, default=None, help="Default 20,000.")
    parser.add_argument("--batch", type=int, default=64, help="Rows leased per statement.")
    parser.add_argument("--lanes", default="1,2", help="Lane counts of the floor, e.g. 1,2.")
    parser.add_argument(
        "--no-call-log", action="store_true", help="Skip the floor + call log variants."
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=15.0,
        help="Seconds to wait at most, before each variant, for a mostly idle machine.",
    )
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    count = args.deliveries or (300 if args.quick else 20_000)
    lanes = [int(n) for n in args.lanes.split(",") if n.strip()]
    with tempfile.TemporaryDirectory() as folder:
        results = asyncio.run(
            run(
                count,
                args.batch,
                lanes,
                not args.no_call_log,
                Path(folder),
                args.settle,
                checkpoint=not args.quick,
            )
        )
    results["quick"] = args.quick
    text = json.dumps(results, indent=2)
    sys.stdout.write(text + "\n")
    output = args.output or (
        None if args.quick else ROOT / "bench" / "results" / "delivery_floor.json"
    )
    if output is not None:
        output.write_text(text + "\n")


if __name__ == "__main__":
    main()
