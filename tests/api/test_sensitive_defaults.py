"""Sensitive defaults are secrets: never returned, stored sealed, used at run time.

A credential field or connector parameter marked sensitive may have a ``default:``. Every
response shows ``********`` there (a default is set, its value is not shown), the version row
stores the placeholder, and the value is encrypted in ``secret_values`` bound to the version
and the field. Connections and draft runs use the value.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from connectory.settings import Settings
from connectory.spec.loader import read_connector_data
from connectory.store import create_engine, create_sessionmaker
from connectory.testing import TestApiCredentials, create_test_api, serve

from .connector_support import publish, save_draft
from .support import World

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "testapi" / "connector.yaml"
#: The key the upstream accepts, only ever given as a sensitive default.
KEY = f"sealed-key-{uuid.uuid4().hex}"
#: A short sensitive default (a PIN), sent in a header the connector templates.
PIN = "~5!"
PLACEHOLDER = "********"


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve(create_test_api(credentials=TestApiCredentials(api_key=KEY))) as url:
        yield url


def document_for(upstream: str, **overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = read_connector_data(EXAMPLE)
    document.update(base_url=upstream, slug="sealed", test_operation="list_protected_items")
    schema = document["auth"]["credential_schema"]
    schema["api_key"]["default"] = KEY
    schema["api_key"]["help"] = "The key."
    document["parameters"]["pin"] = {"type": "password", "default": PIN}
    document["headers"]["X-Pin"] = "{{ connector_parameters.pin }}"
    document.update(overrides)
    return document


def leaks(text_: str) -> list[str]:
    return [value for value in (KEY, PIN) if value in text_]


async def stored(database_url: str) -> tuple[str, list[tuple[str, str, str]]]:
    """The version documents as text, and (owner_type, owner_id, field) of sealed values."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            documents = await session.execute(text("SELECT document FROM connector_versions"))
            secrets = await session.execute(
                text(
                    "SELECT owner_type, owner_id, field FROM secret_values "
                    "WHERE owner_type = 'connector_version' ORDER BY owner_id, field"
                )
            )
            return (
                "\n".join(str(row[0]) for row in documents.all()),
                [tuple(row) for row in secrets.all()],  # type: ignore[misc]
            )
    finally:
        await engine.dispose()


async def create_published(api: httpx.AsyncClient, world: World, upstream: str) -> str:
    created = await api.post(
        "/connectors", json=document_for(upstream), headers=world.auth("platform")
    )
    assert created.status_code == 201, created.text
    assert leaks(created.text) == []
    connector_id: str = created.json()["id"]
    await publish(api, world, "platform", connector_id)
    return connector_id


async def test_sensitive_defaults_are_shown_as_set_never_as_values(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: str
) -> None:
    connector_id = await create_published(api, world, upstream)
    seen = []
    for user in ("b_viewer", "a_viewer", "platform"):
        for path in ("", "/versions/1.0.0", "/versions/latest", "/export"):
            response = await api.get(f"/connectors/{connector_id}{path}", headers=world.auth(user))
            assert response.status_code == 200, (path, response.text)
            assert leaks(response.text) == [], (user, path)
            seen.append(response)
    latest = seen[0].json()["latest"]["document"]
    assert latest["auth"]["credential_schema"]["api_key"]["default"] == PLACEHOLDER
    assert latest["parameters"]["pin"]["default"] == PLACEHOLDER
    assert latest["parameters"]["tenant"]["default"] == "acme"  # not sensitive: shown
    validated = await api.post(
        "/connectors/validate", json=document_for(upstream), headers=world.auth("platform")
    )
    assert validated.json()["ok"] and leaks(validated.text) == []

    documents, sealed = await stored(settings.database_url)
    assert leaks(documents) == []
    version_id = seen[0].json()["latest"]["id"]
    assert sealed == [
        ("connector_version", version_id, "credential:api_key"),
        ("connector_version", version_id, "parameter:pin"),
    ]


