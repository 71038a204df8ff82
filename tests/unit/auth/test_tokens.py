"""The shared token cache (auth/tokens.py)."""

from __future__ import annotations

import asyncio

import pytest

from connectory.auth.tokens import EXPIRY_MARGIN, Token, TokenCache

from .support import FakeClock


class Fetcher:
    def __init__(self, clock: FakeClock, lifetime: float | None = 3600) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.calls = 0
        self.hold: asyncio.Event | None = None

    async def __call__(self) -> Token:
        self.calls += 1
        if self.hold is not None:
            await self.hold.wait()
        expires = None if self.lifetime is None else self.clock() + self.lifetime
        return Token(f"t{self.calls}", expires)


async def test_fetches_once_and_reuses() -> None:
    clock = FakeClock()
    fetch = Fetcher(clock)
    cache = TokenCache(fetch, clock)
    assert (await cache.get()).value == "t1"
    assert (await cache.get()).value == "t1"
    assert fetch.calls == 1


async def test_renews_a_margin_before_expiry() -> None:
    clock = FakeClock()
    fetch = Fetcher(clock, lifetime=3600)
    cache = TokenCache(fetch, clock)
    await cache.get()
    clock.advance(3600 - EXPIRY_MARGIN - 0.001)
    assert (await cache.get()).value == "t1"
    clock.advance(0.001)
    assert (await cache.get()).value == "t2"


async def test_already_expired_token_is_renewed_at_once() -> None:
    clock = FakeClock()
    fetch = Fetcher(clock, lifetime=-5)
    cache = TokenCache(fetch, clock)
    await cache.get()
    await cache.get()
    assert fetch.calls == 2


async def test_seeded_token_is_used_until_invalidated() -> None:
    clock = FakeClock()
    fetch = Fetcher(clock)
    cache = TokenCache(fetch, clock)
    cache.seed(Token("stored"))
    clock.advance(10**6)
    assert (await cache.get()).value == "stored"
    cache.invalidate("stored")
    assert (await cache.get()).value == "t1"


async def test_invalidate_ignores_a_token_already_replaced() -> None:
    clock = FakeClock()
    cache = TokenCache(Fetcher(clock), clock)
    await cache.get()
    cache.invalidate("some-older-token")
    assert (await cache.get()).value == "t1"
    cache.invalidate(None)
    assert (await cache.get()).value == "t2"


async def test_concurrent_getters_share_one_fetch() -> None:
    clock = FakeClock()
    fetch = Fetcher(clock)
    fetch.hold = asyncio.Event()
    cache = TokenCache(fetch, clock)
    waiters = [asyncio.create_task(cache.get()) for _ in range(10)]
    for _ in range(5):
        await asyncio.sleep(0)
    fetch.hold.set()
    tokens = await asyncio.gather(*waiters)
    assert {token.value for token in tokens} == {"t1"}
    assert fetch.calls == 1


async def test_a_failed_fetch_is_tried_again_by_the_next_caller() -> None:
    clock = FakeClock()
    calls = 0

    async def flaky() -> Token:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("token endpoint down")
        return Token("ok")

    cache = TokenCache(flaky, clock)
    with pytest.raises(RuntimeError):
        await cache.get()
    assert (await cache.get()).value == "ok"
