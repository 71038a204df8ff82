"""Running a tool with a connection's client: through the runtime, size-capped, redacted.

Every call goes through :class:`~connectory.runtime.ConnectorClient` (inputs checked, auth,
resilience, egress guard where the transport has one) or a collection on it; nothing here
sends a request itself. Results are JSON data::

    operation, one page of a paged one:  {"records": [...], "next_cursor": "..." | null}
    operation, other:                     {"status": 200, "body": ...}
    collection list:                      {"records": [...], "next_cursor": ...}
    find_by_id / match / create / update: {"record": {...} | null}
    search:                               {"records": [...], "truncated": false}
    delete:                               {"deleted": "42"}

An upstream error status of an operation is a result too (``is_error``), so the agent sees
the API's own message; everything else that goes wrong raises a Connectory error.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, cast

from connectory.collections.cursor import binding, decode_cursor, encode_cursor
from connectory.errors import InputError
from connectory.runtime.client import ConnectorClient
from connectory.runtime.results import Page
from connectory.toolkit.catalogue import ToolSpec
from connectory.toolkit.policy import DEFAULT_MAX_RESULT_BYTES
from connectory.toolkit.results import (
    ToolCursor,
    arguments_digest,
    cap_records,
    cut_value,
    decode_tool_cursor,
    encode_tool_cursor,
    fits,
)

#: Room kept in the budget for the envelope around a result's records and its cursor.
_ENVELOPE_BYTES = 256


@dataclass
class ToolOutcome:
    """A tool's result: JSON data, and whether it reports a failure (an upstream error)."""

    data: dict[str, Any]
    is_error: bool = False


