"""Short secrets (a PIN) are redacted by where they go: headers, query, body fields, echoes."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import orjson
import pytest

from connectory.http.redaction import REDACTED
from connectory.runtime import OperationResult

from .support import Recorder, build_client, build_spec

PIN = "7"
#: Another short secret, for the connector parameter.
CODE = "x9"


def echo(request: httpx.Request) -> httpx.Response:
    """Answers with what it received, as echo endpoints (and some error pages) do."""
    body: Any = None
    if request.content:
        content_type = request.headers.get("content-type", "")
        body = orjson.loads(request.content) if "json" in content_type else request.content.decode()
    return httpx.Response(
        200,
        json={
            "path": request.url.path,
            "query": {key: request.url.params.get_list(key) for key in request.url.params},
            "headers": dict(request.headers),
            "body": body,
        },
    )


def _pin_spec(**extra: Any) -> Any:
    return build_spec(
        {
            "name": "echo",
            "path": "/echo",
            "headers": {"X-Op-Code": "code={{ connector_parameters.code }}"},
        },
        {"name": "folder", "path": "/folders/{{ credentials.pin }}/items"},
        auth={
            "auth_type": "basic",
            "credential_schema": {
                "username": {"type": "string"},
                "password": {"type": "password"},
                "pin": {"type": "password"},
                "region": {"type": "string"},
            },
        },
        parameters={"code": {"type": "password"}},
        headers={"X-Pin": "{{ credentials.pin }}", "X-Region": "{{ credentials.region }}"},
        **extra,
    )


def _credentials() -> dict[str, str]:
    return {"username": "bob", "password": "hunter2-long", "pin": PIN, "region": "eu"}


def _shown(result: OperationResult) -> dict[str, Any]:
    shown = result.to_dict()["request"]
    assert isinstance(shown, dict)
    return shown


async def test_templated_headers_that_read_a_secret_are_redacted_whole() -> None:
    recorder = Recorder(echo)
    async with build_client(
        _pin_spec(), recorder, credentials=_credentials(), connector_parameters={"code": CODE}
    ) as client:
        result = await client.call("echo")
    # It really was sent.
    assert recorder.last.headers["X-Pin"] == PIN
    assert recorder.last.headers["X-Op-Code"] == f"code={CODE}"
    headers = _shown(result)["headers"]
    assert headers["X-Pin"] == REDACTED
    assert headers["X-Op-Code"] == REDACTED
    # A header templated from a field that is not sensitive is shown.
    assert headers["X-Region"] == "eu"


async def test_echoed_bodies_lose_the_values_of_secret_locations() -> None:
    async with build_client(
        _pin_spec(), Recorder(echo), credentials=_credentials(), connector_parameters={"code": CODE}
    ) as client:
        result = await client.call("echo")
        echoed = client.redactor.redact_data(result.body)
    assert result.body["headers"]["x-pin"] == PIN  # the library hands back what came
    assert echoed["headers"]["x-pin"] == REDACTED
    assert echoed["headers"]["x-op-code"] == REDACTED
    assert echoed["headers"]["authorization"] == REDACTED
    assert echoed["headers"]["x-region"] == "eu"  # not a secret location
    assert PIN not in orjson.dumps(echoed["headers"]).decode()


async def test_a_secret_path_segment_is_redacted_in_the_request_and_the_page_url() -> None:
    async with build_client(_pin_spec(), Recorder(echo), credentials=_credentials()) as client:
        result = await client.call("folder")
        pages = [page async for page in client.iter_pages("folder")]
    assert _shown(result)["url"].endswith(f"/folders/{REDACTED}/items")
    assert pages[0].url.endswith(f"/folders/{REDACTED}/items")


async def test_a_short_api_key_in_the_query_is_redacted_by_its_parameter() -> None:
    spec = build_spec(
        {"name": "echo", "path": "/echo"},
        auth={
            "auth_type": "api_key",
            "credential_schema": {"key": {"type": "password"}},
            "api_key": "{{ credentials.key }}",
            "location": "query",
            "query_param": "pin",
        },
    )
    async with build_client(spec, Recorder(echo), credentials={"key": "1"}) as client:
        result = await client.call("echo")
        echoed = client.redactor.redact_data(result.body)
    assert _shown(result)["url"].endswith(f"/echo?pin={REDACTED}")
    assert echoed["query"] == {"pin": [REDACTED]}


async def test_a_base_url_query_templated_from_a_secret_is_redacted() -> None:
    spec = build_spec(
        {"name": "echo", "path": "/echo"},
        base_url="https://api.example.com/v1?account={{ connector_parameters.code }}",
        parameters={"code": {"type": "password"}},
    )
    async with build_client(spec, Recorder(echo), connector_parameters={"code": CODE}) as client:
        plan_url = client.base_url
        shown = client.redactor.redact_url(plan_url)
    assert plan_url.endswith(f"account={CODE}")
    assert shown.endswith(f"account={REDACTED}")


async def test_request_body_fields_holding_a_short_secret_are_redacted() -> None:
    spec = build_spec(
        {
            "name": "post",
            "method": "POST",
            "path": "/echo",
            "parameters": [
                {"name": "pin", "location": "body"},
                {"name": "note", "location": "body"},
            ],
        },
        auth={"auth_type": "bearer", "credential_schema": {"token": {"type": "password"}}},
    )
    async with build_client(spec, Recorder(echo), credentials={"token": "t1"}) as client:
        result = await client.call("post", {"pin": "t1", "note": "t1 is short"})
    assert _shown(result)["body"] == f'{{"pin":"{REDACTED}","note":"t1 is short"}}'


async def test_custom_login_fields_that_read_a_secret_are_secret_locations() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/login"):
            return httpx.Response(200, json={"access_token": "session-token-123"})
        return echo(request)

    spec = build_spec(
        {"name": "echo", "path": "/echo"},
        auth={
            "auth_type": "custom",
            "credential_schema": {
                "user": {"type": "string"},
                "pin": {"type": "password"},
            },
            "login": {
                "url": "/login",
                "form": {"user": "{{ credentials.user }}", "passcode": "{{ credentials.pin }}"},
            },
        },
    )
    async with build_client(spec, respond, credentials={"user": "bob", "pin": PIN}) as client:
        await client.call("echo")
        redactor = client.redactor
    assert redactor.is_sensitive_field("passcode")
    assert not redactor.is_sensitive_field("user")
    assert redactor.redact_data({"passcode": "3", "user": "alice"}) == {
        "passcode": REDACTED,
        "user": "alice",
    }


async def test_logs_of_a_secret_path_segment_are_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with build_client(_pin_spec(), Recorder(echo), credentials=_credentials()) as client:
        await client.call("folder")
    lines = [r.getMessage() for r in caplog.records if "/folders/" in r.getMessage()]
    assert lines, "the request was logged"
    for line in lines:
        assert f"/folders/{PIN}/" not in line, line
        assert f"/folders/{REDACTED}/" in line
