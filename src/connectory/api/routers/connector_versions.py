"""``/connectors/{id}/...``: the draft, publishing, version history and diffs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from starlette.concurrency import run_in_threadpool

from connectory.api.deps import CurrentPrincipal, SecretBoxDep, SessionDep
from connectory.api.pagination import Page, Paging
from connectory.api.routers.connectors import ConnectorBody
from connectory.api.routing import StrictJSONRoute, takes_connector_document
from connectory.api.schemas.connectors import (
    ConnectorSummary,
    DiffOut,
    DraftOut,
    PublishIn,
    PublishOut,
    PublishPreviewOut,
    SuggestionOut,
    VersionOut,
    VersionSummary,
    error_responses,
    problems_out,
)
from connectory.api.schemas.values import IdPath, VersionPath
from connectory.services import connector_versions as versions
from connectory.services import publishing
from connectory.services.connector_documents import check_body, check_changelog, check_document
from connectory.services.connectors import ConnectorView, find_editable_connector, may_edit

router = APIRouter(
    route_class=StrictJSONRoute, prefix="/connectors/{connector_id}", tags=["connector versions"]
)

_REF = "A version (1.2.0), latest, draft, or a version id"


@router.get(
    "/draft",
    response_model=DraftOut,
    responses=error_responses(404),
    summary="Get the draft",
)
async def get_draft(
    connector_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> DraftOut:
    """The draft's content, with what validation says about it now."""
    _, draft = await versions.get_draft(session, principal, connector_id)
    source = await run_in_threadpool(check_document, draft.document, files=dict(draft.files))
    return DraftOut(**VersionOut.of(draft).model_dump(), problems=problems_out(source.problems))


@router.put(
    "/draft",
    response_model=DraftOut,
    responses=error_responses(403, 404, 409),
    summary="Save the draft",
)
@takes_connector_document
async def save_draft(
    connector_id: IdPath,
    body: ConnectorBody,
    session: SessionDep,
    principal: CurrentPrincipal,
    box: SecretBoxDep,
) -> DraftOut:
    """Replace the draft (started from the latest version when there is none).

    The connector must be valid (422 lists every problem). The slug cannot change once the
    connector was published. Without ``files`` the draft keeps the files it had.
    """
    await find_editable_connector(session, principal, connector_id)
    source = await run_in_threadpool(check_body, body)
    saved = await versions.save_draft(session, principal, connector_id, source, box=box)
    return DraftOut(
        **VersionOut.of(saved.draft).model_dump(), problems=problems_out(saved.warnings)
    )


@router.delete(
    "/draft",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(403, 404, 409),
    summary="Discard the draft",
)
async def discard_draft(
    connector_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Throw the draft away; published versions are not touched."""
    await versions.discard_draft(session, principal, connector_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/publish-preview",
    response_model=PublishPreviewOut,
    responses=error_responses(404),
    summary="What publishing would do",
)
async def publish_preview(
    connector_id: IdPath, session: SessionDep, principal: CurrentPrincipal, box: SecretBoxDep
) -> PublishPreviewOut:
    """The publish checklist: permission, validity, operations, changes; bump and diff."""
    plan = await publishing.plan_publish(session, principal, connector_id, box=box)
    return PublishPreviewOut.of(plan)


@router.post(
    "/publish",
    response_model=PublishOut,
    responses=error_responses(403, 404, 409),
    summary="Publish the draft",
)
async def publish(
    connector_id: IdPath,
    body: PublishIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    box: SecretBoxDep,
) -> PublishOut:
    """Publish the draft as the next version (1.0.0 first) and freeze it.

    The bump defaults to the suggested one. 422 lists the problems when the draft is invalid
    or has no operation; 409 when nothing changed since the latest version.
    """
    changelog = (
        check_changelog(body.changelog, ("body", "changelog"))
        if body.changelog is not None
        else None
    )
    published = await publishing.publish_draft(
        session,
        principal,
        connector_id,
        bump=body.bump,
        changelog=changelog,
        scope=body.scope,
        box=box,
    )
    view = ConnectorView(
        published.connector, has_draft=False, can_edit=may_edit(principal, published.connector)
    )
    return PublishOut(
        connector=ConnectorSummary.of(view),
        version=VersionSummary.of(published.version),
        bump=published.bump,
        suggested_bump=SuggestionOut.of(published.suggestion),
    )


@router.get(
    "/versions",
    response_model=Page[VersionSummary],
    responses=error_responses(404),
    summary="Version history",
)
async def list_versions(
    connector_id: IdPath, session: SessionDep, principal: CurrentPrincipal, paging: Paging
) -> Page[VersionSummary]:
    """The published versions, newest first: who published them, when, and the changelog."""
    _, rows, total = await versions.list_versions(
        session, principal, connector_id, paging.limit, paging.offset
    )
    return Page(
        items=[VersionSummary.of(row) for row in rows],
        total=total,
        limit=paging.limit,
        offset=paging.offset,
    )


@router.get(
    "/versions/{version}",
    response_model=VersionOut,
    responses=error_responses(404),
    summary="Get a version",
)
async def get_version(
    connector_id: IdPath, version: VersionPath, session: SessionDep, principal: CurrentPrincipal
) -> VersionOut:
    """One version's document and files: 1.2.0, latest or draft."""
    _, row = await versions.get_version(session, principal, connector_id, version[:64])
    return VersionOut.of(row)


@router.get(
    "/diff",
    response_model=DiffOut,
    responses=error_responses(404),
    summary="Compare two versions",
)
async def diff(
    connector_id: IdPath,
    session: SessionDep,
    principal: CurrentPrincipal,
    box: SecretBoxDep,
    from_: Annotated[
        str | None, Query(alias="from", max_length=64, description=f"{_REF}; default latest.")
    ] = None,
    to: Annotated[str | None, Query(max_length=64, description=f"{_REF}; default draft.")] = None,
) -> DiffOut:
    """What changed between two versions (default: latest published -> draft).

    Either side may be a version id of another connector the caller can see.
    """
    result = await versions.diff_connector_versions(
        session, principal, connector_id, from_, to, box=box
    )
    return DiffOut.of(result)