class ToolRunner:
    """Runs tools on one connection's client.

    Args:
        client: The connection's client (a lease's, on a server).
        max_result_bytes: The largest result handed out (see :mod:`connectory.toolkit.results`).
    """

    def __init__(
        self, client: ConnectorClient, max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES
    ) -> None:
        self.client = client
        self.max_result_bytes = max_result_bytes

    async def run(self, tool: ToolSpec, arguments: Mapping[str, Any] | None) -> ToolOutcome:
        """Run *tool* with *arguments* (checked against its input schema's names first).

        Raises:
            InputError: unknown arguments, a bad cursor, or values the runtime refuses; plus
                every error of the call itself (``UpstreamError``, ``NotSupported``...).
        """
        given = _checked_arguments(tool, arguments)
        if tool.kind == "operation":
            outcome = await self._operation(tool, given)
        else:
            outcome = await self._collection(tool, given)
        # An upstream that echoes what it received must not hand the connection's secrets on.
        outcome.data = self.client.redactor.redact_data(outcome.data)
        return outcome

    # ------------------------------------------------------------------ operations

    async def _operation(self, tool: ToolSpec, given: dict[str, Any]) -> ToolOutcome:
        params = {k: v for k, v in given.items() if k != tool.cursor_argument}
        if not tool.paged:
            result = await self.client.call(tool.target, params, raise_for_status=False)
            data: dict[str, Any] = {"status": result.status_code, "body": result.body}
            if not fits(data, self.max_result_bytes - _ENVELOPE_BYTES):
                data["body"] = cut_value(result.body, self.max_result_bytes - _ENVELOPE_BYTES)
            if result.schema_mismatches:
                data["schema_mismatches"] = [
                    {"path": path, "message": message}
                    for path, message in result.schema_mismatches[:5]
                ]
            return ToolOutcome(data, is_error=result.status_code >= 400)
        bound = arguments_digest(tool.name, given, tool.cursor_argument)
        start = self._start(tool, given, bound)
        # The page position is bound to this connection, operation and parameters.
        listing = binding(self.client.binding_key, f"operation:{tool.target}", params)
        resume = decode_cursor(start.inner, listing) if start.inner else None
        # iter_pages is an async generator: close it after the one page this call hands out.
        pages = cast(
            AsyncGenerator[Page, None],
            self.client.iter_pages(tool.target, params, resume=resume),
        )
        async with aclosing(pages) as reading:
            page = await anext(reading)
        following = encode_cursor(page.next, listing) if page.next is not None else None
        return self._page_result(page.records, start, following, bound)

    # ------------------------------------------------------------------ collections

    async def _collection(self, tool: ToolSpec, given: dict[str, Any]) -> ToolOutcome:
        collection = self.client.collection(tool.target)
        parameters = _object(given, "parameters")
        method = tool.method
        if method == "list":
            bound = arguments_digest(tool.name, given, tool.cursor_argument)
            start = self._start(tool, given, bound)
            page = await collection.list_page(
                filters=_object(given, "filters"),
                parameters=parameters,
                cursor=start.inner,
                page_size=given.get("page_size"),
            )
            records = [record.to_dict() for record in page.records]
            return self._page_result(records, start, page.cursor, bound)
        if method == "find_by_id":
            found = await collection.find_by_id(_id(given), parameters=parameters)
            return self._single({"record": found.to_dict()})
        if method == "match":
            matched = await collection.match(_object(given, "fields"), parameters=parameters)
            return self._single({"record": matched.to_dict() if matched is not None else None})
        if method == "search":
            query = given.get("query")
            if not isinstance(query, str):
                raise InputError("query must be text", parameter="query")
            results = await collection.search(
                query, filters=_object(given, "filters"), parameters=parameters
            )
            capped = cap_records(
                [record.to_dict() for record in results],
                self.max_result_bytes - _ENVELOPE_BYTES,
            )
            return ToolOutcome({"records": capped.records, "truncated": not capped.complete})
        if method == "create":
            created = await collection.create(_object(given, "fields"), parameters=parameters)
            return self._single({"record": created.to_dict()})
        if method == "update":
            updated = await collection.update(
                _id(given), _object(given, "fields"), parameters=parameters
            )
            return self._single({"record": updated.to_dict()})
        if method == "delete":
            record_id = _id(given)
            await collection.delete(record_id, parameters=parameters)
            return ToolOutcome({"deleted": str(record_id)})
        raise InputError(f"tool '{tool.name}' has no method to run")  # pragma: no cover

    # ------------------------------------------------------------------ shaping

    def _start(self, tool: ToolSpec, given: Mapping[str, Any], bound: str) -> ToolCursor:
        text = given.get(tool.cursor_argument)
        if text is None:
            return ToolCursor(None, 0)
        return decode_tool_cursor(text, bound, tool.cursor_argument)

    def _page_result(
        self, records: list[Any], start: ToolCursor, following: str | None, bound: str
    ) -> ToolOutcome:
        """One page's records from *start*, cut to the budget, with the cursor of the rest."""
        offered = records[start.skip :]
        cursors = len(following or "") + len(start.inner or "")
        room = self.max_result_bytes - _ENVELOPE_BYTES - cursors
        capped = cap_records(offered, max(room, 512))
        next_cursor: ToolCursor | None
        if not capped.complete:
            next_cursor = ToolCursor(start.inner, start.skip + len(capped.records))
        elif following is not None:
            next_cursor = ToolCursor(following, 0)
        else:
            next_cursor = None
        return ToolOutcome(
            {
                "records": capped.records,
                "next_cursor": encode_tool_cursor(next_cursor, bound) if next_cursor else None,
            }
        )

    def _single(self, data: dict[str, Any]) -> ToolOutcome:
        if not fits(data, self.max_result_bytes):
            data = {key: cut_value(value, self.max_result_bytes) for key, value in data.items()}
        return ToolOutcome(data)


def _checked_arguments(tool: ToolSpec, arguments: Mapping[str, Any] | None) -> dict[str, Any]:
    if arguments is None:
        return {}
    if not isinstance(arguments, Mapping):
        raise InputError(f"the arguments of '{tool.name}' must be an object")
    known = tool.input_schema.get("properties", {})
    for name in arguments:
        if name not in known:
            names = ", ".join(known) or "none"
            raise InputError(
                f"'{tool.name}' has no argument '{name}'; its arguments: {names}", parameter=name
            )
    # null means "not given", as it does for JSON clients.
    return {key: value for key, value in arguments.items() if value is not None}


def _object(given: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = given.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"{name} must be an object of names and values", parameter=name)
    return dict(value)


def _id(given: Mapping[str, Any]) -> str | int:
    value = given.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise InputError("id must be the record's id (text or a number)", parameter="id")
    return value
