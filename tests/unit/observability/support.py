"""Builders shared by the observability tests: specs on a fixed base URL, a fake clock."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

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
