"""bench/gc_probe.py reports the collector's work for the CLI and the raw script alike."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the harness lives in bench/, beside src/ and tests/
    sys.path.insert(0, str(ROOT))

from bench.run import API_KEY, CONNECTOR, bench_server  # noqa: E402


def _probe(*args: str) -> tuple[list[str], dict[str, dict[str, float]]]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.gc_probe", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines(), json.loads(done.stderr.strip().splitlines()[-1])


def test_the_probe_counts_collections_of_both_programs(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps({"api_key": API_KEY}))
    with bench_server(3000) as server:
        raw_lines, raw = _probe("raw", server.url, "pages", "1000")
        cli_lines, cli = _probe(
            "connectory", "call", str(CONNECTOR), "pages_1000", "--all-pages",
            "--credentials", str(credentials), "--base-url", server.url,
        )  # fmt: skip
    # The programs did their whole work under the probe: every record, in both.
    assert len(raw_lines) == len(cli_lines) == 3000
    for report in (raw, cli):
        assert set(report) == {"gen0", "gen1", "gen2", "tracked_at_exit"}
        assert report["gen0"]["collections"] > 0  # 3,000 records allocate enough for some
        assert all(report[f"gen{n}"]["cpu_seconds"] >= 0 for n in range(3))
    # The CLI froze what it loaded: the collector tracks fewer objects than the raw script's.
    assert cli["tracked_at_exit"]["objects"] < raw["tracked_at_exit"]["objects"]