async def test_connections_and_draft_runs_use_the_sealed_values(
    api: httpx.AsyncClient, world: World, upstream: str
) -> None:
    connector_id = await create_published(api, world, upstream)
    created = await api.post(
        "/connections",
        json={"connector_id": connector_id, "name": "No key given", "credentials": {}},
        headers=world.auth("a_admin"),
    )
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    run = await api.post(
        f"/connections/{cid}/operations/list_protected_items", headers=world.auth("a_admin")
    )
    assert run.status_code == 200, run.text
    assert run.json()["status_code"] == 200  # the upstream accepted the sealed key
    echo = await api.post(
        f"/connections/{cid}/operations/echo_headers",
        json={"params": {"X-Request-Id": "r1"}},
        headers=world.auth("a_admin"),
    )
    assert echo.status_code == 200, echo.text
    assert echo.json()["body"]["headers"]["x-pin"] == "[REDACTED]"
    assert leaks(echo.text) == []

    draft = await save_draft(
        api, world, "platform", connector_id, {**document_for(upstream), "description": "v2"}
    )
    assert draft.status_code == 200, draft.text
    tried = await api.post(
        f"/connectors/{connector_id}/draft/run",
        json={"operation": "list_protected_items", "credentials": {}},
        headers=world.auth("platform"),
    )
    assert tried.status_code == 200, tried.text
    assert tried.json()["status_code"] == 200
    assert leaks(tried.text) == []


async def test_the_placeholder_keeps_the_value_and_a_new_value_is_a_change(
    api: httpx.AsyncClient, world: World, upstream: str
) -> None:
    connector_id = await create_published(api, world, upstream)
    version = (await api.get(f"/connectors/{connector_id}", headers=world.auth("platform"))).json()
    shown = copy.deepcopy(version["latest"]["document"])

    # Saving what the API showed keeps the values: nothing changed.
    assert (await save_draft(api, world, "platform", connector_id, shown)).status_code == 200
    preview = await api.get(
        f"/connectors/{connector_id}/publish-preview", headers=world.auth("platform")
    )
    changes = next(c for c in preview.json()["checks"] if c["name"] == "changes")
    assert changes["ok"] is False
    tried = await api.post(
        f"/connectors/{connector_id}/draft/run",
        json={"operation": "list_protected_items"},
        headers=world.auth("platform"),
    )
    assert tried.json()["status_code"] == 200

    # A new value is a change: the diff names the field, never the values.
    shown["auth"]["credential_schema"]["api_key"]["default"] = "another-key-value"
    assert (await save_draft(api, world, "platform", connector_id, shown)).status_code == 200
    preview = await api.get(
        f"/connectors/{connector_id}/publish-preview", headers=world.auth("platform")
    )
    changes = next(c for c in preview.json()["checks"] if c["name"] == "changes")
    assert changes["ok"] is True
    diff = await api.get(f"/connectors/{connector_id}/diff", headers=world.auth("platform"))
    assert diff.json()["changed"] is True
    assert diff.json()["changes"] == [
        {
            "path": "auth.credential_schema.api_key.default",
            "kind": "changed",
            "old": PLACEHOLDER,
            "new": PLACEHOLDER,
        }
    ]
    assert "another-key-value" not in diff.text + preview.text
    tried = await api.post(
        f"/connectors/{connector_id}/draft/run",
        json={"operation": "list_protected_items"},
        headers=world.auth("platform"),
    )
    assert tried.json()["status_code"] == 401  # the new default is the one used
    published = await publish(api, world, "platform", connector_id)
    assert published["version"]["version"] == "1.0.1"

    # The published 1.0.0 kept its own value: a connection on it still works.
    created = await api.post(
        "/connections",
        json={"connector_id": connector_id, "version": "1.0.0", "name": "old", "credentials": {}},
        headers=world.auth("a_admin"),
    )
    cid = created.json()["id"]
    run = await api.post(
        f"/connections/{cid}/operations/list_protected_items", headers=world.auth("a_admin")
    )
    assert run.json()["status_code"] == 200


async def test_a_placeholder_with_nothing_to_keep_is_refused(
    api: httpx.AsyncClient, world: World, upstream: str
) -> None:
    document = document_for(upstream)
    document["parameters"]["pin"]["default"] = PLACEHOLDER
    refused = await api.post("/connectors", json=document, headers=world.auth("platform"))
    assert refused.status_code == 422, refused.text
    problem = refused.json()["problems"][0]
    assert problem["path"] == "parameters.pin.default"
    assert "no value is stored" in problem["message"]

    connector_id = await create_published(api, world, upstream)
    shown = (await api.get(f"/connectors/{connector_id}", headers=world.auth("platform"))).json()
    unsealed = copy.deepcopy(shown["latest"]["document"])
    unsealed["parameters"]["pin"] = {"type": "string", "default": PLACEHOLDER}
    refused = await save_draft(api, world, "platform", connector_id, unsealed)
    assert refused.status_code == 422, refused.text
    assert "no longer sensitive" in refused.json()["problems"][0]["message"]


