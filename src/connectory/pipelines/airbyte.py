"""The Airbyte source protocol: ``spec``, ``check``, ``discover`` and ``read``.

Messages follow the Airbyte protocol (``AirbyteMessage``: SPEC, CONNECTION_STATUS, CATALOG,
RECORD, STATE, TRACE, LOG), one JSON object per line. State is per stream
(``{"type": "STREAM", "stream": {"stream_descriptor": {"name": ...}, "stream_state": {...}}}``),
written after every page, so a sync that stops resumes at the page it stopped on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from connectory.errors import ConnectoryError, InputError
from connectory.pipelines.source import SourceConfig
from connectory.pipelines.streams import StreamSpec
from connectory.runtime import ConnectorClient
from connectory.spec.connector import ConnectorSpec

Write = Callable[[bytes], None]


def _now_ms() -> int:
    return int(time.time() * 1000)


def spec_message(spec: ConnectorSpec) -> dict[str, Any]:
    """SPEC: the source's configuration as a JSON Schema, secrets marked ``airbyte_secret``."""
    credentials: dict[str, Any] = {}
    required: list[str] = []
    for name, field in spec.auth.credential_schema.items():
        schema: dict[str, Any] = {
            "type": "string" if field.type == "password" else field.type,
            "title": field.label or name,
        }
        if field.help:
            schema["description"] = field.help
        if field.is_sensitive:
            schema["airbyte_secret"] = True
        if field.default is not None and not field.is_sensitive:
            schema["default"] = field.default
        if field.enum is not None:
            schema["enum"] = list(field.enum)
        credentials[name] = schema
        if field.required and field.default is None:
            required.append(name)
    parameters = {
        name: {
            "type": "string" if field.type == "password" else field.type,
            "title": field.label or name,
            **({"airbyte_secret": True} if field.is_sensitive else {}),
        }
        for name, field in spec.parameters.items()
    }
    properties: dict[str, Any] = {
        "credentials": {
            "type": "object",
            "title": "Credentials",
            "properties": credentials,
            "required": required,
        },
        "connector_parameters": {
            "type": "object",
            "title": "Connector parameters",
            "properties": parameters,
        },
        "base_url": {"type": "string", "title": "Base URL", "description": "Override."},
        "start_date": {
            "type": "string",
            "format": "date-time",
            "title": "Start date",
            "description": "First incremental sync reads what changed since then.",
        },
        "config": {"type": "object", "title": "Connection config"},
        "stream_parameters": {"type": "object", "title": "Inputs per stream"},
    }
    connection_specification = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"{spec.name} (Connectory)",
        "type": "object",
        "required": ["credentials"] if required else [],
        "properties": properties,
        "additionalProperties": False,
    }
    message: dict[str, Any] = {
        "connectionSpecification": connection_specification,
        "supportsIncremental": True,
    }
    if spec.documentation_url:
        message["documentationUrl"] = str(spec.documentation_url)
    return {"type": "SPEC", "spec": message}


async def check_message(client: ConnectorClient) -> dict[str, Any]:
    """CONNECTION_STATUS: the connector's test operation answered, or why not."""
    operation = client.spec.connection_test_operation()
    if operation is None:
        return _status(False, "the connector has no test_operation to check the connection with")
    try:
        result = await client.call(operation.name, {}, raise_for_status=False)
    except ConnectoryError as error:
        return _status(False, str(error))
    if result.status_code >= 400:
        return _status(False, f"{operation.name} answered {result.status_code}")
    return _status(True, f"{operation.name} answered {result.status_code}")


def _status(ok: bool, message: str) -> dict[str, Any]:
    return {
        "type": "CONNECTION_STATUS",
        "connectionStatus": {"status": "SUCCEEDED" if ok else "FAILED", "message": message},
    }


def catalog_message(streams: list[StreamSpec]) -> dict[str, Any]:
    """CATALOG: every stream with its schema, sync modes, cursor and primary key."""
    entries = []
    for stream in streams:
        entry: dict[str, Any] = {
            "name": stream.name,
            "json_schema": stream.schema,
            "supported_sync_modes": ["full_refresh", "incremental"]
            if stream.incremental
            else ["full_refresh"],
        }
        if stream.description:
            entry["description"] = stream.description
        if stream.incremental:
            entry["source_defined_cursor"] = True
            entry["default_cursor_field"] = [stream.replication_key]
        if stream.key_properties:
            entry["source_defined_primary_key"] = [[key] for key in stream.key_properties]
        entries.append(entry)
    return {"type": "CATALOG", "catalog": {"streams": entries}}


