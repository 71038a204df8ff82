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

    Not cached: a process-wide cache would keep rotated and deleted signing keys in memory.
    """
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign_payload(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<signature>`` entry for *body*."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(
    secrets_in_use: list[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret in use."""
    signatures = " ".join(sign_payload(s, message_id, timestamp, body) for s in secrets_in_use)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
