"""``/connectors/{id}/draft/collections/run``: try a collection method of the draft.

The builder's Data tab. As for operations (``draft/run``), the test credentials arrive with
the request, are used for this one call and are never stored or logged. The answer shows the
records the method produced and the calls it made (method, redacted URL, status), so the
author sees how the collection maps onto the API.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from connectory.api.deps import CurrentPrincipal, SessionDep
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.connections import Values
from connectory.api.schemas.connectors import error_responses
from connectory.api.schemas.records import CollectionParameters, RecordFields
from connectory.api.schemas.values import WHOLE_NUMBER, IdPath
from connectory.errors import ConnectoryError
from connectory.runtime import ConnectorClient
from connectory.services.connectors import find_editable_connector
from connectory.services.draft_clients import draft_client, draft_parameters, spec_to_run
from connectory.services.secret_store import SecretBox

router = APIRouter(
    route_class=StrictJSONRoute, prefix="/connectors/{connector_id}", tags=["connector versions"]
)

#: Records a draft run answers with, at most.
MAX_RECORDS = 50
#: Requests a draft run records, at most.
MAX_CALLS = 20

Method = Literal["list", "find_by_id", "match", "search", "create", "update", "delete", "describe"]


class DraftCollectionRunIn(BaseModel):
    """A collection method to try on the draft, with test credentials for this call only."""

    model_config = ConfigDict(extra="forbid", strict=True)
    collection: str = Field(min_length=1, max_length=200)
    method: Method
    credentials: Values = Field(default_factory=dict, max_length=100)
    connector_parameters: Values | None = Field(default=None, max_length=100)
    parameters: CollectionParameters = Field(default_factory=dict)
    filters: CollectionParameters = Field(default_factory=dict)
    fields: RecordFields = Field(default_factory=dict)
    id: str | None = Field(default=None, max_length=500)
    query: str | None = Field(default=None, max_length=500)
    cursor: str | None = Field(default=None, max_length=8192)
    page_size: Annotated[int, Field(ge=1, le=1000), WHOLE_NUMBER] | None = None


class CallOut(BaseModel):
    """One request the method made."""

    method: str
    url: str
    status_code: int | None


class DraftCollectionRunOut(BaseModel):
    """What the method produced and the calls it made; ``error`` when it failed."""

    records: list[dict[str, Any]]
    cursor: str | None = None
    spec: dict[str, Any] | None = None
    calls: list[CallOut]
    error: str | None = None
    error_code: str | None = None


@router.post(
    "/draft/collections/run",
    response_model=DraftCollectionRunOut,
    responses=error_responses(403, 404),
    summary="Try a collection method of the draft",
)
async def run_draft_collection(
    connector_id: IdPath,
    body: DraftCollectionRunIn,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> DraftCollectionRunOut:
    """Run one collection method of the draft (or the latest version) with test credentials.

    Errors of the method itself (invalid fields, not supported, not found, an upstream error)
    are part of the answer (``error``, ``error_code``) with the calls made so far.
    """
    connector = await find_editable_connector(session, principal, connector_id)
    box: SecretBox = request.app.state.secret_box
    spec, _ = await spec_to_run(session, box, connector)
    parameters = await draft_parameters(session, box, connector, body.connector_parameters)
    await session.commit()  # release the database before calling the upstream
    state = request.app.state
    # Only each request's method, URL and status are shown: no body is kept.
    recorder, client = draft_client(
        state.settings,
        state.runtimes,
        connector,
        principal,
        spec,
        body.credentials,
        parameters,
        keep_bytes=0,
    )
    out = DraftCollectionRunOut(records=[], calls=[])
    async with client:
        try:
            await _run(client, body, out)
        except ConnectoryError as error:
            from connectory.api.problems import status_of

            out.error = client.redactor.redact(str(error))
            out.error_code = status_of(error)[1]
        out.records = client.redactor.redact_data(out.records[:MAX_RECORDS])
        out.calls = [
            CallOut(
                method=exchange.method,
                url=client.redactor.redact_url(exchange.url),
                status_code=exchange.status_code,
            )
            for exchange in recorder.take()[:MAX_CALLS]
        ]
    return out


async def _run(
    client: ConnectorClient, body: DraftCollectionRunIn, out: DraftCollectionRunOut
) -> None:
    collection = client.collection(body.collection)
    params = body.parameters
    if body.method == "describe":
        out.spec = client.redactor.redact_data(await collection.describe())
    elif body.method == "list":
        page = await collection.list_page(
            filters=body.filters, parameters=params, cursor=body.cursor, page_size=body.page_size
        )
        out.records, out.cursor = [r.to_dict(include_raw=True) for r in page.records], page.cursor
    elif body.method == "find_by_id":
        out.records = [
            (
                await collection.find_by_id(body.id or "", parameters=params, include_raw=True)
            ).to_dict(include_raw=True)
        ]
    elif body.method == "match":
        found = await collection.match(body.fields, parameters=params, include_raw=True)
        out.records = [found.to_dict(include_raw=True)] if found is not None else []
    elif body.method == "search":
        found_all = await collection.search(
            body.query or "", filters=body.filters, parameters=params, include_raw=True
        )
        out.records = [r.to_dict(include_raw=True) for r in found_all]
    elif body.method == "create":
        out.records = [
            (await collection.create(body.fields, parameters=params, include_raw=True)).to_dict(
                include_raw=True
            )
        ]
    elif body.method == "update":
        record = await collection.update(
            body.id or "", body.fields, parameters=params, include_raw=True
        )
        out.records = [record.to_dict(include_raw=True)]
    else:
        await collection.delete(body.id or "", parameters=params)
