"""The connector: overview fields plus the auth, resilience and operations sections."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Literal, get_args

from pydantic import Field, PrivateAttr, model_validator

from connectory.spec.auth import AuthSpec, NoAuthSpec
from connectory.spec.base import HeaderMap, SpecModel
from connectory.spec.code import CodeRefSpec, HooksSpec, JavaScriptSpec, code_files
from connectory.spec.collections import CollectionSpec
from connectory.spec.events import EventSpec, WebhooksSpec
from connectory.spec.fields import InputFieldSpec
from connectory.spec.operations import OperationSpec
from connectory.spec.resilience import ResilienceSpec

ConnectorType = Literal["General", "OEM", "DMS", "CRM", "Finance", "Telematics", "Logistics"]
CONNECTOR_TYPES: tuple[str, ...] = get_args(ConnectorType)

#: The version of the file format itself (not of the connector).
FORMAT_VERSION: Literal[1] = 1

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def slugify(name: str) -> str:
    """Return a URL-safe slug for *name*: ``"Open Weather Map!"`` -> ``"open-weather-map"``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


class ConnectorSpec(SpecModel):
    """A connector: what the API is, how to authenticate, how to call it, and how to survive it."""

    format_version: Literal[1] = Field(
        default=FORMAT_VERSION, description="Version of the connector file format."
    )
    name: str = Field(min_length=1, description="Display name, e.g. OpenWeatherMap.")
    slug: str = Field(
        default="",
        description="URL-safe identifier (generated from the name when empty). "
        "It cannot change once the connector is published.",
    )
    type: ConnectorType = Field(default="General", description="Category of the system.")
    description: str | None = None
    base_url: str = Field(description="Root URL for all calls, e.g. https://api.example.com.")
    icon: str | None = Field(default=None, description="Icon file (PNG/SVG) or URL.")
    documentation_url: str | None = Field(default=None, description="The API's documentation.")
    version: str | None = Field(default=None, description="Version of the connector.")
    parameters: dict[str, InputFieldSpec] = Field(
        default_factory=dict,
        description="Connector parameters set by the admin (write-only when sensitive).",
    )
    headers: HeaderMap = Field(
        default_factory=dict, description="Headers (templates) sent with every request."
    )
    auth: AuthSpec = Field(default_factory=NoAuthSpec)
    resilience: ResilienceSpec = Field(default_factory=ResilienceSpec)
    hooks: HooksSpec = Field(
        default_factory=HooksSpec,
        description="JavaScript hooks run around every operation's requests (hooks/*.js).",
    )
    javascript: JavaScriptSpec = Field(
        default_factory=JavaScriptSpec,
        description="Limits and permissions of the connector's JavaScript.",
    )
    operations: list[OperationSpec] = Field(default_factory=list)
    events: list[EventSpec] = Field(
        default_factory=list, description="Events connections can subscribe to (webhooks, polls)."
    )
    webhooks: WebhooksSpec | None = Field(
        default=None,
        description="Verification and challenge of the connector's global webhook URL.",
    )
    schemas: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Shared JSON Schemas by name, referenced from any schema of the connector "
        "with $ref: '#/schemas/<Name>'.",
    )
    collections: list[CollectionSpec] = Field(
        default_factory=list,
        description="Uniform record access (list, find_by_id, match, search, create, update, "
        "delete) over the API's resources.",
    )
    test_operation: str | None = Field(
        default=None,
        description="The operation that tests a connection (a cheap, safe GET). When unset, "
        "the first GET without required parameters is used.",
    )
    propagate_trace: bool = Field(
        default=False,
        description="Send the W3C traceparent header upstream when the server's tracing is "
        "on, so the API's own traces join Connectory's. Off: the API never sees trace ids.",
    )

    # Compiled forms shared by every client of this spec object (the shared schema registry):
    # built once per connector, never serialised.
    _runtime_cache: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def runtime_cache(self) -> dict[str, Any]:
        """Per-spec cache for compiled forms (see :mod:`connectory.runtime.schema_validation`)."""
        return self._runtime_cache

    #: The connector's code files (hooks/*.js, methods/*.js) by relative path; not part of the
    #: document: a folder's loader or the store attaches them (see :meth:`with_code_files`).
    _code_files: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _derive_slug(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("slug") and isinstance(data.get("name"), str):
            return {**data, "slug": slugify(data["name"])}
        return data

    def operation(self, name: str) -> OperationSpec | None:
        """Return the operation called *name*, or None."""
        for operation in self.operations:
            if operation.name == name:
                return operation
        return None

    def connection_test_operation(self) -> OperationSpec | None:
        """The operation used to test a connection.

        That is ``test_operation``, else the first GET that needs no parameters, else None.
        """
        if self.test_operation is not None:
            return self.operation(self.test_operation)
        for operation in self.operations:
            needs_input = any(
                p.required or p.location == "path"
                for p in operation.parameters
                if p.default is None
            )
            if operation.method == "GET" and not needs_input and not operation.is_javascript:
                return operation
        return None

    def event(self, key: str) -> EventSpec | None:
        """Return the event called *key*, or None."""
        for event in self.events:
            if event.key == key:
                return event
        return None

    def collection(self, key: str) -> CollectionSpec | None:
        """Return the collection with *key*, or None."""
        for collection in self.collections:
            if collection.key == key:
                return collection
        return None

    @property
    def code_files(self) -> dict[str, str]:
        """The JavaScript files of the connector by relative path (empty when it has none)."""
        return self._code_files

    def with_code_files(self, files: dict[str, str] | None) -> ConnectorSpec:
        """Return a copy of this spec carrying the code files among *files*."""
        copy = self.model_copy()
        copy._code_files = code_files(files)
        return copy

    def code_refs(self) -> list[tuple[tuple[str | int, ...], CodeRefSpec]]:
        """Every reference to code, with its field path (hooks, operations, collections, events)."""
        refs: list[tuple[tuple[str | int, ...], CodeRefSpec]] = [
            (("hooks", kind, index), ref) for kind, index, ref in self.hooks.refs()
        ]
        for number, operation in enumerate(self.operations):
            if operation.code is not None:
                refs.append((("operations", number, "code"), operation.code))
            if operation.hooks is not None:
                refs += [
                    (("operations", number, "hooks", kind, index), ref)
                    for kind, index, ref in operation.hooks.refs()
                ]
        for number, collection in enumerate(self.collections):
            refs += [(("collections", number, *path), ref) for path, ref in collection.code_refs()]
        for number, event in enumerate(self.events):
            refs += [(("events", number, *path), ref) for path, ref in event.code_refs()]
        return refs

    @property
    def has_code(self) -> bool:
        """Whether any hook or JavaScript operation is declared."""
        return bool(self.code_refs())

    @property
    def operation_names(self) -> list[str]:
        """Names of the operations, in file order."""
        return [operation.name for operation in self.operations]
