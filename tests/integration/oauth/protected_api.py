"""A tiny protected API for the OAuth2 tests: it serves a request only if the token is valid.

Validity is decided by the authorization server, never by this module's guess:

* :class:`IntrospectionValidator` asks oidc-provider's introspection endpoint (RFC 7662),
  authenticated as the ``resource-server`` client; an expired, revoked or unknown token is
  ``active: false``.
* :class:`JwksValidator` verifies an oauth2-mock-server JWT (RS256) against the keys the server
  publishes at ``/jwks`` (with ``cryptography``; PyJWT is not installed), then its ``iss``,
  ``nbf`` and ``exp``.

:class:`ResourceServer` counts the tokens it accepted and refused, and can be told to answer
401 to the next requests, or to every request with a given token, to prove a client fetches a
new token exactly once.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

#: Returns the token's claims when the authorization server vouches for it, else None.
Validator = Callable[[str], dict[str, Any] | None]

ITEMS = [{"id": number, "name": f"item {number}"} for number in range(1, 26)]


class IntrospectionValidator:
    """Validates opaque tokens with an RFC 7662 introspection endpoint."""

    def __init__(self, endpoint: str, client_id: str, client_secret: str) -> None:
        self.endpoint = endpoint
        self._http = httpx.Client(auth=(client_id, client_secret), timeout=5)

    def __call__(self, token: str) -> dict[str, Any] | None:
        response = self._http.post(
            self.endpoint, data={"token": token, "token_type_hint": "access_token"}
        )
        response.raise_for_status()
        claims: dict[str, Any] = response.json()
        return claims if claims.get("active") is True else None

    def close(self) -> None:
        self._http.close()


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class JwksValidator:
    """Validates RS256 JWTs against an issuer's JWKS (fetched once) and its ``iss``."""

    def __init__(self, issuer: str, jwks_url: str) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url
        self._keys: dict[str, rsa.RSAPublicKey] | None = None

    def _key(self, kid: str) -> rsa.RSAPublicKey | None:
        if self._keys is None:
            keys = httpx.get(self.jwks_url, timeout=5).raise_for_status().json()["keys"]
            self._keys = {
                key["kid"]: rsa.RSAPublicNumbers(
                    int.from_bytes(_b64decode(key["e"])), int.from_bytes(_b64decode(key["n"]))
                ).public_key()
                for key in keys
                if key.get("kty") == "RSA"
            }
        return self._keys.get(kid)

    def __call__(self, token: str) -> dict[str, Any] | None:
        try:
            header_part, payload_part, signature_part = token.split(".")
            header = json.loads(_b64decode(header_part))
            key = self._key(header.get("kid", "")) if header.get("alg") == "RS256" else None
            if key is None:
                return None
            key.verify(
                _b64decode(signature_part),
                f"{header_part}.{payload_part}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            claims: dict[str, Any] = json.loads(_b64decode(payload_part))
        except (ValueError, InvalidSignature):
            return None
        now = time.time()
        if claims.get("iss") != self.issuer or claims.get("nbf", 0) > now:
            return None
        return claims if claims.get("exp", 0) > now else None


class ResourceServer:
    """``GET /api/whoami`` and ``GET /api/items?page=&per_page=``, both behind a bearer token."""

    def __init__(self, validate: Validator) -> None:
        self.validate = validate
        self._lock = threading.Lock()
        self.accepted: Counter[str] = Counter()
        self.refused: list[str] = []
        self.forced = 0
        self._reject_next = 0
        self._rejected_tokens: set[str] = set()
        self._together = 0
        self._arrived = 0
        self._released: asyncio.Event | None = None
        self.app = Starlette(
            routes=[Route("/api/whoami", self._whoami), Route("/api/items", self._items)]
        )

    @property
    def tokens(self) -> list[str]:
        """The distinct tokens accepted, in the order first seen."""
        return list(self.accepted)

    def reject_next(self, count: int = 1) -> None:
        """Answer the next *count* requests with 401, whatever their token."""
        with self._lock:
            self._reject_next = count

    def reject_token(self, token: str, together: int = 0) -> None:
        """Answer 401 to every request carrying *token* from now on (as if it were revoked).

        With *together*, the first 401s are held until that many requests with the token have
        arrived, then answered at once: callers in different processes all meet the 401
        before any of them can have refreshed (a race made certain, not hoped for).
        """
        with self._lock:
            self._rejected_tokens.add(token)
            self._together = together
            self._arrived = 0
            self._released = None

    def reset(self) -> None:
        """Forget every count and pending rejection."""
        with self._lock:
            self.accepted.clear()
            self.refused.clear()
            self.forced = 0
            self._reject_next = 0
            self._rejected_tokens.clear()
            self._together = self._arrived = 0
            self._released = None

    async def _authorize(self, request: Request) -> dict[str, Any] | JSONResponse:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _unauthorized("invalid_request", "a bearer token is required")
        if token in self._rejected_tokens and self._together:
            await self._hold()
        with self._lock:
            forced = token in self._rejected_tokens or self._reject_next > 0
            if forced:
                if token not in self._rejected_tokens:
                    self._reject_next -= 1
                self.forced += 1
                return _unauthorized("invalid_token", "rejected on purpose by the test")
        claims = await anyio.to_thread.run_sync(self.validate, token)
        with self._lock:
            if claims is None:
                self.refused.append(token)
                return _unauthorized("invalid_token", "the authorization server refused it")
            self.accepted[token] += 1
        return claims

    async def _hold(self) -> None:
        with self._lock:
            if self._released is None:
                self._released = asyncio.Event()
            released = self._released
            self._arrived += 1
            if self._arrived >= self._together:
                self._together = 0
                released.set()
        await asyncio.wait_for(released.wait(), 60)

    async def _whoami(self, request: Request) -> JSONResponse:
        claims = await self._authorize(request)
        if isinstance(claims, JSONResponse):
            return claims
        names = ("iss", "client_id", "sub", "scope", "aud", "exp", "iat")
        return JSONResponse({name: claims[name] for name in names if name in claims})

    async def _items(self, request: Request) -> JSONResponse:
        claims = await self._authorize(request)
        if isinstance(claims, JSONResponse):
            return claims
        page = int(request.query_params.get("page", "1"))
        size = int(request.query_params.get("per_page", "10"))
        data = ITEMS[(page - 1) * size : page * size]
        return JSONResponse({"data": data, "total": len(ITEMS)})


def _unauthorized(error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=401,
        headers={"WWW-Authenticate": f'Bearer error="{error}"'},
    )
