"""What the OAuth2 tests share: peer settings, direct calls to oidc-provider, a wire log.

Also re-exports protected_api.py's classes, loading it by path as ``oauth_resource``. (The file
was once called resource.py: with this directory on sys.path it shadowed the standard library's
``resource`` module in every process forked later, the OpenAPI corpus benchmark's included.)
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

HERE = Path(__file__).resolve().parent


def _load_resource_module() -> ModuleType:
    module = sys.modules.get("oauth_resource")
    if module is None:
        spec = importlib.util.spec_from_file_location("oauth_resource", HERE / "protected_api.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["oauth_resource"] = module
        spec.loader.exec_module(module)
    return module


_resource = _load_resource_module()
ResourceServer = _resource.ResourceServer
IntrospectionValidator = _resource.IntrospectionValidator
JwksValidator = _resource.JwksValidator

#: Lifetime of oidc-provider's tokens for clients named short-* (seconds).
SHORT_TTL = 2
#: Lifetime of oauth2-mock-server's tokens, set through its library hooks (its default is 3600).
MOCK_TTL = 120
#: web-app's redirect URI; nothing listens there, the code is read from the redirect itself.
REDIRECT_URI = "http://127.0.0.1/callback"
#: cc-basic's secret: RFC 6749 2.3.1 form-encoding changes it, so HTTP Basic must encode it.
CC_BASIC_SECRET = "b+s:%2F ~!"


@dataclass
class OidcProvider:
    """A running oidc-provider and the direct calls tests make to it (not through the runtime)."""

    issuer: str

    def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 introspection of *token*, as the resource-server client."""
        response = httpx.post(
            f"{self.issuer}/token/introspection",
            auth=("resource-server", "rs-secret"),
            data={"token": token},
        )
        response.raise_for_status()
        claims: dict[str, Any] = response.json()
        return claims

    def token(self, data: dict[str, str], auth: tuple[str, str]) -> httpx.Response:
        """POST *data* to the token endpoint with HTTP Basic client authentication."""
        return httpx.post(f"{self.issuer}/token", auth=auth, data=data)

    def revoke(self, token: str, auth: tuple[str, str] = ("web-app", "web-app-secret")) -> None:
        """Revoke a token (RFC 7009); oidc-provider revokes every token of its grant with it."""
        response = httpx.post(
            f"{self.issuer}/token/revocation",
            auth=auth,
            data={"token": token, "token_type_hint": "access_token"},
        )
        response.raise_for_status()

    def authorization_code_tokens(
        self, scope: str = "openid offline_access read", client_id: str = "web-app"
    ) -> dict[str, Any]:
        """Run the authorization code flow with PKCE for *client_id* and return the tokens.

        Drives the devInteractions forms as a browser would: GET /auth, follow the redirects to
        the login form, submit any login, submit the consent form, and take the code from the
        final redirect to the (never contacted) redirect URI. ``prompt=consent`` is what lets
        oidc-provider grant offline_access, hence a refresh token.
        """
        verifier = secrets.token_urlsafe(48)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        state = secrets.token_urlsafe(8)
        with httpx.Client(base_url=self.issuer, timeout=5) as browser:
            response = browser.get(
                "/auth",
                params={
                    "client_id": client_id,
                    "response_type": "code",
                    "redirect_uri": REDIRECT_URI,
                    "scope": scope,
                    "prompt": "consent",
                    "state": state,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                },
            )
            for _ in range(10):
                location = response.headers.get("location", "")
                if location.startswith(REDIRECT_URI):
                    break
                if response.is_redirect:
                    response = browser.get(location)
                    continue
                assert response.status_code == 200, response.text[:500]
                form = re.search(r'<form[^>]*action="([^"]+)"', response.text)
                prompt = re.search(r'name="prompt" value="(\w+)"', response.text)
                assert form and prompt, f"no interaction form in:\n{response.text[:1000]}"
                fields = {"prompt": prompt.group(1)}
                if fields["prompt"] == "login":
                    fields |= {"login": "alice", "password": "any"}
                response = browser.post(form.group(1), data=fields)
            else:
                pytest.fail("the authorization flow did not reach the redirect URI")
            query = parse_qs(urlsplit(location).query)
            assert query["state"] == [state]
            assert query["iss"] == [self.issuer]  # RFC 9207
        tokens = self.token(
            {
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            auth=(client_id, f"{client_id}-secret"),
        )
        assert tokens.status_code == 200, tokens.text
        body: dict[str, Any] = tokens.json()
        # oidc-provider issues a refresh token exactly when offline_access was granted.
        assert bool(body.get("refresh_token")) == ("offline_access" in scope.split()), body
        return body


class WireLog(httpx.AsyncBaseTransport):
    """A real HTTP transport that records every request the runtime sends (token requests too)."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def token_requests(self) -> list[httpx.Request]:
        """The requests sent to a token endpoint, in order."""
        return [request for request in self.requests if request.url.path == "/token"]

    @staticmethod
    def form(request: httpx.Request) -> dict[str, str]:
        """The form body of *request*, decoded."""
        return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
