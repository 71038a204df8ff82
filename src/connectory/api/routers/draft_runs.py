"""``/connectors/{id}/draft/run``: try an operation of the draft with throwaway credentials.

This is the builder's Test tab. The credentials arrive with the request, are used for this one
call and are never stored or logged; the client is closed before the response is sent.

A paginated operation is read as the connector reads it (Send: its first page, page parameters
included); the client's transport records each exchange so every page's request and response
can be shown, redacted (:mod:`connectory.services.draft_exchanges`). ``/draft/collection-read``
reads the first page of a collection's list the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from connectory.api.deps import CurrentPrincipal, SessionDep
from connectory.api.routing import StrictJSONRoute
from connectory.api.schemas.connections import (
    OperationRunOut,
    SchemaMismatchOut,
    SentRequestOut,
    Values,
)
from connectory.api.schemas.connectors import error_responses
from connectory.api.schemas.values import WHOLE_NUMBER, IdPath, ParameterObject
from connectory.errors import (
    AuthError,
    ConnectoryError,
    NotFound,
    UpstreamError,
)
from connectory.runtime import ConnectorClient
from connectory.runtime.records import Selector, extract_records
from connectory.runtime.results import Page
from connectory.services.connectors import (
    find_editable_connector,
)
from connectory.services.draft_clients import draft_client, draft_parameters, spec_to_run
from connectory.services.draft_exchanges import (
    Exchange,
    ExchangeRecorder,
    body_data,
    describe,
    describe_request,
)
from connectory.services.secret_store import SecretBox
from connectory.spec.connector import ConnectorSpec
from connectory.spec.operations import OperationSpec

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


class PageResponseOut(BaseModel):
    """What the upstream answered for one page (redacted; the body as text, capped)."""

    status_code: int | None
    headers: dict[str, str]
    body: str | None


class DraftPageOut(BaseModel):
    """One page of a paginated draft run, with its request and response as sent and received."""

    number: int
    record_count: int
    status_code: int
    url: str
    elapsed: float
    schema_mismatches: list[SchemaMismatchOut]
    records: list[Any] | None = Field(description="The first pages' records (capped); else null.")
    request: SentRequestOut | None = Field(
        default=None, description="The page's request as sent (its last attempt), redacted."
    )
    response: PageResponseOut | None = Field(
        default=None, description="What the upstream answered for the page, redacted."
    )
    attempts: int = Field(
        default=1, description="Requests the page took (retries and token requests included)."
    )


class DraftRunOut(OperationRunOut):
    """The call's result, and with all_pages the pages read."""

    version: str = Field(description="draft, or the published version that was run.")
    pages: list[DraftPageOut] | None = None
    records: list[Any] | None = Field(
        default=None,
        description="The records extracted from the (first page's) response, capped; null "
        "when the response has none to extract.",
    )
    note: str | None = Field(
        default=None, description="How this run differs from a read, when it does."
    )
    error: str | None = Field(default=None, description="Why reading the pages stopped early.")


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
    spec, label = await spec_to_run(session, box, connector)
    operation = spec.operation(body.operation)
    if operation is None:
        raise NotFound(f"the connector has no operation {body.operation[:200]!r}")
    parameters = await draft_parameters(session, box, connector, body.connector_parameters)
    await session.commit()  # release the database before calling the upstream
    state = request.app.state
    recorder, client = draft_client(
        state.settings, state.runtimes, connector, principal, spec, body.credentials, parameters
    )
    async with client:
        paged = operation.pagination is not None and not operation.is_javascript
        if paged and not _has_hooks(spec, operation):
            # Send previews exactly the first page a read sends (page parameters included).
            return await _paged_run(client, recorder, body, label)
        result = await client.call(body.operation, body.params, raise_for_status=False)
        result.body = client.redactor.redact_data(result.body)
        out = DraftRunOut.model_validate({**result.to_dict(), "version": label})
        if paged and not body.all_pages:
            out.note = HOOKS_NOTE
        if result.status_code < 400:
            out.records = _records(operation, result.body)
        if body.all_pages and result.status_code < 400:
            recorder.take()
            read = await _read_pages(client, recorder, body)
            out.pages = read.pages
            out.error = client.redactor.redact(str(read.failure)) if read.failure else None
    return out


