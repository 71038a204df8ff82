"""The benchmark harness runs end to end on a tiny dataset (the real run is ``make bench``).

Every run inside the harness checks its record count and the server's request count, so a
harness that passes here measured readers that did the same, complete work.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_harness_runs_and_checks_every_reader(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--records",
            "300",
            "--calls",
            "40",
            "--callers",
            "4",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--sizes",
            "100",
            "--pagings",
            "cursor",
            "--only",
            "read,calls,javascript",
            "--in-process",
            "--output",
            str(output),
            "--no-doc",
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(output.read_text())
    scenarios = {scenario["name"]: scenario for scenario in report["scenarios"]}
    assert set(scenarios) == {
        "read-cursor-100",
        "calls-sequential",
        "calls-concurrent",
        "javascript",
    }
    read = scenarios["read-cursor-100"]
    assert (read["count"], read["requests"]) == (300, 3)
    assert [reader["label"] for reader in read["readers"]] == [
        "raw httpx (sync)",
        "Connectory Python API",
        "raw httpx script > /dev/null",
        "Connectory CLI > /dev/null",
    ]
    cli = read["readers"][-1]
    assert cli["compared_to"] == "raw httpx script > /dev/null" and cli["ratio_to_it"] > 0
    assert all(
        reader["rate"] > 0 for scenario in scenarios.values() for reader in scenario["readers"]
    )
    assert scenarios["calls-concurrent"]["count"] == 40
    assert "| scenario | reader |" in done.stdout
    assert "The CLI against the raw loop run as a program" in done.stdout
    javascript = scenarios["javascript"]
    assert (javascript["count"], javascript["requests"]) == (40, 40)
    assert [reader["label"] for reader in javascript["readers"]][1:] == [
        "trivial pre-request hook (in process)",
        "trivial pre-request hook (worker process)",
        "method making the call (in process)",
        "method making the call (worker process)",
    ]
    assert javascript["readers"][1]["max_added_us"] == 120
    assert "Connector JavaScript, added to a plain call" in done.stdout


def test_the_collection_scenario_runs_and_checks_its_readers(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--records",
            "300",
            "--runs",
            "1",
            "--warmup",
            "0",
            "--sizes",
            "100",
            "--pagings",
            "pages",
            "--only",
            "collection",
            "--in-process",
            "--output",
            str(output),
            "--no-doc",
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [scenario] = json.loads(output.read_text())["scenarios"]
    assert scenario["name"] == "collection-pages-100"
    assert (scenario["count"], scenario["requests"]) == (300, 3)
    assert [reader["label"] for reader in scenario["readers"]] == [
        "Connectory iter_records",
        "Connectory collection.list()",
        "collection.list(), pages not checked",
    ]


def test_the_pipeline_scenario_runs_and_checks_its_readers(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--records", "300", "--runs", "1", "--warmup", "0",
         "--sizes", "100", "--pagings", "pages", "--only", "pipelines", "--output", str(output),
         "--no-doc", "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (scenario,) = json.loads(output.read_text())["scenarios"]
    assert scenario["name"] == "pipeline-pages-100"
    assert (scenario["count"], scenario["requests"]) == (300, 3)
    assert [reader["label"] for reader in scenario["readers"]] == [
        "connectory call --all-pages",
        "connectory tap (Singer)",
        "connectory airbyte read",
    ]
    assert all(reader["rate"] > 0 for reader in scenario["readers"])
