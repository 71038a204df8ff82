"""Spike: taskiq as Connectory's task engine (evidence for docs/operations.md).

Same three checks as ``procrastinate_spike.py``, each printed as one line of JSON:

1. in-process: ``InMemoryBroker`` runs a task and the scheduler (1-second interval) in one
   process;
2. periodic once: two worker *processes* on one Redis (``RedisStreamBroker``, acknowledged
   deliveries), each running the scheduler as a ``connectory worker`` would; how many times
   does each second fire?
3. reconnect: Redis is killed and restarted under the running workers; tasks sent after the
   restart must still run.

Run: ``python bench/engine_spike/taskiq_spike.py`` (starts a private redis-server on a free
port; never touches the machine's shared one).
"""

from __future__ import annotations

import asyncio
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from taskiq import InMemoryBroker, TaskiqScheduler
from taskiq.api import run_scheduler_task
from taskiq.schedule_sources import LabelScheduleSource

from connectory.testing.instances import PrivateRedis


def report(check: str, **facts: object) -> None:
    sys.stdout.write(json.dumps({"engine": "taskiq", "check": check, **facts}) + "\n")
    sys.stdout.flush()


async def in_process() -> None:
    broker = InMemoryBroker()
    ran: list[str] = []
    ticks: list[float] = []

    @broker.task(task_name="job")
    async def job(value: str) -> None:
        ran.append(value)

    @broker.task(task_name="tick", schedule=[{"interval": 1}])
    async def tick() -> None:
        ticks.append(time.time())

    await broker.startup()
    await job.kiq("hello")
    scheduler = TaskiqScheduler(broker, [LabelScheduleSource(broker)])
    loop = asyncio.create_task(run_scheduler_task(scheduler))
    await asyncio.sleep(3.2)
    loop.cancel()
    await broker.wait_all()
    await broker.shutdown()
    report("in_process", deferred_ran=ran == ["hello"], periodic_ticks=len(ticks))


WORKER = """
import asyncio, os, sys, time
from taskiq import TaskiqScheduler
from taskiq.api import run_receiver_task, run_scheduler_task
from taskiq.schedule_sources import LabelScheduleSource
from taskiq_redis import RedisStreamBroker

url, name, out = sys.argv[1], sys.argv[2], sys.argv[3]
broker = RedisStreamBroker(url, consumer_name=name, xread_block=500)

def write(line):
    with open(out, "a") as f:
        f.write(line + "\\n")

@broker.task(task_name="tick", schedule=[{"interval": 1}])
async def tick() -> None:
    write(f"tick {int(time.time())} {name}")

@broker.task(task_name="job")
async def job(value: str) -> None:
    write(f"job {value} {name}")

async def main():
    await broker.startup()
    scheduler = TaskiqScheduler(broker, [LabelScheduleSource(broker)])
    await asyncio.gather(run_receiver_task(broker), run_scheduler_task(scheduler))

asyncio.run(main())
"""

SENDER = """
import asyncio, sys
from taskiq_redis import RedisStreamBroker
broker = RedisStreamBroker(sys.argv[1])
job = broker.register_task(lambda value: None, task_name="job")
async def main():
    await broker.startup()
    for index in range(20):
        await job.kiq(str(index))
    await broker.shutdown()
asyncio.run(main())
"""


def lines(out: Path, kind: str) -> list[list[str]]:
    if not out.exists():
        return []
    return [line.split() for line in out.read_text().splitlines() if line.startswith(kind)]


def on_redis(workdir: Path) -> None:
    with PrivateRedis.started(workdir) as redis:
        out = workdir / "out.txt"
        script = workdir / "worker.py"
        script.write_text(WORKER)
        sender = workdir / "sender.py"
        sender.write_text(SENDER)
        workers = [
            subprocess.Popen(
                [sys.executable, str(script), redis.url(), name, str(out)],
                stderr=subprocess.DEVNULL,
            )
            for name in ("w1", "w2")
        ]
        try:
            time.sleep(6)
            per_second = collections.Counter(fields[1] for fields in lines(out, "tick"))
            report(
                "periodic_once_across_two_workers",
                seconds_fired=len(per_second),
                max_runs_per_second=max(per_second.values(), default=0),
            )
            started = time.monotonic()
            redis.restart(workdir)
            report("redis_restarted", seconds=round(time.monotonic() - started, 2))
            subprocess.run([sys.executable, str(sender), redis.url()], check=True, timeout=30)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(lines(out, "job")) < 20:
                time.sleep(0.5)
            report(
                "reconnect_after_redis_restart",
                jobs_run_after_restart=len({fields[1] for fields in lines(out, "job")}),
                workers_alive=[w.poll() is None for w in workers],
                seconds_to_drain=round(time.monotonic() - started, 2),
            )
        finally:
            for worker in workers:
                worker.terminate()
                worker.wait(timeout=10)


def main() -> None:
    asyncio.run(in_process())
    with tempfile.TemporaryDirectory() as folder:
        on_redis(Path(folder))


if __name__ == "__main__":
    main()
