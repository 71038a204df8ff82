"""CPU cost of encoding the span recorder's batches: one ``otlp.py`` against another.

Why: the encoder's string-attribute cache used to keep every string value (call ids, URLs);
now it keeps only low-cardinality keys, per encoder. This measures what that does to the
export thread's CPU per span, on batches shaped like a server's: per call an operation span
(kind, call id, operation, connection, connector, attempts, status) and a CLIENT attempt span
(method, a URL unique per call). Both encoders run in one process, alternating A B A B, and
only their process CPU seconds are compared (the machine is shared: no wall clock).

    PYTHONPATH=src python bench/otlp_record_cache.py --before /tmp/otlp_before.py \\
        --out bench/results/otlp-record-cache.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from connectory.observability import otlp
from connectory.observability.spans import KIND_CLIENT, KIND_INTERNAL, SpanRecord


def load(path: Path) -> ModuleType:
    """The ``otlp`` module at *path*, under its own name (both versions side by side)."""
    spec = importlib.util.spec_from_file_location("otlp_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def batches(count: int, size: int) -> list[list[SpanRecord]]:
    """*count* batches of *size* spans, half operation spans, half attempt spans."""
    out = []
    call = 0
    for _ in range(count):
        batch = []
        while len(batch) < size:
            call += 1
            operation = SpanRecord(
                None,
                "operation get_item",
                KIND_INTERNAL,
                {
                    "connectory.kind": "operation",
                    "connectory.call_id": f"{call:032x}",
                    "connectory.operation": "get_item",
                    "connectory.connection_id": f"conn-{call % 20}",
                    "connectory.connector_id": "connector-a",
                    "connectory.attempts": 1,
                    "http.response.status_code": 200,
                },
                call,
                0,
                False,
                True,
                "",
            )
            attempt = SpanRecord(
                None,
                "GET",
                KIND_CLIENT,
                {
                    "http.request.method": "GET",
                    "url.full": f"https://api.example.com/v1/items/{call}?page=2",
                },
                call,
                operation.span_id,
                False,
                True,
                "",
            )
            for span in (operation, attempt):
                span.end = span.start + 1000
            batch += [operation, attempt]
        out.append(batch)
    return out


def cpu_per_span(encoder: Any, work: list[list[SpanRecord]]) -> float:
    """Process CPU microseconds per span to encode *work*."""
    start = time.process_time()
    for batch in work:
        encoder.encode(batch)
    spans = sum(len(batch) for batch in work)
    return (time.process_time() - start) / spans * 1e6


def main() -> None:
    """Run the A/B rounds and write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, required=True, help="the other otlp.py")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batches", type=int, default=40)
    args = parser.parse_args()
    before = load(args.before)
    resource = Resource.create({"service.name": "bench"})
    scope = InstrumentationScope("connectory")
    results: dict[str, list[float]] = {"before": [], "after": []}
    for round_number in range(args.rounds):
        # Fresh spans per round (new call ids and URLs, as a server's), one encoder per side
        # for the whole run as the recorder has.
        work = batches(args.batches, 512)
        if round_number == 0:
            encoders = {
                "before": before.RecordEncoder(resource, scope),
                "after": otlp.RecordEncoder(resource, scope),
            }
            # The same bytes either way: only the caching differs.
            assert encoders["before"].encode(work[0]) == encoders["after"].encode(work[0])
        order = ("before", "after") if round_number % 2 == 0 else ("after", "before")
        for side in order:
            results[side].append(cpu_per_span(encoders[side], work))
    medians = {side: statistics.median(values) for side, values in results.items()}
    summary = {
        "what": "RecordEncoder CPU per span, batches of 512 (operation + attempt spans)",
        "load_average": os.getloadavg(),
        "rounds": args.rounds,
        "spans_per_round": args.batches * 512,
        "cpu_us_per_span": results,
        "median_us_per_span": medians,
        "ratio_after_to_before": medians["after"] / medians["before"],
    }
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: summary[k] for k in ("median_us_per_span", "ratio_after_to_before")}))


if __name__ == "__main__":
    main()
