"""The local credentials file of an OAuth2 connection (cli/credentials_file.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml

from connectory.auth.grants import TokenSet
from connectory.cli.credentials_file import FileTokenKeeper, split_grant, store_grant
from connectory.spec import ConnectorSpec

SPEC = ConnectorSpec.model_validate(
    {
        "name": "X",
        "base_url": "https://api.example.com",
        "auth": {
            "auth_type": "oauth2",
            "grant_type": "authorization_code",
            "authorization_url": "https://a.example.com/authorize",
            "token_url": "https://a.example.com/token",
            "credential_schema": {
                "client_id": {"type": "string", "required": True},
                "client_secret": {"type": "password", "required": True},
            },
        },
        "operations": [{"name": "me", "path": "/me"}],
    }
)


def test_the_grant_is_split_from_what_a_person_typed() -> None:
    values = {
        "client_id": "c",
        "client_secret": "s",
        "access_token": "a",
        "refresh_token": "r",
        "expires_at": 1700000000,
        "scope": "read",
    }
    credentials, grant = split_grant(SPEC, values)
    assert credentials == {"client_id": "c", "client_secret": "s"}
    assert grant == TokenSet("a", "r", 1700000000.0, None, "read")
    assert split_grant(SPEC, {"client_id": "c"}) == ({"client_id": "c"}, None)


async def test_refreshed_grants_are_written_back_atomically_and_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "credentials.yaml"
    path.write_text("client_id: c\nclient_secret: s\nrefresh_token: old\n")
    os.chmod(path, 0o644)
    store_grant(path, TokenSet("a1", "r1", 1700000000.4, None, "read"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert yaml.safe_load(path.read_text()) == {
        "client_id": "c",
        "client_secret": "s",
        "access_token": "a1",
        "refresh_token": "r1",
        "expires_at": 1700000000,
        "scope": "read",
    }
    keeper = FileTokenKeeper(path, SPEC)
    async with keeper.exclusive() as stored:
        assert stored == TokenSet("a1", "r1", 1700000000.0, None, "read")
        await keeper.save(TokenSet("a2", "r2"))
    assert yaml.safe_load(path.read_text())["refresh_token"] == "r2"
    assert "r1" not in path.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "credentials.yaml",
        "credentials.yaml.lock",
    ]


def test_json_files_stay_json(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    store_grant(path, TokenSet("a", "r"))
    assert path.read_text().startswith("{")
