"""Fixtures of the resilience unit tests: a virtual clock, a scripted upstream, a pipeline.

Nothing here waits for real: the clock is a :class:`FakeClock` and the upstream is an
``httpx.MockTransport`` handler whose arrivals are stamped with the virtual time.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import httpx
import pytest
from resilience_support import BASE_URL, ScriptedUpstream

from connectory.resilience import FakeClock, ResiliencePipeline


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def upstream(clock: FakeClock) -> ScriptedUpstream:
    return ScriptedUpstream(clock)


@pytest.fixture
async def client(upstream: ScriptedUpstream) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(upstream.handle), base_url=BASE_URL
    ) as http:
        yield http


@pytest.fixture
def pipeline(clock: FakeClock) -> ResiliencePipeline:
    return ResiliencePipeline(clock=clock, random=random.Random(7).random)
