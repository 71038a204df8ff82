"""Builders shared by the runtime tests: specs, a fake clock and a recording mock transport."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec

BASE_URL = "https://api.example.com/v1"

#: No retries and no rate limit, so error statuses are answered at once whatever the pipeline.
QUIET_RESILIENCE: dict[str, Any] = {"max_retries": 0, "rate_limit": None, "timeout": 5}


class FakeClock:
    """Monotonic seconds that only move when a test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def build_spec(
    *operations: dict[str, Any], auth: dict[str, Any] | None = None, **fields: Any
) -> ConnectorSpec:
    """A connector with the given operations, on BASE_URL, without retries."""
    data: dict[str, Any] = {
        "name": "Example",
        "base_url": BASE_URL,
        "resilience": dict(QUIET_RESILIENCE),
        "operations": list(operations),
        **fields,
    }
    if auth is not None:
        data["auth"] = auth
    return ConnectorSpec.model_validate(data)


Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that records every request and answers with *respond*."""

    def __init__(self, respond: Handler | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self._respond = respond or (lambda request: httpx.Response(200, json={"ok": True}))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._respond(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def build_client(spec: ConnectorSpec, handler: Handler, **options: Any) -> ConnectorClient:
    """A client whose requests go to *handler*."""
    return ConnectorClient(spec, transport=httpx.MockTransport(handler), **options)
