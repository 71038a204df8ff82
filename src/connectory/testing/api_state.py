"""State and small helpers shared by the test API's route modules.

Everything lives on one :class:`TestApiState` object created per app, so two apps in one process
(or one per test) never share counters or tokens.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response


@dataclass(frozen=True)
class TestApiCredentials:
    """The credentials the test API accepts; pass your own to :func:`create_test_api`.

    Attributes:
        api_key: Key accepted by the API-key endpoints.
        api_key_prefix: Text the header variant expects before the key (``X-API-Key: Token KEY``).
        username: User for HTTP Basic and for ``POST /login``.
        password: Password for HTTP Basic and for ``POST /login``.
        bearer_token: Static token accepted by ``/auth/bearer``.
        client_id: OAuth2 client id accepted by ``POST /oauth/token``.
        client_secret: OAuth2 client secret accepted by ``POST /oauth/token``.
        signing_secret: HMAC key the ``/signed/`` endpoints verify signatures with.

    """

    # Keep pytest from mistaking this class for a test class when a test module imports it.
    __test__: ClassVar[bool] = False

    api_key: str = "test-api-key"
    api_key_prefix: str = "Token "
    username: str = "demo"
    password: str = "demo-password"
    bearer_token: str = "static-bearer-token"
    client_id: str = "connectory-client"
    client_secret: str = "connectory-secret"
    signing_secret: str = "test-signing-secret"


@dataclass
class ApiStats:
    """Counters a test reads through ``GET /_stats`` to prove how many requests were made."""

    by_path: Counter[str] = field(default_factory=Counter)
    token_requests: int = 0
    login_requests: int = 0
    unauthorized: int = 0
    last_token_request: dict[str, Any] | None = None
    signatures: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        """Return the counters as JSON-serialisable data."""
        return {
            "total": sum(self.by_path.values()),
            "by_path": dict(self.by_path),
            "token_requests": self.token_requests,
            "login_requests": self.login_requests,
            "unauthorized": self.unauthorized,
            "last_token_request": self.last_token_request,
            "signatures": {"verified": 0, "refused": 0, **self.signatures},
        }


@dataclass
class TestApiState:
    """Everything one test API instance remembers.

    Attributes:
        records: The dataset.
        credentials: What the auth endpoints accept.
        max_page_size: Larger page sizes are capped to this, as real APIs do.
        default_page_size: Page size when the client does not ask for one.
        token_ttl: Lifetime in seconds of issued OAuth2 and login tokens.
        clock: Monotonic clock, injectable so unit tests can expire tokens without waiting.
        stats: Request counters.
        tokens: Valid tokens (OAuth2 and login) and when they expire, by clock time.

    """

    __test__: ClassVar[bool] = False

    records: list[dict[str, Any]]
    credentials: TestApiCredentials
    max_page_size: int = 100
    default_page_size: int = 25
    token_ttl: int = 3600
    clock: Callable[[], float] = time.monotonic
    stats: ApiStats = field(default_factory=ApiStats)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)

    def issue_token(self, kind: str, ttl: int) -> str:
        """Create a token of *kind* (``oauth2`` or ``login``) valid for *ttl* seconds."""
        token = f"{kind}-{len(self.tokens) + 1}-{secrets.token_hex(8)}"
        self.tokens[token] = (kind, self.clock() + ttl)
        return token

    def token_is_valid(self, token: str, kind: str) -> bool:
        """Return True when *token* was issued as *kind*, is not revoked and has not expired."""
        entry = self.tokens.get(token)
        return entry is not None and entry[0] == kind and entry[1] > self.clock()

    def revoke_tokens(self) -> int:
        """Make every issued token invalid (as a server restart or key rotation would)."""
        count = len(self.tokens)
        # Keep the keys so token numbering stays increasing; an expiry in the past revokes.
        self.tokens = {token: (kind, float("-inf")) for token, (kind, _) in self.tokens.items()}
        return count


def json_response(
    content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """Return *content* as an ``application/json`` response (orjson: the large pages are fast)."""
    return Response(
        orjson.dumps(content),
        status_code=status_code,
        headers=dict(headers or {}),
        media_type="application/json",
    )


def int_param(
    request: Request, name: str, default: int, minimum: int = 0, maximum: int | None = None
) -> int:
    """Read the integer query parameter *name*, or answer 400 saying what is wrong.

    A value above *maximum* is capped rather than refused, as most real APIs cap page sizes.
    """
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        message = f"query parameter {name!r} must be an integer, got {raw!r}"
        raise HTTPException(400, message) from None
    if value < minimum:
        raise HTTPException(400, f"query parameter {name!r} must be >= {minimum}, got {value}")
    return min(value, maximum) if maximum is not None else value


def unauthorized(state: TestApiState, message: str, scheme: str = "Bearer") -> Response:
    """Answer 401 with a ``WWW-Authenticate`` challenge, and count it."""
    state.stats.unauthorized += 1
    return json_response(
        {"error": "unauthorized", "message": message},
        status_code=401,
        headers={"WWW-Authenticate": f'{scheme} realm="connectory-test-api"'},
    )


def parse_form(raw: bytes) -> list[tuple[str, str]]:
    """Return the fields of an ``application/x-www-form-urlencoded`` body, in order.

    Parsed here rather than with ``Request.form()``, which needs python-multipart, a dependency
    the project does not otherwise have.
    """
    return parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
