"""``/connectors/import-openapi`` and ``/connectors/{id}/reimport-openapi``.

The body is the OpenAPI or Swagger document itself (JSON or YAML, any content type), or
``{"url": "https://..."}`` to have the server fetch it (through the egress guard, with a size
cap and a timeout). A document that cannot be imported is a 422 listing every problem with its
JSON pointer, never a 500.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import StringConstraints

from connectory.api.deps import CurrentPrincipal, SecretBoxDep, SessionDep, SettingsDep
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.connectors import (
    ChangeOut,
    NamedChangesOut,
    SuggestionOut,
    VersionSummary,
    error_responses,
)
from connectory.api.schemas.openapi_import import (
    ImportWarningOut,
    OpenAPIImportOut,
    ReimportOut,
)
from connectory.api.schemas.values import IdPath
from connectory.errors import FieldIssue, InvalidRequest, SpecError
from connectory.openapi import ImportResult
from connectory.services import openapi_import
from connectory.services.access import check_may_build_connectors
from connectory.services.connector_versions import label_of
from connectory.services.connectors import find_editable_connector
from connectory.services.openapi_import import (
    DocumentSource,
    ImportOptions,
    pagination_acceptance,
)
from connectory.services.server_runtime import transport_factory
from connectory.settings import Settings

router = APIRouter(route_class=StrictJSONRoute, prefix="/connectors", tags=["openapi import"])

_MAX_FILTERS = 200
#: Longest document URL accepted.
MAX_URL_CHARS = 2000

_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The OpenAPI 3.x or Swagger 2.0 document (JSON or YAML), or "
        '{"url": "https://..."} to fetch it from there.',
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {
                            "type": "object",
                            "required": ["url"],
                            "properties": {
                                "url": {
                                    "type": "string",
                                    "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@]",
                                    "maxLength": MAX_URL_CHARS,
                                }
                            },
                            "additionalProperties": False,
                        },
                        {
                            "type": "object",
                            "description": "The document itself.",
                            # Anything but exactly {"url": ...}, so the branches never overlap.
                            "not": {"required": ["url"], "maxProperties": 1},
                        },
                    ]
                }
            },
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}

#: A tag, operation id or operation name in a query filter.
FilterName = Annotated[str, StringConstraints(max_length=200)]

Tags = Annotated[
    list[FilterName] | None,
    Query(max_length=_MAX_FILTERS, description="Only operations with one of these tags."),
]
OperationIds = Annotated[
    list[FilterName] | None,
    Query(
        max_length=_MAX_FILTERS,
        description="Only these operations (operationId or connector name); with tags, "
        "operations matching either.",
    ),
]
AuthScheme = Annotated[
    str | None,
    Query(max_length=200, description="The security scheme to build the auth block from."),
]
AcceptPagination = Annotated[bool, Query(description="Apply every pagination suggestion.")]
AcceptPaginationFor = Annotated[
    list[FilterName] | None,
    Query(
        max_length=_MAX_FILTERS,
        description="Apply the pagination suggestions of these operations (connector names) "
        "only; a name with no suggestion is refused.",
    ),
]
AcceptCollections = Annotated[bool, Query(description="Add every suggested collection.")]
AcceptCollection = Annotated[
    list[FilterName] | None,
    Query(
        max_length=_MAX_FILTERS,
        description="Add these suggested collections (by key) only; a key not suggested is "
        "refused.",
    ),
]
DryRun = Annotated[bool, Query(description="Import and report; store nothing.")]


def import_choices(
    tags: Tags = None,
    operation_ids: OperationIds = None,
    auth_scheme: AuthScheme = None,
    accept_pagination: AcceptPagination = False,
    accept_pagination_for: AcceptPaginationFor = None,
    accept_collections: AcceptCollections = False,
    accept_collection: AcceptCollection = None,
) -> ImportOptions:
    """What to import and accept, from the query (the same for an import and a re-import)."""
    return ImportOptions(
        tags,
        operation_ids,
        auth_scheme,
        pagination_acceptance(accept_pagination, accept_pagination_for),
        pagination_acceptance(accept_collections, accept_collection),
    )


#: An import's choices (:func:`import_choices`), taken from the query.
ImportChoices = Annotated[ImportOptions, Depends(import_choices)]


@router.post(
    "/import-openapi",
    response_model=OpenAPIImportOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "Dry run: what the import would create.", "model": OpenAPIImportOut},
        **error_responses(403, 409, 502, 504),
    },
    openapi_extra=_BODY,
    summary="Create a connector from an OpenAPI document",
)
async def import_openapi_document(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    box: SecretBoxDep,
    options: ImportChoices,
    dry_run: DryRun = False,
) -> OpenAPIImportOut:
    """Import an OpenAPI 3.0/3.1 or Swagger 2.0 document as a new connector's draft.

    Warnings say what the connector cannot express (with JSON pointers); pagination is only
    suggested unless ``accept_pagination`` is set.
    """
    check_may_build_connectors(principal)
    result = await _import(request, settings, options)
    if dry_run:
        response.status_code = status.HTTP_200_OK
        source = openapi_import.check_imported(result)
        return OpenAPIImportOut(
            dry_run=True,
            ok=source.ok,
            connector_id=None,
            draft=None,
            operations=len(result.connector["operations"]),
            document=result.connector,
            **OpenAPIImportOut.details(result, source.problems),
        )
    created = await openapi_import.create_draft(session, principal, result, box=box)
    return OpenAPIImportOut(
        dry_run=False,
        ok=True,
        connector_id=created.connector.id,
        draft=VersionSummary.of(created.draft),
        operations=len(result.connector["operations"]),
        document=created.draft.document,
        **OpenAPIImportOut.details(result, created.problems),
    )


@router.post(
    "/{connector_id}/reimport-openapi",
    response_model=ReimportOut,
    responses=error_responses(403, 404, 409, 502, 504),
    openapi_extra=_BODY,
    summary="Re-import a newer OpenAPI document into a connector",
)
async def reimport_openapi_document(
    connector_id: IdPath,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    box: SecretBoxDep,
    options: ImportChoices,
    dry_run: DryRun = False,
) -> ReimportOut:
    """Show what a newer document changes, and unless ``dry_run`` make it the draft.

    The diff lists operations added, removed and changed. The document owns the operations;
    the connector keeps its own settings (name, base URL, auth, resilience) and what was added
    to operations that remain (pagination, record selectors, resilience).
    """
    await find_editable_connector(session, principal, connector_id)
    result = await _import(request, settings, options)
    outcome = await openapi_import.reimport(
        session, principal, connector_id, result, dry_run=dry_run, box=box
    )
    diff = outcome.diff
    return ReimportOut(
        dry_run=dry_run,
        connector_id=outcome.connector.id,
        compared_with=label_of(outcome.base),
        compared_with_id=outcome.base.id,
        changed=diff.changed,
        operations=NamedChangesOut(**vars(diff.operations)),
        changes=[ChangeOut(path=c.path, kind=c.kind, old=c.old, new=c.new) for c in diff.changes],
        unified=diff.unified,
        drift=outcome.drift,
        suggested_bump=SuggestionOut.of(outcome.suggestion),
        notes=[ImportWarningOut.of(note) for note in outcome.notes],
        draft=VersionSummary.of(outcome.saved.draft) if outcome.saved is not None else None,
        document=outcome.document,
        **ReimportOut.details(result, outcome.problems),
    )


async def _import(request: Request, settings: Settings, options: ImportOptions) -> ImportResult:
    raw = await request.body()
    if not raw.strip():
        raise InvalidRequest(
            'the body is empty; send the OpenAPI document, or {"url": "https://..."}',
            [FieldIssue(("body",), "empty")],
        )
    url = _url_of(raw)
    source = DocumentSource(url=url) if url is not None else DocumentSource(content=raw)
    try:
        return await openapi_import.import_document(
            source, options, transport_factory=transport_factory(settings)
        )
    except SpecError:
        raise
    except RecursionError:  # defence in depth: the transform catches its own
        raise InvalidRequest("the document is nested too deeply to import") from None


def _url_of(raw: bytes) -> str | None:
    """The URL of a ``{"url": ...}`` body; None when the body is a document."""
    if not raw.lstrip().startswith(b"{") or len(raw) > 10_000:
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or set(data) != {"url"}:
        return None
    if not isinstance(data["url"], str):
        raise InvalidRequest("url must be text", [FieldIssue(("body", "url"), "expected text")])
    url: str = data["url"]
    if len(url) > MAX_URL_CHARS:
        message = f"the URL is longer than {MAX_URL_CHARS} characters"
        raise InvalidRequest(message, [FieldIssue(("body", "url"), message)])
    return url
