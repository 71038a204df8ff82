"""How ConnectorClient.call turns an operation and its parameters into the request sent."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from connectory.errors import CredentialsError, InputError, OperationNotFound, TemplateError
from connectory.runtime import ConnectorClient

from .support import BASE_URL, Recorder, build_client, build_spec


async def _send(operation: dict[str, Any], params: dict[str, Any], **spec_fields: Any) -> Recorder:
    recorder = Recorder()
    spec = build_spec(operation, **spec_fields)
    async with build_client(spec, recorder) as client:
        await client.call(operation["name"], params)
    assert len(recorder.requests) == 1
    return recorder


class TestPath:
    async def test_path_placeholders_are_filled_and_percent_encoded(self) -> None:
        operation = {
            "name": "get_file",
            "path": "/folders/{folder}/files/{name}",
            "parameters": [
                {"name": "folder", "location": "path"},
                {"name": "name", "location": "path"},
            ],
        }
        recorder = await _send(operation, {"folder": "a/b", "name": "r\u00e9sum\u00e9 ?#.pdf"})
        raw_path = recorder.last.url.raw_path.decode()
        assert raw_path == "/v1/folders/a%2Fb/files/r%C3%A9sum%C3%A9%20%3F%23.pdf"

    async def test_a_slash_cannot_climb_out_of_its_segment(self) -> None:
        operation = {
            "name": "get_item",
            "path": "/items/{id}",
            "parameters": [{"name": "id", "location": "path"}],
        }
        recorder = await _send(operation, {"id": "../admin"})
        assert recorder.last.url.raw_path == b"/v1/items/..%2Fadmin"

    @pytest.mark.parametrize(("value", "segment"), [("..", "%2E%2E"), (".", "%2E"), ("...", "...")])
    async def test_dot_segments_cannot_climb_either(self, value: str, segment: str) -> None:
        operation = {
            "name": "get_item",
            "path": "/items/{id}/details",
            "parameters": [{"name": "id", "location": "path"}],
        }
        recorder = await _send(operation, {"id": value})
        assert recorder.last.url.raw_path == f"/v1/items/{segment}/details".encode()

    async def test_integer_path_parameter(self) -> None:
        operation = {
            "name": "get_item",
            "path": "items/{id}",
            "parameters": [{"name": "id", "location": "path", "type": "integer"}],
        }
        recorder = await _send(operation, {"id": "42"})
        assert str(recorder.last.url) == f"{BASE_URL}/items/42"

    async def test_path_may_also_use_templates(self) -> None:
        operation = {"name": "me", "path": "/accounts/{{ config.account }}/me"}
        recorder = Recorder()
        spec = build_spec(operation)
        async with build_client(spec, recorder, config={"account": "acme"}) as client:
            await client.call("me")
        assert recorder.last.url.path == "/v1/accounts/acme/me"


class TestQuery:
    async def test_lists_repeat_the_name_and_booleans_are_lowercase(self) -> None:
        operation = {
            "name": "search",
            "path": "/search",
            "parameters": [
                {"name": "tags", "type": "array"},
                {"name": "active", "type": "boolean"},
                {"name": "archived", "type": "boolean"},
                {"name": "limit", "type": "integer", "default": 10},
                {"name": "q"},
            ],
        }
        recorder = await _send(
            operation, {"tags": ["a", "b c"], "active": True, "archived": "no", "q": "x&y=z"}
        )
        query = recorder.last.url.query.decode()
        assert parse_qs(query) == {
            "tags": ["a", "b c"],
            "active": ["true"],
            "archived": ["false"],
            "limit": ["10"],
            "q": ["x&y=z"],
        }
        assert query.count("tags=") == 2

    async def test_optional_parameters_without_value_are_not_sent(self) -> None:
        operation = {"name": "search", "path": "/search", "parameters": [{"name": "q"}]}
        recorder = await _send(operation, {})
        assert recorder.last.url.query == b""


class TestHeaders:
    async def test_header_parameters_operation_and_connector_headers(self) -> None:
        operation = {
            "name": "op",
            "path": "/op",
            "parameters": [
                {"name": "X-Request-Id", "location": "header", "required": True},
                {"name": "X-Dry-Run", "location": "header", "type": "boolean"},
                {"name": "label", "default": "plain"},
            ],
            "headers": {"X-Label": "label={{ parameters.label }}"},
        }
        recorder = Recorder()
        spec = build_spec(
            operation,
            parameters={"tenant": {"required": True}},
            headers={"X-Tenant": "{{ connector_parameters.tenant }}"},
        )
        client = build_client(spec, recorder, connector_parameters={"tenant": "acme"})
        async with client:
            await client.call("op", {"X-Request-Id": "r-1", "X-Dry-Run": True})
        headers = recorder.last.headers
        assert headers["X-Request-Id"] == "r-1"
        assert headers["X-Dry-Run"] == "true"
        assert headers["X-Label"] == "label=plain"
        assert headers["X-Tenant"] == "acme"
        assert headers["User-Agent"].startswith("connectory/")
        assert headers["Accept"] == "application/json"

    async def test_missing_connector_parameter_is_reported_before_any_request(self) -> None:
        spec = build_spec(
            {"name": "op", "path": "/op"},
            parameters={"tenant": {"required": True}},
        )
        with pytest.raises(CredentialsError, match="connector parameter 'tenant'"):
            build_client(spec, Recorder())

    async def test_template_reading_an_absent_value_names_it(self) -> None:
        spec = build_spec({"name": "op", "path": "/op"}, headers={"X-A": "{{ config.region }}"})
        with pytest.raises(TemplateError, match="region"):
            build_client(spec, Recorder())


class TestBody:
    OPERATION: dict[str, Any] = {
        "name": "create",
        "method": "post",
        "path": "/things",
        "parameters": [
            {"name": "name", "location": "body", "required": True},
            {"name": "count", "location": "body", "type": "integer", "default": 1},
            {"name": "tags", "location": "body", "type": "array"},
            {"name": "address", "location": "body", "type": "object"},
            {"name": "dry_run", "location": "query", "type": "boolean"},
        ],
        "request_body": {
            "content_type": "json",
            "schema": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "count": {"type": "integer", "minimum": 0},
                },
            },
        },
    }

    async def test_json_body(self) -> None:
        recorder = await _send(
            self.OPERATION,
            {"name": "n", "tags": "a,b", "address": '{"city": "X"}', "dry_run": "1"},
        )
        request = recorder.last
        assert request.method == "POST"
        assert request.headers["Content-Type"] == "application/json"
        assert json.loads(request.content) == {
            "name": "n",
            "count": 1,
            "tags": ["a", "b"],
            "address": {"city": "X"},
        }
        assert request.url.params["dry_run"] == "true"

    async def test_body_schema_violation_is_an_input_error_and_nothing_is_sent(self) -> None:
        recorder = Recorder()
        async with build_client(build_spec(self.OPERATION), recorder) as client:
            with pytest.raises(InputError) as caught:
                await client.call("create", {"name": "n", "count": -1})
        assert "$.count" in str(caught.value)
        assert "minimum" in str(caught.value)
        assert recorder.requests == []

    async def test_form_body(self) -> None:
        operation = {
            "name": "submit",
            "method": "POST",
            "path": "/form",
            "parameters": [
                {"name": "username", "location": "body", "required": True},
                {"name": "roles", "location": "body", "type": "array"},
                {"name": "note", "location": "body"},
            ],
            "request_body": {"content_type": "application/x-www-form-urlencoded"},
        }
        recorder = await _send(operation, {"username": "a b&c", "roles": ["x", "y"]})
        request = recorder.last
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert parse_qs(request.content.decode()) == {"username": ["a b&c"], "roles": ["x", "y"]}

    async def test_declared_body_without_parameters_sends_an_empty_object(self) -> None:
        operation = {"name": "ping", "method": "POST", "path": "/ping", "request_body": {}}
        recorder = await _send(operation, {})
        assert recorder.last.content == b"{}"

    async def test_get_without_body_parameters_sends_no_body(self) -> None:
        recorder = await _send({"name": "get", "path": "/x"}, {})
        assert recorder.last.content == b""
        assert "Content-Type" not in recorder.last.headers


class TestInputsAndOperations:
    async def test_invalid_input_is_raised_before_sending(self) -> None:
        operation = {
            "name": "search",
            "path": "/search",
            "parameters": [
                {"name": "q", "required": True},
                {"name": "units", "enum": ["metric", "imperial"]},
            ],
        }
        recorder = Recorder()
        async with build_client(build_spec(operation), recorder) as client:
            with pytest.raises(InputError, match="'q'"):
                await client.call("search", {})
            with pytest.raises(InputError, match="one of metric, imperial") as caught:
                await client.call("search", {"q": "x", "units": "kelvin"})
            assert caught.value.parameter == "units"
        assert recorder.requests == []

    async def test_unknown_operation_suggests_the_closest(self) -> None:
        spec = build_spec(
            {"name": "get_weather", "path": "/w"}, {"name": "list_cities", "path": "/c"}
        )
        async with build_client(spec, Recorder()) as client:
            with pytest.raises(OperationNotFound) as caught:
                await client.call("get_wether")
        message = str(caught.value)
        assert "did you mean 'get_weather'?" in message
        assert "get_weather, list_cities" in message

    async def test_base_url_override_and_templated_base_url(self) -> None:
        recorder = Recorder()
        spec = build_spec(
            {"name": "op", "path": "/op"}, base_url="https://{{ config.region }}.example.com"
        )
        async with build_client(spec, recorder, config={"region": "eu"}) as client:
            await client.call("op")
        assert str(recorder.last.url) == "https://eu.example.com/op"
        async with build_client(spec, recorder, base_url="http://127.0.0.1:9/api/") as client:
            await client.call("op")
        assert str(recorder.last.url) == "http://127.0.0.1:9/api/op"

    async def test_policy_for_combines_connector_client_and_operation_settings(self) -> None:
        spec = build_spec(
            {"name": "slow", "path": "/slow", "resilience": {"timeout": 99}},
            {"name": "fast", "path": "/fast"},
        )
        client = ConnectorClient(
            spec, resilience={"max_retries": 7}, transport=httpx.MockTransport(Recorder())
        )
        async with client:
            assert client.policy_for("slow").timeout == 99
            assert client.policy_for("slow").max_retries == 7
            assert client.policy_for("fast").timeout == 5


async def test_values_are_data_never_templates() -> None:
    recorder = Recorder()
    spec = build_spec(
        {
            "name": "op",
            "path": "/op/{id}",
            "parameters": [{"name": "id", "location": "path"}, {"name": "q"}],
            "headers": {"X-Q": "{{ parameters.q }}"},
        },
        auth={"auth_type": "bearer", "credential_schema": {"token": {}}},
    )
    injected = "{{ 7 * 7 }}"
    async with build_client(spec, recorder, credentials={"token": injected}) as client:
        await client.call("op", {"id": injected, "q": injected})
    request = recorder.last
    assert request.headers["Authorization"] == f"Bearer {injected}"
    assert request.headers["X-Q"] == injected
    assert request.url.params["q"] == injected
    assert "49" not in str(request.url)
