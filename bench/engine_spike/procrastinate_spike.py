"""Spike: procrastinate as Connectory's task engine (evidence for docs/operations.md).

Checks, each printed as one line of JSON:

1. in-process: the in-memory connector runs a deferred task and a periodic task inside one
   process, with no database server (the embedded SQLite default's situation);
2. periodic once: two worker *processes* on one PostgreSQL run a per-second periodic task;
   each second must be run exactly once;
3. reconnect: PostgreSQL is restarted under running workers; jobs deferred after the restart
   must still run. Measured twice: "bare" (``run_worker_async`` as is) and "supervised" (the
   same call in a loop that reopens the app after a ``ConnectorException``, as
   ``connectory worker`` does).

Run: ``python bench/engine_spike/procrastinate_spike.py`` (starts a private PostgreSQL in a
temporary folder on a free port; never touches the machine's shared server).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import procrastinate
import psycopg
from procrastinate.testing import InMemoryConnector

from connectory.testing.instances import PrivatePostgres


def report(check: str, **facts: object) -> None:
    sys.stdout.write(json.dumps({"engine": "procrastinate", "check": check, **facts}) + "\n")
    sys.stdout.flush()


async def in_process() -> None:
    app = procrastinate.App(connector=InMemoryConnector())
    ran: list[str] = []
    ticks: list[int] = []

    @app.task(name="job")
    async def job(value: str) -> None:
        ran.append(value)

    @app.periodic(cron="* * * * * *")  # every second (6th field = seconds)
    @app.task(name="tick")
    async def tick(timestamp: int) -> None:
        ticks.append(timestamp)

    async with app.open_async():
        await job.defer_async(value="hello")
        worker = asyncio.create_task(app.run_worker_async(concurrency=4, wait=True))
        await asyncio.sleep(3.2)
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    report("in_process", deferred_ran=ran == ["hello"], periodic_ticks=len(ticks))


WORKER = """
import asyncio, sys, procrastinate, psycopg
conninfo = sys.argv[1]
app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))

@app.periodic(cron="* * * * * *")
@app.task(name="tick", queueing_lock="tick")
async def tick(timestamp: int) -> None:
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as c:
        await c.execute("INSERT INTO ticks VALUES (%s, %s)", (timestamp, sys.argv[2]))

@app.task(name="job")
async def job(value: str) -> None:
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as c:
        await c.execute("INSERT INTO jobs VALUES (%s, %s)", (value, sys.argv[2]))

async def main():
    supervised = sys.argv[3] == "supervised"
    while True:
        try:
            async with app.open_async():
                await app.run_worker_async(concurrency=4, fetch_job_polling_interval=0.5)
        except procrastinate.exceptions.ConnectorException:
            if not supervised:
                raise
        if not supervised:
            return
        await asyncio.sleep(1)  # the database is away: try again shortly

asyncio.run(main())
"""


async def on_postgres(workdir: Path, mode: str) -> None:
    with PrivatePostgres.started() as postgres:
        conninfo = postgres.url()
        app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as c:
            await c.execute("CREATE TABLE ticks (ts bigint, worker text)")
            await c.execute("CREATE TABLE jobs (value text, worker text)")
        script = workdir / f"worker_{mode}.py"
        script.write_text(WORKER)
        workers = [
            subprocess.Popen([sys.executable, str(script), conninfo, name, mode])
            for name in ("w1", "w2")
        ]
        try:
            await asyncio.sleep(6)
            async with await psycopg.AsyncConnection.connect(conninfo) as c:
                rows = await (
                    await c.execute("SELECT ts, count(*) FROM ticks GROUP BY ts")
                ).fetchall()
            report(
                "periodic_once_across_two_workers",
                mode=mode,
                seconds_fired=len(rows),
                max_runs_per_second=max((n for _, n in rows), default=0),
            )
            started = time.monotonic()
            postgres.restart()
            report("postgres_restarted", seconds=round(time.monotonic() - started, 2))
            job_app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
            async with job_app.open_async():
                job_task = job_app.configure_task("job")
                for index in range(20):
                    await job_task.defer_async(value=str(index))
            deadline = time.monotonic() + 30
            done = 0
            while time.monotonic() < deadline:
                async with await psycopg.AsyncConnection.connect(conninfo) as c:
                    row = await (await c.execute("SELECT count(*) FROM jobs")).fetchone()
                done = row[0] if row else 0
                if done == 20:
                    break
                await asyncio.sleep(0.5)
            alive = [w.poll() is None for w in workers]
            report(
                "reconnect_after_postgres_restart",
                mode=mode,
                jobs_run_after_restart=done,
                workers_alive=alive,
                seconds_to_drain=round(time.monotonic() - started, 2),
            )
        finally:
            for worker in workers:
                worker.terminate()
                worker.wait(timeout=10)


def main() -> None:
    asyncio.run(in_process())
    with tempfile.TemporaryDirectory() as folder:
        for mode in ("bare", "supervised"):
            asyncio.run(on_postgres(Path(folder), mode))


if __name__ == "__main__":
    main()
