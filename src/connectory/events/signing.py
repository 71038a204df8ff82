"""Outgoing webhooks signed per the Standard Webhooks specification.

Each delivery carries ``webhook-id`` (the event id, the same on every retry), ``webhook-timestamp``
(Unix seconds) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``,
one per active secret separated by spaces (during a rotation, the old and the new).
Secrets look like ``whsec_<base64 of 24 random bytes>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def generate_endpoint_secret() -> str:
    """A new endpoint secret, ``whsec_...``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (or of a bare base64 one).

    Not cached process-wide: such a cache would keep rotated and deleted signing keys in
    memory. A sender signing many messages with the same secrets decodes them once for its
    batch (:func:`signing_keys`) and signs with the keys (:func:`keyed_signature_header`).
    """
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signing_keys(secrets_in_use: list[str]) -> list[bytes]:
    """The HMAC keys of *secrets_in_use*, in order."""
    return [secret_key(s) for s in secrets_in_use]


def _sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign_payload(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<signature>`` entry for *body*."""
    return _sign(secret_key(secret), message_id, timestamp, body)


def keyed_signature_header(
    keys: list[bytes], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every key (see :func:`signing_keys`)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(_sign(k, message_id, timestamp, body) for k in keys),
    }


def signature_header(
    secrets_in_use: list[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret in use."""
    return keyed_signature_header(signing_keys(secrets_in_use), message_id, timestamp, body)
