"""Observability overhead: 5,000 sequential calls through the server, everything on vs off.

``python -m bench.observability [--calls 5000] [--rounds 5]`` starts the bench API and two
``connectory serve`` processes on loopback, identical but for observability:

- **on**: the call log (its defaults: every call recorded, 2 KiB excerpts, batched writes to
  SQLite), Prometheus metrics, OpenTelemetry tracing exporting OTLP/HTTP to a sink on
  loopback that accepts every batch;
- **off**: ``CONNECTORY_CALL_LOG=false``, ``CONNECTORY_METRICS=false``, tracing off.

Each round makes *calls* sequential ``POST /connections/{id}/operations/get_item`` on one
server, then on the other (A B A B, after one warm-up round each); the report gives the
median calls/s of each and the median of the per-pair ratios (on / off), the target being
at least 0.9. Beside the rates, each round's CPU seconds of each server process per call
(Linux's /proc: steadier than rates on a loaded machine) and the load average at the start
and end of the run are kept. Every round is checked: the upstream counted exactly *calls*
requests, and the "on" server really recorded (its call log, /metrics and the sink saw the calls).
``--baseline sdk-tracing`` makes "off" the "on" configuration with the SDK recording spans
instead of Connectory's span recorder, ``--baseline no-tracing`` the "on" configuration with
tracing off; ``--spans-ab`` compares the span work in process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.run import RESULTS, ROOT, BenchError, bench_server
from bench.server import API_KEY

CONNECTOR = ROOT / "bench" / "connector.yaml"
TARGET = 0.9
#: What the "on" server can have on (``--on``): all three by default.
FEATURES = ("call_log", "metrics", "tracing")


class OtlpSink:
    """An OTLP/HTTP collector on loopback, in a process of its own (:mod:`bench.otlp_sink`).

    A collector is not part of the process that loads the server: run as threads of the load
    generator, the sink's handlers took the GIL from the sequential client at every export, and
    the "on" rounds were slowed by the sink as well as by the server. The child counts the
    exports and their bytes and keeps the bodies; :meth:`stats` asks it for the counts and,
    decoded only then (after the rounds), the spans.
    """

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.otlp_sink"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()  # the port, once it listens
        if not line.strip().isdigit():
            self.close()
            raise BenchError(f"the OTLP sink did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line)}"

    def stats(self) -> dict[str, int]:
        """Exports, bytes and spans (decoded now) the sink received so far."""
        answer = httpx.get(f"{self.url}/stats", timeout=120)
        answer.raise_for_status()
        counts: dict[str, int] = answer.json()
        return counts

    @property
    def exports(self) -> int:
        """Exports received so far."""
        return self.stats()["exports"]

    def spans(self) -> int:
        """How many spans the exports carried (decoded after the rounds, not during them)."""
        return self.stats()["spans"]

    def close(self) -> None:
        """Stop the sink's process."""
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def prepare_database(url: str, upstream: str) -> tuple[str, str]:
    """A migrated database with an enterprise admin and the bench connector published."""
    from connectory.services.tokens import issue_token
    from connectory.store import (
        Connector,
        ConnectorVersion,
        Enterprise,
        User,
        create_engine,
        create_sessionmaker,
        migrate,
    )

    document = yaml.safe_load(CONNECTOR.read_text())
    document["base_url"] = upstream
    engine = create_engine(url)
    try:
        await migrate(engine)
        async with create_sessionmaker(engine)() as session:
            enterprise = Enterprise(name="Bench")
            session.add(enterprise)
            await session.flush()
            user = User(
                email="bench@example.test",
                role="enterprise_admin",
                enterprise_id=enterprise.id,
                sdk_access=True,
            )
            session.add(user)
            connector = Connector(
                slug="bench",
                scope="catalogue",
                owner_key="catalogue",
                name="Bench",
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
            token = (await issue_token(session, user, name="bench")).secret
            await session.commit()
            return token, connector.id
    finally:
        await engine.dispose()


class Served:
    """One ``connectory serve`` process with the bench connection."""

    def __init__(
        self,
        label: str,
        upstream: str,
        env: dict[str, str],
        data: Path,
        database: str | None = None,
    ) -> None:
        self.label = label
        # SQLite in *data* unless another (async SQLAlchemy) database URL is given.
        database = database or f"sqlite+aiosqlite:///{data / 'connectory.db'}"
        token, connector_id = asyncio.run(prepare_database(database, upstream))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "connectory"),
                "serve",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "CONNECTORY_DATABASE_URL": database,
                "CONNECTORY_DATA_DIR": str(data),
                "CONNECTORY_EGRESS_ALLOW": "127.0.0.1",
                **env,
            },
            stdout=subprocess.DEVNULL,
        )
        self.http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.http.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise BenchError(f"the {label} server did not start")
            time.sleep(0.1)
        created = self.http.post(
            "/connections",
            json={
                "connector_id": connector_id,
                "name": "bench",
                "credentials": {"api_key": API_KEY},
            },
        )
        if created.status_code != 201:
            raise BenchError(f"{label}: cannot create the connection: {created.text}")
        self.connection = created.json()["id"]
        self.last_cpu_per_call = 0.0

    def calls(self, count: int) -> float:
        """Seconds for *count* sequential operation calls (each checked)."""
        path = f"/connections/{self.connection}/operations/get_item"
        post = self.http.post
        started = time.perf_counter()
        cpu = self.cpu_seconds()
        for number in range(count):
            response = post(path, json={"params": {"id": number % 1000 + 1}})
            if response.status_code != 200 or response.json()["status_code"] != 200:
                raise BenchError(f"{self.label}: call {number} failed: {response.text[:300]}")
        self.last_cpu_per_call = (self.cpu_seconds() - cpu) / count
        return time.perf_counter() - started

    def cpu_seconds(self) -> float:
        """User and system CPU seconds of the server process so far (Linux /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # utime and stime: fields 14 and 15 of stat(5), counted after the command's ")".
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.http.close()
        self.process.terminate()
        self.process.wait(timeout=30)


@contextmanager
def servers(
    upstream: str, sink: OtlpSink, features: tuple[str, ...] = FEATURES, baseline: str = "off"
) -> Iterator[tuple[Served, Served]]:
    on_env = {f"CONNECTORY_{feature.upper()}": "false" for feature in FEATURES}
    on_env.update({f"CONNECTORY_{feature.upper()}": "true" for feature in features})
    if "tracing" in features:
        on_env.update(OTEL_EXPORTER_OTLP_ENDPOINT=sink.url, OTEL_BSP_SCHEDULE_DELAY="500")
    with tempfile.TemporaryDirectory() as on_dir, tempfile.TemporaryDirectory() as off_dir:
        on = Served("on", upstream, on_env, Path(on_dir))
        off_env = {
            "CONNECTORY_CALL_LOG": "false",
            "CONNECTORY_METRICS": "false",
            "CONNECTORY_TRACING": "false",
        }
        if baseline == "sdk-tracing":
            # The same as "on", with the SDK recording the spans: the attribute count limit
            # (set to the SDK's default, so nothing changes) is one the recorder leaves to it.
            off_env = {**on_env, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "128"}
        elif baseline == "no-tracing":
            # The same as "on" but for tracing: what tracing adds to the rest.
            off_env = {**on_env, "CONNECTORY_TRACING": "false"}
        try:
            off = Served("off", upstream, off_env, Path(off_dir))
            try:
                yield on, off
            finally:
                off.close()
        finally:
            on.close()


def check_on(
    on: Served, sink: OtlpSink, calls: int, features: tuple[str, ...] = FEATURES
) -> dict[str, Any]:
    """Evidence that the "on" server recorded, counted and traced its calls (what is on)."""
    evidence: dict[str, Any] = {"on": list(features)}
    if "call_log" in features:
        page = on.http.get(f"/connections/{on.connection}/calls", params={"limit": 1}).json()
        if not page["items"]:
            raise BenchError(f"the call log was not on: {page}")
        evidence["dropped"] = page["dropped"]
    if "metrics" in features:
        counted = sum(
            float(line.rsplit(" ", 1)[1])
            for line in on.http.get("/metrics").text.splitlines()
            if line.startswith("connectory_calls_total{") and 'operation="get_item"' in line
        )
        if counted < calls:
            raise BenchError(f"metrics were not on: {counted} calls counted")
        evidence["calls_counted"] = counted
    if "tracing" in features:
        # Two spans a call (the call's, its attempt's): fewer means spans were dropped. The
        # server exports every 500 ms (OTEL_BSP_SCHEDULE_DELAY): wait for the last batch.
        time.sleep(1.5)
        stats = sink.stats()
        if stats["exports"] == 0:
            raise BenchError("tracing was not on: nothing exported")
        if stats["spans"] < 2 * calls:
            raise BenchError(f"tracing dropped spans: {stats['spans']} exported for {calls} calls")
        evidence.update(
            otlp_exports=stats["exports"], otlp_bytes=stats["bytes"], otlp_spans=stats["spans"]
        )
    return evidence


def spans_ab(calls: int, rounds: int, sink: OtlpSink) -> dict[str, Any]:
    """In-process A/B/C of a traced call's span work: SDK spans vs Connectory's recorder.

    Each call is what the server does when tracing is on: a call span (``CallTrack``), one
    attempt span under it, both ended and exported to *sink*. ``sdk``: SDK spans through a
    ``BatchSpanProcessor`` and the SDK's OTLP exporter; ``connectory``: SDK spans, Connectory's
    OTLP encoding (``OtlpSpanExporter``); ``recorder``: Connectory's span recorder and export
    queue (what the server uses when it configures tracing itself). Rounds rotate the order;
    each reports CPU microseconds per call of the calling thread and of the whole process
    (which adds the export thread: encoding and sending).
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from connectory.observability import ConnectionCalls, Telemetry
    from connectory.observability.otlp import OtlpSpanExporter
    from connectory.observability.spans import RecordedTracing
    from connectory.observability.tracing import (
        SpanTracing,
        Tracing,
        create_provider_from_env,
        tracing_from_env,
    )

    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.url
    # A queue for every span of a round: none dropped, so all of them are exported.
    queue = 2 * calls + 2048
    os.environ["OTEL_BSP_MAX_QUEUE_SIZE"] = str(queue)
    resource = create_provider_from_env().resource

    def build(name: str) -> SpanTracing:
        if name == "recorder":
            tracing = tracing_from_env()
            assert isinstance(tracing, RecordedTracing)
            return tracing
        exporter_class = OTLPSpanExporter if name == "sdk" else OtlpSpanExporter
        built = TracerProvider(resource=resource)
        built.add_span_processor(BatchSpanProcessor(exporter_class(), max_queue_size=queue))
        return Tracing(built)

    def run(name: str, count: int) -> tuple[float, float]:
        tracing = build(name)
        calls = ConnectionCalls(
            Telemetry(tracing=tracing), "conn-1", enterprise_id="ent-1", connector_id="conn-a"
        )
        thread, process = time.thread_time(), time.process_time()
        for number in range(count):
            with calls.track("operation", "get_item") as call:
                url = f"http://127.0.0.1:9/items/{number % 1000 + 1}"
                with tracing.attempt_span(call, "GET", url, None) as span:
                    span.set_attribute("http.response.status_code", 200)
                call.status_code = 200
                call.attempts = 1
        thread = time.thread_time() - thread
        # Exports what is left: counted in the process's CPU.
        tracing.shutdown()
        if isinstance(tracing, Tracing):
            tracing.provider.shutdown()
        return thread / count * 1e6, (time.process_time() - process) / count * 1e6

    names = ("sdk", "connectory", "recorder")
    results: dict[str, dict[str, list[float]]] = {
        name: {"thread_us": [], "process_us": []} for name in names
    }
    for name in names:
        run(name, min(calls, 500))  # warm-up
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            thread_us, process_us = run(name, calls)
            results[name]["thread_us"].append(round(thread_us, 1))
            results[name]["process_us"].append(round(process_us, 1))
            print(
                f"round {round_number + 1} {name}: {thread_us:.0f} us/call calling thread, "
                f"{process_us:.0f} us/call process",
                file=sys.stderr,
            )
    return {
        "scenario": f"{calls} traced calls in process (call span + attempt span, OTLP export)",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "rounds": rounds,
        "cpu_us_per_call": results,
        "median_process_us": {
            name: statistics.median(values["process_us"]) for name, values in results.items()
        },
        "load_average": os.getloadavg(),
        "exports": sink.exports,
        "spans_exported": sink.spans(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS / "observability.json")
    parser.add_argument(
        "--on",
        default=",".join(FEATURES),
        help="what the 'on' server has on, comma-separated (to see what each costs)",
    )
    parser.add_argument(
        "--baseline",
        choices=("off", "sdk-tracing", "no-tracing"),
        default="off",
        help="what the 'off' server is: everything off (the target's comparison), the 'on' "
        "server's configuration with the SDK recording spans (recorder vs SDK), or with "
        "tracing off (what tracing adds)",
    )
    parser.add_argument(
        "--spans-ab",
        action="store_true",
        help="instead: in-process A/B/C of the span work per call: SDK spans with the SDK's "
        "exporter, with Connectory's, and Connectory's span recorder",
    )
    args = parser.parse_args()
    if args.spans_ab:
        sink = OtlpSink()
        try:
            result = spans_ab(args.calls, args.rounds, sink)
        finally:
            sink.close()
        if args.output == parser.get_default("output"):
            args.output = RESULTS / "observability-spans-ab.json"
        args.output.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        return
    features = tuple(f for f in args.on.split(",") if f)
    if not features or set(features) - set(FEATURES):
        parser.error(f"--on takes some of {', '.join(FEATURES)}")
    sink = OtlpSink()
    rates: dict[str, list[float]] = {"on": [], "off": []}
    cpu_ms: dict[str, list[float]] = {"on": [], "off": []}
    ratios: list[float] = []
    load_start = os.getloadavg()
    try:
        with (
            bench_server(1000) as upstream,
            servers(upstream.url, sink, features, args.baseline) as (on, off),
        ):
            for served in (on, off):  # warm-up: clients built, pools and caches filled
                served.calls(min(args.calls, 500))
            for round_number in range(args.rounds):
                pair = {}
                for served in (on, off) if round_number % 2 == 0 else (off, on):
                    upstream.reset()
                    seconds = served.calls(args.calls)
                    requests = upstream.stats()["requests"]
                    if requests != args.calls:
                        raise BenchError(f"{served.label}: {requests} upstream requests")
                    pair[served.label] = args.calls / seconds
                    rates[served.label].append(pair[served.label])
                    cpu_ms[served.label].append(served.last_cpu_per_call * 1000)
                ratios.append(pair["on"] / pair["off"])
                print(
                    f"round {round_number + 1}: on {pair['on']:.0f}/s, off {pair['off']:.0f}/s, "
                    f"ratio {ratios[-1]:.3f}; server CPU ms/call on "
                    f"{cpu_ms['on'][-1]:.2f}, off {cpu_ms['off'][-1]:.2f}",
                    file=sys.stderr,
                )
            evidence = check_on(on, sink, args.calls * args.rounds, features)
    finally:
        sink.close()
    result = {
        "scenario": f"{args.calls} sequential POST /connections/{{id}}/operations/get_item",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "rounds": args.rounds,
        "baseline": args.baseline,
        "calls_per_second": {k: [round(v, 1) for v in values] for k, values in rates.items()},
        "median_calls_per_second": {k: round(statistics.median(v), 1) for k, v in rates.items()},
        "ratios": [round(r, 3) for r in ratios],
        "median_ratio": round(statistics.median(ratios), 3),
        "server_cpu_ms_per_call": {k: [round(v, 3) for v in vs] for k, vs in cpu_ms.items()},
        "cpu_ratio_off_over_on": round(
            statistics.median(cpu_ms["off"]) / statistics.median(cpu_ms["on"]), 3
        ),
        "load_average": {"start": load_start, "end": os.getloadavg()},
        "target": TARGET,
        "met": statistics.median(ratios) >= TARGET,
        "evidence": evidence,
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
