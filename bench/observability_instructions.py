"""Instructions per operation call with each observability feature on, counted by callgrind.

``python -m bench.observability_instructions [--tree DIR ...] [--on LIST ...]``

The request path of ``POST /connections/{id}/operations/get_item`` in one process: the whole
API (its lifespan, the fast path, the runtime, the call log's writer, the span export thread)
served to an ``httpx.ASGITransport`` client, the bench API and an OTLP sink in processes of
their own, outside valgrind. For each source tree (``--tree``, a ``src`` directory) and each
configuration (``--on``: ``off``, or a comma-separated subset of ``call_log,metrics,tracing``)
the server runs under ``valgrind --tool=callgrind`` with instrumentation off through start-up
and :data:`WARM_UP` calls, then on (``callgrind_control``) for :data:`CALLS` calls, the call
log's writes of their entries and the export of their spans (that work counts too). Unlike
calls/s or CPU seconds, the count does not move with the machine's load (only the batching of
timer-driven writes and exports does, a little): the difference between a configuration and
``off`` is what the features cost a call. Needs valgrind; a configuration takes a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Calls counted, after :data:`WARM_UP` calls that are not.
CALLS, WARM_UP = 300, 50
#: The configurations measured by default.
CONFIGS = ("off", "call_log", "metrics", "tracing", "call_log,metrics,tracing")
FEATURES = ("call_log", "metrics", "tracing")


async def _child(upstream: str, sink: str, calls: int) -> None:
    """Serve *calls* sequential operation calls in process (inside valgrind).

    Start-up and a warm-up run with callgrind's instrumentation off; the child says
    ``ready`` on stdout and waits for ``go`` on stdin (the parent turns instrumentation on in
    between), makes the calls, writes the call log and exports the spans, says ``done`` and
    waits for ``exit`` (the parent turns it off again, so the teardown is not counted).
    """
    import httpx

    from bench.observability import prepare_database
    from bench.server import API_KEY
    from connectory.api import create_app
    from connectory.settings import Settings
    from connectory.startup import settle_heap_for_serving

    data = Path(os.environ["CONNECTORY_DATA_DIR"])
    database = f"sqlite+aiosqlite:///{data / 'connectory.db'}"
    os.environ.update(
        CONNECTORY_DATABASE_URL=database,
        CONNECTORY_EGRESS_ALLOW="127.0.0.1",
        OTEL_EXPORTER_OTLP_ENDPOINT=sink,
        # Under valgrind a call takes ~50 times as long: timers would fire ~50 times as often
        # per call (the request cache expiring, sending calls down the slow path; the call
        # log's and the span queue's timed writes of a few entries each). Batches are made by
        # size and by the final settle instead, as they are at full speed.
        CONNECTORY_REQUEST_CACHE_TTL="3600",
        CONNECTORY_CALL_LOG_FLUSH_INTERVAL="60",
        OTEL_BSP_SCHEDULE_DELAY="60000",
    )
    # httpx's ASGI transport tries to import sniffio on every request (a failed import, with
    # its file system look-ups, when it is not installed): the client's cost, not the server's.
    with contextlib.suppress(ImportError):
        import sniffio  # noqa: F401
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]
    token, connector_id = await prepare_database(database, upstream)
    settings = Settings()

    def started() -> None:
        # As ``connectory serve`` does once started: start-up's objects frozen out of the
        # collector's reach (a full collection over them inside the counted calls, or not,
        # moved the count by ~10%), the young generation's threshold raised.
        settle_heap_for_serving(settings.gc_young_threshold)

    app = create_app(settings, on_started=started)
    async with app.router.lifespan_context(app):
        telemetry = app.state.telemetry

        async def settle() -> None:
            # Every entry written and every span exported (inside the counted part for the
            # calls counted, before it for the warm-up's).
            await telemetry.flush()
            if telemetry.tracing is not None and hasattr(telemetry.tracing, "flush"):
                await asyncio.to_thread(telemetry.tracing.flush)

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://127.0.0.1",
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            created = await client.post(
                "/connections",
                json={
                    "connector_id": connector_id,
                    "name": "bench",
                    "credentials": {"api_key": API_KEY},
                },
            )
            created.raise_for_status()
            path = f"/connections/{created.json()['id']}/operations/get_item"

            async def run(count: int) -> None:
                for number in range(count):
                    answer = await client.post(path, json={"params": {"id": number % 1000 + 1}})
                    if answer.status_code != 200 or answer.json()["status_code"] != 200:
                        raise RuntimeError(f"call {number} failed: {answer.text[:300]}")

            await run(WARM_UP)
            await settle()
            # What the warm-up made for good (clients, caches) out of the collector's reach.
            gc.collect()
            gc.freeze()
            await _signal("ready", "go")
            await run(calls)
            await settle()
            await _signal("done", "exit")


async def _signal(said: str, awaited: str) -> None:
    """Say *said* on stdout and wait for the line *awaited* on stdin."""
    sys.stdout.write(said + "\n")
    sys.stdout.flush()
    line = await asyncio.to_thread(sys.stdin.readline)
    if line.strip() != awaited:
        raise RuntimeError(f"expected {awaited!r}, got {line!r}")


def _instructions(src: Path, on: str, upstream: str, sink: str, calls: int) -> int:
    """Instructions callgrind counts for *calls* calls with *on* on (start-up not counted)."""
    features = () if on == "off" else tuple(on.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            PYTHONPATH=f"{src}{os.pathsep}{ROOT}",
            CONNECTORY_DATA_DIR=tmp,
            **{f"CONNECTORY_{f.upper()}": str(f in features).lower() for f in FEATURES},
        )
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={tmp}/callgrind.out",
            sys.executable,
            "-m",
            "bench.observability_instructions",
            "--child",
            upstream,
            sink,
            str(calls),
        ]
        with open(f"{tmp}/stderr", "w+") as errors:
            child = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
            assert child.stdin is not None and child.stdout is not None

            def step(expected: str, instrument: str, reply: str) -> None:
                line = child.stdout.readline() if child.stdout else ""
                if line.strip() != expected:
                    child.kill()
                    child.wait()
                    errors.seek(0)
                    raise RuntimeError(f"the callgrind run failed:\n{errors.read()[-3000:]}")
                subprocess.run(
                    ["callgrind_control", "-i", instrument, str(child.pid)],
                    check=True,
                    capture_output=True,
                )
                assert child.stdin is not None
                child.stdin.write(reply + "\n")
                child.stdin.flush()

            step("ready", "on", "go")
            step("done", "off", "exit")
            child.wait()
            errors.seek(0)
            stderr = errors.read()
    if child.returncode != 0:
        raise RuntimeError(f"the callgrind run failed:\n{stderr[-3000:]}")
    found = re.search(r"Collected : (\d+)", stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from callgrind:\n{stderr[-2000:]}")
    return int(found.group(1))


def per_call(src: Path, on: str, upstream: str, sink: str) -> float:
    """Instructions of one call, the call log's writes and the span exports included."""
    return _instructions(src, on, upstream, sink, CALLS) / CALLS


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--child"]:
        asyncio.run(_child(args[1], args[2], int(args[3])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", help="a src directory (default: ./src)")
    parser.add_argument("--on", action="append", help=f"a configuration (default: {CONFIGS})")
    parser.add_argument("--output", type=Path, help="write the counts here (JSON)")
    options = parser.parse_args(args)
    trees = [Path(tree) for tree in options.tree or [ROOT / "src"]]
    configs = options.on or list(CONFIGS)
    for config in configs:
        if config != "off" and set(config.split(",")) - set(FEATURES):
            parser.error(f"--on takes off or some of {', '.join(FEATURES)}")
    from bench.observability import OtlpSink
    from bench.run import bench_server

    results: dict[str, dict[str, float]] = {}
    sink = OtlpSink()
    try:
        with bench_server(1000) as upstream:
            for tree in trees:
                counts = results.setdefault(str(tree), {})
                for config in configs:
                    counts[config] = round(per_call(tree, config, upstream.url, sink.url))
                    extra = ""
                    if "off" in counts and config != "off":
                        extra = f" ({counts[config] - counts['off']:+,.0f} over off)"
                    print(f"{tree} {config}: {counts[config]:,.0f} per call{extra}", flush=True)
    finally:
        sink.close()
    if options.output is not None:
        options.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
