"""Waking the worker: wakes close together are merged, never dropped.

A wake inside the debounce window used to be dropped: work stored just after a running
task's last look then waited for the next tick. Now one wake is sent when the window ends.
Procrastinate's in-memory queue; the "worker" is simulated by marking jobs taken.
"""

from __future__ import annotations

import asyncio
from typing import Any

from procrastinate.testing import InMemoryConnector

from connectory.settings import Settings
from connectory.worker.engine import TaskEngine, create_task_app
from testkit.events_context import events_context


def _todo(connector: InMemoryConnector, task: str) -> list[dict[str, Any]]:
    jobs = connector.jobs.values()
    return [job for job in jobs if job["task_name"] == task and job["status"] == "todo"]


def _take_all(connector: InMemoryConnector) -> None:
    """What a worker does when it starts the waiting jobs."""
    for job in connector.jobs.values():
        if job["status"] == "todo":
            job["status"] = "doing"


async def _eventually(check: Any) -> None:
    for _ in range(1000):  # a condition to wait for, not a duration to assert
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_a_wake_inside_the_window_is_sent_when_the_window_ends(tmp_path: Any) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    app = create_task_app(settings)
    connector = app.connector
    assert isinstance(connector, InMemoryConnector)
    async with events_context(settings=settings) as context, app.open_async():
        engine = TaskEngine(app, context)
        await engine.wake("deliveries")
        assert len(_todo(connector, "connectory.deliveries")) == 1
        _take_all(connector)  # a worker runs it: a new wake must queue a new job
        for _ in range(5):  # a burst inside the window: merged into one
            await engine.wake("deliveries")
        await _eventually(lambda: len(_todo(connector, "connectory.deliveries")) == 1)
        await asyncio.sleep(0.2)  # nothing more comes of the burst
        assert len(_todo(connector, "connectory.deliveries")) == 1
        assert sum(1 for job in connector.jobs.values()) == 2
        engine.cancel_pending_wakes()


async def test_pending_wakes_are_dropped_at_shutdown(tmp_path: Any) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    app = create_task_app(settings)
    connector = app.connector
    assert isinstance(connector, InMemoryConnector)
    async with events_context(settings=settings) as context, app.open_async():
        engine = TaskEngine(app, context)
        await engine.wake("intake")
        _take_all(connector)
        await engine.wake("intake")  # inside the window: waits for its end
        engine.cancel_pending_wakes()
        await asyncio.sleep(0.2)
        assert _todo(connector, "connectory.intake") == []
