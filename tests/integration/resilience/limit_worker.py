"""One worker process of the multi-process rate-limit test (run as a script, not collected).

It builds a ResiliencePipeline whose limiter and breaker live in Redis, prints ``ready``, waits
for ``go`` on stdin (so all workers start together), fires ``--callers`` concurrent calls at
the upstream and prints a JSON summary line: the outcomes and the Redis time of each grant.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

import httpx

from connectory.resilience import (
    CircuitBreaker,
    RedisBreakerStore,
    RedisRateLimiter,
    ResiliencePipeline,
    create_redis,
)
from connectory.spec.resilience import ResilienceSpec


async def run(args: argparse.Namespace) -> dict[str, object]:
    redis = create_redis(args.redis_url, timeout=2.0)
    granted: list[float] = []
    pipeline = ResiliencePipeline(
        limiter=RedisRateLimiter(
            redis, prefix=args.prefix, window=args.window, on_grant=granted.append
        ),
        breaker=CircuitBreaker(RedisBreakerStore(redis, prefix=args.prefix)),
    )
    policy = ResilienceSpec(rate_limit=args.limit, timeout=args.timeout, max_retries=0)
    limits = httpx.Limits(max_connections=args.callers, max_keepalive_connections=args.callers)
    async with httpx.AsyncClient(limits=limits) as client:

        async def send(remaining: float) -> httpx.Response:
            return await client.get(args.url, timeout=remaining)

        async def send_warm(remaining: float) -> httpx.Response:
            return await client.get(args.warmup_url, timeout=remaining)

        # Warm up before the start signal: open the keep-alive connections, load the Lua
        # scripts and pay every lazy import, so that the measured requests travel from grant
        # to upstream in steady-state loopback time rather than first-request time.
        warm = ResilienceSpec(rate_limit=10_000, timeout=args.timeout, max_retries=0)
        await asyncio.gather(
            *(
                pipeline.execute(send_warm, key=f"warmup-{os.getpid()}", policy=warm)
                for _ in range(args.callers)
            )
        )

        async def call() -> str:
            try:
                response = await pipeline.execute(send, key="shared-connection", policy=policy)
            except Exception as exc:
                return type(exc).__name__
            return str(response.status_code)

        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        granted.clear()  # the warm-up's grants are not part of the measured window
        outcomes = await asyncio.gather(*(call() for _ in range(args.callers)))
    await redis.aclose()
    return {"outcomes": outcomes, "granted": granted}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--warmup-url", required=True)
    parser.add_argument("--callers", type=int, required=True)
    parser.add_argument("--limit", type=int, required=True)
    parser.add_argument("--window", type=float, required=True)
    parser.add_argument("--timeout", type=float, default=15.0)
    summary = asyncio.run(run(parser.parse_args()))
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
