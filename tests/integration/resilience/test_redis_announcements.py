"""Connection announcements over Redis survive Redis going away and coming back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest
from redis_support import PrivateRedis

from connectory.services.generation_channels import RedisNotifier
from connectory.testing.instances import free_port

pytestmark = pytest.mark.integration

#: Longest a test waits for an announcement: a safety net against a hang, not a timing.
WAIT = 30.0


class Heard:
    def __init__(self, notifier: RedisNotifier) -> None:
        self.changes: list[tuple[str, int]] = []
        self.gaps = 0
        self.event = asyncio.Event()
        notifier.subscribe(self._change, self._gap)

    def _change(self, connection_id: str, generation: int) -> None:
        self.changes.append((connection_id, generation))
        self.event.set()

    def _gap(self) -> None:
        self.gaps += 1
        self.event.set()

    async def until(self, check: Callable[[], bool]) -> None:
        async def wait() -> None:
            while not check():
                self.event.clear()
                await self.event.wait()

        await asyncio.wait_for(wait(), WAIT)


async def test_a_restarted_redis_resumes_announcements_after_a_gap(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="connectory.generations")
    listener = RedisNotifier(private_redis.url, prefix="t:", retry_interval=0.05)
    sender = RedisNotifier(private_redis.url, prefix="t:", retry_interval=0.05)
    await listener.start()
    await sender.start()
    heard = Heard(listener)
    try:
        await sender.publish("c", 2)
        await heard.until(lambda: ("c", 2) in heard.changes)
        private_redis.kill()
        private_redis.start()
        # The listener is back and says announcements may have been missed meanwhile.
        await heard.until(lambda: heard.gaps >= 1)
        await sender.publish("c", 3)
        await heard.until(lambda: ("c", 3) in heard.changes)
    finally:
        await sender.aclose()
        await listener.aclose()


async def test_redis_missing_at_start_does_not_stop_the_server(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="connectory.generations")
    notifier = RedisNotifier(f"redis://127.0.0.1:{free_port()}/0", retry_interval=0.05)
    await notifier.start()
    heard: list[tuple[str, int]] = []
    notifier.subscribe(lambda cid, gen: heard.append((cid, gen)))
    # Publishing fails quietly (logged); this process still hears its own announcement.
    await notifier.publish("c", 2)
    for _ in range(3):  # retries in the background say nothing more
        await asyncio.sleep(0.06)
    await notifier.aclose()
    assert heard == [("c", 2)]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("Redis is unavailable for connection announcements" in m for m in messages) == 1
    assert not [m for m in messages if "lost Redis" in m]
