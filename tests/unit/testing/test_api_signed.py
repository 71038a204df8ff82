"""The test API's signed and enveloped endpoints (used by the JavaScript examples)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from connectory.testing import create_test_api
from connectory.testing.api_signed import signature_of

BASE = "http://testapi.local"
SECRET = "test-signing-secret"
NOW = 1_700_000_000


@pytest.fixture(name="api")
async def _api() -> AsyncIterator[httpx.AsyncClient]:
    app = create_test_api(records=30, wall_clock=lambda: float(NOW))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield client


def signed(method: str, path: str, body: bytes = b"", at: int = NOW) -> dict[str, str]:
    return {
        "X-Timestamp": str(at),
        "X-Signature": signature_of(SECRET, str(at), method, path, body),
    }


async def test_a_signed_request_is_answered_in_the_envelope(api: httpx.AsyncClient) -> None:
    response = await api.get("/signed/items?limit=2", headers=signed("GET", "/signed/items"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert [item["id"] for item in body["data"]["items"]] == [1, 2]
    content = b'{"name":"new"}'
    headers = {**signed("POST", "/signed/items", content), "Content-Type": "application/json"}
    created = await api.post("/signed/items", content=content, headers=headers)
    assert (created.status_code, created.json()["data"]) == (201, {"created": {"name": "new"}})
    stats = (await api.get("/_stats")).json()
    assert stats["signatures"] == {"verified": 2, "refused": 0}


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({}, "missing X-Timestamp or X-Signature"),
        (signed("GET", "/signed/items", at=NOW - 301), "within 300 s"),
        (signed("POST", "/signed/items"), "does not match"),
        (signed("GET", "/signed/other"), "does not match"),
        ({**signed("GET", "/signed/items"), "X-Timestamp": "soon"}, "Unix seconds"),
    ],
)
async def test_a_bad_signature_is_refused(
    api: httpx.AsyncClient, headers: dict[str, str], problem: str
) -> None:
    response = await api.get("/signed/items", headers=headers)
    assert response.status_code == 401
    assert problem in response.json()["error"]
    assert (await api.get("/_stats")).json()["signatures"]["refused"] == 1


async def test_the_envelope_hides_errors_in_a_200(api: httpx.AsyncClient) -> None:
    found = await api.get("/envelope/items/3")
    assert (found.status_code, found.json()["data"]["id"]) == (200, 3)
    missing = await api.get("/envelope/items/99")
    assert missing.status_code == 200
    assert missing.json() == {
        "status": "error",
        "error": {"code": "not_found", "message": "no item 99"},
    }
    page = (await api.get("/envelope/items?cursor=28&limit=5")).json()["data"]
    assert [item["id"] for item in page["items"]] == [29, 30]
    assert page["next_cursor"] is None
