"""AES-256-GCM encryption of stored secrets, with versioned keys.

Each value gets a fresh random 96-bit nonce, and the row and field it belongs to are bound in
as associated data: a ciphertext copied to another row or field fails to decrypt. Ciphertexts
name the key version that made them, so keys can be rotated: new values use the newest key,
old ones stay readable until they are re-encrypted.

Wire form: ``v1.<key version>.<base64url(nonce || ciphertext+tag)>``.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from connectory.errors import ConfigurationError, DecryptionError

KEY_BYTES = 32
_NONCE_BYTES = 12
_FORMAT = "v1"


def associated_data(owner: str, owner_id: str, field: str) -> bytes:
    """The associated data binding a secret to its row and field."""
    return f"{owner}\x1f{owner_id}\x1f{field}".encode()


class KeyRing:
    """Versioned AES-256-GCM keys; the highest version encrypts, every version decrypts."""

    def __init__(self, keys: Mapping[int, bytes]) -> None:
        if not keys:
            raise ConfigurationError("the key ring is empty; at least one encryption key is needed")
        for version, key in keys.items():
            if version < 1:
                raise ConfigurationError(f"key version {version} is invalid; versions start at 1")
            if len(key) != KEY_BYTES:
                raise ConfigurationError(
                    f"encryption key {version} is {len(key)} bytes; keys must be {KEY_BYTES} "
                    "random bytes (base64-encoded in the key file or environment)"
                )
        self._ciphers = {version: AESGCM(key) for version, key in keys.items()}
        self.current_version = max(keys)

    @property
    def versions(self) -> list[int]:
        """Key versions in the ring, oldest first."""
        return sorted(self._ciphers)

    def encrypt(self, plaintext: str, aad: bytes) -> str:
        """Encrypt *plaintext* for the row and field described by *aad*."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self.current_version].encrypt(nonce, plaintext.encode(), aad)
        payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{_FORMAT}.{self.current_version}.{payload}"

    def decrypt(self, token: str, aad: bytes) -> str:
        """Decrypt *token*, which must have been made for the same *aad*.

        Raises:
            DecryptionError: tampered, moved to another row or field, unknown key version.
        """
        version, payload = self._parse(token)
        cipher = self._ciphers.get(version)
        if cipher is None:
            raise DecryptionError(
                f"a stored secret was encrypted with key {version}, which this server does not "
                "have; add that key to the key ring"
            )
        if len(payload) < _NONCE_BYTES + 16:
            raise DecryptionError("a stored secret is truncated")
        try:
            plaintext = cipher.decrypt(payload[:_NONCE_BYTES], payload[_NONCE_BYTES:], aad)
        except InvalidTag:
            raise DecryptionError(
                "a stored secret failed its integrity check: it was altered or belongs to "
                "another record"
            ) from None
        return plaintext.decode()

    def key_version_of(self, token: str) -> int:
        """The key version that encrypted *token* (to find values that need re-encrypting)."""
        return self._parse(token)[0]

    def _parse(self, token: str) -> tuple[int, bytes]:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _FORMAT or not parts[1].isdigit():
            raise DecryptionError("a stored secret is not in the expected format")
        try:
            payload = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        except (binascii.Error, ValueError):
            raise DecryptionError("a stored secret is not valid base64") from None
        return int(parts[1]), payload

    def __repr__(self) -> str:
        return f"KeyRing(versions={self.versions})"
