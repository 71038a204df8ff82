"""The configuration of a pipeline source, as Singer and Airbyte pass it (a JSON file).

::

{"connector": "examples/testapi/connector.yaml",      # or --connector
 "credentials": {"api_key": "..."},
 "connector_parameters": {"tenant": "acme"},
 "config": {},                                       # connection config (templates)
 "base_url": "http://127.0.0.1:8765",                # optional override
 "start_date": "2024-01-01T00:00:00Z",               # first incremental run reads from here
 "stream_parameters": {"contacts": {"project_id": "7"}}}
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectory.collections.records import parse_time_filter
from connectory.errors import InputError
from connectory.pipelines.streams import Batch, StreamSpec, read_stream
from connectory.runtime import ConnectorClient
from connectory.spec.connector import ConnectorSpec

_MAPPINGS = ("credentials", "connector_parameters", "config", "stream_parameters")
_KNOWN = (*_MAPPINGS, "connector", "base_url", "start_date")


@dataclass
class SourceConfig:
    """A source's configuration (see the module docstring)."""

    connector: Path | None = None
    credentials: dict[str, Any] = field(default_factory=dict)
    connector_parameters: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    base_url: str | None = None
    start_date: str | None = None
    stream_parameters: dict[str, dict[str, Any]] = field(default_factory=dict)

    def client(self, spec: ConnectorSpec) -> ConnectorClient:
        """A client of *spec* with this configuration's credentials and settings."""
        return ConnectorClient(
            spec,
            credentials=self.credentials,
            connector_parameters=self.connector_parameters,
            config=self.config,
            base_url=self.base_url,
        )

    def read(
        self,
        client: ConnectorClient,
        stream: StreamSpec,
        bookmark: Mapping[str, Any] | None,
        incremental: bool,
    ) -> AsyncIterator[Batch]:
        """Read *stream* from *bookmark* with this configuration's start date and inputs.

        See :func:`~connectory.pipelines.streams.read_stream`.
        """
        return read_stream(
            client,
            stream,
            bookmark,
            start_date=self.start_date,
            parameters=self.stream_parameters.get(stream.name),
            incremental=incremental,
        )


def load_source_config(data: Mapping[str, Any]) -> SourceConfig:
    """Check and read a source configuration.

    Raises:
        InputError: unknown keys, values of the wrong type, a start_date that is not a time.
            Messages name the key, never a value (values may be secrets).
    """
    for key in data:
        if key not in _KNOWN:
            raise InputError(
                f"the config has an unknown key '{key}'; known keys: {', '.join(_KNOWN)}",
                parameter=key,
            )
    values: dict[str, Any] = {}
    for key in _MAPPINGS:
        value = data.get(key) or {}
        if not isinstance(value, Mapping):
            raise InputError(f"config key '{key}' must be an object", parameter=key)
        values[key] = dict(value)
    for name, inputs in values["stream_parameters"].items():
        if not isinstance(inputs, Mapping):
            raise InputError(f"stream_parameters.{name} must be an object", parameter=name)
    for key in ("connector", "base_url", "start_date"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise InputError(f"config key '{key}' must be text", parameter=key)
    start = data.get("start_date")
    return SourceConfig(
        connector=Path(data["connector"]) if data.get("connector") else None,
        base_url=data.get("base_url"),
        start_date=parse_time_filter("start_date", start) if start else None,
        **values,
    )
