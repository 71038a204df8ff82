"""``/connectors``: the index; create (form, YAML, upload), validate, delete, export, import.

Drafts, publishing and versions are in :mod:`connectory.api.routers.connector_versions`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from connectory.api.deps import CurrentPrincipal, SecretBoxDep, SessionDep
from connectory.api.pagination import Page, Paging
from connectory.api.routing import StrictJSONRoute, takes_connector_document
from connectory.api.schemas.connectors import (
    ConnectorCreated,
    ConnectorOut,
    ConnectorSummary,
    DiffOut,
    ExportIn,
    ExportOut,
    HistoryStepOut,
    ImportOut,
    ValidationOut,
    VersionSummary,
    error_responses,
    problems_out,
)
from connectory.api.schemas.values import IdPath
from connectory.errors import InvalidRequest, NotFound
from connectory.services import connectors, exchange
from connectory.services.access import check_may_build_connectors
from connectory.services.archives import load_upload
from connectory.services.connector_documents import ConnectorSource, check_body, check_query_text
from connectory.services.connector_versions import get_version
from connectory.services.connectors import ConnectorFilters, Scope, Sort, Status
from connectory.services.exchange_history import published_versions
from connectory.services.openapi_descriptions import load_description
from connectory.services.principal import Principal
from connectory.services.secret_store import SecretBox
from connectory.services.sensitive_defaults import conceal_defaults
from connectory.spec.connector import ConnectorType

router = APIRouter(route_class=StrictJSONRoute, prefix="/connectors", tags=["connectors"])

#: The limits of a connector, whichever way it arrives (see docs/api.md).
DOCUMENT_LIMITS = (
    "A connector nests at most 64 levels and holds at most 200,000 values; its name is at "
    "most 200 characters and its slug 100; files are at most 200, 1 MiB each and 5 MiB in "
    "all; the whole body is at most CONNECTORY_MAX_BODY_BYTES (10 MiB by default, 413)."
)

_DOCUMENT_BODY = Body(
    description="A connector: the document itself (the structure of a connector YAML), "
    'or {"yaml": "<YAML or JSON text>"}, or {"document": {...}}; either of the last two may '
    'add "files": {"hooks/pre_request.js": "..."}. ' + DOCUMENT_LIMITS,
    openapi_examples={
        "document": {
            "summary": "A connector document",
            "value": {
                "name": "Weather",
                "base_url": "https://api.example.com",
                "operations": [{"name": "get_weather", "path": "/weather"}],
            },
        },
        "yaml": {
            "summary": "YAML text",
            "value": {"yaml": "name: Weather\nbase_url: https://api.example.com\n"},
        },
    },
)
ConnectorBody = Annotated[dict[str, Any], _DOCUMENT_BODY]

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A connector file (YAML or JSON) or a folder archive (.zip, .tar.gz). "
        "The kind is read from the first bytes, else from Content-Type.",
        "content": {
            "application/x-yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object", "description": DOCUMENT_LIMITS}},
            "application/zip": {"schema": {"type": "string", "format": "binary"}},
            "application/gzip": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.get(
    "",
    response_model=Page[ConnectorSummary],
    summary="List connectors",
)
async def list_connectors(
    session: SessionDep,
    principal: CurrentPrincipal,
    paging: Paging,
    type: Annotated[ConnectorType | None, Query(description="Only this type.")] = None,
    scope: Annotated[Scope | None, Query(description="catalogue or enterprise.")] = None,
    status_: Annotated[
        Status | None,
        Query(alias="status", description="draft (never published) or published."),
    ] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Name or slug contains (ignoring case).")
    ] = None,
    slug: Annotated[str | None, Query(max_length=100, description="Exactly this slug.")] = None,
    sort: Annotated[
        Sort,
        Query(
            description="Order: name, updated (last change), created or type; "
            "a leading - reverses it (-updated: most recently changed first)."
        ),
    ] = "name",
) -> Page[ConnectorSummary]:
    """List the connectors the caller can see: the published catalogue and their enterprise's."""
    check_query_text(q, "q")
    check_query_text(slug, "slug")
    filters = ConnectorFilters(type=type, scope=scope, status=status_, q=q, slug=slug, sort=sort)
    views, total = await connectors.list_connectors(
        session, principal, filters, paging.limit, paging.offset
    )
    return Page(
        items=[ConnectorSummary.of(view) for view in views],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.post(
    "",
    response_model=ConnectorCreated,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 409),
    summary="Create a connector",
)
@takes_connector_document
async def create_connector(
    body: ConnectorBody, session: SessionDep, principal: CurrentPrincipal, box: SecretBoxDep
) -> ConnectorCreated:
    """Create a connector (with a draft) in the caller's scope; problems are a 422 with places.

    Platform admins create catalogue connectors, enterprise admins with SDK access their
    enterprise's.
    """
    check_may_build_connectors(principal)
    source = await run_in_threadpool(check_body, body)
    return await _create(session, principal, source, box)


