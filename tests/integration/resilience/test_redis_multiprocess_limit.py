"""Four real processes share one rate limit through Redis; the upstream's clock is the judge.

Each worker process fires its calls concurrently through a pipeline with a RedisRateLimiter.
Alone, each would send everything at once; together they must keep to ``limit`` requests in
any sliding window, as stamped by the upstream on arrival. The window is one second instead of
sixty (it is a parameter of the limiter), so the test takes a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from redis.asyncio import Redis
from window_checks import LATENCY_SLACK, min_span

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
    for (stdout, stderr), worker in zip(outputs, workers, strict=True):
        assert worker.returncode == 0, stderr.decode()[-2000:]
        outcomes += json.loads(stdout.decode().strip().splitlines()[-1])["outcomes"]
    assert outcomes == ["200"] * (PROCESSES * CALLERS)

    arrivals = upstream.times("/shared")
    assert len(arrivals) == PROCESSES * CALLERS
    # The invariant, judged by the upstream: no LIMIT + 1 requests within one window.
    assert min_span(arrivals, LIMIT) >= WINDOW - LATENCY_SLACK
    # The limit was really contended (every window full) and not needlessly strict:
    # 60 requests at 20 per second arrive in three batches about one second apart.
    first = min(arrivals)
    assert sum(1 for t in arrivals if t - first < WINDOW / 2) == LIMIT
    assert max(arrivals) - first == pytest.approx(2 * WINDOW, abs=0.3)
