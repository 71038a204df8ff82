"""Connector JavaScript against the real test API: a signed request the API verifies, enveloped
answers unwrapped by a hook, and an operation implemented by a method making two API calls.

The example is examples/testapi-javascript/ exactly as shipped.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from connectory.errors import AuthError, UpstreamError
from connectory.http.redaction import REDACTED
from connectory.runtime import ConnectorClient
from connectory.spec import load_connector

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "testapi-javascript"
TEST_API_RECORDS = 250
SECRET = "test-signing-secret"


def client_for(test_api: str, secret: str = SECRET) -> ConnectorClient:
    spec = load_connector(EXAMPLE)
    return ConnectorClient(spec, credentials={"signing_secret": secret}, base_url=test_api)


async def test_the_api_verifies_the_hooks_signature(test_api: str, test_api_stats: Any) -> None:
    async with client_for(test_api) as client:
        listed = await client.call("list_signed_items", {"limit": 3})
        created = await client.call("create_signed_item", {"name": "new", "tags": ["a", "b"]})
    assert [item["id"] for item in listed.body["items"]] == [1, 2, 3]  # unwrapped by the hook
    assert created.status_code == 201
    assert created.body == {"created": {"name": "new", "tags": ["a", "b"]}}
    assert test_api_stats.get()["signatures"] == {"verified": 2, "refused": 0}
    # The result shows the request before and after the hook; the signature is a secret.
    assert created.request_before_hooks is not None
    assert "X-Signature" not in created.request_before_hooks.headers
    assert created.request is not None
    assert created.request.headers["X-Signature"] == REDACTED
    assert created.request.headers["X-Timestamp"].isdigit()


async def test_a_wrong_secret_is_refused_by_the_api(test_api: str, test_api_stats: Any) -> None:
    async with client_for(test_api, secret="not-the-secret") as client:
        with pytest.raises(AuthError) as caught:
            await client.call("list_signed_items")
    assert caught.value.status_code == 401
    assert "does not match" in str(caught.value)
    assert test_api_stats.get()["signatures"] == {"verified": 0, "refused": 1}


async def test_every_page_is_unwrapped_before_pagination_reads_it(test_api: str) -> None:
    async with client_for(test_api) as client:
        ids = [record["id"] async for record in client.iter_records("list_items", {"limit": 100})]
    assert ids == list(range(1, TEST_API_RECORDS + 1))


async def test_an_error_hidden_in_a_200_becomes_an_error(test_api: str) -> None:
    async with client_for(test_api) as client:
        found = await client.call("get_item", {"id": 3})
        with pytest.raises(UpstreamError) as caught:
            await client.call("get_item", {"id": 999})
    assert found.body["id"] == 3
    assert found.schema_mismatches == []
    assert caught.value.status_code == 404
    assert "no item 999" in caught.value.body


async def test_a_method_makes_two_calls_through_the_runtime(
    test_api: str, test_api_stats: Any
) -> None:
    async with client_for(test_api) as client:
        result = await client.call("item_summary", {"id": 7})
    assert result.body == {"id": 7, "name": "Item 0007", "next": {"id": 8, "name": "Item 0008"}}
    assert result.schema_mismatches == []
    assert [call.url.split("?")[0] for call in result.api_calls] == [
        f"{test_api}/envelope/items/7",
        f"{test_api}/envelope/items",
    ]
    stats = test_api_stats.get()["by_path"]
    assert (stats["/envelope/items/7"], stats["/envelope/items"]) == (1, 1)
    assert result.logs[-1].message == "item 7: the next one is 8"
    assert result.logs[-1].location == "methods/item_summary.js:9:11"


def test_call_verbose_shows_the_hooks_work(test_api: str, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.yaml"
    credentials.write_text(f"signing_secret: {SECRET}\n")
    command = [
        sys.executable, "-m", "connectory.cli", "call", str(EXAMPLE), "create_signed_item",
        "-p", "name=cli", "--credentials", str(credentials), "--base-url", test_api, "-v",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"name": "cli"' in done.stdout
    assert "request before hooks: POST" in done.stderr
    assert "request after hooks: POST" in done.stderr
    assert f"X-Signature: {REDACTED}" in done.stderr
    assert "js debug: hooks/sign.js:12:11 signed POST /signed/items" in done.stderr
    assert SECRET not in done.stdout + done.stderr


def test_call_verbose_shows_a_methods_requests_and_logs(test_api: str, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.yaml"
    credentials.write_text(f"signing_secret: {SECRET}\n")
    command = [
        sys.executable, "-m", "connectory.cli", "call", str(EXAMPLE), "item_summary",
        "-p", "id=250", "--credentials", str(credentials), "--base-url", test_api, "-v",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"next": null' in done.stdout
    assert f"apiClient request 1: GET {test_api}/envelope/items/250" in done.stderr
    assert "apiClient request 2: GET" in done.stderr
    assert "js info: methods/item_summary.js:9:11 item 250: the next one is none" in done.stderr


def test_the_example_validates_with_its_code() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "connectory.cli", "validate", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "valid: Connectory Test API (JavaScript)" in done.stdout
