"""The end of start-up: create_app(on_started=...), FastAPI's native telemetry settled."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider

from connectory.api import create_app
from connectory.api.app import ConnectoryAPI
from connectory.settings import Settings


async def test_on_started_runs_once_when_everything_is_up(settings: Settings) -> None:
    seen: list[bool] = []
    app = create_app(settings, on_started=lambda: seen.append(hasattr(app.state, "runtimes")))
    assert seen == []
    async with app.router.lifespan_context(app):
        # Called after the runtimes, caches and telemetry exist: what start-up made is there.
        assert seen == [True]
    assert seen == [True]


async def test_fastapi_telemetry_without_a_provider_is_settled_off_at_start_up(
    settings: Settings,
) -> None:
    app = create_app(settings)
    telemetry = app._native_telemetry  # FastAPI's own: asked on every request
    async with app.router.lifespan_context(app):
        assert not telemetry.enabled()
        assert not any(telemetry.config[signal] for signal in ("tracing", "metrics", "logs"))


def test_fastapi_telemetry_with_a_provider_is_left_on() -> None:
    provider = TracerProvider()
    app = ConnectoryAPI(telemetry={"tracer_provider": provider})
    app.settle_native_telemetry()
    assert app._native_telemetry.enabled()
    assert app._native_telemetry.config["tracing"]


def test_fastapi_telemetry_off_is_settled_off() -> None:
    app = ConnectoryAPI()
    assert not app._native_telemetry.enabled()  # no global provider in the tests
    app.settle_native_telemetry()
    assert not app._native_telemetry.enabled()
    assert not app._native_telemetry.config["metrics"]


def test_a_fastapi_without_native_telemetry_is_left_alone() -> None:
    # The attributes are FastAPI's private ones; another version may not have them.
    app = ConnectoryAPI()
    del app._native_telemetry
    app.settle_native_telemetry()  # no AttributeError: start-up goes on
    app = ConnectoryAPI()
    app._telemetry = None  # type: ignore[assignment]
    app.settle_native_telemetry()
