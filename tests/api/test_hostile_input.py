"""A client's mistake is never a 500: hostile bodies, URLs and values get a clear 4xx.

Each case answered 500 before (and, on a real server, reset the keep-alive connection): a lone
surrogate in credentials, connector parameters or operation parameters; a 1 MB query string; a
document nested 500 levels sent to the UI's YAML renderer; a base URL written as a
non-canonical IPv4 literal. The live-server tests send raw HTTP/1.1 on one socket, so they
also prove the connection survives the refusal.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectory.api import create_app
from connectory.api.limits import server_options
from connectory.settings import Settings
from connectory.spec.loader import read_connector_data
from connectory.store import SecretValue
from connectory.testing import create_test_api, serve

from .identity_support import Store, open_store
from .socket_support import read_response
from .support import World, insert_published_connector

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "testapi" / "connector.yaml"
SURROGATE = b'"\\ud800"'
JSON = {"Content-Type": "application/json"}
#: Routes whose JSON body is a connector document (checked by the connector's own rules).
DOCUMENT_ROUTES = {
    ("POST", "/connectors"),
    ("POST", "/connectors/validate"),
    ("PUT", "/connectors/x/draft"),
}
#: Routes that read their body as a file (a connector, an export, an OpenAPI document).
RAW_BODY_PATHS = ("/upload", "/import", "/import-openapi", "/reimport-openapi")


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve(create_test_api(records=10)) as url:
        yield url


@pytest.fixture
async def store(settings: Settings) -> Any:
    async with open_store(settings.database_url) as opened:
        yield opened


@pytest.fixture
async def connector_id(world: World, settings: Settings, upstream: str) -> str:
    document: dict[str, Any] = read_connector_data(EXAMPLE)
    document.update(base_url=upstream, slug="test-api")
    return await insert_published_connector(
        settings.database_url, document, enterprise_id=world.enterprises["a"]
    )


@pytest.fixture
async def connection_id(api: httpx.AsyncClient, world: World, connector_id: str) -> str:
    created = await api.post(
        "/connections",
        json={"connector_id": connector_id, "name": "Main", "credentials": {"api_key": "k"}},
        headers=world.auth("a_admin"),
    )
    assert created.status_code == 201, created.text
    connection: str = created.json()["id"]
    return connection


def _assert_lone_surrogate_refused(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_request"
    assert body["issues"][0]["loc"][0] == "body"
    assert "lone surrogate" in body["detail"]


async def test_lone_surrogates_are_422_and_store_nothing(
    api: httpx.AsyncClient,
    world: World,
    store: Store,
    connector_id: str,
    connection_id: str,
) -> None:
    headers = {**world.auth("a_admin"), **JSON}
    secrets_before = await store.count(SecretValue)
    bodies = {
        ("POST", "/connections"): b'{"connector_id": "%s", "name": "x", "credentials": '
        b'{"api_key": %s}}' % (connector_id.encode(), SURROGATE),
        ("PUT", f"/connections/{connection_id}"): b'{"credentials": {"api_key": %s}}' % SURROGATE,
        ("PUT", f"/connectors/{connector_id}/parameters"): b'{"values": {"tenant": %s}}'
        % SURROGATE,
        ("POST", f"/connections/{connection_id}/operations/echo_query"): b'{"params": {"q": %s}}'
        % SURROGATE,
        ("POST", f"/connectors/{connector_id}/draft/run"): b'{"operation": "echo_query", '
        b'"credentials": {"api_key": %s}}' % SURROGATE,
        # In a key, and as the low half without its high half.
        ("POST", "/enterprises"): b'{"name": "x", "\\udc00": 1}',
    }
    for (method, path), content in bodies.items():
        response = await api.request(method, path, content=content, headers=headers)
        _assert_lone_surrogate_refused(response)
    assert await store.count(SecretValue) == secrets_before


async def test_json_that_is_not_storable_is_422(api: httpx.AsyncClient, world: World) -> None:
    headers = {**world.auth("platform"), **JSON}
    for content, reason in (
        (b'{"name": NaN}', "not valid JSON"),
        (b'{"name": Infinity}', "not valid JSON"),
        (b'{"name": ' + b"[" * 500 + b"]" * 500 + b"}", "nests deeper than 200 levels"),
    ):
        response = await api.post("/enterprises", content=content, headers=headers)
        assert response.status_code == 422, response.text
        assert reason in response.json()["detail"]


@pytest.mark.parametrize("dry_run", ["true", "false"])
async def test_a_lone_surrogate_in_an_openapi_document_is_a_located_problem(
    api: httpx.AsyncClient, world: World, dry_run: str
) -> None:
    document = b'{"openapi": "3.0.0", "info": {"title": "T\\ud800", "version": "1"}, "paths": {}}'
    response = await api.post(
        f"/connectors/import-openapi?dry_run={dry_run}",
        content=document,
        headers={**world.auth("platform"), **JSON},
    )
    assert response.status_code == 422, response.text
    assert [problem["path"] for problem in response.json()["problems"]] == ["/info/title"]


async def test_a_lone_surrogate_in_a_sign_in_token_is_not_a_500(api: httpx.AsyncClient) -> None:
    for content, content_type in (
        (b'{"token": "cty_\\ud800"}', "application/json"),
        (b"token=cty_%ED%A0%80", "application/x-www-form-urlencoded"),
    ):
        response = await api.post(
            "/ui/session",
            content=content,
            headers={"Content-Type": content_type, "X-Connectory-UI": "1"},
        )
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "not_authenticated"


def _nested(depth: int) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for _ in range(depth):
        document = {"a": document}
    return document


@pytest.mark.parametrize("depth", [100, 199, 500])
async def test_a_deep_document_sent_to_the_yaml_renderer_is_422(
    api: httpx.AsyncClient, world: World, depth: int
) -> None:
    response = await api.post(
        "/ui/yaml/render", json={"document": _nested(depth)}, headers=world.auth("a_viewer")
    )
    assert response.status_code == 422, response.text
    assert "nest" in response.json()["detail"]
    shallow = await api.post(
        "/ui/yaml/render", json={"document": _nested(10)}, headers=world.auth("a_viewer")
    )
    assert shallow.status_code == 200


async def test_deep_config_and_parameters_are_422(
    api: httpx.AsyncClient, world: World, connector_id: str, connection_id: str
) -> None:
    headers = world.auth("a_admin")
    config = await api.post(
        "/connections",
        json={"connector_id": connector_id, "name": "x", "config": {"deep": _nested(100)}},
        headers=headers,
    )
    params = await api.post(
        f"/connections/{connection_id}/operations/echo_query",
        json={"params": {"q": _nested(100)}},
        headers=headers,
    )
    for response, loc in ((config, ["body", "config", "deep"]), (params, ["body", "params", "q"])):
        assert response.status_code == 422, response.text
        assert response.json()["issues"][0]["loc"] == loc
        assert "nests deeper than 64 levels" in response.json()["detail"]


@pytest.mark.parametrize(
    ("field", "limit"),
    [("credentials", 16_384), ("config", 16_384), ("params", 1_048_576)],
)
async def test_values_over_their_length_limit_are_422_naming_the_limit(
    api: httpx.AsyncClient,
    world: World,
    store: Store,
    connector_id: str,
    connection_id: str,
    field: str,
    limit: int,
) -> None:
    secrets_before = await store.count(SecretValue)
    text = "k" * (limit + 1)
    if field == "params":
        response = await api.post(
            f"/connections/{connection_id}/operations/echo_query",
            json={"params": {"q": text}},
            headers=world.auth("a_admin"),
        )
        key = "q"
    else:
        key = "api_key" if field == "credentials" else "region"
        response = await api.post(
            "/connections",
            json={"connector_id": connector_id, "name": "x", field: {key: text}},
            headers=world.auth("a_admin"),
        )
    assert response.status_code == 422, response.text
    assert response.json()["issues"][0]["loc"] == ["body", field, key]
    assert response.json()["issues"][0]["message"] == (
        f"the text is {limit + 1:,} characters long; the limit is {limit:,}"
    )
    assert await store.count(SecretValue) == secrets_before


async def test_a_9_million_character_credential_is_refused(
    world: World, settings: Settings, connector_id: str
) -> None:
    # With the default body cap (10 MiB) the value arrives whole and is refused by its limit.
    app = create_app(settings.model_copy(update={"max_body_bytes": 10 * 1024 * 1024}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post(
                "/connections",
                json={
                    "connector_id": connector_id,
                    "name": "x",
                    "credentials": {"api_key": "k" * 9_000_000},
                },
                headers=world.auth("a_admin"),
            )
    assert response.status_code == 422
    assert "the limit is 16,384" in response.json()["detail"]


async def test_405_names_every_allowed_method(api: httpx.AsyncClient, world: World) -> None:
    for method, path, allowed in (
        ("PATCH", "/connections", "GET, POST"),
        ("DELETE", "/me", "GET"),
        ("PATCH", "/connectors/x/draft", "GET, PUT, DELETE"),
    ):
        response = await api.request(method, path, headers=world.auth("a_admin"))
        assert response.status_code == 405
        assert response.headers["Allow"] == allowed
        assert response.json()["code"] == "method_not_allowed"
        assert f"allowed: {allowed}" in response.json()["detail"]


@pytest.mark.parametrize("host", ["0177.0.0.1", "127.000.000.001", "0x7f.1", "2130706433"])
async def test_a_non_canonical_ipv4_base_url_is_refused_at_validation(
    api: httpx.AsyncClient, world: World, host: str
) -> None:
    document = {
        "name": "Internal",
        "base_url": f"http://{host}:8080",
        "operations": [{"name": "ping", "path": "/ping"}],
    }
    response = await api.post("/connectors", json=document, headers=world.auth("platform"))
    assert response.status_code == 422
    problems = [p for p in response.json()["problems"] if p["path"] == "base_url"]
    assert len(problems) == 1
    assert problems[0]["message"].endswith("write it as 127.0.0.1")


async def test_a_rendered_non_canonical_base_url_is_a_422_at_run_time(
    api: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    document = {
        "name": "Regional",
        "slug": "regional",
        "base_url": "http://{{ config.host }}:8080",
        "operations": [{"name": "ping", "path": "/ping"}],
        "test_operation": "ping",
    }
    connector = await insert_published_connector(
        settings.database_url, document, enterprise_id=world.enterprises["a"]
    )
    created = await api.post(
        "/connections",
        json={"connector_id": connector, "name": "x", "config": {"host": "0x7f.1"}},
        headers=world.auth("a_admin"),
    )
    connection = created.json()["id"]
    ran = await api.post(
        f"/connections/{connection}/operations/ping", headers=world.auth("a_admin")
    )
    assert ran.status_code == 422
    assert ran.json()["code"] == "invalid_url"
    assert "the host '0x7f.1' is the IPv4 address 127.0.0.1" in ran.json()["detail"]
    tested = await api.post(f"/connections/{connection}/test", headers=world.auth("a_admin"))
    assert tested.status_code == 200
    assert tested.json()["status"] == "failed"
    assert "0x7f.1" in tested.json()["detail"]


async def test_every_json_body_is_decoded_strictly(api: httpx.AsyncClient, world: World) -> None:
    """Every operation with a JSON body (and the UI's) refuses a lone surrogate the same way."""
    openapi = (await api.get("/openapi.json")).json()
    targets = [("POST", "/ui/yaml/render"), ("POST", "/ui/yaml/parse")]
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                targets.append((method.upper(), re.sub(r"\{[^}]+\}", "x", path)))
    assert len(targets) > 15
    headers = {**world.auth("a_admin"), **JSON}
    for method, path in targets:
        response = await api.request(method, path, content=b'{"\\udc00": 1}', headers=headers)
        if (method, path) in DOCUMENT_ROUTES:
            # A connector document: its checker names the field, as for a YAML file (once the
            # connector is found: the draft of connector "x" is a 404 first).
            if response.status_code == 404 and "/x/" in path:
                continue
            messages = [problem["message"] for problem in response.json()["problems"]]
            assert any("unpaired surrogate" in message for message in messages), (path, messages)
            continue
        if path.endswith(RAW_BODY_PATHS):
            # These read their body as a file, after finding the connector; the file's
            # parser refuses the escape in its own words.
            assert response.status_code in (404, 422), (method, path, response.text)
            continue
        assert response.status_code == 422, (method, path, response.text)
        assert "lone surrogate" in response.json()["detail"], (method, path)


# --- on a real server: the refusal keeps the connection ------------------------------------


def _exchange(sock: socket.socket, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send one request and read one response (Content-Length framed) from *sock*."""
    sock.sendall(request)
    return read_response(sock)


@pytest.fixture
def live(server: Any, settings: Settings) -> Iterator[tuple[str, int]]:
    """The app in uvicorn with ``connectory serve``'s options: (host, port)."""
    with serve(create_app(settings), options=server_options(settings)) as url:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        yield host, int(port)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_hostile_requests_leave_the_connection_open(
    live: tuple[str, int], world: World, connection_id: str
) -> None:
    token = world.tokens["a_admin"].encode()
    auth = b"Authorization: Bearer " + token + b"\r\nHost: test\r\n"
    surrogate = b'{"params": {"q": %s}}' % SURROGATE
    deep = b'{"document": ' + b'{"a": ' * 500 + b"{}" + b"}" * 500 + b"}"
    requests = [
        (b"GET /connections?connector_id=" + b"x" * 1_000_000 + b" HTTP/1.1\r\n" + auth, 414),
        (
            b"POST /connections/%s/operations/echo_query HTTP/1.1\r\n" % connection_id.encode()
            + auth
            + b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(surrogate),
            422,
        ),
        (
            b"POST /ui/yaml/render HTTP/1.1\r\n"
            + auth
            + b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(deep),
            422,
        ),
        (b"PATCH /connections HTTP/1.1\r\n" + auth, 405),
        (b"GET /me HTTP/1.1\r\n" + auth, 200),
    ]
    bodies = [b"", surrogate, deep, b"", b""]
    with socket.create_connection(live, timeout=30) as sock:
        for (head, expected), body in zip(requests, bodies, strict=True):
            status, headers, answer = _exchange(sock, head + b"\r\n" + body)
            assert status == expected, answer[:300]
            assert headers.get("connection", "keep-alive") != "close"
            if status == 414:
                assert b"the limit is 65,536 bytes" in answer
