"""Helpers of the resilience unit tests: a scripted in-process upstream and a test policy.

A uniquely named module (not ``conftest``) so test modules can import it unambiguously.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from connectory.resilience import FakeClock
from connectory.spec.resilience import ResilienceSpec

BASE_URL = "http://upstream.test"
Step = int | httpx.Response | Exception | Callable[[httpx.Request], Awaitable[httpx.Response]]


class ScriptedUpstream:
    """Answers each request with the next scripted step, then with *default*."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.steps: deque[Step] = deque()
        self.default: Step = 200
        self.arrivals: list[float] = []
        self.requests: list[httpx.Request] = []

    def script(self, *steps: Step) -> None:
        self.steps.extend(steps)

    @property
    def count(self) -> int:
        return len(self.arrivals)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.arrivals.append(self.clock.monotonic())
        self.requests.append(request)
        step = self.steps.popleft() if self.steps else self.default
        if isinstance(step, Exception):
            raise step
        if isinstance(step, int):
            return httpx.Response(step, json={"status": step})
        if isinstance(step, httpx.Response):
            return step
        return await step(request)

    def hang(
        self, seconds: float = 10_000.0
    ) -> Callable[[httpx.Request], Awaitable[httpx.Response]]:
        """A step that answers only after *seconds* of virtual time (i.e. hangs)."""

        async def step(request: httpx.Request) -> httpx.Response:
            await self.clock.sleep(seconds)
            return httpx.Response(200)

        return step


def sender(
    client: httpx.AsyncClient, method: str = "GET", url: str = "/weather?appid=SECRET-KEY"
) -> Callable[[float], Awaitable[httpx.Response]]:
    """A send function for the pipeline: one request with the remaining time as its timeout."""

    async def send(remaining: float) -> httpx.Response:
        return await client.request(method, url, timeout=remaining)

    return send


def policy(**changes: Any) -> ResilienceSpec:
    """The seed defaults, without jitter or rate limit unless a test turns them on."""
    values: dict[str, Any] = {"retry_jitter": False, "rate_limit": None}
    values.update(changes)
    return ResilienceSpec(**values)
