"""The in-process span comparison of ``bench.observability --spans-ab`` runs and exports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_span_comparison_runs_all_three_and_exports_every_span(tmp_path: Path) -> None:
    output = tmp_path / "spans.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.observability",
            "--spans-ab",
            "--calls",
            "200",
            "--rounds",
            "1",
            "--output",
            str(output),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(output.read_text())
    assert set(result["cpu_us_per_call"]) == {"sdk", "connectory", "recorder"}
    assert all(len(v["process_us"]) == 1 for v in result["cpu_us_per_call"].values())
    # A warm-up and a round of 200 calls each, two spans a call: every span reached the sink.
    assert result["spans_exported"] == 3 * 2 * 400
