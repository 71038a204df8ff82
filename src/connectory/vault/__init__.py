"""Encryption of stored secrets: AES-256-GCM with versioned keys and row binding."""

from connectory.vault.keyfile import (
    add_key,
    load_or_create_key_file,
    new_key,
    parse_keys_setting,
    write_key_file,
)
from connectory.vault.keyring import KeyRing, associated_data

__all__ = [
    "KeyRing",
    "add_key",
    "associated_data",
    "load_or_create_key_file",
    "new_key",
    "parse_keys_setting",
    "write_key_file",
]
