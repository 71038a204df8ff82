"""The client runs every request through the resilience pipeline (retries, breaker, limits)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectory.errors import CircuitOpen, RateLimited, UpstreamError
from connectory.resilience import FakeClock, ResiliencePipeline
from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec


def make_spec(**resilience: Any) -> ConnectorSpec:
    return ConnectorSpec.model_validate(
        {
            "name": "Flaky",
            "base_url": "https://api.example.com",
            "resilience": {"retry_delay": 1, "retry_jitter": False, **resilience},
            "operations": [
                {"name": "get", "path": "/thing"},
                {"name": "create", "method": "POST", "path": "/thing"},
            ],
        }
    )


class Upstream:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        status = self.statuses[min(self.calls, len(self.statuses) - 1)]
        self.calls += 1
        return httpx.Response(status, json={"n": self.calls})


async def test_a_503_burst_is_retried_and_succeeds() -> None:
    upstream = Upstream([503, 503, 200])
    clock = FakeClock()
    async with ConnectorClient(
        make_spec(), transport=httpx.MockTransport(upstream), clock=clock
    ) as client:
        result = await client.call("get")
    assert result.body == {"n": 3}
    assert upstream.calls == 3


async def test_retries_exhausted_raise_with_attempts_and_body() -> None:
    upstream = Upstream([503])
    async with ConnectorClient(
        make_spec(max_retries=2), transport=httpx.MockTransport(upstream), clock=FakeClock()
    ) as client:
        with pytest.raises(UpstreamError) as caught:
            await client.call("get")
    assert upstream.calls == 3
    assert caught.value.status_code == 503
    assert caught.value.attempts == 3
    assert "get: the upstream answered 503 Service Unavailable after 3 attempts" in str(
        caught.value
    )
    assert '"n":3' in caught.value.body


async def test_raise_for_status_false_returns_the_final_retryable_status() -> None:
    upstream = Upstream([500])
    async with ConnectorClient(
        make_spec(max_retries=1), transport=httpx.MockTransport(upstream), clock=FakeClock()
    ) as client:
        result = await client.call("get", raise_for_status=False)
    assert result.status_code == 500
    assert result.body == {"n": 2}
    assert upstream.calls == 2


async def test_post_is_not_resent_after_a_503() -> None:
    upstream = Upstream([503, 200])
    async with ConnectorClient(
        make_spec(), transport=httpx.MockTransport(upstream), clock=FakeClock()
    ) as client:
        with pytest.raises(UpstreamError):
            await client.call("create")
    assert upstream.calls == 1


async def test_breaker_opens_after_threshold_and_fails_fast() -> None:
    upstream = Upstream([500])
    async with ConnectorClient(
        make_spec(max_retries=0, circuit_breaker_threshold=2),
        transport=httpx.MockTransport(upstream),
        clock=FakeClock(),
    ) as client:
        for _ in range(2):
            with pytest.raises(UpstreamError):
                await client.call("get")
        assert await client.health() == "degraded"
        with pytest.raises(CircuitOpen):
            await client.call("get")
    assert upstream.calls == 2


def _budgeted(scope: str | None = None) -> ConnectorSpec:
    resilience: dict[str, Any] = {"rate_limit": None, "connector_rate_limit": 2}
    if scope is not None:
        resilience["connector_rate_limit_scope"] = scope
    spec = make_spec(**resilience)
    return spec.model_copy(update={"slug": "same-slug"})


async def _outcomes(client: ConnectorClient, count: int) -> list[str]:
    outcomes = []
    for _ in range(count):
        try:
            await client.call("get")
        except RateLimited:
            outcomes.append("limited")
        else:
            outcomes.append("ok")
    return outcomes


@pytest.mark.parametrize(
    ("scope", "other_owner", "shared"),
    [
        # Another owner's connector with the same slug: never the same budget.
        (None, {"connector_key": "connector-2", "tenant_key": "tenant-1"}, False),
        # The same connector for another tenant: its own budget by default...
        (None, {"connector_key": "connector-1", "tenant_key": "tenant-2"}, False),
        ("enterprise", {"connector_key": "connector-1", "tenant_key": "tenant-2"}, False),
        # ...one budget for every tenant with the deployment scope.
        ("deployment", {"connector_key": "connector-1", "tenant_key": "tenant-2"}, True),
        # The same tenant's other connection shares its budget.
        (None, {"connector_key": "connector-1", "tenant_key": "tenant-1"}, True),
    ],
)
async def test_connector_budget_is_keyed_by_ids_and_scope(
    scope: str | None, other_owner: dict[str, str], shared: bool
) -> None:
    spec = _budgeted(scope)
    pipeline = ResiliencePipeline(clock=FakeClock())
    transport = httpx.MockTransport(Upstream([200]))
    first = ConnectorClient(
        spec,
        transport=transport,
        pipeline=pipeline,
        connector_key="connector-1",
        tenant_key="tenant-1",
    )
    second = ConnectorClient(spec, transport=transport, pipeline=pipeline, **other_owner)
    assert await _outcomes(first, 2) == ["ok", "ok"]
    assert await _outcomes(second, 1) == (["limited"] if shared else ["ok"])
    await first.aclose()
    await second.aclose()


def test_a_client_without_a_server_has_a_local_connector_key() -> None:
    assert ConnectorClient(_budgeted()).connector_key == "local/same-slug"
    assert ConnectorClient(_budgeted(), tenant_key="t").connector_key == "local/same-slug/t"
    assert (
        ConnectorClient(_budgeted("deployment"), connector_key="c", tenant_key="t").connector_key
        == "c"
    )


def test_the_scope_is_connector_wide_only() -> None:
    with pytest.raises(ValueError, match="connector_rate_limit_scope"):
        ConnectorSpec.model_validate(
            {
                "name": "x",
                "base_url": "https://api.example.com",
                "operations": [
                    {
                        "name": "get",
                        "path": "/",
                        "resilience": {"connector_rate_limit_scope": "deployment"},
                    }
                ],
            }
        )
    with pytest.raises(ValueError, match="connector_rate_limit_scope"):
        _budgeted("everyone")
