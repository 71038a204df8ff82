"""Credentials are checked against credential_schema when a connection is built."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectory.errors import CredentialsError

from .support import build_client, build_spec

SECRET = "sk-live-1234567890"

AUTH: dict[str, Any] = {
    "auth_type": "api_key",
    "credential_schema": {
        "api_key": {
            "label": "API Key",
            "type": "password",
            "required": True,
            "help": "From settings",
        },
        "account_id": {"type": "integer", "required": True},
        "sandbox": {"type": "boolean", "default": False},
        "region": {"enum": ["eu", "us"], "default": "eu"},
    },
    "header_name": "X-Key",
    "api_key": "{{ credentials.api_key }}/{{ credentials.account_id }}/{{ credentials.sandbox }}",
}


def _ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"key": request.headers["X-Key"]})


def _client(credentials: dict[str, Any]) -> Any:
    return build_client(build_spec(AUTH), _ok, credentials=credentials)


async def test_values_are_coerced_and_defaults_applied() -> None:
    async with _client({"api_key": SECRET, "account_id": "42"}) as client:
        result = await client.call("me")
    assert result.body == {"key": f"{SECRET}/42/False"}


def test_missing_required_credential_names_label_and_help() -> None:
    with pytest.raises(CredentialsError) as caught:
        _client({"account_id": 1})
    assert "credential 'api_key' (API Key) is required (From settings)" in str(caught.value)


def test_unknown_credential_suggests_the_closest_name() -> None:
    with pytest.raises(CredentialsError) as caught:
        _client({"api_key": SECRET, "account_id": 1, "acount_id": SECRET})
    assert "unknown credential 'acount_id'; did you mean 'account_id'?" in str(caught.value)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"account_id": SECRET}, "credential 'account_id' must be an integer"),
        ({"account_id": 1, "sandbox": SECRET}, "credential 'sandbox' must be true or false"),
        ({"account_id": 1, "region": SECRET}, "credential 'region' must be one of eu, us"),
    ],
)
def test_type_and_enum_errors_never_contain_the_value(given: dict[str, Any], expected: str) -> None:
    with pytest.raises(CredentialsError) as caught:
        _client({"api_key": "k-12345", **given})
    assert expected in str(caught.value)
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value.args)
