"""Browser pages of the OAuth2 flow and of connect links (no JavaScript needed).

- ``GET /oauth/callback``: where providers send people back; completes the flow and shows
  the outcome (or redirects to an allowed return URL with the outcome in the query).
- ``GET /connect/{token}``: a connect link's page: the connector's name, icon and help, and
  the credential form generated from ``credential_schema`` or an "Authorize" button.
- ``POST /connect/{token}``: the form (creates the connection, spends the link);
  ``POST /connect/{token}/authorize``: starts the OAuth2 flow and sends the browser to the
  provider.

Plain server-rendered HTML forms: usable by keyboard, with screen readers and on a narrow
screen, without scripts. The link's token in the URL is what authorizes these requests; the
pages are never framed (``frame-ancestors 'none'``) and send no referrer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from connectory.api.routers.oauth import browser_secret, set_flow_cookie
from connectory.errors import ConnectoryError, InvalidRequest
from connectory.services import connect_links, oauth_flows
from connectory.services.connect_links import LinkUnavailable, LinkView
from connectory.services.connection_runtime import ConnectionRuntimes
from connectory.services.secret_store import SecretBox
from connectory.settings import Settings
from connectory.spec.fields import InputFieldSpec
from connectory.store.models import Enterprise

TEMPLATES = Path(__file__).parent / "templates"

#: Largest form accepted from the connect page.
_MAX_FORM_BYTES = 64 * 1024

_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data: https:; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)


@dataclass
class FormField:
    """One input of the credential form, as the template shows it."""

    name: str
    label: str
    input_type: str
    required: bool
    help: str | None
    value: str
    choices: list[str]
    error: str | None = None

    @property
    def described(self) -> str:
        """The ids of the help and error texts (aria-describedby)."""
        ids = [f"h-{self.name}" if self.help else "", f"e-{self.name}" if self.error else ""]
        return " ".join(i for i in ids if i)


def _form_fields(
    schema: dict[str, InputFieldSpec], values: dict[str, str], errors: dict[str, str]
) -> list[FormField]:
    fields = []
    for name, spec in schema.items():
        secret = spec.is_sensitive
        default = "" if spec.default is None or secret else str(spec.default)
        fields.append(
            FormField(
                name=name,
                label=spec.display_label(name),
                input_type="password"
                if secret
                else ("number" if spec.type in ("number", "integer") else "text"),
                required=spec.required,
                help=spec.help,
                # A secret is never sent back into the page, not even after a mistake.
                value="" if secret else values.get(name, default),
                choices=[str(choice) for choice in spec.enum or []]
                or (["true", "false"] if spec.type == "boolean" else []),
                error=errors.get(name),
            )
        )
    return fields


def _render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    environment: Environment = request.app.state.page_templates
    html = environment.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=_SECURITY_HEADERS)


def _icon(value: str | None) -> str | None:
    # Only what a page may load: an https image or an inline image.
    if value and (value.startswith("https://") or value.startswith("data:image/")):
        return value
    return None


async def _read_form(request: Request) -> dict[str, str]:
    raw = await request.body()
    if len(raw) > _MAX_FORM_BYTES:
        raise InvalidRequest("the form is too large")
    text = raw.decode("utf-8", "replace")
    return {key: value for key, value in parse_qsl(text, keep_blank_values=True)}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _link_page(
    request: Request,
    view: LinkView,
    token: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    async with request.app.state.sessions() as session:
        enterprise = await session.get(Enterprise, view.link.enterprise_id)
    schema = (
        oauth_flows.flow_credential_schema(view.spec)
        if view.authorizes
        else dict(view.spec.auth.credential_schema)
    )
    return _render(
        request,
        "connect.html",
        status,
        title=f"Connect {view.connector.name}",
        connector=view.connector.name,
        enterprise=enterprise.name if enterprise is not None else "your organisation",
        name=view.link.name,
        icon=_icon(view.spec.icon),
        description=view.spec.description,
        documentation_url=view.spec.documentation_url
        if (view.spec.documentation_url or "").startswith(("https://", "http://"))
        else None,
        authorizes=view.authorizes,
        fields=_form_fields(schema, values or {}, errors or {}),
        error=error,
        submit_action=f"/connect/{token}",
        authorize_action=f"/connect/{token}/authorize",
        expires=view.link.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
    )


def _unavailable(request: Request, error: LinkUnavailable) -> HTMLResponse:
    return _render(
        request,
        "outcome.html",
        404 if error.reason == "unknown" else 410,
        title="Link not available",
        ok=False,
        message=str(error),
    )


@router.get("/connect/{token}")
async def connect_page(token: str, request: Request) -> HTMLResponse:
    """The connect link's page."""
    async with request.app.state.sessions() as session:
        try:
            view = await connect_links.open_link(session, token)
        except LinkUnavailable as error:
            return _unavailable(request, error)
    return await _link_page(request, view, token)


