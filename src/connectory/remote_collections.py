"""Collections of a server's connection: the same methods, records and errors as locally.

``server.connection(id).collection("contacts")`` gives a :class:`RemoteCollection` whose
methods mirror :class:`connectory.collections.Collection`; the work runs on the server with
the connection's stored credentials and the caller's role (viewers read; writes need an
enterprise admin).
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from connectory import errors
from connectory.collections import Record, RecordPage
from connectory.errors import ConnectoryError

if TYPE_CHECKING:
    from connectory.remote import Server


def _record(data: Mapping[str, Any]) -> Record:
    return Record(
        id=str(data["id"]),
        name=data.get("name"),
        fields=dict(data.get("fields") or {}),
        created_at=data.get("created_at"),
        updated_at=data.get("updated_at"),
        raw=data.get("raw"),
    )


def _query(
    filters: Mapping[str, Any] | None, parameters: Mapping[str, Any] | None
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    for prefix, values in (("filter.", filters), ("param.", parameters)):
        for name, value in (values or {}).items():
            query[prefix + name] = value.isoformat() if hasattr(value, "isoformat") else value
    return query


def _stream_error(data: Any) -> ConnectoryError:
    """The error a stream's last line reports, as the class a local listing raises."""
    info = data if isinstance(data, dict) else {}
    code, detail = str(info.get("code", "")), str(info.get("detail", "the read failed"))
    # Only names of Connectory's own error classes are looked up: nothing else is callable.
    found = getattr(errors, code, None) if code.isidentifier() else None
    if isinstance(found, type) and issubclass(found, ConnectoryError):
        try:
            return found(detail)
        except TypeError:  # a class that needs more than a message
            status = info.get("status_code")
            if issubclass(found, errors.UpstreamError):
                return found(detail, status_code=status if isinstance(status, int) else 502)
            if issubclass(found, errors.ResponseSchemaError):
                return found(detail, [])
    return ConnectoryError(f"{code}: {detail}" if code else detail)


class RemoteCollection:
    """A collection of a stored connection (see the module docstring)."""

    def __init__(self, server: Server, http: httpx.AsyncClient, connection_id: str, key: str):
        self._server = server
        self._http = http
        self.key = key
        self._base = f"/connections/{connection_id}/collections/{quote(key, safe='')}"

    async def describe(self) -> dict[str, Any]:
        """Methods, filters and the fields schema (custom fields merged)."""
        data: dict[str, Any] = await self._server.request("GET", self._base)
        return data

    async def list_page(
        self,
        *,
        filters: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        cursor: str | None = None,
        page_size: int | None = None,
        include_raw: bool = False,
    ) -> RecordPage:
        """One page of records and the next cursor."""
        query = _query(filters, parameters)
        if cursor is not None:
            query["cursor"] = cursor
        if page_size is not None:
            query["page_size"] = page_size
        if include_raw:
            query["include_raw"] = "true"
        data = await self._server.request("GET", f"{self._base}/records", params=query)
        return RecordPage([_record(item) for item in data["records"]], data.get("cursor"))

    async def list(
        self,
        *,
        filters: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        cursor: str | None = None,
        page_size: int | None = None,
        include_raw: bool = False,
        on_wait: Callable[[float, str], None] | None = None,
    ) -> AsyncIterator[Record]:
        """Stream every record (the server holds one page at a time).

        The server sends keep-alive lines while the read waits; they are skipped here, and
        *on_wait* gets ``(seconds, cause)`` when one says the read is paused.

        Raises:
            ConnectoryError: the server refused, or the read failed part way (the records
                before the failure have been yielded).
        """
        # Here, not at the top: connectory.remote imports this module.
        from connectory.remote import read_lines

        query = {**_query(filters, parameters), "all": "true"}
        if cursor is not None:
            query["cursor"] = cursor
        if page_size is not None:
            query["page_size"] = page_size
        if include_raw:
            query["include_raw"] = "true"
        lines = read_lines(
            self._http,
            "GET",
            f"{self._base}/records",
            params=query,
            on_wait=on_wait,
            failed=_stream_error,
        )
        # Closed with this one: a caller that stops early releases the stream at once.
        async with aclosing(lines):
            async for item in lines:
                yield _record(item)

    async def find_by_id(
        self,
        record_id: str | int,
        *,
        parameters: Mapping[str, Any] | None = None,
        include_raw: bool = False,
    ) -> Record:
        """One record by id (RecordNotFound when the API has none)."""
        query = _query(None, parameters)
        if include_raw:
            query["include_raw"] = "true"
        data = await self._request("GET", f"/records/{quote(str(record_id), safe='')}", query)
        return _record(data)

    async def match(
        self, fields: Mapping[str, Any], *, parameters: Mapping[str, Any] | None = None
    ) -> Record | None:
        """The one record matching *fields*, None when none (AmbiguousMatch when several)."""
        data = await self._server.request(
            "POST",
            f"{self._base}/match",
            json={"fields": dict(fields), "parameters": dict(parameters or {})},
        )
        return _record(data["record"]) if data.get("record") else None

    async def search(
        self,
        query: str,
        *,
        filters: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> builtins.list[Record]:
        """Records the API finds for a text query (one page)."""
        params = {**_query(filters, parameters), "q": query}
        data = await self._server.request("GET", f"{self._base}/records", params=params)
        return [_record(item) for item in data["records"]]

    async def create(
        self, fields: Mapping[str, Any], *, parameters: Mapping[str, Any] | None = None
    ) -> Record:
        """Create a record (enterprise admins)."""
        data = await self._server.request(
            "POST",
            f"{self._base}/records",
            json={"fields": dict(fields), "parameters": dict(parameters or {})},
        )
        return _record(data)

    async def update(
        self,
        record_id: str | int,
        fields: Mapping[str, Any],
        *,
        parameters: Mapping[str, Any] | None = None,
    ) -> Record:
        """Update some fields of a record (enterprise admins)."""
        data = await self._request(
            "PATCH",
            f"/records/{quote(str(record_id), safe='')}",
            None,
            json={"fields": dict(fields), "parameters": dict(parameters or {})},
        )
        return _record(data)

    async def delete(
        self, record_id: str | int, *, parameters: Mapping[str, Any] | None = None
    ) -> None:
        """Delete a record (enterprise admins)."""
        await self._request(
            "DELETE", f"/records/{quote(str(record_id), safe='')}", _query(None, parameters)
        )

    async def _request(
        self, method: str, path: str, params: Mapping[str, Any] | None, json: Any = None
    ) -> Any:
        return await self._server.request(method, self._base + path, params=params, json=json)


__all__ = ["RemoteCollection"]
