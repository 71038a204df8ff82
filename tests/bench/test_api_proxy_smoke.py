"""The API-as-a-proxy benchmark runs end to end on a few calls (the real run: bench/README.md).

Every round inside it checks each answer and the upstream's request count, so a run that
passes here measured both servers doing the same, complete work.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench_support import run_bench


def test_the_api_proxy_benchmark_runs_and_checks_both_servers(tmp_path: Path) -> None:
    output = tmp_path / "api_proxy.json"
    run_bench(
        "bench.api_proxy",
        *("--calls", "60", "--clients", "5", "--rounds", "1", "--output", str(output)),
    )
    report = json.loads(output.read_text())
    [round_] = report["rounds"]
    for label in ("connectory", "proxy"):
        assert round_[label]["rate"] > 0
        assert round_[label]["p99_ms"] >= round_[label]["p50_ms"] > 0
        assert round_[label]["cpu_ms_per_call"] > 0
    assert report["median_ratio"] > 0