def configured_streams(data: Any, streams: list[StreamSpec]) -> list[tuple[StreamSpec, bool]]:
    """The streams a configured catalog asks for, each with whether it syncs incrementally.

    Raises:
        InputError: not a configured catalog, or a stream or sync mode this source lacks.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("streams"), list):
        raise InputError('the configured catalog must be {"streams": [{"stream": ..., ...}]}')
    by_name = {stream.name: stream for stream in streams}
    chosen: list[tuple[StreamSpec, bool]] = []
    for entry in data["streams"]:
        described = entry.get("stream") if isinstance(entry, Mapping) else None
        name = described.get("name") if isinstance(described, Mapping) else None
        stream = by_name.get(str(name))
        if stream is None:
            raise InputError(
                f"the catalog asks for stream '{name}', which this source does not have; "
                f"streams: {', '.join(by_name) or 'none'}"
            )
        mode = entry.get("sync_mode", "full_refresh")
        if mode not in ("full_refresh", "incremental"):
            raise InputError(f"stream '{name}': unknown sync_mode '{mode}'")
        if mode == "incremental" and not stream.incremental:
            raise InputError(f"stream '{name}' supports full_refresh only")
        chosen.append((stream, mode == "incremental"))
    return chosen


def stream_states(state: Any) -> dict[str, dict[str, Any]]:
    """Bookmarks by stream from Airbyte state: a list of STREAM states (or a legacy object).

    Raises:
        InputError: a state of another shape.
    """
    if state is None:
        return {}
    if isinstance(state, Mapping):  # legacy: one object of per-stream states
        found = state.get("data", state)
        if isinstance(found, Mapping) and all(isinstance(v, Mapping) for v in found.values()):
            return {str(k): dict(v) for k, v in found.items()}
        raise InputError("the state must be a list of stream states")
    if not isinstance(state, list):
        raise InputError("the state must be a list of stream states")
    bookmarks: dict[str, dict[str, Any]] = {}
    for item in state:
        message = item.get("state", item) if isinstance(item, Mapping) else None
        stream = message.get("stream") if isinstance(message, Mapping) else None
        descriptor = stream.get("stream_descriptor") if isinstance(stream, Mapping) else None
        name = descriptor.get("name") if isinstance(descriptor, Mapping) else None
        value = stream.get("stream_state") if isinstance(stream, Mapping) else None
        if not isinstance(name, str):
            raise InputError("each stream state needs stream.stream_descriptor.name")
        bookmarks[name] = dict(value) if isinstance(value, Mapping) else {}
    return bookmarks


async def run_read(
    client: ConnectorClient,
    selection: list[tuple[StreamSpec, bool]],
    state: Any,
    source: SourceConfig,
    write: Write,
) -> tuple[int, int]:
    """Read the configured streams, writing RECORD and STATE messages; return pages, records."""
    bookmarks = stream_states(state)
    total = pages = 0
    for stream, incremental in selection:
        batches = source.read(client, stream, bookmarks.get(stream.name), incremental)
        count = 0
        name = orjson.dumps(stream.name)
        async for batch in batches:
            # The envelope is the same for every record of a page: serialise it once.
            prefix = b'{"type":"RECORD","record":{"stream":%s,"emitted_at":%d,"data":' % (
                name,
                _now_ms(),
            )
            lines = [prefix + orjson.dumps(record) + b"}}" for record in batch.records]
            count += len(lines)
            pages += 1
            lines.append(
                orjson.dumps(
                    {
                        "type": "STATE",
                        "state": {
                            "type": "STREAM",
                            "stream": {
                                "stream_descriptor": {"name": stream.name},
                                "stream_state": batch.bookmark,
                            },
                            "sourceStats": {"recordCount": float(len(batch.records))},
                        },
                    }
                )
            )
            write(b"\n".join(lines) + b"\n")
            del lines, batch
        total += count
    return pages, total


def trace_error(error: Exception, *, config_error: bool) -> dict[str, Any]:
    """TRACE: an error the platform shows (a configuration mistake, or a failed sync)."""
    return {
        "type": "TRACE",
        "trace": {
            "type": "ERROR",
            "emitted_at": float(_now_ms()),
            "error": {
                "message": str(error),
                "failure_type": "config_error" if config_error else "system_error",
            },
        },
    }
