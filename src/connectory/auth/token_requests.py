"""Sending token requests and reading token responses, for OAuth2 and custom login."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urljoin

import orjson

from connectory.auth.base import AuthContext
from connectory.errors import AuthError
from connectory.http.reply import Reply
from connectory.http.request import PreparedRequest


def absolute_url(url: str, base_url: str) -> str:
    """Return *url* joined to the base URL when it is relative (``/oauth/token``)."""
    if url.startswith(("http://", "https://")):
        return url
    return urljoin(base_url.rstrip("/") + "/", url.lstrip("/"))


async def send_token_request(
    context: AuthContext, request: PreparedRequest, what: str, idempotent: bool = False
) -> dict[str, Any]:
    """Send a token or login request and return its JSON (or form-encoded) body.

    Raises:
        AuthError: the endpoint refused (with the provider's error code and description,
            redacted), or answered something that is not a token response.
    """
    reply = await context.send(request, idempotent)
    body = _parse(reply)
    if reply.status_code >= 400:
        code = body.get("error") if isinstance(body, dict) else None
        raise AuthError(
            _refusal(reply, body, what, context),
            status_code=reply.status_code,
            oauth_error=code if isinstance(code, str) else None,
        )
    if not isinstance(body, dict):
        raise AuthError(f"the {what} response is not a JSON object; check the {what} URL")
    return body


def _parse(reply: Reply) -> Any:
    if not reply.content:
        return None
    try:
        return orjson.loads(reply.content)
    except orjson.JSONDecodeError:
        pass
    if "form-urlencoded" in reply.content_type:
        return dict(parse_qsl(reply.content.decode("utf-8", "replace")))
    return None


#: What to do about each RFC 6749 (5.2) error code.
_HINTS = {
    "invalid_client": "check the client id and secret",
    "invalid_grant": "the refresh token or code is no longer valid: reconnect the account",
    "invalid_scope": "check the scopes the connector requests",
    "unauthorized_client": "the client may not use this grant type; check grant_type",
    "unsupported_grant_type": "the provider does not support this grant type",
    "invalid_request": "check the token URL and the connector's token parameters",
}


def _refusal(reply: Reply, body: Any, what: str, context: AuthContext) -> str:
    detail = ""
    code: Any = None
    if isinstance(body, dict):
        code = body.get("error")
        description = body.get("error_description") or body.get("message")
        if isinstance(code, str):
            detail = f": {code}"
            if isinstance(description, str):
                detail += f" ({description})"
        elif isinstance(description, str):
            detail = f": {description}"
    detail = context.redactor.redact(detail)[:300]
    if isinstance(code, str) and code in _HINTS:
        hint = _HINTS[code]
    elif reply.status_code in (400, 401):
        hint = "check the credentials"
    else:
        hint = "check the token URL and the provider's status"
    return f"the {what} was refused with status {reply.status_code}{detail}; {hint}"
