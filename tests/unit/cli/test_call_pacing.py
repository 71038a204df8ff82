"""``connectory call --all-pages`` while the read is paced: it says what it waits for."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from connectory.cli.output import EXIT_UNREACHABLE, ProgressLine
from connectory.cli.reading import write_records
from connectory.resilience import FakeClock
from connectory.testing.faulty import FaultyUpstream, Reply, too_many_requests
from testkit.paged import PER_PAGE, paged_client

from .conftest import Invoke, assert_no_traceback


async def test_a_200_page_read_at_60_per_minute_shows_each_pause() -> None:
    clock = FakeClock()

    client = paged_client(clock, 200)
    out, err = io.BytesIO(), io.StringIO()
    await write_records(client, "list_items", {}, None, out=out, progress=ProgressLine(err))
    lines = out.getvalue().splitlines()
    assert [orjson.loads(line)["id"] for line in lines] == list(range(1, 200 * PER_PAGE + 1))
    pauses = [line for line in err.getvalue().splitlines() if "waiting" in line]
    assert pauses == [
        f"{pages} page(s), {pages * PER_PAGE:,} record(s); waiting 60.0 s (rate limit)"
        for pages in (60, 120, 180)
    ]
    assert err.getvalue().splitlines()[-1].startswith("200 page(s), 2,000 record(s), ")


def test_short_pauses_are_not_shown() -> None:
    err = io.StringIO()
    progress = ProgressLine(err)
    progress.update(3, 30)
    progress.waiting(0.4, "rate limit")
    progress.waiting(1.0, "backoff")
    assert err.getvalue().splitlines()[-1] == "3 page(s), 30 record(s); waiting 1.0 s (backoff)"
    assert "0.4" not in err.getvalue()


@pytest.fixture
def upstream() -> Iterator[FaultyUpstream]:
    with FaultyUpstream() as server:
        yield server


def two_pages(upstream: FaultyUpstream, tmp_path: Path, resilience: str = "{}") -> Path:
    """A connector reading /p1 then /p2 (next URL in the body); returns its file."""
    first = {"data": [{"id": 1}, {"id": 2}], "next": upstream.url("/p2")}
    upstream.script("/p1", then=Reply(200, body=orjson.dumps(first)))
    upstream.script("/p2", then=Reply(200, body=orjson.dumps({"data": [{"id": 3}]})))
    path = tmp_path / "paced.yaml"
    path.write_text(
        f"""\
name: Paced
base_url: {upstream.url()}
resilience: {resilience}
operations:
  - operation: list_items
    path: /p1
    record_selector: data
    pagination: {{type: next_url}}
""",
        encoding="utf-8",
    )
    return path


def test_the_cli_says_it_waits_for_the_upstream(
    invoke: Invoke, upstream: FaultyUpstream, tmp_path: Path
) -> None:
    connector = two_pages(upstream, tmp_path)
    upstream.script("/p2", too_many_requests("1"), then=Reply(200, body=b'{"data": [{"id": 3}]}'))
    result = invoke("call", str(connector), "list_items", "--all-pages")
    assert result.exit_code == 0, result.output
    assert [orjson.loads(line) for line in result.stdout.splitlines()] == [
        {"id": 1},
        {"id": 2},
        {"id": 3},
    ]
    assert "1 page(s), 2 record(s); waiting 1.0 s (Retry-After)" in result.stderr
    assert upstream.count("/p2") == 2


def test_a_pause_over_max_read_wait_ends_the_read_with_exit_4(
    invoke: Invoke, upstream: FaultyUpstream, tmp_path: Path
) -> None:
    connector = two_pages(upstream, tmp_path, resilience="{max_read_wait: 60}")
    upstream.script("/p2", too_many_requests("3600"))
    result = invoke("call", str(connector), "list_items", "--all-pages")
    assert_no_traceback(result)
    assert result.exit_code == EXIT_UNREACHABLE
    # The first page's records were written before the read stopped.
    assert result.stdout.splitlines() == ['{"id":1}', '{"id":2}']
    assert "asked to wait 3600.00 s" in result.stderr
    assert "more than max_read_wait (60 s) allows" in result.stderr
    assert upstream.count("/p2") == 1
