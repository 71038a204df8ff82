"""``/ui``: the static UI, sign-in and sign-out, and YAML <-> document conversion.

None of these routes are in ``/openapi.json``: they serve the browser, not API clients.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import yaml
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from connectory.api.deps import SESSION_AAD, SESSION_COOKIE, UI_HEADER, CurrentPrincipal, SessionDep
from connectory.api.routing import StrictJSONRoute
from connectory.errors import InvalidRequest, PermissionDenied, SpecError
from connectory.services.tokens import authenticate
from connectory.spec import check_connector_text, connector_json_schema
from connectory.spec.source import measure_data, parse_text
from connectory.web.connect import install_connect_pages

#: The UI's files (HTML, CSS, JavaScript modules), shipped as package data.
STATIC_DIR = Path(__file__).parent / "static"

#: The code editor, bundled from ui/ by `make ui` (esbuild); not committed, so it may be missing.
EDITOR_BUNDLE = STATIC_DIR / "dist" / "editor.js"

#: Longest token accepted at sign-in (real tokens are far shorter).
_MAX_TOKEN = 512

router = APIRouter(route_class=StrictJSONRoute, include_in_schema=False)
logger = logging.getLogger(__name__)


class YamlIn(BaseModel):
    """YAML text to turn into a connector document."""

    model_config = ConfigDict(extra="forbid", strict=True)
    yaml: str = Field(max_length=5 * 1024 * 1024)


class DocumentIn(BaseModel):
    """A connector document to show as YAML."""

    model_config = ConfigDict(extra="forbid", strict=True)
    document: dict[str, Any]


def _check_ui_header(request: Request) -> None:
    # Sign-in changes which account the browser acts as; a cross-site form must not do it.
    if request.headers.get(UI_HEADER) != "1":
        raise PermissionDenied(f"send the header {UI_HEADER}: 1")


async def _read_token(request: Request) -> str:
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    token: Any = None
    if content_type.startswith("application/x-www-form-urlencoded"):
        token = parse_qs(raw.decode("utf-8", "replace")).get("token", [None])[0]
    else:
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            data = None
        token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token.strip() or len(token) > _MAX_TOKEN:
        raise InvalidRequest("send the API token as token (JSON or a form field)")
    return token.strip()


@router.post("/ui/session", status_code=204)
async def sign_in(request: Request, session: SessionDep) -> Response:
    """Check an API token and keep it, encrypted, in an HttpOnly session cookie."""
    _check_ui_header(request)
    token = await _read_token(request)
    await authenticate(session, token)
    await session.commit()  # last_used_at
    sealed = request.app.state.secret_box.ring.encrypt(token, SESSION_AAD)
    response = Response(status_code=204)
    response.set_cookie(
        SESSION_COOKIE,
        sealed,
        httponly=True,
        samesite="strict",
        path="/",
        secure=request.url.scheme == "https",
    )
    return response


@router.delete("/ui/session", status_code=204)
async def sign_out(request: Request) -> Response:
    """Forget the session cookie."""
    _check_ui_header(request)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.post("/ui/yaml/parse")
async def parse_yaml(body: YamlIn, principal: CurrentPrincipal) -> dict[str, Any]:
    """Parse connector YAML: the document (even when invalid) and every problem with its line."""
    return await run_in_threadpool(_parse, body.yaml)


def _parse(text: str) -> dict[str, Any]:
    try:
        document: Any = parse_text(text, file="connector.yaml").data
    except SpecError as error:
        return {"document": None, "problems": [p.to_dict() for p in error.problems]}
    report = check_connector_text(text, "connector.yaml")
    return {"document": document, "problems": [p.to_dict() for p in report.problems]}


@router.post("/ui/yaml/render")
async def render_yaml(body: DocumentIn, principal: CurrentPrincipal) -> dict[str, str]:
    """Show a connector document as YAML, in the document's own key order."""
    # The limits of a connector file hold here too: PyYAML's emitter recurses per level.
    measure_data(body.document, file="connector.yaml")
    text = yaml.safe_dump(body.document, sort_keys=False, allow_unicode=True, width=100)
    return {"yaml": text}


@router.get("/ui/connector.schema.json")
async def connector_schema(request: Request) -> dict[str, Any]:
    """The connector format's JSON Schema: the code editor's completion and hover docs."""
    return _connector_schema()


@functools.cache
def _connector_schema() -> dict[str, Any]:
    # Exported on the first request, once per process (the models do not change while it
    # runs): not at every app's start-up, where no editor has asked for it yet.
    return connector_json_schema()


@router.get("/")
async def root() -> RedirectResponse:
    """Send browsers to the UI."""
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui")
@router.get("/ui/")
async def index() -> FileResponse:
    """The single page of the UI (views are hash routes)."""
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def install_ui(app: FastAPI) -> None:
    """Add the UI's routes and static files to *app*."""
    if not EDITOR_BUNDLE.is_file():
        logger.warning(
            "the code editor bundle %s is missing: the builder edits YAML and JavaScript in "
            "plain text boxes (no highlighting, inline markers or completion); build it with "
            "`make ui` (npm ci and esbuild in ui/)",
            EDITOR_BUNDLE,
        )
    app.include_router(router)
    install_connect_pages(app)
    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="ui-static")
