"""The API's promises to every client: limits, validation, paging, authentication, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from connectory.settings import Settings
from connectory.store import Enterprise, User

from .identity_support import Store, open_store
from .support import World

HTTP_METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    async with open_store(settings.database_url) as opened:
        yield opened


async def test_an_oversized_body_is_413_and_changes_nothing(
    api: httpx.AsyncClient, world: World, store: Store
) -> None:
    name = "x" * (3 * 1024 * 1024)  # the test server accepts 2 MiB
    before = await store.count(Enterprise)
    declared = await api.post("/enterprises", json={"name": name}, headers=world.auth("platform"))

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(48):
            yield b"x" * 65536
        yield b'"}'

    streamed = await api.post(
        "/enterprises",
        content=chunks(),
        headers={**world.auth("platform"), "Content-Type": "application/json"},
    )
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"
    assert await store.count(Enterprise) == before


async def test_validation_errors_are_422_with_field_paths(
    api: httpx.AsyncClient, world: World, store: Store
) -> None:
    before = await store.count(User)
    response = await api.post(
        "/users",
        json={"email": "not-an-email", "role": "king", "extra": 1},
        headers=world.auth("platform"),
    )
    assert response.status_code == 422
    body = response.json()
    assert (body["status"], body["code"]) == (422, "invalid_request")
    locs = [issue["loc"] for issue in body["issues"]]
    assert ["body", "email"] in locs
    assert ["body", "role"] in locs
    assert ["body", "extra"] in locs
    assert all(issue["message"] for issue in body["issues"])
    assert await store.count(User) == before


@pytest.mark.parametrize(
    "content", [b"{not json", b'{"name": "unterminated', b"[]", b"null", b'"text"']
)
async def test_a_body_that_is_not_the_expected_json_is_422(
    api: httpx.AsyncClient, world: World, content: bytes
) -> None:
    response = await api.post(
        "/enterprises",
        content=content,
        headers={**world.auth("platform"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["issues"][0]["loc"][0] == "body"


async def test_an_undecodable_body_gets_a_documented_status(
    api: httpx.AsyncClient, world: World
) -> None:
    """Bytes that are not UTF-8 get an answer the OpenAPI of the operation lists."""
    response = await api.post(
        "/enterprises",
        content=b'{"name": "\xff\xfe"}',
        headers={**world.auth("platform"), "Content-Type": "application/json"},
    )
    documented = (await api.get("/openapi.json")).json()["paths"]["/enterprises"]["post"]
    assert 400 <= response.status_code < 500
    assert str(response.status_code) in documented["responses"]


@pytest.mark.parametrize("path", ["/enterprises", "/users", "/tokens"])
async def test_page_size_is_capped_and_offsets_checked(
    api: httpx.AsyncClient, world: World, settings: Settings, path: str
) -> None:
    headers = world.auth("platform")
    default = (await api.get(path, headers=headers)).json()
    assert (default["limit"], default["offset"]) == (settings.default_page_size, 0)
    capped = await api.get(path, params={"limit": 10_000}, headers=headers)
    assert capped.status_code == 200
    assert capped.json()["limit"] == settings.max_page_size
    for params, loc in (
        ({"offset": -1}, ["query", "offset"]),
        ({"limit": 0}, ["query", "limit"]),
        ({"limit": "many"}, ["query", "limit"]),
    ):
        refused = await api.get(path, params=params, headers=headers)
        assert refused.status_code == 422
        assert refused.json()["issues"][0]["loc"] == loc


async def test_bad_tokens_are_401_with_one_message(
    api: httpx.AsyncClient, world: World, store: Store
) -> None:
    revoked = world.tokens["a_viewer"]
    own = (await api.get("/tokens", headers=world.auth("a_viewer"))).json()["items"][0]
    assert (
        await api.delete(f"/tokens/{own['id']}", headers=world.auth("a_viewer"))
    ).status_code == 204
    gone_user = await store.add_user("viewer", world.enterprises["b"])
    _, gone_secret = await store.add_token(gone_user)
    deleted = await api.delete(f"/users/{gone_user}", headers=world.auth("b_admin"))
    assert deleted.status_code == 204

    missing = await api.get("/users")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    details = set()
    for secret in ("cty_unknown", "not-even-a-token", "cty_" + "x" * 500, revoked, gone_secret):
        response = await api.get("/users", headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["code"] == "not_authenticated"
        details.add(response.json()["detail"])
    assert len(details) == 1
    basic = await api.get("/users", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401


def _operations(openapi: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


async def test_openapi_documents_every_operations_answers(api: httpx.AsyncClient) -> None:
    openapi = (await api.get("/openapi.json")).json()
    schemas = openapi["components"]["schemas"]
    assert "ErrorOut" in schemas
    problems: list[str] = []
    for path, method, operation in _operations(openapi):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        statuses = {int(status) for status in responses}
        if not any(200 <= status < 300 for status in statuses):
            problems.append(f"{where}: no success response")
        if not any(400 <= status < 500 for status in statuses):
            problems.append(f"{where}: no 4xx response")
        if "{" in path and 404 not in statuses:
            problems.append(f"{where}: takes an id but does not document 404")
        protected = operation.get("security") or openapi.get("security")
        if protected and 401 not in statuses:
            problems.append(f"{where}: needs a token but does not document 401")
        for status, response in responses.items():
            if int(status) >= 400:
                ref = response.get("content", {}).get("application/json", {}).get("schema", {})
                if ref.get("$ref") != "#/components/schemas/ErrorOut":
                    problems.append(f"{where}: {status} is not documented as ErrorOut")
            elif int(status) != 204 and "content" not in response:
                problems.append(f"{where}: {status} has no documented body")
        if not operation.get("summary"):
            problems.append(f"{where}: no summary")
    assert problems == []


async def test_identity_operations_need_a_token(api: httpx.AsyncClient) -> None:
    openapi = (await api.get("/openapi.json")).json()
    for path, method, operation in _operations(openapi):
        # By first segment: /metrics is not /me (it has its own token, see observability.md).
        if path.split("/")[1] in ("me", "enterprises", "users", "tokens"):
            assert operation.get("security"), f"{method.upper()} {path} is not protected"


def _unbounded_strings(
    schema: Any, components: dict[str, Any], where: str, seen: set[str]
) -> Iterator[str]:
    """Yield where *schema* accepts a string without a documented length limit."""
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            yield from _unbounded_strings(components[name], components, f"{where}->{name}", seen)
        return
    types = schema.get("type")
    if (types == "string" or (isinstance(types, list) and "string" in types)) and not (
        "maxLength" in schema or "enum" in schema or "const" in schema
    ):
        yield where
    untyped = not types and not any(key in schema for key in ("anyOf", "oneOf", "allOf"))
    if untyped and "maxLength" not in schema and not schema.get("description"):
        yield f"{where} (any value, no description of its limits)"  # limits must be in words
    for key in ("anyOf", "oneOf", "allOf"):
        for index, branch in enumerate(schema.get(key, [])):
            yield from _unbounded_strings(branch, components, f"{where}/{key}{index}", seen)
    for name, child in schema.get("properties", {}).items():
        yield from _unbounded_strings(child, components, f"{where}.{name}", seen)
    for key in ("items", "additionalProperties", "propertyNames"):
        if isinstance(schema.get(key), dict):
            yield from _unbounded_strings(schema[key], components, f"{where}[{key}]", seen)
    free_form = types == "object" and not {"additionalProperties", "properties"} & set(schema)
    if free_form and "propertyNames" not in schema and not schema.get("description"):
        yield f"{where} (free-form object, no description of its limits)"


async def test_every_string_the_api_accepts_has_a_documented_limit(api: httpx.AsyncClient) -> None:
    openapi = (await api.get("/openapi.json")).json()
    components = openapi["components"]["schemas"]
    found: list[str] = []
    for path, method, operation in _operations(openapi):
        where = f"{method.upper()} {path}"
        for parameter in operation.get("parameters", []):
            found += _unbounded_strings(
                parameter["schema"], components, f"{where} {parameter['name']}", set()
            )
        for media, content in operation.get("requestBody", {}).get("content", {}).items():
            schema = content.get("schema", {})
            if media != "application/json" and schema.get("type") == "string":
                # A raw body (a file): CONNECTORY_MAX_BODY_BYTES limits it (413, documented).
                assert "413" in operation["responses"], where
                continue
            found += _unbounded_strings(schema, components, f"{where} body", set())
    assert found == [], "\n".join(found)
