"""The server's JSON Lines stream of a paced read: every record, and keep-alive lines meanwhile.

On a virtual clock: the stream's lines are stamped with the virtual time they were yielded,
so "a line at least every 15 s" is checked exactly without waiting.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import orjson

from connectory.resilience import FakeClock
from connectory.services.connection_runs import stream_records
from connectory.services.keepalive import KEEPALIVE_INTERVAL, with_keepalives
from testkit.paged import PER_PAGE, paged_client


async def test_a_200_page_stream_sends_every_record_and_is_never_silent_for_15_s() -> None:
    clock = FakeClock()
    arrivals: list[float] = []
    lines: list[tuple[float, Any]] = []
    async with paged_client(clock, 200, arrivals) as client:
        async for chunk in stream_records(client, "list_items", {}, None):
            stamp = clock.monotonic()
            lines += [(stamp, orjson.loads(line)) for line in chunk.splitlines()]
    records = [line for _, line in lines if "_connectory_keepalive" not in line]
    keepalives = [
        line["_connectory_keepalive"]
        for _, line in lines
        if len(line) == 1 and "_connectory_keepalive" in line
    ]
    assert records == [{"id": n} for n in range(1, 200 * PER_PAGE + 1)]
    assert len(arrivals) == 200 and arrivals[-1] == 180.0
    # Never more than 15 s without a line, although the read waits a minute three times.
    stamps = [0.0] + [stamp for stamp, _ in lines]
    assert max(b - a for a, b in itertools.pairwise(stamps)) <= KEEPALIVE_INTERVAL
    # 15, 30 and 45 s into each pause, saying how much is left; the line due just as a pause
    # ends (60 s) may go out too, then with nothing left to wait for.
    pause = [{"waiting": left, "cause": "rate limit"} for left in (45.0, 30.0, 15.0)]
    assert [k for k in keepalives if k] == pause * 3
    assert len([k for k in keepalives if not k]) <= 3


async def test_a_shorter_interval_sends_more_keepalives() -> None:
    clock = FakeClock()
    stamps: list[float] = []
    async with paged_client(clock, 61, []) as client:
        async for chunk in stream_records(client, "list_items", {}, None, keepalive_interval=5):
            if b"_connectory_keepalive" in chunk:
                stamps.append(clock.monotonic())
    assert stamps[:11] == [5.0 * n for n in range(1, 12)]


async def test_a_slow_page_gets_empty_keepalives() -> None:
    clock = FakeClock()

    async def slow_lines() -> Any:
        yield b'{"id": 1}\n'
        await clock.sleep(40)
        yield b'{"id": 2}\n'

    chunks = [
        chunk
        async for chunk in with_keepalives(
            slow_lines(),
            interval=15,
            clock=clock,
            keepalive=lambda: b'{"_connectory_keepalive": {}}\n',
        )
    ]
    assert chunks == [
        b'{"id": 1}\n',
        b'{"_connectory_keepalive": {}}\n',
        b'{"_connectory_keepalive": {}}\n',
        b'{"id": 2}\n',
    ]


async def test_a_client_leaving_mid_pause_stops_the_read() -> None:
    clock = FakeClock()
    arrivals: list[float] = []
    async with paged_client(clock, 200, arrivals) as client:
        stream = stream_records(client, "list_items", {}, None)
        async for chunk in stream:
            if b"_connectory_keepalive" in chunk:
                break  # the reader went away during the first pause
        await stream.aclose()  # what the server does when the client disconnects
        await clock.sleep(600)
        await asyncio.sleep(0)
    assert len(arrivals) == 60  # nothing was fetched for a reader that had gone
