"""The Singer tap: discovery as a catalog, then SCHEMA, RECORD and STATE messages.

``connectory tap --config CONFIG --discover`` prints the catalog; ``connectory tap --config
CONFIG [--catalog CATALOG] [--state STATE]`` reads the selected streams (every stream without
a catalog). After each page a STATE message carries every stream's bookmark; the last STATE of
a run, passed back with ``--state``, makes the next run incremental (collections with an
``updated_since`` filter) or resume where a stopped run was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from connectory.errors import InputError
from connectory.pipelines.source import SourceConfig
from connectory.pipelines.streams import StreamSpec
from connectory.runtime import ConnectorClient

Write = Callable[[bytes], None]


def catalog(streams: list[StreamSpec]) -> dict[str, Any]:
    """The Singer catalog of *streams* (every stream selected by default)."""
    entries = []
    for stream in streams:
        method = "INCREMENTAL" if stream.incremental else "FULL_TABLE"
        metadata: dict[str, Any] = {
            "inclusion": "available",
            "selected-by-default": True,
            "table-key-properties": stream.key_properties,
            "forced-replication-method": method,
        }
        if stream.replication_key:
            metadata["valid-replication-keys"] = [stream.replication_key]
        entry: dict[str, Any] = {
            "tap_stream_id": stream.name,
            "stream": stream.name,
            "schema": stream.schema,
            "key_properties": stream.key_properties,
            "replication_method": method,
            "metadata": [{"breadcrumb": [], "metadata": metadata}],
        }
        if stream.replication_key:
            entry["replication_key"] = stream.replication_key
        entries.append(entry)
    return {"streams": entries}


def selected_streams(data: Any, streams: list[StreamSpec]) -> list[tuple[StreamSpec, bool]]:
    """The streams a catalog selects, each with whether to read it incrementally.

    A stream is selected by ``selected: true`` in its top-level metadata (or, as older taps
    wrote it, in its schema); without a ``selected`` key, by ``selected-by-default``.

    Raises:
        InputError: the catalog is not a Singer catalog, or names a stream this connector
            does not have.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("streams"), list):
        raise InputError('the catalog must be {"streams": [...]}, as --discover prints it')
    by_name = {stream.name: stream for stream in streams}
    chosen: list[tuple[StreamSpec, bool]] = []
    for entry in data["streams"]:
        if not isinstance(entry, Mapping):
            raise InputError("each catalog stream must be an object")
        name = entry.get("tap_stream_id") or entry.get("stream")
        stream = by_name.get(str(name))
        if stream is None:
            raise InputError(
                f"the catalog names stream '{name}', which this connector does not have; "
                f"streams: {', '.join(by_name) or 'none'}"
            )
        top = _top_metadata(entry)
        schema = entry.get("schema")
        selected = top.get("selected")
        if selected is None and isinstance(schema, Mapping):
            selected = schema.get("selected")
        if selected is None:
            selected = top.get("selected-by-default", False)
        if selected is True:
            method = top.get("replication-method") or entry.get("replication_method")
            chosen.append((stream, method != "FULL_TABLE"))
    return chosen


def _top_metadata(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    for item in entry.get("metadata") or []:
        if isinstance(item, Mapping) and item.get("breadcrumb") == []:
            metadata = item.get("metadata")
            if isinstance(metadata, Mapping):
                return metadata
    return {}


def bookmarks_of(state: Any) -> dict[str, dict[str, Any]]:
    """The bookmarks of a Singer state (``{"bookmarks": {...}}``; a bare map is taken too).

    Raises:
        InputError: the state is not an object of objects.
    """
    if state is None:
        return {}
    if not isinstance(state, Mapping):
        raise InputError('the state must be an object, e.g. {"bookmarks": {...}}')
    bookmarks = state.get("bookmarks", state if "bookmarks" not in state else None)
    if bookmarks is None:
        return {}
    if not isinstance(bookmarks, Mapping) or not all(
        isinstance(value, Mapping) for value in bookmarks.values()
    ):
        raise InputError("the state's bookmarks must map each stream to an object")
    return {str(name): dict(value) for name, value in bookmarks.items()}


async def run_tap(
    client: ConnectorClient,
    selection: list[tuple[StreamSpec, bool]],
    state: Any,
    source: SourceConfig,
    write: Write,
) -> tuple[int, int]:
    """Read the selected streams and write Singer messages; return pages and records read."""
    bookmarks = bookmarks_of(state)
    total = pages = 0
    for stream, incremental in selection:
        schema_message: dict[str, Any] = {
            "type": "SCHEMA",
            "stream": stream.name,
            "schema": stream.schema,
            "key_properties": stream.key_properties,
        }
        if stream.replication_key and incremental:
            schema_message["bookmark_properties"] = [stream.replication_key]
        write(orjson.dumps(schema_message) + b"\n")
        batches = source.read(client, stream, bookmarks.get(stream.name), incremental)
        name = orjson.dumps(stream.name)
        async for batch in batches:
            extracted = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            # The envelope is the same for every record of a page: serialise it once.
            prefix = b'{"type":"RECORD","stream":%s,"time_extracted":"%s","record":' % (
                name,
                extracted.encode(),
            )
            lines = [prefix + orjson.dumps(record) + b"}" for record in batch.records]
            total += len(lines)
            pages += 1
            bookmarks[stream.name] = batch.bookmark
            value: dict[str, Any] = {"bookmarks": bookmarks}
            if not batch.done:
                value["currently_syncing"] = stream.name
            lines.append(orjson.dumps({"type": "STATE", "value": value}))
            write(b"\n".join(lines) + b"\n")
            del lines, batch
    return pages, total