@router.post("/connect/{token}")
async def connect_submit(token: str, request: Request) -> Response:
    """Create the link's connection from the credential form."""
    form = await _read_form(request)
    box: SecretBox = request.app.state.secret_box
    async with request.app.state.sessions() as session:
        try:
            view = await connect_links.open_link(session, token)
        except LinkUnavailable as error:
            return _unavailable(request, error)
        if view.authorizes:
            return await _link_page(
                request, view, token, error="Use the Authorize button.", status=400
            )
        schema = view.spec.auth.credential_schema
        given = {name: value for name, value in form.items() if name in schema and value != ""}
        try:
            details = await connect_links.connect_with_credentials(session, box, view, given)
            await session.commit()
        except LinkUnavailable as error:
            return _unavailable(request, error)
        except InvalidRequest as error:
            errors = {str(issue.location[-1]): issue.message for issue in error.issues}
            return await _link_page(
                request,
                view,
                token,
                values=given,
                errors=errors,
                error="Some fields need attention: " + "; ".join(errors.values()),
                status=422,
            )
    outcome = oauth_flows.FlowOutcome(
        True,
        "connected",
        "Connected",
        f"{view.connector.name} is connected as “{details.connection.name}”. You can close "
        "this page.",
        connection_id=details.connection.id,
        return_url=view.link.return_url,
    )
    return await _show_outcome(request, outcome, view.link.enterprise_id)


@router.post("/connect/{token}/authorize")
async def connect_authorize(token: str, request: Request) -> Response:
    """Start the OAuth2 flow for the link's connection: off to the provider."""
    form = await _read_form(request)
    settings = _settings(request)
    box: SecretBox = request.app.state.secret_box
    runtimes: ConnectionRuntimes = request.app.state.runtimes
    secret = browser_secret(request)
    async with request.app.state.sessions() as session:
        try:
            view = await connect_links.open_link(session, token)
        except LinkUnavailable as error:
            return _unavailable(request, error)
        schema = oauth_flows.flow_credential_schema(view.spec)
        given = {name: value for name, value in form.items() if name in schema and value != ""}
        try:
            start = await connect_links.authorize_with_link(
                session,
                box,
                runtimes,
                view,
                credentials=given,
                public_url=settings.public_url,
                browser_secret=secret,
                lifetime=timedelta(minutes=settings.oauth_flow_minutes),
            )
            await session.commit()
        except InvalidRequest as error:
            errors = {str(issue.location[-1]): issue.message for issue in error.issues}
            return await _link_page(
                request, view, token, values=given, errors=errors, error=str(error), status=422
            )
        except ConnectoryError as error:
            return await _link_page(request, view, token, error=str(error), status=502)
    response = RedirectResponse(start.authorize_url, status_code=303)
    set_flow_cookie(response, request, secret, settings)
    return response


@router.get("/oauth/callback")
async def oauth_callback(request: Request) -> Response:
    """Where providers send the person back: complete the flow, show or return the outcome."""
    query = request.query_params
    async with request.app.state.sessions() as session:
        outcome = await oauth_flows.complete_flow(
            session,
            request.app.state.secret_box,
            request.app.state.runtimes,
            state=query.get("state"),
            code=query.get("code"),
            error=query.get("error"),
            error_description=query.get("error_description"),
            browser_secret=request.cookies.get(oauth_flows.FLOW_COOKIE),
        )
    return await _show_outcome(request, outcome, None)


async def _show_outcome(
    request: Request, outcome: oauth_flows.FlowOutcome, enterprise_id: str | None
) -> Response:
    return_url = outcome.return_url
    if return_url is not None and enterprise_id is not None:
        # A connect link's own return URL is checked against the allowlist now.
        async with request.app.state.sessions() as session:
            enterprise = await session.get(Enterprise, enterprise_id)
        allowlist = list(enterprise.return_urls) if enterprise is not None else []
        return_url = oauth_flows.allowed_return_url(return_url, allowlist)
    if return_url is not None:
        target = oauth_flows.with_outcome(return_url, outcome.query())
        return RedirectResponse(target, status_code=303, headers={"Referrer-Policy": "no-referrer"})
    status = 200 if outcome.ok else 400
    return _render(
        request,
        "outcome.html",
        status,
        title=outcome.title,
        ok=outcome.ok,
        message=outcome.message,
        connection_url=f"/ui/#/connections/{outcome.connection_id}"
        if outcome.connection_id
        else None,
    )


def install_connect_pages(app: FastAPI) -> None:
    """Add the callback and connect-link pages to *app*."""
    app.state.page_templates = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    app.include_router(router)
