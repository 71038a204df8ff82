"""AES-GCM key ring: round trips, row binding, tampering, rotation, key files."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from connectory.errors import ConfigurationError, DecryptionError
from connectory.vault import (
    KeyRing,
    add_key,
    associated_data,
    load_or_create_key_file,
    new_key,
    parse_keys_setting,
)

AAD = associated_data("connection", "c1", "api_key")


def ring(*versions: int) -> KeyRing:
    return KeyRing({version: bytes([version]) * 32 for version in versions})


def test_round_trip_and_fresh_nonce() -> None:
    keys = ring(1)
    first = keys.encrypt("s3cret-value", AAD)
    second = keys.encrypt("s3cret-value", AAD)
    assert first != second  # a random nonce per value
    assert "s3cret" not in first
    assert keys.decrypt(first, AAD) == "s3cret-value"


@pytest.mark.parametrize(
    "other",
    [
        associated_data("connection", "c2", "api_key"),  # copied to another row
        associated_data("connection", "c1", "password"),  # copied to another field
        associated_data("connector", "c1", "api_key"),  # another kind of owner
    ],
)
def test_ciphertext_is_bound_to_its_row_and_field(other: bytes) -> None:
    keys = ring(1)
    token = keys.encrypt("value", AAD)
    with pytest.raises(DecryptionError, match="another record"):
        keys.decrypt(token, other)


def test_tampering_is_detected_without_revealing_the_value() -> None:
    keys = ring(1)
    token = keys.encrypt("the-plaintext", AAD)
    prefix, version, payload = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[-1] ^= 1
    tampered = f"{prefix}.{version}." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(DecryptionError) as caught:
        keys.decrypt(tampered, AAD)
    assert "the-plaintext" not in str(caught.value)


@pytest.mark.parametrize("token", ["", "garbage", "v1.x.abc", "v2.1.abc", "v1.1.!!!", "v1.1.YQ"])
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(DecryptionError):
        ring(1).decrypt(token, AAD)


def test_rotation_reads_old_and_writes_new() -> None:
    old = ring(1)
    token = old.encrypt("value", AAD)
    rotated = ring(1, 2)
    assert rotated.current_version == 2
    assert rotated.key_version_of(token) == 1
    assert rotated.decrypt(token, AAD) == "value"
    assert rotated.key_version_of(rotated.encrypt("value", AAD)) == 2
    with pytest.raises(DecryptionError, match="key 2"):
        old.decrypt(rotated.encrypt("value", AAD), AAD)


@pytest.mark.parametrize("keys", [{}, {1: b"short"}, {0: b"x" * 32}])
def test_bad_key_rings_refuse(keys: dict[int, bytes]) -> None:
    with pytest.raises(ConfigurationError):
        KeyRing(keys)


def test_keys_setting() -> None:
    key = base64.b64encode(new_key()).decode()
    assert parse_keys_setting(f"1:{key}, 3:{key}").versions == [1, 3]
    for bad in ["", "abc", f"x:{key}", "1:not-base64!", "1:" + base64.b64encode(b"short").decode()]:
        with pytest.raises(ConfigurationError):
            parse_keys_setting(bad)


def test_key_file_is_created_owner_only_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keys.json"
    first = load_or_create_key_file(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    token = first.encrypt("v", AAD)
    assert load_or_create_key_file(path).decrypt(token, AAD) == "v"
    assert add_key(path) == 2
    again = load_or_create_key_file(path)
    assert again.versions == [1, 2]
    assert again.decrypt(token, AAD) == "v"


def test_world_readable_key_file_refuses(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    load_or_create_key_file(path)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        load_or_create_key_file(path)


@pytest.mark.parametrize(
    "content",
    ["not json", "{}", '{"keys": {"1": "short"}}', '{"keys": []}', '{"keys": {"a": "x"}}'],
)
def test_malformed_key_file_refuses(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(content)
    os.chmod(path, 0o600)
    with pytest.raises(ConfigurationError):
        load_or_create_key_file(path)


def test_key_file_content_is_base64_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    load_or_create_key_file(path)
    data = json.loads(path.read_text())
    assert len(base64.b64decode(data["keys"]["1"])) == 32
