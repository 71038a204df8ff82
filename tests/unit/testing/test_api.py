"""Unit tests of the test API itself, in process through httpx.ASGITransport."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from connectory.testing import (
    FOREIGN_BASE,
    TestApiCredentials,
    create_test_api,
    decode_cursor,
    encode_cursor,
    make_record,
    make_records,
    serve,
)

BASE = "http://testapi.local"
CREDS = TestApiCredentials()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def api(clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_test_api(records=53, token_ttl=60, clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield client


def ids(records: list[dict[str, Any]]) -> list[int]:
    return [record["id"] for record in records]


def parse_link(header: str) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>;\s*rel="([^"]+)"', header)}


def test_dataset_is_deterministic_and_complete() -> None:
    records = make_records(5)
    assert records == make_records(5)
    assert ids(records) == [1, 2, 3, 4, 5]
    record = make_record(7)
    assert set(record) >= {"id", "name", "email", "created_at", "updated_at", "address", "tags"}
    assert isinstance(record["address"], dict) and isinstance(record["tags"], list)
    assert record["created_at"].endswith("Z")


def test_cursor_round_trips() -> None:
    assert decode_cursor(encode_cursor(120)) == 120


def test_negative_records_are_refused() -> None:
    with pytest.raises(ValueError):
        create_test_api(records=-1)


async def test_offset_pages_cover_every_record_and_report_the_total(
    api: httpx.AsyncClient,
) -> None:
    seen: list[int] = []
    offset = 0
    while True:
        response = await api.get("/offset/items", params={"offset": offset, "limit": 20})
        assert response.headers["x-total-count"] == "53"
        data = response.json()["data"]
        if not data:
            break
        seen += ids(data)
        offset += len(data)
    assert seen == list(range(1, 54))


async def test_page_size_is_capped() -> None:
    app = create_test_api(records=300, max_page_size=100)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        response = await client.get("/offset/items", params={"limit": 1000})
    assert len(response.json()["data"]) == 100


async def test_bad_paging_parameters_answer_400_json(api: httpx.AsyncClient) -> None:
    for params in ({"offset": "x"}, {"offset": -1}, {"limit": 0}):
        response = await api.get("/offset/items", params=params)
        assert response.status_code == 400
        assert "error" in response.json()
    response = await api.get("/cursor/items", params={"cursor": "garbage!"})
    assert response.status_code == 400


async def test_page_number_reports_total_in_body_and_header(api: httpx.AsyncClient) -> None:
    response = await api.get("/pages/items", params={"page": 3, "per_page": 20})
    body = response.json()
    assert ids(body["data"]) == list(range(41, 54))
    assert body["meta"] == {"page": 3, "per_page": 20, "total": 53, "total_pages": 3}
    assert response.headers["x-total-count"] == "53"


async def test_cursor_in_body_ends_with_null(api: httpx.AsyncClient) -> None:
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 25}
    while True:
        body = (await api.get("/cursor/items", params=params)).json()
        seen += ids(body["data"])
        if body["meta"]["next_cursor"] is None:
            break
        params["cursor"] = body["meta"]["next_cursor"]
    assert seen == list(range(1, 54))


async def test_cursor_in_header_with_nested_records(api: httpx.AsyncClient) -> None:
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 30}
    while True:
        response = await api.get("/cursor-header/items", params=params)
        seen += ids(response.json()["result"]["items"])
        if "x-next-cursor" not in response.headers:
            break
        params["cursor"] = response.headers["x-next-cursor"]
    assert seen == list(range(1, 54))


async def test_link_header_follows_rfc_8288(api: httpx.AsyncClient) -> None:
    seen: list[int] = []
    url: str | None = f"{BASE}/link/items?per_page=25"
    while url:
        response = await api.get(url)
        assert isinstance(response.json(), list)
        seen += ids(response.json())
        links = parse_link(response.headers["link"])
        assert {"first", "last"} <= set(links)
        url = links.get("next")
    assert seen == list(range(1, 54))


async def test_next_url_is_absolute_and_null_at_the_end(api: httpx.AsyncClient) -> None:
    seen: list[int] = []
    url: str | None = "/next-url/items?per_page=25"
    while url:
        body = (await api.get(url)).json()
        seen += ids(body["data"])
        url = body["next"]
        assert url is None or url.startswith(BASE)
    assert seen == list(range(1, 54))


async def test_misbehaving_pagination(api: httpx.AsyncClient) -> None:
    cursors = []
    params: dict[str, str] = {}
    for _ in range(3):
        body = (await api.get("/bad/repeat-cursor/items", params=params)).json()
        params = {"cursor": body["meta"]["next_cursor"]}
        cursors.append(params["cursor"])
    assert cursors == ["a", "b", "a"]
    response = await api.get("/bad/next-url-loop/items?page=1")
    assert response.json()["next"] == str(response.request.url)
    assert (await api.get("/bad/foreign-next/items")).json()["next"].startswith(FOREIGN_BASE)
    link = (await api.get("/bad/foreign-link/items")).headers["link"]
    assert parse_link(link)["next"].startswith(FOREIGN_BASE)
    first = parse_link((await api.get("/bad/link-loop/items")).headers["link"])["next"]
    second = parse_link((await api.get(first)).headers["link"])["next"]
    assert parse_link((await api.get(second)).headers["link"])["next"] == first


async def test_api_key_header_needs_the_prefix(api: httpx.AsyncClient) -> None:
    url = "/auth/api-key-header/items"
    assert (await api.get(url)).status_code == 401
    assert (await api.get(url, headers={"X-API-Key": CREDS.api_key})).status_code == 401
    ok = await api.get(url, headers={"X-API-Key": f"Token {CREDS.api_key}"})
    assert ok.status_code == 200 and len(ok.json()["data"]) == 25


async def test_api_key_query(api: httpx.AsyncClient) -> None:
    url = "/auth/api-key-query/items"
    assert (await api.get(url, params={"api_key": "wrong"})).status_code == 401
    assert (await api.get(url, params={"api_key": CREDS.api_key})).status_code == 200


async def test_basic_and_bearer(api: httpx.AsyncClient) -> None:
    response = await api.get("/auth/basic/items", auth=("demo", "wrong"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    ok = await api.get("/auth/basic/items", auth=(CREDS.username, CREDS.password))
    assert ok.status_code == 200
    bearer = {"Authorization": f"Bearer {CREDS.bearer_token}"}
    assert (await api.get("/auth/bearer/items", headers=bearer)).status_code == 200
    bad = {"Authorization": "Bearer nope"}
    assert (await api.get("/auth/bearer/items", headers=bad)).status_code == 401


async def test_oauth2_client_credentials_expiry_and_revocation(
    api: httpx.AsyncClient, clock: FakeClock
) -> None:
    form = {"grant_type": "client_credentials", "scope": "read write"}
    wrong = await api.post("/oauth/token", data=form, auth=(CREDS.client_id, "wrong"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    response = await api.post(
        "/oauth/token", data=form, auth=(CREDS.client_id, CREDS.client_secret)
    )
    token = response.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 60
    assert token["scope"] == "read write"
    assert response.headers["cache-control"] == "no-store"
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert (await api.get("/auth/oauth2/items", headers=headers)).status_code == 200
    clock.now += 61
    assert (await api.get("/auth/oauth2/items", headers=headers)).status_code == 401

    body_auth = {**form, "client_id": CREDS.client_id, "client_secret": CREDS.client_secret}
    fresh = (await api.post("/oauth/token", data={**body_auth, "ttl": "5"})).json()
    assert fresh["expires_in"] == 5
    headers = {"Authorization": f"Bearer {fresh['access_token']}"}
    assert (await api.get("/auth/oauth2/items", headers=headers)).status_code == 200
    assert (await api.post("/_admin/revoke-tokens")).json()["revoked"] == 2
    assert (await api.get("/auth/oauth2/items", headers=headers)).status_code == 401

    stats = (await api.get("/_stats")).json()
    assert stats["token_requests"] == 3
    assert stats["last_token_request"]["client_auth"] == "body"
    assert "client_secret" not in stats["last_token_request"]


async def test_oauth2_rejects_other_grants(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/oauth/token",
        data={"grant_type": "password"},
        auth=(CREDS.client_id, CREDS.client_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_custom_login(api: httpx.AsyncClient, clock: FakeClock) -> None:
    bad = await api.post("/login", json={"username": CREDS.username, "password": "x"})
    assert bad.status_code == 401
    login = await api.post("/login", json={"username": CREDS.username, "password": CREDS.password})
    token = login.json()
    assert token["expires_in"] == 60
    headers = {"X-Session-Token": token["token"]}
    assert (await api.get("/auth/custom/items", headers=headers)).status_code == 200
    # A login token is not an OAuth2 token.
    bearer = {"Authorization": f"Bearer {token['token']}"}
    assert (await api.get("/auth/oauth2/items", headers=bearer)).status_code == 401
    clock.now += 60
    assert (await api.get("/auth/custom/items", headers=headers)).status_code == 401
    form_login = await api.post(
        "/login", data={"username": CREDS.username, "password": CREDS.password}
    )
    assert form_login.status_code == 200
    assert (await api.get("/_stats")).json()["login_requests"] == 3


async def test_echo_reports_the_request_as_sent(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/echo/a%2Fb/caf%C3%A9",
        params=[("tag", "x"), ("tag", "y z"), ("q", "ä&b")],
        json={"n": 1, "nested": {"ok": True}},
        headers={"X-Custom": "1"},
    )
    body = response.json()
    assert body["method"] == "POST"
    assert body["raw_path"] == "/echo/a%2Fb/caf%C3%A9"
    assert body["path"] == "/echo/a/b/café"
    assert body["query"] == {"tag": ["x", "y z"], "q": ["ä&b"]}
    assert body["headers"]["x-custom"] == "1"
    assert body["body"] == {"n": 1, "nested": {"ok": True}}
    assert body["body_error"] is None


async def test_echo_parses_forms_and_reports_bad_json(api: httpx.AsyncClient) -> None:
    form = await api.put("/echo", data={"a": "1", "b": ["2", "3"]})
    assert form.json()["body"] == {"a": "1", "b": ["2", "3"]}
    bad = await api.patch("/echo", content=b"{nope", headers={"Content-Type": "application/json"})
    assert bad.json()["body"] == "{nope" and "invalid JSON" in bad.json()["body_error"]


async def test_status_invalid_json_large_and_items(api: httpx.AsyncClient) -> None:
    response = await api.get("/status/503", params={"retry_after": "2"})
    assert response.status_code == 503 and response.headers["retry-after"] == "2"
    assert (await api.delete("/status/204")).content == b""
    assert (await api.get("/status/999")).status_code == 400
    invalid = await api.get("/invalid-json")
    assert invalid.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        invalid.json()
    large = await api.get("/large", params={"bytes": 200_000})
    assert abs(len(large.content) - 200_000) < 10 and large.json()["size"] == 200_000
    assert (await api.get("/items/7")).json() == make_record(7)
    assert (await api.get("/items/54")).status_code == 404


async def test_stats_count_requests_by_path_and_reset(api: httpx.AsyncClient) -> None:
    await api.get("/pages/items")
    await api.get("/pages/items", params={"page": 2})
    await api.get("/status/500")
    await api.get("/auth/bearer/items")
    stats = (await api.get("/_stats")).json()
    assert stats["by_path"] == {"/pages/items": 2, "/status/500": 1, "/auth/bearer/items": 1}
    assert stats["total"] == 4 and stats["unauthorized"] == 1
    reset = (await api.post("/_stats/reset")).json()
    assert reset["total"] == 0 and reset["unauthorized"] == 0


def test_serve_runs_on_a_free_loopback_port_and_stops() -> None:
    with serve(create_test_api(records=3)) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        response = httpx.get(f"{base_url}/offset/items")
        assert ids(response.json()["data"]) == [1, 2, 3]
    port = int(base_url.rsplit(":", 1)[1])
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
