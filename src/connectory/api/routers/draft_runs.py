"""``/connectors/{id}/draft/run``: try an operation of the draft with throwaway credentials.

This is the builder's Test tab. The credentials arrive with the request, are used for this one
call and are never stored or logged; the client is closed before the response is sent.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.api.deps import CurrentPrincipal, SessionDep
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.connections import OperationRunOut, SchemaMismatchOut, Values
from connectory.api.schemas.connectors import error_responses
from connectory.api.schemas.values import WHOLE_NUMBER, IdPath, ParameterObject
from connectory.errors import ConnectoryError, InvalidRequest, NotFound
from connectory.runtime import ConnectorClient
from connectory.services.connection_runtime import CONNECTOR_PARAMETERS_OWNER
from connectory.services.connector_versions import spec_of
from connectory.services.connectors import (
    draft_of,
    find_editable_connector,
    published_version,
)
from connectory.services.secret_store import SecretBox, read_secrets
from connectory.services.sensitive_defaults import runtime_spec
from connectory.services.server_runtime import transport_factory
from connectory.settings import Settings
from connectory.spec.connector import ConnectorSpec
from connectory.store.models import Connector

router = APIRouter(
    route_class=StrictJSONRoute, prefix="/connectors/{connector_id}", tags=["connector versions"]
)

#: Most pages a draft run reads, and how many of them keep their records in the answer.
MAX_PAGES = 20
PAGES_WITH_RECORDS = 3
RECORDS_PER_PAGE = 50


class DraftRunIn(BaseModel):
    """An operation to try on the draft, with test credentials used for this call only."""

    model_config = ConfigDict(extra="forbid", strict=True)
    operation: str = Field(min_length=1, max_length=200)
    params: ParameterObject = Field(default_factory=dict)
    credentials: Values = Field(default_factory=dict, max_length=100)
    connector_parameters: Values | None = Field(
        default=None, max_length=100, description="Default: the connector's stored parameters."
    )
    all_pages: bool = Field(default=False, description="Read every page (up to max_pages).")
    max_pages: Annotated[int, Field(ge=1, le=MAX_PAGES), WHOLE_NUMBER] = MAX_PAGES


class DraftPageOut(BaseModel):
    """One page of a paginated draft run."""

    number: int
    record_count: int
    status_code: int
    url: str
    elapsed: float
    schema_mismatches: list[SchemaMismatchOut]
    records: list[Any] | None = Field(description="The first pages' records (capped); else null.")


class DraftRunOut(OperationRunOut):
    """The call's result, and with all_pages the pages read."""

    version: str = Field(description="draft, or the published version that was run.")
    pages: list[DraftPageOut] | None = None
    error: str | None = Field(default=None, description="Why reading the pages stopped early.")


async def _spec_to_run(
    session: AsyncSession, box: SecretBox, connector: Connector
) -> tuple[ConnectorSpec, str]:
    draft = await draft_of(session, connector)
    version = draft or await published_version(session, connector, connector.latest_version)
    spec = spec_of(version) if version is not None else None
    if version is None or spec is None:
        raise InvalidRequest("the connector's draft is not valid; fix its problems first")
    return await runtime_spec(session, box, version.id, spec), version.version or "draft"


@router.post(
    "/draft/run",
    response_model=DraftRunOut,
    responses=error_responses(403, 404, 429, 502, 503, 504),
    summary="Try an operation of the draft",
)
async def run_draft_operation(
    connector_id: IdPath,
    body: DraftRunIn,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> DraftRunOut:
    """Run an operation of the draft (or the latest version) with test credentials.

    The credentials are used for this request only: never stored, logged or echoed (the
    request as sent and the upstream's body are redacted).
    """
    connector = await find_editable_connector(session, principal, connector_id)
    box: SecretBox = request.app.state.secret_box
    spec, label = await _spec_to_run(session, box, connector)
    if spec.operation(body.operation) is None:
        raise NotFound(f"the connector has no operation {body.operation[:200]!r}")
    settings: Settings = request.app.state.settings
    parameters: dict[str, Any] | None = body.connector_parameters
    if parameters is None:
        parameters = await read_secrets(session, box, CONNECTOR_PARAMETERS_OWNER, connector.id)
    await session.commit()  # release the database before calling the upstream
    client = ConnectorClient(
        spec,
        credentials=body.credentials,
        connector_parameters=parameters,
        transport=transport_factory(settings)(),
        pipeline=request.app.state.runtimes.pipeline,
        connection_key=f"draft:{connector.id}:{principal.user_id}",
        # A draft run draws on the connector's budget like the caller's connections do.
        connector_key=connector.id,
        # ... and its JavaScript runs in the caller's tenant's engine instances.
        tenant_key=principal.enterprise_id or "platform",
        js_engine=request.app.state.runtimes.js_engine,
    )
    async with client:
        result = await client.call(body.operation, body.params, raise_for_status=False)
        result.body = client.redactor.redact_data(result.body)
        out = DraftRunOut.model_validate({**result.to_dict(), "version": label})
        if body.all_pages and result.status_code < 400:
            out.pages, out.error = await _read_pages(client, body)
    return out


async def _read_pages(
    client: ConnectorClient, body: DraftRunIn
) -> tuple[list[DraftPageOut], str | None]:
    pages: list[DraftPageOut] = []
    try:
        # A test run answers one request: it is not paced (a rate-limit wait longer than a
        # page's timeout ends it with the pages read so far, as for a single call).
        pages_read = client.iter_pages(
            body.operation, body.params, max_pages=body.max_pages, pace=False
        )
        async for page in pages_read:
            keep = page.number <= PAGES_WITH_RECORDS
            pages.append(
                DraftPageOut(
                    number=page.number,
                    record_count=len(page.records),
                    status_code=page.status_code,
                    url=page.url,
                    elapsed=round(page.elapsed, 6),
                    schema_mismatches=[
                        SchemaMismatchOut(path=path, message=message)
                        for path, message in page.schema_mismatches
                    ],
                    records=client.redactor.redact_data(page.records[:RECORDS_PER_PAGE])
                    if keep
                    else None,
                )
            )
            if page.number >= body.max_pages:
                break
    except ConnectoryError as error:
        return pages, client.redactor.redact(str(error))
    return pages, None
