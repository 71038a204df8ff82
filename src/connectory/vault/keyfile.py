"""Where encryption keys come from: the environment, or a key file made on first start.

``CONNECTORY_ENCRYPTION_KEYS="1:<base64>,2:<base64>"`` supplies keys directly (several
servers share them that way). Otherwise the key file (``<data_dir>/keys.json``) is used, and
created with one fresh key and owner-only permissions when it does not exist. A missing, short,
malformed or world-readable key refuses to start: there is no plaintext mode.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import stat
from pathlib import Path

from connectory.errors import ConfigurationError
from connectory.vault.keyring import KEY_BYTES, KeyRing


def new_key() -> bytes:
    """Return a fresh random key."""
    return os.urandom(KEY_BYTES)


def encode_key(key: bytes) -> str:
    """Base64 form of a key, as written in key files and the environment."""
    return base64.b64encode(key).decode()


def parse_keys_setting(value: str) -> KeyRing:
    """Parse ``"1:<base64>,2:<base64>"``.

    Raises:
        ConfigurationError: malformed entries or keys of the wrong length.
    """
    keys: dict[int, bytes] = {}
    for entry in value.split(","):
        version, sep, encoded = entry.strip().partition(":")
        if not sep or not version.strip().isdigit():
            raise ConfigurationError(
                "CONNECTORY_ENCRYPTION_KEYS must be version:base64key pairs separated by "
                "commas, e.g. 1:<44 base64 characters>"
            )
        keys[int(version)] = _decode(encoded.strip(), f"key {version.strip()}")
    return KeyRing(keys)


def load_or_create_key_file(path: Path) -> KeyRing:
    """Load the key ring from *path*, creating the file with one new key if it is missing.

    Raises:
        ConfigurationError: unreadable, malformed, or readable by other users.
    """
    if not path.exists():
        write_key_file(path, {1: new_key()})
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"the key file {path} can be read by other users; run: chmod 600 {path}"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["keys"]
        keys = {
            int(version): _decode(str(encoded), f"key {version}")
            for version, encoded in entries.items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        if isinstance(error, ConfigurationError):
            raise
        raise ConfigurationError(
            f'the key file {path} is not a valid key file ({{"keys": {{"1": "<base64>"}}}}); '
            "restore it from your backup: without it stored secrets cannot be read"
        ) from None
    return KeyRing(keys)


def write_key_file(path: Path, keys: dict[int, bytes]) -> None:
    """Write *keys* to *path* atomically, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"keys": {str(v): encode_key(k) for v, k in sorted(keys.items())}})
    temporary = path.with_suffix(path.suffix + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(payload + "\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def add_key(path: Path) -> int:
    """Add a new newest key to the key file; return its version."""
    ring_keys = _read_raw(path)
    version = max(ring_keys, default=0) + 1
    ring_keys[version] = new_key()
    write_key_file(path, ring_keys)
    return version


def _read_raw(path: Path) -> dict[int, bytes]:
    load_or_create_key_file(path)  # validates
    data = json.loads(path.read_text(encoding="utf-8"))
    return {int(v): _decode(str(k), f"key {v}") for v, k in data["keys"].items()}


def _decode(encoded: str, what: str) -> bytes:
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"encryption {what} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise ConfigurationError(
            f"encryption {what} is {len(key)} bytes; it must be {KEY_BYTES} random bytes"
        )
    return key
