"""Proof Key for Code Exchange (RFC 7636): a verifier kept server-side, its S256 challenge sent."""

from __future__ import annotations

import base64
import hashlib
import secrets


def new_verifier() -> str:
    """A fresh code verifier: 64 URL-safe characters (RFC 7636 4.1 allows 43 to 128)."""
    return secrets.token_urlsafe(48)


def s256_challenge(verifier: str) -> str:
    """The S256 code challenge of *verifier*: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