@router.post(
    "/upload",
    response_model=ConnectorCreated,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 409),
    openapi_extra=_UPLOAD_BODY,
    summary="Create a connector from a file or folder archive",
)
async def upload_connector(
    request: Request, session: SessionDep, principal: CurrentPrincipal, box: SecretBoxDep
) -> ConnectorCreated:
    """Create a connector from a YAML/JSON file or a .zip/.tar.gz of a connector folder."""
    check_may_build_connectors(principal)
    raw = await request.body()
    if not raw:
        raise InvalidRequest("the body is empty; send a connector file or folder archive")
    source = await run_in_threadpool(load_upload, raw, request.headers.get("content-type"))
    return await _create(session, principal, source, box)


async def _create(
    session: AsyncSession, principal: Principal, source: ConnectorSource, box: SecretBox
) -> ConnectorCreated:
    spec, document = source.valid()
    connector, _ = await connectors.create_connector(
        session, principal, spec, document, source.files or {}, box=box
    )
    await connectors.commit_or_conflict(session)
    view = await connectors.view_connector(session, principal, connector)
    out = ConnectorOut.of(view).model_dump()
    return ConnectorCreated(**out, problems=problems_out(source.problems))


@router.post("/validate", response_model=ValidationOut, summary="Check a connector")
@takes_connector_document
async def validate_connector(body: ConnectorBody, principal: CurrentPrincipal) -> ValidationOut:
    """Check a connector without saving it: every problem, warnings included, with places."""
    source = await run_in_threadpool(check_body, body)
    # As it would be stored: a sensitive default shows as the placeholder.
    document = conceal_defaults(source.valid()[1])[0] if source.ok else None
    return ValidationOut(
        ok=source.ok,
        problems=problems_out(source.problems),
        document=document,
        files=source.files or {},
    )


@router.post(
    "/import",
    response_model=ImportOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "Dry run: what the import would do.", "model": ImportOut},
        **error_responses(403, 404, 409),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "An export file (GET /connectors/{id}/export), as JSON.",
            "content": {"application/json": {"schema": ExportIn.model_json_schema()}},
        }
    },
    summary="Import a connector export",
)
async def import_connector(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
    box: SecretBoxDep,
    dry_run: Annotated[bool, Query(description="Check and report; change nothing.")] = False,
    as_new_version: Annotated[
        bool, Query(description="Import even if that slug and version exist here already.")
    ] = False,
    connector_id: Annotated[
        str | None,
        Query(max_length=64, description="Import as the next draft of this connector."),
    ] = None,
    history: Annotated[
        bool,
        Query(
            description="Recreate the file's version history (an export made with "
            "history=true) as published versions, in order, before the draft."
        ),
    ] = False,
) -> ImportOut:
    """Import an export as a draft: platform admins into the catalogue, SDK admins into theirs."""
    check_may_build_connectors(principal)
    # Read as bytes whatever the Content-Type: ``curl --data-binary @file`` sends a form type.
    data = exchange.parse_export(await request.body())
    result = await exchange.import_connector(
        session,
        principal,
        data,
        dry_run=dry_run,
        as_new_version=as_new_version,
        connector_id=connector_id,
        history=history,
        box=box,
    )
    if dry_run:
        response.status_code = status.HTTP_200_OK
    return ImportOut(
        dry_run=result.dry_run,
        action=result.action,
        scope=result.scope,
        slug=result.slug,
        name=result.name,
        version_in_file=result.version_in_file,
        connector_id=result.connector.id if result.connector is not None else None,
        draft=VersionSummary.of(result.draft) if result.draft is not None else None,
        problems=problems_out(result.warnings),
        diff=DiffOut.of(result.diff) if result.diff is not None else None,
        history=[HistoryStepOut(version=s.version, action=s.action) for s in result.history]
        if result.history is not None
        else None,
    )


