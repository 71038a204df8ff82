"""Four real processes share one rate limit through Redis; Redis' own clock is the judge.

Each worker process fires its calls concurrently through a pipeline with a RedisRateLimiter.
Alone, each would send everything at once; together they must keep to ``limit`` grants in any
sliding window. The check uses the limiter's decision times (Redis ``TIME`` at each grant), not
arrival stamps, so a loaded machine cannot make it fail or pass by accident. The window is one
second instead of sixty (it is a parameter of the limiter), so the test takes a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from redis.asyncio import Redis
from window_checks import min_span

from connectory.testing.faulty import FaultyUpstream

pytestmark = pytest.mark.integration

WORKER = Path(__file__).with_name("limit_worker.py")
PROCESSES, CALLERS, LIMIT, WINDOW = 4, 15, 20, 1.0


async def start_worker(
    redis_url: str, prefix: str, upstream: FaultyUpstream
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        "--redis-url",
        redis_url,
        "--prefix",
        prefix,
        "--url",
        upstream.url("/shared"),
        "--warmup-url",
        upstream.url("/warmup"),
        "--callers",
        str(CALLERS),
        "--limit",
        str(LIMIT),
        "--window",
        str(WINDOW),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_four_processes_keep_one_sliding_window_through_redis(
    redis: Redis, redis_prefix: str, redis_url: str, upstream: FaultyUpstream
) -> None:
    workers = [await start_worker(redis_url, redis_prefix, upstream) for _ in range(PROCESSES)]
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = await asyncio.wait_for(worker.stdout.readline(), timeout=30)
            if line.strip() != b"ready":
                assert worker.stderr is not None
                error = await worker.stderr.read()
                pytest.fail(f"a worker did not start: {line!r} {error.decode()[-2000:]}")
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(b"go\n")
            await worker.stdin.drain()
        outputs = await asyncio.wait_for(
            asyncio.gather(*(w.communicate() for w in workers)), timeout=60
        )
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()

    outcomes: list[str] = []
    granted: list[float] = []
    for (stdout, stderr), worker in zip(outputs, workers, strict=True):
        assert worker.returncode == 0, stderr.decode()[-2000:]
        summary = json.loads(stdout.decode().strip().splitlines()[-1])
        outcomes += summary["outcomes"]
        granted += summary["granted"]
    assert outcomes == ["200"] * (PROCESSES * CALLERS)
    assert len(upstream.times("/shared")) == PROCESSES * CALLERS

    # Every call was granted through Redis, once, and the grants keep the sliding window
    # exactly: no LIMIT + 1 grants within one window, across all four processes.
    assert len(granted) == PROCESSES * CALLERS
    assert min_span(granted, LIMIT) >= WINDOW
    # The limit was really contended: 60 calls at 20 per window need three windows of grants
    # (a lower bound, in Redis time: a loaded machine can only stretch it).
    assert max(granted) - min(granted) >= 2 * WINDOW
