"""The API-as-a-proxy benchmark runs end to end on a few calls (the real run: bench/README.md).

Every round inside it checks each answer and the upstream's request count, so a run that
passes here measured both servers doing the same, complete work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_api_proxy_benchmark_runs_and_checks_both_servers(tmp_path: Path) -> None:
    output = tmp_path / "api_proxy.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.api_proxy",
            "--calls",
            "60",
            "--clients",
            "5",
            "--rounds",
            "1",
            "--output",
            str(output),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(output.read_text())
    [round_] = report["rounds"]
    for label in ("connectory", "proxy"):
        assert round_[label]["rate"] > 0
        assert round_[label]["p99_ms"] >= round_[label]["p50_ms"] > 0
        assert round_[label]["cpu_ms_per_call"] > 0
    assert report["median_ratio"] > 0
