"""The call log's and the metrics' CPU per call, two source trees in the same run.

``python -m bench.calllog_ab --before DIR [--after DIR] [--calls 20000] [--rounds 3]``

Each round runs, in a fresh process per tree (order alternating), *calls* tracked operation
calls as the runtime reports them (a request with an API key header, a JSON reply echoing the
key) into a connection's call log (the server's buffer) and metrics, then writes the buffered
entries through ``CallLogStore`` to a new SQLite file in batches of 500, as the server's
writer does. Reported per call, in CPU microseconds: the request path (the calling thread
while the calls run), the write (the event loop's thread, and the whole process with the
driver's thread), and the process's total of both. Results:
``bench/results/observability-calllog.json`` (``--output``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

#: Runs in the child process, with PYTHONPATH set to the tree under test.
_CHILD = r"""
import asyncio, json, sys, tempfile, time
from datetime import timedelta
from connectory.http.redaction import Redactor
from connectory.observability.buffer import BufferedRecorder
from connectory.observability.calls import ConnectionCalls, Telemetry
from connectory.observability.metrics import Metrics
from connectory.services.call_log import CallLogStore
from connectory.store import create_engine, create_sessionmaker, migrate

CALLS = int(sys.argv[1])
KEY = "key-0123456789-secret"
URL = "http://127.0.0.1:8000/items/7?fields=id,name"
HEADERS = {"Accept": "application/json", "X-API-Key": KEY, "User-Agent": "connectory"}
REPLY = {"content-type": "application/json", "content-length": "64"}
BODY = b'{"id": 7, "name": "item 7", "price": 12.5, "echo": "' + KEY.encode() + b'"}'


async def main() -> None:
    async def nowhere(batch):
        return None

    buffer = BufferedRecorder(nowhere, max_entries=CALLS + 1, batch_size=CALLS + 1)
    telemetry = Telemetry(recorder=buffer, metrics=Metrics())
    calls = ConnectionCalls(telemetry, "conn-1", redactor=Redactor([KEY]), connector_id="c-1")

    async def one() -> None:
        with calls.track("operation", "get_item") as call:
            call.note_request("GET", URL, HEADERS, None)
            call.note_reply(200, REPLY, BODY, 1)

    for _ in range(1000):
        await one()
    buffer._entries.clear()
    start_thread, start_process = time.thread_time(), time.process_time()
    for _ in range(CALLS):
        await one()
    path_thread = time.thread_time() - start_thread
    path_process = time.process_time() - start_process
    entries = list(buffer._entries)
    folder = tempfile.mkdtemp()
    engine = create_engine(f"sqlite+aiosqlite:///{folder}/log.db")
    await migrate(engine)
    store = CallLogStore(
        create_sessionmaker(engine), max_age=timedelta(days=7), max_entries=CALLS + 1
    )
    write_thread, write_process = time.thread_time(), time.process_time()
    for index in range(0, len(entries), 500):
        await store.write(entries[index : index + 500])
    end_thread, end_process = time.thread_time(), time.process_time()
    await engine.dispose()
    print(json.dumps({
        "request_path_us": path_thread / CALLS * 1e6,
        "write_loop_us": (end_thread - write_thread) / CALLS * 1e6,
        "write_process_us": (end_process - write_process) / CALLS * 1e6,
        "total_process_us": (path_process + end_process - write_process) / CALLS * 1e6,
    }))


asyncio.run(main())
"""


def _run(tree: str, calls: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": tree}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(calls)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Run the rounds and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the src directory before the change")
    parser.add_argument("--after", default=str(ROOT / "src"), help="the src directory after")
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS / "observability-calllog.json")
    args = parser.parse_args()
    load_start = os.getloadavg()
    rounds: list[dict[str, dict[str, float]]] = []
    for number in range(args.rounds):
        order = ("before", "after") if number % 2 == 0 else ("after", "before")
        found = {
            name: _run(args.before if name == "before" else args.after, args.calls)
            for name in order
        }
        rounds.append(found)
        print(json.dumps({"round": number + 1, **found}), flush=True)
    medians = {
        name: {
            key: round(statistics.median(r[name][key] for r in rounds), 2)
            for key in rounds[0][name]
        }
        for name in ("before", "after")
    }
    summary = {
        "calls": args.calls,
        "load_average": {"start": load_start, "end": os.getloadavg()},
        "rounds": rounds,
        "medians_us_per_call": medians,
    }
    args.output.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(medians, indent=2))


if __name__ == "__main__":
    main()
