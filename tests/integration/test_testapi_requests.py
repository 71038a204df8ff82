"""How the runtime builds requests and handles answers, checked against the test API's echo,
status, invalid-JSON and large-body endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from connectory.errors import (
    InputError,
    OperationNotFound,
    ResponseError,
    UpstreamError,
)
from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec
from connectory.testing import make_record

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(
    test_api: str, test_api_connector: Callable[..., ConnectorSpec]
) -> AsyncIterator[ConnectorClient]:
    async with ConnectorClient(
        test_api_connector(),
        credentials={"api_key": "test-api-key"},
        connector_parameters={"tenant": "acme & co/1"},
        base_url=test_api,
    ) as connector_client:
        yield connector_client


async def test_query_parameters_of_every_type(client: ConnectorClient) -> None:
    result = await client.call(
        "echo_query",
        {"q": "a b&c=d/ü?#", "tags": ["x", "y z", "ä"], "active": True, "sort": "desc"},
    )
    assert result.status_code == 200
    assert result.schema_mismatches == []
    echoed = result.body
    assert echoed["method"] == "GET"
    assert echoed["path"] == "/echo/query"
    assert echoed["query"] == {
        "q": ["a b&c=d/ü?#"],
        "tags": ["x", "y z", "ä"],  # an array repeats its name
        "limit": ["10"],  # the default applies
        "active": ["true"],
        "sort": ["desc"],
    }


async def test_invalid_parameters_are_refused_before_sending(
    client: ConnectorClient, test_api_stats: Any
) -> None:
    with pytest.raises(InputError):
        await client.call("echo_query", {})  # q is required
    with pytest.raises(InputError):
        await client.call("echo_query", {"q": "x", "sort": "sideways"})  # not in the enum
    with pytest.raises(InputError):
        await client.call("echo_query", {"q": "x", "limit": "ten"})  # not an integer
    with pytest.raises(InputError):
        await client.call("create_echo_json", {"name": ""})  # body schema: minLength 1
    with pytest.raises(OperationNotFound):
        await client.call("no_such_operation")
    assert test_api_stats.get()["total"] == 0


async def test_path_parameters_are_percent_encoded(client: ConnectorClient) -> None:
    result = await client.call("echo_path", {"folder": "a/b c", "name": "ü?#%.txt"})
    echoed = result.body
    # "/" inside a value must not add a path segment.
    assert echoed["raw_path"] == "/echo/folders/a%2Fb%20c/files/%C3%BC%3F%23%25.txt"
    assert echoed["path"] == "/echo/folders/a/b c/files/ü?#%.txt"
    assert echoed["query"] == {}


async def test_headers_from_parameters_operation_and_connector(client: ConnectorClient) -> None:
    result = await client.call("echo_headers", {"X-Request-Id": "req-42", "label": "blue"})
    headers = result.body["headers"]
    assert headers["x-request-id"] == "req-42"
    assert headers["x-label"] == "label=blue"
    assert headers["x-tenant"] == "acme & co/1"
    assert headers["accept"] == "application/json"
    assert "connectory" in headers["user-agent"]


async def test_non_ascii_header_value_is_a_clear_error(client: ConnectorClient) -> None:
    with pytest.raises(InputError, match="X-Request-Id"):
        await client.call("echo_headers", {"X-Request-Id": "réf-1"})


async def test_json_body(client: ConnectorClient) -> None:
    params = {"name": "Ünïcode", "tags": ["a", "b"], "address": {"city": "Oslo", "n": [1, 2]}}
    result = await client.call("create_echo_json", params)
    echoed = result.body
    assert echoed["method"] == "POST"
    assert echoed["content_type"].startswith("application/json")
    assert echoed["body"] == {**params, "count": 1}
    assert echoed["body_error"] is None


async def test_form_body(client: ConnectorClient) -> None:
    result = await client.call("submit_echo_form", {"username": "ann", "note": "a&b=c ü"})
    echoed = result.body
    assert echoed["content_type"].startswith("application/x-www-form-urlencoded")
    assert echoed["body"] == {"username": "ann", "note": "a&b=c ü"}


async def test_single_record_by_path_parameter(client: ConnectorClient) -> None:
    result = await client.call("get_item", {"id": 42})
    assert result.body == make_record(42)
    assert result.schema_mismatches == []
    assert result.elapsed >= 0


async def test_schema_mismatches_are_reported_not_raised(client: ConnectorClient) -> None:
    result = await client.call("echo_schema_mismatch")
    assert result.status_code == 200
    paths = dict(result.schema_mismatches)
    assert any("method" in path for path in paths)
    assert any("missing_field" in message for message in paths.values())


@pytest.mark.parametrize("status", [400, 404, 409, 422, 500, 503])
async def test_error_statuses_raise_upstream_error(
    client: ConnectorClient, test_api_stats: Any, status: int
) -> None:
    with pytest.raises(UpstreamError) as caught:
        await client.call("get_status", {"code": status})
    assert caught.value.status_code == status
    # The operation sets max_retries: 0, so exactly one request is made even for 5xx.
    assert test_api_stats.requests(f"/status/{status}") == 1


async def test_error_status_without_raising(client: ConnectorClient) -> None:
    result = await client.call("get_status", {"code": 404}, raise_for_status=False)
    assert result.status_code == 404
    assert result.body == {"status": 404, "message": "Not Found"}


async def test_no_content(client: ConnectorClient) -> None:
    result = await client.call("get_status", {"code": 204})
    assert result.status_code == 204
    assert result.body is None


async def test_invalid_json_is_a_response_error(client: ConnectorClient) -> None:
    with pytest.raises(ResponseError, match="not valid JSON"):
        await client.call("get_invalid_json")


async def test_large_body(client: ConnectorClient) -> None:
    result = await client.call("get_large", {"bytes": 5_000_000})
    assert result.body["size"] == 5_000_000
    assert len(result.body["padding"]) > 4_999_000
    assert result.schema_mismatches == []


async def test_body_over_the_limit_is_refused(
    test_api: str, test_api_connector: Callable[..., ConnectorSpec]
) -> None:
    async with ConnectorClient(
        test_api_connector(),
        credentials={"api_key": "test-api-key"},
        connector_parameters={"tenant": "acme"},
        base_url=test_api,
        max_response_bytes=1_000_000,
    ) as small_client:
        with pytest.raises(ResponseError):
            await small_client.call("get_large", {"bytes": 2_000_000})
        assert (await small_client.call("get_large", {"bytes": 500_000})).status_code == 200
