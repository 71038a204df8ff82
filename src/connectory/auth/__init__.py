"""Auth handlers built from a connector's ``auth`` section."""

from __future__ import annotations

from connectory.auth.base import AuthContext, Authenticator, Sender
from connectory.auth.custom import CustomLoginAuth
from connectory.auth.oauth2 import OAuth2Auth
from connectory.auth.secret_locations import (
    SecretKeys,
    reads_secret,
    secret_keys_of,
    secret_locations,
)
from connectory.auth.static import ApiKeyAuth, BasicAuth, BearerAuth, NoAuth
from connectory.spec.auth import (
    ApiKeyAuthSpec,
    AuthSpec,
    BasicAuthSpec,
    BearerAuthSpec,
    CustomAuthSpec,
    NoAuthSpec,
    OAuth2AuthSpec,
)


def create_authenticator(spec: AuthSpec, context: AuthContext) -> Authenticator:
    """Return the handler for *spec*, with its templates rendered against *context*.

    Raises:
        TemplateError: a credential the templates need is missing.
    """
    if isinstance(spec, NoAuthSpec):
        return NoAuth()
    if isinstance(spec, ApiKeyAuthSpec):
        return ApiKeyAuth(spec, context)
    if isinstance(spec, BasicAuthSpec):
        return BasicAuth(spec, context)
    if isinstance(spec, BearerAuthSpec):
        return BearerAuth(spec, context)
    if isinstance(spec, OAuth2AuthSpec):
        return OAuth2Auth(spec, context)
    if isinstance(spec, CustomAuthSpec):
        return CustomLoginAuth(spec, context)
    raise TypeError(f"unsupported auth spec {type(spec).__name__}")  # pragma: no cover


__all__ = [
    "ApiKeyAuth",
    "AuthContext",
    "Authenticator",
    "BasicAuth",
    "BearerAuth",
    "CustomLoginAuth",
    "NoAuth",
    "OAuth2Auth",
    "SecretKeys",
    "Sender",
    "create_authenticator",
    "reads_secret",
    "secret_keys_of",
    "secret_locations",
]
