"""Builders shared by the observability tests: specs on a fixed base URL, a fake clock, an
OAuth2 upstream and a traced client of it."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectory.observability import MemoryRecorder, Telemetry
from connectory.observability.tracing import SpanTracing
from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec

BASE_URL = "https://api.example.com/v1"


class FakeClock:
    """Monotonic seconds that only move when a test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def wait_for_child(pid: int, timeout: float = 60.0) -> int:
    """The exit code of the forked child *pid*; killed, and the test failed, after *timeout*.

    A child deadlocked on a lock held at fork must fail its test, not hang the suite.
    """
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"the forked child {pid} did not exit within {timeout} s")
        time.sleep(0.01)


def build_spec(
    *operations: dict[str, Any], auth: dict[str, Any] | None = None, **fields: Any
) -> ConnectorSpec:
    """A connector with the given operations on BASE_URL, without retries or rate limit."""
    data: dict[str, Any] = {
        "name": "Example",
        "base_url": BASE_URL,
        "resilience": {"max_retries": 0, "rate_limit": None, "timeout": 5},
        "operations": list(operations),
        **fields,
    }
    if auth is not None:
        data["auth"] = auth
    return ConnectorSpec.model_validate(data)


#: Client credentials against ``Upstream``'s token endpoint.
OAUTH2 = {
    "auth_type": "oauth2",
    "grant_type": "client_credentials",
    "token_url": "https://auth.example.com/token",
    "credential_schema": {
        "client_id": {"required": True},
        "client_secret": {"type": "password", "required": True},
    },
}


class Upstream:
    """A token endpoint and an API; ``/broken`` refuses the connection.

    Args:
        fail_first: The API's first answer is a 503 (a retried call).
    """

    def __init__(self, fail_first: bool = False) -> None:
        self.requests: list[httpx.Request] = []
        self.fail_first = fail_first

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "tok-abcdefgh", "expires_in": 60})
        if request.url.path.endswith("/broken"):
            raise httpx.ConnectError("refused")
        if self.fail_first:
            self.fail_first = False
            return httpx.Response(503, json={})
        return httpx.Response(200, json={"ok": True})


def traced_client(
    tracing: SpanTracing,
    upstream: Callable[[httpx.Request], httpx.Response],
    *operations: dict[str, Any],
    code_files: dict[str, str] | None = None,
    **spec_fields: Any,
) -> tuple[ConnectorClient, MemoryRecorder]:
    """A client of an OAuth2 connector on *upstream* tracing to *tracing*; its call log.

    The connector has *operations* (default: ``me`` on ``/me``) and one retry without delay.
    """
    spec = build_spec(
        *(operations or ({"name": "me", "path": "/me"},)),
        auth=OAUTH2,
        resilience={"max_retries": 1, "retry_delay": 0, "rate_limit": None},
        **spec_fields,
    )
    if code_files:
        spec = spec.with_code_files(code_files)
    recorder = MemoryRecorder()
    client = ConnectorClient(
        spec,
        credentials={"client_id": "cid", "client_secret": "client-secret-xyz"},
        transport=httpx.MockTransport(upstream),
        clock=FakeClock(),
        connection_key="conn-1",
        connector_key="connector-a",
        telemetry=Telemetry(recorder=recorder, tracing=tracing),
    )
    return client, recorder