async def test_an_import_with_a_sensitive_default_seals_it(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: str
) -> None:
    connector_id = await create_published(api, world, upstream)
    export = await api.get(f"/connectors/{connector_id}/export", headers=world.auth("platform"))
    data = export.json()
    assert "default" not in data["document"]["parameters"]["pin"]  # exports drop them
    data["document"]["parameters"]["pin"]["default"] = PIN
    data["document"]["auth"]["credential_schema"]["api_key"]["default"] = KEY
    imported = await api.post("/connectors/import", json=data, headers=world.auth("b_admin"))
    assert imported.status_code == 201, imported.text
    assert leaks(imported.text) == []
    new_id = imported.json()["connector_id"]
    draft = await api.get(f"/connectors/{new_id}/draft", headers=world.auth("b_admin"))
    assert draft.json()["document"]["parameters"]["pin"]["default"] == PLACEHOLDER
    documents, sealed = await stored(settings.database_url)
    assert leaks(documents) == []
    assert ("connector_version", draft.json()["id"], "parameter:pin") in sealed
    tried = await api.post(
        f"/connectors/{new_id}/draft/run",
        json={"operation": "list_protected_items"},
        headers=world.auth("b_admin"),
    )
    assert tried.json()["status_code"] == 200

    # A placeholder in a file imported as the next draft keeps the latest version's value.
    data["document"]["parameters"]["pin"]["default"] = PLACEHOLDER
    again = await api.post(
        "/connectors/import",
        params={"as_new_version": "true"},
        json=data,
        headers=world.auth("platform"),
    )
    assert again.status_code == 201, again.text
    next_draft = again.json()["draft"]["id"]
    _, sealed = await stored(settings.database_url)
    assert ("connector_version", next_draft, "parameter:pin") in sealed


async def test_discarding_a_draft_destroys_its_sealed_values(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: str
) -> None:
    connector_id = await create_published(api, world, upstream)
    changed = document_for(upstream, description="draft")
    assert (await save_draft(api, world, "platform", connector_id, changed)).status_code == 200
    _, before = await stored(settings.database_url)
    assert len(before) == 4  # the version's two, the draft's two
    discarded = await api.delete(
        f"/connectors/{connector_id}/draft", headers=world.auth("platform")
    )
    assert discarded.status_code == 204
    _, after = await stored(settings.database_url)
    assert len(after) == 2


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_migration_0004_seals_what_earlier_versions_stored_in_clear(
    kind: str, tmp_path: Path
) -> None:
    from alembic import command

    from connectory.errors import DecryptionError
    from connectory.services.secret_store import SecretBox
    from connectory.services.sensitive_defaults import read_sensitive_defaults
    from connectory.store import migrate
    from connectory.store.db import alembic_config
    from connectory.vault import KeyRing

    from .conftest import _async_url, _create_postgres_database, _drop_postgres_database

    database = None
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    else:
        database = await _create_postgres_database()
        url = _async_url(database)
    engine = create_engine(url)
    try:

        def to_0003(connection: Any) -> None:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "0003")

        async with engine.begin() as connection:
            await connection.run_sync(to_0003)
            document = document_for("https://api.example.com")
            await connection.execute(
                text(
                    "INSERT INTO connectors (id, slug, scope, owner_key, name, type, created_at, "
                    "updated_at) VALUES ('c1', 'sealed', 'catalogue', 'catalogue', 'S', "
                    "'General', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO connector_versions (id, connector_id, version, major, minor, "
                    "patch, is_draft, document, files, changelog, created_at, updated_at) VALUES "
                    "('v1', 'c1', '1.0.0', 1, 0, 0, false, :document, '{}', '', "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"document": json.dumps(document)},
            )
        # Without the keys the values cannot be sealed: the upgrade refuses, changing nothing.
        with pytest.raises(RuntimeError, match="needs the encryption keys"):
            await migrate(engine)
        ring = KeyRing({1: b"k" * 32})
        await migrate(engine, ring)
        documents, sealed = await stored(url)
        assert leaks(documents) == []
        assert PLACEHOLDER in documents
        assert [row[2] for row in sealed] == ["credential:api_key", "parameter:pin"]
        async with create_sessionmaker(engine)() as session:
            values = await read_sensitive_defaults(session, SecretBox(lambda: ring), "v1")
            assert values == {"credential:api_key": KEY, "parameter:pin": PIN}
            other = SecretBox(lambda: KeyRing({1: b"x" * 32}))
            with pytest.raises(DecryptionError):
                await read_sensitive_defaults(session, other, "v1")
        await migrate(engine, ring)  # at head: nothing more to do
    finally:
        await engine.dispose()
        if database is not None:
            await _drop_postgres_database(database)
