"""Streams of a connector for data pipelines: what there is to read, and reading it resumably.

A stream is a collection with ``list`` (records of the one shape: ``id``, ``name``,
``fields``, ``created_at``, ``updated_at``) or a list operation (a GET with pagination or a
record selector, and no required input left open). A collection whose ``list`` filters by
``updated_since`` is incremental: its bookmark is the newest ``updated_at`` read, and the next
run asks the API for records updated since then. Every stream is resumable: after each page
the bookmark holds the position of the next one, so a run stopped halfway continues there.

Bookmarks, one per stream (the Singer state's ``bookmarks``, Airbyte's ``stream_state``)::

    {"updated_at": "2024-05-02T10:00:00Z"}                   # a finished incremental read
    {"since": "...", "cursor": "...", "max_seen": "..."}     # a read stopped after a page

Reading holds one page in memory; records are handed out as the page is read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from connectory.collections.cursor import binding, decode_cursor, encode_cursor
from connectory.runtime import ConnectorClient
from connectory.spec.connector import ConnectorSpec
from connectory.spec.operations import OperationSpec
from connectory.spec.shared_schemas import bundle_schema, resolve_shared

StreamKind = Literal["collection", "operation"]
REPLICATION_KEY = "updated_at"
_TIME = {"type": ["string", "null"], "format": "date-time"}


@dataclass(frozen=True)
class StreamSpec:
    """One stream a connector offers.

    Attributes:
        name: The stream's name (the collection's key or the operation's name).
        kind: ``collection`` or ``operation``.
        schema: JSON Schema of one record.
        key_properties: The fields that identify a record.
        incremental: True when the stream reads what changed since its bookmark.
        description: What the stream holds.
    """

    name: str
    kind: StreamKind
    schema: dict[str, Any]
    key_properties: list[str] = field(default_factory=list)
    incremental: bool = False
    description: str = ""

    @property
    def replication_key(self) -> str | None:
        """``updated_at`` for an incremental stream."""
        return REPLICATION_KEY if self.incremental else None


def discover_streams(
    spec: ConnectorSpec, parameters: Mapping[str, Any] | None = None
) -> list[StreamSpec]:
    """The streams of *spec*: collections with ``list``, then list operations.

    Args:
        spec: The connector.
        parameters: Inputs per stream (``{stream: {name: value}}``) for streams that need some;
            a stream with a required input not given here is left out.
    """
    given = parameters or {}
    streams: list[StreamSpec] = []
    for collection in spec.collections:
        method = collection.methods.list
        if method is None:
            continue
        needs = {**collection.parameters, **method.parameters}
        provided = given.get(collection.key, {})
        if any(f.required and f.default is None and n not in provided for n, f in needs.items()):
            continue
        fields = bundle_schema(resolve_shared(collection.fields_schema, spec.schemas), spec.schemas)
        schema = {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "name": {"type": ["string", "null"]},
                "fields": fields if isinstance(fields, Mapping) else {"type": "object"},
                "created_at": dict(_TIME),
                "updated_at": dict(_TIME),
            },
            "required": ["id"],
        }
        streams.append(
            StreamSpec(
                name=collection.key,
                kind="collection",
                schema=schema,
                key_properties=["id"],
                incremental="updated_since" in method.filters,
                description=collection.description or collection.title,
            )
        )
    taken = {stream.name for stream in streams}
    for operation in spec.operations:
        if operation.name in taken or not _is_list_operation(
            operation, given.get(operation.name, {})
        ):
            continue
        streams.append(
            StreamSpec(
                name=operation.name,
                kind="operation",
                schema=_record_schema(operation, spec),
                key_properties=[],
                description=operation.description or operation.title,
            )
        )
    return streams


def _is_list_operation(operation: OperationSpec, provided: Mapping[str, Any]) -> bool:
    if operation.method != "GET" or (
        operation.pagination is None and not operation.record_selector
    ):
        return False
    placeholders = set(operation.path_placeholders())
    return all(
        parameter.default is not None or parameter.name in provided
        for parameter in operation.parameters
        if parameter.required or parameter.name in placeholders
    )


def _record_schema(operation: OperationSpec, spec: ConnectorSpec) -> dict[str, Any]:
    """The schema of one record: the response schema followed down the record selector."""
    schema: Any = resolve_shared(operation.response_schema or {}, spec.schemas)
    selector = operation.record_selector
    for key in selector.split(".") if selector else []:
        properties = schema.get("properties") if isinstance(schema, Mapping) else None
        schema = resolve_shared((properties or {}).get(key, {}), spec.schemas)
    if isinstance(schema, Mapping) and schema.get("type") == "array":
        schema = resolve_shared(schema.get("items", {}), spec.schemas)
    bundled = bundle_schema(schema, spec.schemas) if isinstance(schema, Mapping) else None
    if not isinstance(bundled, Mapping) or bundled.get("type") not in ("object", None):
        return {"type": "object"}
    return dict(bundled) if bundled else {"type": "object"}


@dataclass
class Batch:
    """One page of a stream: its records, and the bookmark to keep once they are written."""

    records: list[dict[str, Any]]
    bookmark: dict[str, Any]
    done: bool


async def read_stream(
    client: ConnectorClient,
    stream: StreamSpec,
    bookmark: Mapping[str, Any] | None,
    *,
    start_date: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    incremental: bool = True,
) -> AsyncIterator[Batch]:
    """Read *stream* page by page from *bookmark* (or from the start).

    Args:
        client: The connection.
        stream: The stream.
        bookmark: The stream's bookmark from the last run (None: first run).
        start_date: For a first incremental run: read what changed since then (RFC 3339).
        parameters: The stream's inputs (collection parameters, operation parameters).
        incremental: False reads an incremental stream in full (and still bookmarks it).

    Raises:
        InputError: a bookmark that does not belong to this stream's listing.
    """
    if stream.kind == "collection":
        batches = _read_collection(
            client, stream, dict(bookmark or {}), start_date, parameters, incremental
        )
    else:
        batches = _read_operation(client, stream, dict(bookmark or {}), parameters)
    async for batch in batches:
        yield batch


async def _read_collection(
    client: ConnectorClient,
    stream: StreamSpec,
    bookmark: dict[str, Any],
    start_date: str | None,
    parameters: Mapping[str, Any] | None,
    incremental: bool,
) -> AsyncIterator[Batch]:
    collection = client.collection(stream.name)
    use_since = stream.incremental and incremental
    cursor = bookmark.get("cursor")
    if cursor:  # a read stopped halfway: same filter, from where it stopped
        since = bookmark.get("since")
    else:
        since = bookmark.get(REPLICATION_KEY) or start_date if use_since else None
    newest: str | None = bookmark.get("max_seen") if cursor else None
    finished = bookmark.get(REPLICATION_KEY)
    filters = {"updated_since": since} if since else {}
    pages = collection.pages(filters=filters, parameters=parameters, cursor=cursor)
    async for page in pages:
        # Record.to_dict's shape, made inline with the bookmark's scan: one pass per record.
        records: list[dict[str, Any]] = []
        append = records.append
        for record_id, name, fields, created, updated, _raw in page.records:
            if updated and (newest is None or updated > newest):
                newest = updated
            append(
                {
                    "id": record_id,
                    "name": name,
                    "fields": fields,
                    "created_at": created,
                    "updated_at": updated,
                }
            )
        if page.cursor is not None:
            state: dict[str, Any] = {"cursor": page.cursor, "since": since}
            if newest is not None:
                state["max_seen"] = newest
            if finished is not None:
                state[REPLICATION_KEY] = finished
            yield Batch(records, state, done=False)
        else:
            latest = max(filter(None, (finished, newest)), default=None)
            yield Batch(records, {REPLICATION_KEY: latest} if latest else {}, done=True)
        del page, records


async def _read_operation(
    client: ConnectorClient,
    stream: StreamSpec,
    bookmark: dict[str, Any],
    parameters: Mapping[str, Any] | None,
) -> AsyncIterator[Batch]:
    params = dict(parameters or {})
    listing = binding(client.binding_key, f"stream:{stream.name}", params)
    cursor = bookmark.get("cursor")
    resume = decode_cursor(cursor, listing) if cursor else None
    async for page in client.iter_pages(stream.name, params, resume=resume):
        records = [
            record if isinstance(record, dict) else {"value": record} for record in page.records
        ]
        if page.next is not None:
            yield Batch(records, {"cursor": encode_cursor(page.next, listing)}, done=False)
        else:
            yield Batch(records, {}, done=True)
        del page, records