#: Why Send on a paginated operation with hooks is a single call rather than the first page.
HOOKS_NOTE = (
    "JavaScript hooks run around this operation: Send made a single call, so that their log "
    "and the request before hooks can be shown, without the paginator's first-page parameters. "
    "Read every page reads the pages exactly as the connector does."
)


def _has_hooks(spec: ConnectorSpec, operation: OperationSpec) -> bool:
    """Whether pre-request or post-response hooks run around *operation*'s requests."""
    hooks = [spec.hooks, operation.hooks]
    return any(h is not None and (h.pre_request or h.post_response) for h in hooks)


class DraftCollectionReadIn(BaseModel):
    """The first page of a collection's list on the draft, with test credentials."""

    model_config = ConfigDict(extra="forbid", strict=True)
    collection: str = Field(min_length=1, max_length=200)
    page_size: Annotated[int, Field(ge=1, le=RECORDS_PER_PAGE), WHOLE_NUMBER] | None = None
    credentials: Values = Field(default_factory=dict, max_length=100)
    connector_parameters: Values | None = Field(
        default=None, max_length=100, description="Default: the connector's stored parameters."
    )


class ExchangeOut(BaseModel):
    """One request the read sent and what came back, redacted."""

    request: SentRequestOut
    status_code: int | None
    headers: dict[str, str]
    body: str | None


class DraftCollectionReadOut(BaseModel):
    """The records of the first page (uniform shape), and the requests that read them."""

    collection: str
    version: str
    records: list[Any] = Field(description="The first page's records (capped), redacted.")
    next_cursor: str | None = Field(description="Set when the list has more pages.")
    exchanges: list[ExchangeOut] = Field(description="The requests sent, in order (capped).")
    error: str | None = Field(default=None, description="Why the read failed, if it did.")
    schema_mismatches: list[SchemaMismatchOut] = Field(
        default_factory=list,
        description=(
            "Where the page's records do not fit the collection's fields_schema (a published "
            "connector's list refuses such a page; here the records are shown, to adopt a schema)."
        ),
    )


