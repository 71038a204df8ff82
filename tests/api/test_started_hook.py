"""create_app(on_started=...): called once, after start-up, before the first request."""

from __future__ import annotations

from connectory.api import create_app
from connectory.settings import Settings


async def test_on_started_runs_once_when_everything_is_up(settings: Settings) -> None:
    seen: list[bool] = []
    app = create_app(settings, on_started=lambda: seen.append(hasattr(app.state, "runtimes")))
    assert seen == []
    async with app.router.lifespan_context(app):
        # Called after the runtimes, caches and telemetry exist: what start-up made is there.
        assert seen == [True]
    assert seen == [True]
