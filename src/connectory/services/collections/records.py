"""Reading and writing a connection's records through its collections, with roles applied.

Viewers read (list, find, match, search); creating, updating and deleting records needs the
enterprise admin role. Records leave the server redacted: an upstream that echoes a
credential cannot hand it to an API client. Each method called is one ``collection`` entry of
the connection's call log (operation ``<collection>.<method>``), its requests its attempts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.collections import Collection, Record, RecordPage
from connectory.errors import ConnectoryError
from connectory.observability.calls import CallTrack
from connectory.runtime import ConnectorClient
from connectory.services.access import check_may_write_records
from connectory.services.connection_runs import calls_without_client
from connectory.services.connection_runtime import ClientLease, ConnectionRuntimes
from connectory.services.connections import ConnectionDetails
from connectory.services.keepalive import KEEPALIVE_INTERVAL, PauseTracker, with_keepalives
from connectory.services.principal import Principal


@dataclass
class CollectionAccess:
    """A collection of a connection, opened for one caller; holds the client's lease.

    Use it as an async context manager (or call :meth:`release`): the lease keeps the
    connection's client open while the request (or a stream) uses it.
    """

    principal: Principal
    lease: ClientLease
    client: ConnectorClient
    collection: Collection

    async def release(self) -> None:
        """Give the client back (harmless twice)."""
        await self.lease.release()

    async def __aenter__(self) -> CollectionAccess:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.release()

    def record_out(self, record: Record, include_raw: bool = False) -> dict[str, Any]:
        """The record as JSON data, secrets the upstream echoed redacted."""
        data: dict[str, Any] = self.client.redactor.redact_data(
            record.to_dict(include_raw=include_raw)
        )
        return data

    def page_out(self, page: RecordPage, include_raw: bool = False) -> dict[str, Any]:
        """``{"records": [...], "cursor": ...}``, redacted."""
        return {
            "records": [self.record_out(record, include_raw) for record in page.records],
            "cursor": page.cursor,
        }

    def track(self, method: str, *, first_reply_only: bool = False) -> CallTrack:
        """The call log entry of one *method* call: ``with access.track("find_by_id"):``."""
        return self.client.calls.track(
            "collection", f"{self.collection.key}.{method}", first_reply_only=first_reply_only
        )

    def check_write(self, method: str) -> None:
        """Raise PermissionDenied unless the caller may write records."""
        check_may_write_records(self.principal, self.collection.key, method)


def list_collections(details: ConnectionDetails) -> list[dict[str, Any]]:
    """The connector's collections: key, name, description and methods."""
    return [
        {
            "key": collection.key,
            "name": collection.title,
            "description": collection.description,
            "methods": list(collection.methods.defined()),
        }
        for collection in details.spec.collections
    ]


async def open_collection(
    session: AsyncSession,
    runtimes: ConnectionRuntimes,
    principal: Principal,
    details: ConnectionDetails,
    key: str,
) -> CollectionAccess:
    """Open collection *key* of a connection the caller can see (release it when done).

    The session's transaction is ended before the upstream is called.

    Raises:
        CollectionNotFound: the connector has no such collection.
    """
    try:
        lease = await runtimes.acquire(session, details)
    except ConnectoryError as error:
        calls_without_client(runtimes, details).record("collection", key, error=error)
        raise
    try:
        collection = lease.client.collection(key)
        await session.commit()
    except BaseException:
        await lease.release()
        raise
    return CollectionAccess(principal, lease, lease.client, collection)


async def describe(access: CollectionAccess) -> dict[str, Any]:
    """The collection's spec on this connection (custom fields merged), redacted."""
    data: dict[str, Any] = access.client.redactor.redact_data(await access.collection.describe())
    return data


async def stream_records(
    access: CollectionAccess,
    *,
    filters: Mapping[str, Any],
    parameters: Mapping[str, Any],
    cursor: str | None = None,
    page_size: int | None = None,
    include_raw: bool = False,
    keepalive_interval: float = KEEPALIVE_INTERVAL,
) -> AsyncIterator[bytes]:
    """Check the listing's input now (so a mistake is an error status), then stream it.

    Every record is one JSON line, one page in memory at a time. While the read waits (paced
    by the rate limit, or a slow page), a keep-alive line goes out every
    *keepalive_interval* seconds, as for operations (:mod:`connectory.services.keepalive`).
    A failure after the response started ends the stream with a last line
    ``{"_connectory_error": {"code": ..., "detail": ...}}``, as for operations. The stream
    releases *access* when it ends.

    Raises:
        NotSupported, InputError...: the listing's input is not valid (nothing was streamed).
    """
    clock = access.client.pipeline.clock
    pauses = PauseTracker(clock)
    # One call log entry for the whole listing, its id in the headers that leave first.
    call = access.track("list", first_reply_only=True).start()
    try:
        with call.active():
            pages = await access.collection.open_pages(
                filters=filters,
                parameters=parameters,
                cursor=cursor,
                page_size=page_size,
                include_raw=include_raw,
                observer=pauses,
            )
    except BaseException as error:
        call.finish(error)
        raise

    async def lines() -> AsyncIterator[bytes]:
        error: BaseException | None = None
        try:
            while True:
                # Active while a page is read, never across a yield.
                with call.active():
                    page = await anext(pages, None)
                if page is None:
                    break
                if page.records:
                    yield b"".join(
                        orjson.dumps(access.record_out(record, include_raw)) + b"\n"
                        for record in page.records
                    )
        except ConnectoryError as failed:
            error = failed
            line: dict[str, Any] = {"code": type(failed).__name__, "detail": str(failed)}
            status = getattr(failed, "status_code", None)
            if isinstance(status, int):
                line["status_code"] = status  # the upstream's, for a client to rebuild the error
            yield orjson.dumps({"_connectory_error": line})
            yield b"\n"
        except BaseException as stopped:
            error = stopped
            raise
        finally:
            call.finish(error)
            await pages.aclose()

    async def stream() -> AsyncIterator[bytes]:
        try:
            # Closed explicitly when the client goes away: a page may be on its way in a task.
            chunks = with_keepalives(
                lines(), interval=keepalive_interval, clock=clock, keepalive=pauses.keepalive_line
            )
            async with aclosing(chunks) as each:
                async for chunk in each:
                    yield chunk
        finally:
            await access.release()

    return stream()


async def create_record(
    access: CollectionAccess, fields: Mapping[str, Any], parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """Create a record (enterprise admins); the fields are checked before anything is sent."""
    access.check_write("create")
    with access.track("create"):
        created = await access.collection.create(fields, parameters=parameters)
    return access.record_out(created)


async def update_record(
    access: CollectionAccess,
    record_id: str,
    fields: Mapping[str, Any],
    parameters: Mapping[str, Any],
) -> dict[str, Any]:
    """Update some fields of a record (enterprise admins)."""
    access.check_write("update")
    with access.track("update"):
        record = await access.collection.update(record_id, fields, parameters=parameters)
    return access.record_out(record)


async def delete_record(
    access: CollectionAccess, record_id: str, parameters: Mapping[str, Any]
) -> None:
    """Delete a record (enterprise admins)."""
    access.check_write("delete")
    with access.track("delete"):
        await access.collection.delete(record_id, parameters=parameters)