@router.post(
    "/draft/collection-read",
    response_model=DraftCollectionReadOut,
    responses=error_responses(403, 404, 429, 502, 503, 504),
    summary="Read the first page of a collection of the draft",
)
async def read_draft_collection(
    connector_id: IdPath,
    body: DraftCollectionReadIn,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> DraftCollectionReadOut:
    """List the first page of a collection of the draft with test credentials (never stored).

    An upstream error (a refused key, a 404) is an answer: its message is in ``error`` and
    the exchanges show what was sent and received.
    """
    connector = await find_editable_connector(session, principal, connector_id)
    box: SecretBox = request.app.state.secret_box
    spec, label = await spec_to_run(session, box, connector)
    if not any(collection.key == body.collection for collection in spec.collections):
        raise NotFound(f"the connector has no collection {body.collection[:200]!r}")
    parameters = await draft_parameters(session, box, connector, body.connector_parameters)
    await session.commit()  # release the database before calling the upstream
    state = request.app.state
    recorder, client = draft_client(
        state.settings, state.runtimes, connector, principal, spec, body.credentials, parameters
    )
    out = DraftCollectionReadOut(
        collection=body.collection, version=label, records=[], next_cursor=None, exchanges=[]
    )
    async with client:
        try:
            # Reported rather than raised: the Test tab shows the records that do not fit the
            # fields schema, so the user can adopt the schema they imply.
            page = await client.collection(body.collection).list_page(
                page_size=body.page_size, schema_mismatches="report"
            )
            records = [record.to_dict() for record in page.records[:RECORDS_PER_PAGE]]
            out.records = client.redactor.redact_data(records)
            out.next_cursor = page.cursor
            out.schema_mismatches = [
                SchemaMismatchOut(path=path, message=message)
                for path, message in page.schema_mismatches
            ]
        except (UpstreamError, AuthError) as error:
            out.error = client.redactor.redact(str(error))
        out.exchanges = [
            ExchangeOut.model_validate(describe(exchange, client.redactor))
            for exchange in recorder.take()[:MAX_PAGES]
        ]
    return out


def _records(operation: OperationSpec, body: Any) -> list[Any] | None:
    """The records of a single call's (redacted) body, capped; None when it holds none."""
    selector = Selector.parse(operation.record_selector) if operation.record_selector else None
    try:
        records = extract_records(body, selector)
    except ConnectoryError:
        return None
    return records[:RECORDS_PER_PAGE] if isinstance(body, (dict, list)) else None


def _page_out(
    client: ConnectorClient, page: Page, exchanges: list[Exchange], keep: bool
) -> DraftPageOut:
    last = exchanges[-1] if exchanges else None
    shown = describe(last, client.redactor) if last is not None else None
    return DraftPageOut(
        number=page.number,
        record_count=len(page.records),
        status_code=page.status_code,
        url=page.url,
        elapsed=round(page.elapsed, 6),
        schema_mismatches=[
            SchemaMismatchOut(path=path, message=message)
            for path, message in page.schema_mismatches
        ],
        records=client.redactor.redact_data(page.records[:RECORDS_PER_PAGE]) if keep else None,
        request=SentRequestOut.model_validate(shown["request"]) if shown else None,
        response=PageResponseOut.model_validate(shown) if shown else None,
        attempts=max(len(exchanges), 1),
    )


async def _paged_run(
    client: ConnectorClient, recorder: ExchangeRecorder, body: DraftRunIn, label: str
) -> DraftRunOut:
    """Read a paginated operation as the connector will: the first page, or up to max_pages.

    The answer's request, status, headers and body are the first page's exchange; ``pages``
    lists every page read when all_pages is asked for.
    """
    started = time.perf_counter()
    read = await _read_pages(client, recorder, body, max_pages=None if body.all_pages else 1)
    error = client.redactor.redact(str(read.failure)) if read.failure else None
    if not read.pages:
        failed = recorder.take()
        last = failed[-1] if failed else None
        if last is None or last.status_code is None:
            assert read.failure is not None  # no page and no answer: the read failed
            raise read.failure
        # The first page's answer was an error status (or unreadable): shown like a call's.
        return DraftRunOut(
            operation=body.operation,
            status_code=last.status_code,
            headers=client.redactor.redact_headers(dict(last.response_headers)),
            body=body_data(last, client.redactor),
            elapsed=round(time.perf_counter() - started, 6),
            schema_mismatches=[],
            request=SentRequestOut.model_validate(describe_request(last, client.redactor)),
            version=label,
            error=error if last.status_code < 400 else None,
        )
    first = read.pages[0]
    return DraftRunOut(
        operation=body.operation,
        status_code=first.status_code,
        headers=first.response.headers if first.response else {},
        body=read.first_body,
        elapsed=first.elapsed,
        schema_mismatches=first.schema_mismatches,
        request=first.request,
        version=label,
        records=first.records,
        pages=read.pages if body.all_pages else None,
        error=error,
    )


@dataclass(slots=True)
class _PagesRead:
    pages: list[DraftPageOut] = field(default_factory=list)
    first_body: Any = None
    failure: ConnectoryError | None = None


async def _read_pages(
    client: ConnectorClient,
    recorder: ExchangeRecorder,
    body: DraftRunIn,
    max_pages: int | None = None,
) -> _PagesRead:
    limit = max_pages or body.max_pages
    read = _PagesRead()
    try:
        # A test run answers one request: it is not paced (a rate-limit wait longer than a
        # page's timeout ends it with the pages read so far, as for a single call).
        pages_read = client.iter_pages(body.operation, body.params, max_pages=limit, pace=False)
        async for page in pages_read:
            exchanges = recorder.take()
            keep = page.number <= PAGES_WITH_RECORDS
            read.pages.append(_page_out(client, page, exchanges, keep))
            if page.number == 1 and exchanges:
                read.first_body = body_data(exchanges[-1], client.redactor)
            if page.number >= limit:
                break
    except ConnectoryError as error:
        read.failure = error
    return read
