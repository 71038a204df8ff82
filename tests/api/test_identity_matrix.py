"""Authorisation matrix of the identity endpoints: every role x endpoint x target -> status.

Each row names an endpoint, a target and the status each of the six world users gets::

    platform, a_admin (SDK), a_plain_admin, a_viewer, b_admin (SDK), b_viewer

Targets are made afresh for every caller (so one caller's successful delete does not change
what the next one sees), directly in the database:

- ``ent_a`` / ``ent_b``: the callers' own enterprises; ``ent_empty``: an enterprise without
  users; ``ent_deleted``: a soft-deleted one; ``missing``: an id that never existed.
- ``user_a`` / ``user_b``: a viewer of enterprise A / B; ``user_platform``: another platform
  admin (a platform-level object); ``user_deleted``: a deleted user of A; ``self``: the caller.
- ``token_a`` / ``token_b`` / ``token_platform`` / ``token_self``: a token of such a user;
  ``token_revoked``: a revoked token of an A viewer; ``token_deleted``: a deleted A user's token.

Every status must be one the OpenAPI documents for the operation. After every refused write
(POST, PATCH or DELETE answered 4xx), every table is compared with its state before the
request: row counts, and the rows themselves.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from connectory.settings import Settings
from connectory.store import User
from connectory.store.models import utcnow

from .identity_support import Store, open_store, row_counts, unique
from .support import World

ACTORS = ("platform", "a_admin", "a_plain_admin", "a_viewer", "b_admin", "b_viewer")

ALL_200 = (200,) * 6
ALL_404 = (404,) * 6
# Who sees an object: of enterprise A, of enterprise B (viewers see only themselves among
# users), an enterprise itself, a platform-level object.
SEE_A = (200, 200, 200, 404, 404, 404)
SEE_B = (200, 404, 404, 404, 200, 404)
SEE_ENT_A = (200, 200, 200, 200, 404, 404)
SEE_ENT_B = (200, 404, 404, 404, 200, 200)
SEE_PLATFORM = (200, 404, 404, 404, 404, 404)
# Platform admins only: 403 where the caller sees the enterprise, else 404.
ONLY_PLATFORM_ENT_A = (200, 403, 403, 403, 404, 404)
ONLY_PLATFORM_ENT_B = (200, 404, 404, 404, 403, 403)
# Done to an object of A / B / the platform by whoever manages it.
DELETED_A = (204, 204, 204, 404, 404, 404)
DELETED_B = (204, 404, 404, 404, 204, 404)
DELETED_PLATFORM = (204, 404, 404, 404, 404, 404)
CREATED_A = (201, 201, 201, 404, 404, 404)
CREATED_B = (201, 404, 404, 404, 201, 404)
CREATED_PLATFORM = (201, 404, 404, 404, 404, 404)

RENAME = {"name": "R {unique}"}
NEW_USER = {"email": "{unique}@example.test", "role": "viewer"}
NEW_USER_IN = {**NEW_USER, "enterprise_id": "{target}"}
NEW_SDK_ADMIN_IN = {**NEW_USER_IN, "role": "enterprise_admin", "sdk_access": True}
TO_ADMIN = {"role": "enterprise_admin"}  # no change for admins, a promotion for the others
TO_PLATFORM = {"role": "platform_admin"}
GRANT_SDK = {"role": "enterprise_admin", "sdk_access": True}
TOKEN = {"name": "t"}

# (method, path, body, target, statuses per actor). "{target}" in the path, the query or the
# body is replaced by the target's id, "{unique}" by a fresh text.
MATRIX: list[tuple[str, str, dict[str, Any] | None, str | None, tuple[int, ...]]] = [
    ("GET", "/me", None, None, ALL_200),
    # enterprises
    ("POST", "/enterprises", {"name": "E {unique}"}, None, (201, 403, 403, 403, 403, 403)),
    ("GET", "/enterprises", None, None, ALL_200),
    ("GET", "/enterprises/{target}", None, "ent_a", SEE_ENT_A),
    ("GET", "/enterprises/{target}", None, "ent_b", SEE_ENT_B),
    ("GET", "/enterprises/{target}", None, "ent_empty", SEE_PLATFORM),
    ("GET", "/enterprises/{target}", None, "ent_deleted", ALL_404),
    ("GET", "/enterprises/{target}", None, "missing", ALL_404),
    ("PATCH", "/enterprises/{target}", RENAME, "ent_a", ONLY_PLATFORM_ENT_A),
    ("PATCH", "/enterprises/{target}", RENAME, "ent_b", ONLY_PLATFORM_ENT_B),
    ("PATCH", "/enterprises/{target}", {}, "ent_b", ONLY_PLATFORM_ENT_B),
    ("PATCH", "/enterprises/{target}", RENAME, "ent_empty", SEE_PLATFORM),
    ("PATCH", "/enterprises/{target}", RENAME, "ent_deleted", ALL_404),
    ("DELETE", "/enterprises/{target}", None, "ent_a", (409, 403, 403, 403, 404, 404)),
    ("DELETE", "/enterprises/{target}", None, "ent_b", (409, 404, 404, 404, 403, 403)),
    ("DELETE", "/enterprises/{target}", None, "ent_empty", DELETED_PLATFORM),
    ("DELETE", "/enterprises/{target}", None, "ent_deleted", ALL_404),
    ("DELETE", "/enterprises/{target}", None, "missing", ALL_404),
    # users
    ("GET", "/users", None, None, ALL_200),
    ("GET", "/users?enterprise_id={target}", None, "ent_a", SEE_ENT_A),
    ("GET", "/users?enterprise_id={target}", None, "ent_b", SEE_ENT_B),
    ("GET", "/users?enterprise_id={target}", None, "ent_deleted", ALL_404),
    ("GET", "/users/{target}", None, "user_a", SEE_A),
    ("GET", "/users/{target}", None, "user_b", SEE_B),
    ("GET", "/users/{target}", None, "user_platform", SEE_PLATFORM),
    ("GET", "/users/{target}", None, "user_deleted", ALL_404),
    ("GET", "/users/{target}", None, "self", ALL_200),
    ("GET", "/users/{target}", None, "missing", ALL_404),
    ("POST", "/users", NEW_USER_IN, "ent_a", (201, 201, 201, 403, 404, 404)),
    ("POST", "/users", NEW_USER_IN, "ent_b", (201, 404, 404, 404, 201, 403)),
    ("POST", "/users", NEW_USER_IN, "ent_deleted", ALL_404),
    ("POST", "/users", NEW_USER_IN, "missing", ALL_404),
    ("POST", "/users", NEW_USER, None, (422, 201, 201, 403, 201, 403)),
    ("POST", "/users", {**NEW_USER, "role": "platform_admin"}, None, (201, *(403,) * 5)),
    ("POST", "/users", NEW_SDK_ADMIN_IN, "ent_a", (201, 201, 403, 403, 404, 404)),
    ("PATCH", "/users/{target}", RENAME, "user_a", SEE_A),
    ("PATCH", "/users/{target}", RENAME, "user_b", SEE_B),
    ("PATCH", "/users/{target}", RENAME, "user_platform", SEE_PLATFORM),
    ("PATCH", "/users/{target}", RENAME, "user_deleted", ALL_404),
    ("PATCH", "/users/{target}", RENAME, "self", ALL_200),
    ("PATCH", "/users/{target}", TO_ADMIN, "self", (403, 200, 200, 403, 200, 403)),
    ("PATCH", "/users/{target}", GRANT_SDK, "user_a", (200, 200, 403, 404, 404, 404)),
    ("PATCH", "/users/{target}", TO_PLATFORM, "user_a", (422, 403, 403, 404, 404, 404)),
    ("DELETE", "/users/{target}", None, "user_a", DELETED_A),
    ("DELETE", "/users/{target}", None, "user_b", DELETED_B),
    ("DELETE", "/users/{target}", None, "user_platform", DELETED_PLATFORM),
    ("DELETE", "/users/{target}", None, "user_deleted", ALL_404),
    ("DELETE", "/users/{target}", None, "self", (403,) * 6),
    ("DELETE", "/users/{target}", None, "missing", ALL_404),
    # tokens
    ("POST", "/users/{target}/tokens", TOKEN, "user_a", CREATED_A),
    ("POST", "/users/{target}/tokens", TOKEN, "user_b", CREATED_B),
    ("POST", "/users/{target}/tokens", TOKEN, "user_platform", CREATED_PLATFORM),
    ("POST", "/users/{target}/tokens", TOKEN, "user_deleted", ALL_404),
    ("POST", "/users/{target}/tokens", TOKEN, "self", (201,) * 6),
    ("POST", "/users/{target}/tokens", TOKEN, "missing", ALL_404),
    ("GET", "/tokens", None, None, ALL_200),
    ("GET", "/tokens?user_id={target}", None, "user_a", SEE_A),
    ("GET", "/tokens?user_id={target}", None, "user_b", SEE_B),
    ("GET", "/tokens?user_id={target}", None, "user_platform", SEE_PLATFORM),
    ("GET", "/tokens?user_id={target}", None, "user_deleted", ALL_404),
    ("GET", "/tokens?user_id={target}", None, "self", ALL_200),
    ("GET", "/tokens/{target}", None, "token_a", SEE_A),
    ("GET", "/tokens/{target}", None, "token_b", SEE_B),
    ("GET", "/tokens/{target}", None, "token_platform", SEE_PLATFORM),
    ("GET", "/tokens/{target}", None, "token_revoked", SEE_A),
    ("GET", "/tokens/{target}", None, "token_deleted", ALL_404),
    ("GET", "/tokens/{target}", None, "token_self", ALL_200),
    ("GET", "/tokens/{target}", None, "missing", ALL_404),
    ("DELETE", "/tokens/{target}", None, "token_a", DELETED_A),
    ("DELETE", "/tokens/{target}", None, "token_b", DELETED_B),
    ("DELETE", "/tokens/{target}", None, "token_platform", DELETED_PLATFORM),
    ("DELETE", "/tokens/{target}", None, "token_revoked", DELETED_A),  # idempotent
    ("DELETE", "/tokens/{target}", None, "token_deleted", ALL_404),
    ("DELETE", "/tokens/{target}", None, "token_self", (204,) * 6),
    ("DELETE", "/tokens/{target}", None, "missing", ALL_404),
]


Row = tuple[str, str, dict[str, Any] | None, str | None, tuple[int, ...]]


def _endpoint(row: Row) -> str:
    return f"{row[0]} {row[1].split('?')[0]}"


def _row_id(row: Row) -> str:
    method, path, body, target, _ = row
    query = "?" + path.split("?")[1].split("=")[0] if "?" in path else ""
    body_keys = ",".join(sorted(body)) if body else ""
    return f"{method} {path.split('?')[0]}{query} [{body_keys}] -> {target or '-'}"


# One test per endpoint, each running all of its rows: a fresh world per row would spend most
# of the time creating databases. Every mismatch of every row is reported together.
ENDPOINTS: dict[str, list[Row]] = {}
for _row in MATRIX:
    ENDPOINTS.setdefault(_endpoint(_row), []).append(_row)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    async with open_store(settings.database_url) as opened:
        yield opened


async def make_target(store: Store, world: World, actor: str, target: str) -> str:
    """Create the object *target* names, fresh for *actor*, and return its id."""
    a, b = world.enterprises["a"], world.enterprises["b"]
    match target:
        case "ent_a" | "ent_b":
            return world.enterprises[target[-1]]
        case "ent_empty":
            return await store.add_enterprise()
        case "ent_deleted":
            return await store.add_enterprise(deleted=True)
        case "missing":
            return unique("0" * 22)
        case "self":
            return world.users[actor]
        case "user_a":
            return await store.add_user("viewer", a)
        case "user_b":
            return await store.add_user("viewer", b)
        case "user_platform":
            return await store.add_user("platform_admin", None)
        case "user_deleted":
            return await store.add_user("viewer", a, deleted=True)
        case "token_self":
            return (await store.add_token(world.users[actor]))[0]
        case "token_revoked":
            return (await store.add_token(await store.add_user("viewer", a), revoked=True))[0]
        case "token_deleted":
            owner = await store.add_user("viewer", a)
            token_id = (await store.add_token(owner))[0]
            await _soft_delete_user(store, owner)
            return token_id
        case _ if target.startswith("token_"):
            owner_target = "user_" + target.removeprefix("token_")
            owner = await make_target(store, world, actor, owner_target)
            return (await store.add_token(owner))[0]
    raise AssertionError(f"unknown target {target}")


async def _soft_delete_user(store: Store, user_id: str) -> None:
    async with store.sessions() as session:
        user = await session.get_one(User, user_id)
        user.deleted_at = utcnow()
        await session.commit()


def _fill(value: Any, target_id: str) -> Any:
    if isinstance(value, str):
        return value.replace("{target}", target_id).replace("{unique}", unique())
    if isinstance(value, dict):
        return {key: _fill(item, target_id) for key, item in value.items()}
    return value


@pytest.mark.parametrize("rows", [pytest.param(rows, id=name) for name, rows in ENDPOINTS.items()])
async def test_authorisation_matrix(
    api: httpx.AsyncClient, world: World, store: Store, rows: list[Row]
) -> None:
    got: dict[str, dict[str, int]] = {}
    expected: dict[str, dict[str, int]] = {}
    changed_on_refusal: dict[str, str] = {}
    undocumented: set[str] = set()
    documented = _documented_statuses((await api.get("/openapi.json")).json())
    for row in rows:
        method, path, body, target, statuses = row
        name = _row_id(row)
        expected[name] = dict(zip(ACTORS, statuses, strict=True))
        got[name] = {}
        for actor in ACTORS:
            target_id = await make_target(store, world, actor, target) if target else ""
            before = await store.snapshot() if method != "GET" else None
            response = await api.request(
                method,
                _fill(path, target_id),
                json=_fill(body, target_id) if body is not None else None,
                headers=world.auth(actor),
            )
            got[name][actor] = response.status_code
            if response.status_code not in documented(method, response.url.path):
                undocumented.add(f"{name}: {response.status_code}")
            if response.status_code < 400:
                continue
            assert set(response.json()) >= {"status", "code", "detail"}, response.text
            if before is not None:
                after = await store.snapshot()
                if row_counts(after) != row_counts(before):
                    counts = f"{row_counts(before)} -> {row_counts(after)}"
                    changed_on_refusal[f"{name} as {actor}"] = f"row counts {counts}"
                elif after != before:
                    changed_on_refusal[f"{name} as {actor}"] = "rows changed"
    assert got == expected
    assert changed_on_refusal == {}
    assert undocumented == set()


def _documented_statuses(openapi: dict[str, Any]) -> Callable[[str, str], set[int]]:
    """A lookup: the statuses the OpenAPI documents for a method and a concrete path."""
    operations = [
        (re.compile(re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), method.upper(), operation)
        for path, item in openapi["paths"].items()
        for method, operation in item.items()
    ]

    def statuses(method: str, path: str) -> set[int]:
        for pattern, documented_method, operation in operations:
            if documented_method == method and pattern.match(path):
                return {int(status) for status in operation["responses"]}
        raise AssertionError(f"{method} {path} is not in the OpenAPI")

    return statuses


async def test_foreign_and_missing_ids_get_the_same_answer(
    api: httpx.AsyncClient, world: World, store: Store
) -> None:
    """A 404 for another enterprise's object reads exactly like one for an id that never was."""
    foreign = {
        "/enterprises/{}": world.enterprises["b"],
        "/users/{}": world.users["b_viewer"],
        "/tokens/{}": (await store.add_token(world.users["b_viewer"]))[0],
    }
    for template, foreign_id in foreign.items():
        missing_id = unique("f" * 22)
        answers = []
        for object_id in (foreign_id, missing_id):
            response = await api.get(template.format(object_id), headers=world.auth("a_admin"))
            assert response.status_code == 404
            answers.append(re.sub(re.escape(object_id), "<id>", response.text))
        assert answers[0] == answers[1]