@router.get(
    "/{connector_id}",
    response_model=ConnectorOut,
    responses=error_responses(404),
    summary="Get a connector",
)
async def get_connector(
    connector_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> ConnectorOut:
    """A connector: metadata, latest published version, and whether a draft exists."""
    connector = await connectors.find_connector(session, principal, connector_id)
    return ConnectorOut.of(await connectors.view_connector(session, principal, connector))


@router.delete(
    "/{connector_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(403, 404, 409),
    summary="Delete a connector",
)
async def delete_connector(
    connector_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Delete a connector no connection uses (409 names how many do)."""
    await connectors.delete_connector(session, principal, connector_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{connector_id}/openapi",
    response_class=Response,
    responses={
        200: {
            "description": "The OpenAPI description, byte for byte as it was imported.",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/yaml": {"schema": {"type": "string"}},
            },
        },
        **error_responses(404),
    },
    summary="The OpenAPI description kept with a connector version",
)
async def get_openapi_description(
    connector_id: IdPath,
    session: SessionDep,
    principal: CurrentPrincipal,
    version: Annotated[
        str | None,
        Query(max_length=64, description="1.2.0, latest or draft; default: draft, else latest."),
    ] = None,
) -> Response:
    """The description the version was imported from (404 when it has none)."""
    connector = await connectors.find_connector(session, principal, connector_id)
    ref = version
    if ref is None:
        ref = "draft" if await connectors.draft_of(session, connector) is not None else "latest"
    _, row = await get_version(session, principal, connector_id, ref)
    description = await load_description(session, row.id)
    if description is None:
        raise NotFound(
            f"the connector '{connector.slug}' ({ref}) keeps no OpenAPI description; import "
            "one with POST /connectors/import-openapi or reimport-openapi"
        )
    return Response(
        content=description.content,
        media_type=description.media_type,
        headers={"Content-Disposition": f'inline; filename="{description.filename}"'},
    )


@router.get(
    "/{connector_id}/export",
    response_class=Response,
    responses={
        200: {"description": "The export file (a download).", "model": ExportOut},
        **error_responses(404),
    },
    summary="Export a connector version",
)
async def export_connector(
    connector_id: IdPath,
    session: SessionDep,
    principal: CurrentPrincipal,
    version: Annotated[
        str | None,
        Query(max_length=64, description="1.2.0, latest or draft; default: latest, else draft."),
    ] = None,
    include_openapi: Annotated[
        bool,
        Query(description="Add the OpenAPI description kept with the version (field openapi)."),
    ] = False,
    history: Annotated[
        bool,
        Query(description="Add every published version, oldest first (field history)."),
    ] = False,
) -> Response:
    """One JSON file with the version's document and files; secrets are never included."""
    connector = await connectors.find_connector(session, principal, connector_id)
    ref = version or ("latest" if connector.latest_version else "draft")
    _, row = await get_version(session, principal, connector_id, ref)
    description = await load_description(session, row.id) if include_openapi else None
    versions = await published_versions(session, connector) if history else None
    content = exchange.render_export(exchange.build_export(connector, row, description, versions))
    filename = exchange.export_filename(connector, row)
    return Response(
        content=content,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
