"""The test API's authentication: one protected list endpoint per auth type, plus token issuers.

==============================  =================================================================
``/auth/api-key-header/items``  ``X-API-Key: Token <api_key>`` (the prefix is required)
``/auth/api-key-query/items``   ``?api_key=<api_key>``
``/auth/basic/items``           HTTP Basic ``username:password``
``/auth/bearer/items``          ``Authorization: Bearer <bearer_token>``
``/auth/oauth2/items``          ``Authorization: Bearer <token from POST /oauth/token>``
``/auth/oauth2/always-401``     401 whatever the token (a client must re-fetch once, then give up)
``/auth/custom/items``          ``X-Session-Token: <token from POST /login>``
``POST /oauth/token``           client_credentials (client auth by Basic or form body); a
                                non-standard ``ttl`` form field sets the token's lifetime
``POST /login``                 JSON or form ``{username, password[, ttl]}`` ->
                                ``{"token", "expires_in"}``
``POST /_admin/revoke-tokens``  invalidates every issued token, so the next call answers 401
==============================  =================================================================

Each protected list pages like ``/pages/items`` (``?page=&per_page=``, ``meta.total``), so a
paginated read proves the credentials are applied to every page.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectory.testing.api_paging import page_meta, page_slice
from connectory.testing.api_state import (
    TestApiState,
    int_param,
    json_response,
    parse_form,
    unauthorized,
)

Check = Callable[[Request], str | None]
"""Returns None when the request is authorised, else why it is not."""


def _same(given: object, expected: str) -> bool:
    # Constant-time, as a real server would compare secrets.
    return isinstance(given, str) and secrets.compare_digest(given.encode(), expected.encode())


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """Return ``(user, password)`` from an ``Authorization: Basic ...`` header, or None."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _read_fields(request: Request) -> dict[str, Any]:
    """Return the request's body fields, JSON or form; {} when it has none or they do not parse."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            parsed = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return dict(parse_form(await request.body()))


def _ttl(fields: dict[str, Any], default: int) -> int:
    try:
        return max(1, int(fields.get("ttl", default)))
    except (TypeError, ValueError):
        return default


def auth_routes(state: TestApiState) -> list[BaseRoute]:
    """Return the protected endpoints and the token issuers, bound to *state*."""
    creds = state.credentials

    def protected(check: Check, scheme: str = "Bearer") -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            problem = check(request)
            if problem is not None:
                return unauthorized(state, problem, scheme)
            page = int_param(request, "page", 1, minimum=1)
            size = int_param(
                request, "per_page", state.default_page_size, 1, maximum=state.max_page_size
            )
            body = {"data": page_slice(state, page, size), "meta": page_meta(state, page, size)}
            return json_response(body)

        return endpoint

    def check_api_key_header(request: Request) -> str | None:
        given = request.headers.get("x-api-key")
        if given is None:
            return "send the API key in the X-API-Key header"
        if not _same(given, creds.api_key_prefix + creds.api_key):
            return f"X-API-Key must be {creds.api_key_prefix!r} followed by a valid key"
        return None

    def check_api_key_query(request: Request) -> str | None:
        if not _same(request.query_params.get("api_key"), creds.api_key):
            return "send a valid key in the api_key query parameter"
        return None

    def check_basic(request: Request) -> str | None:
        pair = parse_basic(request.headers.get("authorization"))
        if pair is None or not (_same(pair[0], creds.username) and _same(pair[1], creds.password)):
            return "send a valid user and password with HTTP Basic"
        return None

    def check_bearer(request: Request) -> str | None:
        if not _same(_bearer(request), creds.bearer_token):
            return "send a valid bearer token"
        return None

    def check_oauth2(request: Request) -> str | None:
        token = _bearer(request)
        if token is None or not state.token_is_valid(token, "oauth2"):
            return "the access token is missing, expired or revoked"
        return None

    def check_custom(request: Request) -> str | None:
        token = request.headers.get("x-session-token")
        if token is None or not state.token_is_valid(token, "login"):
            return "the session token is missing, expired or revoked; POST /login again"
        return None

    async def oauth_token(request: Request) -> Response:
        state.stats.token_requests += 1
        fields = await _read_fields(request)
        basic = parse_basic(request.headers.get("authorization"))
        client_id, secret = basic or (fields.get("client_id"), fields.get("client_secret"))
        state.stats.last_token_request = {
            "client_auth": "basic" if basic else "body",
            **{key: value for key, value in fields.items() if key != "client_secret"},
        }
        if not (_same(client_id, creds.client_id) and _same(secret, creds.client_secret)):
            state.stats.unauthorized += 1
            error = {"error": "invalid_client", "error_description": "unknown client or secret"}
            return json_response(error, 401, {"WWW-Authenticate": 'Basic realm="oauth"'})
        if fields.get("grant_type") != "client_credentials":
            error = {
                "error": "unsupported_grant_type",
                "error_description": "only grant_type=client_credentials is supported",
            }
            return json_response(error, 400)
        ttl = _ttl(fields, state.token_ttl)
        body: dict[str, Any] = {
            "access_token": state.issue_token("oauth2", ttl),
            "token_type": "Bearer",
            "expires_in": ttl,
        }
        if fields.get("scope"):
            body["scope"] = fields["scope"]
        # RFC 6749 5.1: token responses must not be cached.
        return json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def login(request: Request) -> Response:
        state.stats.login_requests += 1
        fields = await _read_fields(request)
        if not (
            _same(fields.get("username"), creds.username)
            and _same(fields.get("password"), creds.password)
        ):
            return unauthorized(state, "wrong username or password")
        ttl = _ttl(fields, state.token_ttl)
        return json_response({"token": state.issue_token("login", ttl), "expires_in": ttl})

    async def always_401(request: Request) -> Response:
        return unauthorized(state, "this endpoint rejects every token")

    async def revoke_tokens(request: Request) -> Response:
        return json_response({"revoked": state.revoke_tokens()})

    return [
        Route("/auth/api-key-header/items", protected(check_api_key_header, "ApiKey")),
        Route("/auth/api-key-query/items", protected(check_api_key_query, "ApiKey")),
        Route("/auth/basic/items", protected(check_basic, "Basic")),
        Route("/auth/bearer/items", protected(check_bearer)),
        Route("/auth/oauth2/items", protected(check_oauth2)),
        Route("/auth/oauth2/always-401", always_401),
        Route("/auth/custom/items", protected(check_custom, "Session")),
        Route("/oauth/token", oauth_token, methods=["POST"]),
        Route("/login", login, methods=["POST"]),
        Route("/_admin/revoke-tokens", revoke_tokens, methods=["POST"]),
    ]
