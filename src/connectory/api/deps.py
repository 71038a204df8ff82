"""Dependencies shared by the routers: the database session and the calling principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import DecryptionError, NotAuthenticated, PermissionDenied
from connectory.services.principal import Principal
from connectory.services.request_cache import RequestCache, principal_read_key
from connectory.services.secret_store import SecretBox
from connectory.services.tokens import (
    authenticate_token,
    hash_token,
    is_token_shaped,
    refused_token,
)
from connectory.settings import Settings
from connectory.store.models import utcnow

_bearer = HTTPBearer(auto_error=False, description="An API token: Authorization: Bearer cty_...")


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    # Endpoints that write commit explicitly before they answer: code after ``yield`` may run
    # after the response is sent, when a failed commit could no longer be reported.
    # Closing the session rolls back whatever was not committed.
    async with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(_session)]


#: The browser UI's session cookie: the API token, encrypted with the server's key ring.
SESSION_COOKIE = "connectory_session"
#: Associated data binding the cookie's ciphertext to its purpose.
SESSION_AAD = b"ui-session"
#: Header the UI sends on every request; cross-site forms cannot add it (CSRF protection).
UI_HEADER = "X-Connectory-UI"


def _cookie_token(request: Request) -> str | None:
    sealed = request.cookies.get(SESSION_COOKIE)
    if not sealed:
        return None
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.headers.get(UI_HEADER) != "1":
        raise PermissionDenied(
            f"requests authenticated by the session cookie must send {UI_HEADER}: 1"
        )
    try:
        token: str = request.app.state.secret_box.ring.decrypt(sealed, SESSION_AAD)
    except (DecryptionError, ValueError) as error:
        raise NotAuthenticated("the session has expired; sign in again") from error
    return token


async def _principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    # The Authorization header wins; the UI's cookie is used only without one.
    secret = credentials.credentials if credentials is not None else _cookie_token(request)
    if secret is None:
        raise NotAuthenticated(
            "the API token is missing, unknown, revoked or expired; send Authorization: Bearer "
            "<token>"
        )
    if not is_token_shaped(secret):
        raise refused_token()
    cache: RequestCache = request.app.state.request_cache
    token_hash = hash_token(secret)
    moment = utcnow()
    principal = cache.principal(token_hash, moment)
    if principal is not None:
        return principal

    async def read() -> Principal:
        epoch = cache.epoch()
        found = await authenticate_token(session, secret, moment)
        if session.dirty:  # last_used_at was recorded
            await session.commit()
        cache.remember_principal(token_hash, found.principal, found.expires_at, epoch)
        return found.principal

    if not cache.enabled:
        return await read()
    # Concurrent requests with this token (each TTL expiry under load) read it once.
    return await cache.shared_read(principal_read_key(token_hash), read)


CurrentPrincipal = Annotated[Principal, Depends(_principal)]


async def cached_principal(cache: RequestCache, secret: str) -> Principal | None:
    """The principal behind a token-shaped *secret* if *cache* holds it (expiry checked now).

    The fast path of operation calls (:mod:`connectory.api.operation_route`) authenticates
    with it. When the entry is missing but a read of it is under way (a request on the slow
    path read it when its TTL ran out), it waits for that read and looks again. None sends the
    request to :func:`_principal`, which reads the database.
    """
    token_hash = hash_token(secret)
    principal = cache.principal(token_hash, utcnow())
    if principal is None and await cache.await_read(principal_read_key(token_hash)):
        principal = cache.principal(token_hash, utcnow())
    return principal


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]


def _secret_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


#: The server's key ring, for services that seal or open secrets.
SecretBoxDep = Annotated[SecretBox, Depends(_secret_box)]
