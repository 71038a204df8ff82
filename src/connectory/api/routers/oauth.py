"""OAuth2 authorization code: starting flows, the redirect URI, OAuth apps, return URLs.

The callback and the connect page are browser pages (``connectory.web.connect``).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from connectory.api.deps import CurrentPrincipal, SecretBoxDep, SessionDep, SettingsDep
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.identity import error_responses
from connectory.api.schemas.oauth import (
    AuthorizeOut,
    AuthorizeStart,
    OAuthAppOut,
    OAuthAppUpdate,
    RedirectUriOut,
    ReturnUrlsOut,
    ReturnUrlsUpdate,
)
from connectory.api.schemas.values import IdPath
from connectory.services import oauth_apps, oauth_flows, return_urls
from connectory.services.connection_runtime import ConnectionRuntimes
from connectory.settings import Settings

router = APIRouter(route_class=StrictJSONRoute, tags=["oauth"])

#: Longest flow cookie accepted (ours are 43 characters).
_MAX_COOKIE = 128


def browser_secret(request: Request) -> str:
    """The browser's flow cookie, or a new value when it has none (or a malformed one)."""
    value = request.cookies.get(oauth_flows.FLOW_COOKIE)
    if value and 16 <= len(value) <= _MAX_COOKIE and value.isascii():
        return value
    return oauth_flows.new_browser_secret()


def set_flow_cookie(response: Response, request: Request, value: str, settings: Settings) -> None:
    """Set the flow cookie: HttpOnly, SameSite=Lax, lasting one flow.

    Lax, because the provider's redirect back is a cross-site top-level GET, which carries Lax
    cookies but not the Strict session cookie.
    """
    response.set_cookie(
        oauth_flows.FLOW_COOKIE,
        value,
        max_age=int(settings.oauth_flow_minutes * 60),
        httponly=True,
        samesite="lax",
        path="/",
        secure=request.url.scheme == "https" or (settings.public_url or "").startswith("https://"),
    )


@router.post(
    "/oauth/authorize",
    response_model=AuthorizeOut,
    responses=error_responses(403, 404, 409),
    summary="Start an OAuth2 authorization",
)
async def authorize(
    body: AuthorizeStart,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
    box: SecretBoxDep,
    settings: SettingsDep,
) -> AuthorizeOut:
    """Start authorizing a new connection (or ``connection_id`` again).

    Open ``authorize_url`` in the same browser; the provider sends it back to the deployment's
    redirect URI.

    The response sets a short-lived flow cookie that the callback checks, so the flow can only
    be completed in the browser that started it (a person's browser, for the builder; API
    integrations hand a person a connect link instead).
    """
    runtimes: ConnectionRuntimes = request.app.state.runtimes
    secret = browser_secret(request)
    start = await oauth_flows.start_flow(
        session,
        box,
        runtimes,
        principal,
        public_url=settings.public_url,
        browser_secret=secret,
        lifetime=timedelta(minutes=settings.oauth_flow_minutes),
        connector_id=body.connector_id,
        version=body.version,
        connection_id=body.connection_id,
        name=body.name,
        credentials=dict(body.credentials),
        config=body.config,
        return_url=body.return_url,
    )
    await session.commit()
    set_flow_cookie(response, request, secret, settings)
    return AuthorizeOut(
        authorize_url=start.authorize_url,
        redirect_uri=start.redirect_uri,
        expires_at=start.expires_at,
    )


@router.get("/oauth/redirect-uri", response_model=RedirectUriOut, summary="The redirect URI")
async def redirect_uri(principal: CurrentPrincipal, settings: SettingsDep) -> RedirectUriOut:
    """The one redirect URI of this deployment, to register with OAuth providers."""
    if not settings.public_url:
        return RedirectUriOut(
            redirect_uri=None,
            detail="set CONNECTORY_PUBLIC_URL so providers can send people back to Connectory",
        )
    return RedirectUriOut(
        redirect_uri=oauth_flows.redirect_uri_of(settings.public_url),
        detail="register this redirect URI with the provider's OAuth app",
    )


@router.get(
    "/connectors/{connector_id}/oauth-app",
    response_model=OAuthAppOut,
    responses=error_responses(403, 404),
    summary="Whether the enterprise uses its own OAuth app",
)
async def get_oauth_app(
    connector_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> OAuthAppOut:
    """Whether the caller's enterprise may set, and has set, its own OAuth app."""
    status = await oauth_apps.app_status(session, principal, connector_id)
    return OAuthAppOut(**vars(status))


@router.put(
    "/connectors/{connector_id}/oauth-app",
    response_model=OAuthAppOut,
    responses=error_responses(403, 404),
    summary="Use the enterprise's own OAuth app",
)
async def set_oauth_app(
    connector_id: IdPath,
    body: OAuthAppUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    box: SecretBoxDep,
) -> OAuthAppOut:
    """Set the client id and secret of the enterprise's own OAuth app (write-only).

    The enterprise's connections of this Catalogue connector use it from then on; grants
    obtained with another app must be authorized again.
    """
    status = await oauth_apps.set_app(
        session, principal, box, connector_id, body.client_id, body.client_secret
    )
    await session.commit()
    return OAuthAppOut(**vars(status))


@router.delete(
    "/connectors/{connector_id}/oauth-app",
    response_model=OAuthAppOut,
    responses=error_responses(403, 404),
    summary="Go back to the catalogue's OAuth app",
)
async def delete_oauth_app(
    connector_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> OAuthAppOut:
    """Forget the enterprise's own OAuth app."""
    status = await oauth_apps.delete_app(session, principal, connector_id)
    await session.commit()
    return OAuthAppOut(**vars(status))


@router.get(
    "/enterprises/{enterprise_id}/return-urls",
    response_model=ReturnUrlsOut,
    responses=error_responses(404),
    summary="Where people may be sent back to",
)
async def get_return_urls(
    enterprise_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> ReturnUrlsOut:
    """The URL prefixes OAuth flows and connect links of the enterprise may return to."""
    urls = await return_urls.get_return_urls(session, principal, enterprise_id)
    return ReturnUrlsOut(return_urls=urls)


@router.put(
    "/enterprises/{enterprise_id}/return-urls",
    response_model=ReturnUrlsOut,
    responses=error_responses(403, 404),
    summary="Set where people may be sent back to",
)
async def set_return_urls(
    enterprise_id: IdPath, body: ReturnUrlsUpdate, session: SessionDep, principal: CurrentPrincipal
) -> ReturnUrlsOut:
    """Replace the allowlist (admins). Other return URLs get Connectory's outcome page."""
    urls = await return_urls.set_return_urls(
        session, principal, enterprise_id, [str(url) for url in body.return_urls]
    )
    await session.commit()
    return ReturnUrlsOut(return_urls=urls)
