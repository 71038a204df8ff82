"""bench/delivery_floor.py runs every variant end to end on a few deliveries (PostgreSQL).

Each variant inside it checks its work (every delivery succeeded with exactly one attempt,
the receiver counted every request, the call log holds a row per delivery when written), so
a run that passes here measured loops that did the same, complete work. Timings are
reported, never asserted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import asyncpg
from bench_support import run_bench

from testkit.skips import missing

ADMIN_DSN = os.environ.get(
    "CONNECTORY_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def test_the_floor_benchmark_runs_and_checks_every_variant(tmp_path: Path) -> None:
    try:
        admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        missing(f"PostgreSQL is not reachable at {ADMIN_DSN}: {error}")
    await admin.close()
    output = tmp_path / "delivery_floor.json"
    run_bench(
        "bench.delivery_floor",
        *("--quick", "--deliveries", "150", "--batch", "16", "--settle", "0"),
        *("--output", str(output)),
    )
    report = json.loads(output.read_text())
    assert (report["deliveries"], report["batch"]) == (150, 16)
    floors = ["floor-1-lanes", "floor-2-lanes", "floor-1-lanes+call-log", "floor-2-lanes+call-log"]
    # A raw run right before each floor variant, the ratio taken against it.
    assert [v["variant"] for v in report["variants"]] == [
        name for floor in floors for name in ("raw", floor)
    ]
    assert list(report["summary"]) == floors
    for variant in report["variants"]:
        assert variant["per_second"] > 0
        assert variant["loop_cpu_ms_per_delivery"] >= 0
        assert variant["postgres_backends_cpu_ms_per_delivery"] >= 0
        assert 0 <= variant["busy_fraction"] <= 1
        if variant["lanes"]:
            assert variant["ratio_to_raw"] > 0
        else:
            assert "ratio_to_raw" not in variant
